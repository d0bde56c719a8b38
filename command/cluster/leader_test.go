package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/pgtest"
)

// Two Leaders on one database: exactly one runs fn; its backend
// terminated, the other takes over. The hand-over time is logged (it is
// a measurement, not asserted beyond the test's deadline).
func TestLeaderOneAtATimeAndTakeover(t *testing.T) {
	dsn := pgtest.DSN(t)
	var running atomic.Int32
	var mu sync.Mutex
	var over []string // who started, in order
	// At a hand-over after a lost connection the old leader may run on
	// for up to one Check while the new one starts (the package doc):
	// only before that must there never be two.
	var handover atomic.Bool
	mk := func(name string) (*Leader, func()) {
		l := NewLeader(named(dsn, "leader_"+name), EngineLock, LeaderOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.Run(ctx, func(ctx context.Context) {
				if n := running.Add(1); n != 1 && !handover.Load() {
					t.Errorf("%d leaders running at once", n)
				}
				mu.Lock()
				over = append(over, name)
				mu.Unlock()
				<-ctx.Done()
				running.Add(-1)
			})
		}()
		return l, func() { cancel(); <-done }
	}
	a, stopA := mk("a")
	defer stopA()
	waitFor(t, "a to lead", a.Leading)
	b, stopB := mk("b")
	defer stopB()
	time.Sleep(5 * time.Second) // b tries the lock twice meanwhile
	if b.Leading() || b.terms.Load() != 0 {
		t.Fatal("b leads while a holds the lock")
	}
	handover.Store(true)
	stoppedAt := time.Now()
	if n := terminate(t, dsn, "leader_a"); n != 1 {
		t.Fatalf("terminated %d backends of a", n)
	}
	waitFor(t, "b to lead", b.Leading)
	took := time.Since(stoppedAt)
	waitFor(t, "a to stop", func() bool { return !a.Leading() })
	mu.Lock()
	defer mu.Unlock()
	if len(over) != 2 || over[0] != "a" || over[1] != "b" {
		t.Fatalf("terms %v, want [a b]", over)
	}
	t.Logf("failover: b leads %v after a's backend was terminated (check 1 s, retry 2 s)", took.Round(10*time.Millisecond))
	// a comes back as a follower: it does not take the lock from b.
	time.Sleep(3 * time.Second)
	if a.Leading() || !b.Leading() {
		t.Fatalf("after the takeover: a leading %v, b leading %v", a.Leading(), b.Leading())
	}
}
