package assay

import "slices"

import "errors"

// Method names a test method family. The zero value is not a method.
type Method string

// Test methods.
const (
	// EnzymeInhibition is the GB/T 5009.199 enzyme inhibition method for
	// organophosphorus and carbamate pesticide residues in vegetables.
	EnzymeInhibition Method = "enzyme_inhibition"
	// GoldLine is a competitive colloidal gold strip read by line
	// intensity (消线法).
	GoldLine Method = "gold_line"
	// GoldRatio is a colloidal gold strip read by its T/C ratio (比色法).
	GoldRatio Method = "gold_ratio"
	// ATP is ATP bioluminescence surface hygiene, in RLU.
	ATP Method = "atp"
	// FryingOil is total polar compounds and acid value of frying oil.
	FryingOil Method = "frying_oil"
	// CoreTemperature is a probe temperature at the centre of cooked food.
	CoreTemperature Method = "core_temperature"
	// HotHolding is the temperature of food held hot.
	HotHolding Method = "hot_holding"
	// ColdHolding is a refrigerated (冷藏) temperature.
	ColdHolding Method = "cold_holding"
	// Frozen is a frozen storage (冷冻) temperature.
	Frozen Method = "frozen"
	// SurfaceTemperature is an infrared surface temperature; it is recorded
	// but never decides a cooking rule (that needs a core probe).
	SurfaceTemperature Method = "surface_temperature"
	// Retention is a retained sample (留样): mass and keeping time.
	Retention Method = "retention"
)

// Verdict is the conclusion of one test.
type Verdict string

// Verdicts. The first four are rapid-test screening results
// (GLOSSARY: 阴性 / 可疑 / 阳性（疑似）/ 无效); the next three are compliance
// measurements (合格 / 注意 / 不合格); [NotDecided] is a recorded value that
// no rule decides (仅记录).
const (
	Negative   Verdict = "negative"
	Suspicious Verdict = "suspicious"
	Positive   Verdict = "positive"
	Invalid    Verdict = "invalid"
	Pass       Verdict = "pass"
	Caution    Verdict = "caution"
	Fail       Verdict = "fail"
	// NotDecided is a measurement that is recorded but decides nothing,
	// such as an infrared surface temperature (DOMAIN "NA").
	NotDecided Verdict = "na"
)

// Severity puts every verdict on one scale: 0 fine, 1 needs attention
// (repeat, re-clean), 2 a breach that opens an incident, -1 no conclusion.
func (v Verdict) Severity() int {
	switch v {
	case Negative, Pass:
		return 0
	case Suspicious, Caution:
		return 1
	case Positive, Fail:
		return 2
	default:
		return -1
	}
}

// Verdicts returns every verdict, in the order above.
func Verdicts() []Verdict {
	return []Verdict{Negative, Suspicious, Positive, Invalid, Pass, Caution, Fail, NotDecided}
}

// Valid reports whether v is one of the defined verdicts.
func (v Verdict) Valid() bool { return slices.Contains(Verdicts(), v) }

// Label returns the on-screen label in zh-CN and en.
func (v Verdict) Label() (zh, en string) {
	switch v {
	case Negative:
		return "阴性", "Negative"
	case Suspicious:
		return "可疑", "Suspicious"
	case Positive:
		return "阳性（疑似）", "Positive (suspected)"
	case Invalid:
		return "无效", "Invalid"
	case Pass:
		return "合格", "Pass"
	case Caution:
		return "注意", "Caution"
	case Fail:
		return "不合格", "Fail"
	case NotDecided:
		return "仅记录", "Recorded only"
	}
	return "未知", "Unknown"
}

// Outcome is the decision for one set of raw values.
type Outcome struct {
	Verdict Verdict `json:"verdict"`
	// Value and Unit present the derived quantity (the inhibition rate for
	// the enzyme method) for display and export. The decision itself was
	// taken on integer quantities.
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Reason is a machine code saying why a result is invalid (or, for
	// other verdicts, which rule decided it), e.g. "control_not_positive".
	Reason string `json:"reason,omitempty"`
	// RepeatsRequired is how many repeat tests the method requires before
	// the verdict stands (2 for an enzyme result at ≥ 50 %).
	RepeatsRequired int `json:"repeats_required,omitempty"`
}

// Errors returned by Decide. They mean the input cannot be decided at all
// (as opposed to an invalid test, which is a verdict).
var (
	ErrUnknownMethod = errors.New("assay: unknown test method")
	ErrMissingRaw    = errors.New("assay: raw value missing for this method")
)
