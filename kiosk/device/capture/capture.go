// Package capture decides which readings of a continuous sensor become
// results. A kiosk result is a test — something an operator did, or a
// log entry of a cold room — not every poll of a sensor: a probe read
// every second would otherwise store and upload 86,400 results a day.
//
// An [Instrument] wraps a driver's poll loop (any device.Instrument)
// with a [Gate]: every reading still arrives from the sensor, but only
// the ones the gate takes reach the kiosk's sink. It also implements
// device.Triggerer: the touchscreen's measure button makes the next good
// reading a result.
//
// # Hand-held probes and infrared thermometers: Settle
//
// [Settle] takes a reading when the operator triggers, or — with Auto —
// when the probe has settled in food:
//
//   - settled: the last settle_reads readings lie within settle_band of
//     each other (5 readings within 0.5 °C: at 1 s polls, five seconds
//     steady);
//   - in food: the settled value is outside the ambient band
//     (ambient_min…ambient_max, 10…35 °C), where a probe lying on the
//     bench or pointed at the room sits;
//   - once per insertion: after a result, the probe must come back to
//     ambient (settle there) before another result, or settle at least
//     insert_delta (5 °C) away from the last result (moved straight into
//     another dish).
//
// A probe pulled out of a pot and cooling on the bench settles in the
// ambient band and gives no result; a dish served at room temperature
// gives none either — measure it with the button. With capture: trigger
// only the button makes results.
//
// # Cold rooms and refrigerators: Log
//
// [Log] takes the first reading, then one every log_every (15 min), and
// at once when the verdict changes — a breach (cold room above 8 °C) or
// the recovery from one — once the new verdict has held for confirm
// readings (1; raise it to ride out a door left open for a minute).
package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Gate decides which readings become results. Implementations are safe
// for concurrent use (Take runs on the driver's goroutine, Trigger on the
// screen's).
type Gate interface {
	// Take reports whether reading r, taken at now, becomes a result.
	Take(now time.Time, r device.Reading) bool
	// Trigger makes the next reading a result.
	Trigger()
}

// Instrument is a device.Instrument whose readings pass a Gate.
type Instrument struct {
	inner device.Instrument
	gate  Gate
	now   func() time.Time
}

var (
	_ device.Instrument = (*Instrument)(nil)
	_ device.Triggerer  = (*Instrument)(nil)
)

// New wraps inner with gate; now is the clock the gate is given
// (time.Now if nil).
func New(inner device.Instrument, gate Gate, now func() time.Time) *Instrument {
	if now == nil {
		now = time.Now
	}
	return &Instrument{inner: inner, gate: gate, now: now}
}

// Inner returns the wrapped instrument (the driver's poll loop).
func (i *Instrument) Inner() device.Instrument { return i.inner }

// Gate returns the gate.
func (i *Instrument) Gate() Gate { return i.gate }

// ID implements device.Instrument.
func (i *Instrument) ID() string { return i.inner.ID() }

// Status implements device.Instrument.
func (i *Instrument) Status() device.Status { return i.inner.Status() }

// Run implements device.Instrument: it runs the inner instrument and
// passes on the readings the gate takes.
func (i *Instrument) Run(ctx context.Context, sink func(device.Reading)) error {
	return i.inner.Run(ctx, func(r device.Reading) {
		if i.gate.Take(i.now(), r) {
			sink(r)
		}
	})
}

// Trigger implements device.Triggerer: the next good reading becomes a
// result (item is ignored: the sensor measures one thing). It fails with
// device.ErrNotConnected while the sensor is down or not yet read.
func (i *Instrument) Trigger(item string) error {
	switch st := i.inner.Status(); st.State {
	case device.StateDown, device.StateUnknown:
		msg := st.LastErr
		if msg == "" {
			msg = "not read yet"
		}
		return fmt.Errorf("%q: %w (%s)", i.inner.ID(), device.ErrNotConnected, msg)
	}
	i.gate.Trigger()
	return nil
}

// Settle is the capture rule of a hand-held probe or an infrared
// thermometer (see the package doc).
type Settle struct {
	// Auto takes settled readings in food; without it only Trigger does.
	Auto bool
	// Reads readings within Band of each other are settled.
	Reads int
	Band  measure.Temperature
	// AmbientMin…AmbientMax is where a probe in the air sits.
	AmbientMin, AmbientMax measure.Temperature
	// Insert is how far from the last result a new settled value must be
	// to be another dish without passing through ambient.
	Insert measure.Temperature
	// Value extracts the temperature from a reading (false: not one).
	Value func(device.Reading) (measure.Temperature, bool)

	mu      sync.Mutex
	window  []measure.Temperature
	taken   bool
	last    measure.Temperature
	trigger bool
}

// DefaultSettle returns Auto, 5 readings within 0.5 °C, ambient 10…35 °C,
// another dish 5 °C away.
func DefaultSettle(value func(device.Reading) (measure.Temperature, bool)) *Settle {
	return &Settle{Auto: true, Reads: 5, Band: 500, AmbientMin: 10 * measure.Celsius, AmbientMax: 35 * measure.Celsius,
		Insert: 5 * measure.Celsius, Value: value}
}

// Trigger implements Gate.
func (s *Settle) Trigger() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trigger = true
}

// Take implements Gate.
func (s *Settle) Take(_ time.Time, r device.Reading) bool {
	v, ok := s.Value(r)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trigger {
		s.trigger = false
		s.taken, s.last = true, v
		s.window = s.window[:0]
		return true
	}
	if !s.Auto {
		return false
	}
	s.window = append(s.window, v)
	if len(s.window) > s.Reads {
		s.window = s.window[len(s.window)-s.Reads:]
	}
	if len(s.window) < s.Reads {
		return false
	}
	lo, hi := s.window[0], s.window[0]
	for _, x := range s.window {
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi-lo > s.Band {
		return false // still moving
	}
	if v >= s.AmbientMin && v <= s.AmbientMax {
		s.taken = false // in the air: ready for the next dish
		return false
	}
	if s.taken && abs(v-s.last) < s.Insert {
		return false // the same dish, still
	}
	s.taken, s.last = true, v
	return true
}

func abs(t measure.Temperature) measure.Temperature {
	if t < 0 {
		return -t
	}
	return t
}

// Log is the capture rule of a cold-room or refrigerator logger (see the
// package doc).
type Log struct {
	// Every is the logging interval.
	Every time.Duration
	// Confirm is how many consecutive readings a new verdict must hold
	// before it is logged at once.
	Confirm int
	// Classify returns the reading's verdict (or any class whose change
	// is a breach or a recovery); "" for a reading it cannot decide.
	Classify func(device.Reading) string

	mu      sync.Mutex
	logged  bool
	at      time.Time
	class   string
	pending string
	count   int
	trigger bool
}

// Trigger implements Gate.
func (l *Log) Trigger() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trigger = true
}

// Take implements Gate.
func (l *Log) Take(now time.Time, r device.Reading) bool {
	c := l.Classify(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	take := !l.logged || l.trigger || !now.Before(l.at.Add(l.Every))
	if c != l.class {
		if c == l.pending {
			l.count++
		} else {
			l.pending, l.count = c, 1
		}
		if l.count >= max(l.Confirm, 1) {
			take = true
		}
	} else {
		l.pending, l.count = "", 0
	}
	if take {
		l.logged, l.trigger, l.at, l.class, l.pending, l.count = true, false, now, c, "", 0
	}
	return take
}

// ErrOption is matched by the errors of ParseSettle and ParseLog.
var ErrOption = errors.New("capture: bad option")
