// Package enzyme is the firmware of a pesticide-residue tester by the
// enzyme-inhibition method (GB/T 5009.199), modelled on the Dayuan DY-3000
// family. The same code runs on a microcontroller (a UART and a photometer
// front end) or in the simulator behind a pseudo-terminal.
//
// # What the instrument does
//
// The operator loads the control well and a sample well and presses START
// ([Firmware.Start]: channel, sample code and name). The firmware announces
// the test (dyframe.Started), reads both wells' absorbance after Lead (0.5
// min) and again Interval (3 min) later, and sends the result
// (dyframe.Report: the four absorbances, sample, item, time). The report is
// repeated every Resend until the host acknowledges it (dyframe.Ack), and is
// kept (up to History reports) while no host is listening, as the real
// instrument keeps its records. It answers the communication test
// (dyframe.Hello) at any time with its model, serial and state.
//
// # Photometer
//
// Absorbance is computed on the device from raw AD counts by the DY-3500
// algorithm ([Absorbance]: dark subtraction, transmittance bands, log10).
// The sensor is the small [Photometer] interface; [SimPhotometer] stands in
// for the optics and can be steered to a chosen verdict.
//
// # Time
//
// Time comes from an injected [Clock]. Demos and tests shorten Lead and
// Interval to milliseconds; tests of exact timing run under testing/synctest.
package enzyme

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Clock is the firmware's time source.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DefaultItem is the test item of the enzyme method.
const DefaultItem = "有机磷和氨基甲酸酯类农药"

// Config describes one tester. Zero fields take the defaults shown.
type Config struct {
	Model   string // "DY-3000E"
	Serial  string // ""
	Version string // "1.0.0"
	Item    string // DefaultItem
	// Channels is the number of sample channels (1…Channels); default 8.
	// ControlChannel is the control well, 0 by vendor convention.
	Channels       int
	ControlChannel int
	// Lead is the time from START to the first reading (0.5 min), Interval
	// the time between the two readings (3 min). If only Interval is set,
	// Lead is Interval/6, keeping the standard's proportions.
	Lead     time.Duration
	Interval time.Duration
	// Resend is how often an unacknowledged report is repeated (2 s).
	Resend time.Duration
	// History is how many unacknowledged reports are kept (500); beyond
	// it the oldest is dropped, as a full instrument memory would.
	History int
	// FirstRecord is the first record number (1).
	FirstRecord uint32
	// Location is the zone of the instrument's wall clock (UTC+8).
	Location *time.Location
}

func (c *Config) defaults() {
	if c.Model == "" {
		c.Model = "DY-3000E"
	}
	if c.Version == "" {
		c.Version = "1.0.0"
	}
	if c.Item == "" {
		c.Item = DefaultItem
	}
	if c.Channels <= 0 {
		c.Channels = 8
	}
	if c.Interval <= 0 {
		c.Interval = 3 * time.Minute
		if c.Lead <= 0 {
			c.Lead = 30 * time.Second
		}
	}
	if c.Lead <= 0 {
		c.Lead = c.Interval / 6
	}
	if c.Resend <= 0 {
		c.Resend = 2 * time.Second
	}
	if c.History <= 0 {
		c.History = 500
	}
	if c.FirstRecord == 0 {
		c.FirstRecord = 1
	}
	if c.Location == nil {
		c.Location = time.FixedZone("CST", 8*3600)
	}
}

// Errors of Start.
var (
	ErrBusy    = errors.New("enzyme: a test is already running; wait for its report")
	ErrChannel = errors.New("enzyme: no such sample channel")
)

// Firmware is one tester. Create it with New; it is safe for concurrent use
// (Start from an operator goroutine, Serve from the UART's).
type Firmware struct {
	cfg Config
	ph  Photometer
	clk Clock

	mu          sync.Mutex
	test        *test
	pending     []dyframe.Report // unacknowledged, oldest first
	nextRecord  uint32
	nextSend    time.Time
	wake        chan struct{}
	serving     atomic.Bool
	badFrames   atomic.Uint64
	sentReports atomic.Uint64
	dropped     atomic.Uint64
}

type test struct {
	record        uint32
	channel       int
	code, name    string
	started       time.Time
	firstAt       time.Time
	lastAt        time.Time
	announced     bool
	haveFirst     bool
	control, samp dyframe.Kinetics
}

// New returns a tester with configuration cfg, reading ph, timed by clk
// (SystemClock{} if nil).
func New(cfg Config, ph Photometer, clk Clock) *Firmware {
	cfg.defaults()
	if clk == nil {
		clk = SystemClock{}
	}
	return &Firmware{cfg: cfg, ph: ph, clk: clk, nextRecord: cfg.FirstRecord, wake: make(chan struct{}, 1)}
}

