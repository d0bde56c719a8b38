package assay

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/shianfood/shian/protocols/domain/measure"
)

func in(v float64) *measure.Intensity {
	return Ptr(measure.Intensity(math.Round(v * float64(measure.IntensityUnit))))
}
func degC(v float64) *measure.Temperature {
	return Ptr(measure.Temperature(math.Round(v * float64(measure.Celsius))))
}

// decideCase is one row of the boundary tables: docs/domain.md §1 and §6 rules
// at each edge, with the default thresholds.
type decideCase struct {
	name    string
	method  Method
	item    string
	raw     Raw
	verdict Verdict
	value   float64
	reason  string
}

func runDecide(t *testing.T, rules Rules, cases []decideCase) {
	t.Helper()
	for _, c := range cases {
		got, err := rules.Decide(c.method, c.item, c.raw)
		if err != nil {
			t.Errorf("%s: Decide error %v", c.name, err)
			continue
		}
		if got.Verdict != c.verdict || got.Value != c.value || got.Reason != c.reason {
			t.Errorf("%s: got %s %v %q, want %s %v %q", c.name, got.Verdict, got.Value, got.Reason, c.verdict, c.value, c.reason)
		}
	}
}

func TestDecideGold(t *testing.T) {
	// Defaults: c_thr 10, t_a 15, t_b 25, ct_a 0.8, ct_b 1.0.
	runDecide(t, DefaultRules(), []decideCase{
		{"line: C at c_thr is invalid", GoldLine, "clenbuterol", Raw{C: in(10), T: in(40)}, Invalid, 40, ReasonNoControlLine},
		{"line: C just above c_thr counts", GoldLine, "clenbuterol", Raw{C: in(10.001), T: in(40)}, Negative, 40, ""},
		{"line: T at t_a is positive", GoldLine, "克伦特罗", Raw{C: in(40), T: in(15)}, Positive, 15, ""},
		{"line: T just above t_a is suspicious", GoldLine, "克伦特罗", Raw{C: in(40), T: in(15.001)}, Suspicious, 15.001, ""},
		{"line: T just below t_b is suspicious", GoldLine, "ractopamine", Raw{C: in(40), T: in(24.999)}, Suspicious, 24.999, ""},
		{"line: T at t_b is negative", GoldLine, "莱克多巴胺", Raw{C: in(40), T: in(25)}, Negative, 25, ""},
		{"line: T line gone is positive", GoldLine, "unknown item", Raw{C: in(40), T: in(0)}, Positive, 0, ""},
		{"ratio: C absent is invalid", GoldRatio, "salbutamol", Raw{C: in(0), T: in(30)}, Invalid, 0, ReasonNoControlLine},
		{"ratio: T/C 0.8 is positive", GoldRatio, "沙丁胺醇", Raw{C: in(40), T: in(32)}, Positive, 0.8, ""},
		{"ratio: T/C just above 0.8 is suspicious", GoldRatio, "氯霉素", Raw{C: in(40), T: in(32.001)}, Suspicious, 0.8, ""},
		{"ratio: T/C 1.0 is negative", GoldRatio, "孔雀石绿", Raw{C: in(40), T: in(40)}, Negative, 1, ""},
		{"ratio: T darker than C is negative", GoldRatio, "malachite_green", Raw{C: in(30), T: in(45)}, Negative, 1.5, ""},
		{"ratio: negative T counts as 0", GoldRatio, "chloramphenicol", Raw{C: in(30), T: in(-1)}, Positive, 0, ""},
	})
}

