package serialsim

import (
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// Faults describes a bad line between an instrument and the kiosk: noise,
// frames arriving in pieces, damaged bytes. Zero fields mean no fault.
type Faults struct {
	// Garbage is the probability that a burst of 1…GarbageMax random bytes
	// (default 64) is sent before a write.
	Garbage    float64
	GarbageMax int
	// Split writes every write in random pieces of 1…8 bytes, each its own
	// write(2), with a short pause (SplitPause, default 1 ms) between
	// them, so the reader sees frames cut at arbitrary boundaries.
	Split      bool
	SplitPause time.Duration
	// Flip is the probability that one byte of a write is changed.
	Flip float64
	// Seed seeds the faults (same seed, same faults for the same writes).
	Seed uint64
}

// WithFaults returns dev with its UART writes (instrument → kiosk) passed
// through faults f. Reads are untouched.
func WithFaults(dev Device, f Faults) Device {
	if f.GarbageMax <= 0 {
		f.GarbageMax = 64
	}
	if f.SplitPause <= 0 {
		f.SplitPause = time.Millisecond
	}
	return &faulty{dev: dev, f: f, rng: rand.New(rand.NewPCG(f.Seed, 0xfa17))}
}

type faulty struct {
	dev Device
	f   Faults

	mu  sync.Mutex
	rng *rand.Rand
}

func (d *faulty) Serve(ctx context.Context, uart io.ReadWriter) error {
	return d.dev.Serve(ctx, &faultyUART{ReadWriter: uart, d: d})
}

type faultyUART struct {
	io.ReadWriter
	d *faulty
}

func (u *faultyUART) Write(p []byte) (int, error) {
	d := u.d
	d.mu.Lock()
	var pieces [][]byte
	if d.f.Garbage > 0 && d.rng.Float64() < d.f.Garbage {
		g := make([]byte, 1+d.rng.IntN(d.f.GarbageMax))
		for i := range g {
			g[i] = byte(d.rng.Uint32())
		}
		pieces = append(pieces, g)
	}
	b := append([]byte(nil), p...)
	if d.f.Flip > 0 && len(b) > 0 && d.rng.Float64() < d.f.Flip {
		b[d.rng.IntN(len(b))] ^= byte(1 + d.rng.IntN(255))
	}
	if d.f.Split {
		for len(b) > 0 {
			n := min(1+d.rng.IntN(8), len(b))
			pieces = append(pieces, b[:n])
			b = b[n:]
		}
	} else {
		pieces = append(pieces, b)
	}
	d.mu.Unlock()
	for i, piece := range pieces {
		if i > 0 && d.f.Split {
			time.Sleep(d.f.SplitPause)
		}
		if _, err := u.ReadWriter.Write(piece); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
