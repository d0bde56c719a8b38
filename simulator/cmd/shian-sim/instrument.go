package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

// runInstrument serves one emulated instrument (or one RS-485 bus of card
// readers) on a pseudo-terminal whose slave side is symlinked at --link,
// until ctx ends (Ctrl-C, SIGTERM).
func runInstrument(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim instrument", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		model, link, addrs, serial string
		list                       bool
		every                      time.Duration
		seed                       uint64
		garbage, flip              float64
		split                      bool
	)
	fs.StringVar(&model, "model", "", "instrument model (see --list)")
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
