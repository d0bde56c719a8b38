package modbus

import (
	"errors"
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	req := ReadInput(1, 0x10, 13)
	good := req.Reply(make([]uint16, 13))
	if err := req.Check(good); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		resp Response
		want error
	}{
		{"other slave", ReadInput(2, 0x10, 13).Reply(make([]uint16, 13)), ErrMismatch},
		{"other function", ReadHolding(1, 0x10, 13).Reply(make([]uint16, 13)), ErrMismatch},
		{"short", req.Reply(make([]uint16, 12)), ErrMismatch},
		{"exception", req.Fail(IllegalDataAddress), ErrException},
	}
	for _, c := range cases {
		if err := req.Check(c.resp); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	w := WriteSingle(1, 0x100, 7)
	if err := w.Check(w.Reply(nil)); err != nil {
		t.Error(err)
	}
	if err := w.Check(WriteSingle(1, 0x100, 8).Reply(nil)); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong echo: %v", err)
	}
	m := WriteMultiple(1, 0x101, 1, 2, 3)
	if err := m.Check(m.Reply(nil)); err != nil {
		t.Error(err)
	}
	if err := m.Check(WriteMultiple(1, 0x101, 1, 2).Reply(nil)); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong count: %v", err)
	}
	var ee *ExceptionError
	if err := req.Check(req.Fail(ServerDeviceFailure)); !errors.As(err, &ee) || ee.Code != ServerDeviceFailure || ee.Slave != 1 {
		t.Errorf("%v", err)
	}
}

func TestValidate(t *testing.T) {
	bad := []Request{
		ReadInput(0, 0, 1), ReadHolding(1, 0, 0), ReadHolding(1, 0, 126), ReadInput(248, 0, 1),
		WriteMultiple(1, 0), WriteMultiple(1, 0, make([]uint16, 124)...),
		{Slave: 1, Func: WriteSingleRegister, Qty: 1}, {Slave: 1, Func: 0x2B},
	}
	for _, r := range bad {
		if _, err := r.Append(nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", r, err)
		}
	}
	if _, err := (Response{Slave: 0, Func: ReadInputRegisters, Qty: 1, Values: []uint16{1}}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("a response from slave 0: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Bytes of an invalid request did not panic")
		}
	}()
	_ = ReadHolding(1, 0, 0).Bytes()
}

// feedAll feeds b to f in pieces of step bytes and collects frames and
// errors.
func feedAll(f *Framer, b []byte, step int) (frames [][]byte, errs []error) {
	drain := func() {
		for {
			adu, err := f.Next()
			if errors.Is(err, ErrIncomplete) {
				return
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			frames = append(frames, adu)
		}
	}
	for len(b) > 0 {
		n := min(step, len(b))
		f.Feed(b[:n])
		b = b[n:]
		drain()
	}
	return frames, errs
}

func TestFramerSplitAtEveryBoundary(t *testing.T) {
	a := ReadInput(1, 0x10, 13).Reply([]uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	b := WriteSingle(1, 0x100, 7).Reply(nil)
	c := ReadInput(1, 0, 1).Fail(IllegalDataAddress)
	var stream []byte
	var want [][]byte
	for _, r := range []Response{a, b, c} {
		adu, _ := r.Append(nil)
		want = append(want, adu)
		stream = append(stream, adu...)
	}
	for step := 1; step <= len(stream); step++ {
		var f Framer
		got, errs := feedAll(&f, stream, step)
		if !reflect.DeepEqual(got, want) || len(errs) != 0 || f.Pending() != 0 {
			t.Fatalf("step %d: %d frames, errors %v, pending %d", step, len(got), errs, f.Pending())
		}
	}
	// Requests, split at every boundary too.
	var rs []byte
	var wantReq [][]byte
	for _, r := range []Request{ReadInput(1, 0x10, 13), WriteMultiple(3, 0x101, 1, 1, 1), WriteSingle(0, 0x101, 5)} {
		wantReq = append(wantReq, r.Bytes())
		rs = append(rs, r.Bytes()...)
	}
	for step := 1; step <= len(rs); step++ {
		f := Framer{Side: Requests}
		got, errs := feedAll(&f, rs, step)
		if !reflect.DeepEqual(got, wantReq) || len(errs) != 0 {
			t.Fatalf("requests, step %d: %d frames, errors %v", step, len(got), errs)
		}
	}
}

// TestFramerResync: noise, a flipped bit and a cut frame each give one
// typed error and no frame; the next valid frame is found.
func TestFramerResync(t *testing.T) {
	req := ReadInput(1, 0x10, 2)
	good, _ := req.Reply([]uint16{0xABCD, 0x0102}).Append(nil)
	flipped := append([]byte(nil), good...)
	flipped[4] ^= 0x08
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"flipped bit", append(flipped, good...), ErrCRC},
		{"noise", append([]byte{0x00, 0xFF, 0x01, 0x04, 0x7F, 0x13}, good...), ErrFrame},
		{"cut frame", append(append([]byte(nil), good[:5]...), good...), nil},
		{"long claim", append([]byte{0x01, 0x04, 0xF0}, good...), nil},
	}
	for _, c := range cases {
		for _, expect := range []bool{false, true} {
			var f Framer
			if expect {
				f.Expect(&req)
			}
			frames, errs := feedAll(&f, c.stream, 1)
			if len(frames) != 1 || !reflect.DeepEqual(frames[0], good) {
				t.Errorf("%s (expect %v): frames % X, errors %v", c.name, expect, frames, errs)
				continue
			}
			if len(errs) != 1 {
				t.Errorf("%s (expect %v): %d errors %v, want one", c.name, expect, len(errs), errs)
				continue
			}
			if c.want != nil && !expect && !errors.Is(errs[0], c.want) {
				t.Errorf("%s: error %v, want %v", c.name, errs[0], c.want)
			}
			if !errors.Is(errs[0], ErrCRC) && !errors.Is(errs[0], ErrFrame) {
				t.Errorf("%s (expect %v): untyped error %v", c.name, expect, errs[0])
			}
		}
	}
}

