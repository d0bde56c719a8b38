package profile

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// quantity is one raw quantity a profile can provide: its natural unit
// and how many of package measure's integer units make one.
type quantity struct {
	unit string
	per  int64
	set  func(r *assay.Raw, v int64)
	get  func(r assay.Raw) (int64, bool)
}

func ptrGet[T ~int64](p *T) (int64, bool) {
	if p == nil {
		return 0, false
	}
	return int64(*p), true
}

// quantities are the fields of assay.Raw by their JSON names.
var quantities = map[string]quantity{
	"control_delta_a": {"A", int64(measure.AU), func(r *assay.Raw, v int64) { r.ControlDeltaA = assay.Ptr(measure.Absorbance(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.ControlDeltaA) }},
	"sample_delta_a":  {"A", int64(measure.AU), func(r *assay.Raw, v int64) { r.SampleDeltaA = assay.Ptr(measure.Absorbance(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.SampleDeltaA) }},
	"c":               {"", int64(measure.IntensityUnit), func(r *assay.Raw, v int64) { r.C = assay.Ptr(measure.Intensity(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.C) }},
	"t":               {"", int64(measure.IntensityUnit), func(r *assay.Raw, v int64) { r.T = assay.Ptr(measure.Intensity(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.T) }},
	"rlu":             {"RLU", 1, func(r *assay.Raw, v int64) { r.RLU = assay.Ptr(measure.RLU(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.RLU) }},
	"tpc":             {"%", int64(measure.PercentUnit), func(r *assay.Raw, v int64) { r.TPC = assay.Ptr(measure.Percent(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.TPC) }},
	"acid_value":      {"mg KOH/g", int64(measure.MilliGramKOHPerGram), func(r *assay.Raw, v int64) { r.AcidValue = assay.Ptr(measure.AcidValue(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.AcidValue) }},
	"core_temp":       {"°C", int64(measure.Celsius), func(r *assay.Raw, v int64) { r.CoreTemp = assay.Ptr(measure.Temperature(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.CoreTemp) }},
	"surface_temp":    {"°C", int64(measure.Celsius), func(r *assay.Raw, v int64) { r.SurfaceTemp = assay.Ptr(measure.Temperature(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.SurfaceTemp) }},
	"air_temp":        {"°C", int64(measure.Celsius), func(r *assay.Raw, v int64) { r.AirTemp = assay.Ptr(measure.Temperature(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.AirTemp) }},
	"humidity":        {"%", int64(measure.PercentUnit), func(r *assay.Raw, v int64) { r.Humidity = assay.Ptr(measure.Percent(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.Humidity) }},
	"mass":            {"g", int64(measure.Gram), func(r *assay.Raw, v int64) { r.Mass = assay.Ptr(measure.Mass(v)) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.Mass) }},
	"kept_hours":      {"h", 1, func(r *assay.Raw, v int64) { r.KeptHours = assay.Ptr(v) }, func(r assay.Raw) (int64, bool) { return ptrGet(r.KeptHours) }},
}

// Quantities lists the raw quantity names a profile may give, sorted.
func Quantities() []string { return sortedKeys(quantities) }

// Unit returns the natural unit a quantity is written in ("°C").
func Unit(name string) string { return quantities[name].unit }

// needs says which raw quantities each method needs: all of each inner
// list, and at least one of the lists.
var needs = map[assay.Method][][]string{
	assay.EnzymeInhibition:   {{"control_delta_a", "sample_delta_a"}},
	assay.GoldLine:           {{"c", "t"}},
	assay.GoldRatio:          {{"c", "t"}},
	assay.ATP:                {{"rlu"}},
	assay.FryingOil:          {{"tpc"}, {"acid_value"}},
	assay.CoreTemperature:    {{"core_temp"}},
	assay.HotHolding:         {{"core_temp"}, {"air_temp"}},
	assay.ColdHolding:        {{"core_temp"}, {"air_temp"}},
	assay.Frozen:             {{"core_temp"}, {"air_temp"}},
	assay.SurfaceTemperature: {{"surface_temp"}},
	assay.Retention:          {{"mass"}, {"kept_hours"}},
}

// missing returns what method m needs and values lack ("" when nothing).
func missing(m assay.Method, values map[string]Field) string {
	alts := needs[m]
	for _, all := range alts {
		ok := true
		for _, q := range all {
			_, has := values[q]
			ok = ok && has
		}
		if ok {
			return ""
		}
	}
	var want []string
	for _, all := range alts {
		want = append(want, strings.Join(all, " and "))
	}
	return strings.Join(want, ", or ")
}

// Quantity is one decoded raw value, for people (the probe's output).
type Quantity struct {
	Name  string
	Value string // in the natural unit, e.g. "42.125"
	Unit  string
}

// Values lists the raw quantities set in raw, in name order, in their
// natural units.
func Values(raw assay.Raw) []Quantity {
	var out []Quantity
	for _, name := range Quantities() {
		q := quantities[name]
		v, ok := q.get(raw)
		if !ok {
			continue
		}
		r := new(big.Rat).SetFrac64(v, q.per)
		prec := 0
		for p := q.per; p > 1; p /= 10 {
			prec++
		}
		out = append(out, Quantity{Name: name, Value: trimZeros(r.FloatString(prec)), Unit: q.unit})
	}
	return out
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// toUnits converts a value in the quantity's natural unit to its integer
// unit, rounding half away from zero.
func toUnits(name string, v *big.Rat) (int64, error) {
	q := quantities[name]
	x := new(big.Rat).Mul(v, new(big.Rat).SetInt64(q.per))
	n := roundRat(x)
	if !n.IsInt64() {
		return 0, valueErr("%s %s is out of range", name, v.FloatString(3))
	}
	return n.Int64(), nil
}

// roundRat rounds half away from zero: floor((2|p| + q) / 2q) for p/q.
func roundRat(x *big.Rat) *big.Int {
	num := new(big.Int).Abs(x.Num())
	den := x.Denom()
	num.Lsh(num, 1).Add(num, den)
	q := num.Quo(num, new(big.Int).Lsh(den, 1))
	if x.Sign() < 0 {
		q.Neg(q)
	}
	return q
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// parseDecimal reads a decimal or hexadecimal number exactly.
func parseDecimal(s string, hex bool) (*big.Rat, error) {
	if hex {
		n, ok := new(big.Int).SetString(s, 16)
		if !ok {
			return nil, fmt.Errorf("%q is not a hexadecimal number", clip(s))
		}
		return new(big.Rat).SetInt(n), nil
	}
	if s == "" || strings.ContainsAny(s, "/eE") || len(s) > 40 {
		return nil, fmt.Errorf("%q is not a decimal number", clip(s))
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", clip(s))
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
