package chaos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/kiosk/outbox"
)

func (r *run) intn(n int) int {
	r.rndMu.Lock()
	defer r.rndMu.Unlock()
	return r.rnd.IntN(n)
}

// killAt returns the moments of n kills spread at random over d.
func (r *run) killAt(n int, d time.Duration) []time.Duration {
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = time.Duration(r.intn(int(d/time.Millisecond)+1)) * time.Millisecond
	}
	sortDurations(at)
	return at
}

// waitMoment waits for the moment at of a run of the tests expected to
// take expect from start. In cluster mode the moment is the share at/expect
// of the tests started rather than a time: the testers are often faster
// than expected, and a kill or a database restart after the last test
// would find no traffic to disturb.
func (r *run) waitMoment(ctx context.Context, start time.Time, at, expect time.Duration) error {
	if r.o.Cluster == 0 {
		if wait := time.Until(start.Add(at)); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		return nil
	}
	want := int64(float64(r.o.Kiosks*r.o.Results) * float64(at) / float64(max(expect, 1)))
	for {
		var n int64
		for _, k := range r.kiosks {
			n += k.started.Load()
		}
		if n >= want || n >= int64(r.o.Kiosks*r.o.Results) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
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
	ats := r.killAt(r.o.KillKiosk, expect)
	for i := 0; i < len(ats); i++ {
		if err := r.waitMoment(ctx, start, ats[i], expect); err != nil {
			return err
		}
		k := r.kiosks[r.intn(len(r.kiosks))]
		if err := r.killKiosk(ctx, k); err != nil {
			return err
		}
		// With power cuts, now and then the next cut comes while the
		// kiosk starts again: while it checks, salvages or compacts its
		// outbox (internal/durable), the riskiest moments for a file.
		if r.o.Disks != nil && i+1 < len(ats) && r.intn(2) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(r.intn(400)) * time.Millisecond):
			}
			if err := r.killKiosk(ctx, k); err != nil {
				return err
			}
			i++
			r.ledger.CutsAtStart++
		}
	}
	return nil
}

// killKiosk SIGKILLs a kiosk (and cuts its power, with Disks) and starts
// it again.
func (r *run) killKiosk(ctx context.Context, k *kiosk) error {
	k.mu.Lock()
	p := k.proc
	k.mu.Unlock()
	p.kill()
	r.o.Log.Info("killed kiosk", "kiosk", k.id)
	if r.o.Disks != nil {
		if err := r.o.Disks.Cut(filepath.Join(k.dir, "data")); err != nil {
			return err
		}
		r.o.Log.Info("cut the kiosk's power", "kiosk", k.id)
	}
	if err := r.replug(ctx, k); err != nil {
		return err
	}
	if err := r.startKiosk(k); err != nil {
		return err
	}
	r.ledger.KioskKills++
	return nil
}

// killCommand SIGKILLs the command (in cluster mode an instance: the
// leader at the first and every other kill, else one at random) and
// starts it again, KillCommand times.
func (r *run) killCommand(ctx context.Context, expect time.Duration, opsDone <-chan struct{}) error {
	start := time.Now()
	for i, at := range r.killAt(r.o.KillCommand, expect) {
		if err := r.waitMoment(ctx, start, at, expect); err != nil {
			return err
		}
		if r.o.Cluster > 0 {
			if err := r.killInstance(ctx, i%2 == 0); err != nil {
				return err
			}
			continue
		}
		in := r.insts[0]
		in.running().kill()
		r.o.Log.Info("killed the command")
		if r.o.Disks != nil {
			if err := r.o.Disks.Cut(in.dir); err != nil {
				return err
			}
			if err := r.checkAcked(); err != nil {
				return err
			}
		}
		if err := r.startInstance(ctx, in); err != nil {
			return err
		}
		r.ledger.CommandKills++
	}
	return nil
}

// checkAcked runs after a power cut of the command, before it restarts:
// every result a kiosk holds as acknowledged must be in the history as
// the cut left it. (Once the command is back, the kiosks send what it
// lacks again, so the final books alone would not see such a loss.)
func (r *run) checkAcked() error {
	acked := map[string]string{}
	for _, k := range r.kiosks {
		recs, err := outboxState(filepath.Join(k.dir, "data", "outbox.db"))
		if err != nil {
			return err
		}
		for id, rec := range recs {
			if rec.State == outbox.StateAcked {
				acked[id] = fmt.Sprintf("%s seq %d (%s)", k.id, rec.Result.Seq, id)
			}
		}
	}
	h, done, err := r.historyCopy()
	if err != nil {
		return fmt.Errorf("chaos: open the command's history after a power cut: %w", err)
	}
	defer done()
	lost := 0
	for _, id := range sortedKeys(acked) {
		if _, err := h.Result(id); err != nil {
			lost++
			r.addProblem(fmt.Sprintf("power cut %d of the command lost %s, which it had acknowledged: %v", r.ledger.CommandKills+1, acked[id], err))
		}
	}
	r.ledgerMu.Lock()
	r.ledger.AckedChecked += len(acked)
	r.ledger.AckedLost += lost
	r.ledgerMu.Unlock()
	r.o.Log.Info("cut the command's power", "acked_on_kiosks", len(acked), "lost", lost)
	return nil
}

// historyCopy opens a copy of the command's history as its files are now
// (the database and its WAL; the -shm index is rebuilt), made while the
// command is stopped. The run never opens the command's own files: that
// would recover the WAL, checkpoint it and delete it on close before the
// command does — and on LazyFS a -shm file deleted and created again under
// the same name cannot be truncated (SQLITE_IOERR_SHMOPEN at the next open).
func (r *run) historyCopy() (history.History, func(), error) {
	tmp, err := os.MkdirTemp("", "shian-history-")
	if err != nil {
		return nil, nil, err
	}
	for _, f := range []string{"history.db", "history.db-wal"} {
		b, err := os.ReadFile(filepath.Join(r.insts[0].dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, f), b, 0o600)
		}
		if err != nil {
			os.RemoveAll(tmp)
			return nil, nil, err
		}
	}
	h, err := history.Open("sqlite:"+filepath.Join(tmp, "history.db"), history.Options{Log: r.o.Log})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return h, func() { h.Close(); os.RemoveAll(tmp) }, nil
}
