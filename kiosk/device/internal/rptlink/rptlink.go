// Package rptlink runs an instrument that prints protocols/device/asciirpt
// reports on a serial port (the ATP meter, the probe thermometer): the
// session shared by kiosk/device/atp and kiosk/device/thermometer, on the
// loop of kiosk/device/internal/serialloop.
//
// A session opens the port, holds its lock (if the opener is a
// kiosk/serialport.Hub) for as long as it is open — the instrument prints
// whenever its operator presses a key, so it cannot share its line —
// flushes stale input, and asks ?ID. Then it decodes whatever arrives:
// measurement reports become readings (a report printed twice, same
// serial and NO., becomes one), ERR reports are shown in the status,
// anything damaged is counted and skipped (the decoder resynchronises on
// the next report). Readings carry Report "<serial>/<NO.>", with which
// the kiosk also recognises a reprint after its own restart. A quiet line is probed with ?ID every probe_every; no
// answer within reply_timeout is a failure, and after fail_after the
// instrument is down (switched off, unplugged) and the port is reopened
// on a capped exponential backoff until it answers again.
package rptlink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/serialloop"
	"github.com/shianfood/shian/protocols/device/asciirpt"
)

// Options are the session's timing.
type Options struct {
	serialloop.Timing
	ReportTimeout time.Duration // abandon a report that stops half-way (2 s)
	Loc           *time.Location
}

// DefaultOptions returns the defaults (reads of 100 ms, a probe every
// 30 s answered within 1 s, down after 3 failures, reopen 500 ms … 30 s)
// and the instruments' zone, Asia/Shanghai (UTC+8 if the zone database is
// missing).
func DefaultOptions() Options {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	return Options{Timing: serialloop.Timing{ReadTimeout: 100 * time.Millisecond, ProbeEvery: 30 * time.Second, ReplyTimeout: time.Second,
		FailAfter: 3, BackoffMin: 500 * time.Millisecond, BackoffMax: 30 * time.Second}, ReportTimeout: 2 * time.Second, Loc: loc}
}

// ParseOptions reads the session options from m over the defaults;
// extra handles the driver's own keys (it reports whether it knew the
// key). known lists every key, for the error message.
func ParseOptions(id string, m map[string]string, known string, extra func(k, v string) (bool, error)) (Options, error) {
	o := DefaultOptions()
	err := o.Timing.Parse(id, m, map[string]*time.Duration{"report_timeout": &o.ReportTimeout}, known, func(k, v string) (bool, error) {
		if k == "tz" {
			loc, err := time.LoadLocation(v)
			if err != nil {
				return true, fmt.Errorf("device %q: options.tz %q: %v (e.g. Asia/Shanghai)", id, v, err)
			}
			o.Loc = loc
			return true, nil
		}
		if extra == nil {
			return false, nil
		}
		return extra(k, v)
	})
	return o, err
}

// SessionKeys lists the options ParseOptions knows itself.
const SessionKeys = "backoff_max, backoff_min, fail_after, probe_every, read_timeout, reply_timeout, report_timeout, tz"

// Link is one instrument on a serial port.
type Link struct {
	loop *serialloop.Loop
	spec device.Spec
	opt  Options
	kind asciirpt.Kind
	conv func(asciirpt.Report) device.Reading

	mu   sync.Mutex
	seen []string // serial/NO. of the last reports taken
}

// New returns a link for spec whose measurement reports are of kind,
// converted to readings by conv (DeviceID, Model and Serial are filled
// in by the link).
func New(spec device.Spec, env device.Env, opt Options, kind asciirpt.Kind, conv func(asciirpt.Report) device.Reading) (*Link, error) {
	if spec.Port == "" {
		return nil, fmt.Errorf("device %q: port is required (e.g. /dev/ttyUSB0 or /dev/ttyACM0)", spec.ID)
	}
	if env.Serial == nil {
		return nil, fmt.Errorf("device %q: this kiosk has no serial opener", spec.ID)
	}
	return &Link{loop: serialloop.New(spec, env, opt.Timing, "serial instrument"), spec: spec, opt: opt, kind: kind, conv: conv}, nil
}

// ID implements device.Instrument.
func (l *Link) ID() string { return l.spec.ID }

// Status implements device.Instrument.
func (l *Link) Status() device.Status { return l.loop.Status() }

// Send writes one command line to the instrument.
func (l *Link) Send(cmd string) error {
	p := l.loop.Port()
	if p == nil {
		return fmt.Errorf("%q: %w (is it switched on and on %s?)", l.spec.ID, device.ErrNotConnected, l.spec.Port)
	}
	return l.loop.Write(p, asciirpt.Command(cmd))
}

// Run implements device.Instrument.
func (l *Link) Run(ctx context.Context, sink func(device.Reading)) error {
	return l.loop.Run(ctx, func(port device.Port) serialloop.Session {
		dec := asciirpt.Decoder{Loc: l.opt.Loc}
		var lastByte time.Time
		return serialloop.Session{
			Probe:    func() error { return l.loop.Write(port, asciirpt.Command(asciirpt.CmdID)) },
			NoAnswer: fmt.Errorf("no answer to ?ID within %v: is the instrument switched on and on %s at %d baud?", l.opt.ReplyTimeout, l.spec.Port, max(l.spec.Baud, 9600)),
			Feed: func(now time.Time, b []byte) (heard bool) {
				if len(b) > 0 {
					lastByte = now
					dec.Feed(b)
				}
				for {
					r, derr := dec.Next()
					if errors.Is(derr, asciirpt.ErrIncomplete) {
						break
					}
					if derr != nil {
						l.bad(derr)
						continue
					}
					heard = true
					l.loop.Good()
					l.handle(r, sink)
				}
				if dec.Pending() && now.Sub(lastByte) >= l.opt.ReportTimeout {
					if gerr := dec.Gap(); gerr != nil {
						l.bad(gerr)
					}
				}
				return heard
			},
		}
	})
}

func (l *Link) bad(err error) {
	l.loop.Update(func(st *device.Status) {
		st.BadFrames++
		st.LastErr = "damaged report: " + err.Error()
	})
}

func (l *Link) handle(r asciirpt.Report, sink func(device.Reading)) {
	switch r.Kind {
	case asciirpt.KindID:
		if l.spec.Model == "" {
			l.loop.Update(func(st *device.Status) { st.Model = r.Model })
		}
	case asciirpt.KindErr:
		l.loop.Update(func(st *device.Status) { st.LastErr = "instrument: " + r.Code })
	case l.kind:
		key := r.Serial + "/" + strconv.Itoa(r.No)
		l.mu.Lock()
		for _, k := range l.seen {
			if k == key {
				l.mu.Unlock()
				return // printed again (PRINT key): taken already
			}
		}
		l.seen = append(l.seen, key)
		if len(l.seen) > 64 {
			l.seen = l.seen[1:]
		}
		l.mu.Unlock()
		model := l.spec.Model
		if model == "" {
			model = r.Model
		}
		rd := l.conv(r)
		rd.DeviceID, rd.Model, rd.Serial = l.spec.ID, model, r.Serial
		rd.Report = key // the kiosk takes a reprint once, across restarts too
		if !r.Time.IsZero() {
			rd.DeviceTime = r.Time
		}
		sink(rd)
	}
}
