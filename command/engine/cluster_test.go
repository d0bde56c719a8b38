package engine_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// TestMain stops internal/pgtest's PostgreSQL server once the tests are
// done (it is started only by a test that asks for a database).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// twoEngines returns two engines on one database, as two instances of a
// cluster have them (decision 0029): on "postgres" each with its own
// store and history connections to one database of pgtest's server; on
// "buntdb" both on the same store and history (one process, the
// single-instance backend: the same transactions decide). They share a
// clock; each has its own recorder.
func twoEngines(t *testing.T, backend string, cfg ...engine.Config) (a, b *fixture) {
	t.Helper()
	var c engine.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	clk := &clock{t: t0}
	a = &fixture{clk: clk, rec: &recorder{}, dir: t.TempDir()}
	if backend == "postgres" {
		a.dsn = pgtest.DSN(t)
		a.open(t, c)
		b = &fixture{clk: clk, rec: &recorder{}, dir: t.TempDir(), dsn: a.dsn}
		b.open(t, c)
		return a, b
	}
	if os.Getenv("SHIAN_TEST_DB") == "postgres" {
		t.Skip("the buntdb variant; SHIAN_TEST_DB=postgres runs the postgres one")
	}
	a.open(t, c)
	b = &fixture{clk: clk, rec: &recorder{}, dir: a.dir, st: a.st, h: a.h}
	pc := a.e.Protocol()
	e, err := engine.New(engine.Deps{Store: a.st, Results: a.h, DataDir: a.dir, Now: clk.Now, Log: quiet,
		Publish: b.rec.Publish, Notify: b.rec.Notify}, engine.Config{Protocol: &pc})
	if err != nil {
		t.Fatal(err)
	}
	b.e = e
	return a, b
}

var backends = []string{"buntdb", "postgres"}

// incidentsByResult returns every stored incident grouped by the result
// that opened it.
func incidentsByResult(t *testing.T, st *store.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := store.List(st, "incident", func(id string, inc engine.Incident) bool {
		out[inc.Trigger.ResultID] = append(out[inc.Trigger.ResultID], id)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func storedAlarms(t *testing.T, st *store.Store, code string) []store.Alarm {
	t.Helper()
	all, err := st.Alarms(10000, false)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(a store.Alarm) bool { return a.Code != code })
}

// TestEngineTakeOver: engine A opens incidents and stops; engine B, whose
// indexes were built before A opened them, takes over. A resend of A's
// result opens nothing new, B's first new incident takes the next number
// (not A's first one again), after Reload B finds the cluster A's
// positives and its own make, and the escalations of the incidents are
// raised once each although both engines tick with indexes that
// disagree (A's loop still running, as an old leader's does for up to a
// check after it lost the lock).
func TestEngineTakeOver(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			a, b := twoEngines(t, backend)
			a.site(t, "S-1", "stall", at(0, 0), "B")
			r1, r2 := positive("S-1", "x"), positive("S-1", "x")
			a.e.Process(a.commit(t, r1, r2))
			i1, i2 := a.incidentOf(t, r1.ResultID), a.incidentOf(t, r2.ResultID)
			if i1.ID != "INC-20260501-0001" || i2.ID != "INC-20260501-0002" {
				t.Fatalf("A opened %s and %s", i1.ID, i2.ID)
			}

			// B, indexes as old as its start: the kiosk resends r1 to it,
			// and sends a new result.
			r3 := positive("S-1", "y")
			b.e.Process([]history.Committed{{Result: r1, Outcome: history.Stored}})
			b.e.Process(b.commit(t, r3))
			byResult := incidentsByResult(t, b.st)
			if got := byResult[r1.ResultID]; len(got) != 1 || got[0] != i1.ID {
				t.Fatalf("r1's incidents after B had its resend: %v, want [%s]", got, i1.ID)
			}
			if got := byResult[r3.ResultID]; len(got) != 1 || got[0] != "INC-20260501-0003" {
				t.Fatalf("r3's incident: %v, want [INC-20260501-0003] (the next number, not one of A's again)", got)
			}
			if n := len(storedAlarms(t, b.st, "incident_warned")); n != 3 {
				t.Errorf("%d incident_warned alarms stored, want 3", n)
			}

			// B's term starts: Reload, then a fourth positive of r1's
			// analyte makes a cluster with A's two.
			if err := b.e.Reload(); err != nil {
				t.Fatal(err)
			}
			if n := b.e.OpenByState()[assurance.IncidentWarned]; n != 3 {
				t.Fatalf("B's index after Reload: %d warned, want 3", n)
			}
			r4 := positive("S-1", "x")
			b.e.Process(b.commit(t, r4))
			a.e.Process([]history.Committed{{Result: r4, Outcome: history.Stored}}) // the old leader hears of it too
			if n := len(storedAlarms(t, b.st, "cluster_warning")); n != 1 {
				t.Errorf("%d cluster warnings stored, want 1", n)
			}
			if got := incidentsByResult(t, b.st)[r4.ResultID]; len(got) != 1 || got[0] != "INC-20260501-0004" {
				t.Fatalf("r4's incidents: %v", got)
			}

			// Deadlines pass: both engines tick, A with the index of its
			// own two incidents, B with all four.
			a.clk.Add(6 * time.Minute)
			for range 3 {
				a.e.Tick()
				b.e.Tick()
			}
			over := storedAlarms(t, b.st, "incident_overdue")
			per := map[string]int{}
			for _, x := range over {
				per[fmt.Sprintf("%s level %d", x.IncidentID, x.Level)]++
			}
			if len(over) != 4 || len(per) != 4 {
				t.Fatalf("escalations stored: %v, want each of the 4 incidents once at level 1", per)
			}
			for _, id := range []string{"INC-20260501-0001", "INC-20260501-0002", "INC-20260501-0003", "INC-20260501-0004"} {
				inc, err := b.e.Incident(id)
				if err != nil {
					t.Fatal(err)
				}
				if len(inc.Escalations) != 1 || inc.Escalations[0].AlarmSeq == 0 {
					t.Errorf("%s marks %+v, want one with its alarm", id, inc.Escalations)
				}
			}
			published := len(a.rec.alarms("incident_overdue")) + len(b.rec.alarms("incident_overdue"))
			if published != 4 {
				t.Errorf("%d overdue alerts published by the two engines, want 4", published)
			}
			t.Logf("%s: 4 incidents, 4 warnings, 1 cluster warning, 4 escalations (A published %d, B %d)",
				backend, len(a.rec.alarms("incident_overdue")), len(b.rec.alarms("incident_overdue")))
		})
	}
}

