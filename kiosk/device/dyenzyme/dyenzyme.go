// Package dyenzyme is the kiosk driver for pesticide-residue testers by the
// enzyme-inhibition method (GB/T 5009.199) that speak the DY-3000-family
// serial frames (protocols/device/dyframe). It registers as protocol "dy-enzyme".
//
// # What it does
//
// Run opens the configured port through env.Serial, sends the
// communication test (0x20 "DEVICE??") and waits for the tester's Ident
// (model, serial, state). From then on it reads what the tester pushes:
// Started (the state becomes measuring) and Report (the four absorbances).
// Every report becomes a device.Reading with Method
// assay.EnzymeInhibition and Raw.ControlDeltaA / Raw.SampleDeltaA; the
// driver hands it to the sink and only then acknowledges it, so a report
// the kiosk did not take is repeated by the tester. A repeated report that
// was already taken (same serial and record) is acknowledged again but not
// re-emitted. A report whose absorbance readings are reserved values
// (overflow, no light) yields no reading — as the vendor software skips
// such records — and is logged.
//
// # Robustness
//
//   - A frame that fails its checks, length or fields is counted
//     (Status.BadFrames) and never produces a reading; the port's input
//     is flushed so that stale bytes are not mistaken for the next frame
//     (the tester repeats its report anyway).
//   - A partial frame that stops arriving is abandoned after FrameTimeout.
//   - When the line has been quiet for ProbeEvery the driver probes with
//     the communication test; no answer within ReplyTimeout is a failure.
//   - A port that fails (USB adapter unplugged, pty closed) is closed and
//     reopened on a capped exponential backoff with jitter.
//   - After FailAfter consecutive failures the state is down; the driver
//     keeps probing on the backoff and is ready again at the first answer.
//   - If env.Serial hands out ports with a Lock(ctx)/Unlock pair (see
//     kiosk/serialport.Hub), the driver holds the port's lock for as long
//     as it has the port open: the tester pushes frames whenever it
//     likes, so it cannot share its line.
//
// # Configuration
//
// device.Spec: Port (required), Baud (default 9600), Model (used until the
// tester identifies itself). Options, all optional:
//
//	read_timeout         100ms  granularity of the read loop
//	reply_timeout        1s     wait for the answer to a probe
//	probe_every          5s     probe a quiet line this often
//	frame_timeout        500ms  abandon a partial frame after this
//	fail_after           3      consecutive failures before "down"
//	backoff_min          200ms  first reopen delay
//	backoff_max          4s     reopen delay cap (a reappearing device is reopened within 4 s)
//	pause_after_connect  0s     wait after opening before the first probe
//	tz                   Asia/Shanghai  zone of the tester's clock (UTC+8 if the zone database is missing)
//	analyte              organophosphate_carbamate
package dyenzyme

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the name the driver registers under.
const Protocol = "dy-enzyme"

// DefaultAnalyte is the machine name of what the enzyme method detects.
const DefaultAnalyte = "organophosphate_carbamate"

func init() { device.Register(Protocol, New) }

// Options are the driver's tunables, parsed from device.Spec.Options.
type Options struct {
	ReadTimeout       time.Duration
	ReplyTimeout      time.Duration
	ProbeEvery        time.Duration
	FrameTimeout      time.Duration
	FailAfter         int
	BackoffMin        time.Duration
	BackoffMax        time.Duration
	PauseAfterConnect time.Duration
	Location          *time.Location
	Analyte           string
}

// DefaultOptions returns the defaults listed in the package doc.
func DefaultOptions() Options {
	return Options{
		ReadTimeout: 100 * time.Millisecond, ReplyTimeout: time.Second, ProbeEvery: 5 * time.Second,
		FrameTimeout: 500 * time.Millisecond, FailAfter: 3,
		BackoffMin: 200 * time.Millisecond, BackoffMax: 4 * time.Second,
		Location: shanghai(), Analyte: DefaultAnalyte,
	}
}

func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}

