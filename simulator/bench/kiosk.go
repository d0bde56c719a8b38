package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/shianfood/shian/kiosk/outbox"
)

// kioskState is the part of shian-kiosk's screen API (GET /api/state)
// the bench reads.
type kioskState struct {
	Link  struct{ Online bool } `json:"link"`
	Queue struct {
		Pending int `json:"pending"`
	} `json:"queue"`
}

func (k *e2eKiosk) state(ctx context.Context) (kioskState, error) {
	k.uiMu.Lock()
	ui := k.ui
	k.uiMu.Unlock()
	var s kioskState
	if ui == "" {
		return s, fmt.Errorf("%s has not printed its screen address yet", k.id)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ui+"/api/state", nil)
	if err != nil {
		return s, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return s, fmt.Errorf("%s /api/state: %s", k.id, resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitKiosk polls the kiosk's screen API until ok(state) or limit.
func (k *e2eKiosk) waitKiosk(ctx context.Context, limit time.Duration, what string, ok func(kioskState) bool) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if k.p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", k.id, k.p.err, k.p.tail())
		}
		s, err := k.state(ctx)
		if err == nil && ok(s) {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: not %s within %v (%v)", k.id, what, limit, last)
}

// kioskPart measures shian-kiosk: memory idle and with a backlog, the
// backlog's drain, and the binary's size for the Pis.
func (b *Bench) kioskPart(ctx context.Context) error {
	hello, err := b.measureHello(ctx)
	if err != nil {
		return fmt.Errorf("baseline server: %w", err)
	}
	t := time.Now()
	if err := b.kioskSizes(ctx); err != nil {
		return err
	}
	b.say("kiosk: cross-built for arm64 and arm in %v", time.Since(t).Round(100*time.Millisecond))
	run, err := b.dir("kiosk")
	if err != nil {
		return err
	}
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		return err
	}
	ids := []string{"Q-IDLE", "Q-BACKLOG"}
	prep, err := prepare(sqlite, run, ids, 0, enc, time.Now())
	if err != nil {
		return err
	}
	c := &command{b: b, bk: sqlite, run: run, tokens: prep.tokens, api: prep.api}
	if err := b.startCommand(ctx, c); err != nil {
		return err
	}
	defer c.stop()
	url := "ws://" + c.addr + "/ws/kiosk"
	backoff := "  backoff_min: 100ms\n  backoff_max: 1s\n"
	st := &stamps{at: map[string]time.Time{}}

	// Idle: connected, an idle tester on its pty.
	idle, err := b.startE2EKiosk(ctx, run, "Q-IDLE", c.tokens["Q-IDLE"], url, 0, st, backoff)
	if err != nil {
		return err
	}
	err = idle.waitKiosk(ctx, 30*time.Second, "online", func(s kioskState) bool { return s.Link.Online })
	time.Sleep(b.sz.Settle)
	idleRSS := rss(idle.p.pid())
	idle.stop()
	if err != nil {
		return err
	}
	b.rep.add(Row{Part: "kiosk", Measure: "shian-kiosk RSS idle (connected, one tester)", Value: mb(idleRSS),
		Baseline: mb(hello.RSS) + " minimal Go HTTP server", Ratio: fmt.Sprintf("%.1f×", float64(idleRSS)/float64(hello.RSS)),
		Goal: "< 25 MB", Status: status(float64(idleRSS)/(1<<20), 25, false)})

	// A backlog: the outbox filled while the command is down.
	n := b.sz.Backlog
	kdir := filepath.Join(run, "kiosks", "Q-BACKLOG")
	fillTook, err := fillOutbox(filepath.Join(kdir, "data"), "Q-BACKLOG", n, enc)
	if err != nil {
		return err
	}
	b.say("kiosk: %d results queued in the outbox in %v", n, fillTook.Round(time.Millisecond))
	c.stop()
	bk, err := b.startE2EKiosk(ctx, run, "Q-BACKLOG", c.tokens["Q-BACKLOG"], url, 1, st, backoff)
	if err != nil {
		return err
	}
	defer bk.stop()
	if err := bk.waitKiosk(ctx, 2*time.Minute, "holding its backlog", func(s kioskState) bool { return s.Queue.Pending == n }); err != nil {
		return err
	}
	time.Sleep(b.sz.Settle)
	queuedRSS := rss(bk.p.pid())
	b.rep.add(Row{Part: "kiosk", Measure: fmt.Sprintf("shian-kiosk RSS with %s results queued (command down)", count(n)), Value: mb(queuedRSS),
		Baseline: mb(hello.RSS) + " minimal Go HTTP server", Ratio: fmt.Sprintf("%.1f×", float64(queuedRSS)/float64(hello.RSS)),
		Goal: "< 80 MB at 100 k", Status: goalIf(n == 100_000, float64(queuedRSS)/(1<<20), 80, false)})

	base, err := fsyncBaselineN(run, 64, n)
	if err != nil {
		return err
	}
	c.p = nil
	if err := b.startCommand(ctx, c); err != nil {
		return err
	}
	up := time.Now()
	if err := bk.waitKiosk(ctx, 10*time.Minute, "drained", func(s kioskState) bool { return s.Queue.Pending == 0 }); err != nil {
		return err
	}
	drain := time.Since(up)
	b.rep.add(Row{Part: "kiosk", Measure: fmt.Sprintf("drain %s queued results once the command is back", count(n)), Value: fmt.Sprintf("%.1f s (%s results/s)", drain.Seconds(), num(float64(n)/drain.Seconds())),
		Baseline: fmt.Sprintf("%.2f s to append them in 64-result fsynced batches", base.Seconds()), Ratio: fmt.Sprintf("%.0f×", drain.Seconds()/base.Seconds()),
		Goal: "< 20 s for 100 k", Status: goalIf(n == 100_000, drain.Seconds(), 20, false)})
	b.say("kiosk: idle %s, queued %s, drained %d in %v", mb(idleRSS), mb(queuedRSS), n, drain.Round(time.Millisecond))
	return nil
}

// goalIf is status when the measurement is at the goal's size.
func goalIf(atSize bool, v, goal float64, higher bool) string {
	if !atSize {
		return ""
	}
	return status(v, goal, higher)
}

// fillOutbox saves n results into a kiosk outbox at dir through
// outbox.Save, on tmpfs when the machine has /dev/shm (each Save fsyncs;
// on a disk 100,000 of them take minutes), and moves the file into dir.
func fillOutbox(dir, kioskID string, n int, enc *Encoder) (time.Duration, error) {
	tmp := dir
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "shian-bench-outbox-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(d)
		tmp = d
	}
	t0 := time.Now()
	ob, err := outbox.Open(tmp, outbox.Options{KioskID: kioskID, Log: quiet()})
	if err != nil {
		return 0, err
	}
	at := time.Now().Add(-time.Duration(n) * time.Second)
	for i := range n {
		s := Spec{KioskID: kioskID, Seq: uint64(i + 1), StallID: stallID(i, 2000), Tag: "积压样品", MeasuredAt: at.Add(time.Duration(i) * time.Second)}
		r, err := enc.Result(&s)
		if err != nil {
			ob.Close()
			return 0, err
		}
		r.Seq, r.KioskID, r.BootEpoch = 0, "", 0 // the outbox assigns them
		if _, err := ob.Save(r); err != nil {
			ob.Close()
			return 0, err
		}
	}
	if err := ob.Close(); err != nil {
		return 0, err
	}
	if tmp != dir {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		if err := copyFile(filepath.Join(tmp, "outbox.db"), filepath.Join(dir, "outbox.db")); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// fsyncBaselineN is how long appending n results in batch-result fsynced
// messages takes.
func fsyncBaselineN(dir string, batch, n int) (time.Duration, error) {
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "baseline-n.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	specs := make([]Spec, 0, batch)
	var buf []byte
	at := time.Now()
	t0 := time.Now()
	for i := 0; i < n; i += batch {
		specs = specs[:0]
		for j := i; j < min(n, i+batch); j++ {
			specs = append(specs, Spec{KioskID: "K-BASELINE", Seq: uint64(j + 1), StallID: stallID(j, 2000), Tag: "积压样品", MeasuredAt: at.Add(time.Duration(j) * time.Second)})
		}
		buf = append(enc.AppendMessage(buf[:0], specs), '\n')
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// releaseFlags are the go build flags of make cross and make dist.
var releaseFlags = []string{"-trimpath", "-ldflags", "-s -w"}

// kioskSizes builds shian-kiosk for the Pis as make cross and make dist do
// (-trimpath, -s -w: no symbol table or DWARF) and compares its size with
// the minimal server's built the same way for the same target.
func (b *Bench) kioskSizes(ctx context.Context) error {
	for _, t := range []struct{ name, arch, arm string }{{"linux/arm64", "arm64", ""}, {"linux/arm (GOARM=7)", "arm", "7"}} {
		env := []string{"GOOS=linux", "GOARCH=" + t.arch, "CGO_ENABLED=0"}
		if t.arm != "" {
			env = append(env, "GOARM="+t.arm)
		}
		out := filepath.Join(b.cacheDir(), "shian-kiosk-"+t.arch)
		if err := goBuild(ctx, out, "github.com/shianfood/shian/kiosk/cmd/shian-kiosk", env, releaseFlags...); err != nil {
			return err
		}
		hello, err := b.helloBinary(ctx, "hello-"+t.arch, env, releaseFlags...)
		if err != nil {
			return err
		}
		ks, hs := fileSize(out), fileSize(hello)
		b.rep.add(Row{Part: "kiosk", Measure: "shian-kiosk binary, " + t.name, Value: mb(ks),
			Baseline: mb(hs) + " minimal net/http program", Ratio: fmt.Sprintf("%.1f×", float64(ks)/float64(hs))})
	}
	return nil
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}