// TestEnginesRaceOnSameResults: two engines are handed the same results
// at the same time (a zombie leader and the new one, or a resend racing
// Recover), one in order and one backwards, while both tick: exactly one
// incident per result, numbered 1…n without a gap, one warning alarm and
// one credit booking per result, and one escalation per incident.
func TestEnginesRaceOnSameResults(t *testing.T) {
	const n = 24
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			a, b := twoEngines(t, backend)
			var rs []wire.Result
			for i := range n {
				id := fmt.Sprintf("S-%02d", i)
				a.site(t, id, "stall", at(float64(i)*3000, 0), "B") // 3 km apart: no clusters
				rs = append(rs, positive(id, fmt.Sprintf("a%d", i)))
			}
			cs := a.commit(t, rs...)
			back := slices.Clone(cs)
			slices.Reverse(back)
			var wg sync.WaitGroup
			for _, run := range []struct {
				f  *fixture
				cs []history.Committed
			}{{a, cs}, {b, back}, {a, back}, {b, cs}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, c := range run.cs {
						run.f.e.Process([]history.Committed{c})
					}
				}()
			}
			wg.Wait()

			byResult := incidentsByResult(t, a.st)
			var ids []string
			for _, r := range rs {
				got := byResult[r.ResultID]
				if len(got) != 1 {
					t.Errorf("result %s has incidents %v, want one", r.ResultID, got)
				}
				ids = append(ids, got...)
			}
			slices.Sort(ids)
			for i, id := range ids {
				if want := fmt.Sprintf("INC-20260501-%04d", i+1); id != want {
					t.Fatalf("incident numbers %v: #%d is %s, want %s (no gap, no reuse)", ids, i+1, id, want)
				}
			}
			if k := len(storedAlarms(t, a.st, "incident_warned")); k != n {
				t.Errorf("%d incident_warned alarms stored, want %d", k, n)
			}
			for _, r := range rs {
				c, err := a.e.Vendor(r.StallID)
				if err != nil {
					t.Fatal(err)
				}
				k := 0
				for _, l := range c.Ledger {
					if l.Ref == r.ResultID {
						k++
					}
				}
				if k != 1 {
					t.Errorf("%s's credit ledger books result %s %d times", r.StallID, r.ResultID, k)
				}
			}

			a.clk.Add(6 * time.Minute)
			for _, f := range []*fixture{a, b, a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); f.e.Tick() }()
			}
			wg.Wait()
			if k := len(storedAlarms(t, a.st, "incident_overdue")); k != n {
				t.Errorf("%d escalations stored after both engines ticked at once, want %d", k, n)
			}
			t.Logf("%s: %d results handed to 2 engines twice each, concurrently: %d incidents, %d warnings, %d escalations",
				backend, n, len(ids), len(storedAlarms(t, a.st, "incident_warned")), len(storedAlarms(t, a.st, "incident_overdue")))
		})
	}
}

