// Package tcs34725test is a register-level fake TCS34725 that implements
// periph's i2c.Bus, for recording golden traces, for the firmware tests and
// the simulator. Integration completes at once: once ENABLE has PON|AEN,
// STATUS shows AVALID and the data registers hold the counts set with Set.
package tcs34725test

import (
	"errors"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/shianfood/shian/protocols/device/tcs34725"
)

// ErrNACK is what the fake returns where the part would not acknowledge.
var ErrNACK = errors.New("tcs34725test: NACK (remote I/O error)")

// Sensor is a fake TCS34725 at tcs34725.Addr (ID 0x44 unless ID is set).
type Sensor struct {
	// ID is the ID register value; zero means 0x44.
	ID byte

	mu     sync.Mutex
	regs   [0x20]byte
	counts tcs34725.Counts
	cmd    byte
}

var _ i2c.Bus = (*Sensor)(nil)

// Set sets the counts the next integrations produce.
func (s *Sensor) Set(c tcs34725.Counts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = c
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return "tcs34725test" }

// SetSpeed implements i2c.Bus.
func (s *Sensor) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: a command byte, optionally followed by a value
// to write, or a read from the command's register.
func (s *Sensor) Tx(addr uint16, w, r []byte) error {
	if addr != tcs34725.Addr {
		return ErrNACK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(w) > 0 {
		if w[0]&tcs34725.CmdBit == 0 {
			return ErrNACK
		}
		s.cmd = w[0]
	}
	reg := s.cmd & 0x1F
	auto := s.cmd&0x60 == tcs34725.AutoInc
	vals := w[min(1, len(w)):]
	if !auto && len(vals) > 1 {
		return ErrNACK
	}
	for i, v := range vals {
		if int(reg)+i < len(s.regs) {
			s.regs[int(reg)+i] = v
		}
	}
	for i := range r {
		at := int(reg)
		if auto {
			at += i
		}
		if at >= len(s.regs) {
			return ErrNACK
		}
		r[i] = s.read(byte(at))
	}
	return nil
}

func (s *Sensor) enabled() bool {
	on := tcs34725.EnablePON | tcs34725.EnableAEN
	return s.regs[tcs34725.RegEnable]&on == on
}

func (s *Sensor) read(reg byte) byte {
	switch {
	case reg == tcs34725.RegID:
		if s.ID == 0 {
			return tcs34725.ID34725
		}
		return s.ID
	case reg == tcs34725.RegStatus:
		if s.enabled() {
			return s.regs[reg] | tcs34725.StatusAValid
		}
		return s.regs[reg] &^ tcs34725.StatusAValid
	case reg >= tcs34725.RegCDataL && reg < tcs34725.RegCDataL+tcs34725.DataLen:
		if s.enabled() {
			return s.counts.Encode()[reg-tcs34725.RegCDataL]
		}
		return 0
	}
	return s.regs[reg]
}
