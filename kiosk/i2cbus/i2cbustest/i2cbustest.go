// Package i2cbustest replays golden I²C traces for driver tests: a trace
// is a JSON list of transactions ({addr, w, r} with hex bytes) recorded
// once with i2ctest.Record — against a real sensor or a register-level
// fake — and committed under the driver's testdata/. A test loads it into
// an i2ctest.Playback, runs the driver, compares the readings with the
// committed golden JSON, and checks Playback.Close() (every op consumed).
// Mutations of a trace (a flipped byte, a dropped op, a short read, a
// NACK) drive the error paths.
package i2cbustest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
)

// Hex is a byte string written as "24 00" in JSON.
type Hex []byte

// MarshalJSON writes space-separated upper-case hex.
func (h Hex) MarshalJSON() ([]byte, error) {
	parts := make([]string, len(h))
	for i, b := range h {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return json.Marshal(strings.Join(parts, " "))
}

// UnmarshalJSON reads space-separated hex.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	*h = v
	return err
}

// Op is one transaction.
type Op struct {
	Addr uint16 `json:"addr"`
	W    Hex    `json:"w"`
	R    Hex    `json:"r"`
}

// Trace is a recorded session.
type Trace struct {
	Device string `json:"device"`
	Note   string `json:"note,omitempty"`
	Ops    []Op   `json:"ops"`
}

// FromRecord converts what an i2ctest.Record captured.
func FromRecord(device, note string, ops []i2ctest.IO) Trace {
	t := Trace{Device: device, Note: note}
	for _, o := range ops {
		t.Ops = append(t.Ops, Op{Addr: o.Addr, W: bytes.Clone(o.W), R: bytes.Clone(o.R)})
	}
	return t
}

// Load reads a trace file.
func Load(path string) (Trace, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Trace{}, err
	}
	t, err := Parse(b)
	if err != nil {
		return t, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a trace from its JSON (as a fixture package embeds it).
func Parse(b []byte) (Trace, error) {
	var t Trace
	err := json.Unmarshal(b, &t)
	return t, err
}

// Save writes a trace file, one op per line.
func (t Trace) Save(path string) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\"device\": %q,\n \"note\": %q,\n \"ops\": [\n", t.Device, t.Note)
	for i, o := range t.Ops {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		buf.WriteString("  ")
		buf.Write(b)
		if i < len(t.Ops)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString(" ]}\n")
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Playback returns a fresh Playback of the trace that returns errors
// rather than panicking on a deviation.
func (t Trace) Playback() *i2ctest.Playback {
	p := &i2ctest.Playback{DontPanic: true}
	for _, o := range t.Ops {
		p.Ops = append(p.Ops, i2ctest.IO{Addr: o.Addr, W: bytes.Clone(o.W), R: bytes.Clone(o.R)})
	}
	return p
}

func (t Trace) clone() Trace {
	c := t
	c.Ops = nil
	for _, o := range t.Ops {
		c.Ops = append(c.Ops, Op{Addr: o.Addr, W: bytes.Clone(o.W), R: bytes.Clone(o.R)})
	}
	return c
}

// Flip returns the trace with bit mask flipped in byte i of op n's read.
func (t Trace) Flip(n, i int, mask byte) Trace {
	c := t.clone()
	c.Ops[n].R[i] ^= mask
	return c
}

// Drop returns the trace without op n.
func (t Trace) Drop(n int) Trace {
	c := t.clone()
	c.Ops = append(c.Ops[:n], c.Ops[n+1:]...)
	return c
}

// Short returns the trace with op n's read one byte short.
func (t Trace) Short(n int) Trace {
	c := t.clone()
	c.Ops[n].R = c.Ops[n].R[:len(c.Ops[n].R)-1]
	return c
}

// Reads returns the indexes of the ops that read bytes.
func (t Trace) Reads() []int {
	var out []int
	for i, o := range t.Ops {
		if len(o.R) > 0 {
			out = append(out, i)
		}
	}
	return out
}

// ErrNACK is the error FailBus returns.
var ErrNACK = errors.New("i2cbustest: NACK (remote I/O error)")

// FailBus passes transactions to Bus but fails the At-th (0-based) with
// ErrNACK, without passing it on — a device that did not acknowledge.
type FailBus struct {
	i2c.Bus
	At int

	mu sync.Mutex
	n  int
}

// Tx implements i2c.Bus.
func (f *FailBus) Tx(addr uint16, w, r []byte) error {
	f.mu.Lock()
	n := f.n
	f.n++
	f.mu.Unlock()
	if n == f.At {
		return ErrNACK
	}
	return f.Bus.Tx(addr, w, r)
}

// Opener is a device.BusOpener handing out one bus (never closing it:
// the test closes the Playback itself to check it was consumed).
type Opener struct {
	Bus i2c.Bus
	// Err, when set, is returned by OpenBus instead.
	Err error

	mu    sync.Mutex
	opens int
	names []string
}

// OpenBus implements device.BusOpener.
func (o *Opener) OpenBus(name string) (i2c.BusCloser, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opens++
	o.names = append(o.names, name)
	if o.Err != nil {
		return nil, o.Err
	}
	return nopCloser{o.Bus}, nil
}

// Opens returns how many times OpenBus was called.
func (o *Opener) Opens() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opens
}

type nopCloser struct{ i2c.Bus }

func (nopCloser) Close() error                        { return nil }
func (n nopCloser) SetSpeed(f physic.Frequency) error { return n.Bus.SetSpeed(f) }

// Drained reports whether a Playback has consumed every op.
func Drained(p *i2ctest.Playback) bool {
	p.Lock()
	defer p.Unlock()
	return p.Count >= len(p.Ops)
}

// Run runs the poller on bus until done() is true after a cycle (or
// maxCycles cycles pass), without waiting between cycles, and returns the
// readings. Sleeps inside sensor sequences do not wait either.
func Run(t testing.TB, p *i2cbus.Poller, done func() bool, maxCycles int) []device.Reading {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cycles := 0
	p.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	p.Wait = func(ctx context.Context, d time.Duration) error {
		cycles++
		if done() || cycles >= maxCycles {
			cancel()
		}
		return ctx.Err()
	}
	var out []device.Reading
	err := p.Run(ctx, func(r device.Reading) { out = append(out, r) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	return out
}

// Golden compares v, as indented JSON, with the file at path; with update
// it rewrites the file instead.
func Golden(t testing.TB, path string, v any, update bool) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got %s\nwant %s", path, got, want)
	}
}
