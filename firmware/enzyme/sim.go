package enzyme

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Plan is the result the simulated optics will produce for one test: the
// absorbance of each well at the first reading and its change by the last.
type Plan struct {
	ControlBase   measure.Absorbance // control A at the first reading
	SampleBase    measure.Absorbance // sample A at the first reading
	ControlDeltaA measure.Absorbance // ΔA0
	SampleDeltaA  measure.Absorbance // ΔAt
	// Overflow makes the sample's first reading brighter than the blank
	// (an empty or bubbled cuvette): the report carries AbsOverflow.
	Overflow bool
}

// PlanInhibition returns a plan whose sample is inhibited by rate against a
// control that changes by controlDelta.
func PlanInhibition(controlDelta measure.Absorbance, rate measure.Percent) Plan {
	s := measure.Absorbance(math.Round(float64(controlDelta) * float64(measure.Whole-rate) / float64(measure.Whole)))
	return Plan{ControlBase: 200 * measure.MilliAU, SampleBase: 210 * measure.MilliAU, ControlDeltaA: controlDelta, SampleDeltaA: s}
}

// Mix is the share of each outcome among tests nobody planned explicitly
// (weights; they need not sum to 1). The zero Mix means all negative.
type Mix struct {
	Negative, Suspicious, Positive, Invalid float64
}

// DefaultMix is a plausible day at an event: mostly clean vegetables.
var DefaultMix = Mix{Negative: 0.85, Suspicious: 0.06, Positive: 0.06, Invalid: 0.03}

// SimConfig configures a SimPhotometer. Zero fields take the defaults.
type SimConfig struct {
	// Full and Dark are the raw counts of the blank and of the dark
	// current (3 012 000 and 12 000: 3 000 000 net counts full scale).
	Full, Dark uint32
	// ControlChannel is the control well (0).
	ControlChannel int
	// Mix picks the outcome of unplanned tests; Seed seeds the choice.
	Mix  Mix
	Seed uint64
}

// SimPhotometer simulates the optics of an enzyme tester: each channel's
// absorbance rises linearly during a test, at the rate a Plan sets. Steer
// it with Next or NextVerdict before (or while) the test starts; tests
// without a plan draw one from the Mix. It implements Photometer and
// TestBeginner.
type SimPhotometer struct {
	cfg SimConfig

	mu    sync.Mutex
	rng   *rand.Rand
	queue []Plan
	cur   Plan
	reads map[int]int // readings per channel since BeginTest
	fail  map[int]bool
}

// NewSim returns a simulated photometer.
func NewSim(cfg SimConfig) *SimPhotometer {
	if cfg.Full == 0 {
		cfg.Full = 3012000
	}
	if cfg.Dark == 0 && cfg.Full == 3012000 {
		cfg.Dark = 12000
	}
	if cfg.Mix == (Mix{}) {
		cfg.Mix = Mix{Negative: 1}
	}
	return &SimPhotometer{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		reads: map[int]int{}, fail: map[int]bool{},
	}
}

// Next queues the plan of a coming test.
func (s *SimPhotometer) Next(p Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, p)
}

// NextVerdict queues a random plan that yields verdict v (Negative,
// Suspicious, Positive or Invalid) under the default GB/T 5009.199 rule,
// with margins so that rounding never moves it across a threshold.
func (s *SimPhotometer) NextVerdict(v assay.Verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, s.planFor(v))
}

// Queued returns how many planned tests have not started yet.
func (s *SimPhotometer) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// FailChannel makes every reading of channel ch fail (a dead LED) until
// called again with false.
func (s *SimPhotometer) FailChannel(ch int, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[ch] = fail
}

// BeginTest takes the next plan (or draws one from the Mix).
func (s *SimPhotometer) BeginTest(int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		s.cur, s.queue = s.queue[0], s.queue[1:]
	} else {
		s.cur = s.planFor(s.draw())
	}
	clear(s.reads)
}

// ErrLED is the error of a failed channel.
var ErrLED = errors.New("enzyme sim: LED or detector failed")

// Read returns the counts of channel ch at its next reading: the plan's
// base absorbance at the first reading, base + ΔA at every later one.
func (s *SimPhotometer) Read(ch int) (Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[ch] {
		return Counts{}, ErrLED
	}
	k := min(s.reads[ch], 1)
	s.reads[ch]++
	a := s.cur.SampleBase + measure.Absorbance(k)*s.cur.SampleDeltaA
	if ch == s.cfg.ControlChannel {
		a = s.cur.ControlBase + measure.Absorbance(k)*s.cur.ControlDeltaA
	} else if s.cur.Overflow && k == 0 {
		a = -150 * measure.MilliAU // T = 1.41
	}
	return s.counts(a), nil
}

// counts returns the raw counts that make absorbance a.
func (s *SimPhotometer) counts(a measure.Absorbance) Counts {
	net := float64(s.cfg.Full - s.cfg.Dark)
	light := math.Round(net * math.Pow(10, -a.Float()))
	light = min(max(light, 0), math.MaxUint32-float64(s.cfg.Dark))
	return Counts{Light: uint32(light) + s.cfg.Dark, Dark: s.cfg.Dark, Full: s.cfg.Full}
}

func (s *SimPhotometer) draw() assay.Verdict {
	m := s.cfg.Mix
	total := m.Negative + m.Suspicious + m.Positive + m.Invalid
	x := s.rng.Float64() * total
	switch {
	case x < m.Negative:
		return assay.Negative
	case x < m.Negative+m.Suspicious:
		return assay.Suspicious
	case x < m.Negative+m.Suspicious+m.Positive:
		return assay.Positive
	}
	return assay.Invalid
}

// planFor draws a plan for verdict v. s.mu is held.
func (s *SimPhotometer) planFor(v assay.Verdict) Plan {
	uniform := func(lo, hi float64) float64 { return lo + s.rng.Float64()*(hi-lo) }
	c := measure.Absorbance(uniform(0.25, 0.45) * float64(measure.AU))
	pct := func(lo, hi float64) measure.Percent {
		return measure.Percent(uniform(lo, hi) * float64(measure.PercentUnit))
	}
	var p Plan
	switch v {
	case assay.Suspicious:
		p = PlanInhibition(c, pct(41, 49))
	case assay.Positive:
		p = PlanInhibition(c, pct(52, 95))
	case assay.Invalid:
		// The enzyme in the control is dead: no colour change.
		p = PlanInhibition(0, 0)
		p.ControlDeltaA = -measure.Absorbance(uniform(0, 0.01) * float64(measure.AU))
		p.SampleDeltaA = measure.Absorbance(uniform(0, 0.05) * float64(measure.AU))
	default:
		p = PlanInhibition(c, pct(0, 35))
	}
	p.ControlBase = measure.Absorbance(uniform(0.15, 0.25) * float64(measure.AU))
	p.SampleBase = measure.Absorbance(uniform(0.15, 0.30) * float64(measure.AU))
	return p
}

var (
	_ Photometer   = (*SimPhotometer)(nil)
	_ TestBeginner = (*SimPhotometer)(nil)
)
