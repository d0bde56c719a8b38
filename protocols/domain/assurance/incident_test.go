package assurance

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// The incident table as the issue and the package doc state it. The
// machine's table must match it pair for pair.
const incidentSpec = `
warned             -> assigned
assigned           -> assigned on_site
on_site            -> controlled cleared
controlled         -> lab_sent disposed cleared
lab_sent           -> confirmed_positive cleared
confirmed_positive -> disposed
cleared            -> signed_off
disposed           -> signed_off
signed_off         -> closed
`

func TestIncidentTableMatchesSpec(t *testing.T) {
	want := parseEdges(incidentSpec)
	for _, from := range IncidentStates() {
		for _, to := range IncidentStates() {
			if got := from.CanMoveTo(to); got != want[string(from)+">"+string(to)] {
				t.Errorf("%s → %s: table says %v, spec says %v", from, to, got, !got)
			}
		}
	}
}

var labSubmission = &LabSubmission{Lab: "市食品检验所", SampleID: "S-001", Method: TestMethod{Kind: MethodLab, Name: "GB 23200.113-2018 GC-MS/MS"}}

func trigger(kind TriggerKind) Trigger {
	tr := Trigger{Kind: kind, EventID: "EV1", SubjectID: "stall-7", ObservedAt: t0, Where: &Point{Lon: 120.89, Lat: 31.98}}
	switch kind {
	case TriggerPositive:
		tr.ResultID, tr.Verdict, tr.Item, tr.Method = "R1", assay.Positive, "有机磷和氨基甲酸酯类农药", "enzyme_inhibition"
	case TriggerSuspicious:
		tr.ResultID, tr.Verdict, tr.Method = "R1", assay.Suspicious, "enzyme_inhibition"
	case TriggerComplaint:
		tr.Description = "顾客反映凉菜有异味"
	}
	return tr
}

// incidentPath is a route from warned to each state, with the step that
// enters it (every field any target needs is filled in).
var incidentPath = map[IncidentState][]IncidentState{
	IncidentWarned:            {},
	IncidentAssigned:          {IncidentAssigned},
	IncidentOnSite:            {IncidentAssigned, IncidentOnSite},
	IncidentControlled:        {IncidentAssigned, IncidentOnSite, IncidentControlled},
	IncidentLabSent:           {IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent},
	IncidentConfirmedPositive: {IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent, IncidentConfirmedPositive},
	IncidentCleared:           {IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent, IncidentCleared},
	IncidentDisposed:          {IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent, IncidentConfirmedPositive, IncidentDisposed},
	IncidentSignedOff:         {IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent, IncidentConfirmedPositive, IncidentDisposed, IncidentSignedOff},
	IncidentClosed:            {IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent, IncidentConfirmedPositive, IncidentDisposed, IncidentSignedOff, IncidentClosed},
}

// fullStep is a step into to that satisfies every rule of the target.
func fullStep(to IncidentState, a Actor, when time.Time) IncidentStep {
	return IncidentStep{To: to, Act: Act{Actor: a, At: when, Note: "现场检查无异常", Evidence: evidence("lab_report")},
		TeamID: "T1", Controls: []ControlMeasure{ControlSealed}, Lab: labSubmission}
}

// pathActor is who takes each step on the path: commanders for command
// steps, the T1 inspector for field steps; sign-off by a second commander.
func pathActor(to IncidentState) Actor {
	switch to {
	case IncidentAssigned, IncidentClosed:
		return cmdr
	case IncidentSignedOff:
		return cmdr2
	}
	return insp
}

// incidentAt opens an incident with trigger kind and walks it to state s,
// one hour per step (so the 4-hour re-test window has passed by disposal).
func incidentAt(t testing.TB, kind TriggerKind, s IncidentState, cfg Config) Incident {
	t.Helper()
	inc, err := OpenIncident("INC-1", trigger(kind), act(oper, t0))
	must(t, err)
	for i, to := range incidentPath[s] {
		must(t, inc.Apply(fullStep(to, pathActor(to), at(time.Duration(i+1)*time.Hour)), cfg))
	}
	if inc.State != s {
		t.Fatalf("path ended in %s, want %s", inc.State, s)
	}
	return inc
}

