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
//     "result saved" line the kiosks logged (a logged result missing from
//     its outbox is a loss);
//   - stored: results of these kiosks in the command's result history;
//   - lost: tests finished on an instrument (the kiosk acknowledged the
//     report) with no stored result, plus saved results not stored;
//   - duplicated: stored results beyond one per test.
//
// A kiosk killed between the tester's report and the save has not
// acknowledged it, so the tester repeats it to the restarted kiosk; killed
// between the save and the acknowledgement, the repeat is recognised by
// the report's identity (outbox.SaveOnce) and acknowledged without a second
// save. Either way the test is counted once.
package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/shianfood/shian/internal/faultproxy"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/protocols/wire"
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
}

// Ledger is the outcome of a run.
type Ledger struct {
	Tests        int // tests the testers finished (reports the kiosks acknowledged)
	Produced     int
	Stored       int
	Lost         int
	Duplicated   int
	KioskKills   int
	CommandKills int
	FaultSteps   int
	Elapsed      time.Duration
	// Drained is the time from the network healing (or the last test,
	// without faults) until every result was stored.
	Drained time.Duration
	// Alarms counts the command's alarms by code.
	Alarms map[string]int
	// Repeats counts instrument reports a restarted kiosk recognised as
	// already saved; Repairs counts outbox files repaired at a kiosk start.
	Repeats, Repairs int
	// MaxKioskRSS is the largest resident set of a kiosk process seen
	// (sampled twice a second; 0 where /proc is missing).
	MaxKioskRSS int64
	// Problems lists the lost and duplicated tests (at most 20).
	Problems []string
}

// Line is the ledger's last line.
func (l Ledger) Line() string {
	return fmt.Sprintf("ledger: produced=%d stored=%d lost=%d duplicated=%d", l.Produced, l.Stored, l.Lost, l.Duplicated)
}

// OK reports whether nothing was lost or duplicated.
func (l Ledger) OK() bool { return l.Lost == 0 && l.Duplicated == 0 && l.Produced == l.Stored }

// run is one chaos run in progress.
type run struct {
	o       Options
	dir     string
	addr    string // the command's address
	url     string // what the kiosks dial (the proxy's, with faults)
	proxy   *faultproxy.Proxy
	rnd     *rand.Rand
	rndMu   sync.Mutex
	command *proc
	cmdMu   sync.Mutex
	kiosks  []*kiosk
	saved   sync.Map // result_id → kiosk id, from "result saved" lines
	maxRSS  atomic.Int64
	ledger  Ledger
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
	defer r.stopAll()
	if err := r.binaries(ctx); err != nil {
		return Ledger{}, err
	}
	if err := r.prepare(); err != nil {
		return Ledger{}, err
	}
	if err := r.startCommand(ctx); err != nil {
		return Ledger{}, err
	}
	r.url = "ws://" + r.addr + "/ws/kiosk"
	if o.Faults {
		p, err := faultproxy.New(r.addr)
		if err != nil {
			return Ledger{}, err
		}
		p.Seed(o.Seed)
		r.proxy = p
		defer p.Close()
		r.url = "ws://" + p.Addr() + "/ws/kiosk"
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
	fmt.Fprintf(o.Out, "chaos: %d kiosks × %d tests, %d kiosk kills, %d command kills, faults %v, seed %d, data in %s\n",
		o.Kiosks, o.Results, o.KillKiosk, o.KillCommand, o.Faults, o.Seed, dir)

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
	killErr := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); killErr <- r.killKiosks(ctx, expect, opsDone) }()
	go func() { defer wg.Done(); killErr <- r.killCommand(ctx, expect, opsDone) }()
	faultCtx, stopFaults := context.WithCancel(ctx)
	faultsDone := make(chan int, 1)
	if r.proxy != nil {
		go func() {
			faultsDone <- faultproxy.Schedule{MaxHold: o.MaxHold, Seed: o.Seed, Log: func(f faultproxy.Faults) {
				o.Log.Info("faults", "now", f.String())
			}}.Run(faultCtx, r.proxy)
		}()
	} else {
		faultsDone <- 0
	}

	rssCtx, stopRSS := context.WithCancel(ctx)
	defer stopRSS()
	go r.sampleRSS(rssCtx)

	// Wait for every test to be taken by a kiosk and every kill to happen.
	if err := r.waitTests(ctx, opsDone); err != nil {
		stopFaults()
		return r.ledger, err
	}
	wg.Wait()
	for i := 0; i < 2; i++ {
		if err := <-killErr; err != nil {
			stopFaults()
			return r.ledger, err
		}
	}
	stopFaults()
	r.ledger.FaultSteps = <-faultsDone
	healed := time.Now()
	fmt.Fprintf(o.Out, "chaos: all tests taken after %v; network healed, waiting for the outboxes to drain\n", time.Since(start).Round(time.Millisecond))
	drainErr := r.waitDrained(ctx)
	r.ledger.Drained = time.Since(healed)
	r.stopAll()
	// The books are read even when the outboxes did not drain: what is
	// missing then shows as lost.
	if err := r.books(); err != nil {
		return r.ledger, err
	}
	r.ledger.Elapsed = time.Since(start)
	return r.ledger, drainErr
}

