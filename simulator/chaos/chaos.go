// Package chaos runs the real binaries against each other under faults and
// keeps the books: shian-command, one shian-kiosk per simulated kiosk, an
// emulated enzyme tester (firmware/enzyme) on a pseudo-terminal for each,
// and, between the kiosks and the command, internal/faultproxy.
//
// # What it does
//
// Each kiosk's tester runs Results tests, one after another, as fast as the
// kiosk takes them. Meanwhile the run SIGKILLs kiosks (KillKiosk times) and
// the command (KillCommand times) at random moments and starts them again
// on the same data, and with Faults the proxy goes through a random fault
// schedule (faultproxy.Schedule). When every test is done and every
// killer has struck, the network heals and the run waits for every kiosk's
// outbox to drain, then stops everything and reads the books.
//
// # The ledger
//
// Every test carries a tag in its sample name ("C03-0117": kiosk 3, test
// 117), so a stored result can be traced to the instrument report it came
// from, whatever result_id the kiosk gave it.
//
//   - produced: results the kiosks saved — every record in the kiosks'
//     outboxes at the end (read from the files), together with every
//     result_saved event the kiosks logged (they log JSON; a logged result
//     missing from its outbox is a loss);
//   - stored: results of these kiosks in the command's result history;
//   - lost: tests finished on an instrument (the kiosk acknowledged the
//     report) with no stored result, plus saved results not stored;
//   - duplicated: stored results beyond one per test.
//
// # Power cuts
//
// With Options.Disks (`shian-sim powerloss`, `make powerloss`) the
// command's data directory and each kiosk's sit on their own LazyFS
// (simulator/lazyfs), and every kill is a power cut: SIGKILL, then every
// write the process had not fsynced is dropped, then it starts again. A
// SIGKILL alone keeps the page cache, so only this tests that the stores
// sync before they acknowledge. After each cut of the command the run
// checks, before the command restarts, that every result a kiosk holds as
// acknowledged is in its history (Ledger.AckedLost): the kiosks send again
// what the command lacks, so the final books alone would not see it.
//
// A kiosk killed between the tester's report and the save has not
// acknowledged it, so the tester repeats it to the restarted kiosk; killed
// between the save and the acknowledgement, the repeat is recognised by
// the report's identity (outbox.SaveOnce) and acknowledged without a second
// save. Either way the test is counted once.
//
// # A cluster
//
// With Options.Cluster (`shian-sim chaos --cluster N`, `make
// cluster-chaos`, issue 17 part 6) the command is N shian-command
// instances in cluster mode (--db postgres://…) on one PostgreSQL, each
// with a data directory of its own, and every kiosk has all of them in
// command.urls, each through a fault proxy of its own with Faults: a
// kiosk whose instance dies or whose link breaks moves to the next. The
// books are read from the database (results, the engine's incidents, the
// alarms), and besides lost=0 duplicated=0 the run checks:
//
//   - one engine at a time: every 150 ms it asks every instance whether it
//     leads (GET /readyz says "leader" in cluster mode: the instance holds
//     the engine's advisory lock, cluster.EngineLock, so its engine may
//     run). No round may find two leaders (a round and a kill never
//     overlap, so a killed leader and its successor are not seen
//     together), and no time without a leader may pass FailoverBound
//     (4 s: the followers' 2 s retry, the leader's 1 s check, 1 s to
//     connect and sample), outside PostgreSQL's outages, nor after one
//     from PostgreSQL's return.
//   - the leader dies: KillCommand SIGKILLs instances, the first and every
//     other kill the one that leads; a killed leader stays dead until
//     another instance leads (restarted at once it would often take its
//     lock back first, and the take-over would go untested), and the time
//     to that take-over is Ledger.Takeover.
//   - PostgreSQL restarts (PGRestarts, each down PGHold): a fast shutdown,
//     every session ended. The instances must then refuse to acknowledge
//     what they cannot commit, and the kiosks keep it. To check it, the
//     run starts the server aside first, on a socket the instances do not
//     know (pgtest.Server.UpAside), reads the result ids it holds, and
//     checks every result the kiosks hold as acknowledged against them —
//     one it lacks was acknowledged while the database was down
//     (Ledger.AckedWhileDown) — then starts it where the instances look.
//     Ingest must resume: a result stored within Drain of the return
//     (Ledger.Resumed).
//   - the engine's records: no result with two incidents, no incident
//     warned of twice, no escalation raised twice (Ledger.Incidents,
//     DuplicateIncidents, DuplicateAlerts, DuplicateEscalations).
//
// Ledger.EngineLine sums it up; Ledger.OK covers it. Kills of instances
// and PostgreSQL restarts take turns (an instance cannot start while the
// database is down); kiosk kills and network faults come at any time. In
// cluster mode the moments of kills and restarts are shares of the tests
// started, not times: the testers often run faster than expected, and a
// restart after the last test would have nothing to refuse or resume.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/internal/faultproxy"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/simulator/serialsim"
)