// ParseOptions reads Options from a spec's option map. An unknown key or a
// bad value is an error naming the key.
func ParseOptions(m map[string]string) (Options, error) {
	o := DefaultOptions()
	durations := map[string]*time.Duration{
		"read_timeout": &o.ReadTimeout, "reply_timeout": &o.ReplyTimeout, "probe_every": &o.ProbeEvery,
		"frame_timeout": &o.FrameTimeout, "backoff_min": &o.BackoffMin, "backoff_max": &o.BackoffMax,
		"pause_after_connect": &o.PauseAfterConnect,
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(m[k])
		if p, ok := durations[k]; ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || (d == 0 && k != "pause_after_connect") {
				return o, fmt.Errorf("option %s: %q is not a positive duration (write it like 500ms or 5s)", k, v)
			}
			*p = d
			continue
		}
		switch k {
		case "fail_after":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("option fail_after: %q is not a whole number ≥ 1", v)
			}
			o.FailAfter = n
		case "tz":
			loc, err := time.LoadLocation(v)
			if err != nil {
				return o, fmt.Errorf("option tz: %q is not a known time zone (e.g. Asia/Shanghai): %v", v, err)
			}
			o.Location = loc
		case "analyte":
			if v == "" {
				return o, errors.New("option analyte: empty")
			}
			o.Analyte = v
		default:
			return o, fmt.Errorf("unknown option %q (known: analyte, backoff_max, backoff_min, fail_after, frame_timeout, pause_after_connect, probe_every, read_timeout, reply_timeout, tz)", k)
		}
	}
	if o.BackoffMax < o.BackoffMin {
		return o, fmt.Errorf("option backoff_max (%v) is below backoff_min (%v)", o.BackoffMax, o.BackoffMin)
	}
	return o, nil
}

// Driver is a running dy-enzyme instrument.
type Driver struct {
	spec device.Spec
	env  device.Env
	opt  Options
	mode device.SerialMode

	mu       sync.Mutex
	st       device.Status
	failures int // consecutive
	opened   bool
	seen     recent
	rng      *rand.Rand
}

var _ device.Instrument = (*Driver)(nil)

// New builds the driver from its spec (the registered device.Factory).
func New(spec device.Spec, env device.Env) (device.Instrument, error) {
	if spec.Port == "" {
		return nil, fmt.Errorf("device %q (line %d): protocol %s needs port: the serial device, e.g. /dev/ttyUSB0", spec.ID, spec.Line, Protocol)
	}
	if spec.Baud < 0 {
		return nil, fmt.Errorf("device %q (line %d): baud %d is negative", spec.ID, spec.Line, spec.Baud)
	}
	if env.Serial == nil {
		return nil, fmt.Errorf("device %q: protocol %s needs a serial opener in its environment", spec.ID, Protocol)
	}
	opt, err := ParseOptions(spec.Options)
	if err != nil {
		return nil, fmt.Errorf("device %q (line %d): %w", spec.ID, spec.Line, err)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	baud := spec.Baud
	if baud == 0 {
		baud = 9600
	}
	d := &Driver{
		spec: spec, env: env, opt: opt,
		mode: device.SerialMode{Baud: baud, DataBits: 8, Parity: "N", StopBits: 1},
		rng:  rand.New(rand.NewPCG(uint64(env.Now().UnixNano()), uint64(len(spec.ID)))),
		seen: recent{max: 1024},
	}
	d.st.ID, d.st.Model = spec.ID, spec.Model
	return d, nil
}

// ID returns the device id.
func (d *Driver) ID() string { return d.spec.ID }

// Status returns a snapshot of the driver's health.
func (d *Driver) Status() device.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// Run reads the tester until ctx ends.
func (d *Driver) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.RunConfirmed(ctx, func(r device.Reading) error { sink(r); return nil })
}

var _ device.Confirming = (*Driver)(nil)

