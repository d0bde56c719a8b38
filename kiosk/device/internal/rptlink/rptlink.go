// Package rptlink runs an instrument that prints protocols/asciirpt
// reports on a serial port (the ATP meter, the probe thermometer): the
// session loop shared by kiosk/device/atp and kiosk/device/thermometer.
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
	"github.com/shianfood/shian/protocols/asciirpt"
)

// Options are the session's timing.
type Options struct {
	ReadTimeout   time.Duration // granularity of the read loop (100 ms)
	ProbeEvery    time.Duration // probe a quiet line this often (30 s)
	ReplyTimeout  time.Duration // wait for the answer to ?ID (1 s)
	ReportTimeout time.Duration // abandon a report that stops half-way (2 s)
	FailAfter     int           // consecutive failures before down (3)
	BackoffMin    time.Duration // first reopen delay (500 ms)
	BackoffMax    time.Duration // reopen delay cap (30 s)
	Loc           *time.Location
}

// DefaultOptions returns the defaults above and the instruments' zone,
// Asia/Shanghai (UTC+8 if the zone database is missing).
func DefaultOptions() Options {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	return Options{ReadTimeout: 100 * time.Millisecond, ProbeEvery: 30 * time.Second, ReplyTimeout: time.Second,
		ReportTimeout: 2 * time.Second, FailAfter: 3, BackoffMin: 500 * time.Millisecond, BackoffMax: 30 * time.Second, Loc: loc}
}

// ParseOptions reads the session options from m over the defaults;
// extra handles the driver's own keys (it reports whether it knew the
// key). known lists every key, for the error message.
func ParseOptions(id string, m map[string]string, known string, extra func(k, v string) (bool, error)) (Options, error) {
	o := DefaultOptions()
	durs := map[string]*time.Duration{"read_timeout": &o.ReadTimeout, "probe_every": &o.ProbeEvery, "reply_timeout": &o.ReplyTimeout,
		"report_timeout": &o.ReportTimeout, "backoff_min": &o.BackoffMin, "backoff_max": &o.BackoffMax}
	for k, v := range m {
		switch {
		case durs[k] != nil:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("device %q: options.%s %q: want a positive duration like 1s", id, k, v)
			}
			*durs[k] = d
		case k == "fail_after":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("device %q: options.fail_after %q: want a whole number ≥ 1", id, v)
			}
			o.FailAfter = n
		case k == "tz":
			loc, err := time.LoadLocation(v)
			if err != nil {
				return o, fmt.Errorf("device %q: options.tz %q: %v (e.g. Asia/Shanghai)", id, v, err)
			}
			o.Loc = loc
		default:
			ok, err := false, error(nil)
			if extra != nil {
				ok, err = extra(k, v)
			}
			if err != nil {
				return o, err
			}
			if !ok {
				return o, fmt.Errorf("device %q: unknown option %q (known: %s)", id, k, known)
			}
		}
	}
	if o.BackoffMax < o.BackoffMin {
		return o, fmt.Errorf("device %q: options.backoff_max %v is below backoff_min %v", id, o.BackoffMax, o.BackoffMin)
	}
	return o, nil
}

// SessionKeys lists the options ParseOptions knows itself.
const SessionKeys = "backoff_max, backoff_min, fail_after, probe_every, read_timeout, reply_timeout, report_timeout, tz"

// Link is one instrument on a serial port.
type Link struct {
	spec device.Spec
	env  device.Env
	opt  Options
	kind asciirpt.Kind
	conv func(asciirpt.Report) device.Reading

	wmu sync.Mutex // one command line at a time

	mu       sync.Mutex
	st       device.Status
	failures int
	port     device.Port
	serial   string
	seen     []string // serial/NO. of the last reports taken
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
	if env.Now == nil {
		env.Now = time.Now
	}
	return &Link{spec: spec, env: env, opt: opt, kind: kind, conv: conv,
		st: device.Status{ID: spec.ID, Model: spec.Model, StateS: device.StateUnknown.String()}}, nil
}

// ID implements device.Instrument.
func (l *Link) ID() string { return l.spec.ID }

// Status implements device.Instrument.
func (l *Link) Status() device.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// Send writes one command line to the instrument.
func (l *Link) Send(cmd string) error {
	l.mu.Lock()
	p := l.port
	l.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%q: %w (is it switched on and on %s?)", l.spec.ID, device.ErrNotConnected, l.spec.Port)
	}
	return l.send(p, cmd)
}

func (l *Link) send(p device.Port, cmd string) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_, err := p.Write(asciirpt.Command(cmd))
	return err
}

func (l *Link) setState(s device.State) { l.st.State, l.st.StateS = s, s.String() }

