// Package modbusunit is what the kiosk's Modbus drivers share: the SHIAN-GC1
// card reader's hand-written driver (kiosk/device/modbusgold) and the
// drivers read from instrument profiles (kiosk/device/profiled). The
// drivers keep their register maps; this package keeps the unit's timing,
// its RTU transaction on a shared bus and its polling loop.
//
// # Timing
//
// [Timing] holds a unit's kiosk.yaml options: poll_every, reply_timeout,
// gap (the RTU inter-frame silence; 0 derives it from the baud rate with
// [InterFrameGap]), pause_after_connect, fail_after, backoff_min and
// backoff_max. [Timing.Parse] reads them, and a driver's own keys through
// a callback, with errors that name the device and say what to write.
//
// # One transaction on a shared bus
//
// [RTU.Transact] holds the bus (when the port is a kiosk/serialport.Hub
// handle, which has Lock and Unlock) for one request and its answer:
// it flushes stale input, keeps the inter-frame gap, sends, and takes only
// the answer to this request (same unit, function and count —
// modbus.Framer.Expect), so a late answer from another unit that timed
// out is skipped as stale, never taken for this one's. After a timeout or
// a damaged answer it lets the line go quiet and flushes again before it
// lets go of the bus.
//
// # The polling loop
//
// [Poll.Run] runs the driver's cycle every PollEvery. A failed cycle is
// recorded with the driver's Fail, and the next cycle identifies the unit
// again. A unit that is down (Fail decided so after fail_after failures
// in a row) is probed on a capped exponential backoff instead of polled,
// so a dead unit costs the bus one request per backoff; a port that fails
// (an error wrapping Errors.Port) is closed and reopened on the same
// backoff.
package modbusunit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/devopts"
	"github.com/shianfood/shian/protocols/device/modbus"
)

// Timing is a unit's timing (kiosk.yaml options).
type Timing struct {
	// PollEvery is the time between polls of the result.
	PollEvery time.Duration
	// ReplyTimeout bounds the wait for an answer.
	ReplyTimeout time.Duration
	// Gap is the silence kept before each request and after a failed
	// one (0: InterFrameGap of the baud rate).
	Gap time.Duration
	// PauseAfterConnect is waited once after the port opens.
	PauseAfterConnect time.Duration
	// FailAfter consecutive failures make the unit down.
	FailAfter int
	// BackoffMin and BackoffMax bound the probe interval while down and
	// the reopen delay of a failed port.
	BackoffMin, BackoffMax time.Duration
}

// DefaultTiming is 1 s polls, 300 ms replies, down after 3 failures,
// probes every 1 s … 30 s.
func DefaultTiming() Timing {
	return Timing{PollEvery: time.Second, ReplyTimeout: 300 * time.Millisecond, FailAfter: 3,
		BackoffMin: time.Second, BackoffMax: 30 * time.Second}
}

// Keys are the option keys Parse reads itself, for error messages.
const Keys = "backoff_max, backoff_min, fail_after, gap, pause_after_connect, poll_every, reply_timeout"

// Parse reads the options in m over t. A key it does not know goes to
// extra (nil knows none), which reports whether it knew it; known lists
// every key the device takes, for the error message.
func (t *Timing) Parse(id string, m map[string]string, known string, extra func(k, v string) (bool, error)) error {
	return devopts.Parse(id, m, devopts.Fields{
		Durations: map[string]*time.Duration{"poll_every": &t.PollEvery, "reply_timeout": &t.ReplyTimeout,
			"backoff_min": &t.BackoffMin, "backoff_max": &t.BackoffMax},
		MayBeZero: map[string]*time.Duration{"gap": &t.Gap, "pause_after_connect": &t.PauseAfterConnect},
		FailAfter: &t.FailAfter, BackoffMin: &t.BackoffMin, BackoffMax: &t.BackoffMax}, known, extra)
}

// InterFrameGap returns the RTU silence between frames at baud: 3.5
// character times of 11 bits, or 1.75 ms above 19200 baud.
func InterFrameGap(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(35 * 11 * int64(time.Second) / int64(10*baud))
}

// Sleep waits d, or until ctx ends (its error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Errors are the driver's own sentinels, wrapped by what this package
// returns so that callers branch on the driver's names.
type Errors struct {
	// Port: the port failed (not a timeout); it is reopened.
	Port error
	// NoAnswer: the unit did not answer within ReplyTimeout.
	NoAnswer error
}

