// Package ads1115 is the register protocol of the TI ADS1115 16-bit ADC,
// as plain Go with no I/O, and the conversion of a temperature probe
// read through it (the kiosk's core-temperature front end).
//
// # Registers and the config word
//
// The ADC answers at [Addr] (0x48; 0x49–0x4B with the ADDR strap). The
// first byte of every write selects a register: 0x00 conversion, 0x01
// config, 0x02/0x03 comparator thresholds. Registers are 16 bits, sent
// big-endian. The config word ([Config.Word]) packs:
//
//	bit 15     OS      write 1: start a single conversion; read 1: idle
//	bits 14:12 MUX     0–3 differential, 4–7 = AIN0…AIN3 against GND
//	bits 11:9  PGA     ±6.144, ±4.096, ±2.048, ±1.024, ±0.512, ±0.256 V
//	bit 8      MODE    1 = single shot
//	bits 7:5   DR      8, 16, 32, 64, 128, 250, 475, 860 samples/s
//	bits 4:0   COMP    0x03 disables the comparator
//
// A single-shot read of AIN0 at ±4.096 V and 128 SPS is:
//
//	write 01 C3 83          config (OS | AIN0 | ±4.096 V | single | 128 SPS | comp off)
//	wait  1/DR (7.8 ms)
//	write 01, read 2        config again: OS = 1 when the conversion is done
//	write 00, read 2        the signed result
//
// and V = raw × FS / 32768 ([Volts]); at ±4.096 V one LSB is 125 µV.
//
// # Probe front end
//
// [Probe] turns the voltage across a resistive temperature probe into a
// temperature. The documented circuit is a divider:
//
//	supply ── R_ref ──┬── AINx
//	                  └── probe ── GND
//
// so R_probe = R_ref × V / (V_supply − V). The resistance is converted by
// the Callendar–Van Dusen equation for a platinum RTD (PT100, PT1000;
// above 0 °C exact, below 0 °C the C term is neglected: < 0.01 °C at
// −40 °C) or by the Beta equation for an NTC thermistor. Every parameter
// is configurable, and an Offset calibrates the whole chain against a
// reference thermometer. A voltage at the supply means an open probe, at
// 0 V a short ([ErrProbe]). For accuracy use a ratiometric supply (the same
// rail that feeds the divider, measured) and keep the probe current below
// 1 mA to limit self-heating [ASSUMPTION].
package ads1115

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// Addr is the default address (ADDR to GND).
const Addr uint16 = 0x48

// Register pointers.
const (
	RegConversion byte = 0x00
	RegConfig     byte = 0x01
	RegLoThresh   byte = 0x02
	RegHiThresh   byte = 0x03
)

// Mux selects the input (config bits 14:12).
type Mux uint8

// Inputs.
const (
	MuxAIN0AIN1 Mux = 0
	MuxAIN0AIN3 Mux = 1
	MuxAIN1AIN3 Mux = 2
	MuxAIN2AIN3 Mux = 3
	MuxAIN0     Mux = 4 // single-ended AIN0 against GND
	MuxAIN1     Mux = 5
	MuxAIN2     Mux = 6
	MuxAIN3     Mux = 7
)

// SingleEnded returns the mux setting for AINch against GND (ch 0–3).
func SingleEnded(ch int) (Mux, error) {
	if ch < 0 || ch > 3 {
		return 0, fmt.Errorf("ads1115: channel %d: use 0…3 (AIN0–AIN3)", ch)
	}
	return MuxAIN0 + Mux(ch), nil
}

// PGA is the full-scale range (config bits 11:9).
type PGA uint8

// Ranges.
const (
	PGA6144 PGA = 0 // ±6.144 V
	PGA4096 PGA = 1 // ±4.096 V
	PGA2048 PGA = 2 // ±2.048 V (power-up default)
	PGA1024 PGA = 3 // ±1.024 V
	PGA512  PGA = 4 // ±0.512 V
	PGA256  PGA = 5 // ±0.256 V (6 and 7 are also ±0.256 V)
)

var fullScale = [...]measure.Voltage{6144000, 4096000, 2048000, 1024000, 512000, 256000, 256000, 256000}

