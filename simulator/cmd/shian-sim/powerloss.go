package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/shianfood/shian/simulator/chaos"
	"github.com/shianfood/shian/simulator/lazyfs"
)

// runPowerloss is `shian-sim powerloss` (what `make powerloss` runs): the
// chaos run with the command's and each kiosk's data on its own LazyFS,
// every kill a power cut (SIGKILL, then every unsynced write dropped),
// and after each cut of the command a check that it still holds every
// result the kiosks saw acknowledged.
func runPowerloss(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shian-sim powerloss", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o chaos.Options
	var bin, logLevel string
	var cuts int
	fs.StringVar(&bin, "lazyfs", "", "the LazyFS binary (third_party/lazyfs/build.sh prints its path; required)")
	fs.IntVar(&cuts, "cuts", 12, "power cuts in all: half of them (rounded up) the command's, the rest a kiosk's, at random moments")
	fs.IntVar(&o.Kiosks, "kiosks", 3, "number of kiosks (each a shian-kiosk process with an emulated enzyme tester on a pty, on its own LazyFS)")
	fs.IntVar(&o.Results, "results", 0, "tests per kiosk (default: 25 per cut, at least 150)")
	fs.StringVar(&o.DataDir, "data", "", "data directory for the run (must be empty or new; default: a new temporary directory, removed after a clean run)")
	fs.StringVar(&o.CommandBin, "command-bin", "", "shian-command binary (default: the one beside shian-sim, else built into DATA/bin)")
	fs.StringVar(&o.KioskBin, "kiosk-bin", "", "shian-kiosk binary (default: the one beside shian-sim, else built into DATA/bin)")
	fs.DurationVar(&o.Measure, "measure", 20*time.Millisecond, "how long one test takes on the emulated tester")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed for the cut moments and the verdicts (0: from the clock; printed)")
	fs.DurationVar(&o.Drain, "drain", 120*time.Second, "how long every result may take to be stored after the last cut")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "Usage: shian-sim powerloss --lazyfs BIN [flags]\n\nRuns shian-command and N shian-kiosk processes, each with its data on its own LazyFS\n(a FUSE file system that loses every write not fsynced when told to), and cuts their\npower at random moments: SIGKILL, drop the unsynced writes, start again. After each\ncut of the command it checks that every result a kiosk holds as acknowledged is still\nin the command's history. The last lines are\n  powerloss: cuts=C (command A, kiosk K) acked_checked=N acked_lost=L\n  ledger: produced=P stored=S lost=L duplicated=D\nand the exit status is 1 when anything acked or saved was lost or a test was stored twice.\nNeeds /dev/fuse and fusermount3 (Debian's fuse3).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if bin == "" {
		fmt.Fprintln(stderr, "shian-sim powerloss: --lazyfs BIN is required (build it with third_party/lazyfs/build.sh)")
		return 2
	}
	if cuts < 1 {
		fmt.Fprintln(stderr, "shian-sim powerloss: --cuts must be 1 or more")
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "shian-sim powerloss: --log-level %q: want debug, info, warn or error\n", logLevel)
		return 2
	}
	o.KillCommand, o.KillKiosk = (cuts+1)/2, cuts/2
	if o.Results <= 0 {
		o.Results = max(150, 25*cuts)
	}
	temp := o.DataDir == ""
	if temp {
		d, err := os.MkdirTemp("", "shian-powerloss-")
		if err != nil {
			fmt.Fprintln(stderr, "shian-sim powerloss:", err)
			return 1
		}
		o.DataDir = filepath.Join(d, "run")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim powerloss:", err)
		return 1
	}
	o.DataDir = abs
	// LazyFS's backing directories and FIFOs sit beside the run, not in it.
	disks := &lazyfs.Disks{Bin: bin, State: o.DataDir + ".lazyfs"}
	o.Disks = disks
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Out = stdout
	l, err := chaos.Run(ctx, o)
	if err != nil && l.Tests == 0 {
		fmt.Fprintln(stderr, "shian-sim powerloss:", err)
		return 1
	}
	fmt.Fprintf(stdout, "tests %d; stored within %v of the last cut; run took %v; repeated reports recognised after a kiosk restart: %d; outbox files repaired at start: %d\n",
		l.Tests, l.Drained.Round(time.Millisecond), l.Elapsed.Round(time.Millisecond), l.Repeats, l.Repairs)
	if len(l.Alarms) > 0 {
		fmt.Fprintf(stdout, "command alarms: %v\n", l.Alarms)
	}
	for _, p := range l.Problems {
		fmt.Fprintln(stdout, "problem:", p)
	}
	if err != nil {
		fmt.Fprintln(stderr, "shian-sim powerloss:", err)
	}
	fmt.Fprintf(stdout, "kiosk cuts while the kiosk was starting again: %d; outbox files compacted at a start: %d\n", l.CutsAtStart, l.Compactions)
	fmt.Fprintf(stdout, "powerloss: cuts=%d (command %d, kiosk %d) acked_checked=%d acked_lost=%d\n",
		disks.Cuts(), l.CommandKills, l.KioskKills, l.AckedChecked, l.AckedLost)
	fmt.Fprintln(stdout, l.Line())
	if err != nil || !l.OK() {
		fmt.Fprintf(stdout, "the run's files are kept in %s and %s.lazyfs\n", o.DataDir, o.DataDir)
		return 1
	}
	if temp {
		os.RemoveAll(filepath.Dir(o.DataDir))
	}
	return 0
}
