package cardreader

import (
	"errors"
	"math/rand/v2"
	"sync"

	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Card is a developed test card: the intensities its C and T lines read
// at.
type Card struct{ C, T measure.Intensity }

// SimOptics is a card slot for the simulator and tests: put a card in
// with Insert, take it out with Remove. It implements Optics.
type SimOptics struct {
	mu   sync.Mutex
	card *Card
	fail bool
}

var _ Optics = (*SimOptics)(nil)

// ErrOptics is the error of failed optics (Fail).
var ErrOptics = errors.New("cardreader sim: LED or sensor failed")

// Insert puts a card in the slot (replacing any).
func (s *SimOptics) Insert(c Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card = &c
}

// Remove empties the slot.
func (s *SimOptics) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card = nil
}

// Fail makes the optics fail until called with false.
func (s *SimOptics) Fail(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// Card implements Optics.
func (s *SimOptics) Card() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return false, ErrOptics
	}
	return s.card != nil, nil
}

// Read implements Optics.
func (s *SimOptics) Read() (c, t measure.Intensity, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, 0, ErrOptics
	}
	if s.card == nil {
		return 0, 0, ErrNoCard
	}
	return s.card.C, s.card.T, nil
}

// CardFor returns a random card that the default thresholds of item's
// analyte decide as v (Negative, Suspicious, Positive or Invalid) in both
// line and ratio mode, with margins so that rounding never moves it
// across a threshold.
func CardFor(rng *rand.Rand, item goldcard.Item, v assay.Verdict) Card {
	it, _ := goldcard.Lookup(item)
	th := assay.DefaultGoldRule().For(it.Analyte)
	u := func(lo, hi measure.Intensity) measure.Intensity {
		return lo + measure.Intensity(rng.Int64N(int64(hi-lo)+1))
	}
	if v == assay.Invalid {
		return Card{C: u(0, th.CThr/2), T: u(0, 30*measure.IntensityUnit)}
	}
	// C well above c_thr; pick T for the line rule, then check the ratio
	// rule agrees (redraw otherwise).
	for {
		c := u(th.CThr+10*measure.IntensityUnit, th.CThr+40*measure.IntensityUnit)
		var t measure.Intensity
		switch v {
		case assay.Positive:
			t = u(0, th.TA-measure.IntensityUnit)
		case assay.Suspicious:
			t = u(th.TA+measure.IntensityUnit, th.TB-measure.IntensityUnit)
		default:
			t = u(th.TB+measure.IntensityUnit, th.TB+30*measure.IntensityUnit)
		}
		if th.DecideLine(c, t).Verdict == v && th.DecideRatio(c, t).Verdict == v {
			return Card{C: c, T: t}
		}
	}
}
