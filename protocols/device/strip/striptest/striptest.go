// Package striptest is a fake strip-reader fixture at register level: a
// TCA9548A multiplexer at 0x70 with three fake TCS34725 (background, C
// line, T line) behind it, implementing periph's i2c.Bus. Show puts a
// strip in the slot. It serves the firmware tests, golden-trace recording
// and the simulator.
package striptest

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/device/tcs34725/tcs34725test"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// ErrNACK is what the fake returns where the parts would not acknowledge.
var ErrNACK = errors.New("striptest: NACK (remote I/O error)")

// White is what a sensor sees on a blank membrane (counts at ATIME 0xC0,
// gain 4x, the reader's defaults).
var White = tcs34725.Counts{C: 9000, R: 3400, G: 3300, B: 2600}

// Dark is what a sensor sees with the slot empty.
var Dark = tcs34725.Counts{C: 40, R: 14, G: 12, B: 10}

// Strip describes a developed strip by its line intensities on the
// reader's scale (0 = no line, 100 = black), as in package strip.
type Strip struct {
	C, T measure.Intensity
}

// Fixture is the fake fixture. The zero value has an empty slot and the
// default channels.
type Fixture struct {
	// Channels maps positions to multiplexer channels; zero value means
	// strip.DefaultChannels.
	Channels *strip.Channels

	mu      sync.Mutex
	sensors [8]*tcs34725test.Sensor
	sel     byte
}

var _ i2c.Bus = (*Fixture)(nil)

func (f *Fixture) init() {
	if f.sensors[0] != nil {
		return
	}
	for i := range f.sensors {
		f.sensors[i] = &tcs34725test.Sensor{}
		f.sensors[i].Set(Dark)
	}
}

func (f *Fixture) channels() strip.Channels {
	if f.Channels == nil {
		return strip.DefaultChannels
	}
	return *f.Channels
}

// LineCounts returns the counts a sensor sees on a line of intensity i:
// green darkened by i %, red and blue by a third of that (gold is
// red-purple).
func LineCounts(i measure.Intensity) tcs34725.Counts {
	scale := func(v uint16, frac int64) uint16 {
		return uint16(int64(v) - (int64(v)*frac+50000)/100000)
	}
	g := int64(min(max(i, 0), 100*measure.IntensityUnit))
	return tcs34725.Counts{C: scale(White.C, g/2), R: scale(White.R, g/3), G: scale(White.G, g), B: scale(White.B, g/3)}
}

// Show puts s in the slot; nil empties it.
func (f *Fixture) Show(s *Strip) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	ch := f.channels()
	if s == nil {
		for _, c := range ch {
			f.sensors[c].Set(Dark)
		}
		return
	}
	f.sensors[ch[strip.Background]].Set(White)
	f.sensors[ch[strip.ControlLine]].Set(LineCounts(s.C))
	f.sensors[ch[strip.TestLine]].Set(LineCounts(s.T))
}

// Sensor returns the fake sensor on a channel (to change its ID, say).
func (f *Fixture) Sensor(ch uint8) *tcs34725test.Sensor {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	return f.sensors[ch&7]
}

// String implements i2c.Bus.
func (f *Fixture) String() string { return "striptest" }

// SetSpeed implements i2c.Bus.
func (f *Fixture) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (f *Fixture) Tx(addr uint16, w, r []byte) error {
	f.mu.Lock()
	f.init()
	switch addr {
	case strip.MuxAddr:
		defer f.mu.Unlock()
		if len(w) == 1 && len(r) == 0 {
			f.sel = w[0]
			return nil
		}
		if len(w) == 0 && len(r) == 1 {
			r[0] = f.sel
			return nil
		}
		return ErrNACK
	case tcs34725.Addr:
		sel := f.sel
		f.mu.Unlock()
		if sel == 0 || sel&(sel-1) != 0 {
			return fmt.Errorf("%w: %d channels selected (mux 0x%02X)", ErrNACK, popcount(sel), sel)
		}
		for ch := range 8 {
			if sel == 1<<ch {
				return f.sensors[ch].Tx(addr, w, r)
			}
		}
	}
	f.mu.Unlock()
	return ErrNACK
}

func popcount(b byte) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}
