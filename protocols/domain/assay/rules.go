package assay

import (
	"errors"
	"fmt"
	"sort"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// Rules holds the decision rule of every method. The zero value is not
// useful; start from [DefaultRules] and override fields from configuration
// (decoding YAML or JSON onto a DefaultRules value overrides only the keys
// present), then call [Rules.Validate].
type Rules struct {
	Enzyme      EnzymeRule      `json:"enzyme" yaml:"enzyme"`
	Gold        GoldRule        `json:"gold" yaml:"gold"`
	ATP         ATPRule         `json:"atp" yaml:"atp"`
	FryingOil   FryingOilRule   `json:"frying_oil" yaml:"frying_oil"`
	Temperature TemperatureRule `json:"temperature" yaml:"temperature"`
	Retention   RetentionRule   `json:"retention" yaml:"retention"`
}

// DefaultRules returns the rules with the defaults of the standards and
// vendor practice recorded in the domain notes (docs/domain.md §1 and §6).
func DefaultRules() Rules {
	return Rules{
		Enzyme:      DefaultEnzymeRule(),
		Gold:        DefaultGoldRule(),
		ATP:         DefaultATPRule(),
		FryingOil:   DefaultFryingOilRule(),
		Temperature: DefaultTemperatureRule(),
		Retention:   DefaultRetentionRule(),
	}
}

// Methods lists every method Decide knows, in a stable order.
func Methods() []Method {
	return []Method{EnzymeInhibition, GoldLine, GoldRatio, ATP, FryingOil,
		CoreTemperature, HotHolding, ColdHolding, Frozen, SurfaceTemperature, Retention}
}

// Decide derives the outcome of a test of the given method (and test item,
// for methods whose thresholds are set per item) from its raw values.
//
// It returns ErrUnknownMethod for a method it does not know and
// ErrMissingRaw when the raw values the method needs are absent; a test
// that ran but cannot be concluded (a strip without a control line) is not
// an error but the [Invalid] verdict.
//
// Decide uses the model-independent thresholds. Thresholds that depend on
// the instrument model (ATP scales, a strip reader's intensity scale) are
// selected first with [Rules.ForModel].
func (r Rules) Decide(m Method, item string, raw Raw) (Outcome, error) {
	switch m {
	case EnzymeInhibition:
		if raw.ControlDeltaA == nil || raw.SampleDeltaA == nil {
			return Outcome{}, fmt.Errorf("%w: %s needs control_delta_a and sample_delta_a", ErrMissingRaw, m)
		}
		return r.Enzyme.Decide(*raw.ControlDeltaA, *raw.SampleDeltaA), nil
	case GoldLine, GoldRatio:
		if raw.C == nil || raw.T == nil {
			return Outcome{}, fmt.Errorf("%w: %s needs the c and t line intensities", ErrMissingRaw, m)
		}
		th := r.Gold.For(item)
		if m == GoldLine {
			return th.DecideLine(*raw.C, *raw.T), nil
		}
		return th.DecideRatio(*raw.C, *raw.T), nil
	case ATP:
		if raw.RLU == nil {
			return Outcome{}, fmt.Errorf("%w: %s needs rlu", ErrMissingRaw, m)
		}
		return r.ATP.Default.Decide(*raw.RLU), nil
	case FryingOil:
		if raw.TPC == nil && raw.AcidValue == nil {
			return Outcome{}, fmt.Errorf("%w: %s needs tpc or acid_value", ErrMissingRaw, m)
		}
		return r.FryingOil.Decide(raw.TPC, raw.AcidValue), nil
	case CoreTemperature, HotHolding, ColdHolding, Frozen, SurfaceTemperature:
		return r.Temperature.Decide(m, raw)
	case Retention:
		if raw.Mass == nil && raw.KeptHours == nil {
			return Outcome{}, fmt.Errorf("%w: %s needs mass or kept_hours", ErrMissingRaw, m)
		}
		return r.Retention.Decide(raw.Mass, raw.KeptHours), nil
	}
	return Outcome{}, fmt.Errorf("%w: %q (known: %v)", ErrUnknownMethod, m, Methods())
}

// ForModel returns the rules to apply to a result from the given
// instrument model: where the ATP or gold-strip tables have an entry for
// the model, it replaces the default table (a model with its own scale
// needs a complete table of its own). Other rules are unchanged.
func (r Rules) ForModel(model string) Rules {
	if l, ok := r.ATP.Models[model]; ok {
		r.ATP.Default = l
	}
	if t, ok := r.Gold.Models[model]; ok {
		r.Gold.GoldTable = t
	}
	return r
}

// FieldError is a threshold that makes no sense, named by its path in the
// configuration (e.g. "gold.items.clenbuterol.t_a").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	return "assay rules: " + e.Field + ": " + e.Problem
}

// ErrBadRule is matched (with errors.Is) by every *FieldError.
var ErrBadRule = errors.New("assay rules: bad threshold")

// Is makes errors.Is(err, ErrBadRule) true.
func (e *FieldError) Is(target error) bool { return target == ErrBadRule }

// problems collects field errors.
type problems []error

func (p *problems) add(field, format string, a ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, a...)})
}

// Validate refuses thresholds that make no sense (a suspicious band above
// the positive threshold, a cold range upside down, …). The error joins one
// *FieldError per problem, each naming the configuration field and saying
// what is wrong; it is nil when the rules are usable.
func (r Rules) Validate() error {
	var p problems
	r.Enzyme.validate(&p, "enzyme")
	r.Gold.validate(&p, "gold")
	r.ATP.validate(&p, "atp")
	r.FryingOil.validate(&p, "frying_oil")
	r.Temperature.validate(&p, "temperature")
	r.Retention.validate(&p, "retention")
	return errors.Join(p...)
}

func (r EnzymeRule) validate(p *problems, at string) {
	if r.PositiveAt <= 0 || r.PositiveAt > measure.Whole {
		p.add(at+".positive_at", "%v is outside (0 %%, 100 %%]; the standard's value is 50 %%", r.PositiveAt)
	}
	if r.SuspiciousAt < 0 {
		p.add(at+".suspicious_at", "%v is negative", r.SuspiciousAt)
	}
	if r.SuspiciousAt > r.PositiveAt {
		p.add(at+".suspicious_at", "%v is above positive_at %v: the suspicious band must lie below the positive threshold (set them equal to disable it)", r.SuspiciousAt, r.PositiveAt)
	}
	if r.MinControlDeltaA < 0 {
		p.add(at+".min_control_delta_a", "%v is negative; use 0 to switch the check off", r.MinControlDeltaA)
	}
	if r.RepeatsOnPositive < 0 || r.RepeatsOnPositive > 10 {
		p.add(at+".repeats_on_positive", "%d is outside 0…10; the standard asks for 2", r.RepeatsOnPositive)
	}
}

// sortedKeys returns the keys of m in order, so errors come out stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
