package modbus

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
)

// seedFrames adds every vector frame to f with the extra arguments.
func seedFrames(f *testing.F, add func(b []byte)) {
	v := loadVectors(f)
	for _, r := range v.Requests {
		add(testutil.Unhex(f, r.Hex))
	}
	for _, r := range v.Responses {
		add(testutil.Unhex(f, r.Hex))
	}
	for _, b := range append(v.BadRequests, v.BadResponses...) {
		add(testutil.Unhex(f, b.Hex))
	}
	for _, x := range v.CardReader.Exchanges {
		add(testutil.Unhex(f, x.Request))
		add(testutil.Unhex(f, x.Response))
	}
}

func typed(err error) bool {
	for _, e := range []error{ErrCRC, ErrFrame, ErrUnsupported, ErrMismatch, ErrTruncated} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzParseRequest: no panic; an accepted request re-encodes to the same
// bytes; every refusal is typed.
func FuzzParseRequest(f *testing.F) {
	seedFrames(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		enc, err := r.Append(nil)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted %+v from % X, re-encodes to % X, %v", r, b, enc, err)
		}
	})
}

// FuzzParseResponse: as FuzzParseRequest for responses; Check of a
// request built from an accepted response agrees with it.
func FuzzParseResponse(f *testing.F) {
	seedFrames(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		enc, err := r.Append(nil)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted %+v from % X, re-encodes to % X, %v", r, b, enc, err)
		}
		if r.Exception == 0 && r.Func.isRead() {
			req := Request{Slave: r.Slave, Func: r.Func, Qty: r.Qty}
			if err := req.Check(r); err != nil {
				t.Fatalf("%+v does not answer %+v: %v", r, req, err)
			}
		}
	})
}

// FuzzFramer feeds arbitrary bytes in chunks of arbitrary size to a
// framer of either side, with or without an expected request. It must
// never panic, never hold MaxADU bytes, report only typed errors, and
// every frame it returns must parse and re-encode to the same bytes
// (docs/reliability.md tests 3 and 5).
func FuzzFramer(f *testing.F) {
	seedFrames(f, func(b []byte) {
		f.Add(b, uint8(0), uint8(0))
		f.Add(b, uint8(1), uint8(1))
		f.Add(b, uint8(3), uint8(2))
	})
	var all []byte
	seedFrames(f, func(b []byte) { all = append(all, b...) })
	f.Add(all, uint8(0), uint8(0))
	f.Add(all, uint8(7), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk, mode uint8) {
		fr := Framer{}
		var expect *Request
		switch mode % 3 {
		case 1:
			fr.Side = Requests
		case 2:
			req := ReadInput(1, 0x10, 13)
			expect = &req
			fr.Expect(expect)
		}
		check := func() {
			for {
				adu, err := fr.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					if !typed(err) {
						t.Fatalf("untyped framer error %v", err)
					}
					continue
				}
				var enc []byte
				if fr.Side == Requests {
					r, err := ParseRequest(adu)
					if err != nil {
						t.Fatalf("framer returned % X, which does not parse: %v", adu, err)
					}
					enc, _ = r.Append(nil)
				} else {
					r, err := ParseResponse(adu)
					if err != nil {
						t.Fatalf("framer returned % X, which does not parse: %v", adu, err)
					}
					if expect != nil {
						if err := expect.Check(r); err != nil && !errors.Is(err, ErrException) {
							t.Fatalf("framer returned %+v, not an answer to %+v: %v", r, expect, err)
						}
					}
					enc, _ = r.Append(nil)
				}
				if !reflect.DeepEqual(enc, adu) {
					t.Fatalf("round trip: % X -> % X", adu, enc)
				}
			}
			if fr.Pending() >= MaxADU {
				t.Fatalf("framer holds %d bytes", fr.Pending())
			}
		}
		step := int(chunk)
		if step == 0 {
			step = len(data) + 1
		}
		for rest := data; len(rest) > 0; {
			n := min(step, len(rest))
			fr.Feed(rest[:n])
			rest = rest[n:]
			check()
		}
		if err := fr.Gap(); err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("Gap: %v", err)
		}
		if fr.Pending() != 0 {
			t.Fatal("bytes pending after Gap")
		}
	})
}