func TestGoldPerItemAndModel(t *testing.T) {
	rules := DefaultRules()
	cl := rules.Gold.Items["clenbuterol"]
	cl.TA, cl.TB = 5*measure.IntensityUnit, 8*measure.IntensityUnit
	rules.Gold.Items["clenbuterol"] = cl
	raw := Raw{C: in(40), T: in(10)}
	for _, item := range []string{"clenbuterol", "Clenbuterol", "克伦特罗", "盐酸克伦特罗", "瘦肉精"} {
		if out, _ := rules.Decide(GoldLine, item, raw); out.Verdict != Negative {
			t.Errorf("%s uses its own thresholds: got %s", item, out.Verdict)
		}
	}
	if out, _ := rules.Decide(GoldLine, "ractopamine", raw); out.Verdict != Positive {
		t.Errorf("other items keep theirs: got %s", out.Verdict)
	}
	// A reader model with another scale (0–1000) brings its own table.
	rules.Gold.Models = map[string]GoldTable{"DY-6260": {Default: GoldThresholds{
		CThr: 100 * measure.IntensityUnit, TA: 150 * measure.IntensityUnit, TB: 250 * measure.IntensityUnit, CTA: 800000, CTB: 1000000}}}
	if out, _ := rules.ForModel("DY-6260").Decide(GoldLine, "clenbuterol", Raw{C: in(400), T: in(200)}); out.Verdict != Suspicious {
		t.Errorf("model table: got %s", out.Verdict)
	}
	if out, _ := rules.ForModel("other").Decide(GoldLine, "clenbuterol", raw); out.Verdict != Negative {
		t.Errorf("unknown model keeps the default: got %s", out.Verdict)
	}
}

func TestDecideATP(t *testing.T) {
	cases := []decideCase{
		{"0 RLU", ATP, "", Raw{RLU: Ptr(measure.RLU(0))}, Pass, 0, ""},
		{"10 RLU pass", ATP, "", Raw{RLU: Ptr(measure.RLU(10))}, Pass, 10, ""},
		{"11 RLU caution", ATP, "", Raw{RLU: Ptr(measure.RLU(11))}, Caution, 11, ReasonRecleanRetest},
		{"30 RLU caution", ATP, "", Raw{RLU: Ptr(measure.RLU(30))}, Caution, 30, ReasonRecleanRetest},
		{"31 RLU fail", ATP, "", Raw{RLU: Ptr(measure.RLU(31))}, Fail, 31, ReasonRecleanRetest},
	}
	runDecide(t, DefaultRules(), cases)
	runDecide(t, DefaultRules().ForModel("EnSURE"), cases)
	// SystemSURE II: < 10 pass, ≥ 30 fail.
	runDecide(t, DefaultRules().ForModel("SystemSURE II"), []decideCase{
		{"II: 9 pass", ATP, "", Raw{RLU: Ptr(measure.RLU(9))}, Pass, 9, ""},
		{"II: 10 caution", ATP, "", Raw{RLU: Ptr(measure.RLU(10))}, Caution, 10, ReasonRecleanRetest},
		{"II: 30 fail", ATP, "", Raw{RLU: Ptr(measure.RLU(30))}, Fail, 30, ReasonRecleanRetest},
	})
}

func TestDecideFryingOil(t *testing.T) {
	pct := func(v float64) *measure.Percent {
		return Ptr(measure.Percent(math.Round(v * float64(measure.PercentUnit))))
	}
	av := func(v float64) *measure.AcidValue {
		return Ptr(measure.AcidValue(math.Round(v * float64(measure.MilliGramKOHPerGram))))
	}
	runDecide(t, DefaultRules(), []decideCase{
		{"TPC 27 % is still usable", FryingOil, "", Raw{TPC: pct(27)}, Pass, 27, ""},
		{"TPC 27.01 % is discarded", FryingOil, "", Raw{TPC: pct(27.01)}, Fail, 27.01, ReasonTPCOverLimit},
		{"AV 5 is usable", FryingOil, "", Raw{AcidValue: av(5)}, Pass, 5, ""},
		{"AV 5.01 is discarded", FryingOil, "", Raw{AcidValue: av(5.01)}, Fail, 5.01, ReasonAcidValueOverLimit},
		{"TPC fine, AV over", FryingOil, "", Raw{TPC: pct(20), AcidValue: av(6)}, Fail, 20, ReasonAcidValueOverLimit},
		{"both over", FryingOil, "", Raw{TPC: pct(30), AcidValue: av(6)}, Fail, 30, ReasonTPCOverLimit + "+" + ReasonAcidValueOverLimit},
	})
}

