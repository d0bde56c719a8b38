package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/tidwall/buntdb"
)

var quiet = slog.New(slog.DiscardHandler)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder collects deltas and kiosk notices.
type recorder struct {
	mu      sync.Mutex
	deltas  []delta
	notices map[string][]wire.Notice
	kiosks  []wire.KioskState
}

type delta struct {
	kind string
	data json.RawMessage
}

func (r *recorder) Publish(kind string, data any) uint64 {
	b, _ := json.Marshal(data)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deltas = append(r.deltas, delta{kind, b})
	return uint64(len(r.deltas))
}

func (r *recorder) Notify(kiosk string, n wire.Notice) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notices == nil {
		r.notices = map[string][]wire.Notice{}
	}
	r.notices[kiosk] = append(r.notices[kiosk], n)
}

func (r *recorder) kinds(kind string) []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []json.RawMessage
	for _, d := range r.deltas {
		if d.kind == kind {
			out = append(out, d.data)
		}
	}
	return out
}

func (r *recorder) alarms(code string) []store.Alarm {
	var out []store.Alarm
	for _, b := range r.kinds(wire.KindAlert) {
		var a store.Alarm
		json.Unmarshal(b, &a)
		if a.Code == code {
			out = append(out, a)
		}
	}
	return out
}

type fixture struct {
	e   *engine.Engine
	st  *store.Store
	h   history.History
	clk *clock
	rec *recorder
	dir string
	// failSync, when set, makes the store's fsync fail (store.Options.Fault).
	failSync atomic.Bool
	// dsn is the fixture's PostgreSQL database (SHIAN_TEST_DB=postgres), or "".
	dsn string
}

var t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, assurance.ChinaStandardTime)

func newFixture(t *testing.T, cfg engine.Config) *fixture {
	t.Helper()
	f := &fixture{clk: &clock{t: t0}, rec: &recorder{}, dir: t.TempDir()}
	f.open(t, cfg)
	return f
}