// Config returns the configuration with defaults filled in.
func (f *Firmware) Config() Config { return f.cfg }

// Start begins a test on a sample channel: the operator pressed START after
// keying in the sample code and name (truncated to their fields). It returns
// the record number the report will carry.
func (f *Firmware) Start(channel int, sampleCode, sampleName string) (uint32, error) {
	if channel < 1 || channel > f.cfg.Channels || channel == f.cfg.ControlChannel {
		return 0, fmt.Errorf("%w: %d (1…%d, not the control %d)", ErrChannel, channel, f.cfg.Channels, f.cfg.ControlChannel)
	}
	f.mu.Lock()
	if f.test != nil {
		f.mu.Unlock()
		return 0, ErrBusy
	}
	now := f.clk.Now()
	t := &test{
		record: f.nextRecord, channel: channel,
		code: dyframe.FitGB2312(sampleCode, 16), name: dyframe.FitGB2312(sampleName, 32),
		started: now, firstAt: now.Add(f.cfg.Lead), lastAt: now.Add(f.cfg.Lead + f.cfg.Interval),
	}
	f.nextRecord++
	f.test = t
	f.mu.Unlock()
	if b, ok := f.ph.(TestBeginner); ok {
		b.BeginTest(channel)
	}
	f.poke()
	return t.record, nil
}

// Measuring reports whether a test is running.
func (f *Firmware) Measuring() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.test != nil
}

// Pending returns how many reports wait for an acknowledgement.
func (f *Firmware) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// Stats are the firmware's counters.
type Stats struct {
	BadFrames   uint64 // frames from the host that failed their checks
	SentReports uint64 // report frames written, repeats included
	Dropped     uint64 // unacknowledged reports dropped (History full)
}

// Stats returns the counters.
func (f *Firmware) Stats() Stats {
	return Stats{BadFrames: f.badFrames.Load(), SentReports: f.sentReports.Load(), Dropped: f.dropped.Load()}
}

