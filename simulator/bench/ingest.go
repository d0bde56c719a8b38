package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// benchEvent is the event every bench result belongs to.
const benchEvent = "EV-BENCH"

// command is one shian-command process on a run directory.
type command struct {
	b      *Bench
	bk     backend // the result history it runs on
	run    string
	data   string // --data when not the run's (a cluster instance)
	addr   string
	pprof  string
	p      *proc
	ready  time.Duration // exec → /healthz
	tokens map[string]string
	api    string
}

// startCommand starts shian-command on run (set up beforehand) and waits
// for /healthz.
func (b *Bench) startCommand(ctx context.Context, c *command) error {
	if c.addr == "" {
		a, err := b.ports.addr()
		if err != nil {
			return err
		}
		c.addr = a
	}
	args := c.bk.commandArgs(c.run)
	if c.data != "" { // an instance of a cluster: its own data directory
		args = []string{"--data", c.data, "--db", c.bk.spec(c.run)}
	}
	args = append(args, "--listen", c.addr, "--log-level", "warn")
	if b.o.Profile != "" && c.pprof == "" {
		a, err := b.ports.addr()
		if err != nil {
			return err
		}
		c.pprof = a
	}
	if c.pprof != "" {
		args = append(args, "--pprof", c.pprof)
	}
	t0 := time.Now()
	p, err := start("shian-command", b.bins.Command, args, filepath.Join(c.run, "command.log"), nil, nil)
	if err != nil {
		return err
	}
	c.p = p
	c.ready, err = waitHealthy(ctx, p, c.addr, t0, 10*time.Minute)
	if err != nil {
		p.stop(5 * time.Second)
	}
	return err
}

func (c *command) stop() {
	if c.p != nil {
		c.p.stop(30 * time.Second)
	}
}

// ingestFigure is one measured ingest window.
type ingestFigure struct {
	PerS      float64 // results acknowledged per second
	CmdCores  float64 // the command's CPU ÷ wall time
	LoadCores float64 // the load kiosks' (this process's) CPU ÷ wall time
	RSS       int64   // the command's, at the end of the window
	Acked     int64
	FirstAck  time.Duration // from the links' start to the first ack
}

// measureIngest drives n fresh load kiosks against c for window (after a
// warm-up of a quarter of it, at least a second).
func (b *Bench) measureIngest(ctx context.Context, c *command, ids []string, window time.Duration, profile string) (ingestFigure, error) {
	return b.measureIngestOn(ctx, []*command{c}, ids, window, profile)
}

// measureIngestOn drives fresh load kiosks spread round robin over the
// instances cs (one database in cluster mode) for window; the figure is
// their sum (the first instance's profile when profile is set).
func (b *Bench) measureIngestOn(ctx context.Context, cs []*command, ids []string, window time.Duration, profile string) (ingestFigure, error) {
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		return ingestFigure{}, err
	}
	runs := make([]*loadRun, len(cs))
	for i, c := range cs {
		runs[i] = &loadRun{URL: "ws://" + c.addr + "/ws/kiosk", Batch: 64, Enc: enc, Stalls: 2000, StartAt: time.Now()}
	}
	for i, id := range ids {
		lr := runs[i%len(cs)]
		lr.Kiosks = append(lr.Kiosks, loadKiosk{ID: id, Token: cs[i%len(cs)].tokens[id]})
	}
	var links []*loadLink
	for _, lr := range runs {
		ls, err := lr.connect(ctx)
		if err != nil {
			return ingestFigure{}, err
		}
		links = append(links, ls...)
	}
	sum := func(f func(*loadRun) int64) int64 {
		var n int64
		for _, lr := range runs {
			n += f(lr)
		}
		return n
	}
	acked := func() int64 { return sum(func(lr *loadRun) int64 { return lr.acked.Load() }) }
	failed := func() int64 { return sum(func(lr *loadRun) int64 { return lr.failed.Load() }) }
	// Every instance has acknowledged something.
	allAcked := func() bool {
		for _, lr := range runs {
			if lr.acked.Load() == 0 {
				return false
			}
		}
		return true
	}
	cmdCPU := func() time.Duration {
		var d time.Duration
		for _, c := range cs {
			d += cpuTime(c.p.pid())
		}
		return d
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Add(1)
		go func() { defer wg.Done(); l.run(runCtx) }()
	}
	defer func() { stop(); wg.Wait() }()
	// Warm up: until the first acknowledgements (1,000 links start with
	// 256,000 results in flight), then a quarter of the window.
	t := time.Now()
	for !allAcked() && failed() == 0 && time.Since(t) < 2*time.Minute {
		select {
		case <-ctx.Done():
			return ingestFigure{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	firstAck := time.Since(t)
	if !allAcked() && failed() == 0 {
		return ingestFigure{}, fmt.Errorf("%w within %v of the links' start", errNoAcks, firstAck.Round(time.Second))
	}
	select {
	case <-ctx.Done():
		return ingestFigure{}, ctx.Err()
	case <-time.After(max(b.sz.Settle, window/4)):
	}
	var prof chan error
	if c := cs[0]; profile != "" && c.pprof != "" {
		prof = make(chan error, 1)
		go func() { prof <- fetchProfiles(c.pprof, profile, window) }()
	}
	a0, c0, s0, t0 := acked(), cmdCPU(), selfCPU(), time.Now()
	select {
	case <-ctx.Done():
		return ingestFigure{}, ctx.Err()
	case <-time.After(window):
	}
	a1, c1, s1, t1 := acked(), cmdCPU(), selfCPU(), time.Now()
	f := ingestFigure{Acked: a1 - a0, FirstAck: firstAck}
	for _, c := range cs {
		f.RSS += rss(c.p.pid())
	}
	d := t1.Sub(t0).Seconds()
	f.PerS = float64(a1-a0) / d
	f.CmdCores = (c1 - c0).Seconds() / d
	f.LoadCores = (s1 - s0).Seconds() / d
	if prof != nil {
		if err := <-prof; err != nil {
			b.rep.Notes = append(b.rep.Notes, "profile: "+err.Error())
		}
	}
	for _, lr := range runs {
		if lr.failed.Load() > 0 {
			return f, fmt.Errorf("%d load kiosk links failed; the first: %v", lr.failed.Load(), lr.firstErr)
		}
	}
	return f, nil
}

// fetchProfiles saves a CPU profile over d, then allocation, block and
// mutex profiles and a one-second execution trace from the command's
// pprof listener.
func fetchProfiles(addr, dir string, d time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	get := func(path, file string, timeout time.Duration) error {
		hc := &http.Client{Timeout: timeout}
		resp, err := hc.Get("http://" + addr + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, resp.Body)
		return err
	}
	secs := max(1, int(d.Seconds()))
	errc := make(chan error, 1)
	go func() {
		errc <- get(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), "cpu.pprof", d+30*time.Second)
	}()
	time.Sleep(d / 2)
	if err := get("/debug/pprof/goroutine?debug=2", "goroutines.txt", 30*time.Second); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if err := get("/debug/pprof/allocs", "allocs.pprof", 30*time.Second); err != nil {
		return err
	}
	// Where the command waited (channels, selects, the database's locks)
	// and which mutexes were contended, since its start: an ingest that
	// is bound by latency, not CPU, shows there. Then a one-second trace.
	if err := get("/debug/pprof/block", "block.pprof", 30*time.Second); err != nil {
		return err
	}
	if err := get("/debug/pprof/mutex", "mutex.pprof", 30*time.Second); err != nil {
		return err
	}
	return get("/debug/pprof/trace?seconds=1", "trace.out", 30*time.Second)
}

// fsyncBaseline appends the messages a load kiosk would send, batch
// results each, to a file in dir and fsyncs after each, for d; it returns
// results per second.
func fsyncBaseline(dir string, batch int, d time.Duration) (float64, error) {
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "baseline.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	specs := make([]Spec, batch)
	var buf []byte
	n, seq, at := 0, uint64(0), time.Now()
	t0 := time.Now()
	for time.Since(t0) < d {
		for i := range specs {
			seq++
			at = at.Add(time.Millisecond)
			specs[i] = Spec{KioskID: "K-BASELINE", Seq: seq, StallID: stallID(int(seq), 2000), Tag: "菠菜", MeasuredAt: at}
		}
		buf = append(enc.AppendMessage(buf[:0], specs), '\n')
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n += batch
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func kioskIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i+1)
	}
	return ids
}

