package assay

import (
	"strings"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// ATPLimits are the RLU limits of one luminometer model:
//
//	RLU ≤ pass_max            → pass
//	pass_max < RLU ≤ fail_above → caution (re-clean and re-test)
//	RLU > fail_above          → fail (re-clean and re-test until pass or caution)
type ATPLimits struct {
	PassMax   measure.RLU `json:"pass_max" yaml:"pass_max"`
	FailAbove measure.RLU `json:"fail_above" yaml:"fail_above"`
}

// Reasons for ATP outcomes.
const (
	ReasonRecleanRetest = "reclean_and_retest"
)

// Decide applies the limits to one swab. Value is the RLU count.
func (l ATPLimits) Decide(rlu measure.RLU) Outcome {
	out := Outcome{Unit: "RLU", Value: float64(rlu)}
	switch {
	case rlu <= l.PassMax:
		out.Verdict = Pass
	case rlu <= l.FailAbove:
		out.Verdict, out.Reason = Caution, ReasonRecleanRetest
	default:
		out.Verdict, out.Reason = Fail, ReasonRecleanRetest
	}
	return out
}

// ATPRule holds the default limits and the limits per luminometer model
// (the RLU scale is the manufacturer's, so limits are model specific; select
// a model's with [Rules.ForModel]).
type ATPRule struct {
	Default ATPLimits            `json:"default" yaml:"default"`
	Models  map[string]ATPLimits `json:"models,omitempty" yaml:"models,omitempty"`
}

// DefaultATPRule returns the Hygiena SystemSURE Plus / EnSURE defaults
// (pass ≤ 10, caution 11–30, fail > 30 RLU), also entered for those models
// by name, and the older SystemSURE II limits (< 10 / 11–29 / ≥ 30).
func DefaultATPRule() ATPRule {
	plus := ATPLimits{PassMax: 10, FailAbove: 30}
	return ATPRule{
		Default: plus,
		Models: map[string]ATPLimits{
			"SystemSURE Plus": plus,
			"EnSURE":          plus,
			"SystemSURE II":   {PassMax: 9, FailAbove: 29},
		},
	}
}

func (l ATPLimits) validate(p *problems, at string) {
	if l.PassMax < 0 {
		p.add(at+".pass_max", "%v is negative", l.PassMax)
	}
	if l.FailAbove < l.PassMax {
		p.add(at+".fail_above", "%v is below pass_max %v: the fail limit must not be below the pass limit", l.FailAbove, l.PassMax)
	}
}

func (r ATPRule) validate(p *problems, at string) {
	r.Default.validate(p, at+".default")
	for _, k := range sortedKeys(r.Models) {
		r.Models[k].validate(p, at+".models."+k)
	}
}

// FryingOilRule is the frying-oil discard rule: total polar compounds above
// max_tpc (GB 7102.1-2003 / GB 2716-2018: 27 %) or acid value above
// max_acid_value (GB 2716-2018: 5 mg KOH/g) means the oil must be discarded.
type FryingOilRule struct {
	MaxTPC       measure.Percent   `json:"max_tpc" yaml:"max_tpc"`
	MaxAcidValue measure.AcidValue `json:"max_acid_value" yaml:"max_acid_value"`
}

// Reasons for frying-oil outcomes.
const (
	ReasonTPCOverLimit       = "tpc_over_limit"
	ReasonAcidValueOverLimit = "acid_value_over_limit"
)

// DefaultFryingOilRule returns TPC ≤ 27 %, AV ≤ 5 mg KOH/g.
func DefaultFryingOilRule() FryingOilRule {
	return FryingOilRule{MaxTPC: 27 * measure.PercentUnit, MaxAcidValue: 5 * measure.MilliGramKOHPerGram}
}

// Decide fails the oil when either value present is over its limit. Value
// is the TPC in % when measured, else the acid value in mg KOH/g; Reason
// lists every limit broken, joined by "+".
func (r FryingOilRule) Decide(tpc *measure.Percent, av *measure.AcidValue) Outcome {
	out := Outcome{Verdict: Pass}
	if tpc != nil {
		out.Value, out.Unit = round2(tpc.Float()), "%TPC"
	} else if av != nil {
		out.Value, out.Unit = round2(av.Float()), "mg KOH/g"
	}
	var reasons []string
	if tpc != nil && *tpc > r.MaxTPC {
		reasons = append(reasons, ReasonTPCOverLimit)
	}
	if av != nil && *av > r.MaxAcidValue {
		reasons = append(reasons, ReasonAcidValueOverLimit)
	}
	if len(reasons) > 0 {
		out.Verdict, out.Reason = Fail, strings.Join(reasons, "+")
	}
	return out
}

func (r FryingOilRule) validate(p *problems, at string) {
	if r.MaxTPC <= 0 || r.MaxTPC > measure.Whole {
		p.add(at+".max_tpc", "%v is outside (0 %%, 100 %%]; the national limit is 27 %%", r.MaxTPC)
	}
	if r.MaxAcidValue <= 0 {
		p.add(at+".max_acid_value", "%v must be above 0; the national limit is 5 mg KOH/g", r.MaxAcidValue)
	}
}
