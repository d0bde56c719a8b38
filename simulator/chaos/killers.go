package chaos

import (
	"context"
	"time"
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
