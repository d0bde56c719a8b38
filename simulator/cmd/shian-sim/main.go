// Command shian-sim simulates Shian's world for demos, tests and chaos
// runs: a whole event (demo), a single instrument on a pseudo-terminal for
// any serial program to talk to (instrument), the real binaries against
// each other under faults (chaos) and power cuts (powerloss), and the benchmarks behind
// docs/BENCHMARKS.md (bench).
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
	"time"

	"github.com/shianfood/shian/simulator/demo"
)

const usage = `shian-sim — 食安模拟器 / the Shian simulator

Usage:
  shian-sim demo [flags]        run a simulated event against an in-process command service
  shian-sim cluster-demo [flags]  the demo on a cluster: PostgreSQL, two command instances, HAProxy
  shian-sim instrument [flags]  serve one emulated instrument on a pseudo-terminal (--list for the models)
  shian-sim chaos --data DIR    the real binaries under kills and network faults; prints the ledger
                                (--cluster N: N command instances on PostgreSQL, restarted with --pg-restarts)
  shian-sim powerloss --lazyfs BIN --data DIR   the real binaries on LazyFS under power cuts; prints the ledger
  shian-sim bench [flags]       measure ingest, growth, latency, the kiosk and the zone index; one table
  shian-sim help [command]

Run "shian-sim <command> --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "cluster-demo":
		return runClusterDemo(ctx, args[1:], stdout, stderr)
	case "instrument":
		return runInstrument(ctx, args[1:], stdout, stderr)
	case "chaos":
		return runChaos(ctx, args[1:], stdout, stderr)
	case "powerloss":
		return runPowerloss(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "shian-sim: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// demoFlags binds the flags the demo and the cluster demo share: the
// event's size and pace, where the kiosk screens listen, the log level.
func demoFlags(fs *flag.FlagSet, o *demo.Options, logLevel *string) {
	fs.IntVar(&o.Kiosks, "kiosks", 3, "number of simulated kiosks")
	fs.IntVar(&o.Stalls, "stalls", 48, "number of stalls in the venue")
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	fs.DurationVar(&o.Every, "every", 1500*time.Millisecond, "mean pause between tests at one kiosk")
	fs.DurationVar(&o.Measure, "measure", time.Second, "how long the emulated tester measures (the real one: 3.5m)")
	fs.Uint64Var(&o.Seed, "seed", 20261128, "seed for the venue and the operators")
	fs.StringVar(&o.KioskUI, "kiosk-ui", "127.0.0.1:0", "where the first kiosk's touchscreen listens; kiosk i takes the port plus i (port 0: free ports)")
	fs.StringVar(logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
}

// parseDemo parses a demo's flags and sets its logger and output; ok is
// false with the exit code when the program should stop there.
func parseDemo(fs *flag.FlagSet, args []string, o *demo.Options, logLevel *string, stdout, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "%s: --log-level %q: want debug, info, warn or error\n", fs.Name(), *logLevel)
		return 2, false
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Out = stdout
	return 0, true
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o demo.Options
	var logLevel string
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address the command service listens on")
	fs.StringVar(&o.DataDir, "data", "demo-data", "data directory (command store, kiosk outboxes, demo.json)")
	demoFlags(fs, &o, &logLevel)
	fs.Usage = func() {
		fmt.Fprintln(stdout, "Usage: shian-sim demo [flags]\n\nRuns the command service, a venue near Nantong, and kiosks reading emulated\nenzyme-inhibition testers over pseudo-terminals. Writes DATA/demo.json with the\nURL, a one-time login URL, the user and password, an API token and each kiosk's\nid and token.\n\nFlags:")
		fs.PrintDefaults()
	}
	if code, ok := parseDemo(fs, args, &o, &logLevel, stdout, stderr); !ok {
		return code
	}
	if err := demo.Run(ctx, o); err != nil {
		fmt.Fprintln(stderr, "shian-sim demo:", err)
		return 1
	}
	return 0
}

func runClusterDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim cluster-demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o demo.Options
	var c demo.ClusterOptions
	var logLevel, instances string
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address HAProxy (the balancer) listens on")
	fs.StringVar(&instances, "instances", "127.0.0.1:8081,127.0.0.1:8082", "comma-separated addresses of the command instances")
	fs.StringVar(&c.HAProxy, "haproxy", "", "the haproxy binary (default: haproxy on PATH, then /usr/sbin/haproxy)")
	fs.StringVar(&o.DataDir, "data", "cluster-demo-data", "data directory (the instances' directories, kiosk outboxes, haproxy.cfg, demo.json)")
	demoFlags(fs, &o, &logLevel)
	fs.Usage = func() {
		fmt.Fprintln(stdout, "Usage: shian-sim cluster-demo [flags]\n\nThe demo on a cluster: a throwaway PostgreSQL (initdb in a temporary directory),\ntwo command instances on it, HAProxy in front (command/deploy/haproxy.cfg) and\nthe demo's kiosks and operators against HAProxy. Needs Debian's postgresql and\nhaproxy packages; installs nothing. Ctrl-C stops all of it.\n\nFlags:")
		fs.PrintDefaults()
	}
	if code, ok := parseDemo(fs, args, &o, &logLevel, stdout, stderr); !ok {
		return code
	}
	for _, a := range strings.Split(instances, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Instances = append(c.Instances, a)
		}
	}
	if err := demo.RunCluster(ctx, o, c); err != nil {
		fmt.Fprintln(stderr, "shian-sim cluster-demo:", err)
		return 1
	}
	return 0
}
