package assurance

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// day1 and day2 are 2026-10-01 and 2026-10-02 at hh:mm CST.
func day1(hm time.Duration) time.Time { return t0.Add(-9*time.Hour + hm) }
func day2(hm time.Duration) time.Time { return day1(24*time.Hour + hm) }

const (
	h = time.Hour
	m = time.Minute
)

// walk applies steps to an incident, failing the test on error.
func walk(t testing.TB, inc *Incident, cfg Config, steps ...IncidentStep) {
	t.Helper()
	for _, s := range steps {
		must(t, inc.Apply(s, cfg))
	}
}

func step(to IncidentState, a Actor, when time.Time) IncidentStep {
	return IncidentStep{To: to, Act: Act{Actor: a, At: when, Note: "ok", Evidence: evidence("record")}, TeamID: "T1",
		Controls: []ControlMeasure{ControlSealed}, Lab: labSubmission}
}

func openAt(t testing.TB, id string, tr Trigger) Incident {
	t.Helper()
	inc, err := OpenIncident(id, tr, act(oper, tr.ObservedAt))
	must(t, err)
	return inc
}

func rapidTrigger(result, event string, when time.Time) Trigger {
	return Trigger{Kind: TriggerPositive, EventID: event, SubjectID: "stall", ResultID: result, Verdict: assay.Positive, ObservedAt: when}
}

// kpiExample is the worked example of the package doc, computed by hand in
// the comments of TestKPIWorkedExample.
func kpiExample(t testing.TB) KPIInput {
	cfg := DefaultConfig()
	tests := []TestRecord{
		{"R1", "EV1", day1(9 * h), assay.Negative, "", "", ""},
		{"R2", "EV1", day1(9*h + 5*m), assay.Negative, "", "", ""},
		{"R2", "EV1", day1(9*h + 5*m), assay.Negative, "", "", ""}, // a resend: counted once
		{"R3", "EV1", day1(10 * h), assay.Positive, "", "", ""},
		{"R4", "EV1", day1(10*h + 30*m), assay.Suspicious, "", "", ""},
		{"R5", "EV1", day1(10*h + 40*m), assay.Invalid, "", "", ""},
		{"R6", "EV1", day1(11 * h), assay.Positive, "", "", ""},
		{"R7", "EV1", day2(9 * h), assay.Positive, "", "", assay.TierMarketSelfTest},
		{"R8", "EV1", day2(9*h + 10*m), assay.Negative, "", "", assay.TierMarketSelfTest},
		{"R9", "EV1", day2(9*h + 20*m), assay.Positive, "", "", assay.TierWholesale}, // no incident was opened
		{"R10", "EV1", day2(9*h + 30*m), assay.Pass, "", "", ""},                     // a compliance measurement
		{"R11", "", day2(10 * h), assay.Negative, "", "", ""},
	}
	// INC-3: R3 disposed after the 4-hour window, signed off, closed 48 h
	// after opening. Arrived after 20 min.
	inc3 := openAt(t, "INC-3", rapidTrigger("R3", "EV1", day1(10*h)))
	walk(t, &inc3, cfg,
		step(IncidentAssigned, cmdr, day1(10*h+2*m)), step(IncidentOnSite, insp, day1(10*h+20*m)),
		step(IncidentControlled, insp, day1(10*h+30*m)), step(IncidentDisposed, insp, day1(14*h+31*m)),
		step(IncidentSignedOff, cmdr2, day1(15*h)), step(IncidentClosed, cmdr, day2(34*h)))
	// INC-6: R6 cleared by the lab; arrived after 40 min, closed after 36 h.
	inc6 := openAt(t, "INC-6", rapidTrigger("R6", "EV1", day1(11*h)))
	walk(t, &inc6, cfg,
		step(IncidentAssigned, cmdr, day1(11*h+1*m)), step(IncidentOnSite, insp, day1(11*h+40*m)),
		step(IncidentControlled, insp, day1(11*h+50*m)), step(IncidentLabSent, insp, day1(12*h)),
		step(IncidentCleared, insp, day2(12*h)), step(IncidentSignedOff, cmdr2, day2(13*h)), step(IncidentClosed, cmdr, day2(23*h)))
	// INC-7: R7 arrived after 60 min, still controlled.
	inc7 := openAt(t, "INC-7", rapidTrigger("R7", "EV1", day2(9*h)))
	walk(t, &inc7, cfg,
		step(IncidentAssigned, cmdr, day2(9*h+5*m)), step(IncidentOnSite, insp, day2(10*h)), step(IncidentControlled, insp, day2(10*h+10*m)))
	// INC-C: a complaint at the event, assigned, nobody there yet.
	incC := openAt(t, "INC-C", Trigger{Kind: TriggerComplaint, EventID: "EV1", SubjectID: "K1", ObservedAt: day2(14 * h), Description: "腹泻投诉"})
	walk(t, &incC, cfg, step(IncidentAssigned, cmdr, day2(14*h+1*m)))
	// INC-T: a cold-room breach outside any event, opened 08:00 CST on
	// day 2 (00:00 UTC); arrived after 10 min, cleared on site, closed
	// after 1 h 30 min.
	incT := openAt(t, "INC-T", Trigger{Kind: TriggerTemperature, SubjectID: "market-1", ObservedAt: day2(8 * h)})
	walk(t, &incT, cfg,
		step(IncidentAssigned, cmdr, day2(8*h+1*m)), step(IncidentOnSite, insp, day2(8*h+10*m)),
		step(IncidentCleared, insp, day2(8*h+30*m)), step(IncidentSignedOff, cmdr2, day2(9*h)), step(IncidentClosed, cmdr, day2(9*h+30*m)))

	// Banquets: BQ1 (120 diners) filed on day 1 and checked on day 2; BQ2
	// (30 diners) filed on day 1, no guidance needed.
	bq1, _, err := FileBanquet("BQ1", banquetFiling(), act(oper, day1(9*h)), cfg)
	must(t, err)
	must(t, bq1.Apply(BanquetStep{To: BanquetGuidanceAssigned, Act: act(cmdr, day1(10*h)), TeamID: "T1"}, cfg))
	must(t, bq1.Apply(BanquetStep{To: BanquetOnSiteChecked, Act: act(insp, day2(10*h))}, cfg))
	small := banquetFiling()
	small.Headcount = 30
	bq2, _, err := FileBanquet("BQ2", small, act(oper, day1(16*h)), cfg)
	must(t, err)

	return KPIInput{
		Tests:     tests,
		Incidents: []Incident{inc3, inc6, inc7, incC, incT},
		Banquets:  []Banquet{bq1, bq2},
		Readiness: []ReadinessReport{{EventID: "EV1", Done: 16, Total: 18}},
	}
}

