package assurance

import (
	"testing"

	"github.com/shianfood/shian/protocols/domain/assay"
)

func TestRepeatPolicyWaits(t *testing.T) {
	p := DefaultConfig().Incident.RepeatFirst
	cases := []struct {
		name     string
		m        assay.Method
		item     string
		v        assay.Verdict
		required int
		need     int
		waits    bool
	}{
		{"enzyme positive waits for the rule's 2", assay.EnzymeInhibition, "有机磷和氨基甲酸酯类农药", assay.Positive, 2, 2, true},
		{"enzyme positive with no rule count waits for 1", assay.EnzymeInhibition, "有机磷", assay.Positive, 0, 1, true},
		{"enzyme suspicious waits for 1", assay.EnzymeInhibition, "有机磷", assay.Suspicious, 0, 1, true},
		{"gold strip positive goes at once", assay.GoldLine, "克伦特罗", assay.Positive, 0, 0, false},
		{"a banned item goes at once even by enzyme", assay.EnzymeInhibition, "孔雀石绿", assay.Positive, 2, 0, false},
		{"a temperature fail is not waited on", assay.CoreTemperature, "", assay.Fail, 0, 0, false},
		{"a negative is not waited on", assay.EnzymeInhibition, "有机磷", assay.Negative, 0, 0, false},
	}
	for _, c := range cases {
		need, waits := p.Waits(c.m, c.item, c.v, c.required)
		if need != c.need || waits != c.waits {
			t.Errorf("%s: Waits = %d, %v; want %d, %v", c.name, need, waits, c.need, c.waits)
		}
	}
	if _, waits := (RepeatPolicy{}).Waits(assay.EnzymeInhibition, "", assay.Positive, 2); waits {
		t.Error("the zero policy waits")
	}
	off := p
	off.SuspiciousRepeats = 0
	if _, waits := off.Waits(assay.EnzymeInhibition, "", assay.Suspicious, 0); waits {
		t.Error("suspicious_repeats 0 still waits for a suspicious result")
	}
}

func TestDecideRepeats(t *testing.T) {
	P, S, N, I := assay.Positive, assay.Suspicious, assay.Negative, assay.Invalid
	cases := []struct {
		initial assay.Verdict
		needed  int
		repeats []assay.Verdict
		want    RepeatState
		left    int
	}{
		{P, 2, nil, RepeatAwaiting, 2},
		{P, 2, []assay.Verdict{P}, RepeatAwaiting, 1},
		{P, 2, []assay.Verdict{P, I}, RepeatAwaiting, 1},
		{P, 2, []assay.Verdict{P, I, P}, RepeatReproduced, 0},
		{P, 2, []assay.Verdict{P, N}, RepeatNotReproduced, 0},
		{P, 2, []assay.Verdict{S}, RepeatNotReproduced, 0},
		{P, 2, []assay.Verdict{P, P, N}, RepeatReproduced, 0}, // a third repeat is not asked for
		{S, 1, nil, RepeatAwaiting, 1},
		{S, 1, []assay.Verdict{I}, RepeatAwaiting, 1},
		{S, 1, []assay.Verdict{S}, RepeatReproduced, 0},
		{S, 1, []assay.Verdict{P}, RepeatReproduced, 0},
		{S, 1, []assay.Verdict{N}, RepeatNotReproduced, 0},
	}
	for _, c := range cases {
		got, left := DecideRepeats(c.initial, c.needed, c.repeats)
		if got != c.want || left != c.left {
			t.Errorf("DecideRepeats(%s, %d, %v) = %s, %d; want %s, %d", c.initial, c.needed, c.repeats, got, left, c.want, c.left)
		}
	}
	for _, s := range RepeatStates() {
		if s.Dispatches() != (s == RepeatReproduced || s == RepeatOverdue) {
			t.Errorf("%s.Dispatches() = %v", s, s.Dispatches())
		}
	}
}