func (f *fixture) open(t *testing.T, cfg engine.Config) {
	t.Helper()
	if cfg.Protocol == nil {
		// These tests are about dispatch itself: results dispatch at once.
		// The repeat-before-dispatch policy has its own tests (repeat_test.go).
		pc := assurance.DefaultConfig()
		pc.Incident.RepeatFirst = assurance.RepeatPolicy{}
		cfg.Protocol = &pc
	}
	st, h := f.openStores(t)
	e, err := engine.New(engine.Deps{Store: st, Results: h, DataDir: f.dir, Now: f.clk.Now, Log: quiet, Publish: f.rec.Publish, Notify: f.rec.Notify,
		KioskStates: func() []wire.KioskState { f.rec.mu.Lock(); defer f.rec.mu.Unlock(); return f.rec.kiosks }}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.e, f.st, f.h = e, st, h
}

// openStores opens the fixture's store and history: buntdb and SQLite in
// its directory, or, with SHIAN_TEST_DB=postgres, both in one PostgreSQL
// database of internal/pgtest (the fixture's own, kept across reopens),
// as a cluster-mode service has them.
func (f *fixture) openStores(t *testing.T) (*store.Store, history.History) {
	t.Helper()
	if f.dsn == "" && os.Getenv("SHIAN_TEST_DB") == "postgres" {
		f.dsn = pgtest.DSN(t)
	}
	var st *store.Store
	var h history.History
	var err error
	if f.dsn != "" {
		st, err = store.OpenPostgres(context.Background(), f.dsn, store.Options{Now: f.clk.Now, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		h, err = history.Open(f.dsn, history.Options{Now: f.clk.Now, Log: quiet, Cluster: true})
	} else {
		never := buntdb.Never
		st, err = store.Open(f.dir, store.Options{Now: f.clk.Now, Log: quiet, Sync: &never, Fault: func(string) error {
			if f.failSync.Load() {
				return errors.New("input/output error")
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		h, err = history.Open("sqlite:"+filepath.Join(f.dir, "history.db"), history.Options{Now: f.clk.Now, Log: quiet, NoSync: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return st, h
}

// metres east/north of a centre near the Nantong venue.
var centre = orb.Point{120.9390, 31.9890}

func at(x, y float64) assurance.Point {
	lat0 := centre[1] * math.Pi / 180
	return assurance.Point{Lon: centre[0] + x/(geo.EarthRadius*math.Cos(lat0))*180/math.Pi, Lat: centre[1] + y/geo.EarthRadius*180/math.Pi}
}

func (f *fixture) site(t *testing.T, id, kind string, p assurance.Point, grade string) {
	t.Helper()
	if err := f.st.Put("site", id, store.Site{ID: id, Kind: kind, Name: "摊位 " + id, Grade: grade, Loc: []float64{p.Lon, p.Lat}}); err != nil {
		t.Fatal(err)
	}
}

var commander = assurance.Actor{UserID: "cmd-1", Role: assurance.RoleCommander}

func (f *fixture) team(t *testing.T, id, mode, kitchen string, p assurance.Point, onDuty bool) {
	t.Helper()
	if _, err := f.e.PutTeam(engine.Team{ID: id, Name: "保障组 " + id, Mode: mode, KitchenID: kitchen, Home: &p, OnDuty: onDuty}, commander); err != nil {
		t.Fatal(err)
	}
}

func positive(stall, analyte string) wire.Result {
	return wire.Result{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: "K-1", Seq: 1, DeviceID: "enzyme-1", StallID: stall,
		Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药", Analyte: analyte, Value: 56.77, Unit: "%",
		Verdict: assay.Positive, Sample: wire.Sample{Name: "菠菜"}, MeasuredAt: t0}
}

// commit stores results as the ingest would and returns what Commit said.
func (f *fixture) commit(t *testing.T, rs ...wire.Result) []history.Committed {
	t.Helper()
	for i := range rs {
		rs[i].MeasuredAt = f.clk.Now()
	}
	cs, err := f.h.Commit(rs)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (f *fixture) incidentOf(t *testing.T, resultID string) engine.Incident {
	t.Helper()
	incs, err := f.e.Incidents(engine.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var found []engine.Incident
	for _, inc := range incs {
		if inc.Trigger.ResultID == resultID {
			found = append(found, inc)
		}
	}
	if len(found) != 1 {
		t.Fatalf("result %s has %d incidents, want 1", resultID, len(found))
	}
	return found[0]
}

// TestAutoOpenDispatchNotify: a positive opens an incident, assigns the
// nearest available patrol team (not the nearer stationed team, not the
// off-duty one), tells the kiosk, raises a warning, books credit and
// publishes incident, team and alert deltas.
func TestAutoOpenDispatchNotify(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "S-1", "stall", at(0, 0), "B")
	f.team(t, "T-01", engine.ModeStationed, "K-01", at(10, 0), true) // nearest, but stationed elsewhere
	f.team(t, "T-02", engine.ModePatrol, "", at(0, 300), true)
	f.team(t, "T-03", engine.ModePatrol, "", at(0, 100), false) // off duty
	f.team(t, "T-04", engine.ModePatrol, "", at(0, -800), true)

	r := positive("S-1", "organophosphate_carbamate")
	f.e.Process(f.commit(t, r))
	inc := f.incidentOf(t, r.ResultID)
	if inc.State != assurance.IncidentAssigned || inc.TeamID != "T-02" {
		t.Fatalf("state %s team %s, want assigned to T-02", inc.State, inc.TeamID)
	}
	if want := t0.Add(30 * time.Minute); !inc.Deadline.Equal(want) || !inc.DueAt.Equal(want) {
		t.Errorf("deadline %v due %v, want %v", inc.Deadline, inc.DueAt, want)
	}
	if d := inc.Dispatches[0]; !d.Auto || math.Abs(d.Metres-300) > 1 {
		t.Errorf("dispatch %+v", d)
	}
	if inc.Trigger.ReceivedAt.IsZero() || inc.Trigger.Where == nil || inc.Trigger.Kind != assurance.TriggerPositive {
		t.Errorf("trigger %+v", inc.Trigger)
	}
	ns := f.rec.notices["K-1"]
	if len(ns) != 1 || ns[0].IncidentNo != inc.ID || ns[0].ResultID != r.ResultID {
		t.Fatalf("notices %+v", ns)
	}
	t.Logf("notice: %s", ns[0].Message)
	if a := f.rec.alarms("incident_warned"); len(a) != 1 || a[0].IncidentID != inc.ID || a[0].Seq == 0 || len(a[0].Loc) != 2 {
		t.Errorf("warning alerts %+v", a)
	}
	if len(f.rec.kinds(wire.KindIncident)) == 0 || len(f.rec.kinds(wire.KindTeam)) == 0 {
		t.Error("no incident or team delta")
	}
	tm, _ := f.e.Team("T-02")
	if tm.Status != engine.TeamBusy || tm.IncidentID != inc.ID {
		t.Errorf("team %+v", tm)
	}
	c, err := f.e.Vendor("S-1")
	if err != nil || c.Score != 90 || c.Ledger[0].Ref != r.ResultID {
		t.Errorf("credit %+v %v", c, err)
	}
	// A negative opens nothing.
	neg := positive("S-1", "organophosphate_carbamate")
	neg.Verdict, neg.Value = assay.Negative, 10
	f.e.Process(f.commit(t, neg))
	if incs, _ := f.e.Incidents(engine.IncidentFilter{}); len(incs) != 1 {
		t.Errorf("%d incidents after a negative", len(incs))
	}
}

// TestDispatchMatchesBruteForce: over random teams (positions, modes,
// duty, and whoever is busy from earlier incidents), dispatch picks the
// team a brute-force search over the eligible ones picks, or none.
func TestDispatchMatchesBruteForce(t *testing.T) {
	f := newFixture(t, engine.Config{})
	rng := rand.New(rand.NewPCG(7, 11))
	stalls := []string{"S-1", "S-2", "S-3", "K-01", "K-02"}
	for i, s := range stalls {
		kind := "stall"
		if s[0] == 'K' {
			kind = "kitchen"
		}
		f.site(t, s, kind, at(float64(i*150-300), float64(i*70-100)), "C")
	}
	modes := []string{engine.ModePatrol, engine.ModePatrol, engine.ModeStationed}
	none, chose := 0, 0
	for trial := range 120 {
		for i := range 3 {
			mode := modes[rng.IntN(len(modes))]
			kitchen := ""
			if mode == engine.ModeStationed {
				kitchen = []string{"K-01", "K-02"}[rng.IntN(2)]
			}
			// A new crew every 20 trials; earlier crews stay, moved
			// about, busy or not, on duty or not.
			id := fmt.Sprintf("T-%d-%d", trial/20, i)
			if rng.IntN(3) == 0 {
				id = fmt.Sprintf("T-%d-%d", rng.IntN(trial/20+1), i)
			}
			f.team(t, id, mode, kitchen, at(rng.Float64()*1200-600, rng.Float64()*1200-600), rng.IntN(4) > 0)
		}
		subject := stalls[rng.IntN(len(stalls))]
		var site store.Site
		f.st.Get("site", subject, &site)
		target := orb.Point{site.Loc[0], site.Loc[1]}
		teams, _ := f.e.Teams()
		want, wantD := "", 0.0
		for _, tm := range teams {
			if !engine.Eligible(tm, subject, tm.Status == engine.TeamBusy) {
				continue
			}
			d := geo.Distance(target, orb.Point{tm.Home.Lon, tm.Home.Lat})
			if want == "" || d < wantD || (d == wantD && tm.ID < want) {
				want, wantD = tm.ID, d
			}
		}
		r := positive(subject, "x")
		f.e.Process(f.commit(t, r))
		inc := f.incidentOf(t, r.ResultID)
		if inc.TeamID != want {
			t.Fatalf("trial %d: dispatched %q, brute force says %q (%.1f m)", trial, inc.TeamID, want, wantD)
		}
		if want == "" {
			none++
			if inc.State != assurance.IncidentWarned {
				t.Fatalf("trial %d: no team, but state %s", trial, inc.State)
			}
			continue
		}
		chose++
		// Mostly free the team again: on site, sealed, sent to the lab.
		if rng.IntN(8) > 0 {
			for _, s := range []assurance.IncidentStep{{To: assurance.IncidentOnSite}, {To: assurance.IncidentControlled, Controls: []assurance.ControlMeasure{assurance.ControlSealed}},
				{To: assurance.IncidentLabSent, Lab: &assurance.LabSubmission{Lab: "市检验所", SampleID: "S1", Method: assurance.TestMethod{Kind: assurance.MethodLab, Name: "GB 23200.113-2018"}}}} {
				s.Actor = commander
				if _, err := f.e.Transition(inc.ID, engine.Step{IncidentStep: s}); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.clk.Add(time.Second)
	}
	t.Logf("%d dispatched, %d with no eligible team", chose, none)
	if none == 0 || chose == 0 {
		t.Errorf("the trials did not cover both outcomes (%d, %d)", chose, none)
	}
}

// TestOneIncidentPerResult: a result seen again (stored twice by the
// callback, a duplicate resend, a restart with recovery) opens one
// incident; a stored positive whose incident was never opened (a crash in
// between) gets one at the next start.
func TestOneIncidentPerResult(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "S-1", "stall", at(0, 0), "B")
	f.team(t, "T-02", engine.ModePatrol, "", at(0, 300), true)
	r := positive("S-1", "x")
	cs := f.commit(t, r)
	f.e.Process(cs)
	f.e.Process(cs)
	dup, err := f.h.Commit([]wire.Result{cs[0].Result.Content()})
	if err != nil || dup[0].Outcome != history.Duplicate {
		t.Fatalf("resend: %v %v", dup, err)
	}
	f.e.Process(dup)
	f.e.OnCommitted(dup) // queued, not processed: Run is not running
	first := f.incidentOf(t, r.ResultID)
	// The method's repeat of the same sample joins the incident.
	rep := positive("S-1", "x")
	rep.RepeatOf = r.ResultID
	f.e.Process(f.commit(t, rep))
	if incs, _ := f.e.Incidents(engine.IncidentFilter{}); len(incs) != 1 {
		t.Fatalf("%d incidents after a repeat of the positive", len(incs))
	}

	// A positive stored while the engine was down.
	lost := positive("S-1", "x")
	f.commit(t, lost)
	f.st.Close()
	f.open(t, engine.Config{})
	if err := f.e.Recover(); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Recover(); err != nil {
		t.Fatal(err)
	}
	if again := f.incidentOf(t, r.ResultID); again.ID != first.ID {
		t.Errorf("incident changed across restart: %s → %s", first.ID, again.ID)
	}
	rec := f.incidentOf(t, lost.ResultID)
	if rec.ID == first.ID || rec.State != assurance.IncidentWarned {
		// T-02 is busy with the first incident, so the recovered one waits.
		t.Errorf("recovered incident %s in %s", rec.ID, rec.State)
	}
	if ns := f.rec.notices["K-1"]; len(ns) != 2 {
		t.Errorf("%d notices, want one per incident", len(ns))
	}
	if c, _ := f.e.Vendor("S-1"); c.Score != 80 {
		t.Errorf("credit %d, want 100 − 2×10", c.Score)
	}
}

// TestEscalationsWithInjectedClock: deadlines that pass raise an
// escalation once per level, stored as alarms and published as alerts;
// a freed team picks up a waiting incident at the next tick.
func TestEscalationsWithInjectedClock(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "S-1", "stall", at(0, 0), "B")
	r := positive("S-1", "x")
	f.e.Process(f.commit(t, r)) // no team at all: stays warned
	inc := f.incidentOf(t, r.ResultID)
	if inc.State != assurance.IncidentWarned || len(f.rec.alarms("no_team_available")) != 1 {
		t.Fatalf("state %s, alerts %v", inc.State, f.rec.alarms("no_team_available"))
	}
	if stored, _ := f.st.Alarms(10, false); countCode(stored, "no_team_available") != 0 || countCode(stored, "incident_warned") != 1 {
		t.Errorf("stored alarms %+v: the warning is kept for acknowledgement, the no-team alert is transient", stored)
	}
	f.clk.Add(5 * time.Minute) // exactly at the deadline: not yet overdue
	f.e.Tick()
	if a := f.rec.alarms("incident_overdue"); len(a) != 0 {
		t.Fatalf("escalated at the deadline: %+v", a)
	}
	f.clk.Add(time.Second)
	f.e.Tick()
	f.e.Tick()
	a := f.rec.alarms("incident_overdue")
	if len(a) != 1 || a[0].Level != 1 || a[0].IncidentID != inc.ID {
		t.Fatalf("after the deadline: %+v", a)
	}
	t.Logf("level 1: %s", a[0].Message)
	f.clk.Add(5 * time.Minute) // one more allowance: level 2 (admin)
	f.e.Tick()
	a = f.rec.alarms("incident_overdue")
	if len(a) != 2 || a[1].Level != 2 {
		t.Fatalf("level 2: %+v", a)
	}
	stored, _ := f.st.Alarms(10, true)
	if n := countCode(stored, "incident_overdue"); n != 2 {
		t.Errorf("%d stored escalation alarms", n)
	}
	got, _ := f.e.Incident(inc.ID)
	if len(got.Escalations) != 2 || got.Escalations[1].AlarmSeq == 0 {
		t.Errorf("escalations recorded %+v", got.Escalations)
	}
	// A team comes on duty: the next tick dispatches, and the assigned
	// state's own deadline runs from there.
	f.team(t, "T-02", engine.ModePatrol, "", at(0, 300), true)
	f.e.Tick()
	got, _ = f.e.Incident(inc.ID)
	if got.State != assurance.IncidentAssigned || got.TeamID != "T-02" {
		t.Fatalf("after a team is free: %s %s", got.State, got.TeamID)
	}
	f.clk.Add(31 * time.Minute)
	f.e.Tick()
	a = f.rec.alarms("incident_overdue")
	if len(a) != 3 || a[2].Level != 1 || a[2].Message == a[0].Message {
		t.Fatalf("assigned overdue: %+v", a)
	}
	// After a restart nothing is raised twice.
	f.st.Close()
	f.open(t, engine.Config{})
	n := len(f.rec.alarms("incident_overdue"))
	f.e.Tick()
	if len(f.rec.alarms("incident_overdue")) != n {
		t.Error("escalation raised again after a restart")
	}
}

func countCode(as []store.Alarm, code string) int {
	n := 0
	for _, a := range as {
		if a.Code == code {
			n++
		}
	}
	return n
}

// TestRetestWindow: a re-test asked within 4 h with a laboratory method
// is honoured and blocks disposal; later, or with a rapid method, it is
// refused with the protocol's reason.
func TestRetestWindow(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "S-1", "stall", at(0, 0), "B")
	for i := range 2 {
		f.team(t, fmt.Sprintf("T-%02d", i), engine.ModePatrol, "", at(0, float64(100*(i+1))), true)
	}
	r1, r2 := positive("S-1", "x"), positive("S-1", "x")
	f.e.Process(f.commit(t, r1, r2))
	i1, i2 := f.incidentOf(t, r1.ResultID), f.incidentOf(t, r2.ResultID)
	insp := assurance.Actor{UserID: "insp-1", Role: assurance.RoleInspector, TeamID: i1.TeamID}
	for _, s := range []assurance.IncidentStep{{To: assurance.IncidentOnSite}, {To: assurance.IncidentControlled, Controls: []assurance.ControlMeasure{assurance.ControlSealed}}} {
		s.Actor = insp
		if _, err := f.e.Transition(i1.ID, engine.Step{IncidentStep: s}); err != nil {
			t.Fatal(err)
		}
	}
	op := assurance.Actor{UserID: "op-1", Role: assurance.RoleOperator}
	lab := assurance.TestMethod{Kind: assurance.MethodLab, Name: "GB 23200.113-2018 GC-MS/MS"}
	rapid := assurance.TestMethod{Kind: assurance.MethodLab, Name: "胶体金快速检测卡"}

	f.clk.Add(3*time.Hour + 59*time.Minute)
	_, err := f.e.RequestRetest(i1.ID, "张记蔬菜", rapid, assurance.Act{Actor: op}, "")
	var re *assurance.RetestError
	if !errors.As(err, &re) || re.Reason != assurance.RetestRapidMethod {
		t.Fatalf("rapid method: %v", err)
	}
	got, err := f.e.RequestRetest(i1.ID, "张记蔬菜", lab, assurance.Act{Actor: op}, "10.0.0.7:5555")
	if err != nil || got.Retest == nil {
		t.Fatalf("within 4 h: %v", err)
	}
	if o := got.Origins[len(got.Origins)-1]; o.Addr != "10.0.0.7:5555" || o.Seq != len(got.Audit) {
		t.Errorf("origin %+v", o)
	}
	ev, err := f.e.AddEvidence(engine.SubjectIncident, i1.ID, "photo", "p.png", pngReader(), insp)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.e.Transition(i1.ID, engine.Step{IncidentStep: assurance.IncidentStep{To: assurance.IncidentDisposed,
		Act: assurance.Act{Actor: insp, Evidence: []assurance.EvidenceRef{{Kind: "photo", Ref: ev.Ref}}}}})
	if assurance.ErrorCode(err) != assurance.CodePrecondition {
		t.Fatalf("disposal with a pending re-test: %v", err)
	}
	f.clk.Add(2 * time.Minute) // 4 h 01 min after the second result was received
	_, err = f.e.RequestRetest(i2.ID, "张记蔬菜", lab, assurance.Act{Actor: op}, "")
	if !errors.As(err, &re) || re.Reason != assurance.RetestWindowClosed {
		t.Fatalf("after 4 h: %v", err)
	}
}

// TestClusterWarning: three positives of one analyte within 500 m raise
// one cluster warning; a fourth joins it without a second warning; other
// analytes and far positives do not count.
func TestClusterWarning(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "S-1", "stall", at(0, 0), "B")
	f.site(t, "S-2", "stall", at(200, 0), "B")
	f.site(t, "S-3", "stall", at(0, 200), "B")
	f.site(t, "S-9", "stall", at(5000, 0), "B")
	open := func(stall, analyte string) {
		f.e.Process(f.commit(t, positive(stall, analyte)))
		f.clk.Add(10 * time.Minute)
	}
	open("S-1", "op")
	open("S-2", "clenbuterol")
	open("S-9", "op")
	open("S-2", "op")
	if n := len(f.rec.alarms("cluster_warning")); n != 0 {
		t.Fatalf("%d cluster warnings from 2 nearby positives", n)
	}
	open("S-3", "op")
	a := f.rec.alarms("cluster_warning")
	if len(a) != 1 || len(a[0].Loc) != 2 {
		t.Fatalf("cluster warnings %+v", a)
	}
	t.Logf("%s", a[0].Message)
	// The zh-CN half names the item as people read it, not the code.
	if zh, _, _ := strings.Cut(a[0].Message, " / "); !strings.Contains(zh, "有机磷和氨基甲酸酯类农药") || strings.Contains(zh, " op ") {
		t.Errorf("the zh-CN half of the warning names the analyte's code: %q", zh)
	}
	open("S-1", "op")
	if n := len(f.rec.alarms("cluster_warning")); n != 1 {
		t.Fatalf("%d warnings after the cluster grew", n)
	}
	cs, _ := f.e.Clusters()
	if len(cs) != 1 || len(cs[0].Members) != 4 || len(cs[0].Subjects) != 3 || cs[0].Analyte != "op" {
		t.Fatalf("clusters %+v", cs)
	}
}

// TestTemperatureBreachOpensIncident: a failed holding temperature opens a
// temperature_breach incident, cleared on site with a note (no lab needed),
// and books −5 on the kitchen; an ATP fail opens none.
func TestTemperatureBreachOpensIncident(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "K-01", "kitchen", at(0, 0), "B")
	f.team(t, "T-01", engine.ModeStationed, "K-01", at(5, 5), true)
	hot := wire.Result{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: "K-2", Seq: 1, StallID: "K-01", Method: assay.HotHolding,
		Item: "热藏温度", Analyte: "hot_holding", Value: 52.5, Unit: "°C", Verdict: assay.Fail}
	atp := hot
	atp.ResultID, atp.Seq, atp.Method, atp.Analyte = uuid.Must(uuid.NewV7()).String(), 2, assay.ATP, "atp"
	f.e.Process(f.commit(t, hot, atp))
	inc := f.incidentOf(t, hot.ResultID)
	if inc.Trigger.Kind != assurance.TriggerTemperature || inc.TeamID != "T-01" {
		t.Fatalf("%s to %q", inc.Trigger.Kind, inc.TeamID)
	}
	if incs, _ := f.e.Incidents(engine.IncidentFilter{}); len(incs) != 1 {
		t.Fatalf("%d incidents; an ATP fail opens none", len(incs))
	}
	insp := assurance.Actor{UserID: "insp-1", Role: assurance.RoleInspector, TeamID: "T-01"}
	for _, s := range []assurance.IncidentStep{{To: assurance.IncidentOnSite}, {To: assurance.IncidentCleared, Act: assurance.Act{Note: "复测 68 °C，已加热至 70 °C 以上"}}} {
		s.Actor = insp
		if _, err := f.e.Transition(inc.ID, engine.Step{IncidentStep: s}); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := f.e.Vendor("K-01"); c.Score != 95 {
		t.Errorf("credit %d, want 100 − 5", c.Score)
	}
}
