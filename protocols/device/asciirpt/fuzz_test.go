package asciirpt

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func typed(err error) bool {
	for _, e := range []error{ErrFraming, ErrTruncated, ErrChecksum, ErrFormat} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzParse: no panic; an accepted block re-encodes to the same bytes;
// refusals are typed.
func FuzzParse(f *testing.F) {
	v := loadVectors(f)
	for _, r := range v.Reports {
		f.Add([]byte(r.Text))
	}
	for _, b := range v.Bad {
		f.Add([]byte(b.Text))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b, cst)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped %v", err)
			}
			return
		}
		enc, err := r.Append(nil)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted %+v from %q, prints %q, %v", r, b, enc, err)
		}
	})
}

// FuzzDecoder: arbitrary bytes in arbitrary chunks. No panic, bounded
// memory, typed errors only, and every report it returns parses from its
// own printed block to itself.
func FuzzDecoder(f *testing.F) {
	v := loadVectors(f)
	var all []byte
	for _, r := range v.Reports {
		f.Add([]byte(r.Text), uint8(1))
		all = append(all, r.Text...)
	}
	for _, b := range v.Bad {
		f.Add([]byte(b.Text), uint8(3))
		all = append(all, b.Text...)
	}
	f.Add(all, uint8(0))
	f.Add(all, uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		d := Decoder{Loc: cst}
		check := func() {
			for {
				r, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					if !typed(err) {
						t.Fatalf("untyped %v", err)
					}
					continue
				}
				b, err := r.Append(nil)
				if err != nil {
					t.Fatalf("returned %+v, which does not print: %v", r, err)
				}
				r2, err := Parse(b, cst)
				if err != nil || !reflect.DeepEqual(r, r2) {
					t.Fatalf("round trip %+v -> %+v, %v", r, r2, err)
				}
			}
			if len(d.buf) >= MaxLine || len(d.block) > MaxReport {
				t.Fatalf("decoder holds %d + %d bytes", len(d.buf), len(d.block))
			}
		}
		step := int(chunk)
		if step == 0 {
			step = len(data) + 1
		}
		for rest := data; len(rest) > 0; {
			n := min(step, len(rest))
			d.Feed(rest[:n])
			rest = rest[n:]
			check()
		}
		if err := d.Gap(); err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("Gap: %v", err)
		}
	})
}
