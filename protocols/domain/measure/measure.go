// Package measure provides the physical quantities Shian reads from rapid
// food-safety instruments, as integer-backed named types.
//
// # Why integers
//
// A verdict is decided by comparing a measured quantity with a threshold
// ("inhibition ≥ 50 %", "core temperature ≥ 70 °C"). Floats make those
// comparisons depend on rounding, and they do not round-trip through JSON
// exactly. Every quantity here is an int64 count of a small fixed unit, the
// way periph.io/x/conn/v3/physic does it: an [Absorbance] of 303000 is 0.303 A,
// a [Percent] of 500000 is 50 %. Stored records and wire messages carry these
// integers; floats appear only in presentation helpers such as
// [Percent.Float].
//
// # Parsing
//
// Each type has String, which prints it with its unit, and Set, which parses
// the same notation (so a type can be a flag.Value or a config field):
//
//	var p measure.Percent
//	_ = p.Set("50%")         // p == 50 * measure.PercentUnit
//	var t measure.Temperature
//	_ = t.Set("-18°C")       // also "-18C" or "-18"
//
// JSON encoding is the plain integer; the unit is part of the field's
// documented meaning (see protocols/wire/README.md).
package measure

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Absorbance is an optical absorbance (or a change of absorbance) in
// micro absorbance units (µAU). The highest representable value is far above
// anything a photometer reports (about 9.2e12 A).
type Absorbance int64

// Absorbance units.
const (
	MicroAU Absorbance = 1
	MilliAU Absorbance = 1000 * MicroAU
	AU      Absorbance = 1000 * MilliAU
)

// Float returns the absorbance in A.
func (a Absorbance) Float() float64 { return float64(a) / float64(AU) }

// String prints the absorbance in A with three decimals, e.g. "0.303 A".
func (a Absorbance) String() string { return trimDecimal(a.Float(), 3) + " A" }

// Set parses "0.303", "0.303A" or "0.303 A".
func (a *Absorbance) Set(s string) error {
	v, err := parseScaled(s, float64(AU), "A")
	if err != nil {
		return fmt.Errorf("absorbance %q: %w (write it in A, e.g. 0.303)", s, err)
	}
	*a = Absorbance(v)
	return nil
}

// Percent is a proportion in millionths of the whole: PercentUnit (10000) is
// 1 %, Whole (1000000) is 100 %. It is used for inhibition rates, total polar
// compounds and relative humidity.
type Percent int64

// Percent units.
const (
	PPM         Percent = 1
	PercentUnit Percent = 10000 * PPM
	Whole       Percent = 100 * PercentUnit
)

// Float returns the proportion in percent (56.77 for 56.77 %).
func (p Percent) Float() float64 { return float64(p) / float64(PercentUnit) }

// String prints the percentage with two decimals, e.g. "56.77%".
func (p Percent) String() string { return trimDecimal(p.Float(), 2) + "%" }

// Set parses "50", "50%" or "50 %".
func (p *Percent) Set(s string) error {
	v, err := parseScaled(s, float64(PercentUnit), "%")
	if err != nil {
		return fmt.Errorf("percentage %q: %w (write it like 50%%)", s, err)
	}
	*p = Percent(v)
	return nil
}

// Ratio is a dimensionless ratio such as a strip's T/C in millionths:
// RatioOne (1000000) is 1.0.
type Ratio int64

// RatioOne is the ratio 1.0.
const RatioOne Ratio = 1000000

// Float returns the ratio as a float.
func (r Ratio) Float() float64 { return float64(r) / float64(RatioOne) }

// String prints the ratio with three decimals, e.g. "0.850".
func (r Ratio) String() string { return trimDecimal(r.Float(), 3) }

// Set parses "0.85".
func (r *Ratio) Set(s string) error {
	v, err := parseScaled(s, float64(RatioOne), "")
	if err != nil {
		return fmt.Errorf("ratio %q: %w (write it like 0.85)", s, err)
	}
	*r = Ratio(v)
	return nil
}

// RatioOf returns num/den as a Ratio, rounded to the nearest millionth. It
// reports false when den is zero.
func RatioOf(num, den int64) (Ratio, bool) {
	if den == 0 {
		return 0, false
	}
	return Ratio(math.Round(float64(num) * float64(RatioOne) / float64(den))), true
}

// Temperature is a temperature in milli-degrees Celsius. Celsius rather than
// kelvin because every food-safety rule is written in °C.
type Temperature int64

// Temperature units.
const (
	MilliCelsius Temperature = 1
	Celsius      Temperature = 1000 * MilliCelsius
)

// Float returns the temperature in °C.
func (t Temperature) Float() float64 { return float64(t) / float64(Celsius) }

// String prints the temperature with one decimal, e.g. "70.0°C".
func (t Temperature) String() string { return strconv.FormatFloat(t.Float(), 'f', 1, 64) + "°C" }