// FullScale returns the range of p (the magnitude of ±FS).
func (p PGA) FullScale() measure.Voltage { return fullScale[p&7] }

// ParsePGA accepts a full scale in volts: "6.144", "4.096", "2.048",
// "1.024", "0.512", "0.256" (a trailing "V" is allowed).
func ParsePGA(s string) (PGA, error) {
	var v measure.Voltage
	f, err := parseVolts(s)
	if err == nil {
		v = measure.Voltage(math.Round(f * 1e6))
		for i, fs := range fullScale[:6] {
			if fs == v {
				return PGA(i), nil
			}
		}
	}
	return 0, fmt.Errorf("ads1115: full scale %q: use 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256 (volts)", s)
}

// DataRate is the conversion rate (config bits 7:5).
type DataRate uint8

// Rates.
const (
	DR8 DataRate = iota
	DR16
	DR32
	DR64
	DR128 // power-up default
	DR250
	DR475
	DR860
)

var rates = [...]int{8, 16, 32, 64, 128, 250, 475, 860}

// SPS returns the rate in samples per second.
func (d DataRate) SPS() int { return rates[d&7] }

// Period returns one conversion time, 1/DR, rounded up to the nanosecond.
func (d DataRate) Period() time.Duration {
	return (time.Second + time.Duration(d.SPS()) - 1) / time.Duration(d.SPS())
}

// ParseDataRate accepts 8, 16, 32, 64, 128, 250, 475 or 860.
func ParseDataRate(sps int) (DataRate, error) {
	for i, r := range rates {
		if r == sps {
			return DataRate(i), nil
		}
	}
	return 0, fmt.Errorf("ads1115: data rate %d: use 8, 16, 32, 64, 128, 250, 475 or 860 SPS", sps)
}

// Config is the config register.
type Config struct {
	Mux  Mux
	PGA  PGA
	Rate DataRate
	// Continuous selects continuous conversion (MODE 0); the default is
	// single shot.
	Continuous bool
	// Start sets OS to start a single conversion (written); on a config
	// read, OS set means the device is idle (the conversion is done).
	Start bool
	// Comp is the comparator field (bits 4:0); 0x03 disables it.
	Comp uint8
}

// Config word bits.
const (
	bitOS     = 0x8000
	bitSingle = 0x0100
	// CompDisable is the comparator field that disables it.
	CompDisable uint8 = 0x03
)

// Word returns the 16-bit config word.
func (c Config) Word() uint16 {
	w := uint16(c.Mux&7)<<12 | uint16(c.PGA&7)<<9 | uint16(c.Rate&7)<<5 | uint16(c.Comp&0x1F)
	if !c.Continuous {
		w |= bitSingle
	}
	if c.Start {
		w |= bitOS
	}
	return w
}

// WriteBytes returns the bytes that write the config register.
func (c Config) WriteBytes() []byte {
	w := c.Word()
	return []byte{RegConfig, byte(w >> 8), byte(w)}
}

// ParseConfig unpacks a config word.
func ParseConfig(w uint16) Config {
	return Config{
		Mux: Mux(w >> 12 & 7), PGA: PGA(w >> 9 & 7), Rate: DataRate(w >> 5 & 7),
		Continuous: w&bitSingle == 0, Start: w&bitOS != 0, Comp: uint8(w & 0x1F),
	}
}

// SingleShot returns the config that starts one conversion of mux with
// the given range and rate, comparator off.
func SingleShot(mux Mux, pga PGA, rate DataRate) Config {
	return Config{Mux: mux, PGA: pga, Rate: rate, Start: true, Comp: CompDisable}
}

// Errors. Callers branch with errors.Is.
var (
	ErrLength = errors.New("ads1115: wrong read length")
	// ErrBusy: the config read back still shows a conversion in progress.
	ErrBusy = errors.New("ads1115: conversion not finished")
	// ErrConfigMismatch: the config read back is not what was written;
	// the bus corrupted a byte or another master wrote the device.
	ErrConfigMismatch = errors.New("ads1115: config read back differs from the one written")
	// ErrSaturated: the input is at or beyond full scale; use a larger
	// range (PGA).
	ErrSaturated = errors.New("ads1115: input at full scale")
	// ErrProbe: the probe circuit is open or shorted.
	ErrProbe = errors.New("ads1115: probe open or shorted")
)

