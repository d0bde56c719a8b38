package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

func repeatOf(orig wire.Result, v assay.Verdict, value float64) wire.Result {
	r := orig
	r.ResultID = uuid.Must(uuid.NewV7()).String()
	r.RepeatOf, r.Verdict, r.Value, r.RepeatsRequired = orig.ResultID, v, value, 0
	if v == assay.Positive {
		r.RepeatsRequired = 2
	}
	return r
}

func withRepeatPolicy() engine.Config {
	pc := assurance.DefaultConfig() // the policy is on by default
	return engine.Config{Protocol: &pc}
}

// TestRepeatBeforeDispatch: a suspicious enzyme result waits in 待复测
// with no team sent; the repeat that reproduces it sends the nearest team.
// A first positive waits for its two repeats. A banned substance on a gold
// strip goes at once.
func TestRepeatBeforeDispatch(t *testing.T) {
	f := newFixture(t, withRepeatPolicy())
	f.site(t, "S-1", "stall", at(0, 0), "B")
	f.site(t, "S-2", "stall", at(50, 0), "B")
	f.site(t, "S-3", "stall", at(100, 0), "B")
	for _, id := range []string{"T-01", "T-02", "T-03"} {
		f.team(t, id, engine.ModePatrol, "", at(0, 100), true)
	}

	sus := positive("S-1", "organophosphate_carbamate")
	sus.Verdict, sus.Value = assay.Suspicious, 44.1
	f.e.Process(f.commit(t, sus))
	inc := f.incidentOf(t, sus.ResultID)
	if inc.State != assurance.IncidentWarned || inc.TeamID != "" || inc.Repeat == nil || inc.Repeat.State != assurance.RepeatAwaiting ||
		inc.Repeat.Needed != 1 || inc.Repeat.StateLabel.ZH != "待复测" {
		t.Fatalf("suspicious result: state %s team %q repeat %+v; want warned, no team, 待复测 for 1 repeat", inc.State, inc.TeamID, inc.Repeat)
	}
	if want := t0.Add(15 * time.Minute); !inc.Repeat.Due.Equal(want) || !inc.DueAt.Equal(want) {
		t.Errorf("repeat due %v, incident due %v; want %v", inc.Repeat.Due, inc.DueAt, want)
	}
	if a := f.rec.alarms("incident_warned"); len(a) != 1 || !strings.Contains(a[0].Message, "待复测") {
		t.Errorf("warning %+v, want one that says 待复测", a)
	}
	if len(f.rec.alarms("no_team_available")) != 0 {
		t.Error("a waiting incident raised no_team_available")
	}
	// The background loop neither dispatches nor escalates it while it waits.
	f.clk.Add(10 * time.Minute)
	f.e.Tick()
	if inc = f.incidentOf(t, sus.ResultID); inc.TeamID != "" || len(f.rec.alarms("incident_overdue")) != 0 {
		t.Fatalf("after 10 min waiting: team %q, %d escalations", inc.TeamID, len(f.rec.alarms("incident_overdue")))
	}
	// An invalid repeat does not count; a suspicious one reproduces it.
	f.e.Process(f.commit(t, repeatOf(sus, assay.Invalid, 0)))
	if inc = f.incidentOf(t, sus.ResultID); inc.Repeat.State != assurance.RepeatAwaiting || len(inc.Repeat.Repeats) != 1 {
		t.Fatalf("after an invalid repeat: %+v", inc.Repeat)
	}
	rp := repeatOf(sus, assay.Suspicious, 46.0)
	f.e.Process(f.commit(t, rp, rp)) // twice: one repeat
	inc = f.incidentOf(t, sus.ResultID)
	if inc.State != assurance.IncidentAssigned || inc.TeamID == "" || inc.Repeat.State != assurance.RepeatReproduced || len(inc.Repeat.Repeats) != 2 {
		t.Fatalf("after the repeat: state %s team %q repeat %+v; want assigned, reproduced", inc.State, inc.TeamID, inc.Repeat)
	}
	if !inc.Dispatches[0].At.Equal(f.clk.Now()) {
		t.Errorf("dispatched at %v, want at the repeat %v", inc.Dispatches[0].At, f.clk.Now())
	}
	if ns := f.rec.notices["K-1"]; len(ns) != 2 || !strings.Contains(ns[1].Message, "复测阳性成立") {
		t.Errorf("kiosk notices %+v", ns)
	}

	// A first positive waits for two repeats.
	pos := positive("S-2", "organophosphate_carbamate")
	pos.RepeatsRequired = 2
	f.e.Process(f.commit(t, pos))
	f.e.Process(f.commit(t, repeatOf(pos, assay.Positive, 58)))
	if inc = f.incidentOf(t, pos.ResultID); inc.TeamID != "" || inc.Repeat.Missing != 1 {
		t.Fatalf("positive after one repeat: team %q repeat %+v", inc.TeamID, inc.Repeat)
	}
	f.e.Process(f.commit(t, repeatOf(pos, assay.Positive, 57)))
	if inc = f.incidentOf(t, pos.ResultID); inc.State != assurance.IncidentAssigned || inc.Repeat.State != assurance.RepeatReproduced {
		t.Fatalf("positive after two repeats: state %s repeat %+v", inc.State, inc.Repeat)
	}

	// A banned substance on a gold strip: at once.
	gold := positive("S-3", "clenbuterol")
	gold.Method, gold.Item = assay.GoldLine, "克伦特罗"
	f.e.Process(f.commit(t, gold))
	if inc = f.incidentOf(t, gold.ResultID); inc.State != assurance.IncidentAssigned || inc.Repeat != nil {
		t.Fatalf("gold strip positive: state %s repeat %+v; want assigned at once", inc.State, inc.Repeat)
	}
}