// Options configures a run.
type Options struct {
	Kiosks  int // default 4
	Results int // tests per kiosk, default 250
	// KillKiosk and KillCommand are how many SIGKILLs to deliver.
	KillKiosk, KillCommand int
	// Faults puts the fault schedule between kiosks and command.
	Faults bool
	// MaxHold is the longest a fault is held (default 2 s).
	MaxHold time.Duration
	// DataDir holds everything; it must be empty or absent.
	DataDir string
	// CommandBin and KioskBin are the binaries. Empty takes shian-command
	// and shian-kiosk from beside the running program when both are there
	// (`make build` puts all three in bin/), else builds them into
	// DataDir/bin with `go build` (run from inside the module).
	CommandBin, KioskBin string
	// Measure is how long one test takes on the emulated tester
	// (default 20 ms; the real one takes 3.5 min).
	Measure time.Duration
	// Seed makes the kill moments, the faults and the verdicts repeatable.
	Seed uint64
	// Drain bounds the wait for every result to be stored once the
	// network heals (default 60 s); Timeout bounds the whole run
	// (default 30 min).
	Drain, Timeout time.Duration
	Log            *slog.Logger
	Out            io.Writer
	// Disks, when set, puts the command's data directory and each
	// kiosk's on a file system that loses what was not fsynced (LazyFS:
	// simulator/lazyfs) and makes every kill a power cut: the process is
	// SIGKILLed, its disk drops every unsynced write, and it starts again.
	// After each cut of the command, before it restarts, the run checks
	// that every result a kiosk holds as acknowledged is in the command's
	// history (Ledger.AckedChecked, Ledger.AckedLost) — the kiosks would
	// otherwise send lost ones again and hide the loss.
	Disks Disks

	// Cluster, above 0, runs that many command instances in cluster mode
	// (--db postgres://…) on one PostgreSQL, and the kiosks take the list
	// of them (command.urls, each through a fault proxy of its own with
	// Faults). KillCommand then counts SIGKILLs of instances: the first
	// and every other one strikes the instance that leads (holds the
	// engine's lock), the others one at random. See the package doc.
	Cluster int
	// Postgres is the server the cluster runs on; nil starts one for the
	// run (internal/pgtest: initdb in a temporary directory) and stops it
	// at the end. The run makes a database of its own on it.
	Postgres *pgtest.Server
	// PGRestarts is how many times PostgreSQL is shut down and started
	// again during a cluster run; PGHold how long it stays down (default
	// 2 s).
	PGRestarts int
	PGHold     time.Duration
}

// Disks are file systems that can lose power (simulator/lazyfs.Disks).
type Disks interface {
	// Mount puts dir (created if needed) on such a file system.
	Mount(dir string) error
	// Cut drops what was written under dir and not synced. The processes
	// that wrote there are stopped first.
	Cut(dir string) error
	// Unmount writes out and unmounts every file system.
	Unmount() error
}

