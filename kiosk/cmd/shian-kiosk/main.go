// Command shian-kiosk runs a Shian test kiosk (快检终端) on a Raspberry Pi:
// it reads the instruments named in kiosk.yaml, keeps every result in its
// outbox, streams them to the command service, serves the operator's
// touchscreen on ui.listen (localhost), and drives the alarm LED and
// buzzer on the GPIO pins named under alarm:.
//
//	shian-kiosk --config /etc/shian/kiosk.yaml
//	shian-kiosk --config kiosk.yaml --check     # validate the config and exit
//	shian-kiosk probe --profile SHIAN-GC1 --port /dev/ttyUSB1 --addr 2   # read an instrument once
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
	"strings"
	"syscall"

	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/protocols/device/profile"
)

const usage = `shian-kiosk — 食安快检终端 / the Shian test kiosk

Usage:
  shian-kiosk --config kiosk.yaml [--check] [--log-level LEVEL]
  shian-kiosk --protocols
  shian-kiosk probe --profile VENDOR-MODEL --port /dev/ttyUSB0 [--addr N]   (probe --help)

kiosk.yaml names the kiosk, the command service and the instruments; see
kiosk/README.md for a complete example. A bad line is refused at start with
its line number.

Flags:
`

// Main is the program, separated from main for tests.
type Main struct {
	Config    string
	Check     bool
	Protocols bool
	LogLevel  string
	Stdout    io.Writer
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("shian-kiosk", flag.ContinueOnError)
	fs.SetOutput(m.Stdout)
	fs.Usage = func() {
		fmt.Fprint(m.Stdout, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&m.Config, "config", "/etc/shian/kiosk.yaml", "kiosk configuration file")
	fs.BoolVar(&m.Check, "check", false, "validate the configuration and exit")
	fs.BoolVar(&m.Protocols, "protocols", false, "list the instrument protocols this build can read and exit")
	fs.StringVar(&m.LogLevel, "log-level", "info", "debug, info, warn or error")
	return fs.Parse(args)
}

// Run runs the kiosk until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	if m.Protocols {
		for _, p := range device.Protocols() {
			fmt.Fprintln(m.Stdout, p)
		}
		fmt.Fprintln(m.Stdout, "profiles (profile: in kiosk.yaml):", strings.Join(profile.Builtin().Names(), ", "), "and those in", profile.DefaultDir)
		return nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", m.LogLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := kiosk.LoadConfig(m.Config)
	if err != nil {
		return err
	}
	if m.Check {
		fmt.Fprintf(m.Stdout, "%s: ok (kiosk %s, %d devices)\n", m.Config, cfg.KioskID, len(cfg.Devices))
		return nil
	}
	k, err := kiosk.Open(cfg, kiosk.Options{Serial: drivers.Serial(), I2C: drivers.I2C(), GPIO: &alarm.HostPins{}, Log: log})
	if err != nil {
		return err
	}
	defer k.Close()
	fmt.Fprintf(m.Stdout, "shian-kiosk %s running: %d devices, outbox in %s, command %s\n", cfg.KioskID, len(cfg.Devices), cfg.Data, cfg.Command.URL)
	if addr := k.UIAddr(); addr != "" {
		fmt.Fprintf(m.Stdout, "operator screen / 操作界面: http://%s/\n", addr)
	}
	k.Run(ctx)
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
		fmt.Fprintln(os.Stderr, "shian-kiosk:", err)
		os.Exit(1)
	}
}