// Set parses "70", "70C", "70°C" or "-18 °C".
func (t *Temperature) Set(s string) error {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "C")
	s = strings.TrimSuffix(s, "℃")
	s = strings.TrimSuffix(strings.TrimSpace(s), "°")
	v, err := parseScaled(s, float64(Celsius), "")
	if err != nil {
		return fmt.Errorf("temperature %q: %w (write it in °C, e.g. 70°C)", s, err)
	}
	*t = Temperature(v)
	return nil
}

// RLU is a count of relative light units from an ATP luminometer. The scale
// depends on the instrument model, so thresholds are set per model.
type RLU int64

// String prints the count, e.g. "25 RLU".
func (r RLU) String() string { return strconv.FormatInt(int64(r), 10) + " RLU" }

// Set parses "25" or "25 RLU".
func (r *RLU) Set(s string) error {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "RLU"))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("RLU %q: not a non-negative whole number", s)
	}
	*r = RLU(v)
	return nil
}

// AcidValue is the acid value of an oil in thousandths of a mg KOH/g.
type AcidValue int64

// Acid value units.
const (
	MicroGramKOHPerGram AcidValue = 1
	MilliGramKOHPerGram AcidValue = 1000
)

// Float returns the acid value in mg KOH/g.
func (a AcidValue) Float() float64 { return float64(a) / float64(MilliGramKOHPerGram) }

// String prints the acid value, e.g. "5.00 mg KOH/g".
func (a AcidValue) String() string { return trimDecimal(a.Float(), 2) + " mg KOH/g" }

// Set parses "5", "5.0 mg KOH/g" or "5mgKOH/g".
func (a *AcidValue) Set(s string) error {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	s = strings.TrimSuffix(s, "mgKOH/g")
	v, err := parseScaled(s, float64(MilliGramKOHPerGram), "")
	if err != nil {
		return fmt.Errorf("acid value %q: %w (write it in mg KOH/g, e.g. 5)", s, err)
	}
	*a = AcidValue(v)
	return nil
}

// Mass is a mass in milligrams.
type Mass int64

// Mass units.
const (
	Milligram Mass = 1
	Gram      Mass = 1000 * Milligram
)

// Float returns the mass in grams.
func (m Mass) Float() float64 { return float64(m) / float64(Gram) }

// String prints the mass in grams, e.g. "125 g".
func (m Mass) String() string { return trimDecimal(m.Float(), 3) + " g" }

// Set parses "125", "125g" or "125 g".
func (m *Mass) Set(s string) error {
	v, err := parseScaled(s, float64(Gram), "g")
	if err != nil {
		return fmt.Errorf("mass %q: %w (write it in grams, e.g. 125 g)", s, err)
	}
	if v < 0 {
		return fmt.Errorf("mass %q: must not be negative", s)
	}
	*m = Mass(v)
	return nil
}

// Voltage is an electric potential in microvolts (ADC readings).
type Voltage int64

// Voltage units.
const (
	Microvolt Voltage = 1
	Millivolt Voltage = 1000 * Microvolt
	Volt      Voltage = 1000 * Millivolt
)

// Float returns the voltage in volts.
func (v Voltage) Float() float64 { return float64(v) / float64(Volt) }

// String prints the voltage in volts, e.g. "1.250 V".
func (v Voltage) String() string { return strconv.FormatFloat(v.Float(), 'f', 6, 64) + " V" }

// Intensity is a line intensity read from a test strip or card, in
// thousandths of the reader's own unit (its scale is reader-specific, which
// is why gold-strip thresholds are set per reader and per item).
type Intensity int64

// IntensityUnit is one unit of the reader's scale.
const IntensityUnit Intensity = 1000

// Float returns the intensity in reader units.
func (i Intensity) Float() float64 { return float64(i) / float64(IntensityUnit) }

// String prints the intensity with three decimals.
func (i Intensity) String() string { return trimDecimal(i.Float(), 3) }

// Set parses "12.5".
func (i *Intensity) Set(s string) error {
	v, err := parseScaled(s, float64(IntensityUnit), "")
	if err != nil {
		return fmt.Errorf("intensity %q: %w (write it as a number, e.g. 12.5)", s, err)
	}
	*i = Intensity(v)
	return nil
}

// parseScaled parses a decimal number with an optional unit suffix and
// returns it multiplied by scale, rounded to the nearest integer.
func parseScaled(s string, scale float64, suffix string) (int64, error) {
	s = strings.TrimSpace(s)
	if suffix != "" {
		s = strings.TrimSpace(strings.TrimSuffix(s, suffix))
	}
	if s == "" {
		return 0, fmt.Errorf("empty value")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a finite number")
	}
	v := math.Round(f * scale)
	if v > math.MaxInt64/2 || v < math.MinInt64/2 {
		return 0, fmt.Errorf("out of range")
	}
	return int64(v), nil
}

// trimDecimal formats f with at most prec decimals, keeping at least one.
func trimDecimal(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		if strings.HasSuffix(s, ".") {
			s += "0"
		}
	}
	return s
}