// binaries finds or builds shian-command and shian-kiosk.
func (r *run) binaries(ctx context.Context) error {
	if r.o.CommandBin == "" && r.o.KioskBin == "" {
		if exe, err := os.Executable(); err == nil {
			c, k := filepath.Join(filepath.Dir(exe), "shian-command"), filepath.Join(filepath.Dir(exe), "shian-kiosk")
			if isFile(c) && isFile(k) {
				r.o.CommandBin, r.o.KioskBin = c, k
			}
		}
	}
	build := func(path *string, pkg, name string) error {
		if *path != "" {
			if _, err := os.Stat(*path); err != nil {
				return fmt.Errorf("chaos: %s binary: %w", name, err)
			}
			abs, _ := filepath.Abs(*path)
			*path = abs
			return nil
		}
		*path = filepath.Join(r.dir, "bin", name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", *path, pkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("chaos: go build %s: %v\n%s", pkg, err, out)
		}
		return nil
	}
	if err := build(&r.o.CommandBin, "github.com/shianfood/shian/command/cmd/shian-command", "shian-command"); err != nil {
		return err
	}
	if err := build(&r.o.KioskBin, "github.com/shianfood/shian/kiosk/cmd/shian-kiosk", "shian-kiosk"); err != nil {
		return err
	}
	fmt.Fprintf(r.o.Out, "chaos: binaries %s and %s\n", r.o.CommandBin, r.o.KioskBin)
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// prepare registers the kiosks in a fresh command store and picks the
// command's address.
func (r *run) prepare() error {
	st, err := store.Open(filepath.Join(r.dir, "command"), store.Options{Log: r.o.Log})
	if err != nil {
		return err
	}
	defer st.Close()
	for i := 0; i < r.o.Kiosks; i++ {
		id := fmt.Sprintf("K-CH-%02d", i+1)
		tok, err := st.RegisterKiosk(store.Kiosk{ID: id, Name: fmt.Sprintf("混沌测试终端 %d", i+1)})
		if err != nil {
			return err
		}
		kdir := filepath.Join(r.dir, "kiosks", id)
		if err := os.MkdirAll(kdir, 0o755); err != nil {
			return err
		}
		sim := enzyme.NewSim(enzyme.SimConfig{Mix: enzyme.DefaultMix, Seed: r.o.Seed + uint64(i)})
		fw := enzyme.New(enzyme.Config{Model: "DY-3000E", Serial: fmt.Sprintf("DY3E-CH%04d", i+1),
			Interval: r.o.Measure, Lead: r.o.Measure / 6, Resend: 300 * time.Millisecond,
			History: r.o.Results + 100}, sim, enzyme.SystemClock{})
		r.kiosks = append(r.kiosks, &kiosk{i: i + 1, id: id, token: tok, dir: kdir, fw: fw, sim: sim,
			link: filepath.Join(kdir, "ttyENZ0"), config: filepath.Join(kdir, "kiosk.yaml"), log: filepath.Join(kdir, "kiosk.log")})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.addr = ln.Addr().String()
	ln.Close()
	return nil
}

// proc is a running child process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *proc) wait() { <-p.done }

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
}

func (p *proc) term(d time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
	}
}

