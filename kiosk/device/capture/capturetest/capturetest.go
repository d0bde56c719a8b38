// Package capturetest runs an I²C driver's capture.Instrument in tests
// without waiting: the poll loop's sleeps and waits return at once (as
// kiosk/i2cbus/i2cbustest.Run does for a bare Poller), and a callback
// after every cycle moves a fake clock, changes a fake sensor or presses
// the measure button.
package capturetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture"
	"github.com/shianfood/shian/kiosk/i2cbus"
)

// Run runs inst, whose Inner is an *i2cbus.Poller, calling each(cycle)
// after every poll cycle (cycle counts from 1) until it returns true or
// max cycles pass, and returns the results the gate let through.
func Run(t testing.TB, inst *capture.Instrument, each func(cycle int) bool, max int) []device.Reading {
	t.Helper()
	var out []device.Reading
	for _, r := range RunCycles(t, inst, each, max) {
		out = append(out, r.Reading)
	}
	return out
}

// Result is a result and the poll cycle it came from (0 for the first
// read, then 1, 2, … — the number of each calls before it).
type Result struct {
	Cycle int
	device.Reading
}

// RunCycles is Run, returning the cycle of each result.
func RunCycles(t testing.TB, inst *capture.Instrument, each func(cycle int) bool, max int) []Result {
	t.Helper()
	p, ok := inst.Inner().(*i2cbus.Poller)
	if !ok {
		t.Fatalf("capturetest: inner instrument is %T, not an *i2cbus.Poller", inst.Inner())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cycles := 0
	p.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	p.Wait = func(ctx context.Context, d time.Duration) error {
		cycles++
		if each(cycles) || cycles >= max {
			cancel()
		}
		return ctx.Err()
	}
	var out []Result
	err := inst.Run(ctx, func(r device.Reading) { out = append(out, Result{cycles, r}) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	return out
}

// Clock is a fake clock for Env.Now.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

// Advance moves the clock.
func (c *Clock) Advance(d time.Duration) { c.T = c.T.Add(d) }
