package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

var inspK01 = assurance.Actor{UserID: "insp-1", Role: assurance.RoleInspector, TeamID: "T-S1"}

// mealFixture files an event with kitchen K-01 and a dinner at t0 + 2 h
// with three dishes, a stationed team and three patrol teams.
func mealFixture(t *testing.T, cfg engine.Config) (*fixture, engine.MealView) {
	t.Helper()
	f := newFixture(t, cfg)
	f.site(t, "K-01", "kitchen", at(0, 0), "C")
	ev, err := f.e.FileEvent("", filing(assurance.DateOf(t0)), assurance.Act{Actor: commander})
	if err != nil {
		t.Fatal(err)
	}
	f.team(t, "T-S1", engine.ModeStationed, "K-01", at(5, 0), true)
	f.team(t, "T-P1", engine.ModePatrol, "", at(0, 400), true)
	f.team(t, "T-P2", engine.ModePatrol, "", at(0, 900), true)
	f.team(t, "T-P3", engine.ModePatrol, "", at(0, 200), false) // off duty
	m, err := f.e.PutMeal(assurance.EventMeal{EventID: ev.ID, KitchenID: "K-01", Meal: assurance.MealDinner, Name: "欢迎晚宴",
		Start: t0.Add(2 * time.Hour), End: t0.Add(4 * time.Hour), Diners: 320, Tables: 32,
		Dishes: []assurance.MealDish{{ID: "d1", Name: "清蒸鲈鱼"}, {ID: "d2", Name: "凉拌木耳", Category: assurance.CategoryColdDish}, {ID: "d3", Name: "扬州炒饭"}}}, commander)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "M-K-01-20260501-dinner" || m.Log.TeamID != "T-S1" {
		t.Fatalf("meal %s, log of team %q", m.ID, m.Log.TeamID)
	}
	return f, m
}

