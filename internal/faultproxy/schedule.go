package faultproxy

import (
	"context"
	"math/rand/v2"
	"time"
)

// Schedule is a random fault schedule in the spirit of docs/reliability.md test
// 14: latency 2 s ± 1 s, 1 KB/s, 1-byte fragments, a cut mid-frame, a
// reset, a black hole, half the acks dropped, and a flapping partition,
// each held for a random time up to MaxHold, with healthy gaps between.
type Schedule struct {
	// MaxHold is the longest a fault is held (default 2 s); healthy
	// gaps last up to half of it.
	MaxHold time.Duration
	// Seed makes the schedule repeatable.
	Seed uint64
	// Log, if set, is told every change ("none" when healthy).
	Log func(Faults)
}

// Run applies the schedule to p until ctx ends, then heals p. It returns
// how many faults it applied.
func (s Schedule) Run(ctx context.Context, p *Proxy) int {
	if s.MaxHold <= 0 {
		s.MaxHold = 2 * time.Second
	}
	rnd := rand.New(rand.NewPCG(s.Seed, 0xfa17))
	hold := func(max time.Duration) time.Duration {
		return max/10 + time.Duration(rnd.Int64N(int64(max)))
	}
	menu := []func() Faults{
		func() Faults { return Faults{Latency: 2 * time.Second, Jitter: time.Second} },
		func() Faults { return Faults{Bandwidth: 1024} },
		func() Faults { return Faults{Fragment: 1, FragmentPause: 100 * time.Microsecond} },
		func() Faults { return Faults{LimitBytes: int64(100 + rnd.IntN(8000))} },
		func() Faults { p.Reset(); return Faults{} },
		func() Faults { return Faults{Blackhole: true} },
		func() Faults { return Faults{DropAcks: 0.5} },
		func() Faults { return Faults{Refuse: true} },
		func() Faults { return Faults{DropAcks: 0.5, Fragment: 5, Latency: 50 * time.Millisecond} },
	}
	set := func(f Faults) {
		p.Set(f)
		if s.Log != nil {
			s.Log(f)
		}
	}
	n := 0
	defer func() { set(Faults{}) }()
	for {
		for _, i := range rnd.Perm(len(menu)) {
			if i == len(menu)-2 { // the flapping partition: several short flaps
				for j := rnd.IntN(4); j >= 0; j-- {
					set(Faults{Refuse: true})
					n++
					if !sleepCtx(ctx, hold(s.MaxHold/2)) {
						return n
					}
					set(Faults{})
					if !sleepCtx(ctx, hold(s.MaxHold/4)) {
						return n
					}
				}
				continue
			}
			set(menu[i]())
			n++
			if !sleepCtx(ctx, hold(s.MaxHold)) {
				return n
			}
			set(Faults{})
			if !sleepCtx(ctx, hold(s.MaxHold/2)) {
				return n
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
