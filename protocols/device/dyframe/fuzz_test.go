package dyframe

import (
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
)

// FuzzSerialFrame feeds arbitrary bytes, in chunks of arbitrary size, to the
// Scanner. It must never panic, never hold more than one partial frame, and
// every message it accepts must re-encode to bytes that decode to the same
// message (docs/reliability.md test 3). Seeds: testdata/fuzz/FuzzSerialFrame
// and every vector frame.
func FuzzSerialFrame(f *testing.F) {
	v := loadVectors(f)
	for _, fv := range v.Frames {
		f.Add(testutil.Unhex(f, fv.Hex), uint8(0))
		f.Add(testutil.Unhex(f, fv.Hex), uint8(1))
	}
	for _, bv := range v.Bad {
		f.Add(testutil.Unhex(f, bv.Hex), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var s Scanner
		check := func() {
			for {
				fr, err := s.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					var fe *FrameError
					if !errors.As(err, &fe) {
						t.Fatalf("untyped scanner error %T %v", err, err)
					}
					continue
				}
				m, err := Decode(fr)
				if err != nil {
					var fe *FrameError
					if !errors.As(err, &fe) {
						t.Fatalf("untyped decode error %T %v", err, err)
					}
					continue
				}
				b, err := Encode(m)
				if err != nil {
					t.Fatalf("accepted %#v but cannot re-encode it: %v", m, err)
				}
				fr2, n, err := ParseFrame(b)
				if err != nil || n != len(b) {
					t.Fatalf("re-encoded frame does not parse: %v", err)
				}
				m2, err := Decode(fr2)
				if err != nil || !reflect.DeepEqual(m, m2) {
					t.Fatalf("round trip: %#v -> %#v, %v", m, m2, err)
				}
			}
			if s.Pending() >= MaxFrame {
				t.Fatalf("scanner holds %d bytes", s.Pending())
			}
		}
		step := int(chunk)
		if step == 0 {
			step = len(data) + 1
		}
		for rest := data; len(rest) > 0; {
			n := min(step, len(rest))
			s.Feed(rest[:n])
			rest = rest[n:]
			check()
		}
		for s.Pending() > 0 {
			if s.Expire() == nil {
				t.Fatal("Expire returned nil with bytes pending")
			}
			check()
		}
	})
}

// TestDecodeAllocations: decoding a maximum-size frame allocates well under
// 64 KiB (docs/reliability.md test 3).
func TestDecodeAllocations(t *testing.T) {
	fr := Frame{Cmd: 0x45, Data: make([]byte, MaxData)}
	b, err := fr.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	report, _ := vectorStream(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		var s Scanner
		s.Feed(b)
		s.Feed(report)
		for {
			f, err := s.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err == nil {
				_, _ = Decode(f)
			}
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 64<<10 {
		t.Fatalf("decoding one max frame plus the vectors allocates %d bytes, want ≤ 64 KiB", per)
	}
}