func TestKPIWorkedExample(t *testing.T) {
	cfg := DefaultConfig()
	rep := ComputeKPIs(kpiExample(t), cfg)

	// Tests: R1 R2 R3 R4 R6 R7 R8 R9 R11 = 9 (R2's resend, invalid R5 and
	// the pass R10 not counted). Positives R3 R6 R7 R9 = 4: 4/9 = 44.4444 %.
	// Disposal: R6 was cleared (out), R3 disposed and signed off, R7 not
	// yet, R9 has no incident: 1/3 = 33.3333 %.
	// Arrive: 20, 40, 60, 10 min → mean 32.5 min, median 30 min.
	// Close: 48 h, 36 h, 1.5 h → mean 28.5 h, median 36 h.
	// Readiness 16/18 = 88.8889 %. Banquets: 2 filed, 1 needs guidance,
	// 1 guided.
	want := KPI{
		Tests: 9, Invalid: 1, Positives: 4, Suspicious: 1,
		DetectionRate: Rate{4, 9, 444444},
		DisposalRate:  Rate{1, 3, 333333},
		Incidents:     5,
		TimeToArrive:  DurationStats{N: 4, Mean: 32*m + 30*time.Second, Median: 30 * m},
		TimeToClose:   DurationStats{N: 3, Mean: 28*h + 30*m, Median: 36 * h},
		Readiness:     Rate{16, 18, 888889},
		BanquetsFiled: 2, BanquetsGuidanceRequired: 1, BanquetsGuided: 1,
	}
	if !reflect.DeepEqual(rep.Total, want) {
		t.Errorf("total\n got %+v\nwant %+v", rep.Total, want)
	}

	// Per event. EV1: tests as above less R11; incidents INC-3, -6, -7, -C:
	// arrive 20, 40, 60 → 40/40; close 48 h, 36 h → 42/42.
	if len(rep.ByEvent) != 2 || rep.ByEvent[0].Key != "" || rep.ByEvent[1].Key != "EV1" {
		t.Fatalf("events %+v", rep.ByEvent)
	}
	ev1 := rep.ByEvent[1].KPI
	wantEV1 := KPI{
		Tests: 8, Invalid: 1, Positives: 4, Suspicious: 1,
		DetectionRate: Rate{4, 8, 500000},
		DisposalRate:  Rate{1, 3, 333333},
		Incidents:     4,
		TimeToArrive:  DurationStats{N: 3, Mean: 40 * m, Median: 40 * m},
		TimeToClose:   DurationStats{N: 2, Mean: 42 * h, Median: 42 * h},
		Readiness:     Rate{16, 18, 888889},
	}
	if !reflect.DeepEqual(ev1, wantEV1) {
		t.Errorf("EV1\n got %+v\nwant %+v", ev1, wantEV1)
	}
	none := rep.ByEvent[0].KPI
	if none.Tests != 1 || none.Incidents != 1 || none.TimeToClose.Median != 90*m || none.DetectionRate != (Rate{0, 1, 0}) || none.DisposalRate != (Rate{}) {
		t.Errorf("no event: %+v", none)
	}

	// Per day (CST).
	if len(rep.ByDay) != 2 || rep.ByDay[0].Key != "2026-10-01" || rep.ByDay[1].Key != "2026-10-02" {
		t.Fatalf("days %+v", rep.ByDay)
	}
	d1, d2 := rep.ByDay[0].KPI, rep.ByDay[1].KPI
	// Day 1: R1 R2 R3 R4 R6 = 5 tests, 2 positives (40 %); R3 disposed, R6
	// cleared → 1/1; incidents INC-3 and INC-6; two banquets filed.
	if d1.Tests != 5 || d1.DetectionRate != (Rate{2, 5, 400000}) || d1.DisposalRate != (Rate{1, 1, measure.Whole}) ||
		d1.Incidents != 2 || d1.BanquetsFiled != 2 || d1.BanquetsGuidanceRequired != 1 || d1.BanquetsGuided != 0 {
		t.Errorf("day 1: %+v", d1)
	}
	// Day 2: R7 R8 R9 R11 = 4 tests, 2 positives (50 %), 0/2 disposed;
	// incidents INC-7, INC-C, INC-T; BQ1 guided.
	if d2.Tests != 4 || d2.DetectionRate != (Rate{2, 4, 500000}) || d2.DisposalRate != (Rate{0, 2, 0}) ||
		d2.Incidents != 3 || d2.BanquetsGuided != 1 || d2.BanquetsFiled != 0 || d2.Readiness != (Rate{}) {
		t.Errorf("day 2: %+v", d2)
	}

	// Per tier, always all four in order. Regulators' rapid tests (no
	// tier named): R1 R2 R3 R4 R6 R11 = 6, positives R3 R6, R5 invalid,
	// R4 suspicious; R6 cleared, R3 disposed → 1/1. Market self-tests R7
	// R8: 1 positive of 2, R7 not disposed yet → 0/1. Wholesale R9: 1/1
	// positive, no incident → 0/1. No lab tests. Together: the total.
	var tiers []string
	sum := KPI{}
	for _, g := range rep.ByTier {
		tiers = append(tiers, g.Key)
		sum.Tests += g.Tests
		sum.Positives += g.Positives
		sum.DisposalRate.Num += g.DisposalRate.Num
		sum.DisposalRate.Den += g.DisposalRate.Den
	}
	if fmt.Sprint(tiers) != "[wholesale_market market_self_test regulator_rapid statutory_lab]" {
		t.Fatalf("tiers %v", tiers)
	}
	if w, m, r, l := rep.ByTier[0].KPI, rep.ByTier[1].KPI, rep.ByTier[2].KPI, rep.ByTier[3].KPI; w.Tests != 1 || w.DetectionRate != (Rate{1, 1, measure.Whole}) || w.DisposalRate != (Rate{0, 1, 0}) ||
		m.Tests != 2 || m.DetectionRate != (Rate{1, 2, 500000}) || m.DisposalRate != (Rate{0, 1, 0}) ||
		r.Tests != 6 || r.Invalid != 1 || r.Suspicious != 1 || r.DetectionRate != (Rate{2, 6, 333333}) || r.DisposalRate != (Rate{1, 1, measure.Whole}) ||
		l.Tests != 0 || l.DetectionRate != (Rate{}) {
		t.Errorf("by tier:\n%+v\n%+v\n%+v\n%+v", w, m, r, l)
	}
	if sum.Tests != rep.Total.Tests || sum.Positives != rep.Total.Positives || sum.DisposalRate.Num != rep.Total.DisposalRate.Num || sum.DisposalRate.Den != rep.Total.DisposalRate.Den {
		t.Errorf("the tiers do not add up to the total: %+v vs %+v", sum, rep.Total)
	}

	// Counting suspicious results in the detection rate: 5/9.
	cfg.KPI.CountSuspicious = true
	if r := ComputeKPIs(kpiExample(t), cfg).Total.DetectionRate; r != (Rate{5, 9, 555556}) {
		t.Errorf("with suspicious: %+v", r)
	}
}

