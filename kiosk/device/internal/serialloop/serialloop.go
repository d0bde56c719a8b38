// Package serialloop is the session loop of the kiosk's drivers for
// instruments that push what they measure on a serial port: the strip
// reader (kiosk/device/stripreader) and, through
// kiosk/device/internal/rptlink, the ATP meter and the probe thermometer.
// The drivers keep their protocol; the loop keeps the port.
//
// # A session
//
// [Loop.Run] opens the port, holds its lock (if the opener is a
// kiosk/serialport.Hub) for as long as it is open — the instrument pushes
// whenever its operator acts, so it cannot share its line — flushes stale
// input and sends the driver's probe. Then it reads: every chunk (nothing,
// at a read timeout) goes to the driver's [Session.Feed], which decodes it
// and says whether a valid message was heard. A quiet line is probed every
// ProbeEvery; a probe not answered within ReplyTimeout is a failure, and
// after FailAfter consecutive failures the instrument is down (switched
// off, unplugged): the port is closed and reopened on a capped exponential
// backoff (BackoffMin … BackoffMax) until it answers again. A port that
// fails is reopened on the same backoff.
//
// # Status
//
// The loop keeps the device.Status: [Loop.Good] for every valid message
// (ready), [Loop.Fail] for a failure, [Loop.Update] for what the driver
// adds (damaged messages, the instrument's own errors, its model).
package serialloop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/devopts"
)

// Timing is the session's timing.
type Timing struct {
	ReadTimeout  time.Duration // granularity of the read loop
	ProbeEvery   time.Duration // probe a quiet line this often
	ReplyTimeout time.Duration // wait for the answer to a probe
	FailAfter    int           // consecutive failures before down
	BackoffMin   time.Duration // first reopen delay
	BackoffMax   time.Duration // reopen delay cap
	// PauseAfterConnect is waited after the port opens, before the
	// first probe (an adapter that resets the instrument on open).
	PauseAfterConnect time.Duration
	// Jitter draws each reopen delay uniformly from its upper half
	// ("equal jitter"), so that kiosks unplugged together do not retry
	// together.
	Jitter bool
}

// Parse reads the options in m over t: read_timeout, probe_every,
// reply_timeout, backoff_min, backoff_max, pause_after_connect (which may
// be 0) and fail_after itself, the
// durations in more (the driver's own, checked alike), and any other key
// through extra, which reports whether it knew the key (nil knows none).
// known lists every key, for the error message.
func (t *Timing) Parse(id string, m map[string]string, more map[string]*time.Duration, known string, extra func(k, v string) (bool, error)) error {
	durs := map[string]*time.Duration{"read_timeout": &t.ReadTimeout, "probe_every": &t.ProbeEvery,
		"reply_timeout": &t.ReplyTimeout, "backoff_min": &t.BackoffMin, "backoff_max": &t.BackoffMax}
	for k, p := range more {
		durs[k] = p
	}
	return devopts.Parse(id, m, devopts.Fields{Durations: durs,
		MayBeZero: map[string]*time.Duration{"pause_after_connect": &t.PauseAfterConnect},
		FailAfter: &t.FailAfter, BackoffMin: &t.BackoffMin, BackoffMax: &t.BackoffMax}, known, extra)
}

// Session is what a driver does with one open port.
type Session struct {
	// Probe asks the instrument to answer; it is sent when the port is
	// opened and whenever the line is quiet.
	Probe func() error
	// NoAnswer is the failure recorded when a probe goes unanswered.
	NoAnswer error
	// Feed takes what one read returned (empty at a read timeout), read
	// at now, and reports whether a valid message was heard.
	Feed func(now time.Time, b []byte) (heard bool)
}

// Loop runs one instrument on a serial port. It is safe for concurrent
// use.
type Loop struct {
	spec device.Spec
	env  device.Env
	t    Timing
	what string

	wmu sync.Mutex // one write at a time

	mu       sync.Mutex
	st       device.Status
	failures int
	port     device.Port
}

