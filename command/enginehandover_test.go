package command_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// movableClock is a wall clock the test can move forward (the services'
// Config.Now): deadlines pass without waiting for them.
type movableClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}
func (c *movableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// TestEngineHandOver: two command services on one PostgreSQL (decision
// 0029). A leads: a kiosk's positive opens an incident there and its
// deadline passes, so A raises the escalation. A stops; B takes the
// engine's lock within seconds, and at the start of its term reloads the
// indexes: a resend of A's result opens nothing, B's first incident takes
// the next number, and the escalation A raised is not raised again while
// the next level and B's own incident's are raised once each.
func TestEngineHandOver(t *testing.T) {
	dsn := pgtest.DSN(t)
	clk := &movableClock{}
	pc := assurance.DefaultConfig()
	pc.Incident.RepeatFirst = assurance.RepeatPolicy{} // dispatch at once: its deadline is the one that passes
	cfg := func(name string) command.Config {
		return command.Config{DataDir: t.TempDir(), DB: dsn, Log: quiet, Instance: name, Now: clk.Now,
			Assure: engine.Config{Tick: 50 * time.Millisecond, Protocol: &pc}}
	}
	a := startCluster(t, cfg("a"))
	aStopped := false
	defer func() {
		if !aStopped {
			a.stop()
		}
	}()
	eventually(t, "A to lead", func() bool { return a.svc.Assure().Running() })
	b := startCluster(t, cfg("b"))
	defer b.stop()
	time.Sleep(300 * time.Millisecond)
	if b.svc.Assure().Running() {
		t.Fatal("B runs the engine while A leads")
	}

	st := a.svc.Store()
	// One patrol team, far away and off duty: the incidents stay warned
	// and their dispatch deadline passes.
	st.Put("site", "S-001", store.Site{ID: "S-001", Kind: "stall", Name: "张记蔬菜", Loc: []float64{stallLoc.Lon, stallLoc.Lat}})
	kioskTok, err := st.RegisterKiosk(store.Kiosk{ID: "K-1", SiteID: "S-001", Loc: []float64{stallLoc.Lon, stallLoc.Lat}})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-1", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	notices := make(chan wire.Notice, 16)
	link := func(c *clusterSvc) (stop func()) {
		up, err := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(c.srv.URL, "http") + "/ws/kiosk", KioskID: "K-1", Token: kioskTok,
			Source: ob, Log: quiet, BackoffMin: 10 * time.Millisecond, OnNotice: func(n wire.Notice) { notices <- n }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { up.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	notice := func(what string) wire.Notice {
		t.Helper()
		select {
		case n := <-notices:
			return n
		case <-time.After(15 * time.Second):
			t.Fatalf("no incident notice for %s", what)
		}
		return wire.Notice{}
	}
	mAU := measure.MilliAU
	overdue := func() map[string]int {
		t.Helper()
		as, err := b.svc.Store().Alarms(1000, false)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, x := range as {
			if x.Code == "incident_overdue" {
				out[fmt.Sprintf("%s/%d", x.IncidentID, x.Level)]++
			}
		}
		return out
	}

	stop := link(a)
	p1, err := ob.Save(enzymeResult("S-001", 303*mAU, 131*mAU))
	if err != nil {
		t.Fatal(err)
	}
	n1 := notice("the first positive, on A")
	stop()
	if n1.ResultID != p1.ResultID {
		t.Fatalf("notice for %s, want %s", n1.ResultID, p1.ResultID)
	}
	clk.Add(6 * time.Minute) // past the dispatch deadline (5 min): level 1
	eventually(t, "A to raise the escalation", func() bool { return overdue()[n1.IncidentNo+"/1"] == 1 })

	// A stops; B takes over.
	stopped := time.Now()
	a.stop()
	aStopped = true
	eventually(t, "B to lead", func() bool { return b.svc.Assure().Running() })
	took := time.Since(stopped)
	t.Logf("B leads %v after A stopped", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("hand-over took %v", took)
	}

	// The kiosk's resend of p1 reaches B's engine (as a duplicate the
	// history recognised); a new positive comes through B.
	stored, err := b.svc.History().Result(p1.ResultID)
	if err != nil {
		t.Fatal(err)
	}
	b.svc.Assure().OnCommitted([]history.Committed{{Result: stored, Outcome: history.Duplicate}})
	stop = link(b)
	p2, err := ob.Save(enzymeResult("S-001", 303*mAU, 120*mAU))
	if err != nil {
		t.Fatal(err)
	}
	n2 := notice("the second positive, on B")
	stop()
	if n2.ResultID != p2.ResultID {
		t.Fatalf("notice for %s, want %s (p1 again?)", n2.ResultID, p2.ResultID)
	}
	if n2.IncidentNo == n1.IncidentNo || !strings.HasPrefix(n2.IncidentNo, n1.IncidentNo[:len(n1.IncidentNo)-4]) {
		t.Fatalf("B's first incident %s after A's %s", n2.IncidentNo, n1.IncidentNo)
	}
	time.Sleep(300 * time.Millisecond) // B ticks a few times
	if got := overdue(); got[n1.IncidentNo+"/1"] != 1 || len(got) != 1 {
		t.Fatalf("escalations after the hand-over: %v, want A's one only", got)
	}
	clk.Add(6 * time.Minute) // p1 two periods late, p2 one
	eventually(t, "B's escalations", func() bool { g := overdue(); return g[n1.IncidentNo+"/2"] == 1 && g[n2.IncidentNo+"/1"] == 1 })
	time.Sleep(300 * time.Millisecond)
	if got := overdue(); len(got) != 3 || got[n1.IncidentNo+"/1"] != 1 || got[n1.IncidentNo+"/2"] != 1 || got[n2.IncidentNo+"/1"] != 1 {
		t.Fatalf("escalations: %v, want each of three once", got)
	}
	per := map[string][]string{}
	err = store.List(b.svc.Store(), "incident", func(id string, inc engine.Incident) bool {
		per[inc.Trigger.ResultID] = append(per[inc.Trigger.ResultID], id)
		return true
	})
	if err != nil || len(per) != 2 || len(per[p1.ResultID]) != 1 || len(per[p2.ResultID]) != 1 {
		t.Fatalf("incidents by result: %v (%v)", per, err)
	}
	if n := b.svc.Assure().OpenByState()[assurance.IncidentWarned]; n != 2 {
		t.Errorf("B's index: %d warned incidents, want 2", n)
	}
}
