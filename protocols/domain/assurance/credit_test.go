package assurance

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestGradeTable(t *testing.T) {
	g := DefaultGradeTable()
	must(t, g.Validate())
	cases := map[int]Grade{120: GradeA, 105: GradeA, 104: GradeB, 100: GradeB, 90: GradeB, 89: GradeC, 75: GradeC, 74: GradeD, 0: GradeD, -5: GradeD}
	for score, want := range cases {
		if got := g.GradeOf(score); got != want {
			t.Errorf("GradeOf(%d) = %s, want %s", score, got, want)
		}
	}
	// The frequencies of DOMAIN §4.3.
	want := map[Grade][2]int{GradeA: {1, 1}, GradeB: {1, 2}, GradeC: {2, 3}, GradeD: {3, 4}}
	for _, r := range g {
		if r.InspectionsPerYear != want[r.Grade] || r.RoutineDays != 365/r.InspectionsPerYear[1] {
			t.Errorf("%s: %+v", r.Grade, r)
		}
	}
	bad := DefaultGradeTable()
	bad[1].MinScore = 110
	wantIs(t, bad.Validate(), ErrInvalid)
	bad = DefaultGradeTable()[:3]
	wantIs(t, bad.Validate(), ErrInvalid)
	bad = DefaultGradeTable()
	bad[0], bad[1] = bad[1], bad[0]
	wantIs(t, bad.Validate(), ErrInvalid)
	bad = DefaultGradeTable()
	bad[3].EventDays = 0
	wantIs(t, bad.Validate(), ErrInvalid)
	if GradeD.Risk() != 4 || GradeA.Risk() != 1 || Grade("E").Risk() != 0 {
		t.Error("Risk")
	}
	if g, err := ParseGrade("d"); g != GradeD || err != nil {
		t.Errorf("ParseGrade: %s %v", g, err)
	}
}

func TestCreditRules(t *testing.T) {
	cfg := DefaultConfig()
	want := map[CreditReason]int{
		CreditCleanPatrol: 1, CreditSuspicious: -2, CreditPositive: -10, CreditConfirmedPositive: -20, CreditCleared: 10,
		CreditMinorFinding: -2, CreditMajorFinding: -10, CreditRectified: 2, CreditRectificationLate: -5,
		CreditTemperatureBreach: -5, CreditComplaint: -5, CreditCertified: 10, CreditSeriouslyDishonest: 0,
	}
	for _, r := range cfg.Credit.Rules {
		if p, ok := want[r.Reason]; !ok || p != r.Points {
			t.Errorf("%s: %d points", r.Reason, r.Points)
		}
		c, err := NewCredit("B1", t0, cfg)
		must(t, err)
		if _, _, err := c.Apply(CreditEvent{Reason: r.Reason, At: at(time.Hour)}, cfg); err != nil {
			t.Errorf("%s: %v", r.Reason, err)
		}
		if r.ForceGrade == "" && c.Score != 100+r.Points {
			t.Errorf("%s: score %d", r.Reason, c.Score)
		}
	}
}

func TestCreditHistoryOnlyOnChange(t *testing.T) {
	cfg := DefaultConfig()
	c, err := NewCredit("stall-7", t0, cfg)
	must(t, err)
	if c.Score != 100 || c.Grade != GradeB || len(c.History) != 1 || c.History[0].Reason != CreditInitial || c.History[0].From != "" {
		t.Fatalf("new account %+v", c)
	}
	step := func(r CreditReason, h time.Duration) (GradeChange, bool) {
		ch, changed, err := c.Apply(CreditEvent{Reason: r, At: at(h), Ref: string(r)}, cfg)
		must(t, err)
		return ch, changed
	}
	// 100 → 90: still B, no history entry.
	if _, changed := step(CreditPositive, time.Hour); changed || len(c.History) != 1 || c.Score != 90 {
		t.Fatalf("B stays B: %+v", c)
	}
	// 90 → 80: C.
	ch, changed := step(CreditPositive, 2*time.Hour)
	if !changed || ch.From != GradeB || ch.To != GradeC || ch.Score != 80 || ch.Reason != CreditPositive || !ch.At.Equal(at(2*time.Hour)) || len(c.History) != 2 {
		t.Fatalf("B → C: %+v", ch)
	}
	// Cleared by the lab: +10 → 90, back to B.
	if ch, changed := step(CreditCleared, 3*time.Hour); !changed || ch.To != GradeB {
		t.Fatalf("C → B: %+v", ch)
	}
	// Seriously dishonest: straight to D (top of its band), whatever the score.
	if ch, changed := step(CreditSeriouslyDishonest, 4*time.Hour); !changed || ch.To != GradeD || c.Score != 74 {
		t.Fatalf("→ D: %+v score %d", ch, c.Score)
	}
	// Clean patrols climb back one point at a time.
	if _, changed := step(CreditCleanPatrol, 5*time.Hour); !changed || c.Grade != GradeC || c.Score != 75 {
		t.Fatalf("D → C at 75: %+v", c)
	}
	if len(c.Ledger) != 5 || c.Ledger[3].Points != -16 || c.Ledger[3].ScoreAfter != 74 {
		t.Errorf("ledger %+v", c.Ledger)
	}
	// Clamped at max.
	for i := range 50 {
		step(CreditCertified, time.Duration(6+i)*time.Hour)
	}
	if c.Score != cfg.Credit.Max || c.Grade != GradeA {
		t.Errorf("clamp: %d %s", c.Score, c.Grade)
	}
	_, _, err = c.Apply(CreditEvent{Reason: "bribery", At: at(100 * time.Hour)}, cfg)
	wantIs(t, err, ErrInvalid)
	_, _, err = c.Apply(CreditEvent{Reason: CreditCleanPatrol}, cfg)
	wantIs(t, err, ErrInvalid)
	_, err = NewCredit("", t0, cfg)
	wantIs(t, err, ErrInvalid)
}

