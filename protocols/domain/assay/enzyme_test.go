package assay

import (
	"testing"

	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestInhibitionWorkedExample(t *testing.T) {
	// docs/domain.md §1.1: ΔA0 = 0.303, ΔAt = 0.131 → 56.77 %.
	rate, ok := Inhibition(303*measure.MilliAU, 131*measure.MilliAU)
	if !ok {
		t.Fatal("not ok")
	}
	if got := rate.String(); got != "56.77%" {
		t.Fatalf("inhibition = %s, want 56.77%%", got)
	}
}

func TestEnzymeDecide(t *testing.T) {
	mAU := measure.MilliAU
	r := DefaultEnzymeRule()
	cases := []struct {
		name    string
		c, s    measure.Absorbance
		verdict Verdict
		value   float64
		reason  string
		repeats int
	}{
		{"worked example positive", 303 * mAU, 131 * mAU, Positive, 56.77, "", 2},
		{"exactly 50% is positive", 400 * mAU, 200 * mAU, Positive, 50, "", 2},
		{"just below 50% is suspicious", 1000 * mAU, 500*mAU + 1, Suspicious, 50, "", 0},
		{"exactly 40% is suspicious", 500 * mAU, 300 * mAU, Suspicious, 40, "", 0},
		{"just below 40% is negative", 1000 * mAU, 600*mAU + 1, Negative, 40, "", 0},
		{"clean vegetable", 300 * mAU, 290 * mAU, Negative, 3.33, "", 0},
		{"sample above control clamps to 0", 300 * mAU, 320 * mAU, Negative, 0, "", 0},
		{"full inhibition", 300 * mAU, 0, Positive, 100, "", 2},
		{"control zero", 0, 100 * mAU, Invalid, 0, ReasonControlNotPositive, 0},
		{"control negative", -5 * mAU, 100 * mAU, Invalid, 0, ReasonControlNotPositive, 0},
		{"sample negative change, over 100%", 300 * mAU, -10 * mAU, Invalid, 0, ReasonInhibitionOver100, 0},
	}
	for _, c := range cases {
		got := r.Decide(c.c, c.s)
		if got.Verdict != c.verdict || got.Value != c.value || got.Reason != c.reason || got.RepeatsRequired != c.repeats {
			t.Errorf("%s: Decide(%v, %v) = %+v, want verdict %s value %v reason %q repeats %d",
				c.name, c.c, c.s, got, c.verdict, c.value, c.reason, c.repeats)
		}
	}
}

func TestEnzymeControlCheckConfigurable(t *testing.T) {
	r := DefaultEnzymeRule()
	weak := r.Decide(200*measure.MilliAU, 50*measure.MilliAU)
	if weak.Verdict != Positive {
		t.Fatalf("with the check off, a weak control decides normally: %+v", weak)
	}
	r.MinControlDeltaA = 300 * measure.MilliAU
	weak = r.Decide(200*measure.MilliAU, 50*measure.MilliAU)
	if weak.Verdict != Invalid || weak.Reason != ReasonControlTooWeak {
		t.Fatalf("with the check on: %+v", weak)
	}
}

func TestDecideNeedsRaw(t *testing.T) {
	rules := DefaultRules()
	if _, err := rules.Decide(EnzymeInhibition, "", Raw{ControlDeltaA: Ptr(300 * measure.MilliAU)}); err == nil {
		t.Fatal("missing sample accepted")
	}
	if _, err := rules.Decide("nonsense", "", Raw{}); err == nil {
		t.Fatal("unknown method accepted")
	}
	out, err := rules.Decide(EnzymeInhibition, "有机磷和氨基甲酸酯类农药", Raw{
		ControlDeltaA: Ptr(303 * measure.MilliAU), SampleDeltaA: Ptr(131 * measure.MilliAU)})
	if err != nil || out.Verdict != Positive {
		t.Fatalf("Decide = %+v, %v", out, err)
	}
}

func TestVerdictSeverity(t *testing.T) {
	for _, v := range []Verdict{Negative, Suspicious, Positive, Invalid, Pass, Caution, Fail} {
		if !v.Valid() {
			t.Errorf("%s not valid", v)
		}
		if zh, en := v.Label(); zh == "未知" || en == "" {
			t.Errorf("%s has no label", v)
		}
	}
	if Verdict("x").Valid() || Verdict("x").Severity() != -1 {
		t.Error("unknown verdict")
	}
	if Positive.Severity() <= Suspicious.Severity() || Suspicious.Severity() <= Negative.Severity() {
		t.Error("severity order")
	}
}
