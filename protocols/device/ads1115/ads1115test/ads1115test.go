// Package ads1115test is a register-level fake ADS1115 that implements
// periph's i2c.Bus, for recording golden traces, for the simulator and for
// tests. Conversions complete at once: a config read after a single-shot
// start shows OS = 1 (idle).
package ads1115test

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/shianfood/shian/protocols/device/ads1115"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// ErrNACK is what the fake returns where the part would not acknowledge.
var ErrNACK = errors.New("ads1115test: NACK (remote I/O error)")

// ADC is a fake ADS1115; the zero value answers at ads1115.Addr with all
// inputs at 0 V.
type ADC struct {
	Addr uint16

	mu      sync.Mutex
	inputs  [4]measure.Voltage
	config  uint16
	conv    int16
	pointer byte
}

var _ i2c.Bus = (*ADC)(nil)

// SetInput sets the voltage on AINch (0–3) against GND.
func (a *ADC) SetInput(ch int, v measure.Voltage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inputs[ch&3] = v
}

func (a *ADC) addr() uint16 {
	if a.Addr == 0 {
		return ads1115.Addr
	}
	return a.Addr
}

// String implements i2c.Bus.
func (a *ADC) String() string { return fmt.Sprintf("ads1115test@0x%02X", a.addr()) }

// SetSpeed implements i2c.Bus.
func (a *ADC) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (a *ADC) Tx(addr uint16, w, r []byte) error {
	if addr != a.addr() || len(w) == 0 {
		return ErrNACK
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pointer = w[0] & 3
	if len(w) == 3 {
		v := uint16(w[1])<<8 | uint16(w[2])
		if a.pointer == ads1115.RegConfig {
			a.config = v | 0x8000 // the conversion completes at once
			if v&0x8000 != 0 {
				a.convert(ads1115.ParseConfig(v))
			}
		}
	}
	switch len(r) {
	case 0:
		return nil
	case 2:
		var v uint16
		switch a.pointer {
		case ads1115.RegConfig:
			v = a.config
		case ads1115.RegConversion:
			v = uint16(a.conv)
		}
		r[0], r[1] = byte(v>>8), byte(v)
		return nil
	}
	return ErrNACK
}

func (a *ADC) convert(c ads1115.Config) {
	var v measure.Voltage
	switch m := c.Mux; {
	case m >= ads1115.MuxAIN0:
		v = a.inputs[m-ads1115.MuxAIN0]
	case m == ads1115.MuxAIN0AIN1:
		v = a.inputs[0] - a.inputs[1]
	default:
		v = a.inputs[[]int{0, 0, 1, 2}[m]] - a.inputs[3]
	}
	a.conv = ads1115.RawFor(v, c.PGA)
}