// DecodeWord decodes a 2-byte big-endian register read.
func DecodeWord(b []byte) (uint16, error) {
	if len(b) != 2 {
		return 0, fmt.Errorf("%w: %d bytes, want 2", ErrLength, len(b))
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// CheckConfig compares a config read back after a conversion with the one
// written: it must be idle (OS = 1) and otherwise identical.
func CheckConfig(written Config, readBack uint16) error {
	if readBack&bitOS == 0 {
		return ErrBusy
	}
	if want := written.Word() | bitOS; readBack != want {
		return fmt.Errorf("%w: 0x%04X, want 0x%04X", ErrConfigMismatch, readBack, want)
	}
	return nil
}

// DecodeConversion decodes the conversion register and refuses a
// saturated result (raw 0x7FFF or 0x8000).
func DecodeConversion(b []byte) (int16, error) {
	w, err := DecodeWord(b)
	if err != nil {
		return 0, err
	}
	raw := int16(w)
	if raw == math.MaxInt16 || raw == math.MinInt16 {
		return raw, fmt.Errorf("%w (raw %d): use a larger full-scale range", ErrSaturated, raw)
	}
	return raw, nil
}

// Volts converts a result: raw × FS / 32768, rounded to the microvolt.
func Volts(raw int16, pga PGA) measure.Voltage {
	n := int64(raw) * int64(pga.FullScale())
	if n < 0 {
		return measure.Voltage(-((-n + 16384) / 32768))
	}
	return measure.Voltage((n + 16384) / 32768)
}

// RawFor is the inverse of Volts (nearest code, clamped), for fakes.
func RawFor(v measure.Voltage, pga PGA) int16 {
	r := math.Round(float64(v) * 32768 / float64(pga.FullScale()))
	return int16(min(max(r, math.MinInt16), math.MaxInt16))
}

// ProbeKind names the probe's resistance law.
type ProbeKind string

// Probe kinds.
const (
	PT100  ProbeKind = "pt100"
	PT1000 ProbeKind = "pt1000"
	NTC    ProbeKind = "ntc"
)

// Callendar–Van Dusen coefficients (IEC 60751).
const (
	cvdA = 3.9083e-3
	cvdB = -5.775e-7
)

// Probe converts the voltage of the divider described in the package doc
// into a temperature.
type Probe struct {
	Kind ProbeKind `json:"kind" yaml:"kind"`
	// Supply is the divider's supply voltage.
	Supply measure.Voltage `json:"supply" yaml:"supply"`
	// RefOhms is the fixed resistor between the supply and the ADC input.
	RefOhms float64 `json:"ref_ohms" yaml:"ref_ohms"`
	// R0 is the probe's resistance at 0 °C (RTD) or at T0 (NTC); zero takes
	// 100 Ω for PT100, 1000 Ω for PT1000, 10 kΩ for NTC.
	R0 float64 `json:"r0" yaml:"r0"`
	// Beta and T0 are the NTC's B constant (zero: 3950 K) and reference
	// temperature (zero: 25 °C).
	Beta float64             `json:"beta" yaml:"beta"`
	T0   measure.Temperature `json:"t0" yaml:"t0"`
	// Offset is added to the result (calibration against a reference).
	Offset measure.Temperature `json:"offset" yaml:"offset"`
}

// DefaultProbe is a PT100 under a 1 kΩ resistor from 3.3 V, read at
// ±0.512 V (70 °C ≈ 0.372 V; one LSB ≈ 0.016 °C).
func DefaultProbe() Probe {
	return Probe{Kind: PT100, Supply: 3300 * measure.Millivolt, RefOhms: 1000}
}

func (p Probe) r0() float64 {
	if p.R0 > 0 {
		return p.R0
	}
	switch p.Kind {
	case PT1000:
		return 1000
	case NTC:
		return 10000
	}
	return 100
}

// Validate says what is wrong with a probe configuration.
func (p Probe) Validate() error {
	switch p.Kind {
	case PT100, PT1000, NTC:
	default:
		return fmt.Errorf("ads1115: probe kind %q: use pt100, pt1000 or ntc", p.Kind)
	}
	if p.Supply <= 0 {
		return fmt.Errorf("ads1115: probe supply %v must be above 0 V", p.Supply)
	}
	if !(p.RefOhms > 0) || math.IsInf(p.RefOhms, 0) {
		return fmt.Errorf("ads1115: probe ref_ohms %v must be a positive resistance", p.RefOhms)
	}
	if p.R0 < 0 || p.Beta < 0 {
		return fmt.Errorf("ads1115: probe r0 and beta must not be negative")
	}
	return nil
}

// Resistance returns the probe resistance for the divider voltage v.
func (p Probe) Resistance(v measure.Voltage) (float64, error) {
	switch {
	case v <= 0:
		return 0, fmt.Errorf("%w: %v at the input: probe shorted (or input to GND); check the probe and its cable", ErrProbe, v)
	case v >= p.Supply:
		return 0, fmt.Errorf("%w: %v at the input (supply %v): probe open or unplugged", ErrProbe, v, p.Supply)
	}
	return p.RefOhms * float64(v) / float64(p.Supply-v), nil
}

// TemperatureAt converts a probe resistance to a temperature.
func (p Probe) TemperatureAt(ohms float64) (measure.Temperature, error) {
	var c float64
	switch p.Kind {
	case NTC:
		beta, t0 := p.Beta, p.T0
		if beta == 0 {
			beta = 3950
		}
		if t0 == 0 {
			t0 = 25 * measure.Celsius
		}
		invT := 1/(t0.Float()+273.15) + math.Log(ohms/p.r0())/beta
		c = 1/invT - 273.15
	default:
		// R/R0 = 1 + A t + B t²  →  t = (−A + √(A² − 4B(1 − R/R0))) / 2B
		d := cvdA*cvdA - 4*cvdB*(1-ohms/p.r0())
		if d < 0 {
			return 0, fmt.Errorf("%w: %.1f Ω is beyond the RTD's range", ErrProbe, ohms)
		}
		c = (-cvdA + math.Sqrt(d)) / (2 * cvdB)
	}
	if math.IsNaN(c) || c < -100 || c > 400 {
		return 0, fmt.Errorf("%w: %.1f Ω gives %.1f °C, outside −100…400 °C; check the probe kind and wiring", ErrProbe, ohms, c)
	}
	return measure.Temperature(math.Round(c*1000)) + p.Offset, nil
}

// Temperature converts the divider voltage to a temperature.
func (p Probe) Temperature(v measure.Voltage) (measure.Temperature, error) {
	r, err := p.Resistance(v)
	if err != nil {
		return 0, err
	}
	return p.TemperatureAt(r)
}

// ResistanceAt is the inverse of TemperatureAt (without Offset), for fakes.
func (p Probe) ResistanceAt(t measure.Temperature) float64 {
	c := t.Float()
	if p.Kind == NTC {
		beta, t0 := p.Beta, p.T0
		if beta == 0 {
			beta = 3950
		}
		if t0 == 0 {
			t0 = 25 * measure.Celsius
		}
		return p.r0() * math.Exp(beta*(1/(c+273.15)-1/(t0.Float()+273.15)))
	}
	return p.r0() * (1 + cvdA*c + cvdB*c*c)
}

// VoltageAt is the divider voltage for a probe at t, for fakes.
func (p Probe) VoltageAt(t measure.Temperature) measure.Voltage {
	r := p.ResistanceAt(t)
	return measure.Voltage(math.Round(float64(p.Supply) * r / (p.RefOhms + r)))
}

func parseVolts(s string) (float64, error) {
	var f float64
	n := len(s)
	for n > 0 && (s[n-1] == 'V' || s[n-1] == 'v' || s[n-1] == ' ') {
		n--
	}
	_, err := fmt.Sscanf(s[:n], "%g", &f)
	return f, err
}
