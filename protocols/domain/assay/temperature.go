package assay

import (
	"fmt"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// TemperatureRule holds the cooking, holding and cold-chain limits
// (DOMAIN §1.6; defaults from the 2018 操作规范 as generally cited,
// [UNVERIFIED], hence configurable):
//
//	core_temperature:  core ≥ core_min (70 °C)                → pass, else fail
//	hot_holding:       T > hot_above (60 °C)                  → pass, else fail
//	cold_holding:      cold_min (0 °C) ≤ T ≤ cold_max (8 °C)  → pass;
//	                   above cold_max → fail; below cold_min → caution
//	frozen:            T ≤ frozen_max (−12 °C)                → pass, else fail
//	surface_temperature: recorded, never decided (verdict "na")
//
// Older rules use cold_max 10 °C; the cold chain uses frozen_max −18 °C.
// Below cold_min is a caution rather than a failure [ASSUMPTION]: chilled
// food that freezes is a quality problem, not a hazard.
//
// The cooking rule needs a core (probe) temperature. An infrared
// thermometer measures the surface, which is recorded as SurfaceTemp and
// never decides any rule. The holding rules decide on the food's core
// temperature when a probe measured it, else on the air temperature of the
// cabinet or cold room.
type TemperatureRule struct {
	CoreMin   measure.Temperature `json:"core_min" yaml:"core_min"`
	HotAbove  measure.Temperature `json:"hot_above" yaml:"hot_above"`
	ColdMin   measure.Temperature `json:"cold_min" yaml:"cold_min"`
	ColdMax   measure.Temperature `json:"cold_max" yaml:"cold_max"`
	FrozenMax measure.Temperature `json:"frozen_max" yaml:"frozen_max"`
}

// DefaultTemperatureRule returns core ≥ 70 °C, hot > 60 °C, cold 0–8 °C,
// frozen ≤ −12 °C.
func DefaultTemperatureRule() TemperatureRule {
	return TemperatureRule{
		CoreMin:   70 * measure.Celsius,
		HotAbove:  60 * measure.Celsius,
		ColdMin:   0,
		ColdMax:   8 * measure.Celsius,
		FrozenMax: -12 * measure.Celsius,
	}
}

// Reasons for temperature outcomes. The Source* reasons on a pass say
// which raw value decided it.
const (
	ReasonUndercooked       = "core_below_minimum"
	ReasonHotTooCool        = "hot_holding_not_above_minimum"
	ReasonColdTooWarm       = "above_cold_range"
	ReasonColdTooCold       = "below_cold_range"
	ReasonNotFrozen         = "above_frozen_maximum"
	ReasonSurfaceOnly       = "surface_temperature_not_decisive"
	SourceCoreTemperature   = "core_temp"
	SourceAirTemperature    = "air_temp"
	SourceSurfaceRecordOnly = "surface_temp"
)

// Decide decides one temperature reading by method. It returns
// ErrMissingRaw when the method's raw value is absent; in particular a
// core_temperature test with only a surface temperature is refused, because
// the surface never decides the cooking rule.
func (r TemperatureRule) Decide(m Method, raw Raw) (Outcome, error) {
	if m == SurfaceTemperature {
		if raw.SurfaceTemp == nil {
			return Outcome{}, fmt.Errorf("%w: %s needs surface_temp", ErrMissingRaw, m)
		}
		return Outcome{Verdict: NotDecided, Value: round2(raw.SurfaceTemp.Float()), Unit: "°C", Reason: ReasonSurfaceOnly}, nil
	}
	var t measure.Temperature
	src := SourceCoreTemperature
	switch {
	case raw.CoreTemp != nil:
		t = *raw.CoreTemp
	case m != CoreTemperature && raw.AirTemp != nil:
		t, src = *raw.AirTemp, SourceAirTemperature
	case m == CoreTemperature:
		return Outcome{}, fmt.Errorf("%w: %s needs core_temp from a probe (a surface temperature never decides the cooking rule)", ErrMissingRaw, m)
	default:
		return Outcome{}, fmt.Errorf("%w: %s needs core_temp or air_temp", ErrMissingRaw, m)
	}
	out := Outcome{Verdict: Pass, Value: round2(t.Float()), Unit: "°C", Reason: src}
	fail := func(v Verdict, reason string) (Outcome, error) {
		out.Verdict, out.Reason = v, reason
		return out, nil
	}
	switch m {
	case CoreTemperature:
		if t < r.CoreMin {
			return fail(Fail, ReasonUndercooked)
		}
	case HotHolding:
		if t <= r.HotAbove {
			return fail(Fail, ReasonHotTooCool)
		}
	case ColdHolding:
		if t > r.ColdMax {
			return fail(Fail, ReasonColdTooWarm)
		}
		if t < r.ColdMin {
			return fail(Caution, ReasonColdTooCold)
		}
	case Frozen:
		if t > r.FrozenMax {
			return fail(Fail, ReasonNotFrozen)
		}
	default:
		return Outcome{}, fmt.Errorf("%w: %q is not a temperature method", ErrUnknownMethod, m)
	}
	return out, nil
}

func (r TemperatureRule) validate(p *problems, at string) {
	plausible := func(field string, t measure.Temperature) {
		if t < -60*measure.Celsius || t > 150*measure.Celsius {
			p.add(at+"."+field, "%v is outside −60…150 °C; write it in °C", t)
		}
	}
	plausible("core_min", r.CoreMin)
	plausible("hot_above", r.HotAbove)
	plausible("cold_min", r.ColdMin)
	plausible("cold_max", r.ColdMax)
	plausible("frozen_max", r.FrozenMax)
	if r.ColdMin >= r.ColdMax {
		p.add(at+".cold_min", "%v is not below cold_max %v", r.ColdMin, r.ColdMax)
	}
	if r.FrozenMax >= r.ColdMax {
		p.add(at+".frozen_max", "%v is not below cold_max %v: frozen storage must be colder than chilled", r.FrozenMax, r.ColdMax)
	}
	if r.HotAbove <= r.ColdMax {
		p.add(at+".hot_above", "%v is not above cold_max %v", r.HotAbove, r.ColdMax)
	}
	if r.CoreMin <= r.ColdMax {
		p.add(at+".core_min", "%v is not above cold_max %v", r.CoreMin, r.ColdMax)
	}
}

// RetentionRule is the retained-sample (留样) rule: each dish at least
// min_mass (125 g), kept at least min_hours (48 h) in a dedicated
// refrigerator. Stricter local rules (e.g. 200 g) raise the minimums.
type RetentionRule struct {
	MinMass  measure.Mass `json:"min_mass" yaml:"min_mass"`
	MinHours int64        `json:"min_hours" yaml:"min_hours"`
}

// DefaultRetentionRule returns 125 g, 48 h.
func DefaultRetentionRule() RetentionRule {
	return RetentionRule{MinMass: 125 * measure.Gram, MinHours: 48}
}

// Reasons for retention outcomes.
const (
	ReasonMassBelowMinimum = "mass_below_minimum"
	ReasonDiscardedEarly   = "discarded_early"
)

// Decide checks a retained sample: mass when it is stored (kept nil), and
// also the keeping time when it is discarded. Value is the mass in g when
// given, else the hours kept.
func (r RetentionRule) Decide(mass *measure.Mass, keptHours *int64) Outcome {
	out := Outcome{Verdict: Pass}
	if mass != nil {
		out.Value, out.Unit = round2(mass.Float()), "g"
	} else if keptHours != nil {
		out.Value, out.Unit = float64(*keptHours), "h"
	}
	switch {
	case mass != nil && *mass < r.MinMass:
		out.Verdict, out.Reason = Fail, ReasonMassBelowMinimum
	case keptHours != nil && *keptHours < r.MinHours:
		out.Verdict, out.Reason = Fail, ReasonDiscardedEarly
	}
	return out
}

func (r RetentionRule) validate(p *problems, at string) {
	if r.MinMass <= 0 {
		p.add(at+".min_mass", "%v must be above 0 g; the national minimum is 125 g", r.MinMass)
	}
	if r.MinHours <= 0 {
		p.add(at+".min_hours", "%d must be above 0 h; the national minimum is 48 h", r.MinHours)
	}
}