// TestIncidentMatrix tries every from × to pair, for every trigger kind,
// with an admin and a step that satisfies every rule: legal pairs succeed
// (except the rule that only the lab clears a rapid-test positive), illegal
// pairs fail with a TransitionError listing exactly the table's next states.
func TestIncidentMatrix(t *testing.T) {
	cfg := DefaultConfig()
	for _, kind := range TriggerKinds() {
		for _, from := range IncidentStates() {
			for _, to := range IncidentStates() {
				inc := incidentAt(t, kind, from, cfg)
				before := jsonOf(t, inc)
				err := inc.Apply(fullStep(to, actorOf(RoleAdmin), at(24*time.Hour)), cfg)
				name := string(kind) + ":" + string(from) + "→" + string(to)
				switch {
				case !from.CanMoveTo(to):
					var te *TransitionError
					if !errors.As(err, &te) {
						t.Errorf("%s: got %v, want a TransitionError", name, err)
						continue
					}
					if te.From != string(from) || te.To != string(to) || !reflect.DeepEqual(te.Allowed, stateNames(from.Next())) {
						t.Errorf("%s: error %+v does not describe the table", name, te)
					}
					if ErrorCode(err) != CodeIllegalTransition {
						t.Errorf("%s: code %s", name, ErrorCode(err))
					}
				case kind == TriggerPositive && to == IncidentCleared && from != IncidentLabSent:
					wantIs(t, err, ErrPrecondition)
				default:
					if err != nil {
						t.Errorf("%s: legal transition refused: %v", name, err)
						continue
					}
					if inc.State != to || inc.StateSince != at(24*time.Hour) {
						t.Errorf("%s: state %s since %s", name, inc.State, inc.StateSince)
					}
					last := inc.Audit[len(inc.Audit)-1]
					if last.From != string(from) || last.To != string(to) || last.Seq != len(inc.Audit) || last.Actor.Role != RoleAdmin {
						t.Errorf("%s: audit entry %+v", name, last)
					}
					continue
				}
				if jsonOf(t, inc) != before {
					t.Errorf("%s: a refused step changed the incident", name)
				}
			}
		}
	}
}

func stateNames[S ~string](ss []S) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// jsonOf encodes v; two records are the same when their encodings are
// (time.Location pointers make reflect.DeepEqual too strict).
func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

// TestIncidentRoles tries every legal edge with every role.
func TestIncidentRoles(t *testing.T) {
	cfg := DefaultConfig()
	want := map[IncidentState][]Role{
		IncidentAssigned:          {RoleAdmin, RoleCommander},
		IncidentOnSite:            {RoleAdmin, RoleCommander, RoleInspector},
		IncidentControlled:        {RoleAdmin, RoleCommander, RoleInspector},
		IncidentLabSent:           {RoleAdmin, RoleCommander, RoleInspector},
		IncidentConfirmedPositive: {RoleAdmin, RoleCommander, RoleInspector},
		IncidentCleared:           {RoleAdmin, RoleCommander, RoleInspector},
		IncidentDisposed:          {RoleAdmin, RoleCommander, RoleInspector},
		IncidentSignedOff:         {RoleAdmin, RoleCommander},
		IncidentClosed:            {RoleAdmin, RoleCommander},
	}
	for _, from := range IncidentStates() {
		for _, to := range from.Next() {
			if !reflect.DeepEqual(IncidentRoles(to), want[to]) {
				t.Errorf("roles for %s: %v, want %v", to, IncidentRoles(to), want[to])
			}
			for _, r := range Roles() {
				inc := incidentAt(t, TriggerComplaint, from, cfg)
				err := inc.Apply(fullStep(to, actorOf(r), at(24*time.Hour)), cfg)
				allowed := slices.Contains(want[to], r)
				if allowed && err != nil {
					t.Errorf("%s → %s as %s: %v", from, to, r, err)
				}
				if !allowed {
					var re *RoleError
					if !errors.As(err, &re) || !errors.Is(err, ErrForbidden) {
						t.Errorf("%s → %s as %s: got %v, want a RoleError", from, to, r, err)
					}
				}
			}
		}
	}
}

