package assay_test

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Decide every method from raw values with the default rules.
func Example() {
	rules := assay.DefaultRules()
	show := func(m assay.Method, item string, raw assay.Raw) {
		out, err := rules.Decide(m, item, raw)
		if err != nil {
			fmt.Println(m, "error:", err)
			return
		}
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-19s %-10s %v %s %s", m, out.Verdict, out.Value, out.Unit, out.Reason)))
	}
	mAU := measure.MilliAU
	show(assay.EnzymeInhibition, "有机磷和氨基甲酸酯类农药", assay.Raw{
		ControlDeltaA: assay.Ptr(303 * mAU), SampleDeltaA: assay.Ptr(131 * mAU)})
	show(assay.GoldLine, "克伦特罗", assay.Raw{
		C: assay.Ptr(42 * measure.IntensityUnit), T: assay.Ptr(9 * measure.IntensityUnit)})
	show(assay.GoldRatio, "ractopamine", assay.Raw{
		C: assay.Ptr(40 * measure.IntensityUnit), T: assay.Ptr(36 * measure.IntensityUnit)})
	show(assay.ATP, "", assay.Raw{RLU: assay.Ptr(measure.RLU(25))})
	show(assay.FryingOil, "", assay.Raw{TPC: assay.Ptr(28 * measure.PercentUnit)})
	show(assay.CoreTemperature, "", assay.Raw{CoreTemp: assay.Ptr(72 * measure.Celsius)})
	show(assay.ColdHolding, "", assay.Raw{AirTemp: assay.Ptr(9 * measure.Celsius)})
	show(assay.SurfaceTemperature, "", assay.Raw{SurfaceTemp: assay.Ptr(28010 * measure.MilliCelsius)})
	show(assay.CoreTemperature, "", assay.Raw{SurfaceTemp: assay.Ptr(95 * measure.Celsius)})
	show(assay.Retention, "", assay.Raw{Mass: assay.Ptr(110 * measure.Gram)})
	// Output:
	// enzyme_inhibition   positive   56.77 %
	// gold_line           positive   9 T
	// gold_ratio          suspicious 0.9 T/C
	// atp                 caution    25 RLU reclean_and_retest
	// frying_oil          fail       28 %TPC tpc_over_limit
	// core_temperature    pass       72 °C core_temp
	// cold_holding        fail       9 °C above_cold_range
	// surface_temperature na         28.01 °C surface_temperature_not_decisive
	// core_temperature error: assay: raw value missing for this method: core_temperature needs core_temp from a probe (a surface temperature never decides the cooking rule)
	// retention           fail       110 g mass_below_minimum
}

// Override thresholds from the kiosk configuration and validate them.
func ExampleRules_Validate() {
	rules := assay.DefaultRules()
	conf := `
temperature:
  cold_max: 10°C       # an older local rule
gold:
  items:
    clenbuterol: {c_thr: 10, t_a: 30, t_b: 25, ct_a: 0.8, ct_b: 1.0}
`
	if err := yaml.Unmarshal([]byte(conf), &rules); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rules.Validate())
	// Output:
	// assay rules: gold.items.clenbuterol.t_a: 30.0 is above t_b 25.0: the positive threshold must not be above the negative one (T ≤ t_a is positive, T ≥ t_b negative)
}

// Follow an enzyme positive through its repeats.
func ExampleEnzymeRule_Retest() {
	r := assay.DefaultEnzymeRule()
	test := func(c, s int64) assay.Outcome {
		return r.Decide(measure.Absorbance(c)*measure.MilliAU, measure.Absorbance(s)*measure.MilliAU)
	}
	initial := test(303, 131) // 56.77 %
	fmt.Println(r.Retest(initial, nil, "").State)
	fmt.Println(r.Retest(initial, []assay.Outcome{test(300, 140)}, "").State)
	st := r.Retest(initial, []assay.Outcome{test(300, 140), test(310, 150)}, "")
	fmt.Println(st.State, st.Stands)
	fmt.Println(r.Retest(initial, []assay.Outcome{test(300, 250)}, "").State)
	fmt.Println(r.Retest(initial, []assay.Outcome{test(300, 140), test(310, 150)}, assay.Negative).State)
	// Output:
	// repeat_required
	// repeat_required
	// confirmation_pending true
	// not_reproduced
	// confirmed_negative
}