// New returns a loop for spec; what names the instrument in log lines
// ("strip reader"). env.Now defaults to time.Now.
func New(spec device.Spec, env device.Env, t Timing, what string) *Loop {
	if env.Now == nil {
		env.Now = time.Now
	}
	return &Loop{spec: spec, env: env, t: t, what: what,
		st: device.Status{ID: spec.ID, Model: spec.Model}}
}

// ID is the device's id.
func (l *Loop) ID() string { return l.spec.ID }

// Status returns the device's status.
func (l *Loop) Status() device.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// Update changes the status under the loop's lock.
func (l *Loop) Update(fn func(st *device.Status)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.st)
}

// Port returns the open port, or nil between sessions.
func (l *Loop) Port() device.Port {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.port
}

// Write writes b to p, one writer at a time.
func (l *Loop) Write(p device.Port, b []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_, err := p.Write(b)
	return err
}

func (l *Loop) setState(s device.State) { l.st.State = s }

// Fail records a failure; after FailAfter in a row the device is down.
func (l *Loop) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures++
	l.st.LastErr = err.Error()
	if l.failures >= l.t.FailAfter {
		l.setState(device.StateDown)
	}
}

// Good records a valid message: the device is ready.
func (l *Loop) Good() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = 0
	l.st.Frames++
	l.st.LastSeen = l.env.Now()
	l.setState(device.StateReady)
}

func (l *Loop) down() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.State == device.StateDown
}

// Run serves the port until ctx ends, reopening it on the backoff; begin
// is called with every port opened and returns the session's hooks.
func (l *Loop) Run(ctx context.Context, begin func(port device.Port) Session) error {
	attempt := 0
	for opened := false; ; opened = true {
		healthy, err := l.session(ctx, begin, opened)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			l.Fail(err)
			if l.env.Log != nil {
				l.env.Log.Warn(l.what, "device", l.spec.ID, "err", err)
			}
		}
		if healthy {
			attempt = 0
		}
		delay := min(l.t.BackoffMin<<min(attempt, 16), l.t.BackoffMax)
		if l.t.Jitter && delay > 1 {
			delay = delay/2 + rand.N(delay/2+1)
		}
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
func (l *Loop) session(ctx context.Context, begin func(device.Port) Session, reopen bool) (healthy bool, err error) {
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
	if err := port.SetReadTimeout(l.t.ReadTimeout); err != nil {
		return false, fmt.Errorf("set read timeout: %w", err)
	}
	_ = port.ResetInputBuffer() // sent before we listened: stale
	if l.t.PauseAfterConnect > 0 {
		t := time.NewTimer(l.t.PauseAfterConnect)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case <-t.C:
		}
	}
	l.mu.Lock()
	l.port = port
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.port = nil
		l.mu.Unlock()
	}()

	s := begin(port)
	if err := s.Probe(); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	probedAt := l.env.Now()
	lastHeard := probedAt
	waiting := true // for an answer to the probe
	chunk := make([]byte, 256)
	for {
		if ctx.Err() != nil {
			return healthy, nil
		}
		n, err := port.Read(chunk)
		if ctx.Err() != nil {
			// Stopping: what arrived meanwhile is left to the
			// instrument, which repeats what was not acknowledged.
			return healthy, nil
		}
		if err != nil {
			return healthy, fmt.Errorf("read: %w", err)
		}
		now := l.env.Now()
		if s.Feed(now, chunk[:n]) {
			healthy, waiting, lastHeard = true, false, now
		}
		switch {
		case waiting && now.Sub(probedAt) >= l.t.ReplyTimeout:
			l.Update(func(st *device.Status) { st.Timeouts++ })
			l.Fail(s.NoAnswer)
			if l.down() {
				return healthy, nil // reopen on the backoff
			}
			if err := s.Probe(); err != nil {
				return healthy, fmt.Errorf("write: %w", err)
			}
			probedAt = now
		case !waiting && now.Sub(lastHeard) >= l.t.ProbeEvery:
			if err := s.Probe(); err != nil {
				return healthy, fmt.Errorf("write: %w", err)
			}
			probedAt, waiting = now, true
		}
	}
}