func (o *Options) defaults() {
	if o.Kiosks <= 0 {
		o.Kiosks = 4
	}
	if o.Results <= 0 {
		o.Results = 250
	}
	if o.Measure <= 0 {
		o.Measure = 20 * time.Millisecond
	}
	if o.MaxHold <= 0 {
		o.MaxHold = 2 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Drain <= 0 {
		o.Drain = 60 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.PGHold <= 0 {
		o.PGHold = 2 * time.Second
	}
}

// run is one chaos run in progress.
type run struct {
	o      Options
	dir    string
	insts  []*instance // the command, or the cluster's instances
	rnd    *rand.Rand
	rndMu  sync.Mutex
	kiosks []*kiosk
	// Cluster mode: the database, what the run saw of the leaders, and
	// the PostgreSQL outages (cluster.go).
	dsn    string
	cl     clusterWatch
	events events // from the kiosks' JSON logs (ledger.go)
	maxRSS atomic.Int64
	ledger Ledger
	// ledgerMu guards what the killers add to the ledger while it runs.
	ledgerMu    sync.Mutex
	cutProblems []string
}

type kiosk struct {
	i                 int
	id, token, dir    string
	link, config, log string
	fw                *enzyme.Firmware
	sim               *enzyme.SimPhotometer

	mu      sync.Mutex
	port    *serialsim.Port
	served  chan struct{}
	proc    *proc
	started atomic.Int64 // tests started on the tester
}

// Run runs the chaos described by o and returns its ledger. An error means
// the run could not be carried out (a binary failed to build or start, a
// deadline passed); lost or duplicated results are reported in the
// ledger, not as an error.
func Run(ctx context.Context, o Options) (Ledger, error) {
	o.defaults()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.DataDir == "" {
		return Ledger{}, errors.New("a data directory is required (--data)")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return Ledger{}, err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return Ledger{}, fmt.Errorf("%s is not empty; give an empty or new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Ledger{}, err
	}
	r := &run{o: o, dir: dir, rnd: rand.New(rand.NewPCG(o.Seed, 1))}
	if o.Disks != nil {
		// Registered before stopAll, so it runs after it: no process is
		// left inside a mount when it goes.
		defer func() {
			if err := o.Disks.Unmount(); err != nil {
				o.Log.Error("unmount", "err", err)
			}
		}()
		for _, d := range r.dataDirs() {
			if err := o.Disks.Mount(d); err != nil {
				return Ledger{}, err
			}
		}
	}
	if o.Cluster > 0 {
		if o.Disks != nil {
			return Ledger{}, errors.New("chaos: power cuts (Disks) are for one command, not a cluster")
		}
		stop, err := r.database(ctx)
		if err != nil {
			return Ledger{}, err
		}
		// Registered before stopAll, so it runs after it.
		defer stop()
	}
	defer r.stopAll()
	if err := r.binaries(ctx); err != nil {
		return Ledger{}, err
	}
	if err := r.prepare(ctx); err != nil {
		return Ledger{}, err
	}
	for i, in := range r.insts {
		if err := r.startInstance(ctx, in); err != nil {
			return Ledger{}, err
		}
		in.url = "ws://" + in.addr + "/ws/kiosk"
		if o.Faults {
			p, err := faultproxy.New(in.addr)
			if err != nil {
				return Ledger{}, err
			}
			p.Seed(o.Seed + uint64(i))
			in.proxy = p
			defer p.Close()
			in.url = "ws://" + p.Addr() + "/ws/kiosk"
		}
	}
	for _, k := range r.kiosks {
		if err := r.startInstrument(ctx, k); err != nil {
			return Ledger{}, err
		}
		if err := r.writeConfig(k); err != nil {
			return Ledger{}, err
		}
		if err := r.startKiosk(k); err != nil {
			return Ledger{}, err
		}
	}
	kills := "kills"
	if o.Disks != nil {
		kills = "power cuts"
	}
	if o.Cluster > 0 {
		fmt.Fprintf(o.Out, "chaos: %d kiosks × %d tests, %d kiosk kills, %d instance kills of %d instances, %d PostgreSQL restarts, faults %v, seed %d, data in %s\n",
			o.Kiosks, o.Results, o.KillKiosk, o.KillCommand, o.Cluster, o.PGRestarts, o.Faults, o.Seed, dir)
	} else {
		fmt.Fprintf(o.Out, "chaos: %d kiosks × %d tests, %d kiosk %s, %d command %s, faults %v, seed %d, data in %s\n",
			o.Kiosks, o.Results, o.KillKiosk, kills, o.KillCommand, kills, o.Faults, o.Seed, dir)
	}

	// Operators, killers and the fault schedule.
	var wg sync.WaitGroup
	opsDone := make(chan struct{})
	var opsWG sync.WaitGroup
	for _, k := range r.kiosks {
		opsWG.Add(1)
		go func() { defer opsWG.Done(); r.operate(ctx, k) }()
	}
	go func() { opsWG.Wait(); close(opsDone) }()
	// The kills are spread over the time the tests are expected to take.
	expect := time.Duration(o.Results) * (o.Measure + 40*time.Millisecond)
	killers := []func() error{
		func() error { return r.killKiosks(ctx, expect, opsDone) },
		func() error { return r.killCommand(ctx, expect, opsDone) },
	}
	if o.Cluster > 0 {
		killers = append(killers, func() error { return r.restartPostgres(ctx, expect) })
	}
	killErr := make(chan error, len(killers))
	for _, k := range killers {
		wg.Add(1)
		go func() { defer wg.Done(); killErr <- k() }()
	}
	faultCtx, stopFaults := context.WithCancel(ctx)
	faultsDone := make(chan int, len(r.insts))
	for i, in := range r.insts {
		if in.proxy == nil {
			faultsDone <- 0
			continue
		}
		go func() {
			faultsDone <- faultproxy.Schedule{MaxHold: o.MaxHold, Seed: o.Seed + uint64(i), Log: func(f faultproxy.Faults) {
				o.Log.Info("faults", "instance", in.name, "now", f.String())
			}}.Run(faultCtx, in.proxy)
		}()
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	if o.Cluster > 0 {
		go func() { defer close(sampled); r.sampleLeaders(sampleCtx) }()
	} else {
		close(sampled)
	}
	defer func() { stopSampling(); <-sampled }()

	rssCtx, stopRSS := context.WithCancel(ctx)
	defer stopRSS()
	go r.sampleRSS(rssCtx)

	// Wait for every test to be taken by a kiosk and every kill to happen.
	if err := r.waitTests(ctx, opsDone); err != nil {
		stopFaults()
		return r.ledger, err
	}
	wg.Wait()
	for range killers {
		if err := <-killErr; err != nil {
			stopFaults()
			return r.ledger, err
		}
	}
	stopFaults()
	for range r.insts {
		r.ledger.FaultSteps += <-faultsDone
	}
	healed := time.Now()
	fmt.Fprintf(o.Out, "chaos: all tests taken after %v; network healed, waiting for the outboxes to drain\n", time.Since(start).Round(time.Millisecond))
	drainErr := r.waitDrained(ctx)
	r.ledger.Drained = time.Since(healed)
	r.waitResumes()
	stopSampling()
	<-sampled
	r.stopAll()
	// The books are read even when the outboxes did not drain: what is
	// missing then shows as lost.
	if err := r.books(); err != nil {
		return r.ledger, err
	}
	r.ledger.Elapsed = time.Since(start)
	return r.ledger, drainErr
}

// operate runs the kiosk's tests: start one whenever the tester is free.
func (r *run) operate(ctx context.Context, k *kiosk) {
	rnd := rand.New(rand.NewPCG(r.o.Seed, uint64(k.i)))
	for n := 1; n <= r.o.Results; {
		if ctx.Err() != nil {
			return
		}
		if k.fw.Measuring() || k.fw.Pending() > 8 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		stall := fmt.Sprintf("S-%03d", 1+rnd.IntN(48))
		if _, err := k.fw.Start(1, stall, tag(k.i, n)); err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		k.started.Add(1)
		n++
	}
}

// outboxPath is the kiosk's outbox file.
func (k *kiosk) outboxPath() string { return filepath.Join(k.dir, "data", "outbox.db") }

// kioskID is the id of the run's i-th kiosk (from 1).
func kioskID(i int) string { return fmt.Sprintf("K-CH-%02d", i) }

// dataDirs are the directories the command and the kiosks keep their
// data in: what Options.Disks mounts.
func (r *run) dataDirs() []string {
	dirs := []string{filepath.Join(r.dir, "command")}
	for i := 1; i <= r.o.Kiosks; i++ {
		dirs = append(dirs, filepath.Join(r.dir, "kiosks", kioskID(i), "data"))
	}
	return dirs
}

func tag(kiosk, n int) string { return fmt.Sprintf("C%02d-%05d", kiosk, n) }

// waitTests waits until every test has been started and every report has
// been acknowledged by its kiosk.
func (r *run) waitTests(ctx context.Context, opsDone <-chan struct{}) error {
	select {
	case <-opsDone:
	case <-ctx.Done():
		return fmt.Errorf("chaos: tests not all started: %w", ctx.Err())
	}
	for {
		busy := 0
		for _, k := range r.kiosks {
			if k.fw.Measuring() || k.fw.Pending() > 0 {
				busy++
			}
		}
		if busy == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: %d testers still hold unacknowledged reports: %w", busy, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, k := range r.kiosks {
		r.ledger.Tests += int(k.started.Load())
	}
	return nil
}

// waitDrained waits until no outbox holds a pending result.
func (r *run) waitDrained(ctx context.Context) error {
	deadline := time.Now().Add(r.o.Drain)
	for {
		pending := 0
		for _, k := range r.kiosks {
			recs, err := outboxState(filepath.Join(k.dir, "data", "outbox.db"))
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if rec.State == outbox.StatePending {
					pending++
				}
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: %d results still pending %v after the network healed", pending, r.o.Drain)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
