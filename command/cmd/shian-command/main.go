// Command shian-command runs the Shian command service: the kiosk ingest
// endpoint, the REST API, the live map and the assurance engine, on one
// embedded buntdb data directory.
//
//	shian-command --data /var/lib/shian-command --listen :8080
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
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/shianfood/shian/command"
)

const usage = `shian-command — 食安指挥中心服务 / the Shian command service

Usage:
  shian-command [--data DIR] [--listen ADDR] [--admin NAME] [--log-level LEVEL] [--pprof ADDR]

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
	Data     string
	Listen   string
	Admin    string
	LogLevel string
	// Pprof, when set, is a second address serving Go's profiler
	// (net/http/pprof), for `make bench --profile` and for finding where
	// a live service spends its time.
	Pprof  string
	Stdout io.Writer
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("shian-command", flag.ContinueOnError)
	fs.SetOutput(m.Stdout)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&m.Data, "data", "./shian-data", "data directory (command.db and its lock)")
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&m.Admin, "admin", "admin", "name of the admin user created on first start")
	fs.StringVar(&m.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&m.Pprof, "pprof", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; it has no authentication: keep it on loopback)")
	return fs.Parse(args)
}

// Run runs the service until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", m.LogLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	svc, err := command.Open(command.Config{DataDir: m.Data, Log: log})
	if err != nil {
		return err
	}
	defer svc.Close()
	if m.Pprof != "" {
		stop, err := servePprof(m.Pprof, log)
		if err != nil {
			return err
		}
		defer stop()
	}
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

// servePprof serves net/http/pprof on addr until stop is called.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("profiler serving", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() { srv.Close() }, nil
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
		fmt.Fprintln(os.Stderr, "shian-command:", err)
		os.Exit(1)
	}
}