func (r *run) startCommand(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(r.dir, "command.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.o.CommandBin, "--data", filepath.Join(r.dir, "command"), "--listen", r.addr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", r.o.CommandBin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	r.cmdMu.Lock()
	r.command = p
	r.cmdMu.Unlock()
	// Ready when /healthz answers.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("chaos: shian-command exited at start (%v); see %s", p.err, filepath.Join(r.dir, "command.log"))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("chaos: shian-command did not become ready in 30 s")
}

func (r *run) startInstrument(ctx context.Context, k *kiosk) error {
	p, err := serialsim.Open(serialsim.Options{Link: k.link})
	if err != nil {
		return fmt.Errorf("chaos: pseudo-terminal for %s: %w", k.id, err)
	}
	served := make(chan struct{})
	go func() { p.Serve(ctx, k.fw); close(served) }()
	k.mu.Lock()
	k.port, k.served = p, served
	k.mu.Unlock()
	return nil
}

// replug gives the tester a new pseudo-terminal at the same path: a kiosk
// killed with SIGKILL leaves TIOCEXCL set on the old one (see
// simulator/serialsim). The firmware keeps its unacknowledged reports.
func (r *run) replug(ctx context.Context, k *kiosk) error {
	k.mu.Lock()
	p, served := k.port, k.served
	k.mu.Unlock()
	p.Close()
	<-served
	return r.startInstrument(ctx, k)
}

func (r *run) writeConfig(k *kiosk) error {
	pong := "60s"
	if r.o.Faults {
		pong = "4s" // notice a black hole in seconds, not a minute
	}
	cfg := fmt.Sprintf(`# Written by shian-sim chaos.
kiosk_id: %s
name: 混沌测试终端 %d
data: %s
command:
  url: %s
  token: %s
  backoff_min: 100ms
  backoff_max: 2s
  pong_wait: %s
operator: op-chaos-%02d
ui:
  listen: 127.0.0.1:0
devices:
  - id: enzyme-1
    protocol: dy-enzyme
    model: DY-3000E
    port: %s
    baud: 9600
    options:
      read_timeout: 20ms
      probe_every: 1s
      backoff_min: 50ms
      backoff_max: 500ms
`, k.id, k.i, filepath.Join(k.dir, "data"), r.url, k.token, pong, k.i, k.link)
	return os.WriteFile(k.config, []byte(cfg), 0o600)
}

var savedLine = regexp.MustCompile(`msg="result saved".* result_id=([0-9a-f-]{36})`)

func (r *run) startKiosk(k *kiosk) error {
	logf, err := os.OpenFile(k.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.o.KioskBin, "--config", k.config, "--log-level", "info")
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", r.o.KioskBin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := savedLine.FindStringSubmatch(line); m != nil {
				r.saved.Store(m[1], k.id)
			}
		}
	}()
	go func() { <-scanned; p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	k.mu.Lock()
	k.proc = p
	k.mu.Unlock()
	return nil
}

func (r *run) intn(n int) int {
	r.rndMu.Lock()
	defer r.rndMu.Unlock()
	return r.rnd.IntN(n)
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

func tag(kiosk, n int) string { return fmt.Sprintf("C%02d-%05d", kiosk, n) }

// killAt returns the moments of n kills spread at random over d.
func (r *run) killAt(n int, d time.Duration) []time.Duration {
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = time.Duration(r.intn(int(d/time.Millisecond)+1)) * time.Millisecond
	}
	sortDurations(at)
	return at
}