// TestRepeatNotReproducedAndOverdue: a repeat that does not reproduce the
// result sends no team (the command centre decides, told by an alarm),
// and the loop does not send one either; repeats that never come send the
// team at the deadline. Both survive a restart.
func TestRepeatNotReproducedAndOverdue(t *testing.T) {
	f := newFixture(t, withRepeatPolicy())
	f.site(t, "S-1", "stall", at(0, 0), "B")
	f.site(t, "S-2", "stall", at(50, 0), "B")
	f.team(t, "T-01", engine.ModePatrol, "", at(0, 100), true)
	f.team(t, "T-02", engine.ModePatrol, "", at(0, 200), true)

	a := positive("S-1", "organophosphate_carbamate")
	a.Verdict, a.Value = assay.Suspicious, 42
	b := positive("S-2", "organophosphate_carbamate")
	b.Verdict, b.Value = assay.Suspicious, 45
	f.e.Process(f.commit(t, a, b))
	f.e.Process(f.commit(t, repeatOf(a, assay.Negative, 12)))
	inc := f.incidentOf(t, a.ResultID)
	if inc.State != assurance.IncidentWarned || inc.TeamID != "" || inc.Repeat.State != assurance.RepeatNotReproduced {
		t.Fatalf("not reproduced: state %s team %q repeat %+v", inc.State, inc.TeamID, inc.Repeat)
	}
	if al := f.rec.alarms("repeat_not_reproduced"); len(al) != 1 || al[0].IncidentID != inc.ID || al[0].Seq == 0 {
		t.Errorf("not-reproduced alarms %+v", al)
	}

	// Restart: the waits are rebuilt from the records.
	f.st.Close()
	f.open(t, withRepeatPolicy())

	f.clk.Add(16 * time.Minute)
	f.e.Tick()
	if inc = f.incidentOf(t, a.ResultID); inc.TeamID != "" {
		t.Errorf("the loop sent %s to a result the repeat did not reproduce", inc.TeamID)
	}
	inc = f.incidentOf(t, b.ResultID)
	if inc.State != assurance.IncidentAssigned || inc.Repeat.State != assurance.RepeatOverdue {
		t.Fatalf("overdue: state %s repeat %+v; want assigned, repeat_overdue", inc.State, inc.Repeat)
	}
	if al := f.rec.alarms("repeat_overdue"); len(al) != 1 || al[0].IncidentID != inc.ID {
		t.Errorf("overdue alarms %+v", al)
	}
	// A late repeat changes nothing.
	f.e.Process(f.commit(t, repeatOf(b, assay.Negative, 3)))
	if inc = f.incidentOf(t, b.ResultID); inc.Repeat.State != assurance.RepeatOverdue || len(inc.Repeat.Repeats) != 0 {
		t.Errorf("a late repeat changed the wait: %+v", inc.Repeat)
	}
	// The commander may still send a team to the not-reproduced one.
	got, err := f.e.Transition(f.incidentOf(t, a.ResultID).ID, engine.Step{IncidentStep: assurance.IncidentStep{To: assurance.IncidentAssigned,
		Act: assurance.Act{Actor: commander, Note: "现场核查"}}})
	if err != nil || got.State != assurance.IncidentAssigned {
		t.Fatalf("commander dispatch: %v %s", err, got.State)
	}
}

// TestKPIsCountARepeatedSampleOnce: a positive and its two repeats (复测
// of the same sample) are one test and one positive in the KPIs, not three.
func TestKPIsCountARepeatedSampleOnce(t *testing.T) {
	f := newFixture(t, withRepeatPolicy())
	f.site(t, "S-1", "stall", at(0, 0), "B")
	f.site(t, "S-2", "stall", at(50, 0), "B")
	f.team(t, "T-01", engine.ModePatrol, "", at(0, 100), true)
	pos := positive("S-1", "organophosphate_carbamate")
	f.e.Process(f.commit(t, pos))
	f.e.Process(f.commit(t, repeatOf(pos, assay.Positive, 61)))
	f.e.Process(f.commit(t, repeatOf(pos, assay.Positive, 63)))
	neg := positive("S-2", "organophosphate_carbamate")
	neg.Verdict, neg.Value = assay.Negative, 12
	f.e.Process(f.commit(t, neg))
	rep, err := f.e.KPIs(engine.KPIQuery{})
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Total
	if k.Tests != 2 || k.Positives != 1 || k.DetectionRate.Num != 1 || k.DetectionRate.Den != 2 || k.DisposalRate.Den != 1 {
		t.Fatalf("KPIs: %d tests, %d positives, detection %d/%d, disposal of %d; want 2 tests (the repeats are the same sample), 1 positive, 1/2, of 1",
			k.Tests, k.Positives, k.DetectionRate.Num, k.DetectionRate.Den, k.DisposalRate.Den)
	}
	if rep.Targets.DisposalRate == 0 {
		t.Errorf("the KPI report carries no targets: %+v", rep.Targets)
	}
}
