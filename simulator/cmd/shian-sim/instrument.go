package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/profilesim"
	"github.com/shianfood/shian/simulator/serialsim"
)

// runProfile serves a Modbus instrument emulated from its profile alone
// (simulator/profilesim) on a pseudo-terminal or on Modbus TCP.
func runProfile(ctx context.Context, file, link, tcp, addrs, serial string, every time.Duration, seed uint64, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "shian-sim instrument: "+format+"\n", a...)
		return code
	}
	var p *profile.Profile
	if b, err := os.ReadFile(file); err == nil {
		if p, err = profile.Parse(file, b); err != nil {
			return fail(2, "%v", err)
		}
	} else if p, err = profile.Builtin().Lookup(file); err != nil {
		return fail(2, "--profile %s: not a file (%v), nor a built-in profile", file, err)
	}
	if (link == "") == (tcp == "") {
		return fail(2, "--profile needs --link PATH (Modbus RTU on a pseudo-terminal) or --tcp ADDR (Modbus TCP)")
	}
	unit, err := strconv.Atoi(strings.Split(addrs, ",")[0])
	if err != nil || unit < 1 || unit > 247 {
		return fail(2, "--addr %q: a Modbus address 1…247", addrs)
	}
	if serial == "" {
		serial = "SIM-0001"
	}
	in, err := instrument.FromProfile(p, instrument.Options{Seed: seed, Serial: serial, Addrs: []byte{byte(unit)}})
	if err != nil {
		return fail(2, "%v", err)
	}
	dev := in.Device.(*profilesim.Device)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if every > 0 {
			instrument.Operate(ctx, in, every, seed, [4]float64{0.6, 0.15, 0.15, 0.1})
		}
	}()
	fmt.Fprintf(stdout, "%s (%s %s) emulated from %s, unit %d, serial %s\n", p.Name, p.Vendor, p.Model, p.File, unit, serial)
	if tcp != "" {
		ln, err := net.Listen("tcp", tcp)
		if err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(stdout, "  Modbus TCP on %s\n  kiosk.yaml: profile: %s, port: %s, addr: %d\nCtrl-C stops it.\n", ln.Addr(), p.Name, ln.Addr(), unit)
		err = dev.ServeTCP(ctx, ln)
		cancel()
		<-done
		if err != nil && ctx.Err() == nil {
			return fail(1, "%v", err)
		}
		return 0
	}
	abs, err := filepath.Abs(link)
	if err != nil {
		return fail(1, "%v", err)
	}
	port, err := serialsim.Open(serialsim.Options{Link: abs})
	if err != nil {
		return fail(1, "%v", err)
	}
	defer port.Close()
	fmt.Fprintf(stdout, "  Modbus RTU on %s -> %s (%d baud)\n  kiosk.yaml: profile: %s, port: %s, addr: %d\nCtrl-C stops it.\n", abs, port.SlavePath(), p.Transport.Baud, p.Name, abs, unit)
	err = port.Serve(ctx, dev)
	cancel()
	<-done
	if err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

