// Package sht31test is a register-level fake SHT31 that implements
// periph's i2c.Bus, for recording golden traces (wrap it in
// i2ctest.Record), for the simulator and for tests. It answers only at its
// address and NACKs anything it does not understand, like the part.
package sht31test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/shianfood/shian/protocols/device/sht31"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// ErrNACK is what the fake returns where the part would not acknowledge.
var ErrNACK = errors.New("sht31test: NACK (remote I/O error)")

// Sensor is a fake SHT31. Set the environment with Set; the zero value
// answers at sht31.Addr.
type Sensor struct {
	Addr uint16

	mu      sync.Mutex
	temp    measure.Temperature
	rh      measure.Percent
	pending bool
	status  uint16
}

var _ i2c.Bus = (*Sensor)(nil)

// Set sets the temperature and humidity the next measurement returns.
func (s *Sensor) Set(t measure.Temperature, rh measure.Percent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.temp, s.rh = t, rh
}

func (s *Sensor) addr() uint16 {
	if s.Addr == 0 {
		return sht31.Addr
	}
	return s.Addr
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return fmt.Sprintf("sht31test@0x%02X", s.addr()) }

// SetSpeed implements i2c.Bus.
func (s *Sensor) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: a measurement command latches a measurement, a
// 6-byte read returns it; ReadStatus then a 3-byte read returns the status.
func (s *Sensor) Tx(addr uint16, w, r []byte) error {
	if addr != s.addr() {
		return ErrNACK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(w) == 2 && len(r) == 0:
		switch c := sht31.Command(uint16(w[0])<<8 | uint16(w[1])); c {
		case sht31.MeasureHigh, sht31.MeasureMedium, sht31.MeasureLow:
			s.pending = true
		case sht31.SoftReset, sht31.ClearStatus, sht31.HeaterOn, sht31.HeaterOff:
		default:
			return ErrNACK
		}
		return nil
	case len(w) == 2 && len(r) == 3 && bytes.Equal(w, sht31.ReadStatus.Bytes()):
		copy(r, sht31.Encode(s.status, 0)[:3])
		return nil
	case len(w) == 2 && len(r) == 6 && isStretch(w):
		copy(r, sht31.Encode(sht31.RawTemperature(s.temp), sht31.RawHumidity(s.rh)))
		return nil
	case len(w) == 0 && len(r) == 6:
		if !s.pending {
			return ErrNACK // no measurement: the part NACKs the read header
		}
		s.pending = false
		copy(r, sht31.Encode(sht31.RawTemperature(s.temp), sht31.RawHumidity(s.rh)))
		return nil
	}
	return ErrNACK
}

func isStretch(w []byte) bool {
	c := sht31.Command(uint16(w[0])<<8 | uint16(w[1]))
	return c == sht31.MeasureHighStretch || c == sht31.MeasureMediumStretch || c == sht31.MeasureLowStretch
}
