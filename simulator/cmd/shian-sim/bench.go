package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shianfood/shian/simulator/bench"
)

// runBench is `shian-sim bench`: measure, print the table, write it.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o bench.Options
	var only, out, logLevel, growth string
	fs.BoolVar(&o.Quick, "quick", os.Getenv("BENCH_QUICK") != "", "smaller sizes and shorter windows, under a minute (default when BENCH_QUICK is set)")
	fs.StringVar(&only, "only", "", "comma-separated parts to run ("+strings.Join(bench.Parts, ", ")+"); empty runs all")
	fs.StringVar(&out, "out", "", "write the report (Markdown) to this file, e.g. docs/BENCHMARKS.md")
	fs.StringVar(&o.BinDir, "bin", "", "directory holding shian-command and shian-kiosk (default: beside shian-sim, else built)")
	fs.StringVar(&o.Work, "work", "", "scratch directory (default: a new temporary one, removed at the end)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the scratch directory (data, logs) for a look afterwards")
	fs.IntVar(&o.PortBase, "port-base", 0, "listen on 127.0.0.1 ports from this one to +99 (default: any free port)")
	fs.StringVar(&o.Profile, "profile", "", "save CPU, allocation and goroutine profiles of the command under each ingest load in this directory")
	fs.DurationVar(&o.IngestWindow, "ingest-window", 0, "measure each ingest figure for this long (default 10s, 2s with --quick)")
	fs.StringVar(&growth, "growth", "", "comma-separated store sizes for the growth part (default 0,1000000,10000000; 0,5000 with --quick)")
	fs.IntVar(&o.E2EKiosks, "e2e-kiosks", 0, "shian-kiosk processes in the end-to-end run (default 100, 5 with --quick)")
	fs.DurationVar(&o.E2EDuration, "e2e-duration", 0, "length of the end-to-end run (default 60s, 4s with --quick)")
	fs.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, `Usage: shian-sim bench [flags]

Measures Shian on this machine — ingest from 100 and 1,000 kiosk links, growth of
the result store, instrument-to-map latency, the kiosk's memory, backlog drain and
binary size, the zone index — each figure beside a baseline measured in the same
run, and prints one table. Its last two lines are
  ingest_per_s=N
  ingest_ratio=R
(the 100-kiosk ingest rate and its ratio to an fsynced file append).

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	for _, g := range strings.Split(growth, ",") {
		if g == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(g), "_", ""))
		if err != nil || n < 0 {
			fmt.Fprintf(stderr, "shian-sim bench: --growth %q: want sizes like 0,1000000,10000000\n", growth)
			return 2
		}
		o.Growth = append(o.Growth, n)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "shian-sim bench: --log-level %q: want debug, info, warn or error\n", logLevel)
		return 2
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Out = stdout
	o.Command = benchCommandLine(args)
	rep, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim bench:", err)
		return 1
	}
	if out != "" {
		var buf bytes.Buffer
		rep.Markdown(&buf)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			fmt.Fprintln(stderr, "shian-sim bench:", err)
			return 1
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "shian-sim bench:", err)
			return 1
		}
		fmt.Fprintf(stdout, "bench: report written to %s\n", out)
	}
	rep.Print(stdout)
	return 0
}

// benchCommandLine is how the report says it was made: the make target
// when make ran it, and the shian-sim command line either way.
func benchCommandLine(args []string) string {
	line := strings.TrimSpace("shian-sim bench " + strings.Join(args, " "))
	env := ""
	if os.Getenv("BENCH_QUICK") != "" {
		env = "BENCH_QUICK=1 "
	}
	if os.Getenv("MAKELEVEL") != "" {
		return env + "make bench   # ran: " + line
	}
	return env + line
}
