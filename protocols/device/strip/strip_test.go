package strip

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Vectors is the shape of striptest/vectors.json.
type Vectors struct {
	Lines []struct {
		Name, Line, Kind, Item, Error string
		C, T                          int64
		Ratio                         *int64
	}
	Intensities []struct {
		Name      string
		BgG       uint16 `json:"bg_g"`
		LineG     uint16 `json:"line_g"`
		Intensity int64
		Error     string
	}
}

func loadVectors(t testing.TB) Vectors {
	t.Helper()
	raw, err := os.ReadFile("striptest/vectors.json") // striptest.Vectors; importing it here would be a cycle
	if err != nil {
		t.Fatal(err)
	}
	var v Vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

var errByName = map[string]error{
	"checksum": ErrChecksum, "framing": ErrFraming, "inconsistent": ErrInconsistent,
	"format": ErrFormat, "unknown": ErrUnknown,
}

func TestLineVectors(t *testing.T) {
	for _, v := range loadVectors(t).Lines {
		m, err := Parse([]byte(v.Line))
		if v.Error != "" {
			if !errors.Is(err, errByName[v.Error]) {
				t.Errorf("%s: got %v, want %s", v.Name, err, v.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		if string(m.Kind) != v.Kind {
			t.Errorf("%s: kind %s", v.Name, m.Kind)
		}
		if m.Kind == KindStrip {
			want := StripMessage(v.Item, measure.Intensity(v.C), measure.Intensity(v.T))
			if m != want {
				t.Errorf("%s: %+v want %+v", v.Name, m, want)
			}
			if (v.Ratio == nil) == m.HasRatio || (v.Ratio != nil && measure.Ratio(*v.Ratio) != m.Ratio) {
				t.Errorf("%s: ratio %v", v.Name, m.Ratio)
			}
		}
		if got := string(m.Append(nil)); got != v.Line+"\r\n" {
			t.Errorf("%s: re-encodes as %q", v.Name, got)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
}

func TestIntensityVectors(t *testing.T) {
	for _, v := range loadVectors(t).Intensities {
		got, err := LineIntensity(tcs34725.Counts{G: v.LineG}, tcs34725.Counts{G: v.BgG})
		if v.Error != "" {
			if !errors.Is(err, ErrNoStrip) {
				t.Errorf("%s: %v", v.Name, err)
			}
			continue
		}
		if err != nil || got != measure.Intensity(v.Intensity) {
			t.Errorf("%s: %v %v, want %d", v.Name, got, err, v.Intensity)
		}
	}
}

func TestChannels(t *testing.T) {
	if DefaultChannels.Validate() != nil || (Channels{0, 0, 1}).Validate() == nil || (Channels{0, 8, 1}).Validate() == nil {
		t.Error("validate")
	}
	if !bytes.Equal(Select(2), []byte{4}) || ControlLine.String() != "C" {
		t.Error("select")
	}
	if (Message{Kind: KindStrip, Item: "a,b"}).Validate() == nil {
		t.Error("comma in item accepted")
	}
}

// TestSplitResync: garbage, split sentences and over-long junk never stop
// the next valid sentence from being decoded.
func TestSplitResync(t *testing.T) {
	good := StripMessage("clenbuterol", 42125, 9000).Append(nil)
	var stream bytes.Buffer
	stream.WriteString("\x00\xff garbage $$$ ")
	stream.Write(good[:10]) // a sentence cut by a reset
	stream.Write(good)
	stream.WriteString("$" + strings.Repeat("A", 500) + "\r\n")
	stream.Write(good)
	stream.Write([]byte("$STRIP,x,1.000,1.000,1.000*00\r\n")) // bad checksum
	stream.Write(good)
	sc := bufio.NewScanner(&stream)
	sc.Split(SplitLines)
	var ok, bad int
	for sc.Scan() {
		if _, err := Parse(sc.Bytes()); err != nil {
			bad++
		} else {
			ok++
		}
	}
	if sc.Err() != nil || ok != 3 || bad != 1 {
		t.Fatalf("ok %d bad %d err %v", ok, bad, sc.Err())
	}
	// Split at every byte boundary.
	for cut := range len(good) {
		r := &chunked{parts: [][]byte{[]byte("junk"), good[:cut], good[cut:]}}
		sc := bufio.NewScanner(r)
		sc.Split(SplitLines)
		if !sc.Scan() {
			t.Fatalf("cut %d: no token", cut)
		}
		if _, err := Parse(sc.Bytes()); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}
}

type chunked struct{ parts [][]byte }

func (c *chunked) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, os.ErrClosed
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

// FuzzParse: no panic; every accepted sentence re-encodes to the same
// bytes; a STRIP is self-consistent.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f).Lines {
		f.Add([]byte(v.Line))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		want := string(bytes.TrimSuffix(b, []byte{'\r'})) + "\r\n"
		if got := string(m.Append(nil)); got != want {
			t.Fatalf("round trip %q → %q", b, got)
		}
		if m.Kind == KindStrip {
			if r, ok := Ratio3(m.C, m.T); ok != m.HasRatio || r != m.Ratio {
				t.Fatalf("inconsistent %+v", m)
			}
		}
	})
}

// FuzzSplitLines: the splitter always makes progress, never returns a
// token longer than MaxLine, and never more tokens than bytes — fed the
// input all at once and in 3-byte pieces.
func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("$STRIP,x,0.001,0.001,1.000*1B\r\n$INFO*0E\n"))
	f.Add([]byte("garbage$$\n$"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, piece := range []int{len(b), 3} {
			var buf []byte
			rest, n := b, 0
			for {
				if len(rest) > 0 {
					k := min(piece, len(rest))
					buf, rest = append(buf, rest[:k]...), rest[k:]
				}
				atEOF := len(rest) == 0
				adv, tok, err := SplitLines(buf, atEOF)
				if err != nil || adv < 0 || adv > len(buf) {
					t.Fatalf("advance %d of %d, err %v", adv, len(buf), err)
				}
				if tok != nil {
					if len(tok) > MaxLine+1 {
						t.Fatalf("token of %d bytes", len(tok))
					}
					if n++; n > len(b) {
						t.Fatal("more tokens than bytes")
					}
				}
				buf = buf[adv:]
				if adv == 0 && atEOF {
					break
				}
			}
		}
	})
}

func BenchmarkSplitGarbage(b *testing.B) {
	junk := bytes.Repeat([]byte("$"), 60000)
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(junk))
		sc.Split(SplitLines)
		for sc.Scan() {
		}
	}
}
