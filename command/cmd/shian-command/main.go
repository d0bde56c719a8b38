// Command shian-command runs the Shian command service: the kiosk ingest
// endpoint, the REST API, the live map and the assurance engine, on one
// data directory; and the operator's tools around it.
//
//	shian-command --config /etc/shian/command.yaml           # serve
//	shian-command check --config /etc/shian/command.yaml     # validate the config and exit
//	shian-command backup --config … --to /var/backups/shian/command-$(date +%F).tar.gz
//	shian-command restore --from FILE --data DIR
//	shian-command import --url http://127.0.0.1:8080 --token T venue.geojson
//	shian-command --version
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
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/backup"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/version"
)

const usage = `shian-command — 食安指挥中心服务 / the Shian command service

Usage:
  shian-command [--config command.yaml] [--data DIR] [--listen ADDR] [--admin NAME] [--log-level L] [--log-format text|json] [--pprof ADDR]
  shian-command check   [--config command.yaml]          validate the config (every problem with its line) and exit
  shian-command backup  [--config command.yaml] --to FILE.tar.gz
                        a consistent copy, taken while the service runs (or not)
  shian-command restore --from FILE.tar.gz --data DIR [--force]
                        bring a backup back into a data directory no service uses
  shian-command import  [--url URL] [--token T] [--skip-invalid] [--id P] [--name P] [--kind K] FILE.geojson
                        import a venue file into the running service, with a progress bar
  shian-command verify  [--config command.yaml] [--data DIR] [--db SPEC]
                        check every stored result and the history's tables; exit 1 on damage
  shian-command --version

--db (or db: in command.yaml) names the result history:
  sqlite:PATH         an SQLite file (default: sqlite:DATA/history.db)
  postgres://…        a PostgreSQL database (user:password@host:port/dbname?sslmode=…)

It serves, on one address:
  /                 the command centre's live map (log in with a user)
  /api/v1/...       the REST API (session cookie or Authorization: Bearer <api token>)
  /ws/kiosk         the kiosks' result stream (per-kiosk token)
  /ws/live          the live map's updates
  /healthz /readyz  liveness and readiness, no auth
  /metrics          Prometheus metrics, no auth (keep it off the public side of a proxy)

Flags:
`

// Main is the program, separated from main for tests.
type Main struct {
	Command   string // "", "check", "backup", "restore", "import"
	Config    string
	Data      string
	DB        string
	Evidence  string
	Listen    string
	Admin     string
	LogLevel  string
	LogFormat string
	Version   bool
	To        string
	From      string
	Force     bool
	Import    ImportFlags
	Args      []string
	// Pprof, when set, is a second address serving Go's profiler
	// (net/http/pprof), for `make bench --profile` and for finding where
	// a live service spends its time.
	Pprof string
	// TLSCert, TLSKey and TrustedProxy are --tls-cert, --tls-key and
	// --trusted-proxy (command.yaml tls: and proxy.trusted).
	TLSCert, TLSKey, TrustedProxy string
	Stdout                        io.Writer
	Stderr                        io.Writer

	set map[string]bool // flags given explicitly
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "check", "backup", "restore", "import", "verify", "serve":
			m.Command, args = args[0], args[1:]
			if m.Command == "serve" {
				m.Command = ""
			}
		case "version":
			m.Version, args = true, args[1:]
		default:
			return fmt.Errorf("unknown command %q (check, backup, restore, import or serve; see shian-command --help)", args[0])
		}
	}
	fs := flag.NewFlagSet("shian-command", flag.ContinueOnError)
	fs.SetOutput(m.Stdout)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, usage)
		fs.PrintDefaults()
	}
	def := DefaultConfig()
	fs.StringVar(&m.Config, "config", "", "command.yaml (see command/README.md); flags given explicitly override it")
	fs.StringVar(&m.Data, "data", def.Data, "data directory (command.db, its lock, evidence, and history.db by default)")
	fs.StringVar(&m.DB, "db", def.DB, "result history: sqlite:PATH or postgres://… (default sqlite:DATA/history.db); postgres://… puts the operational records there too (cluster mode)")
	fs.StringVar(&m.Evidence, "evidence", def.Evidence, "directory of evidence files (default DATA/evidence); in cluster mode one every instance shares")
	fs.StringVar(&m.Listen, "listen", def.Listen, "address to serve on")
	fs.StringVar(&m.Admin, "admin", def.Admin, "name of the admin user created on first start")
	fs.StringVar(&m.LogLevel, "log-level", def.Log.Level, "debug, info, warn or error")
	fs.StringVar(&m.LogFormat, "log-format", def.Log.Format, "text or json (one JSON object per line)")
	fs.BoolVar(&m.Version, "version", false, "print the version and exit")
	fs.StringVar(&m.To, "to", "", "backup: the file to write (.tar.gz)")
	fs.StringVar(&m.From, "from", "", "restore: the backup file")
	fs.BoolVar(&m.Force, "force", false, "restore: move an existing command.db aside instead of refusing")
	fs.StringVar(&m.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key): Secure cookies and HSTS")
	fs.StringVar(&m.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	fs.StringVar(&m.TrustedProxy, "trusted-proxy", "", "comma-separated addresses or prefixes of the reverse proxies in front (e.g. 127.0.0.1,10.0.0.0/8): their X-Forwarded-For and X-Forwarded-Proto are believed")
	fs.StringVar(&m.Pprof, "pprof", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; it has no authentication: keep it on loopback)")
	m.Import.flags(fs)
	// Flags may come after the file too (shian-command import f.geojson --kind zone).
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		m.Args = append(m.Args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(m.Args) > 0 && m.Command != "import" {
		return fmt.Errorf("unexpected argument %q", m.Args[0])
	}
	m.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m.set[f.Name] = true })
	return nil
}