func TestDecideTemperatures(t *testing.T) {
	runDecide(t, DefaultRules(), []decideCase{
		{"core 70.0 °C cooked", CoreTemperature, "", Raw{CoreTemp: degC(70)}, Pass, 70, SourceCoreTemperature},
		{"core 69.999 °C undercooked", CoreTemperature, "", Raw{CoreTemp: degC(69.999)}, Fail, 70, ReasonUndercooked},
		{"core decides even with a hot surface", CoreTemperature, "", Raw{CoreTemp: degC(65), SurfaceTemp: degC(95)}, Fail, 65, ReasonUndercooked},
		{"hot holding 60 °C is not > 60", HotHolding, "", Raw{CoreTemp: degC(60)}, Fail, 60, ReasonHotTooCool},
		{"hot holding 60.001 °C", HotHolding, "", Raw{CoreTemp: degC(60.001)}, Pass, 60, SourceCoreTemperature},
		{"cold 8 °C", ColdHolding, "", Raw{AirTemp: degC(8)}, Pass, 8, SourceAirTemperature},
		{"cold 8.001 °C", ColdHolding, "", Raw{AirTemp: degC(8.001)}, Fail, 8.0, ReasonColdTooWarm},
		{"cold 0 °C", ColdHolding, "", Raw{CoreTemp: degC(0)}, Pass, 0, SourceCoreTemperature},
		{"cold −0.5 °C caution", ColdHolding, "", Raw{CoreTemp: degC(-0.5)}, Caution, -0.5, ReasonColdTooCold},
		{"food probe beats air", ColdHolding, "", Raw{CoreTemp: degC(9), AirTemp: degC(4)}, Fail, 9, ReasonColdTooWarm},
		{"frozen −12 °C", Frozen, "", Raw{AirTemp: degC(-12)}, Pass, -12, SourceAirTemperature},
		{"frozen −11.9 °C", Frozen, "", Raw{AirTemp: degC(-11.9)}, Fail, -11.9, ReasonNotFrozen},
		{"surface recorded only", SurfaceTemperature, "", Raw{SurfaceTemp: degC(28.01)}, NotDecided, 28.01, ReasonSurfaceOnly},
	})
	// Older rule and the cold chain.
	r := DefaultRules()
	r.Temperature.ColdMax = 10 * measure.Celsius
	r.Temperature.FrozenMax = -18 * measure.Celsius
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	runDecide(t, r, []decideCase{
		{"cold 10 °C (old rule)", ColdHolding, "", Raw{AirTemp: degC(10)}, Pass, 10, SourceAirTemperature},
		{"frozen −12 °C (cold chain)", Frozen, "", Raw{AirTemp: degC(-12)}, Fail, -12, ReasonNotFrozen},
		{"frozen −18 °C (cold chain)", Frozen, "", Raw{AirTemp: degC(-18)}, Pass, -18, SourceAirTemperature},
	})
}

func TestSurfaceNeverDecidesCooking(t *testing.T) {
	_, err := DefaultRules().Decide(CoreTemperature, "", Raw{SurfaceTemp: degC(95)})
	if !errors.Is(err, ErrMissingRaw) || !strings.Contains(err.Error(), "surface") {
		t.Fatalf("core rule on a surface reading: %v", err)
	}
	if _, err := DefaultRules().Decide(HotHolding, "", Raw{SurfaceTemp: degC(95)}); !errors.Is(err, ErrMissingRaw) {
		t.Fatalf("hot holding on a surface reading: %v", err)
	}
}

func TestDecideRetention(t *testing.T) {
	g := func(v int64) *measure.Mass { return Ptr(measure.Mass(v) * measure.Gram) }
	runDecide(t, DefaultRules(), []decideCase{
		{"125 g stored", Retention, "", Raw{Mass: g(125)}, Pass, 125, ""},
		{"124.999 g stored", Retention, "", Raw{Mass: Ptr(125*measure.Gram - 1)}, Fail, 125, ReasonMassBelowMinimum},
		{"discarded at 48 h", Retention, "", Raw{Mass: g(150), KeptHours: Ptr(int64(48))}, Pass, 150, ""},
		{"discarded at 47 h", Retention, "", Raw{Mass: g(150), KeptHours: Ptr(int64(47))}, Fail, 150, ReasonDiscardedEarly},
		{"hours only", Retention, "", Raw{KeptHours: Ptr(int64(50))}, Pass, 50, ""},
	})
	r := DefaultRules()
	r.Retention.MinMass = 200 * measure.Gram // a stricter local rule
	runDecide(t, r, []decideCase{{"150 g under a 200 g rule", Retention, "", Raw{Mass: g(150)}, Fail, 150, ReasonMassBelowMinimum}})
}

