package engine

import (
	"cmp"
	"slices"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Confirmation is how often a laboratory confirmed the rapid positives it
// was sent, in one group (a method, or a kiosk / market source).
type Confirmation struct {
	Key       string         `json:"key"`
	Checked   int            `json:"checked"`   // rapid positives or suspicious results with a lab result
	Confirmed int            `json:"confirmed"` // the lab found positive
	Cleared   int            `json:"cleared"`   // the lab found negative
	Rate      assurance.Rate `json:"rate"`      // confirmed / checked
}

// ConfirmationReport is the confirmation rate (确证率) per rapid method and
// per source of the rapid result (a kiosk, or a market's system).
type ConfirmationReport struct {
	Total    Confirmation   `json:"total"`
	ByMethod []Confirmation `json:"by_method"`
	BySource []Confirmation `json:"by_source"`
}

// Confirmations follows every laboratory result that names the rapid
// result it confirms or clears (wire.Result.Confirms) to that result, and
// counts per method and per source how often the rapid positive was
// confirmed. Scope limits it to the user's events (empty: all).
func (e *Engine) Confirmations(scope []string) (ConfirmationReport, error) {
	labOf := map[string]assay.Verdict{} // rapid result id → the lab's verdict (the latest measured)
	labAt := map[string]wire.Result{}
	err := e.res.Each(history.Filter{Tier: assay.TierLab, Events: scope}, false, func(r *wire.Result) bool {
		if r.Confirms == "" {
			return true
		}
		if prev, ok := labAt[r.Confirms]; !ok || r.MeasuredAt.After(prev.MeasuredAt) {
			labAt[r.Confirms] = *r
			labOf[r.Confirms] = r.EffectiveVerdict()
		}
		return true
	})
	if err != nil || len(labOf) == 0 {
		return ConfirmationReport{ByMethod: []Confirmation{}, BySource: []Confirmation{}}, err
	}
	total := &Confirmation{}
	methods, sources := map[string]*Confirmation{}, map[string]*Confirmation{}
	get := func(m map[string]*Confirmation, k string) *Confirmation {
		if c, ok := m[k]; ok {
			return c
		}
		c := &Confirmation{Key: k}
		m[k] = c
		return c
	}
	err = e.res.Each(history.Filter{Verdicts: []string{string(assay.Positive), string(assay.Suspicious)}, Events: scope}, false, func(r *wire.Result) bool {
		lab, ok := labOf[r.ResultID]
		if !ok || r.EffectiveTier() == assay.TierLab {
			return true
		}
		source := r.KioskID
		if !r.FromKiosk() {
			source = r.Source
		}
		for _, c := range []*Confirmation{total, get(methods, string(r.Method)), get(sources, source)} {
			c.Checked++
			switch lab {
			case assay.Positive:
				c.Confirmed++
			case assay.Negative:
				c.Cleared++
			}
		}
		return true
	})
	if err != nil {
		return ConfirmationReport{}, err
	}
	list := func(m map[string]*Confirmation) []Confirmation {
		out := make([]Confirmation, 0, len(m))
		for _, c := range m {
			c.Rate = confirmationRate(c)
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b Confirmation) int { return cmp.Compare(a.Key, b.Key) })
		return out
	}
	total.Rate = confirmationRate(total)
	return ConfirmationReport{Total: *total, ByMethod: list(methods), BySource: list(sources)}, nil
}

func confirmationRate(c *Confirmation) assurance.Rate {
	return assurance.RateOf(c.Confirmed, c.Checked)
}
