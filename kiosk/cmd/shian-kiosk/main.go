// Command shian-kiosk runs a Shian test kiosk (快检终端) on a Raspberry Pi:
// it reads the instruments named in kiosk.yaml, keeps every result in its
// outbox, streams them to the command service, serves the operator's
// touchscreen on ui.listen (localhost), and drives the alarm LED and
// buzzer on the GPIO pins named under alarm:.
//
//	shian-kiosk --config /etc/shian/kiosk.yaml             # run the kiosk
//	shian-kiosk --config kiosk.yaml --check                 # check the config as the kiosk would, and exit
//	shian-kiosk doctor --config /etc/shian/kiosk.yaml       # check config, devices, storage, command, clock
//	shian-kiosk export --config /etc/shian/kiosk.yaml --to support.tar.gz
//	shian-kiosk probe --profile SHIAN-GC1 --port /dev/ttyUSB1 --addr 2   # read an instrument once with its profile
//	shian-kiosk --version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shianfood/shian/internal/version"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/doctor"
	"github.com/shianfood/shian/kiosk/drivers"
	kmetrics "github.com/shianfood/shian/kiosk/metrics"
	"github.com/shianfood/shian/protocols/device/profile"
)

const usage = `shian-kiosk — 食安快检终端 / the Shian test kiosk

Usage:
  shian-kiosk [--config kiosk.yaml] [--log-level LEVEL] [--log-format text|json]
  shian-kiosk --config kiosk.yaml --check     check the config exactly as the kiosk does at start
  shian-kiosk doctor [--config kiosk.yaml] [--probe-timeout 10s]
                                              check config, ports, devices, storage, command, token, clock
  shian-kiosk export [--config kiosk.yaml] --to FILE.tar.gz
                                              the outbox and config (token removed) for support
  shian-kiosk probe --profile VENDOR-MODEL --port /dev/ttyUSB0 [--addr N]
                                              read an instrument once with its profile (probe --help)
  shian-kiosk --protocols                     the instrument protocols and built-in profiles of this build
  shian-kiosk --version

kiosk.yaml names the kiosk, the command service and the instruments; see
kiosk/README.md for a complete example. Every problem is named with the
file, its line and what to do.

Flags:
`

// Main is the program, separated from main for tests.
type Main struct {
	Command      string // "", "doctor" or "export"
	Config       string
	Check        bool
	Protocols    bool
	Version      bool
	LogLevel     string
	LogFormat    string
	ProbeTimeout time.Duration
	To           string
	Stdout       io.Writer
	Stderr       io.Writer
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "doctor", "export", "run":
			m.Command, args = args[0], args[1:]
			if m.Command == "run" {
				m.Command = ""
			}
		case "version":
			m.Version, args = true, args[1:]
		default:
			return fmt.Errorf("unknown command %q (doctor, export, probe or run; see shian-kiosk --help)", args[0])
		}
	}
	fs := flag.NewFlagSet("shian-kiosk", flag.ContinueOnError)
	fs.SetOutput(m.Stdout)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&m.Config, "config", "/etc/shian/kiosk.yaml", "kiosk configuration file")
	fs.BoolVar(&m.Check, "check", false, "check the configuration (every driver built with its options) and exit")
	fs.BoolVar(&m.Protocols, "protocols", false, "list the instrument protocols this build can read and exit")
	fs.BoolVar(&m.Version, "version", false, "print the version and exit")
	fs.StringVar(&m.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&m.LogFormat, "log-format", "text", "text or json (one JSON object per line, for journald or a log shipper)")
	fs.DurationVar(&m.ProbeTimeout, "probe-timeout", 10*time.Second, "doctor: how long each device has to answer")
	fs.StringVar(&m.To, "to", "", "export: the file to write (.tar.gz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// NewLogger returns the slog logger for --log-level and --log-format.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// ErrFailed is returned when doctor found a failure or --check a problem;
// the problems are already printed.
var ErrFailed = errors.New("checks failed")

// Run runs the kiosk (or the chosen command) until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	if m.Stderr == nil {
		m.Stderr = os.Stderr
	}
	if m.Version {
		fmt.Fprintln(m.Stdout, version.Line("shian-kiosk"))
		return nil
	}
	if m.Protocols {
		for _, p := range device.Protocols() {
			fmt.Fprintln(m.Stdout, p)
		}
		fmt.Fprintln(m.Stdout, "profiles (profile: in kiosk.yaml):", strings.Join(profile.Builtin().Names(), ", "), "and those in", profile.DefaultDir)
		return nil
	}
	log, err := NewLogger(m.Stderr, m.LogLevel, m.LogFormat)
	if err != nil {
		return err
	}
	switch m.Command {
	case "doctor":
		return m.doctor(ctx, log)
	case "export":
		return m.export()
	}
	cfg, err := kiosk.LoadConfig(m.Config)
	if err != nil {
		return err
	}
	if m.Check {
		// The configuration part of doctor: every driver built with its
		// options, as at start, without opening anything.
		if _, err := cfg.Instruments(device.Env{Serial: drivers.Serial(), I2C: drivers.I2C(), Log: log, Rules: cfg.Rules}); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "%s: ok (kiosk %s, %d devices, every driver built with its options)\n", m.Config, cfg.KioskID, len(cfg.Devices))
		return nil
	}
	var mon *kmetrics.Monitor
	k, err := kiosk.Open(cfg, kiosk.Options{Serial: drivers.Serial(), I2C: drivers.I2C(), GPIO: &alarm.HostPins{}, Log: log,
		Monitor: func(k *kiosk.Kiosk) http.Handler { mon = kmetrics.New(k); return mon }})
	if err != nil {
		return err
	}
	defer k.Close()
	if err := mon.Serve(cfg.Metrics.Listen, log); err != nil {
		return err
	}
	defer mon.Close()
	log.Info("shian-kiosk started", "version", version.String(), "kiosk", cfg.KioskID, "devices", len(cfg.Devices), "data", cfg.Data, "command", cfg.Command.URLs())
	fmt.Fprintf(m.Stdout, "shian-kiosk %s (%s) running: %d devices, outbox in %s, command %s\n", cfg.KioskID, version.String(), len(cfg.Devices), cfg.Data, strings.Join(cfg.Command.URLs(), ", "))
	if addr := k.UIAddr(); addr != "" {
		fmt.Fprintf(m.Stdout, "operator screen / 操作界面: http://%s/ (metrics: /metrics, /healthz, /readyz)\n", addr)
	}
	if addr := mon.Addr(); addr != "" {
		fmt.Fprintf(m.Stdout, "metrics / 监控: http://%s/metrics\n", addr)
	}
	k.Run(ctx)
	return nil
}

func (m *Main) doctor(ctx context.Context, log *slog.Logger) error {
	fmt.Fprintf(m.Stdout, "%s doctor — %s\n", version.Line("shian-kiosk"), m.Config)
	rep := doctor.Run(ctx, doctor.Options{
		Config: m.Config, Serial: drivers.Serial(), I2C: drivers.I2C(), GPIO: &alarm.HostPins{},
		ProbeTimeout: m.ProbeTimeout, Log: log,
		OnCheck: func(c doctor.Check) { fmt.Fprintln(m.Stdout, c) },
	})
	fmt.Fprintln(m.Stdout, rep.Summary())
	if rep.Failed() {
		return ErrFailed
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := runProbe(ctx, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "shian-kiosk probe:", err)
			os.Exit(1)
		}
		return
	}
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "shian-kiosk:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		if !errors.Is(err, ErrFailed) {
			fmt.Fprintln(os.Stderr, "shian-kiosk:", err)
		}
		os.Exit(1)
	}
}