// TestChangedRefreshesTheIndex: an incident engine A opened and moved on
// is in engine B's index once B is told of the change (the store's change
// notice from another instance): the site holds and the state counts.
func TestChangedRefreshesTheIndex(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			a, b := twoEngines(t, backend)
			a.site(t, "S-1", "stall", at(0, 0), "B")
			r := positive("S-1", "x")
			a.e.Process(a.commit(t, r))
			inc := a.incidentOf(t, r.ResultID)
			if b.e.OpenAt("S-1") != nil {
				t.Fatal("B holds the site before it heard of the incident")
			}
			b.e.Changed([]string{"site:S-1", "incident:" + inc.ID})
			if h := b.e.OpenAt("S-1"); h == nil || h.ID != inc.ID {
				t.Fatalf("B's hold on S-1 after the notice: %+v", h)
			}
			if n := b.e.OpenByState()[assurance.IncidentWarned]; n != 1 {
				t.Errorf("B counts %d warned", n)
			}
		})
	}
}

// TestEnginesRaceOnRepeats: the same repeat (复测) handed to two engines
// at once is recorded once and its not-reproduced alarm raised once; a
// wait that runs out while both tick ends once, with one repeat_overdue
// alarm (each stored in the transaction of the decision).
func TestEnginesRaceOnRepeats(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			a, b := twoEngines(t, backend, withRepeatPolicy())
			a.site(t, "S-1", "stall", at(0, 0), "B")
			a.site(t, "S-2", "stall", at(50, 0), "B")
			sus1, sus2 := positive("S-1", "organophosphate_carbamate"), positive("S-2", "organophosphate_carbamate")
			sus1.Verdict, sus1.Value = assay.Suspicious, 42
			sus2.Verdict, sus2.Value = assay.Suspicious, 45
			a.e.Process(a.commit(t, sus1, sus2))
			rep := a.commit(t, repeatOf(sus1, assay.Negative, 12))
			var wg sync.WaitGroup
			for _, f := range []*fixture{a, b, a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); f.e.Process(rep) }()
			}
			wg.Wait()
			inc := a.incidentOf(t, sus1.ResultID)
			if inc.Repeat.State != assurance.RepeatNotReproduced || len(inc.Repeat.Repeats) != 1 {
				t.Fatalf("after the same repeat 4× on 2 engines: %+v", inc.Repeat)
			}
			if n := len(storedAlarms(t, a.st, "repeat_not_reproduced")); n != 1 {
				t.Errorf("%d repeat_not_reproduced alarms stored, want 1", n)
			}
			a.clk.Add(16 * time.Minute)
			if err := b.e.Reload(); err != nil { // B knows the waits too
				t.Fatal(err)
			}
			for _, f := range []*fixture{a, b, a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); f.e.Tick() }()
			}
			wg.Wait()
			if inc := a.incidentOf(t, sus2.ResultID); inc.Repeat.State != assurance.RepeatOverdue {
				t.Fatalf("the wait that ran out: %+v", inc.Repeat)
			}
			if n := len(storedAlarms(t, a.st, "repeat_overdue")); n != 1 {
				t.Errorf("%d repeat_overdue alarms stored, want 1", n)
			}
		})
	}
}

// TestChangedFreesATeam: the leader A sends its only patrol team to a
// temperature breach; the team clears it through instance B's API. Once
// A is told of the change (Changed), A's next incident goes to that team
// — without it A would still count the team busy and leave the new
// incident waiting.
func TestChangedFreesATeam(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			a, b := twoEngines(t, backend)
			a.site(t, "K-01", "kitchen", at(0, 0), "B")
			a.site(t, "S-2", "stall", at(200, 0), "B")
			a.team(t, "T-01", engine.ModePatrol, "", at(5, 5), true)
			hot := wire.Result{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: "K-2", Seq: 1, StallID: "K-01", Method: assay.HotHolding,
				Item: "热藏温度", Analyte: "hot_holding", Value: 52.5, Unit: "°C", Verdict: assay.Fail}
			a.e.Process(a.commit(t, hot))
			inc := a.incidentOf(t, hot.ResultID)
			if inc.TeamID != "T-01" {
				t.Fatalf("the breach went to %q", inc.TeamID)
			}
			if err := b.e.Reload(); err != nil {
				t.Fatal(err)
			}
			insp := assurance.Actor{UserID: "insp-1", Role: assurance.RoleInspector, TeamID: "T-01"}
			for _, to := range []assurance.IncidentState{assurance.IncidentOnSite, assurance.IncidentCleared} {
				if _, err := b.e.Transition(inc.ID, engine.Step{IncidentStep: assurance.IncidentStep{To: to, Act: assurance.Act{Actor: insp, Note: "复测 68 °C"}}}); err != nil {
					t.Fatalf("→ %s on B: %v", to, err)
				}
			}
			a.e.Changed([]string{"incident:" + inc.ID})
			r := positive("S-2", "x")
			a.e.Process(a.commit(t, r))
			if got := a.incidentOf(t, r.ResultID); got.TeamID != "T-01" {
				t.Fatalf("A's next incident went to %q, want T-01 (freed on B)", got.TeamID)
			}
		})
	}
}