func duty(t *testing.T, f *fixture, meal string, in engine.DutyEntry) engine.MealView {
	t.Helper()
	v, err := f.e.RecordDuty(meal, in, inspK01)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDutyLogAndRetentionAlarm: the stationed team logs the morning
// check, samples and checks; a dish without a sample 30 min into service
// raises retention_missing once (on the tick), and the gap shows on the
// meal.
func TestDutyLogAndRetentionAlarm(t *testing.T) {
	f, m := mealFixture(t, engine.Config{})
	duty(t, f, m.ID, engine.DutyEntry{Morning: []assurance.MorningCheck{{Worker: "王建华", Post: "厨师", Present: true, Healthy: true, HandsOK: true, Certificate: true},
		{Worker: "赵小燕", Post: "凉菜", Present: true, Healthy: false, HandsOK: true, Certificate: true, Note: "腹泻，调离"}}})
	for _, d := range []string{"d1", "d2"} {
		duty(t, f, m.ID, engine.DutyEntry{Sample: &assurance.RetainedSample{DishID: d, Mass: 150 * measure.Gram, FridgeID: "F-1", By: "李红梅", Source: assurance.SourceScale}})
	}
	_, err := f.e.RecordDuty(m.ID, engine.DutyEntry{Sample: &assurance.RetainedSample{DishID: "d3", Mass: 100 * measure.Gram, FridgeID: "F-1", By: "李红梅"}}, inspK01)
	if !errors.Is(err, assurance.ErrPrecondition) {
		t.Fatalf("100 g sample: %v", err)
	}
	core := measure.Temperature(68 * measure.Celsius)
	v := duty(t, f, m.ID, engine.DutyEntry{Check: &assurance.ProcessCheck{Kind: assurance.CheckCoreTemp, DishID: "d1", Temp: &core, Source: assurance.SourceProbe}})
	if c := v.Log.Checks[0]; c.Pass || c.RecordedBy != "insp-1" {
		t.Errorf("68 °C core check %+v", c)
	}
	if _, err := f.e.RecordDuty(m.ID, engine.DutyEntry{}, inspK01); err == nil {
		t.Error("an empty entry was accepted")
	}
	if _, err := f.e.RecordDuty(m.ID, engine.DutyEntry{Problem: &assurance.Problem{Text: "x"}}, assurance.Actor{UserID: "v", Role: assurance.RoleViewer}); !errors.Is(err, assurance.ErrForbidden) {
		t.Errorf("a viewer wrote the duty log: %v", err)
	}
	f.e.Tick()
	if a := f.rec.alarms(engine.AlarmRetention); len(a) != 0 {
		t.Fatalf("retention alarm before service: %+v", a)
	}
	f.clk.Add(2*time.Hour + 30*time.Minute)
	f.e.Tick()
	f.e.Tick()
	a := f.rec.alarms(engine.AlarmRetention)
	if len(a) != 1 || !strings.Contains(a[0].Message, "扬州炒饭") || a[0].EventID == "" {
		t.Fatalf("retention alarms %+v, want one for 扬州炒饭", a)
	}
	got, _ := f.e.Meal(m.ID)
	kinds := map[assurance.GapKind]int{}
	for _, g := range got.Gaps {
		kinds[g.Kind]++
	}
	if kinds[assurance.GapRetentionMissing] != 1 || kinds[assurance.GapUnfitWorker] != 1 || kinds[assurance.GapProcessFailed] != 1 {
		t.Errorf("gaps %+v", got.Gaps)
	}
}

// TestEmergencyFlow: three guests fall ill after the dinner; the
// emergency opens at the configured level, freezes the samples (a discard
// is refused), lists the dishes with their results, sends the two nearest
// teams on duty, and the commander closes it; the timeline has every step.
func TestEmergencyFlow(t *testing.T) {
	f, m := mealFixture(t, engine.Config{})
	for _, d := range []string{"d1", "d2", "d3"} {
		duty(t, f, m.ID, engine.DutyEntry{Sample: &assurance.RetainedSample{DishID: d, Mass: 150 * measure.Gram, FridgeID: "F-1", By: "李红梅"}})
	}
	duty(t, f, m.ID, engine.DutyEntry{Morning: []assurance.MorningCheck{{Worker: "王建华", Post: "厨师", Present: true, Healthy: true, HandsOK: true, Certificate: true}}})
	r := positive("K-01", "organophosphate_carbamate")
	r.Sample.Name, r.Verdict, r.Value = "木耳", assay.Negative, 12
	f.clk.Add(time.Hour)
	f.commit(t, r)

	f.clk.Add(3 * time.Hour)
	rep := assurance.IllnessReport{Reporter: "李监督", MealID: m.ID, Symptoms: []string{"腹泻", "呕吐"}, OnsetAt: f.clk.Now().Add(-30 * time.Minute),
		Tables: []string{"8", "12"}, Ill: 3}
	if _, err := f.e.ReportIllness(rep, true, assurance.Act{Actor: inspK01}); !errors.Is(err, assurance.ErrForbidden) {
		t.Errorf("an inspector started a drill: %v", err)
	}
	// Level IV (1 team) at the default plan: 3 ill.
	v, err := f.e.ReportIllness(rep, false, assurance.Act{Actor: inspK01})
	if err != nil {
		t.Fatal(err)
	}
	if v.Level != assurance.Level4 || len(v.Dispatches) != 1 || v.Dispatches[0].TeamID != "T-S1" {
		t.Fatalf("level %s, dispatches %+v; want level_4 and the stationed team", v.Level, v.Dispatches)
	}
	for _, d := range v.Dishes {
		if d.Sample == nil || d.Sample.FrozenBy != v.ID {
			t.Errorf("dish %s sample %+v not frozen", d.Name, d.Sample)
		}
	}
	if d := v.Dishes[1]; len(d.Results) != 1 || d.Results[0].Verdict != "negative" {
		t.Errorf("凉拌木耳 results %+v, want the 木耳 test", d.Results)
	}
	if len(v.Staff) != 1 || v.Staff[0].Name != "王建华" {
		t.Errorf("staff %+v", v.Staff)
	}
	if _, err := f.e.RecordDuty(m.ID, engine.DutyEntry{Discard: "d1"}, inspK01); !errors.Is(err, assurance.ErrPrecondition) {
		t.Errorf("discarding a frozen sample: %v", err)
	}
	if a := f.rec.alarms(engine.AlarmEmergency); len(a) != 1 || a[0].Level != 1 {
		t.Errorf("emergency alarms %+v", a)
	}
	if _, err := f.e.ActOnEmergency(v.ID, engine.EmergencyAction{Close: &assurance.Conclusion{Cause: assurance.CauseNotFood, Text: "x"}}, inspK01); !errors.Is(err, assurance.ErrForbidden) {
		t.Errorf("an inspector closed it: %v", err)
	}
	f.clk.Add(time.Minute)
	if _, err := f.e.ActOnEmergency(v.ID, engine.EmergencyAction{Step: "patients_treated", Note: "送南通市第一人民医院"}, inspK01); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Hour)
	v, err = f.e.ActOnEmergency(v.ID, engine.EmergencyAction{Close: &assurance.Conclusion{Cause: assurance.CauseNotFood, Text: "病人为同一旅行团，排除食源性"}}, commander)
	if err != nil {
		t.Fatal(err)
	}
	var tl []string
	for _, e := range v.Timeline {
		tl = append(tl, e.Action)
	}
	if got, want := strings.Join(tl, " "), "report_received response_activated samples_frozen team_dispatched step_done samples_released emergency_closed"; got != want {
		t.Errorf("timeline %s\nwant     %s", got, want)
	}
	if v.Dishes[0].Sample.FrozenBy != "" {
		t.Error("samples still frozen after the close")
	}

}