func sortDurations(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

func (r *run) killKiosks(ctx context.Context, expect time.Duration, opsDone <-chan struct{}) error {
	start := time.Now()
	for _, at := range r.killAt(r.o.KillKiosk, expect) {
		if wait := time.Until(start.Add(at)); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		k := r.kiosks[r.intn(len(r.kiosks))]
		k.mu.Lock()
		p := k.proc
		k.mu.Unlock()
		p.kill()
		r.o.Log.Info("killed kiosk", "kiosk", k.id)
		if err := r.replug(ctx, k); err != nil {
			return err
		}
		if err := r.startKiosk(k); err != nil {
			return err
		}
		r.ledger.KioskKills++
	}
	return nil
}

func (r *run) killCommand(ctx context.Context, expect time.Duration, opsDone <-chan struct{}) error {
	start := time.Now()
	for _, at := range r.killAt(r.o.KillCommand, expect) {
		if wait := time.Until(start.Add(at)); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		r.cmdMu.Lock()
		p := r.command
		r.cmdMu.Unlock()
		p.kill()
		r.o.Log.Info("killed the command")
		if err := r.startCommand(ctx); err != nil {
			return err
		}
		r.ledger.CommandKills++
	}
	return nil
}

// sampleRSS keeps the largest kiosk RSS in the ledger.
func (r *run) sampleRSS(ctx context.Context) {
	for {
		for _, k := range r.kiosks {
			k.mu.Lock()
			p := k.proc
			k.mu.Unlock()
			if p == nil || p.cmd.Process == nil {
				continue
			}
			if rss := rssOf(p.cmd.Process.Pid); rss > r.maxRSS.Load() {
				r.maxRSS.Store(rss)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// rssOf reads VmRSS from /proc (bytes; 0 if unknown).
func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

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

// outboxState reads a kiosk's outbox file (without its lock: the file is
// append-only, and the salvage reader tolerates a write in progress).
func outboxState(path string) (map[string]outbox.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	recs, _ := aofsalvage.Salvage(data)
	out := map[string]outbox.Record{}
	for _, kv := range recs {
		if !strings.HasPrefix(kv.Key, "result:") {
			continue
		}
		var rec outbox.Record
		if err := json.Unmarshal([]byte(kv.Value), &rec); err == nil {
			out[rec.Result.ResultID] = rec
		}
	}
	return out, nil
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

// stopAll stops the kiosks and the command (SIGTERM, then SIGKILL) and
// unplugs the testers.
func (r *run) stopAll() {
	var wg sync.WaitGroup
	for _, k := range r.kiosks {
		k.mu.Lock()
		p, port := k.proc, k.port
		k.mu.Unlock()
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.term(5 * time.Second) }()
		}
		if port != nil {
			defer port.Close()
		}
	}
	wg.Wait()
	r.cmdMu.Lock()
	p := r.command
	r.cmdMu.Unlock()
	if p != nil {
		p.term(10 * time.Second)
	}
}

// books reads the outboxes and the command's result history and store and fills the ledger.
func (r *run) books() error {
	l := &r.ledger
	produced := map[string]wire.Result{} // result_id → result
	var problems []string
	for _, k := range r.kiosks {
		recs, err := outboxState(filepath.Join(k.dir, "data", "outbox.db"))
		if err != nil {
			return err
		}
		for id, rec := range recs {
			produced[id] = rec.Result
			if rec.State == outbox.StateRejected {
				problems = append(problems, fmt.Sprintf("%s seq %d (%s) was refused by the command: %+v", k.id, rec.Result.Seq, id, rec.Reject))
			}
		}
	}
	r.saved.Range(func(id, kid any) bool {
		if _, ok := produced[id.(string)]; !ok {
			l.Lost++
			problems = append(problems, fmt.Sprintf("%s logged result %s as saved; it is not in its outbox", kid, id))
		}
		return true
	})
	st, err := store.Open(filepath.Join(r.dir, "command"), store.Options{Log: r.o.Log})
	if err != nil {
		return fmt.Errorf("chaos: open the command's store for the books: %w", err)
	}
	defer st.Close()
	ours := map[string]bool{}
	for _, k := range r.kiosks {
		ours[k.id] = true
	}
	byTag := map[string][]string{}
	stored := map[string]bool{}
	hist, err := history.Open("sqlite:"+filepath.Join(r.dir, "command", "history.db"), history.Options{Log: r.o.Log})
	if err != nil {
		return fmt.Errorf("chaos: open the command's result history for the books: %w", err)
	}
	defer hist.Close()
	err = hist.Each(history.Filter{}, false, func(res *wire.Result) bool {
		if ours[res.KioskID] {
			stored[res.ResultID] = true
			byTag[res.Sample.Name] = append(byTag[res.Sample.Name], res.ResultID)
		}
		return true
	})
	if err != nil {
		return err
	}
	l.Produced, l.Stored = len(produced), len(stored)
	for id, res := range produced {
		if !stored[id] {
			l.Lost++
			problems = append(problems, fmt.Sprintf("%s seq %d (%s, test %s) saved, not stored", res.KioskID, res.Seq, id, res.Sample.Name))
		}
	}
	// Every test the testers finished is stored once.
	for _, k := range r.kiosks {
		for n := 1; n <= int(k.started.Load()); n++ {
			ids := byTag[tag(k.i, n)]
			switch {
			case len(ids) == 0:
				if !anyProduced(produced, tag(k.i, n)) {
					l.Lost++
					problems = append(problems, fmt.Sprintf("%s test %s finished on the tester, never saved", k.id, tag(k.i, n)))
				}
			case len(ids) > 1:
				l.Duplicated += len(ids) - 1
				problems = append(problems, fmt.Sprintf("%s test %s stored %d times: %v", k.id, tag(k.i, n), len(ids), ids))
			}
		}
	}
	for _, k := range r.kiosks {
		b, err := os.ReadFile(k.log)
		if err != nil {
			return err
		}
		l.Repeats += strings.Count(string(b), "result already saved")
		l.Repairs += strings.Count(string(b), "outbox file repaired")
	}
	l.MaxKioskRSS = r.maxRSS.Load()
	l.Alarms = map[string]int{}
	alarms, _ := st.Alarms(100000, false)
	for _, a := range alarms {
		l.Alarms[a.Code]++
	}
	if len(problems) > 20 {
		problems = problems[:20]
	}
	l.Problems = problems
	return nil
}

func anyProduced(produced map[string]wire.Result, tag string) bool {
	for _, r := range produced {
		if r.Sample.Name == tag {
			return true
		}
	}
	return false
}
