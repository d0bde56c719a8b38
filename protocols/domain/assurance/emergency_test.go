package assurance

import (
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

func testMeal() EventMeal {
	return EventMeal{ID: "M-1", EventID: "EV-1", KitchenID: "K-1", Meal: MealDinner, Name: "欢迎晚宴",
		Start: at(9 * time.Hour), End: at(11 * time.Hour), Diners: 300, Tables: 30,
		Dishes: []MealDish{{ID: "d1", Name: "清蒸鲈鱼", Category: CategoryHotDish}, {ID: "d2", Name: "凉拌木耳", Category: CategoryColdDish},
			{ID: "d3", Name: "扬州炒饭", Category: CategoryStaple}}}
}

func TestDutyLogRetentionRules(t *testing.T) {
	cfg := DefaultConfig()
	m := testMeal()
	must(t, m.Validate())
	var l DutyLog
	sample := func(dish string, g int64, when time.Time) RetainedSample {
		return RetainedSample{DishID: dish, Mass: measure.Mass(g) * measure.Gram, At: when, FridgeID: "F-1", By: "张师傅", RecordedBy: "insp-1"}
	}
	wantIs(t, l.AddSample(m, sample("d1", 124, at(8*time.Hour)), cfg), ErrPrecondition) // 124 g < 125 g
	must(t, l.AddSample(m, sample("d1", 125, at(8*time.Hour)), cfg))                    // 125 g inclusive
	wantIs(t, l.AddSample(m, sample("d1", 150, at(8*time.Hour)), cfg), ErrPrecondition) // a second sample of one dish
	wantIs(t, l.AddSample(m, sample("nope", 150, at(8*time.Hour)), cfg), ErrInvalid)
	must(t, l.AddSample(m, sample("d2", 200, at(8*time.Hour)), cfg))

	// Before service + grace nothing is missing yet; after it d3 is.
	if g := DutyGaps(m, l, at(9*time.Hour+29*time.Minute), cfg); hasGap(g, GapRetentionMissing) {
		t.Errorf("retention gap before the grace has passed: %v", g)
	}
	g := DutyGaps(m, l, at(9*time.Hour+30*time.Minute), cfg)
	if !hasGap(g, GapRetentionMissing) || g[0].Ref != "d3" || !g[0].Alarm() {
		t.Fatalf("gaps at service + 30 min = %+v, want d3 without a retained sample (an alarm)", g)
	}
	if !hasGap(g, GapMorningMissing) {
		t.Errorf("no morning check is a gap once service started: %v", g)
	}

	// 48 h: a discard at 47:59 is refused, at 48:00 allowed; frozen, never.
	wantIs(t, l.Discard("d1", act(insp, at(8*time.Hour+48*time.Hour-time.Minute)), cfg), ErrPrecondition)
	if n := l.Freeze("EM-1"); n != 2 {
		t.Fatalf("froze %d samples, want 2", n)
	}
	err := l.Discard("d1", act(insp, at(60*time.Hour)), cfg)
	wantIs(t, err, ErrPrecondition)
	if !strings.Contains(err.Error(), "EM-1") {
		t.Errorf("refusal %q does not name the emergency holding the sample", err)
	}
	l.Release("EM-1")
	must(t, l.Discard("d1", act(insp, at(8*time.Hour+48*time.Hour)), cfg))
	// A log corrected by hand with an early discard shows the gap.
	l.Samples[1].DiscardedAt = at(10 * time.Hour)
	if g := DutyGaps(m, l, at(12*time.Hour), cfg); !hasGap(g, GapRetentionEarly) {
		t.Errorf("early discard not reported: %v", g)
	}
}

func TestProcessChecks(t *testing.T) {
	cfg := DefaultConfig()
	m := testMeal()
	var l DutyLog
	temp := func(c float64) *measure.Temperature {
		v := measure.Temperature(c * float64(measure.Celsius))
		return &v
	}
	cases := []struct {
		c    ProcessCheck
		pass bool
	}{
		{ProcessCheck{Kind: CheckCoreTemp, DishID: "d1", Temp: temp(70)}, true},
		{ProcessCheck{Kind: CheckCoreTemp, DishID: "d1", Temp: temp(69.9)}, false},
		{ProcessCheck{Kind: CheckColdRoom, Temp: temp(25)}, true},
		{ProcessCheck{Kind: CheckColdRoom, Temp: temp(25.1)}, false},
		{ProcessCheck{Kind: CheckDisinfection, Disinfected: true, Method: "热力消毒"}, true},
		{ProcessCheck{Kind: CheckDisinfection, Disinfected: true}, false},
	}
	for _, c := range cases {
		got, err := l.AddCheck(m, c.c, cfg)
		must(t, err)
		if got.Pass != c.pass || got.Rule.ZH == "" {
			t.Errorf("%s %v: pass %v (%s), want %v", c.c.Kind, c.c.Temp, got.Pass, got.Rule.ZH, c.pass)
		}
	}
	if _, err := l.AddCheck(m, ProcessCheck{Kind: CheckCoreTemp, DishID: "d1"}, cfg); err == nil {
		t.Error("a core check without a temperature was accepted")
	}
	n := 0
	for _, g := range DutyGaps(m, l, at(0), cfg) {
		if g.Kind == GapProcessFailed {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d failed-check gaps, want 3", n)
	}
}

func TestEmergencyLevelsAndTimeline(t *testing.T) {
	cfg := DefaultConfig()
	m := testMeal()
	rep := IllnessReport{Reporter: "李监督", MealID: "M-1", Symptoms: []string{"腹泻", "呕吐"}, OnsetAt: at(13 * time.Hour), Tables: []string{"8", "12"}, Ill: 3}
	for _, c := range []struct {
		ill, severe, deaths int
		want                ResponseLevel
	}{{1, 0, 0, Level4}, {9, 0, 0, Level4}, {10, 0, 0, Level3}, {3, 1, 0, Level3}, {30, 0, 0, Level2}, {5, 0, 1, Level2}, {100, 0, 0, Level1}} {
		r := rep
		r.Ill, r.Severe, r.Deaths = c.ill, c.severe, c.deaths
		if got, _ := cfg.Emergency.LevelFor(r); got.Level != c.want {
			t.Errorf("%d ill, %d severe, %d dead: level %s, want %s", c.ill, c.severe, c.deaths, got.Level, c.want)
		}
	}
	// The plan's levels are configuration: a stricter plan opens 3 ill at III.
	cfg.Emergency.Levels[1].MinIll = 3
	must(t, cfg.Validate())
	wantIs(t, func() error {
		_, err := OpenEmergency("EM-0", rep, m, false, act(viewer, at(14*time.Hour)), cfg)
		return err
	}(), ErrForbidden)
	wantIs(t, func() error {
		_, err := OpenEmergency("EM-0", rep, m, true, act(insp, at(14*time.Hour)), cfg)
		return err
	}(), ErrForbidden)
	early := rep
	early.OnsetAt = at(8 * time.Hour)
	wantIs(t, func() error {
		_, err := OpenEmergency("EM-0", early, m, false, act(insp, at(14*time.Hour)), cfg)
		return err
	}(), ErrInvalid)

	em, err := OpenEmergency("EM-1", rep, m, false, act(insp, at(14*time.Hour)), cfg)
	must(t, err)
	if em.Level != Level3 || em.Teams != 2 || em.State != EmergencyActivated {
		t.Fatalf("opened at %s with %d teams (%s), want level_3, 2 teams, activated", em.Level, em.Teams, em.State)
	}
	sys := Actor{UserID: "system", Role: RoleCommander}
	must(t, em.Record(TLFrozen, "3", StepFrozen, act(sys, at(14*time.Hour))))
	must(t, em.Record(TLDispatched, "T-1", StepTeams, act(sys, at(14*time.Hour))))
	wantIs(t, em.CompleteStep(StepFrozen, act(insp, at(14*time.Hour+time.Minute))), ErrPrecondition)
	wantIs(t, em.CompleteStep("nope", act(insp, at(14*time.Hour+time.Minute))), ErrInvalid)
	must(t, em.CompleteStep("patients_treated", act(insp, at(14*time.Hour+10*time.Minute))))
	wantIs(t, em.CompleteStep("patients_treated", act(insp, at(14*time.Hour+11*time.Minute))), ErrPrecondition)
	if _, err := em.UpdateReport(12, 1, 0, nil, act(insp, at(14*time.Hour+20*time.Minute)), cfg); err != nil {
		t.Fatal(err)
	}
	if em.Level != Level3 {
		t.Errorf("12 ill stays level_3, got %s", em.Level)
	}
	_, err = em.UpdateReport(31, 1, 0, nil, act(insp, at(14*time.Hour+30*time.Minute)), cfg)
	must(t, err)
	if em.Level != Level2 || em.Teams != 3 {
		t.Errorf("31 ill: %s with %d teams, want level_2 with 3", em.Level, em.Teams)
	}
	wantIs(t, em.Close(Conclusion{Cause: CauseFoodPoisoning, Text: "诺如病毒"}, act(insp, at(20*time.Hour))), ErrForbidden)
	wantIs(t, em.Close(Conclusion{Cause: CauseDrillDone, Text: "x"}, act(cmdr, at(20*time.Hour))), ErrInvalid)
	wantIs(t, em.Close(Conclusion{Cause: CauseFoodPoisoning}, act(cmdr, at(20*time.Hour))), ErrInvalid)
	must(t, em.Close(Conclusion{Cause: CauseFoodPoisoning, Text: "凉拌木耳检出米酵菌酸"}, act(cmdr, at(20*time.Hour))))
	wantIs(t, em.AddNote(Act{Actor: insp, At: at(21 * time.Hour), Note: "late"}), ErrPrecondition)
	var got []string
	for _, e := range em.Timeline {
		got = append(got, e.Action)
		if l, ok := LabelOf(e.Action); !ok || l.ZH == "" {
			t.Errorf("timeline action %q has no label", e.Action)
		}
	}
	want := "report_received response_activated samples_frozen team_dispatched step_done report_updated report_updated level_changed emergency_closed"
	if strings.Join(got, " ") != want {
		t.Errorf("timeline = %s\nwant       %s", strings.Join(got, " "), want)
	}
	if em.Conclusion.Cases != 31 {
		t.Errorf("cases default to the report's count: %d", em.Conclusion.Cases)
	}
	for _, s := range em.Steps {
		if s.ID == StepFrozen && (!s.Done || s.By != "system") {
			t.Errorf("auto step %s: %+v", s.ID, s)
		}
	}
}

func TestTrainingValidate(t *testing.T) {
	tr := Training{ID: "TR-1", Topic: "食物中毒应急处置", Content: "报告程序、留样封存", Trainer: "王老师", Attendees: []string{"张三"}, At: at(0)}
	must(t, tr.Validate())
	tr.Attendees = nil
	wantIs(t, tr.Validate(), ErrInvalid)
}

func hasGap(gs []Gap, k GapKind) bool {
	for _, g := range gs {
		if g.Kind == k {
			return true
		}
	}
	return false
}
