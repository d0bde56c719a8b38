package profile

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/device/asciirpt"
)

// seedProfiles are every profile file the project has.
func seedProfiles(f *testing.F) [][]byte {
	var out [][]byte
	names, _ := fs.Glob(builtinFS, "builtin/*.yaml")
	for _, n := range names {
		b, _ := builtinFS.ReadFile(n)
		out = append(out, b)
	}
	b, err := examples.ReadFile("examples/lanyu-gr20.yaml")
	if err != nil {
		f.Fatal(err)
	}
	return append(out, b)
}

// FuzzParse (the loader): no panic on any file; a refusal is an *Error
// with a line; an accepted profile has every register field inside a
// block it reads, and decodes its own zeroed registers without panic.
func FuzzParse(f *testing.F) {
	for _, b := range seedProfiles(f) {
		f.Add(b)
	}
	f.Add([]byte("profile: A-B\ntransport: {kind: modbus-rtu}\nresult: {read: {start: 0, count: 1}, ready: sequence_changes, sequence: {register: 0}, method: atp, values: {rlu: {register: 0, scale: 1e-999999}}, ack: none}\n"))
	f.Add([]byte("profile: A-B\ntransport: &a {kind: text}\nresult: *a\n"))
	f.Add([]byte("\xff\xfe: ["))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("fuzz.yaml", b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refusal is not an *Error: %v", err)
			}
			return
		}
		if p.Name == "" || p.Transport.Kind == "" {
			t.Fatalf("accepted a profile without a name or transport: %+v", p)
		}
		if p.Transport.Kind.Modbus() {
			regs := Registers{}
			for _, r := range p.Result.Reads {
				regs.Put(r.Table, r.Start, make([]uint16, r.Count))
			}
			for _, r := range p.Result.Reads {
				if uint32(r.Start)+uint32(r.Count) > 0x10000 {
					t.Fatalf("a block past 0xFFFF: %+v", r)
				}
			}
			p.DecodeResult(regs, "")
		} else {
			p.Match([]byte("x\r\n"), "")
		}
	})
}

// fromBytes fills the profile's result blocks from b, two bytes a
// register, big-endian.
func fromBytes(p *Profile, b []byte) Registers {
	regs := Registers{}
	for _, r := range p.Result.Reads {
		vals := make([]uint16, r.Count)
		for i := range vals {
			if len(b) >= 2 {
				vals[i] = binary.BigEndian.Uint16(b)
				b = b[2:]
			}
		}
		regs.Put(r.Table, r.Start, vals)
	}
	return regs
}

// FuzzDecodeResult (the register decoder), on the SHIAN-GC1 and the
// LY-GR20 profiles: no panic on any register values; a refusal matches
// ErrValue; a result decoded, encoded back and decoded again is the same.
func FuzzDecodeResult(f *testing.F) {
	gc1, _ := Builtin().Lookup("SHIAN-GC1")
	ly := lanyu(f)
	f.Add(uint8(0), []byte{0x01, 0x0D, 0, 1, 0, 1, 0, 1, 0, 1, 0, 3, 0, 0, 0x65, 0x71, 0, 0, 0x13, 0x28, 0, 0xBD, 0x6B, 0x0F, 0x80, 0x57})
	f.Add(uint8(1), []byte{0, 1, 2, 1, 1, 1, 0x51, 0xEC, 0x43, 0x62, 0x82, 0x8F, 0x43, 0x99, 0x07, 0xEA, 0, 12, 0, 2, 0, 10, 0, 21, 0, 20, 0xFF, 0x9C, 0x02, 0x64})
	f.Add(uint8(1), []byte{0, 1, 0, 1, 1, 1, 0xFF, 0xFF, 0x7F, 0xC0, 0, 0, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(0), []byte{0, 0, 0, 0, 0, 1, 0, 99})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		p := gc1
		if which%2 == 1 {
			p = ly
		}
		d, err := p.DecodeResult(fromBytes(p, b), "")
		if err != nil {
			if !errors.Is(err, ErrValue) {
				t.Fatalf("untyped %v", err)
			}
			return
		}
		if !d.Ready {
			return
		}
		regs := Registers{}
		if err := p.EncodeResult(d, regs); err != nil {
			return // a value the profile's types cannot carry back exactly (a float32 out of range)
		}
		back, err := p.DecodeResult(regs, "")
		if err != nil {
			t.Fatalf("re-decode of %+v: %v", d, err)
		}
		a, _ := json.Marshal(d)
		c, _ := json.Marshal(back)
		if string(a) != string(c) {
			t.Fatalf("round trip:\n%s\n%s", a, c)
		}
	})
}

// FuzzText (the text framer and matcher), on the SHIAN-ATP1 profile:
// arbitrary bytes in arbitrary chunks: no panic, typed errors only, and
// every result it reads is what the report's own decoder
// (protocols/device/asciirpt) reads from the same block.
func FuzzText(f *testing.F) {
	p, _ := Builtin().Lookup("SHIAN-ATP1")
	loc, _ := loadZone("Asia/Shanghai")
	good := asciirpt.Report{Kind: asciirpt.KindATP, Model: "SHIAN-ATP1", Serial: "ATP1-0001", No: 42,
		Time: time.Date(2026, 11, 28, 10, 15, 3, 0, loc), Point: "CB-01", RLU: 27}.Bytes()
	f.Add(good, uint8(7))
	f.Add(append([]byte("noise\r\n*** SHIAN REPORT ***\r\nTYPE  : ATP\r\n"), good...), uint8(1))
	f.Add([]byte(strings.Replace(string(good), "27 RLU", "28 RLU", 1)), uint8(0))
	f.Add([]byte(strings.Repeat("x", 300)+"\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		dec := p.NewTextDecoder()
		step := int(chunk)%16 + 1
		for i := 0; i < len(b); i += step {
			dec.Feed(b[i:min(i+step, len(b))])
			for {
				msg, err := dec.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					if !errors.Is(err, ErrFraming) && !errors.Is(err, ErrTruncated) {
						t.Fatalf("untyped framing error %v", err)
					}
					continue
				}
				if len(msg) > p.Transport.Block.MaxLines*(p.Transport.MaxLine+2) {
					t.Fatalf("a message of %d bytes", len(msg))
				}
				m, err := p.Match(msg, "")
				if err != nil {
					if !errors.Is(err, ErrNoMatch) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrValue) && !errors.Is(err, ErrIdentity) {
						t.Fatalf("untyped %v", err)
					}
					continue
				}
				if m.Kind != KindResult {
					continue
				}
				r, err := asciirpt.Parse(msg, loc)
				if err != nil {
					t.Fatalf("the profile read %q, asciirpt refuses it: %v", msg, err)
				}
				d := m.Result
				if *d.Raw.RLU != r.RLU || d.Sequence != uint64(r.No) || d.Serial != r.Serial || !d.Time.Equal(r.Time) || d.SampleCode != r.Point {
					t.Fatalf("profile %+v, asciirpt %+v", d, r)
				}
			}
		}
		dec.Gap()
	})
}