func TestEveryMethodDecidedOrMissing(t *testing.T) {
	rules := DefaultRules()
	for _, m := range Methods() {
		if _, err := rules.Decide(m, "", Raw{}); !errors.Is(err, ErrMissingRaw) {
			t.Errorf("%s with no raw: %v, want ErrMissingRaw", m, err)
		}
	}
}

func TestRetest(t *testing.T) {
	r := DefaultEnzymeRule()
	pos := Outcome{Verdict: Positive}
	neg := Outcome{Verdict: Negative}
	sus := Outcome{Verdict: Suspicious}
	inv := Outcome{Verdict: Invalid}
	cases := []struct {
		name    string
		initial Outcome
		repeats []Outcome
		lab     Verdict
		want    RetestStatus
	}{
		{"negative screen", neg, nil, "", RetestStatus{State: RetestScreened, Verdict: Negative}},
		{"suspicious screen", sus, nil, "", RetestStatus{State: RetestScreened, Verdict: Suspicious}},
		{"positive, no repeats", pos, nil, "", RetestStatus{State: RetestRepeatRequired, Verdict: Positive, RepeatsNeeded: 2}},
		{"positive, one repeat positive", pos, []Outcome{pos}, "", RetestStatus{State: RetestRepeatRequired, Verdict: Positive, RepeatsValid: 1, RepeatsPositive: 1, RepeatsNeeded: 1}},
		{"invalid repeat does not count", pos, []Outcome{pos, inv}, "", RetestStatus{State: RetestRepeatRequired, Verdict: Positive, RepeatsValid: 1, RepeatsPositive: 1, RepeatsNeeded: 1}},
		{"two repeats positive: stands", pos, []Outcome{pos, inv, pos}, "", RetestStatus{State: RetestConfirmationPending, Verdict: Positive, Stands: true, RepeatsValid: 2, RepeatsPositive: 2}},
		{"a negative repeat: not reproduced", pos, []Outcome{pos, neg}, "", RetestStatus{State: RetestNotReproduced, Verdict: Negative, RepeatsValid: 2, RepeatsPositive: 1}},
		{"first repeat negative decides at once", pos, []Outcome{neg}, "", RetestStatus{State: RetestNotReproduced, Verdict: Negative, RepeatsValid: 1}},
		{"a suspicious repeat", pos, []Outcome{sus, pos}, "", RetestStatus{State: RetestNotReproduced, Verdict: Suspicious, RepeatsValid: 2, RepeatsPositive: 1}},
		{"extra repeats beyond two are ignored", pos, []Outcome{pos, pos, neg}, "", RetestStatus{State: RetestConfirmationPending, Verdict: Positive, Stands: true, RepeatsValid: 2, RepeatsPositive: 2}},
		{"lab confirms", pos, []Outcome{pos, pos}, Positive, RetestStatus{State: RetestConfirmedPositive, Verdict: Positive, Stands: true, RepeatsValid: 2, RepeatsPositive: 2}},
		{"lab clears", pos, []Outcome{pos, pos}, Negative, RetestStatus{State: RetestConfirmedNegative, Verdict: Negative, Stands: true, RepeatsValid: 2, RepeatsPositive: 2}},
	}
	for _, c := range cases {
		if got := r.Retest(c.initial, c.repeats, c.lab); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	// With real measurements: the worked example repeated.
	m := func(c, s int64) Outcome {
		return r.Decide(measure.Absorbance(c)*measure.MilliAU, measure.Absorbance(s)*measure.MilliAU)
	}
	st := r.Retest(m(303, 131), []Outcome{m(300, 140), m(310, 150)}, "")
	if !st.Stands || st.State != RetestConfirmationPending {
		t.Errorf("worked example series: %+v", st)
	}
	r.RepeatsOnPositive = 0
	if st := r.Retest(pos, nil, ""); st.State != RetestConfirmationPending {
		t.Errorf("no repeats required: %+v", st)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultRules().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cases := []struct {
		field string
		mut   func(*Rules)
	}{
		{"enzyme.suspicious_at", func(r *Rules) { r.Enzyme.SuspiciousAt = 60 * measure.PercentUnit }},
		{"enzyme.positive_at", func(r *Rules) { r.Enzyme.PositiveAt = 0 }},
		{"enzyme.min_control_delta_a", func(r *Rules) { r.Enzyme.MinControlDeltaA = -1 }},
		{"enzyme.repeats_on_positive", func(r *Rules) { r.Enzyme.RepeatsOnPositive = -1 }},
		{"gold.items.clenbuterol.t_a", func(r *Rules) {
			th := r.Gold.Items["clenbuterol"]
			th.TA = 30 * measure.IntensityUnit
			r.Gold.Items["clenbuterol"] = th
		}},
		{"gold.default.ct_a", func(r *Rules) { r.Gold.Default.CTA = 2 * measure.RatioOne }},
		{"gold.models.X.default.t_b", func(r *Rules) { r.Gold.Models = map[string]GoldTable{"X": {}} }},
		{"atp.default.fail_above", func(r *Rules) { r.ATP.Default.FailAbove = 5 }},
		{"atp.models.EnSURE.pass_max", func(r *Rules) { r.ATP.Models["EnSURE"] = ATPLimits{PassMax: -1, FailAbove: 3} }},
		{"frying_oil.max_tpc", func(r *Rules) { r.FryingOil.MaxTPC = 0 }},
		{"frying_oil.max_acid_value", func(r *Rules) { r.FryingOil.MaxAcidValue = -1 }},
		{"temperature.cold_min", func(r *Rules) { r.Temperature.ColdMin = 9 * measure.Celsius }},
		{"temperature.frozen_max", func(r *Rules) { r.Temperature.FrozenMax = 12 * measure.Celsius }},
		{"temperature.core_min", func(r *Rules) { r.Temperature.CoreMin = 70 }},
		{"temperature.hot_above", func(r *Rules) { r.Temperature.HotAbove = 5 * measure.Celsius }},
		{"retention.min_mass", func(r *Rules) { r.Retention.MinMass = 0 }},
		{"retention.min_hours", func(r *Rules) { r.Retention.MinHours = 0 }},
	}
	for _, c := range cases {
		r := DefaultRules()
		// Fresh maps: DefaultRules shares nothing between calls.
		c.mut(&r)
		err := r.Validate()
		if err == nil {
			t.Errorf("%s: accepted", c.field)
			continue
		}
		if !errors.Is(err, ErrBadRule) || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%s: error does not name the field: %v", c.field, err)
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: not a *FieldError: %v", c.field, err)
		}
	}
}

func TestConfigOverride(t *testing.T) {
	doc := `
enzyme:
  suspicious_at: 45%
gold:
  items:
    clenbuterol: {c_thr: 8, t_a: 12, t_b: 20, ct_a: 0.7, ct_b: 0.95}
atp:
  models:
    Lumitester: {pass_max: 200 RLU, fail_above: 500}
temperature:
  cold_max: 10°C
  frozen_max: -18
retention:
  min_mass: 200 g
`
	r := DefaultRules()
	if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Enzyme.PositiveAt != 50*measure.PercentUnit || r.Enzyme.SuspiciousAt != 45*measure.PercentUnit {
		t.Errorf("enzyme: %+v", r.Enzyme)
	}
	if r.Gold.Items["clenbuterol"].TA != 12*measure.IntensityUnit || r.Gold.Items["ractopamine"].TA != 15*measure.IntensityUnit {
		t.Errorf("gold items: %+v", r.Gold.Items)
	}
	if r.Gold.Default.TB != 25*measure.IntensityUnit {
		t.Errorf("gold default lost: %+v", r.Gold.Default)
	}
	if r.ATP.Models["Lumitester"].FailAbove != 500 || r.ATP.Models["EnSURE"].PassMax != 10 {
		t.Errorf("atp: %+v", r.ATP)
	}
	if r.Temperature.ColdMax != 10*measure.Celsius || r.Temperature.CoreMin != 70*measure.Celsius {
		t.Errorf("temperature: %+v", r.Temperature)
	}
	if r.Retention.MinMass != 200*measure.Gram || r.Retention.MinHours != 48 {
		t.Errorf("retention: %+v", r.Retention)
	}
	// JSON round trip keeps every threshold.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Rules
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("json round trip:\n%s\n%s", b, b2)
	}
	if !strings.Contains(string(b), `"c_thr":8000`) || !strings.Contains(string(b), `"default":{"c_thr"`) {
		t.Errorf("json shape: %s", b)
	}
}