func TestKPIEdgeCases(t *testing.T) {
	cfg := DefaultConfig()
	rep := ComputeKPIs(KPIInput{}, cfg)
	if !reflect.DeepEqual(rep.Total, KPI{}) || len(rep.ByEvent) != 0 || len(rep.ByDay) != 0 {
		t.Errorf("empty: %+v", rep)
	}
	if s := durationStats([]time.Duration{3 * m}); s != (DurationStats{1, 3 * m, 3 * m}) {
		t.Errorf("one value: %+v", s)
	}
	if s := durationStats([]time.Duration{4 * m, 1 * m, 2 * m}); s != (DurationStats{3, 140 * time.Second, 2 * m}) {
		t.Errorf("odd: %+v", s)
	}
	if s := durationStats([]time.Duration{4 * m, 1 * m, 2 * m, 9 * m}); s != (DurationStats{4, 4 * m, 3 * m}) {
		t.Errorf("even: %+v", s)
	}
	// Late near midnight: 23:59:59 CST on 10-01 is 10-01, 00:00 CST 10-02 is 10-02.
	in := KPIInput{Tests: []TestRecord{
		{"A", "", day1(24*h - time.Second), assay.Negative, "", "", ""},
		{"B", "", day2(0), assay.Negative, "", "", ""},
	}}
	rep = ComputeKPIs(in, cfg)
	if len(rep.ByDay) != 2 || rep.ByDay[0].Key != "2026-10-01" || rep.ByDay[1].Key != "2026-10-02" {
		t.Errorf("midnight: %+v", rep.ByDay)
	}
	// In UTC both are on 10-01 (15:59:59 and 16:00 UTC).
	utc := cfg
	utc.KPI.UTCOffset = 0
	if rep := ComputeKPIs(in, utc); len(rep.ByDay) != 1 || rep.ByDay[0].Key != "2026-10-01" || rep.ByDay[0].Tests != 2 {
		t.Errorf("UTC days: %+v", rep.ByDay)
	}
	// Two incidents for one result: the first opened counts.
	cfgd := DefaultConfig()
	first := openAt(t, "I1", rapidTrigger("R", "", day1(10*h)))
	walk(t, &first, cfgd, step(IncidentAssigned, cmdr, day1(10*h+m)), step(IncidentOnSite, insp, day1(10*h+2*m)),
		step(IncidentControlled, insp, day1(10*h+3*m)), step(IncidentDisposed, insp, day1(15*h)), step(IncidentSignedOff, cmdr2, day1(16*h)))
	second := openAt(t, "I2", rapidTrigger("R", "", day1(10*h+30*m)))
	r := ComputeKPIs(KPIInput{Tests: []TestRecord{{"R", "", day1(10 * h), assay.Positive, "", "", ""}}, Incidents: []Incident{second, first}}, cfgd)
	if r.Total.DisposalRate != (Rate{1, 1, measure.Whole}) {
		t.Errorf("duplicate incidents: %+v", r.Total.DisposalRate)
	}
}