// runInstrument serves one emulated instrument (or one RS-485 bus of card
// readers) on a pseudo-terminal whose slave side is symlinked at --link,
// until ctx ends (Ctrl-C, SIGTERM).
func runInstrument(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim instrument", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		model, link, addrs, serial string
		profileFile, tcp           string
		list                       bool
		every                      time.Duration
		seed                       uint64
		garbage, flip              float64
		split                      bool
	)
	fs.StringVar(&model, "model", "", "instrument model (see --list)")
	fs.StringVar(&profileFile, "profile", "", "emulate a Modbus instrument from its profile (a .yaml file, or a built-in profile's name) instead of a model")
	fs.StringVar(&tcp, "tcp", "", "with --profile: serve Modbus TCP on this address (127.0.0.1:1502) instead of a pseudo-terminal")
	fs.StringVar(&link, "link", "", "path at which to symlink the pseudo-terminal's slave side, e.g. /tmp/ttyGC0")
	fs.BoolVar(&list, "list", false, "list the models and exit")
	fs.StringVar(&addrs, "addr", "1", "card-reader: Modbus addresses of the readers on the bus, comma-separated (1,2,3)")
	fs.StringVar(&serial, "serial", "", "serial number (default per model)")
	fs.DurationVar(&every, "every", 0, "a simulated operator runs a test about this often (0: never; drive it yourself)")
	fs.Uint64Var(&seed, "seed", 1, "seed for the simulated outcomes")
	fs.Float64Var(&garbage, "garbage", 0, "probability of a burst of random bytes before each write (a bad line)")
	fs.Float64Var(&flip, "flip", 0, "probability of a damaged byte in each write")
	fs.BoolVar(&split, "split", false, "send every write in small pieces")
	fs.Usage = func() {
		fmt.Fprint(stdout, `Usage: shian-sim instrument --model NAME --link PATH [flags]
       shian-sim instrument --profile FILE.yaml (--link PATH | --tcp ADDR) [flags]
       shian-sim instrument --list

Creates a pseudo-terminal, symlinks its slave side at PATH and serves the
emulated instrument (its real firmware) on it until killed, so that any
serial program — shian-kiosk, minicom, a third-party Modbus master — can
talk to it as to /dev/ttyUSB0 (9600 8N1).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if list {
		fmt.Fprintf(stdout, "%-13s %-21s %s\n", "MODEL", "KIOSK PROTOCOL", "INSTRUMENT / LINE")
		for _, m := range instrument.Models() {
			fmt.Fprintf(stdout, "%-13s %-21s %s\n%35s%s\n", m.Name, m.Protocol, m.Title, "", m.Transport)
		}
		return 0
	}
	if profileFile != "" {
		return runProfile(ctx, profileFile, link, tcp, addrs, serial, every, seed, stdout, stderr)
	}
	if model == "" || link == "" {
		fmt.Fprintln(stderr, "shian-sim instrument: --model and --link are required (--list shows the models)")
		return 2
	}
	var units []byte
	for _, s := range strings.Split(addrs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 247 {
			fmt.Fprintf(stderr, "shian-sim instrument: --addr %q: Modbus addresses 1…247, comma-separated\n", addrs)
			return 2
		}
		units = append(units, byte(n))
	}
	in, err := instrument.New(model, instrument.Options{Seed: seed, Serial: serial, Addrs: units})
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim instrument:", err)
		return 2
	}
	abs, err := filepath.Abs(link)
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim instrument:", err)
		return 1
	}
	port, err := serialsim.Open(serialsim.Options{Link: abs})
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim instrument:", err)
		return 1
	}
	dev := in.Device
	if garbage > 0 || flip > 0 || split {
		dev = serialsim.WithFaults(dev, serialsim.Faults{Garbage: garbage, Flip: flip, Split: split, Seed: seed})
	}
	fmt.Fprintf(stdout, "%s on %s -> %s (9600 8N1)\n", in.Model.Title, abs, port.SlavePath())
	fmt.Fprintf(stdout, "  kiosk.yaml: protocol: %s, model: %s, port: %s", in.Model.Protocol, in.Model.KioskModel, abs)
	if in.Units != nil {
		fmt.Fprintf(stdout, ", addr: %v", in.Units)
	}
	fmt.Fprintf(stdout, "\n  serial numbers: %s\n", strings.Join(in.Serials, ", "))
	if every > 0 {
		fmt.Fprintf(stdout, "  a simulated operator runs a test about every %v\n", every)
	}
	fmt.Fprintln(stdout, "Ctrl-C stops it.")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	if every > 0 {
		go func() {
			defer close(done)
			instrument.Operate(ctx, in, every, seed, [4]float64{0.8, 0.08, 0.08, 0.04})
		}()
	} else {
		close(done)
	}
	err = port.Serve(ctx, dev)
	cancel()
	<-done
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim instrument:", err)
		return 1
	}
	return 0
}