func (l *Link) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures++
	l.st.LastErr = err.Error()
	if l.failures >= l.opt.FailAfter {
		l.setState(device.StateDown)
	}
}

func (l *Link) good() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = 0
	l.st.Frames++
	l.st.LastSeen = l.env.Now()
	l.setState(device.StateReady)
}

func (l *Link) down() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.State == device.StateDown
}

// Run implements device.Instrument.
func (l *Link) Run(ctx context.Context, sink func(device.Reading)) error {
	attempt := 0
	for opened := false; ; opened = true {
		healthy, err := l.session(ctx, sink, opened)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			l.fail(err)
			if l.env.Log != nil {
				l.env.Log.Warn("serial instrument", "device", l.spec.ID, "err", err)
			}
		}
		if healthy {
			attempt = 0
		}
		delay := min(l.opt.BackoffMin<<min(attempt, 16), l.opt.BackoffMax)
		attempt++
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

type locker interface {
	Lock(ctx context.Context) error
	Unlock()
}

// session runs one open port until it fails or the instrument is down;
// healthy reports whether anything valid arrived.
func (l *Link) session(ctx context.Context, sink func(device.Reading), reopen bool) (healthy bool, err error) {
	port, err := l.env.Serial.OpenSerial(l.spec.Port, device.SerialMode{Baud: l.spec.Baud})
	if err != nil {
		return false, fmt.Errorf("open %s: %w", l.spec.Port, err)
	}
	defer port.Close()
	if lk, ok := port.(locker); ok {
		if err := lk.Lock(ctx); err != nil {
			return false, err
		}
		defer lk.Unlock()
	}
	if reopen {
		l.mu.Lock()
		l.st.Reopens++
		l.mu.Unlock()
	}
	if err := port.SetReadTimeout(l.opt.ReadTimeout); err != nil {
		return false, fmt.Errorf("set read timeout: %w", err)
	}
	_ = port.ResetInputBuffer() // printed before we listened: stale
	l.mu.Lock()
	l.port = port
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.port = nil
		l.mu.Unlock()
	}()

	dec := asciirpt.Decoder{Loc: l.opt.Loc}
	if err := l.send(port, asciirpt.CmdID); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	now := l.env.Now()
	probedAt, lastByte, lastHeard := now, now, now
	waiting := true
	chunk := make([]byte, 256)
	for {
		if ctx.Err() != nil {
			return healthy, nil
		}
		n, err := port.Read(chunk)
		if err != nil {
			return healthy, fmt.Errorf("read: %w", err)
		}
		now = l.env.Now()
		if n > 0 {
			lastByte = now
			dec.Feed(chunk[:n])
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
			healthy, waiting, lastHeard = true, false, now
			l.good()
			l.handle(r, sink)
		}
		if dec.Pending() && now.Sub(lastByte) >= l.opt.ReportTimeout {
			if gerr := dec.Gap(); gerr != nil {
				l.bad(gerr)
			}
		}
		switch {
		case waiting && now.Sub(probedAt) >= l.opt.ReplyTimeout:
			l.fail(fmt.Errorf("no answer to ?ID within %v: is the instrument switched on and on %s at %d baud?", l.opt.ReplyTimeout, l.spec.Port, max(l.spec.Baud, 9600)))
			if l.down() {
				return healthy, nil // reopen on the backoff
			}
			if err := l.send(port, asciirpt.CmdID); err != nil {
				return healthy, fmt.Errorf("write: %w", err)
			}
			probedAt = now
		case !waiting && now.Sub(lastHeard) >= l.opt.ProbeEvery:
			if err := l.send(port, asciirpt.CmdID); err != nil {
				return healthy, fmt.Errorf("write: %w", err)
			}
			probedAt, waiting = now, true
		}
	}
}

func (l *Link) bad(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.BadFrames++
	l.st.LastErr = "damaged report: " + err.Error()
}

func (l *Link) handle(r asciirpt.Report, sink func(device.Reading)) {
	switch r.Kind {
	case asciirpt.KindID:
		l.mu.Lock()
		if l.spec.Model == "" {
			l.st.Model = r.Model
		}
		l.serial = r.Serial
		l.mu.Unlock()
	case asciirpt.KindErr:
		l.mu.Lock()
		l.st.LastErr = "instrument: " + r.Code
		l.mu.Unlock()
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
		model := l.spec.Model
		if model == "" {
			model = r.Model
		}
		l.mu.Unlock()
		rd := l.conv(r)
		rd.DeviceID, rd.Model, rd.Serial = l.spec.ID, model, r.Serial
		rd.Report = key // the kiosk takes a reprint once, across restarts too
		if !r.Time.IsZero() {
			rd.DeviceTime = r.Time
		}
		sink(rd)
	}
}