// TestEmergencyConfiguredLevel: with a plan that opens 3 ill at level III,
// the report sends the two nearest teams on duty (the stationed team of
// the kitchen and the nearer patrol team; not the off-duty one).
func TestEmergencyConfiguredLevel(t *testing.T) {
	c := assurance.DefaultConfig()
	c.Emergency.Levels[1].MinIll = 3
	f, m := mealFixture(t, engine.Config{Protocol: &c})
	f.clk.Add(3 * time.Hour)
	v, err := f.e.ReportIllness(assurance.IllnessReport{Reporter: "李监督", MealID: m.ID, Symptoms: []string{"腹痛"}, OnsetAt: f.clk.Now(), Ill: 3}, false, assurance.Act{Actor: inspK01})
	if err != nil {
		t.Fatal(err)
	}
	var teams []string
	for _, d := range v.Dispatches {
		teams = append(teams, d.TeamID)
	}
	if v.Level != assurance.Level3 || strings.Join(teams, ",") != "T-S1,T-P1" {
		t.Errorf("level %s teams %v, want level_3 with T-S1,T-P1", v.Level, teams)
	}
}

// TestDailyReport: the report's sections count the day's meals, tests by
// method and verdict, gaps and emergencies.
func TestDailyReport(t *testing.T) {
	f, m := mealFixture(t, engine.Config{})
	duty(t, f, m.ID, engine.DutyEntry{Sample: &assurance.RetainedSample{DishID: "d1", Mass: 150 * measure.Gram, FridgeID: "F-1", By: "李红梅"}})
	var rs []wire.Result
	for i, v := range []assay.Verdict{assay.Negative, assay.Negative, assay.Positive, assay.Suspicious} {
		r := positive("K-01", "organophosphate_carbamate")
		r.Seq = uint64(i + 1)
		r.Verdict = v
		r.EventID = m.EventID
		rs = append(rs, r)
	}
	// A market's self-tests of the same day, imported (no kiosk, no seq).
	for i, v := range []assay.Verdict{assay.Negative, assay.Positive} {
		r := positive("", "organophosphate_carbamate")
		r.KioskID, r.Seq, r.Verdict, r.EventID = "", 0, v, m.EventID
		r.Tier, r.Source, r.SourceRow = assay.TierMarketSelfTest, "market:M-1", fmt.Sprint("row-", i)
		rs = append(rs, r)
	}
	f.commit(t, rs...)
	f.clk.Add(3 * time.Hour)
	rep, err := f.e.BuildReport(m.EventID, assurance.DateOf(t0), "值班员")
	if err != nil {
		t.Fatal(err)
	}
	sec := map[string]engine.ReportSection{}
	for _, s := range rep.Sections {
		sec[s.ID] = s
		if len(s.Totals) != 0 && len(s.Totals) != len(s.Columns) {
			t.Errorf("section %s: %d totals for %d columns", s.ID, len(s.Totals), len(s.Columns))
		}
	}
	if got := sec["tests"].Totals[1]; got != 6 {
		t.Errorf("tests total %v, want 6 (4 rapid, 2 market self-tests)", got)
	}
	// By tier (四位一体): the kiosk's regulator rapid tests and a market's
	// self-tests, each separately, and together the total.
	tiers := sec["tiers"]
	if len(tiers.Rows) != 4 || fmt.Sprint(tiers.Totals) != "[合计 Total 6 2 1 0 33.33 % 0.00 %]" {
		t.Fatalf("tiers section: %v totals %v", tiers.Rows, tiers.Totals)
	}
	if fmt.Sprint(tiers.Rows[1]) != "[农贸市场自检 2 1 0 0 50.00 % 0.00 %]" || fmt.Sprint(tiers.Rows[2]) != "[监管部门联动快检 4 1 1 0 25.00 % 0.00 %]" ||
		fmt.Sprint(tiers.Rows[0]) != "[批发市场检测 0 0 0 0 — —]" {
		t.Errorf("tier rows: %v", tiers.Rows)
	}
	if len(sec["meals"].Rows) != 1 || sec["duty_gaps"].Totals[2] != "3" { // d2, d3 unretained, no morning check
		t.Errorf("meals %v, gaps %v", sec["meals"].Rows, sec["duty_gaps"].Totals)
	}
	if _, ok := sec["zero_incident"]; ok {
		t.Error("a daily report has the end-of-event section")
	}
	final, err := f.e.BuildReport(m.EventID, assurance.Date{}, "值班员")
	if err != nil || final.Kind != engine.ReportFinal || final.Sections[len(final.Sections)-1].ID != "zero_incident" {
		t.Fatalf("final report %v: %+v", err, final.Kind)
	}
}