// config returns the configuration: the file (if any) with the flags
// given explicitly over it.
func (m *Main) config() (*Config, error) {
	cfg := DefaultConfig()
	if m.Config != "" {
		c, err := LoadConfig(m.Config)
		if err != nil {
			return nil, err
		}
		cfg = *c
	}
	over := func(name string, dst *string, v string) {
		if m.set[name] || m.Config == "" {
			*dst = v
		}
	}
	over("data", &cfg.Data, m.Data)
	over("db", &cfg.DB, m.DB)
	over("evidence", &cfg.Evidence, m.Evidence)
	over("listen", &cfg.Listen, m.Listen)
	over("admin", &cfg.Admin, m.Admin)
	over("log-level", &cfg.Log.Level, m.LogLevel)
	over("log-format", &cfg.Log.Format, m.LogFormat)
	over("tls-cert", &cfg.TLS.Cert, m.TLSCert)
	over("tls-key", &cfg.TLS.Key, m.TLSKey)
	if m.set["trusted-proxy"] || (m.Config == "" && m.TrustedProxy != "") {
		cfg.Proxy.Trusted = strings.Split(m.TrustedProxy, ",")
	}
	if m.set["tls-cert"] || m.set["tls-key"] || m.set["trusted-proxy"] {
		if err := cfg.validate(); err != nil {
			return nil, err
		}
	}
	return &cfg, nil
}

// NewLogger returns the slog logger for a level and a format.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slogLevel
	if err := l.set(level); err != nil {
		return nil, err
	}
	o := &slog.HandlerOptions{Level: slog.Level(l)}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

type slogLevel slog.Level

func (l *slogLevel) set(s string) error {
	var v slog.Level
	if err := v.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	*l = slogLevel(v)
	return nil
}

