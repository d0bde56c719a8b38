// Package thermometer is the firmware of the SHIAN-TP1 food probe
// thermometer (中心温度计) with a serial port (USB-CDC, 9600 8N1): the
// operator pushes the probe into the centre of the food, waits for the
// reading to settle and presses HOLD; the thermometer prints a TEMP
// report (protocols/device/asciirpt) with the temperature to 0.1 °C and the mode
// selected on its keypad (COOK, HOT, COLD, FROZEN). It is written against
// an io.ReadWriter UART and a [Probe].
//
// # Behaviour
//
//   - [Thermometer.Hold] (the HOLD key) and the ?MEAS command both read
//     the probe and print a TEMP report with the next record number; a
//     probe that is open, shorted or off the −50…300 °C range gives an
//     ERR report (CODE PROBE-OPEN or OVER-RANGE) instead.
//   - ?ID is answered with an ID report.
//
// Like every Shian instrument it measures and does not judge: the kiosk
// applies the cooking and holding rules (protocols/domain/assay).
package thermometer

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shianfood/shian/firmware/internal/printer"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// ErrOffline is returned when a report is printed while the serial port
// is not being served (Serve not running).
var ErrOffline = printer.ErrNoUART

// Probe reads the probe's temperature.
type Probe interface {
	Temperature() (measure.Temperature, error)
}

// Config configures a Thermometer. Zero fields take the defaults.
type Config struct {
	Model    string // "SHIAN-TP1"
	Serial   string // "TP1-0001"
	Firmware string // "1.0.0"
	// Probe names the probe socket ("P1"); Mode is the keypad mode
	// (COOK).
	Probe string
	Mode  asciirpt.Mode
	// FirstNo is the first record number (1).
	FirstNo int
	// Now is the clock (time.Now), Location its zone (UTC+8).
	Now      func() time.Time
	Location *time.Location
}

func (c *Config) defaults() {
	if c.Model == "" {
		c.Model = "SHIAN-TP1"
	}
	if c.Serial == "" {
		c.Serial = "TP1-0001"
	}
	if c.Firmware == "" {
		c.Firmware = "1.0.0"
	}
	if c.Probe == "" {
		c.Probe = "P1"
	}
	if c.Mode == "" {
		c.Mode = asciirpt.ModeCook
	}
	if c.FirstNo <= 0 {
		c.FirstNo = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Location == nil {
		c.Location = time.FixedZone("CST", 8*3600)
	}
}

// Thermometer is the firmware.
type Thermometer struct {
	cfg   Config
	probe Probe
	out   printer.Port

	mu   sync.Mutex
	no   int
	mode asciirpt.Mode
}

// New returns a thermometer.
func New(cfg Config, p Probe) *Thermometer {
	cfg.defaults()
	return &Thermometer{cfg: cfg, probe: p, no: cfg.FirstNo, mode: cfg.Mode}
}

// Config returns the configuration with defaults.
func (t *Thermometer) Config() Config { return t.cfg }

// SetMode selects the keypad mode of the next readings.
func (t *Thermometer) SetMode(m asciirpt.Mode) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mode = m
}

// Round returns t rounded to the nearest 0.1 °C, halves away from zero.
func Round(t measure.Temperature) measure.Temperature {
	if t < 0 {
		return -Round(-t)
	}
	return (t + 50) / 100 * 100
}

// Hold reads the probe and prints the report (TEMP, or ERR). It returns
// the report printed and the error of printing it.
func (t *Thermometer) Hold() (asciirpt.Report, error) {
	t.mu.Lock()
	r := asciirpt.Report{Model: t.cfg.Model, Serial: t.cfg.Serial}
	v, err := t.probe.Temperature()
	v = Round(v)
	switch {
	case err != nil:
		r.Kind, r.Code = asciirpt.KindErr, "PROBE-OPEN"
	case v < asciirpt.MinTemp || v > asciirpt.MaxTemp:
		r.Kind, r.Code = asciirpt.KindErr, "OVER-RANGE"
	default:
		r.Kind, r.No, r.Probe, r.Mode, r.Temp = asciirpt.KindTemp, t.no, t.cfg.Probe, t.mode, v
		r.Time = t.cfg.Now().In(t.cfg.Location).Truncate(time.Second)
		t.no = t.no%999999 + 1
	}
	t.mu.Unlock()
	return r, t.out.Print(r)
}

// Serving reports whether Serve is running with a UART: before that, a
// report has nowhere to go and Hold returns printer.ErrNoUART.
func (t *Thermometer) Serving() bool { return t.out.Serving() }

// Serve runs the thermometer's serial port on uart until ctx ends or the
// UART fails. It has the shape of simulator/serialsim's Device.
func (t *Thermometer) Serve(ctx context.Context, uart io.ReadWriter) error {
	return t.out.Serve(ctx, uart, func(cmd string) error {
		switch cmd {
		case asciirpt.CmdID:
			return t.out.Print(asciirpt.Report{Kind: asciirpt.KindID, Model: t.cfg.Model, Serial: t.cfg.Serial, Firmware: t.cfg.Firmware})
		case asciirpt.CmdMeasure:
			_, err := t.Hold()
			return err
		}
		return nil
	})
}

// SimProbe is a probe for the simulator and tests.
type SimProbe struct {
	mu   sync.Mutex
	t    measure.Temperature
	open bool
}

var _ Probe = (*SimProbe)(nil)

// ErrOpen is the error of an open probe.
var ErrOpen = errors.New("thermometer sim: probe open")

// Set sets the temperature at the probe tip.
func (s *SimProbe) Set(t measure.Temperature) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = t
}

// Unplug makes the probe read open until called with false.
func (s *SimProbe) Unplug(open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open = open
}

// Temperature implements Probe.
func (s *SimProbe) Temperature() (measure.Temperature, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open {
		return 0, ErrOpen
	}
	return s.t, nil
}

// CoreFor returns a random centre temperature that the default cooking
// rule (≥ 70 °C) passes for assay.Negative and fails otherwise.
func CoreFor(rng *rand.Rand, v assay.Verdict) measure.Temperature {
	tenths := func(lo, hi int64) measure.Temperature { return measure.Temperature((lo + rng.Int64N(hi-lo+1)) * 100) }
	if v == assay.Negative || v == assay.Pass {
		return tenths(705, 950)
	}
	return tenths(450, 695)
}
