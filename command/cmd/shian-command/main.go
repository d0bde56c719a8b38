// Command shian-command runs the Shian command service: the kiosk ingest
// endpoint, the REST API, the live map and the assurance engine, on one
// data directory (operational records in DATA/command.db) and a result
// history (SQLite in DATA/history.db by default, or PostgreSQL).
//
//	shian-command --data /var/lib/shian-command --listen :8080
//	shian-command --data /var/lib/shian-command --db postgres://shian@db.example/shian
//	shian-command verify --data /var/lib/shian-command   # check every stored result
//
// On first start (no users yet) it creates the user "admin" with a random
// password, prints it once and writes it to DATA/initial-admin-password.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
)

const usage = `shian-command — 食安指挥中心服务 / the Shian command service

Usage:
  shian-command [--data DIR] [--db SPEC] [--listen ADDR] [--admin NAME] [--log-level LEVEL]
  shian-command verify [--data DIR] [--db SPEC]   check every stored result; exit 1 on damage

--db names the result history:
  sqlite:PATH         an SQLite file (default: sqlite:DATA/history.db)
  postgres://…        a PostgreSQL database (user:password@host:port/dbname?sslmode=…)

It serves, on one address:
  /                 the command centre's live map (log in with a user)
  /api/v1/...       the REST API (session cookie or Authorization: Bearer <api token>)
  /ws/kiosk         the kiosks' result stream (per-kiosk token)
  /ws/live          the live map's updates
  /healthz          health check, no auth

Flags:
`

// Main is the program, separated from main for tests.
type Main struct {
	Verify   bool // the verify subcommand
	Data     string
	DB       string
	Listen   string
	Admin    string
	LogLevel string
	Stdout   io.Writer
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("shian-command", flag.ContinueOnError)
	fs.SetOutput(m.Stdout)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, usage)
		fs.PrintDefaults()
	}
	if len(args) > 0 && args[0] == "verify" {
		m.Verify, args = true, args[1:]
	}
	fs.StringVar(&m.Data, "data", "./shian-data", "data directory (command.db, its lock, evidence, and history.db by default)")
	fs.StringVar(&m.DB, "db", "", "result history: sqlite:PATH or postgres://… (default sqlite:DATA/history.db)")
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&m.Admin, "admin", "admin", "name of the admin user created on first start")
	fs.StringVar(&m.LogLevel, "log-level", "info", "debug, info, warn or error")
	return fs.Parse(args)
}

// Run runs the service until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", m.LogLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if m.Verify {
		return m.verify(log)
	}
	svc, err := command.Open(command.Config{DataDir: m.Data, DB: m.DB, Log: log})
	if err != nil {
		return err
	}
	defer svc.Close()
	pw, err := svc.Bootstrap(m.Admin)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if pw != "" {
		path := filepath.Join(m.Data, "initial-admin-password")
		if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "created user %q with password %s (also in %s; change it)\n", m.Admin, pw, path)
	}
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- svc.ListenAndServe(ctx, m.Listen, ready) }()
	select {
	case addr := <-ready:
		fmt.Fprintf(m.Stdout, "shian-command serving on http://%s/ (data in %s)\n", addr, m.Data)
	case err := <-errc:
		return err
	}
	return <-errc
}

// errDamaged makes verify exit 1.
var errDamaged = errors.New("damage found")

// verify checks every stored result and the history's working-set tables.
// With the service stopped it opens the data directory, so that the
// damage is also raised as alarms in the command centre; while the
// service runs (the directory is locked) it reads the history alone and
// the service raises the alarms when it meets the rows.
func (m *Main) verify(log *slog.Logger) error {
	spec := m.DB
	if spec == "" {
		spec = "sqlite:" + filepath.Join(m.Data, "history.db")
		if _, err := os.Stat(filepath.Join(m.Data, "history.db")); err != nil {
			return fmt.Errorf("verify: no result history at %s (%v); give --data or --db", spec, err)
		}
	}
	var rep history.VerifyReport
	svc, err := command.Open(command.Config{DataDir: m.Data, DB: spec, Log: log})
	switch {
	case err == nil:
		defer svc.Close()
		if rep, err = svc.History().Verify(); err != nil {
			return err
		}
	case errors.Is(err, store.ErrLocked):
		fmt.Fprintln(m.Stdout, "the command service is running: checking the history read-only; it raises the alarms itself when it reads a damaged row")
		h, err := history.Open(spec, history.Options{Log: log})
		if err != nil {
			return err
		}
		defer h.Close()
		if rep, err = h.Verify(); err != nil {
			return err
		}
	default:
		return err
	}
	for _, d := range rep.Damaged {
		fmt.Fprintln(m.Stdout, "damaged:", d)
	}
	for _, t := range rep.Tables {
		fmt.Fprintln(m.Stdout, "table:", t)
	}
	fmt.Fprintf(m.Stdout, "verify: %d results checked, %d damaged, %d table disagreements\n", rep.Rows, len(rep.Damaged), len(rep.Tables))
	if !rep.OK() {
		return errDamaged
	}
	return nil
}

func main() {
	m := &Main{Stdout: os.Stdout}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		if !errors.Is(err, errDamaged) {
			fmt.Fprintln(os.Stderr, "shian-command:", err)
		}
		os.Exit(1)
	}
}
