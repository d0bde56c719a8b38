package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/shianfood/shian/simulator/chaos"
)

// runChaos is `shian-sim chaos`: the real binaries against each other,
// with kills and network faults, ending with the ledger line.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim chaos", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o chaos.Options
	var logLevel string
	fs.IntVar(&o.Kiosks, "kiosks", 4, "number of kiosks (each a shian-kiosk process with an emulated enzyme tester on a pty)")
	fs.IntVar(&o.Results, "results", 250, "tests per kiosk")
	fs.IntVar(&o.KillKiosk, "kill-kiosk", 0, "SIGKILL kiosks this many times, at random moments")
	fs.IntVar(&o.KillCommand, "kill-command", 0, "SIGKILL the command service this many times, at random moments")
	fs.BoolVar(&o.Faults, "faults", false, "put the fault proxy (latency, 1 KB/s, 1-byte fragments, cuts, resets, black holes, lost acks, partitions) between kiosks and command")
	fs.DurationVar(&o.MaxHold, "fault-hold", 2*time.Second, "longest time one fault is held")
	fs.StringVar(&o.DataDir, "data", "", "data directory for the run (must be empty or new; required)")
	fs.StringVar(&o.CommandBin, "command-bin", "", "shian-command binary (default: the one beside shian-sim, else built into DATA/bin)")
	fs.StringVar(&o.KioskBin, "kiosk-bin", "", "shian-kiosk binary (default: the one beside shian-sim, else built into DATA/bin)")
	fs.DurationVar(&o.Measure, "measure", 20*time.Millisecond, "how long one test takes on the emulated tester")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed for kills, faults and verdicts (0: from the clock)")
	fs.DurationVar(&o.Drain, "drain", 60*time.Second, "how long every result may take to be stored once the network heals")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.IntVar(&o.Cluster, "cluster", 0, "run this many shian-command instances in cluster mode on one throwaway PostgreSQL (Debian's postgresql package); --kill-command then kills instances, the leader among them")
	fs.IntVar(&o.PGRestarts, "pg-restarts", 0, "with --cluster: shut PostgreSQL down and start it again this many times during the run")
	fs.DurationVar(&o.PGHold, "pg-hold", 2*time.Second, "with --cluster: how long PostgreSQL stays down at each restart")
	fs.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "Usage: shian-sim chaos --data DIR [flags]\n\nRuns shian-command and N shian-kiosk processes against each other, each kiosk reading\nan emulated enzyme tester on a pseudo-terminal, kills them at random, breaks the network\nbetween them, and checks that every test is stored exactly once. The last line is\n  ledger: produced=P stored=S lost=L duplicated=D\nand the exit status is 1 when L or D is not 0. With --cluster N the command is N instances\non one PostgreSQL, and a line before it says whether one engine ran at a time:\n  engine: rounds=R two_leaders=0 takeover=… longest_gap=… bound=4s incidents=I duplicate_incidents=0 …\nthe exit status is 1 too when two instances led at once, a gap passed the bound, a result\nwas acknowledged while PostgreSQL was down, or the engine opened or raised anything twice.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.DataDir == "" {
		fmt.Fprintln(stderr, "shian-sim chaos: --data DIR is required (an empty or new directory)")
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "shian-sim chaos: --log-level %q: want debug, info, warn or error\n", logLevel)
		return 2
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Out = stdout
	l, err := chaos.Run(ctx, o)
	if err != nil && l.Tests == 0 {
		fmt.Fprintln(stderr, "shian-sim chaos:", err) // the run never got going: no books to show
		return 1
	}
	fmt.Fprintf(stdout, "tests %d, kiosk kills %d, command kills %d, fault steps %d; stored within %v of the heal; run took %v\n",
		l.Tests, l.KioskKills, l.CommandKills, l.FaultSteps, l.Drained.Round(time.Millisecond), l.Elapsed.Round(time.Millisecond))
	if l.Instances > 0 {
		fmt.Fprintf(stdout, "cluster: %d instances, %d instance kills (%d of the leader), %d PostgreSQL restarts (longest down %v; ingest resumed within %v); %d results held as acknowledged at the restarts, %d of them acknowledged while it was down\n",
			l.Instances, l.CommandKills, l.LeaderKills, l.PGRestarts, l.PGDown.Round(time.Millisecond), l.Resumed.Round(time.Millisecond), l.AckedAtOutage, l.AckedWhileDown)
	}
	fmt.Fprintf(stdout, "repeated reports recognised after a kiosk restart: %d; outbox files repaired at start: %d; largest kiosk RSS %.1f MB\n",
		l.Repeats, l.Repairs, float64(l.MaxKioskRSS)/(1<<20))
	if len(l.Alarms) > 0 {
		fmt.Fprintf(stdout, "command alarms: %v\n", l.Alarms)
	}
	for _, p := range l.Problems {
		fmt.Fprintln(stdout, "problem:", p)
	}
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim chaos:", err)
	}
	if l.Instances > 0 {
		fmt.Fprintln(stdout, l.EngineLine())
	}
	fmt.Fprintln(stdout, l.Line())
	if err != nil || !l.OK() {
		return 1
	}
	return 0
}
