package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shianfood/shian/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// named gives the connections made with dsn an application_name, so that
// a test can find and terminate them.
func named(dsn, name string) string { return dsn + "&application_name=" + name }

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate ends the backends of application name app; it returns how many.
func terminate(t *testing.T, dsn, app string) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type recorder struct {
	mu   sync.Mutex
	ids  []string
	gaps int
}

func (r *recorder) got(ids []string) { r.mu.Lock(); r.ids = append(r.ids, ids...); r.mu.Unlock() }
func (r *recorder) gap()             { r.mu.Lock(); r.gaps++; r.mu.Unlock() }
func (r *recorder) snapshot() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids), r.gaps
}

func runBus(t *testing.T, b *Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the listener", b.Listening)
}

// Two Buses on one database: what A publishes reaches B, split into
// notices under the payload limit and in order; A skips its own.
func TestBusDeliversAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := NewBus(dsn, BusOptions{Instance: "a"})
	b := NewBus(dsn, BusOptions{Instance: "b"})
	var ra, rb recorder
	for _, x := range []struct {
		bus *Bus
		r   *recorder
	}{{a, &ra}, {b, &rb}} {
		if err := x.bus.Subscribe("results", x.r.got); err != nil {
			t.Fatal(err)
		}
		x.bus.OnGap(x.r.gap)
	}
	runBus(t, a)
	runBus(t, b)
	var ids []string
	for i := range 1000 { // ~40 kB of ids: several notices
		ids = append(ids, fmt.Sprintf("result-%06d-0123456789abcdef0123", i))
	}
	if err := a.Publish(context.Background(), "results", ids); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to receive every id", func() bool { got, _ := rb.snapshot(); return len(got) >= len(ids) })
	got, gaps := rb.snapshot()
	if !slices.Equal(got, ids) {
		t.Fatalf("B received %d ids, not the %d published in order", len(got), len(ids))
	}
	if gaps != 0 {
		t.Fatalf("B reported %d gaps without losing its connection", gaps)
	}
	// A's own notices came back to it and were skipped; B's reach A.
	if err := b.Publish(context.Background(), "results", []string{"from-b"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A to receive B's id", func() bool { got, _ := ra.snapshot(); return len(got) > 0 })
	if got, _ := ra.snapshot(); !slices.Equal(got, []string{"from-b"}) {
		t.Fatalf("A received %v, want only [from-b] (its own notices skipped)", got)
	}
	if err := a.Publish(context.Background(), "Bad Topic", ids[:1]); err == nil {
		t.Fatal("a topic that is not a channel name was accepted")
	}
}

// The listener's backend is terminated: it reconnects, the gap handler
// fires, and notices flow again.
func TestBusReconnectsAndReportsTheGap(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := NewBus(dsn, BusOptions{Instance: "a"})
	b := NewBus(named(dsn, "bus_b"), BusOptions{Instance: "b"})
	var rb recorder
	b.Subscribe("results", rb.got)
	b.OnGap(rb.gap)
	runBus(t, b)
	if n := terminate(t, dsn, "bus_b"); n != 1 {
		t.Fatalf("terminated %d backends of B, want its listener only", n)
	}
	waitFor(t, "the gap handler", func() bool { _, g := rb.snapshot(); return g == 1 })
	waitFor(t, "the listener again", b.Listening)
	if err := a.Publish(context.Background(), "results", []string{"after-gap"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the notice after the gap", func() bool { got, _ := rb.snapshot(); return len(got) == 1 })
	if b.conns.Load() != 2 {
		t.Fatalf("listener connected %d times, want 2", b.conns.Load())
	}
	// The publisher's own connection, terminated, is reopened by Publish.
	pub := NewBus(named(dsn, "bus_pub"), BusOptions{Instance: "p"})
	if err := pub.Publish(context.Background(), "results", []string{"p1"}); err != nil {
		t.Fatal(err)
	}
	terminate(t, dsn, "bus_pub")
	if err := pub.Publish(context.Background(), "results", []string{"p2"}); err != nil {
		t.Fatalf("publish after the connection was terminated: %v", err)
	}
	waitFor(t, "both of the publisher's notices", func() bool { got, _ := rb.snapshot(); return len(got) == 3 })
	pub.pub.Close(context.Background())
}
