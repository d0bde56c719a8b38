package assay

import (
	"math"
	"strings"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// GoldThresholds are the thresholds of one colloidal gold test item on one
// reader, named as in the vendor reader software (DOMAIN §1.2):
//
//	C ≤ c_thr            → invalid (no control line), whatever T is
//	line mode (消线法):   T ≤ t_a → positive;  T ≥ t_b → negative;  between → suspicious
//	ratio mode (比色法):  T/C ≤ ct_a → positive; T/C ≥ ct_b → negative; between → suspicious
//
// These strips are competitive: the analyte makes the T line fade, so a
// weak T line is the positive.
type GoldThresholds struct {
	// CThr is the control-line intensity at or below which the strip is
	// invalid.
	CThr measure.Intensity `json:"c_thr" yaml:"c_thr"`
	// TA and TB bound the suspicious band of the T-line intensity.
	TA measure.Intensity `json:"t_a" yaml:"t_a"`
	TB measure.Intensity `json:"t_b" yaml:"t_b"`
	// CTA and CTB bound the suspicious band of the T/C ratio.
	CTA measure.Ratio `json:"ct_a" yaml:"ct_a"`
	CTB measure.Ratio `json:"ct_b" yaml:"ct_b"`
}

// Reasons a gold-strip outcome carries.
const (
	ReasonNoControlLine = "no_control_line" // C ≤ c_thr
)

// DecideLine decides a strip by T-line intensity (消线法). Value is T.
func (g GoldThresholds) DecideLine(c, t measure.Intensity) Outcome {
	out := Outcome{Unit: "T", Value: round3(t.Float())}
	switch {
	case c <= g.CThr:
		out.Verdict, out.Reason = Invalid, ReasonNoControlLine
	case t <= g.TA:
		out.Verdict = Positive
	case t >= g.TB:
		out.Verdict = Negative
	default:
		out.Verdict = Suspicious
	}
	return out
}

// DecideRatio decides a strip by its T/C ratio (比色法). Value is T/C. A
// negative T (reader noise around an absent line) counts as 0.
func (g GoldThresholds) DecideRatio(c, t measure.Intensity) Outcome {
	out := Outcome{Unit: "T/C"}
	if c <= g.CThr || c <= 0 {
		out.Verdict, out.Reason = Invalid, ReasonNoControlLine
		return out
	}
	ratio, _ := measure.RatioOf(int64(max(t, 0)), int64(c))
	out.Value = round3(ratio.Float())
	switch {
	case ratio <= g.CTA:
		out.Verdict = Positive
	case ratio >= g.CTB:
		out.Verdict = Negative
	default:
		out.Verdict = Suspicious
	}
	return out
}

// GoldTable is a set of per-item thresholds with a default for items that
// have no entry.
type GoldTable struct {
	Default GoldThresholds            `json:"default" yaml:"default"`
	Items   map[string]GoldThresholds `json:"items,omitempty" yaml:"items,omitempty"`
}

// GoldRule holds the gold-strip thresholds: one table for readers on the
// default intensity scale (the reference strip reader's, see
// firmware/stripreader) and optional complete tables per reader model.
type GoldRule struct {
	GoldTable `yaml:",inline"`
	Models    map[string]GoldTable `json:"models,omitempty" yaml:"models,omitempty"`
}

// GoldAnalytes maps the Chinese item names of the common strips to the
// analyte keys of the default table, so that an item keyed in as 克伦特罗 or
// configured as "clenbuterol" finds the same thresholds.
var GoldAnalytes = map[string]string{
	"克伦特罗":    "clenbuterol",
	"盐酸克伦特罗":  "clenbuterol",
	"莱克多巴胺":   "ractopamine",
	"沙丁胺醇":    "salbutamol",
	"氯霉素":     "chloramphenicol",
	"孔雀石绿":    "malachite_green",
	"瘦肉精":     "clenbuterol",
	"β-受体激动剂": "beta_agonists",
	"β受体激动剂":  "beta_agonists",
	"黄曲霉毒素B1": "aflatoxin_b1",
}

// For returns the thresholds of an item: its own entry (by the name given,
// then by its analyte key from GoldAnalytes, case-insensitively), else the
// default.
func (t GoldTable) For(item string) GoldThresholds {
	if th, ok := t.Items[item]; ok {
		return th
	}
	key := strings.ToLower(strings.TrimSpace(item))
	if a, ok := GoldAnalytes[key]; ok {
		key = a
	}
	if th, ok := t.Items[key]; ok {
		return th
	}
	return t.Default
}

// DefaultGoldThresholds are the defaults for the reference strip reader's
// scale (line intensity 0–100, the percentage by which a line darkens the
// membrane in the green channel; see firmware/stripreader).
//
// [UNVERIFIED]: no source gave numeric reader thresholds; these encode the
// visual rule "T as dark as C or darker → negative, T clearly lighter than
// C → positive" (T/C ≥ 1.0 negative, ≤ 0.8 positive) and a control line
// that must darken the membrane by more than 10 %. Calibrate them per kit
// lot before use.
func DefaultGoldThresholds() GoldThresholds {
	return GoldThresholds{
		CThr: 10 * measure.IntensityUnit,
		TA:   15 * measure.IntensityUnit,
		TB:   25 * measure.IntensityUnit,
		CTA:  800000, // 0.8
		CTB:  measure.RatioOne,
	}
}

// DefaultGoldRule returns the default table with entries for the common
// veterinary-drug and aquaculture strips (克伦特罗, 莱克多巴胺, 沙丁胺醇,
// 氯霉素, 孔雀石绿). [UNVERIFIED] defaults: they start equal to
// DefaultGoldThresholds and exist so that each item can be tuned on its
// own in configuration.
func DefaultGoldRule() GoldRule {
	d := DefaultGoldThresholds()
	return GoldRule{GoldTable: GoldTable{
		Default: d,
		Items: map[string]GoldThresholds{
			"clenbuterol":     d,
			"ractopamine":     d,
			"salbutamol":      d,
			"chloramphenicol": d,
			"malachite_green": d,
		},
	}}
}

func (g GoldThresholds) validate(p *problems, at string) {
	if g.CThr < 0 {
		p.add(at+".c_thr", "%v is negative", g.CThr)
	}
	if g.TA < 0 {
		p.add(at+".t_a", "%v is negative", g.TA)
	}
	if g.TA > g.TB {
		p.add(at+".t_a", "%v is above t_b %v: the positive threshold must not be above the negative one (T ≤ t_a is positive, T ≥ t_b negative)", g.TA, g.TB)
	}
	if g.TB <= 0 {
		p.add(at+".t_b", "%v must be above 0, or every strip reads negative", g.TB)
	}
	if g.CTA < 0 {
		p.add(at+".ct_a", "%v is negative", g.CTA)
	}
	if g.CTA > g.CTB {
		p.add(at+".ct_a", "%v is above ct_b %v: the positive ratio must not be above the negative one (T/C ≤ ct_a is positive, T/C ≥ ct_b negative)", g.CTA, g.CTB)
	}
	if g.CTB <= 0 {
		p.add(at+".ct_b", "%v must be above 0, or every strip reads negative", g.CTB)
	}
}

func (t GoldTable) validate(p *problems, at string) {
	t.Default.validate(p, at+".default")
	for _, k := range sortedKeys(t.Items) {
		t.Items[k].validate(p, at+".items."+k)
	}
}

func (g GoldRule) validate(p *problems, at string) {
	g.GoldTable.validate(p, at)
	for _, k := range sortedKeys(g.Models) {
		g.Models[k].validate(p, at+".models."+k)
	}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