// RunConfirmed is Run with a sink that can refuse a reading: a refused
// report is not acknowledged, so the tester repeats it.
func (d *Driver) RunConfirmed(ctx context.Context, sink func(device.Reading) error) error {
	log := d.env.Log
	attempt := 0
	for {
		healthy, err := d.session(ctx, sink)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if healthy {
			attempt = 0
		}
		d.fail(err)
		delay := d.backoff(attempt)
		attempt++
		if log != nil {
			log.Warn("dy-enzyme: port session ended; reopening", "device", d.spec.ID, "port", d.spec.Port, "err", err, "retry_in", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff returns the delay before reopen attempt n: exponential from
// BackoffMin, capped at BackoffMax, with "equal jitter" (a uniform draw in
// the upper half) so that kiosks unplugged together do not retry together.
func (d *Driver) backoff(n int) time.Duration {
	b := d.opt.BackoffMin
	for i := 0; i < n && b < d.opt.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, d.opt.BackoffMax)
	d.mu.Lock()
	j := time.Duration(d.rng.Int64N(int64(b)/2 + 1))
	d.mu.Unlock()
	return b/2 + j
}

// fail records a failure; DOWN after FailAfter in a row.
func (d *Driver) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures++
	if err != nil {
		d.st.LastErr = err.Error()
	}
	if d.failures >= d.opt.FailAfter {
		d.st.State = device.StateDown
	}
}

// alive records an answer from the tester.
func (d *Driver) alive(state device.State) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures = 0
	d.st.State = state
	d.st.LastSeen = d.env.Now()
}

func (d *Driver) count(good bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if good {
		d.st.Frames++
	} else {
		d.st.BadFrames++
	}
}

type locker interface {
	Lock(context.Context) error
	Unlock()
}

// errLost wraps the error of a port that stopped working.
var errLost = errors.New("serial port lost")

// session opens the port and serves it until it fails or ctx ends. healthy
// is true if the tester answered during the session.
func (d *Driver) session(ctx context.Context, sink func(device.Reading) error) (healthy bool, err error) {
	port, err := d.env.Serial.OpenSerial(d.spec.Port, d.mode)
	if err != nil {
		return false, err
	}
	// Closed from this goroutine only, after the last Read: a shared
	// handle's Close releases the port lock, and another driver must not
	// get the port while a Read of ours is in flight. ctx is noticed at
	// the next read timeout.
	defer port.Close()
	if l, ok := port.(locker); ok {
		if err := l.Lock(ctx); err != nil {
			return false, err
		}
		defer l.Unlock()
	}
	d.mu.Lock()
	if d.opened {
		d.st.Reopens++
	}
	d.opened = true
	d.mu.Unlock()

	if err := port.SetReadTimeout(d.opt.ReadTimeout); err != nil {
		return false, fmt.Errorf("%w: setting the read timeout: %v", errLost, err)
	}
	_ = port.ResetInputBuffer() // bytes from before we opened are stale
	if d.opt.PauseAfterConnect > 0 {
		t := time.NewTimer(d.opt.PauseAfterConnect)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}

	s := &sess{d: d, port: port, sink: sink}
	if err := s.probe(); err != nil {
		return false, err
	}
	buf := make([]byte, 512)
	for {
		n, rerr := port.Read(buf)
		if ctx.Err() != nil {
			return s.healthy, ctx.Err()
		}
		if n > 0 {
			s.lastRx = d.env.Now()
			s.sc.Feed(buf[:n])
			if err := s.drain(); err != nil {
				return s.healthy, err
			}
		}
		if rerr != nil {
			return s.healthy, fmt.Errorf("%w: %s: %v", errLost, d.spec.Port, rerr)
		}
		if err := s.tick(); err != nil {
			return s.healthy, err
		}
	}
}

// sess is the state of one open port.
type sess struct {
	d       *Driver
	port    device.Port
	sink    func(device.Reading) error
	sc      dyframe.Scanner
	ident   *dyframe.Ident
	healthy bool

	lastRx      time.Time // last byte received (real time: timeouts only)
	partialFrom time.Time // when the current partial frame started
	probedAt    time.Time // zero when not waiting for an answer
}

func (s *sess) write(m dyframe.Message) error {
	b, err := dyframe.Encode(m)
	if err != nil {
		return err
	}
	if _, err := s.port.Write(b); err != nil {
		return fmt.Errorf("%w: %s: writing: %v", errLost, s.d.spec.Port, err)
	}
	return nil
}

func (s *sess) probe() error {
	s.probedAt = s.d.env.Now()
	return s.write(dyframe.Hello{})
}

// flush discards everything received but not decoded, after a bad frame
// or a timeout.
func (s *sess) flush() {
	_ = s.port.ResetInputBuffer()
	s.sc.Reset()
	s.partialFrom = time.Time{}
}

// tick runs the timeouts after every read (data or not).
func (s *sess) tick() error {
	now := s.d.env.Now()
	if s.sc.Pending() == 0 {
		s.partialFrom = time.Time{}
	} else if s.partialFrom.IsZero() {
		s.partialFrom = now
	} else if now.Sub(s.partialFrom) > s.d.opt.FrameTimeout {
		// The line went quiet inside a frame. Give up on it; frames
		// hidden in its bytes are still found.
		s.d.count(false)
		s.sc.Expire()
		s.partialFrom = time.Time{}
		if err := s.drain(); err != nil {
			return err
		}
	}
	if !s.probedAt.IsZero() && now.Sub(s.probedAt) > s.d.opt.ReplyTimeout {
		s.d.mu.Lock()
		s.d.st.Timeouts++
		s.d.mu.Unlock()
		s.d.fail(fmt.Errorf("%s: no answer to the communication test within %v", s.d.spec.Port, s.d.opt.ReplyTimeout))
		s.d.mu.Lock()
		down := s.d.failures >= s.d.opt.FailAfter
		s.d.mu.Unlock()
		s.flush()
		if down {
			// Reopen on the backoff: an unplugged adapter or a
			// switched-off tester.
			return fmt.Errorf("%s: tester not answering", s.d.spec.Port)
		}
		return s.probe()
	}
	if s.probedAt.IsZero() && now.Sub(s.lastRx) > s.d.opt.ProbeEvery {
		return s.probe()
	}
	return nil
}

// drain decodes every complete frame buffered.
func (s *sess) drain() error {
	for {
		f, err := s.sc.Next()
		if errors.Is(err, dyframe.ErrIncomplete) {
			return nil
		}
		if err == nil {
			var m dyframe.Message
			if m, err = dyframe.Decode(f); err == nil {
				s.d.count(true)
				if err := s.handle(m); err != nil {
					return err
				}
				continue
			}
		}
		s.d.count(false)
		s.d.mu.Lock()
		s.d.st.LastErr = err.Error()
		s.d.mu.Unlock()
		if log := s.d.env.Log; log != nil {
			log.Debug("dy-enzyme: bad frame", "device", s.d.spec.ID, "err", err)
		}
		s.flush()
		return nil
	}
}

func (s *sess) handle(m dyframe.Message) error {
	d := s.d
	switch m := m.(type) {
	case dyframe.Ident:
		s.ident = &m
		s.probedAt = time.Time{}
		s.healthy = true
		state := device.StateReady
		if m.Measuring {
			state = device.StateMeasuring
		}
		d.alive(state)
		d.mu.Lock()
		if m.Model != "" {
			d.st.Model = m.Model
		}
		d.mu.Unlock()
	case dyframe.Started:
		s.healthy = true
		d.alive(device.StateMeasuring)
	case dyframe.Report:
		s.healthy = true
		if s.ident == nil {
			// Take reports only from a tester that has said who it is:
			// the serial number is part of the key that stops a
			// repeated report from being taken twice. Not acknowledged,
			// so the tester repeats it after answering the probe.
			if s.probedAt.IsZero() {
				return s.probe()
			}
			return nil
		}
		d.alive(device.StateReady)
		key := s.ident.Serial + "\x00" + strconv.FormatUint(uint64(m.Record), 10)
		if !d.seen.has(key) {
			if r, ok := d.reading(m, *s.ident); ok {
				r.Report = s.ident.Serial + "#" + strconv.FormatUint(uint64(m.Record), 10)
				if err := s.sink(r); err != nil {
					// Not stored: leave it unacknowledged, the tester
					// repeats it.
					return nil
				}
			}
			d.seen.add(key)
		}
		return s.write(dyframe.Ack{Record: m.Record})
	}
	return nil
}

// reading converts a report; ok is false if its absorbances are reserved
// values (no reading is emitted, as the vendor software skips them).
func (d *Driver) reading(m dyframe.Report, id dyframe.Ident) (device.Reading, bool) {
	c, okC := m.ControlDeltaA()
	s, okS := m.SampleDeltaA()
	if !okC || !okS {
		msg := fmt.Sprintf("record %d (sample %s): photometer reading invalid or over range (control %d→%d, sample %d→%d µAU); no result — repeat the test",
			m.Record, m.SampleCode, m.Control.First, m.Control.Last, m.Sample.First, m.Sample.Last)
		d.mu.Lock()
		d.st.LastErr = msg
		d.mu.Unlock()
		if d.env.Log != nil {
			d.env.Log.Warn("dy-enzyme: "+msg, "device", d.spec.ID)
		}
		return device.Reading{}, false
	}
	r := device.Reading{
		DeviceID: d.spec.ID, Model: d.spec.Model,
		Method: assay.EnzymeInhibition, Item: m.Item, Analyte: d.opt.Analyte,
		SampleCode: m.SampleCode, SampleName: m.SampleName, Channel: int(m.Channel),
		Raw: assay.Raw{ControlDeltaA: &c, SampleDeltaA: &s},
	}
	if id.Model != "" {
		r.Model = id.Model
	}
	r.Serial = id.Serial
	if r.Item == "" && len(d.spec.Items) > 0 {
		r.Item = d.spec.Items[0]
	}
	if t, err := m.Time.Time(d.opt.Location); err == nil {
		r.DeviceTime = t
	}
	return r, true
}

// recent is a bounded set of recently seen report keys.
type recent struct {
	max   int
	order []string
	set   map[string]struct{}
}

func (r *recent) has(k string) bool { _, ok := r.set[k]; return ok }

func (r *recent) add(k string) {
	if r.set == nil {
		r.set = map[string]struct{}{}
	}
	if _, ok := r.set[k]; ok {
		return
	}
	r.set[k] = struct{}{}
	r.order = append(r.order, k)
	if len(r.order) > r.max {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
}