func TestIncidentInspectorMustBeOnAssignedTeam(t *testing.T) {
	cfg := DefaultConfig()
	inc := incidentAt(t, TriggerPositive, IncidentAssigned, cfg)
	err := inc.Apply(IncidentStep{To: IncidentOnSite, Act: act(insp2, at(2*time.Hour))}, cfg)
	wantIs(t, err, ErrForbidden)
	if !strings.Contains(err.Error(), `team "T2"`) || !strings.Contains(err.Error(), `team "T1"`) {
		t.Errorf("message does not name both teams: %v", err)
	}
	// A commander may act for any team.
	must(t, inc.Apply(IncidentStep{To: IncidentOnSite, Act: act(cmdr, at(2*time.Hour))}, cfg))
}

func TestTransitionErrorMessage(t *testing.T) {
	cfg := DefaultConfig()
	inc := incidentAt(t, TriggerPositive, IncidentWarned, cfg)
	err := inc.Apply(fullStep(IncidentDisposed, admin, at(time.Hour)), cfg)
	want := "incident INC-1: cannot go from warned (预警) to disposed (无害化处置); allowed from warned: assigned (交办)"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	inc = incidentAt(t, TriggerPositive, IncidentClosed, cfg)
	err = inc.Apply(fullStep(IncidentWarned, admin, at(24*time.Hour)), cfg)
	if err == nil || !strings.Contains(err.Error(), "closed is final") {
		t.Errorf("final state message: %v", err)
	}
}

func TestIncidentStepRules(t *testing.T) {
	cfg := DefaultConfig()
	cases := []struct {
		name string
		kind TriggerKind
		from IncidentState
		step func(IncidentStep) IncidentStep
		want error
		rule string
	}{
		{"assign needs a team", TriggerPositive, IncidentWarned, func(s IncidentStep) IncidentStep { s.To, s.TeamID = IncidentAssigned, ""; return s }, ErrInvalid, ""},
		{"deadline before the step", TriggerPositive, IncidentWarned, func(s IncidentStep) IncidentStep {
			s.To, s.Deadline = IncidentAssigned, s.At
			return s
		}, ErrInvalid, ""},
		{"control needs a measure", TriggerPositive, IncidentOnSite, func(s IncidentStep) IncidentStep { s.To, s.Controls = IncidentControlled, nil; return s }, ErrInvalid, ""},
		{"unknown measure", TriggerPositive, IncidentOnSite, func(s IncidentStep) IncidentStep {
			s.To, s.Controls = IncidentControlled, []ControlMeasure{"burnt"}
			return s
		}, ErrInvalid, ""},
		{"lab needs a submission", TriggerPositive, IncidentControlled, func(s IncidentStep) IncidentStep { s.To, s.Lab = IncidentLabSent, nil; return s }, ErrInvalid, ""},
		{"lab method must not be rapid", TriggerPositive, IncidentControlled, func(s IncidentStep) IncidentStep {
			s.To = IncidentLabSent
			s.Lab = &LabSubmission{Lab: "L", SampleID: "S", Method: TestMethod{Kind: MethodLab, Name: "胶体金快检卡"}}
			return s
		}, ErrPrecondition, "lab_method_not_rapid"},
		{"confirmation needs the report", TriggerPositive, IncidentLabSent, func(s IncidentStep) IncidentStep {
			s.To, s.Evidence = IncidentConfirmedPositive, nil
			return s
		}, ErrPrecondition, "evidence_required"},
		{"lab clearance needs the report", TriggerPositive, IncidentLabSent, func(s IncidentStep) IncidentStep { s.To, s.Evidence = IncidentCleared, nil; return s }, ErrPrecondition, "evidence_required"},
		{"only the lab clears a positive", TriggerPositive, IncidentOnSite, func(s IncidentStep) IncidentStep { s.To = IncidentCleared; return s }, ErrPrecondition, "positive_needs_lab"},
		{"on-site clearance needs a note", TriggerComplaint, IncidentOnSite, func(s IncidentStep) IncidentStep { s.To, s.Note = IncidentCleared, " "; return s }, ErrPrecondition, "note_required"},
		{"disposal needs evidence", TriggerPositive, IncidentConfirmedPositive, func(s IncidentStep) IncidentStep {
			s.To, s.Evidence = IncidentDisposed, nil
			return s
		}, ErrPrecondition, "evidence_required"},
		{"sign-off by the disposer", TriggerPositive, IncidentDisposed, func(s IncidentStep) IncidentStep {
			s.To, s.Actor = IncidentSignedOff, Actor{UserID: insp.UserID, Role: RoleCommander}
			return s
		}, ErrPrecondition, "separate_sign_off"},
		{"no actor", TriggerPositive, IncidentWarned, func(s IncidentStep) IncidentStep { s.To, s.Actor = IncidentAssigned, Actor{}; return s }, ErrInvalid, ""},
		{"no time", TriggerPositive, IncidentWarned, func(s IncidentStep) IncidentStep { s.To, s.At = IncidentAssigned, time.Time{}; return s }, ErrInvalid, ""},
		{"time goes backwards", TriggerPositive, IncidentOnSite, func(s IncidentStep) IncidentStep { s.To, s.At = IncidentControlled, t0; return s }, ErrInvalid, ""},
		{"bad position", TriggerPositive, IncidentWarned, func(s IncidentStep) IncidentStep {
			s.To, s.Where = IncidentAssigned, &Point{Lon: 200, Lat: 31}
			return s
		}, ErrInvalid, ""},
		{"not a state", TriggerPositive, IncidentWarned, func(s IncidentStep) IncidentStep { s.To = "done"; return s }, ErrInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inc := incidentAt(t, c.kind, c.from, cfg)
			before := jsonOf(t, inc)
			err := inc.Apply(c.step(fullStep("", admin, at(24*time.Hour))), cfg)
			wantIs(t, err, c.want)
			if c.rule != "" {
				var pe *PreconditionError
				if !errors.As(err, &pe) || pe.Rule != c.rule {
					t.Errorf("rule: got %v, want %s", err, c.rule)
				}
			}
			if jsonOf(t, inc) != before {
				t.Error("a refused step changed the incident")
			}
		})
	}
}

func TestSignOffSeparationCanBeSwitchedOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Incident.SeparateSignOff = false
	inc := incidentAt(t, TriggerPositive, IncidentDisposed, cfg)
	must(t, inc.Apply(IncidentStep{To: IncidentSignedOff, Act: act(Actor{UserID: insp.UserID, Role: RoleCommander}, at(24*time.Hour))}, cfg))
}

// controlledPositive is a positive sealed at t0+30min (the window runs to
// t0+4h).
func controlledPositive(t *testing.T, cfg Config) Incident {
	t.Helper()
	inc, err := OpenIncident("INC-1", trigger(TriggerPositive), act(oper, t0))
	must(t, err)
	must(t, inc.Apply(IncidentStep{To: IncidentAssigned, Act: act(cmdr, at(time.Minute)), TeamID: "T1"}, cfg))
	must(t, inc.Apply(IncidentStep{To: IncidentOnSite, Act: act(insp, at(20*time.Minute))}, cfg))
	must(t, inc.Apply(IncidentStep{To: IncidentControlled, Act: act(insp, at(30*time.Minute)), Controls: []ControlMeasure{ControlSealed, ControlSaleStopped}}, cfg))
	return inc
}

var gcms = TestMethod{Kind: MethodLab, Name: "GB 23200.113-2018 GC-MS/MS"}

func TestRetestWindowBoundaries(t *testing.T) {
	cfg := DefaultConfig()
	cases := []struct {
		after time.Duration
		ok    bool
	}{
		{0, true},
		{time.Hour, true},
		{4*time.Hour - time.Nanosecond, true},
		{4 * time.Hour, true}, // "within 4 hours" includes the 4th hour's end
		{4*time.Hour + time.Nanosecond, false},
		{4*time.Hour + time.Second, false},
		{5 * time.Hour, false},
	}
	for _, c := range cases {
		inc, err := OpenIncident("INC-1", trigger(TriggerPositive), act(oper, t0))
		must(t, err)
		when := t0.Add(c.after)
		err = inc.RequestRetest("张记蔬菜摊", gcms, act(oper, when), cfg)
		if c.ok {
			if err != nil {
				t.Errorf("+%s: refused: %v", c.after, err)
				continue
			}
			if inc.Retest == nil || inc.Retest.RequestedAt != when || inc.Audit[len(inc.Audit)-1].Action != "retest_requested" {
				t.Errorf("+%s: not recorded: %+v", c.after, inc.Retest)
			}
			continue
		}
		var re *RetestError
		if !errors.As(err, &re) || re.Reason != RetestWindowClosed || !errors.Is(err, ErrRetestRefused) {
			t.Errorf("+%s: got %v, want window closed", c.after, err)
			continue
		}
		if ErrorCode(err) != CodeRetestRefused || !strings.Contains(err.Error(), "超过4小时") || !strings.Contains(err.Error(), "up to 4h0m0s") {
			t.Errorf("+%s: message %q", c.after, err)
		}
		if inc.Retest != nil {
			t.Errorf("+%s: refused request recorded", c.after)
		}
	}
}

