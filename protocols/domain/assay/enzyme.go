package assay

import (
	"math"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// EnzymeRule is the GB/T 5009.199 decision rule:
//
//	inhibition I = (ΔA0 − ΔAt) / ΔA0
//
// where ΔA0 is the control's absorbance change and ΔAt the sample's. The
// result is invalid when ΔA0 ≤ 0 (no enzyme activity in the control) or
// I > 100 %; I < 0 is clamped to 0 (the DY-3500 vendor software does the
// same). I ≥ PositiveAt is positive and must be repeated RepeatsOnPositive
// times; SuspiciousAt ≤ I < PositiveAt is suspicious (vendor practice, not
// in the standard); below that, negative.
type EnzymeRule struct {
	// PositiveAt is the inhibition at or above which a sample is positive.
	// Default 50 %.
	PositiveAt measure.Percent `json:"positive_at" yaml:"positive_at"`
	// SuspiciousAt is the lower edge of the suspicious band. Default 40 %.
	// Set it equal to PositiveAt to disable the band.
	SuspiciousAt measure.Percent `json:"suspicious_at" yaml:"suspicious_at"`
	// MinControlDeltaA, when positive, marks results invalid whose control
	// changed by less (the "ΔA0 ≥ 0.3 in 3 min" check). [UNVERIFIED] in
	// the standard, so off (0) by default.
	MinControlDeltaA measure.Absorbance `json:"min_control_delta_a" yaml:"min_control_delta_a"`
	// RepeatsOnPositive is how many repeat tests a positive needs. Default 2.
	RepeatsOnPositive int `json:"repeats_on_positive" yaml:"repeats_on_positive"`
}

// DefaultEnzymeRule returns the rule with the defaults: positive at 50 %,
// suspicious from 40 %, control check off, two repeats on a positive.
func DefaultEnzymeRule() EnzymeRule {
	return EnzymeRule{
		PositiveAt:        50 * measure.PercentUnit,
		SuspiciousAt:      40 * measure.PercentUnit,
		RepeatsOnPositive: 2,
	}
}

// Reasons an enzyme result is invalid.
const (
	ReasonControlNotPositive = "control_not_positive" // ΔA0 ≤ 0
	ReasonControlTooWeak     = "control_too_weak"     // ΔA0 < MinControlDeltaA
	ReasonInhibitionOver100  = "inhibition_over_100"  // I > 100 % (ΔAt < 0)
)

// Inhibition returns the inhibition rate for a control change c and a sample
// change s, rounded to the nearest millionth, clamped at 0 below. ok is false
// when c ≤ 0 (no rate can be computed).
func Inhibition(c, s measure.Absorbance) (rate measure.Percent, ok bool) {
	if c <= 0 {
		return 0, false
	}
	num := int64(c) - int64(s)
	if num <= 0 {
		return 0, true
	}
	// num/c in millionths; both fit easily in float64's exact range for any
	// realistic absorbance, and Round makes the result deterministic.
	return measure.Percent(math.Round(float64(num) * float64(measure.Whole) / float64(c))), true
}

// Decide applies the rule to a control change c and a sample change s.
func (r EnzymeRule) Decide(c, s measure.Absorbance) Outcome {
	out := Outcome{Unit: "%"}
	rate, ok := Inhibition(c, s)
	switch {
	case !ok:
		out.Verdict, out.Reason = Invalid, ReasonControlNotPositive
		return out
	case r.MinControlDeltaA > 0 && c < r.MinControlDeltaA:
		out.Verdict, out.Reason = Invalid, ReasonControlTooWeak
		out.Value = round2(rate.Float())
		return out
	case rate > measure.Whole:
		out.Verdict, out.Reason = Invalid, ReasonInhibitionOver100
		return out
	}
	out.Value = round2(rate.Float())
	switch {
	case rate >= r.PositiveAt:
		out.Verdict = Positive
		out.RepeatsRequired = r.RepeatsOnPositive
	case rate >= r.SuspiciousAt:
		out.Verdict = Suspicious
	default:
		out.Verdict = Negative
	}
	return out
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
