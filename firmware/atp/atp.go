// Package atp is the firmware of the SHIAN-ATP1 ATP bioluminescence
// meter (ATP荧光检测仪): the operator swabs a surface, puts the swab in the
// meter and presses MEASURE; the meter reads the light (RLU) and prints a
// report (protocols/device/asciirpt) on its printer port, a serial line at 9600
// 8N1. It is written against an io.ReadWriter UART and a [Luminometer],
// so the same code runs on a microcontroller or in the simulator.
//
// # Behaviour
//
//   - [Meter.Swab] is MEASURE: it reads the luminometer and prints an ATP
//     report with the next record number (NO.), the surface code (POINT)
//     and the count, or an ERR report (CODE LUM-FAULT) when the
//     luminometer fails.
//   - [Meter.Reprint] is PRINT: the last report again, unchanged (same
//     NO.), for a paper copy. A host must not count it twice.
//   - On the serial line the meter answers ?ID with an ID report and ?MEAS
//     with ERR NOT-SUPPORTED: it measures only when its own button is
//     pressed, with a swab in the chamber.
//
// The meter does not judge: RLU limits are specific to the meter's scale
// and the site (protocols/assay, per model), and the kiosk decides.
package atp

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

// Luminometer reads the light of the swab in the chamber.
type Luminometer interface {
	Measure() (measure.RLU, error)
}

// Config configures a Meter. Zero fields take the defaults.
type Config struct {
	Model    string // "SHIAN-ATP1"
	Serial   string // "ATP1-0001"
	Firmware string // "1.0.0"
	// FirstNo is the first record number (1).
	FirstNo int
	// Now is the meter's clock (time.Now), Location its zone (UTC+8).
	Now      func() time.Time
	Location *time.Location
}

func (c *Config) defaults() {
	if c.Model == "" {
		c.Model = "SHIAN-ATP1"
	}
	if c.Serial == "" {
		c.Serial = "ATP1-0001"
	}
	if c.Firmware == "" {
		c.Firmware = "1.0.0"
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

// Meter is the meter's firmware.
type Meter struct {
	cfg Config
	lum Luminometer
	out printer.Port

	mu   sync.Mutex
	no   int
	last *asciirpt.Report
}

// New returns a meter.
func New(cfg Config, lum Luminometer) *Meter {
	cfg.defaults()
	return &Meter{cfg: cfg, lum: lum, no: cfg.FirstNo}
}

// Config returns the configuration with defaults.
func (m *Meter) Config() Config { return m.cfg }

func (m *Meter) header(k asciirpt.Kind) asciirpt.Report {
	return asciirpt.Report{Kind: k, Model: m.cfg.Model, Serial: m.cfg.Serial}
}

// Swab measures the swab in the chamber for surface point and prints the
// report. It returns the report printed (ATP, or ERR when the
// luminometer failed) and the error of printing it.
func (m *Meter) Swab(point string) (asciirpt.Report, error) {
	m.mu.Lock()
	rlu, err := m.lum.Measure()
	var r asciirpt.Report
	if err != nil {
		r = m.header(asciirpt.KindErr)
		r.Code = "LUM-FAULT"
	} else {
		r = m.header(asciirpt.KindATP)
		r.No = m.no
		r.Time = m.cfg.Now().In(m.cfg.Location).Truncate(time.Second)
		r.Point = point
		r.RLU = min(max(rlu, 0), 9999999)
		m.no = m.no%999999 + 1
		m.last = &r
	}
	m.mu.Unlock()
	return r, m.out.Print(r)
}

// Serving reports whether Serve is running with a UART: before that, a
// report has nowhere to go and Swab returns printer.ErrNoUART.
func (m *Meter) Serving() bool { return m.out.Serving() }

// ErrNothing is returned by Reprint before the first measurement.
var ErrNothing = errors.New("atp: nothing to reprint")

// Reprint prints the last ATP report again.
func (m *Meter) Reprint() error {
	m.mu.Lock()
	last := m.last
	m.mu.Unlock()
	if last == nil {
		return ErrNothing
	}
	return m.out.Print(*last)
}

// Serve runs the meter's printer port on uart until ctx ends or the UART
// fails. It has the shape of simulator/serialsim's Device.
func (m *Meter) Serve(ctx context.Context, uart io.ReadWriter) error {
	return m.out.Serve(ctx, uart, func(cmd string) error {
		switch cmd {
		case asciirpt.CmdID:
			r := m.header(asciirpt.KindID)
			r.Firmware = m.cfg.Firmware
			return m.out.Print(r)
		case asciirpt.CmdMeasure:
			r := m.header(asciirpt.KindErr)
			r.Code = "NOT-SUPPORTED"
			return m.out.Print(r)
		}
		return nil
	})
}

// SimLuminometer is a luminometer for the simulator and tests: each
// Measure returns the next queued count (Next), else 5 RLU.
type SimLuminometer struct {
	mu    sync.Mutex
	queue []measure.RLU
	fail  bool
}

var _ Luminometer = (*SimLuminometer)(nil)

// ErrLuminometer is the error of a failed luminometer (Fail).
var ErrLuminometer = errors.New("atp sim: photomultiplier failed")

// Next queues the count of a coming measurement.
func (s *SimLuminometer) Next(rlu measure.RLU) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, rlu)
}

// Fail makes measurements fail until called with false.
func (s *SimLuminometer) Fail(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// Measure implements Luminometer.
func (s *SimLuminometer) Measure() (measure.RLU, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, ErrLuminometer
	}
	if len(s.queue) == 0 {
		return 5, nil
	}
	r := s.queue[0]
	s.queue = s.queue[1:]
	return r, nil
}

// RLUFor returns a random count that the default ATP limits (pass ≤ 10,
// fail > 30) decide as: pass for assay.Negative, caution for
// assay.Suspicious, fail for assay.Positive (and assay.Invalid).
func RLUFor(rng *rand.Rand, v assay.Verdict) measure.RLU {
	l := assay.DefaultATPRule().Default
	switch v {
	case assay.Negative, assay.Pass:
		return measure.RLU(rng.Int64N(int64(l.PassMax) + 1))
	case assay.Suspicious, assay.Caution:
		return l.PassMax + 1 + measure.RLU(rng.Int64N(int64(l.FailAbove-l.PassMax)))
	}
	return l.FailAbove + 1 + measure.RLU(rng.Int64N(2000))
}