func TestRetestWindowStartsWhenThePartyReceivesTheResult(t *testing.T) {
	cfg := DefaultConfig()
	tr := trigger(TriggerPositive)
	tr.ReceivedAt = at(2 * time.Hour) // the result reached the stall holder two hours later
	inc, err := OpenIncident("INC-1", tr, act(oper, at(2*time.Hour)))
	must(t, err)
	must(t, inc.RequestRetest("张记", gcms, act(oper, at(6*time.Hour)), cfg))

	inc2, _ := OpenIncident("INC-2", tr, act(oper, at(2*time.Hour)))
	wantIs(t, inc2.RequestRetest("张记", gcms, act(oper, at(6*time.Hour+time.Nanosecond)), cfg), ErrRetestRefused)

	// A custom window.
	cfg.Incident.RetestWindow = 2 * time.Hour
	inc3, _ := OpenIncident("INC-3", tr, act(oper, at(2*time.Hour)))
	wantIs(t, inc3.RequestRetest("张记", gcms, act(oper, at(4*time.Hour+time.Nanosecond)), cfg), ErrRetestRefused)
}

func TestRetestRefusals(t *testing.T) {
	cfg := DefaultConfig()
	reason := func(err error) RetestReason {
		var re *RetestError
		if errors.As(err, &re) {
			return re.Reason
		}
		return ""
	}
	// Rapid methods, by kind or by name.
	for _, m := range []TestMethod{
		{Kind: MethodRapid, Name: "GB 23200.113-2018"},
		{Kind: MethodLab, Name: "酶抑制率法 GB/T 5009.199-2003"},
		{Kind: MethodLab, Name: "胶体金快速检测卡"},
		{Kind: MethodLab, Name: "KJ 201710 克伦特罗"},
		{Kind: MethodLab, Name: "Rapid Test Strip"},
		{Kind: MethodLab, Name: "gold_ratio"},
		{Kind: "", Name: "GC-MS"},
		{Kind: MethodLab, Name: "  "},
	} {
		inc := controlledPositive(t, cfg)
		if r := reason(inc.RequestRetest("张记", m, act(oper, at(time.Hour)), cfg)); r != RetestRapidMethod {
			t.Errorf("method %+v: reason %q, want rapid method", m, r)
		}
	}
	// Laboratory methods are accepted, including one whose name contains
	// "stripping" (anodic stripping voltammetry, a lab method for metals).
	for _, m := range []TestMethod{gcms, {Kind: MethodLab, Name: "阳极溶出伏安法 anodic stripping voltammetry"}, {Kind: MethodLab, Name: "GB 5009.12-2023 石墨炉原子吸收光谱法"}} {
		inc := controlledPositive(t, cfg)
		must(t, inc.RequestRetest("张记", m, act(oper, at(time.Hour)), cfg))
	}
	// Not a rapid-test incident.
	inc := incidentAt(t, TriggerComplaint, IncidentControlled, cfg)
	if r := reason(inc.RequestRetest("张记", gcms, act(oper, at(4*time.Hour)), cfg)); r != RetestNotRapid {
		t.Errorf("complaint: %q", r)
	}
	// Twice.
	inc = controlledPositive(t, cfg)
	must(t, inc.RequestRetest("张记", gcms, act(oper, at(time.Hour)), cfg))
	if r := reason(inc.RequestRetest("张记", gcms, act(oper, at(2*time.Hour)), cfg)); r != RetestDuplicate {
		t.Errorf("duplicate: %q", r)
	}
	// After a waiver.
	inc = controlledPositive(t, cfg)
	must(t, inc.WaiveRetest("张记", Act{Actor: oper, At: at(time.Hour), Evidence: evidence("signature")}))
	if r := reason(inc.RequestRetest("张记", gcms, act(oper, at(2*time.Hour)), cfg)); r != RetestWaived {
		t.Errorf("waived: %q", r)
	}
	// After the lab answered. (Built fast so the window is still open.)
	inc = controlledPositive(t, cfg)
	must(t, inc.Apply(IncidentStep{To: IncidentLabSent, Act: act(insp, at(40*time.Minute)), Lab: labSubmission}, cfg))
	must(t, inc.Apply(IncidentStep{To: IncidentConfirmedPositive, Act: Act{Actor: insp, At: at(3 * time.Hour), Evidence: evidence("lab_report")}}, cfg))
	if r := reason(inc.RequestRetest("张记", gcms, act(oper, at(3*time.Hour)), cfg)); r != RetestTooLate {
		t.Errorf("confirmed: %q", r)
	}
	// Viewers cannot record one.
	inc = controlledPositive(t, cfg)
	wantIs(t, inc.RequestRetest("张记", gcms, act(viewer, at(time.Hour)), cfg), ErrForbidden)
	wantIs(t, inc.RequestRetest("", gcms, act(oper, at(time.Hour)), cfg), ErrInvalid)
}

