package dyframe

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
)

// vectorStream returns every good vector frame concatenated, and their
// messages in order.
func vectorStream(t testing.TB) ([]byte, []Message) {
	v := loadVectors(t)
	var stream []byte
	var msgs []Message
	for _, fv := range v.Frames {
		stream = append(stream, testutil.Unhex(t, fv.Hex)...)
		msgs = append(msgs, fv.message())
	}
	return stream, msgs
}

func TestScannerSplitAtEveryByte(t *testing.T) {
	stream, want := vectorStream(t)
	for chunk := 1; chunk <= 64; chunk++ {
		got, errs := decodeStream(stream, chunk)
		if len(errs) != 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("chunk %d: %d messages, errors %v", chunk, len(got), errs)
		}
	}
	// Every two-piece split of the whole stream.
	for i := 0; i <= len(stream); i++ {
		var s Scanner
		var got []Message
		for _, part := range [][]byte{stream[:i], stream[i:]} {
			s.Feed(part)
			for {
				f, err := s.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					t.Fatalf("split %d: %v", i, err)
				}
				m, err := Decode(f)
				if err != nil {
					t.Fatalf("split %d: %v", i, err)
				}
				got = append(got, m)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d: got %d messages, want %d", i, len(got), len(want))
		}
	}
}

// TestScannerGarbage: 1 MB of random bytes, then the vector frames, each
// followed by more noise and by damaged copies of itself. Every valid frame
// is decoded, none is invented, and each is returned within one maximum
// frame length of its last byte (docs/reliability.md test 5).
func TestScannerGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	v := loadVectors(t)
	var stream []byte
	var ends []int // offset just past each valid frame
	var want []Message
	stream = append(stream, noise(1<<20)...)
	for _, fv := range v.Frames {
		good := testutil.Unhex(t, fv.Hex)
		// A damaged copy: one random byte changed (never a valid frame).
		bad := bytes.Clone(good)
		i := rng.IntN(len(bad))
		bad[i] ^= byte(1 + rng.IntN(255))
		stream = append(stream, bad...)
		// A header that looks valid and claims a long frame.
		stream = append(stream, bogusHeader(700)...)
		stream = append(stream, good...)
		ends = append(ends, len(stream))
		want = append(want, fv.message())
		stream = append(stream, noise(rng.IntN(200))...)
	}

	var s Scanner
	var got []Message
	var gotAt []int
	drain := func(at int) {
		for {
			f, err := s.Next()
			if errors.Is(err, ErrIncomplete) {
				return
			}
			if err != nil {
				continue // a rejected candidate; callers count these
			}
			m, err := Decode(f)
			if err != nil {
				continue
			}
			got = append(got, m)
			gotAt = append(gotAt, at)
		}
	}
	for off, c := range stream {
		s.Feed([]byte{c})
		drain(off + 1)
	}
	// The line goes quiet: give up on the pending candidates.
	for s.Pending() > 0 {
		if s.Expire() == nil {
			t.Fatal("Expire with bytes pending returned nil")
		}
		drain(len(stream))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %d messages from the noisy stream, want exactly the %d valid ones", len(got), len(want))
	}
	for i := range gotAt {
		if late := gotAt[i] - ends[i]; late < 0 || late > MaxFrame {
			t.Errorf("frame %d returned %d bytes after its end (max %d)", i, late, MaxFrame)
		}
	}
	if s.Pending() >= MaxFrame {
		t.Errorf("scanner holds %d bytes", s.Pending())
	}
}

// bogusHeader is a header with valid header check and a data length of n,
// followed by nothing: a decoder must not wait for it past n bytes.
func bogusHeader(n int) []byte {
	h := []byte{Start0, Start1, 0x45, 0, 0, 0, 0, 0, byte(n), byte(n >> 8), 0, 0x55}
	h[10] = XOR(h[:10])
	return h
}

func TestReader(t *testing.T) {
	stream, want := vectorStream(t)
	// Noise before, between and a truncated frame at the end.
	var in []byte
	in = append(in, 0x00, 0x03, 0x03, 0xFF, 0x20)
	in = append(in, stream...)
	in = append(in, stream[:5]...)
	r := NewReader(iotestOneByte{bytes.NewReader(in)})
	var got []Message
	for {
		f, err := r.ReadFrame()
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) {
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadFrame: %v, want io.ErrUnexpectedEOF at the truncated tail", err)
			}
			break
		}
		m, err := Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
}

// iotestOneByte reads one byte at a time.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		name string
		m    Message
	}{
		{"sample channel 0", Report{}},
		{"sample code too long", Report{Channel: 1, SampleCode: "ABCDEFGHIJKLMNOPQ"}},
		{"name too long in GB2312", Report{Channel: 1, SampleName: "一二三四五六七八九十一二三四五六七"}},
		{"GBK-only character", Report{Channel: 1, SampleName: "菠菜\u4E02"}},
		{"emoji", Report{Channel: 1, SampleName: "🥬"}},
		{"control character", Report{Channel: 1, SampleName: "a\nb"}},
		{"NUL in text", Ident{Model: "a\x00b"}},
		{"absorbance over 32 bits", Report{Channel: 1, Control: Kinetics{First: 1 << 40}}},
		{"inhibition over 100 %", Report{Channel: 1, Inhibition: 1001}},
		{"impossible date", Report{Channel: 1, Time: 0xFFFFFFFF}},
		{"impossible date in started", Started{Time: 0xFFFFFFFF}},
	}
	for _, c := range cases {
		if _, err := Encode(c.m); !errors.Is(err, ErrField) {
			t.Errorf("%s: Encode err = %v, want ErrField", c.name, err)
		}
	}
	if _, err := (Frame{Data: make([]byte, MaxData+1)}).Bytes(); !errors.Is(err, ErrLength) {
		t.Errorf("oversized frame: %v", err)
	}
}

func TestFitGB2312(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"菠菜", 4, "菠菜"},
		{"菠菜", 3, "菠"},
		{"ab菠菜", 3, "ab"},
		{"🥬菜", 4, "?菜"},
		{"", 5, ""},
	}
	for _, c := range cases {
		if got := FitGB2312(c.in, c.n); got != c.want {
			t.Errorf("FitGB2312(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
		if n, err := GB2312Len(FitGB2312(c.in, c.n)); err != nil || n > c.n {
			t.Errorf("FitGB2312(%q, %d) does not fit: %d, %v", c.in, c.n, n, err)
		}
	}
}