// ingestPart measures ingest from each IngestKiosks count against a fresh
// command, each next to its own baseline.
func (b *Bench) ingestPart(ctx context.Context) error {
	for _, n := range b.sz.IngestKiosks {
		run, err := b.dir(fmt.Sprintf("ingest-%d", n))
		if err != nil {
			return err
		}
		base, err := fsyncBaseline(run, 64, max(2*time.Second, b.sz.IngestWindow/2))
		if err != nil {
			return err
		}
		ids := kioskIDs(fmt.Sprintf("L%d", n), n)
		enc, err := NewEncoder(benchEvent)
		if err != nil {
			return err
		}
		prep, err := prepare(sqlite, run, ids, 0, enc, time.Now())
		if err != nil {
			return err
		}
		c := &command{b: b, bk: sqlite, run: run, tokens: prep.tokens, api: prep.api}
		if err := b.startCommand(ctx, c); err != nil {
			return err
		}
		profile := ""
		if b.o.Profile != "" {
			profile = filepath.Join(b.o.Profile, fmt.Sprintf("ingest-%d", n))
		}
		f, err := b.measureIngest(ctx, c, ids, b.sz.IngestWindow, profile)
		c.stop()
		if err != nil {
			return fmt.Errorf("ingest from %d kiosks: %w", n, err)
		}
		ratio := f.PerS / base
		row := Row{Part: "ingest", Measure: fmt.Sprintf("%d kiosks, 64/message, acked after fsync", n),
			Value: fmt.Sprintf("%s results/s (cmd %.2f cores: %s results per CPU-second; load kiosks %.2f cores)",
				num(f.PerS), f.CmdCores, num(f.PerS/max(f.CmdCores, 0.01)), f.LoadCores),
			Baseline: fmt.Sprintf("%s results/s fsynced append, 64/fsync", num(base)), Ratio: fmt.Sprintf("%.2f×", ratio)}
		if n == 100 {
			row.Goal, row.Status = "≥ 0.5×, both cores", status(ratio, 0.5, true)
			b.rep.IngestPerS, b.rep.IngestRatio = f.PerS, ratio
		}
		b.rep.add(row)
		b.say("ingest %d kiosks: %.0f results/s, baseline %.0f (%.2f×), command %.2f cores (%.0f results per CPU-second), first ack after %v",
			n, f.PerS, base, ratio, f.CmdCores, f.PerS/max(f.CmdCores, 0.01), f.FirstAck.Round(time.Millisecond))
	}
	return nil
}

// num formats a rate with thousands separators.
func num(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// percentile returns the p-th percentile (0–100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1 // nearest rank
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