func (f *Firmware) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Serve talks to the host over uart until ctx ends (it returns ctx.Err())
// or the UART fails (it returns the error). Only one Serve may run at a
// time. Serve does not own the UART: it starts one goroutine blocked in
// uart.Read, which ends when Read returns an error — close the UART after
// Serve returns (the simulator does). Tests and measurements in progress
// and unacknowledged reports survive from one Serve to the next, so a
// re-plugged cable continues where it left off.
func (f *Firmware) Serve(ctx context.Context, uart io.ReadWriter) error {
	if !f.serving.CompareAndSwap(false, true) {
		return errors.New("enzyme: Serve is already running")
	}
	defer f.serving.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	frames := make(chan dyframe.Frame)
	rerr := make(chan error, 1)
	go func() {
		r := dyframe.NewReader(uart)
		for {
			fr, err := r.ReadFrame()
			if err != nil {
				var fe *dyframe.FrameError
				if errors.As(err, &fe) {
					f.badFrames.Add(1)
					continue
				}
				rerr <- err
				return
			}
			select {
			case frames <- fr:
			case <-ctx.Done():
				return
			}
		}
	}()

	f.mu.Lock()
	f.nextSend = time.Time{} // a new connection: send pending reports now
	f.mu.Unlock()
	for {
		wait, err := f.step(uart)
		if err != nil {
			return fmt.Errorf("enzyme: writing to the UART: %w", err)
		}
		var timer <-chan time.Time
		if wait >= 0 {
			timer = f.clk.After(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-rerr:
			return fmt.Errorf("enzyme: reading the UART: %w", err)
		case fr := <-frames:
			if err := f.handle(fr, uart); err != nil {
				return fmt.Errorf("enzyme: writing to the UART: %w", err)
			}
		case <-f.wake:
		case <-timer:
		}
	}
}

// handle answers one frame from the host.
func (f *Firmware) handle(fr dyframe.Frame, w io.Writer) error {
	m, err := dyframe.Decode(fr)
	if err != nil {
		f.badFrames.Add(1)
		return nil
	}
	switch m := m.(type) {
	case dyframe.Hello:
		return send(w, dyframe.Ident{
			Model:     dyframe.FitGB2312(f.cfg.Model, 16),
			Serial:    dyframe.FitGB2312(f.cfg.Serial, 16),
			Version:   dyframe.FitGB2312(f.cfg.Version, 8),
			Measuring: f.Measuring(),
			Channels:  uint8(min(f.cfg.Channels, math.MaxUint8)),
		})
	case dyframe.Ack:
		f.mu.Lock()
		for i, r := range f.pending {
			if r.Record == m.Record {
				f.pending = append(f.pending[:i], f.pending[i+1:]...)
				f.nextSend = time.Time{} // send the next one now
				break
			}
		}
		f.mu.Unlock()
	}
	return nil
}

// step does whatever is due (announce, read, report, resend) and returns how
// long until something is next due (-1: nothing scheduled).
func (f *Firmware) step(w io.Writer) (time.Duration, error) {
	for {
		now := f.clk.Now()
		f.mu.Lock()
		t := f.test
		var announce *dyframe.Started
		var read int // 0 none, 1 first, 2 last
		if t != nil {
			switch {
			case !t.announced:
				t.announced = true
				announce = &dyframe.Started{
					Record: t.record, Time: f.packed(t.started), Channel: uint8(t.channel),
					Duration:   uint16(min(math.Round((f.cfg.Lead + f.cfg.Interval).Seconds()), math.MaxUint16)),
					SampleCode: t.code, SampleName: t.name,
				}
			case !t.haveFirst && !now.Before(t.firstAt):
				read = 1
			case t.haveFirst && !now.Before(t.lastAt):
				read = 2
			}
		}
		f.mu.Unlock()

		switch {
		case announce != nil:
			if err := send(w, *announce); err != nil {
				return 0, err
			}
			continue
		case read == 1:
			c, s := f.read(t.channel)
			f.mu.Lock()
			t.control.First, t.samp.First, t.haveFirst = c, s, true
			f.mu.Unlock()
			continue
		case read == 2:
			c, s := f.read(t.channel)
			f.mu.Lock()
			t.control.Last, t.samp.Last = c, s
			f.finish(t, now)
			f.mu.Unlock()
			continue
		}

		// Resend the oldest unacknowledged report when due.
		f.mu.Lock()
		var due *dyframe.Report
		if len(f.pending) > 0 && !now.Before(f.nextSend) {
			r := f.pending[0]
			due = &r
			f.nextSend = now.Add(f.cfg.Resend)
		}
		wait := time.Duration(-1)
		next := func(at time.Time) {
			if d := max(at.Sub(now), 0); wait < 0 || d < wait {
				wait = d
			}
		}
		if len(f.pending) > 0 && due == nil {
			next(f.nextSend)
		}
		if t := f.test; t != nil {
			if !t.haveFirst {
				next(t.firstAt)
			} else {
				next(t.lastAt)
			}
		}
		f.mu.Unlock()
		if due != nil {
			if err := send(w, *due); err != nil {
				return 0, err
			}
			f.sentReports.Add(1)
			continue
		}
		return wait, nil
	}
}

// finish turns a completed test into a pending report. f.mu is held.
func (f *Firmware) finish(t *test, now time.Time) {
	r := dyframe.Report{
		Record: t.record, Time: f.packed(now),
		Channel: uint8(t.channel), ControlChannel: uint8(f.cfg.ControlChannel),
		Interval: uint16(min(math.Round(f.cfg.Interval.Seconds()), math.MaxUint16)),
		Control:  t.control, Sample: t.samp,
		Inhibition: deviceInhibition(t.control, t.samp),
		SampleCode: t.code, SampleName: t.name, Item: dyframe.FitGB2312(f.cfg.Item, 32),
	}
	f.pending = append(f.pending, r)
	if len(f.pending) > f.cfg.History {
		f.pending = f.pending[1:]
		f.dropped.Add(1)
	}
	f.test = nil
	if len(f.pending) == 1 {
		f.nextSend = time.Time{}
	}
}

// read takes one reading of the control and the sample channel.
func (f *Firmware) read(ch int) (control, sample measure.Absorbance) {
	one := func(ch int) measure.Absorbance {
		c, err := f.ph.Read(ch)
		if err != nil {
			return dyframe.AbsInvalid
		}
		return Absorbance(c)
	}
	return one(f.cfg.ControlChannel), one(ch)
}

// packed returns t as the instrument's packed wall-clock time (0 if it
// cannot be packed: a clock before 2000, as on a board without RTC).
func (f *Firmware) packed(t time.Time) dyframe.PackedTime {
	p, err := dyframe.PackTime(t.In(f.cfg.Location))
	if err != nil {
		return 0
	}
	return p
}

// deviceInhibition is the tester's own rate in 0.1 % (the DY-3500 rule:
// invalid if a ΔA is invalid or ΔA0 ≤ 0, clamped at 0, invalid above 100 %).
func deviceInhibition(c, s dyframe.Kinetics) uint16 {
	cd, ok1 := c.Delta()
	sd, ok2 := s.Delta()
	rate, ok := assay.Inhibition(cd, sd)
	if !ok1 || !ok2 || !ok || rate > measure.Whole {
		return dyframe.InhibitionInvalid
	}
	return uint16((rate + 500) / 1000)
}

func send(w io.Writer, m dyframe.Message) error {
	b, err := dyframe.Encode(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
