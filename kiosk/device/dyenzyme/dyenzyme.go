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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/serialloop"
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

// Driver is a running dy-enzyme instrument: the protocol on a
// kiosk/device/internal/serialloop session loop, which keeps the port
// (open, lock, probe, reply timeout, down, reopen on the backoff).
type Driver struct {
	spec device.Spec
	env  device.Env
	opt  Options
	loop *serialloop.Loop

	mu   sync.Mutex // seen
	seen recent
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
	if spec.Baud == 0 {
		spec.Baud = 9600
	}
	d := &Driver{spec: spec, env: env, opt: opt, seen: recent{max: 1024}}
	d.loop = serialloop.New(spec, env, serialloop.Timing{
		ReadTimeout: opt.ReadTimeout, ProbeEvery: opt.ProbeEvery, ReplyTimeout: opt.ReplyTimeout,
		FailAfter: opt.FailAfter, BackoffMin: opt.BackoffMin, BackoffMax: opt.BackoffMax,
		PauseAfterConnect: opt.PauseAfterConnect, Jitter: true,
	}, "enzyme tester")
	return d, nil
}

// ID returns the device id.
func (d *Driver) ID() string { return d.spec.ID }

// Status returns a snapshot of the driver's health.
func (d *Driver) Status() device.Status { return d.loop.Status() }

// Run reads the tester until ctx ends.
func (d *Driver) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.RunConfirmed(ctx, func(r device.Reading) error { sink(r); return nil })
}

var _ device.Confirming = (*Driver)(nil)

// RunConfirmed is Run with a sink that can refuse a reading: a refused
// report is not acknowledged, so the tester repeats it.
func (d *Driver) RunConfirmed(ctx context.Context, sink func(device.Reading) error) error {
	return d.loop.Run(ctx, func(port device.Port) serialloop.Session {
		s := &sess{d: d, port: port, sink: sink}
		return serialloop.Session{
			Probe:    func() error { return s.write(dyframe.Hello{}) },
			NoAnswer: fmt.Errorf("%s: no answer to the communication test within %v", d.spec.Port, d.opt.ReplyTimeout),
			Feed:     s.feed,
		}
	})
}

// sess is the state of one open port.
type sess struct {
	d     *Driver
	port  device.Port
	sink  func(device.Reading) error
	sc    dyframe.Scanner
	ident *dyframe.Ident
	heard bool // a valid answer in the current feed

	partialFrom time.Time // when the current partial frame started
}

func (s *sess) write(m dyframe.Message) error {
	b, err := dyframe.Encode(m)
	if err != nil {
		return err
	}
	return s.d.loop.Write(s.port, b)
}

// feed takes what one read returned (nothing at a read timeout): it
// decodes every complete frame, abandons a partial frame that stopped
// arriving, and reports whether the tester answered.
func (s *sess) feed(now time.Time, b []byte) bool {
	s.heard = false
	if len(b) > 0 {
		s.sc.Feed(b)
		s.drain()
	}
	switch {
	case s.sc.Pending() == 0:
		s.partialFrom = time.Time{}
	case s.partialFrom.IsZero():
		s.partialFrom = now
	case now.Sub(s.partialFrom) > s.d.opt.FrameTimeout:
		// The line went quiet inside a frame. Give up on it; frames
		// hidden in its bytes are still found.
		s.d.loop.Update(func(st *device.Status) { st.BadFrames++ })
		s.sc.Expire()
		s.partialFrom = time.Time{}
		s.drain()
	}
	return s.heard
}

// flush discards everything received but not decoded, after a bad frame.
func (s *sess) flush() {
	_ = s.port.ResetInputBuffer()
	s.sc.Reset()
	s.partialFrom = time.Time{}
}

// drain decodes every complete frame buffered.
func (s *sess) drain() {
	for {
		f, err := s.sc.Next()
		if errors.Is(err, dyframe.ErrIncomplete) {
			return
		}
		if err == nil {
			var m dyframe.Message
			if m, err = dyframe.Decode(f); err == nil {
				s.handle(m)
				continue
			}
		}
		s.d.loop.Update(func(st *device.Status) {
			st.BadFrames++
			st.LastErr = err.Error()
		})
		if log := s.d.env.Log; log != nil {
			log.Debug("dy-enzyme: bad frame", "device", s.d.spec.ID, "err", err)
		}
		s.flush()
		return
	}
}

// alive records an answer from the tester in state.
func (s *sess) alive(state device.State) {
	s.heard = true
	s.d.loop.Good()
	if state != device.StateReady {
		s.d.loop.Update(func(st *device.Status) { st.State = state })
	}
}

func (s *sess) handle(m dyframe.Message) {
	d := s.d
	switch m := m.(type) {
	case dyframe.Ident:
		s.ident = &m
		state := device.StateReady
		if m.Measuring {
			state = device.StateMeasuring
		}
		s.alive(state)
		if m.Model != "" {
			d.loop.Update(func(st *device.Status) { st.Model = m.Model })
		}
	case dyframe.Started:
		s.alive(device.StateMeasuring)
	case dyframe.Report:
		if s.ident == nil {
			// Take reports only from a tester that has said who it is:
			// the serial number is part of the key that stops a
			// repeated report from being taken twice. Not acknowledged,
			// so the tester repeats it; the probe still waits for its
			// answer.
			d.loop.Update(func(st *device.Status) { st.Frames++ })
			return
		}
		s.alive(device.StateReady)
		key := s.ident.Serial + "\x00" + strconv.FormatUint(uint64(m.Record), 10)
		d.mu.Lock()
		seen := d.seen.has(key)
		d.mu.Unlock()
		if !seen {
			if r, ok := d.reading(m, *s.ident); ok {
				r.Report = s.ident.Serial + "#" + strconv.FormatUint(uint64(m.Record), 10)
				if err := s.sink(r); err != nil {
					// Not stored: leave it unacknowledged, the tester
					// repeats it.
					return
				}
			}
			d.mu.Lock()
			d.seen.add(key)
			d.mu.Unlock()
		}
		if err := s.write(dyframe.Ack{Record: m.Record}); err != nil {
			d.loop.Update(func(st *device.Status) {
				st.LastErr = "acknowledging record " + strconv.FormatUint(uint64(m.Record), 10) + ": " + err.Error()
			})
		}
	}
}

// reading converts a report; ok is false if its absorbances are reserved
// values (no reading is emitted, as the vendor software skips them).
func (d *Driver) reading(m dyframe.Report, id dyframe.Ident) (device.Reading, bool) {
	c, okC := m.ControlDeltaA()
	s, okS := m.SampleDeltaA()
	if !okC || !okS {
		msg := fmt.Sprintf("record %d (sample %s): photometer reading invalid or over range (control %d→%d, sample %d→%d µAU); no result — repeat the test",
			m.Record, m.SampleCode, m.Control.First, m.Control.Last, m.Sample.First, m.Sample.Last)
		d.loop.Update(func(st *device.Status) { st.LastErr = msg })
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