func TestDisposalRespectsTheRetestWindow(t *testing.T) {
	cfg := DefaultConfig()
	dispose := func(inc *Incident, when time.Time) error {
		return inc.Apply(IncidentStep{To: IncidentDisposed, Act: Act{Actor: insp, At: when, Evidence: evidence("disposal_record")}}, cfg)
	}
	// Window open until t0+4h inclusive.
	inc := controlledPositive(t, cfg)
	err := dispose(&inc, at(4*time.Hour))
	var pe *PreconditionError
	if !errors.As(err, &pe) || pe.Rule != "retest_window_open" {
		t.Fatalf("at +4h: %v", err)
	}
	must(t, dispose(&inc, at(4*time.Hour+time.Nanosecond)))

	// A written waiver allows disposal at once.
	inc = controlledPositive(t, cfg)
	wantIs(t, inc.WaiveRetest("张记", act(oper, at(35*time.Minute))), ErrPrecondition) // no signed statement
	must(t, inc.WaiveRetest("张记", Act{Actor: oper, At: at(35 * time.Minute), Evidence: evidence("signature")}))
	must(t, dispose(&inc, at(40*time.Minute)))

	// A pending re-test blocks disposal for good: only the lab path remains.
	inc = controlledPositive(t, cfg)
	must(t, inc.RequestRetest("张记", gcms, act(oper, at(time.Hour)), cfg))
	if err := dispose(&inc, at(48*time.Hour)); !errors.As(err, &pe) || pe.Rule != "retest_pending" {
		t.Fatalf("retest pending: %v", err)
	}
	must(t, inc.Apply(IncidentStep{To: IncidentLabSent, Act: act(insp, at(48*time.Hour)), Lab: labSubmission}, cfg))
	must(t, inc.Apply(IncidentStep{To: IncidentConfirmedPositive, Act: Act{Actor: insp, At: at(72 * time.Hour), Evidence: evidence("lab_report")}}, cfg))
	must(t, dispose(&inc, at(73*time.Hour)))

	// RequireLabConfirmation: a positive never goes controlled → disposed.
	cfg.Incident.RequireLabConfirmation = true
	inc = controlledPositive(t, cfg)
	if err := dispose(&inc, at(48*time.Hour)); !errors.As(err, &pe) || pe.Rule != "lab_confirmation_required" {
		t.Fatalf("lab confirmation: %v", err)
	}
	// … but a temperature breach still may.
	inc = incidentAt(t, TriggerTemperature, IncidentControlled, cfg)
	must(t, dispose(&inc, at(4*time.Hour)))

	// Waiver rules.
	inc = incidentAt(t, TriggerComplaint, IncidentControlled, cfg)
	wantIs(t, inc.WaiveRetest("张记", Act{Actor: oper, At: at(4 * time.Hour), Evidence: evidence("signature")}), ErrPrecondition)
	inc = controlledPositive(t, cfg)
	must(t, inc.RequestRetest("张记", gcms, act(oper, at(time.Hour)), cfg))
	wantIs(t, inc.WaiveRetest("张记", Act{Actor: oper, At: at(2 * time.Hour), Evidence: evidence("signature")}), ErrPrecondition)
}