// Run runs the service (or the chosen command) until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	if m.Stderr == nil {
		m.Stderr = os.Stderr
	}
	if m.Version {
		fmt.Fprintln(m.Stdout, version.Line("shian-command"))
		return nil
	}
	switch m.Command {
	case "restore":
		return m.restore()
	case "import":
		return m.importVenue(ctx)
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	log, err := NewLogger(m.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	switch m.Command {
	case "check":
		src := "defaults"
		if m.Config != "" {
			src = m.Config
		}
		fmt.Fprintf(m.Stdout, "%s: ok (listen %s, data %s, %d incident deadlines, %d high-risk dish rules, %d credit rules)\n", src,
			cfg.Listen, cfg.Data, len(cfg.Assurance.Incident.Deadlines), len(cfg.Assurance.Menu.Rules), len(cfg.Assurance.Credit.Rules))
		return nil
	case "backup":
		return m.backup(ctx, cfg, log)
	case "verify":
		return m.verify(cfg, log)
	}
	sc := cfg.Service()
	sc.Log = log
	svc, err := command.Open(sc)
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
	pw, err := svc.Bootstrap(cfg.Admin)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if pw != "" {
		path := filepath.Join(cfg.Data, "initial-admin-password")
		if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "created user %q with password %s (also in %s; change it)\n", cfg.Admin, pw, path)
	}
	ctl, err := backup.ServeControl(cfg.Data, svc.Store(), svc.History(), log)
	switch {
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EOPNOTSUPP):
		// A file system without Unix sockets (some FUSE and network file
		// systems): results are still taken; only a live backup is not.
		log.Warn("the data directory's file system takes no Unix sockets: shian-command backup cannot reach this service while it runs; stop it to take a backup, or keep the data on a local disk",
			"data", cfg.Data, "err", err)
	case err != nil:
		return err
	default:
		defer ctl.Close()
	}
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- svc.ListenAndServe(ctx, cfg.Listen, ready) }()
	select {
	case addr := <-ready:
		log.Info("shian-command serving", "version", version.String(), "addr", addr, "data", cfg.Data)
		scheme := "http"
		if cfg.TLS.Cert != "" {
			scheme = "https"
		} else if !isLoopback(addr) && len(cfg.Proxy.Trusted) == 0 {
			log.Warn("serving plain HTTP on a non-loopback address: passwords and session cookies cross the network in clear; use --tls-cert/--tls-key, or a TLS proxy with --trusted-proxy", "addr", addr)
		}
		fmt.Fprintf(m.Stdout, "shian-command %s serving on %s://%s/ (data in %s)\n", version.String(), scheme, addr, cfg.Data)
	case err := <-errc:
		return err
	}
	return <-errc
}

// isLoopback reports whether a host:port listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// servePprof serves net/http/pprof on addr until stop is called.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %s: %w", addr, err)
	}
	// With the profiler on, also record where goroutines wait (block) and
	// which locks are contended (mutex): an ingest that is latency-bound
	// shows there, not in the CPU profile. One event in 10 µs of blocking
	// and one in 5 contentions keep the cost small.
	runtime.SetBlockProfileRate(10_000)
	runtime.SetMutexProfileFraction(5)
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
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "shian-command:", err)
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

// errDamaged makes verify exit 1.
var errDamaged = errors.New("damage found")

// verify is `shian-command verify`: it checks every stored result and the
// history's working-set tables. With the service stopped it opens the
// data directory, so that the damage is also raised as alarms in the
// command centre; while the service runs (the directory is locked) it
// reads the history alone, and the service raises the alarms when it
// meets the rows.
func (m *Main) verify(cfg *Config, log *slog.Logger) error {
	sc := cfg.Service()
	sc.Log = log
	if sc.DB == "" {
		path := filepath.Join(cfg.Data, "history.db")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("verify: no result history at %s (%v); give --data or --db", path, err)
		}
		sc.DB = "sqlite:" + path
	}
	var rep history.VerifyReport
	svc, err := command.Open(sc)
	switch {
	case err == nil:
		defer svc.Close()
		if rep, err = svc.History().Verify(); err != nil {
			return err
		}
	case errors.Is(err, store.ErrLocked):
		fmt.Fprintln(m.Stdout, "the command service is running: checking the history read-only; it raises the alarms itself when it reads a damaged row")
		h, err := history.Open(sc.DB, history.Options{Log: log, Cluster: command.ClusterMode(sc.DB)})
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

// backup is `shian-command backup --to FILE`.
func (m *Main) backup(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if command.ClusterMode(cfg.DB) {
		return errors.New("backup: with --db postgres://… the records and the results are in PostgreSQL, not in the data directory: back the database up with pg_dump (pg_dump -Fc -f shian.dump DBNAME), and the evidence directory with your file backup; shian-command backup copies a single instance's data directory")
	}
	if m.To == "" {
		return errors.New("backup: --to FILE.tar.gz is required")
	}
	man, how, err := backup.ToFile(ctx, cfg.Data, m.To, log)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(m.To)
	fmt.Fprintf(m.Stdout, "%s: %d results, %d evidence files, %s (%s)\n", m.To, man.Results, man.Evidence, sizeText(fi.Size()), how)
	return nil
}

// restore is `shian-command restore --from FILE --data DIR`.
func (m *Main) restore() error {
	if m.From == "" || !m.set["data"] {
		return errors.New("restore: --from FILE.tar.gz and --data DIR are required")
	}
	man, n, err := backup.Restore(m.From, m.Data, m.Force, m.Stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "restored %s (taken %s by %s) into %s: %d results, %d evidence files\n",
		m.From, man.CreatedAt.Format(time.RFC3339), man.Version, m.Data, n, man.Evidence)
	return nil
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