// TestKPICountsMatchTests: the figures from a database's counts per
// dimension plus the positives alone are the figures from the listed
// tests, in every group.
func TestKPICountsMatchTests(t *testing.T) {
	cfg := DefaultConfig()
	in := kpiExample(t)
	for i := range in.Tests {
		in.Tests[i].ZoneID = []string{"Z1", "Z2", ""}[i%3]
		in.Tests[i].Analyte = []string{"op", "clen"}[i%2]
	}
	want := ComputeKPIs(in, cfg)
	counted := in
	counted.Tests = nil
	seen := map[string]bool{}
	add := func(dim, key string, v assay.Verdict) {
		for i := range counted.Counts {
			if c := &counted.Counts[i]; c.Dim == dim && c.Key == key && c.Verdict == v {
				c.N++
				return
			}
		}
		counted.Counts = append(counted.Counts, TestCount{Dim: dim, Key: key, Verdict: v, N: 1})
	}
	for _, r := range in.Tests {
		if seen[r.ResultID] {
			continue // the database holds each result once
		}
		seen[r.ResultID] = true
		add(DimTotal, "", r.Verdict)
		add(DimEvent, r.EventID, r.Verdict)
		add(DimDay, DateOf(r.At.In(cfg.zone())).String(), r.Verdict)
		add(DimZone, r.ZoneID, r.Verdict)
		add(DimAnalyte, r.Analyte, r.Verdict)
		tier := r.Tier
		if tier == "" {
			tier = assay.TierRegulator
		}
		add(DimTier, string(tier), r.Verdict)
		if r.Verdict == assay.Positive {
			counted.Positives = append(counted.Positives, r)
		}
	}
	got := ComputeKPIs(counted, cfg)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("from counts:\n%+v\nfrom tests:\n%+v", got, want)
	}
	if len(want.ByZone) != 3 || len(want.ByAnalyte) != 2 || want.ByZone[1].Key != "Z1" {
		t.Fatalf("zones %+v analytes %+v", want.ByZone, want.ByAnalyte)
	}
}