func TestFramerExpect(t *testing.T) {
	req := ReadInput(1, 0x10, 2)
	stale, _ := ReadInput(2, 0x10, 2).Reply([]uint16{9, 9}).Append(nil)
	mine, _ := req.Reply([]uint16{1, 2}).Append(nil)
	exc, _ := req.Fail(ServerDeviceBusy).Append(nil)
	var f Framer
	f.Expect(&req)
	frames, errs := feedAll(&f, append(append(stale, mine...), exc...), 3)
	if len(frames) != 2 || !reflect.DeepEqual(frames[0], mine) || !reflect.DeepEqual(frames[1], exc) {
		t.Fatalf("frames % X", frames)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrMismatch) {
		t.Fatalf("errors %v", errs)
	}
	f.Expect(nil)
	frames, _ = feedAll(&f, stale, 100)
	if len(frames) != 1 {
		t.Fatalf("without Expect, the other slave's frame is a frame: %v", frames)
	}
}

func TestFramerGap(t *testing.T) {
	good, _ := ReadInput(1, 0, 1).Reply([]uint16{5}).Append(nil)
	var f Framer
	f.Feed(good[:4])
	if _, err := f.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	if err := f.Gap(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Gap = %v", err)
	}
	if f.Gap() != nil || f.Pending() != 0 {
		t.Fatal("Gap with nothing pending")
	}
	frames, errs := feedAll(&f, good, 2)
	if len(frames) != 1 || len(errs) != 0 {
		t.Fatalf("after the gap: %v %v", frames, errs)
	}
}

// TestFramerMegabyteOfNoise: 1 MB of random bytes then valid frames:
// the frames are all found, nothing is invented, and the framer never
// holds a frame's worth of bytes (docs/reliability.md test 5).
func TestFramerMegabyteOfNoise(t *testing.T) {
	noise := make([]byte, 1<<20)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range noise {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		noise[i] = byte(x)
	}
	req := ReadInput(1, 0x10, 13)
	good, _ := req.Reply(make([]uint16, 13)).Append(nil)
	stream := append(noise, good...)
	stream = append(stream, good...)
	var f Framer
	f.Expect(&req)
	var frames int
	for rest := stream; len(rest) > 0; {
		n := min(97, len(rest))
		f.Feed(rest[:n])
		rest = rest[n:]
		for {
			adu, err := f.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err == nil {
				if !reflect.DeepEqual(adu, good) {
					t.Fatalf("invented frame % X", adu)
				}
				frames++
			}
		}
		if f.Pending() >= MaxADU {
			t.Fatalf("framer holds %d bytes", f.Pending())
		}
	}
	if frames != 2 {
		t.Fatalf("%d frames found after the noise, want 2", frames)
	}
	t.Logf("skipped %d noise bytes", f.Skipped())
}

func TestUnsupportedRequestIsFramed(t *testing.T) {
	coils := AppendCRC([]byte{1, 1, 0, 0, 0, 8})
	f := Framer{Side: Requests}
	frames, errs := feedAll(&f, append(coils, ReadInput(1, 0, 1).Bytes()...), 1)
	var ue *UnsupportedError
	if len(errs) != 1 || !errors.As(errs[0], &ue) || ue.Func != 1 || ue.Slave != 1 || len(frames) != 1 {
		t.Fatalf("frames %v errors %v", frames, errs)
	}
	exc, err := Response{Slave: 1, Func: ue.Func, Exception: IllegalFunction}.Append(nil)
	if err != nil || !reflect.DeepEqual(exc, AppendCRC([]byte{1, 0x81, 1})) {
		t.Fatalf("% X %v", exc, err)
	}
}