func TestOpenIncidentValidation(t *testing.T) {
	ok := trigger(TriggerPositive)
	cases := map[string]func(*Trigger, *Act){
		"kind":            func(tr *Trigger, _ *Act) { tr.Kind = "rumour" },
		"subject":         func(tr *Trigger, _ *Act) { tr.SubjectID = "" },
		"observed":        func(tr *Trigger, _ *Act) { tr.ObservedAt = time.Time{} },
		"result id":       func(tr *Trigger, _ *Act) { tr.ResultID = "" },
		"verdict":         func(tr *Trigger, _ *Act) { tr.Verdict = assay.Negative },
		"received early":  func(tr *Trigger, _ *Act) { tr.ReceivedAt = t0.Add(-time.Minute) },
		"where":           func(tr *Trigger, _ *Act) { tr.Where = &Point{Lon: 0, Lat: 91} },
		"complaint text":  func(tr *Trigger, _ *Act) { *tr = trigger(TriggerComplaint); tr.Description = "" },
		"suspicious verb": func(tr *Trigger, _ *Act) { tr.Kind = TriggerSuspicious },
		"no user":         func(_ *Trigger, a *Act) { a.Actor.UserID = "" },
		"bad role":        func(_ *Trigger, a *Act) { a.Actor.Role = "chef" },
		"no evidence ref": func(_ *Trigger, a *Act) { a.Evidence = []EvidenceRef{{Kind: "photo"}} },
	}
	for name, mutate := range cases {
		tr, a := ok, act(oper, t0)
		mutate(&tr, &a)
		if _, err := OpenIncident("INC-1", tr, a); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := OpenIncident("", ok, act(oper, t0)); !errors.Is(err, ErrInvalid) {
		t.Error("empty id accepted")
	}
	if _, err := OpenIncident("INC-1", ok, act(viewer, t0)); !errors.Is(err, ErrForbidden) {
		t.Error("a viewer opened an incident")
	}
	for _, k := range TriggerKinds() {
		inc, err := OpenIncident("INC-1", trigger(k), act(oper, t0))
		must(t, err)
		if inc.State != IncidentWarned || inc.OpenedAt != t0 || len(inc.Audit) != 1 || inc.Audit[0].Action != "opened" {
			t.Errorf("%s: opened as %+v", k, inc)
		}
	}
}

func TestTriggerFor(t *testing.T) {
	cases := []struct {
		v      assay.Verdict
		method assay.Method
		want   TriggerKind
		ok     bool
	}{
		{assay.Positive, "enzyme_inhibition", TriggerPositive, true},
		{assay.Suspicious, "gold_line", TriggerSuspicious, true},
		{assay.Fail, "cold_holding", TriggerTemperature, true},
		{assay.Fail, "core_temperature", TriggerTemperature, true},
		{assay.Fail, "atp", "", false},
		{assay.Fail, "frying_oil", "", false},
		{assay.Negative, "enzyme_inhibition", "", false},
		{assay.Invalid, "enzyme_inhibition", "", false},
		{assay.Caution, "atp", "", false},
	}
	for _, c := range cases {
		got, ok := TriggerFor(c.v, c.method)
		if got != c.want || ok != c.ok {
			t.Errorf("TriggerFor(%s, %s) = %s, %v", c.v, c.method, got, ok)
		}
	}
}

func TestEscalations(t *testing.T) {
	cfg := DefaultConfig()
	warned, _ := OpenIncident("INC-W", trigger(TriggerPositive), act(oper, t0)) // 5 min to assign
	assigned, _ := OpenIncident("INC-A", trigger(TriggerComplaint), act(oper, t0))
	must(t, assigned.Apply(IncidentStep{To: IncidentAssigned, Act: act(cmdr, at(time.Minute)), TeamID: "T1", Deadline: at(11 * time.Minute)}, cfg))
	closed := incidentAt(t, TriggerPositive, IncidentClosed, cfg)
	all := []Incident{closed, assigned, warned}

	cases := []struct {
		now  time.Time
		want []string // id:level:role
	}{
		{at(4 * time.Minute), nil},
		{at(5 * time.Minute), nil}, // due exactly now: not yet overdue
		{at(5*time.Minute + time.Nanosecond), []string{"INC-W:1:commander"}},
		{at(10*time.Minute + time.Nanosecond), []string{"INC-W:2:admin"}},
		{at(11 * time.Minute), []string{"INC-W:2:admin"}},
		{at(11*time.Minute + time.Second), []string{"INC-W:2:admin", "INC-A:1:commander"}},
		{at(15*time.Minute + time.Second), []string{"INC-W:3:admin", "INC-A:1:commander"}},
		{at(21*time.Minute + time.Second), []string{"INC-W:4:admin", "INC-A:2:admin"}},
	}
	for _, c := range cases {
		var got []string
		for _, e := range Escalations(all, c.now, cfg) {
			got = append(got, e.IncidentID+":"+strconv.Itoa(e.Level)+":"+string(e.EscalateTo))
			due, _ := map[string]Incident{"INC-W": warned, "INC-A": assigned}[e.IncidentID].Due(cfg)
			if e.Due != due || e.Overdue != c.now.Sub(due) {
				t.Errorf("%s: due %s overdue %s", e.IncidentID, e.Due, e.Overdue)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("now %s: got %v, want %v", c.now.Sub(t0), got, c.want)
		}
	}

	// The assignment deadline overrides the configured 30 min, and a later
	// state's configured deadline runs from the transition.
	if due, _ := assigned.Due(cfg); due != at(11*time.Minute) {
		t.Errorf("assigned due %s", due)
	}
	must(t, assigned.Apply(IncidentStep{To: IncidentOnSite, Act: act(insp, at(12*time.Minute))}, cfg))
	if due, _ := assigned.Due(cfg); due != at(42*time.Minute) {
		t.Errorf("on_site due %s, want +42m", due.Sub(t0))
	}
	if _, ok := closed.Due(cfg); ok {
		t.Error("closed incident has a deadline")
	}
	// No deadline configured: never escalated.
	cfg.Incident.Deadlines = nil
	if e := Escalations(all, at(100*time.Hour), cfg); len(e) != 1 || e[0].IncidentID != "INC-A" {
		t.Errorf("without configured deadlines only the explicit one counts: %+v", e)
	}
}

func TestIncidentAuditRecordsEverything(t *testing.T) {
	cfg := DefaultConfig()
	inc := incidentAt(t, TriggerPositive, IncidentClosed, cfg)
	want := []string{"opened:>warned", "transition:warned>assigned", "transition:assigned>on_site", "transition:on_site>controlled",
		"transition:controlled>lab_sent", "transition:lab_sent>confirmed_positive", "transition:confirmed_positive>disposed",
		"transition:disposed>signed_off", "transition:signed_off>closed"}
	var got []string
	for i, e := range inc.Audit {
		got = append(got, e.Action+":"+e.From+">"+e.To)
		if e.Seq != i+1 || e.At.IsZero() || e.Actor.UserID == "" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit %v", got)
	}
	// The audit keeps its own copy of the evidence and the position.
	ev := evidence("photo")
	where := &Point{Lon: 121, Lat: 31}
	inc2 := incidentAt(t, TriggerPositive, IncidentAssigned, cfg)
	must(t, inc2.Apply(IncidentStep{To: IncidentOnSite, Act: Act{Actor: insp, At: at(2 * time.Hour), Where: where, Evidence: ev}}, cfg))
	ev[0].Ref, where.Lon = "changed", 0
	last := inc2.Audit[len(inc2.Audit)-1]
	if last.Evidence[0].Ref != "photo-1" || last.Where.Lon != 121 {
		t.Errorf("audit aliased the caller's data: %+v", last)
	}
}

func TestIncidentJSONRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	inc := incidentAt(t, TriggerPositive, IncidentLabSent, cfg)
	must(t, inc.RequestRetest("张记", gcms, act(oper, at(4*time.Hour)), cfg))
	enc := jsonOf(t, inc)
	var back Incident
	must(t, json.Unmarshal([]byte(enc), &back))
	if jsonOf(t, back) != enc || !back.OpenedAt.Equal(inc.OpenedAt) || back.Retest.RequestedAt.Sub(inc.Retest.RequestedAt) != 0 {
		t.Errorf("round trip changed the incident:\n%s\n%s", jsonOf(t, back), enc)
	}
}