// RTU is one unit on a serial line.
type RTU struct {
	Unit         byte
	PortName     string // for messages
	ReplyTimeout time.Duration
	Gap          time.Duration
	Now          func() time.Time
	// Count is told of every frame read: good, or damaged.
	Count func(good bool)
	Err   Errors
}

type locker interface {
	Lock(ctx context.Context) error
	Unlock()
}

// Transact sends req on p and returns the answer to it (see the package
// doc). An exception answer is returned as the *modbus.ExceptionError.
func (u RTU) Transact(ctx context.Context, p device.Port, req modbus.Request) (modbus.Response, error) {
	if lk, ok := p.(locker); ok {
		if err := lk.Lock(ctx); err != nil {
			return modbus.Response{}, err
		}
		defer lk.Unlock()
	}
	if err := p.SetReadTimeout(min(20*time.Millisecond, u.ReplyTimeout)); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: set read timeout: %w", u.Err.Port, err)
	}
	if err := p.ResetInputBuffer(); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: flush: %w", u.Err.Port, err)
	}
	if err := Sleep(ctx, u.Gap); err != nil {
		return modbus.Response{}, err
	}
	b, err := req.Append(nil)
	if err != nil {
		return modbus.Response{}, err
	}
	if _, err := p.Write(b); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: write: %w", u.Err.Port, err)
	}
	var fr modbus.Framer
	fr.Expect(&req)
	var bad error // the first damaged frame seen
	buf := make([]byte, modbus.MaxADU)
	deadline := u.Now().Add(u.ReplyTimeout)
	recover := func() {
		_ = Sleep(ctx, u.Gap)
		_ = p.ResetInputBuffer()
	}
	for {
		n, err := p.Read(buf)
		if err != nil {
			return modbus.Response{}, fmt.Errorf("%w: read: %w", u.Err.Port, err)
		}
		fr.Feed(buf[:n])
		for {
			adu, ferr := fr.Next()
			if errors.Is(ferr, modbus.ErrIncomplete) {
				break
			}
			if ferr != nil {
				u.Count(false)
				if bad == nil && !errors.Is(ferr, modbus.ErrMismatch) {
					bad = ferr
				}
				continue
			}
			resp, perr := modbus.ParseResponse(adu)
			if perr != nil { // cannot happen: the framer returns frames that parse
				bad = perr
				continue
			}
			u.Count(true)
			if bad != nil {
				recover()
			}
			return resp, req.Check(resp)
		}
		if ctx.Err() != nil {
			return modbus.Response{}, ctx.Err()
		}
		if !u.Now().Before(deadline) {
			if gerr := fr.Gap(); gerr != nil && bad == nil {
				bad = gerr
			}
			recover()
			if bad != nil {
				return modbus.Response{}, fmt.Errorf("unit %d: %w", u.Unit, bad)
			}
			return modbus.Response{}, fmt.Errorf("%w from unit %d on %s within %v", u.Err.NoAnswer, u.Unit, u.PortName, u.ReplyTimeout)
		}
	}
}

// Poll is a unit's polling loop.
type Poll struct {
	Timing Timing
	// Cycle opens the port if it is not open, identifies the unit when
	// identify is set (or the port is new), and polls its result once.
	Cycle func(ctx context.Context, identify bool) error
	// Fail records a failed cycle; Down reports whether the unit is down.
	Fail func(error)
	Down func() bool
	// ClosePort closes the port (it is reopened by the next cycle).
	ClosePort func()
	Err       Errors
}

// Run polls until ctx ends, and closes the port when it returns.
func (p Poll) Run(ctx context.Context) error {
	attempt := 0
	identify := true
	defer p.ClosePort()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := p.Cycle(ctx, identify)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.Timing.PollEvery
		identify = err != nil
		if err != nil {
			p.Fail(err)
			if errors.Is(err, p.Err.Port) {
				p.ClosePort()
			}
			if p.Down() || errors.Is(err, p.Err.Port) {
				wait = min(p.Timing.BackoffMin<<min(attempt, 16), p.Timing.BackoffMax)
				attempt++
			}
		} else {
			attempt = 0
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