// TestCreditHistoryProperty: for any sequence of events, the history has
// one entry per grade change (consecutive entries differ, each entry's From
// is the previous To), the last entry is the current grade, the grade is
// always GradeOf(score) and the score stays in bounds.
func TestCreditHistoryProperty(t *testing.T) {
	cfg := DefaultConfig()
	reasons := make([]CreditReason, len(cfg.Credit.Rules))
	for i, r := range cfg.Credit.Rules {
		reasons[i] = r.Reason
	}
	rapid.Check(t, func(rt *rapid.T) {
		c, err := NewCredit("B", t0, cfg)
		if err != nil {
			rt.Fatal(err)
		}
		n := rapid.IntRange(0, 60).Draw(rt, "n")
		changes := 0
		for i := range n {
			r := rapid.SampledFrom(reasons).Draw(rt, "reason")
			before := c.Grade
			_, changed, err := c.Apply(CreditEvent{Reason: r, At: at(time.Duration(i+1) * time.Minute)}, cfg)
			if err != nil {
				rt.Fatal(err)
			}
			if changed != (c.Grade != before) {
				rt.Fatalf("changed=%v but %s → %s", changed, before, c.Grade)
			}
			if changed {
				changes++
			}
			if c.Score < cfg.Credit.Min || c.Score > cfg.Credit.Max || c.Grade != cfg.Grades.GradeOf(c.Score) {
				rt.Fatalf("score %d grade %s", c.Score, c.Grade)
			}
		}
		if len(c.History) != changes+1 || len(c.Ledger) != n {
			rt.Fatalf("history %d entries for %d changes, ledger %d for %d events", len(c.History), changes, len(c.Ledger), n)
		}
		for i := 1; i < len(c.History); i++ {
			if c.History[i].From != c.History[i-1].To || c.History[i].From == c.History[i].To {
				rt.Fatalf("history %d: %+v after %+v", i, c.History[i], c.History[i-1])
			}
		}
		if c.History[len(c.History)-1].To != c.Grade {
			rt.Fatal("last history entry is not the current grade")
		}
	})
}

func TestDuePatrols(t *testing.T) {
	cfg := DefaultConfig()
	today := MakeDate(2026, 10, 10)
	targets := []PatrolTarget{
		{ID: "a-fresh", Grade: GradeA, LastInspected: MakeDate(2026, 1, 1)},      // due 2027-01-01
		{ID: "a-due", Grade: GradeA, LastInspected: MakeDate(2025, 10, 10)},      // due today (365 days)
		{ID: "b-late", Grade: GradeB, LastInspected: MakeDate(2026, 3, 1)},       // due 2026-08-30, 41 days late
		{ID: "c-never", Grade: GradeC},                                           // never inspected
		{ID: "d-ok", Grade: GradeD, LastInspected: MakeDate(2026, 9, 1)},         // due 2026-12-01
		{ID: "d-late", Grade: GradeD, LastInspected: MakeDate(2026, 7, 1)},       // due 2026-09-30, 10 days late
		{ID: "d-later", Grade: GradeD, LastInspected: MakeDate(2026, 6, 1)},      // due 2026-08-31, 40 days late
		{ID: "x-unknown", Grade: "", LastInspected: MakeDate(2026, 7, 1)},        // treated as D
		{ID: "c-yesterday", Grade: GradeC, LastInspected: MakeDate(2026, 10, 9)}, // not due
	}
	got := DuePatrols(targets, today, PatrolRoutine, cfg)
	var ids []string
	for i, d := range got {
		ids = append(ids, d.ID)
		if d.Priority != i+1 {
			t.Errorf("%s: priority %d", d.ID, d.Priority)
		}
	}
	want := []string{"d-later", "d-late", "x-unknown", "c-never", "b-late", "a-due"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("routine order %v, want %v", ids, want)
	}
	if got[0].DaysOverdue != 40 || got[0].DueOn != MakeDate(2026, 8, 31) || !got[3].NeverInspected || got[5].DaysOverdue != 0 || got[2].Grade != GradeD {
		t.Errorf("details %+v", got)
	}
	// During an event: D and C every day, B every 2 days, A every 3.
	got = DuePatrols(targets, today, PatrolEvent, cfg)
	ids = ids[:0]
	for _, d := range got {
		ids = append(ids, d.ID)
	}
	want = []string{"d-later", "d-late", "x-unknown", "d-ok", "c-never", "c-yesterday", "b-late", "a-due", "a-fresh"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("event order %v, want %v", ids, want)
	}
	if len(DuePatrols(nil, today, PatrolEvent, cfg)) != 0 {
		t.Error("no targets")
	}
}

func TestCreditConfigValidation(t *testing.T) {
	cfg := DefaultConfig()
	must(t, cfg.Validate())
	cfg.Credit.Initial = 200
	cfg.Credit.Rules = append(cfg.Credit.Rules, CreditRule{Reason: CreditCleanPatrol, Points: 3})
	err := cfg.Validate()
	wantIs(t, err, ErrInvalid)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Error("no ValidationError")
	}
}
