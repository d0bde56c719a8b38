// Package mlx90614test is a register-level fake MLX90614 that implements
// periph's i2c.Bus (SMBus read word with PEC), for recording golden traces,
// for the simulator and for tests.
package mlx90614test

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/shianfood/shian/protocols/device/mlx90614"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// ErrNACK is what the fake returns where the part would not acknowledge.
var ErrNACK = errors.New("mlx90614test: NACK (remote I/O error)")

// Sensor is a fake MLX90614; the zero value answers at mlx90614.Addr with
// emissivity 1.0, ambient and object at 0 °C.
type Sensor struct {
	Addr uint16

	mu     sync.Mutex
	object measure.Temperature
	amb    measure.Temperature
	// Flag makes temperature words carry the error bit 15.
	flag bool
	regs map[byte]uint16
}

var _ i2c.Bus = (*Sensor)(nil)

// Set sets the object and ambient temperatures.
func (s *Sensor) Set(object, ambient measure.Temperature) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.object, s.amb = object, ambient
}

// SetErrorFlag makes the temperature words carry the error flag.
func (s *Sensor) SetErrorFlag(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flag = on
}

// SetWord sets the word an EEPROM or ID register reads.
func (s *Sensor) SetWord(cmd byte, w uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.regs == nil {
		s.regs = map[byte]uint16{}
	}
	s.regs[cmd] = w
}

func (s *Sensor) addr() uint16 {
	if s.Addr == 0 {
		return mlx90614.Addr
	}
	return s.Addr
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return fmt.Sprintf("mlx90614test@0x%02X", s.addr()) }

// SetSpeed implements i2c.Bus.
func (s *Sensor) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: write one command byte, read LSB, MSB, PEC.
func (s *Sensor) Tx(addr uint16, w, r []byte) error {
	if addr != s.addr() || len(w) != 1 || len(r) != mlx90614.FrameLen {
		return ErrNACK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var word uint16
	switch cmd := w[0]; cmd {
	case mlx90614.RegTa:
		word = mlx90614.RawTemperature(s.amb)
	case mlx90614.RegTobj1, mlx90614.RegTobj2:
		word = mlx90614.RawTemperature(s.object)
	case mlx90614.RegEmissivity:
		word = 0xFFFF
		if v, ok := s.regs[cmd]; ok {
			word = v
		}
	default:
		v, ok := s.regs[cmd]
		if !ok {
			return ErrNACK
		}
		word = v
	}
	if s.flag && w[0] >= mlx90614.RegTa && w[0] <= mlx90614.RegTobj2 {
		word |= 0x8000
	}
	copy(r, mlx90614.EncodeWord(addr, w[0], word))
	return nil
}
