package dyframe

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/domain/measure"
	"pgregory.net/rapid"
)

var gbChars = []rune("菠菜小白油麦芹韭茭有机磷和氨基甲酸酯类农药残留（国）速测仪一二三四五六七八九十样品编号·、。")

func genText(maxBytes int) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		n := rapid.IntRange(0, maxBytes).Draw(t, "len")
		rs := make([]rune, 0, n)
		for range n {
			if rapid.Bool().Draw(t, "cjk") {
				rs = append(rs, rapid.SampledFrom(gbChars).Draw(t, "c"))
			} else {
				rs = append(rs, rune(rapid.IntRange(0x20, 0x7E).Draw(t, "a")))
			}
		}
		return FitGB2312(string(rs), maxBytes)
	})
}

func genTime() *rapid.Generator[PackedTime] {
	return rapid.Custom(func(t *rapid.T) PackedTime {
		if rapid.IntRange(0, 9).Draw(t, "unset") == 0 {
			return 0
		}
		tm := time.Date(rapid.IntRange(2000, 2127).Draw(t, "y"), time.Month(rapid.IntRange(1, 12).Draw(t, "mo")),
			rapid.IntRange(1, 28).Draw(t, "d"), rapid.IntRange(0, 23).Draw(t, "h"), rapid.IntRange(0, 59).Draw(t, "mi"),
			rapid.IntRange(0, 59).Draw(t, "s"), 0, time.UTC)
		p, err := PackTime(tm)
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

func genAbs() *rapid.Generator[measure.Absorbance] {
	return rapid.Custom(func(t *rapid.T) measure.Absorbance {
		switch rapid.IntRange(0, 5).Draw(t, "kind") {
		case 0:
			return AbsInvalid
		case 1:
			return AbsOverflow
		case 2:
			return measure.Absorbance(rapid.Int32().Draw(t, "any"))
		}
		return measure.Absorbance(rapid.IntRange(-100000, 3000000).Draw(t, "typical"))
	})
}

func genMessage() *rapid.Generator[Message] {
	return rapid.Custom(func(t *rapid.T) Message {
		switch rapid.IntRange(0, 4).Draw(t, "type") {
		case 0:
			return Hello{}
		case 1:
			return Ident{Model: genText(16).Draw(t, "model"), Serial: genText(16).Draw(t, "serial"),
				Version: genText(8).Draw(t, "version"), Measuring: rapid.Bool().Draw(t, "measuring"),
				Channels: rapid.Uint8().Draw(t, "channels")}
		case 2:
			inh := rapid.SampledFrom([]uint16{InhibitionInvalid, InhibitionNA, 0, 1000}).Draw(t, "inh-special")
			if rapid.Bool().Draw(t, "inh-any") {
				inh = rapid.Uint16Range(0, 1000).Draw(t, "inh")
			}
			return Report{
				Record: rapid.Uint32().Draw(t, "record"), Time: genTime().Draw(t, "time"),
				Channel: rapid.Uint8Range(1, math.MaxUint8).Draw(t, "ch"), ControlChannel: rapid.Uint8().Draw(t, "cch"),
				Interval:   rapid.Uint16().Draw(t, "interval"),
				Control:    Kinetics{genAbs().Draw(t, "c0"), genAbs().Draw(t, "c1")},
				Sample:     Kinetics{genAbs().Draw(t, "s0"), genAbs().Draw(t, "s1")},
				Inhibition: inh, SampleCode: genText(16).Draw(t, "code"),
				SampleName: genText(32).Draw(t, "name"), Item: genText(32).Draw(t, "item"),
			}
		case 3:
			return Started{Record: rapid.Uint32().Draw(t, "record"), Time: genTime().Draw(t, "time"),
				Channel: rapid.Uint8().Draw(t, "ch"), Duration: rapid.Uint16().Draw(t, "dur"),
				SampleCode: genText(16).Draw(t, "code"), SampleName: genText(32).Draw(t, "name")}
		}
		return Ack{Record: rapid.Uint32().Draw(t, "record")}
	})
}

// TestRoundTrip: decode(encode(m)) == m for every valid message, whatever
// the chunking of the byte stream.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		msgs := rapid.SliceOfN(genMessage(), 1, 8).Draw(t, "msgs")
		var stream []byte
		for _, m := range msgs {
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode(%#v): %v", m, err)
			}
			stream = append(stream, b...)
		}
		chunk := rapid.IntRange(1, len(stream)).Draw(t, "chunk")
		got, errs := decodeStream(stream, chunk)
		if len(errs) != 0 {
			t.Fatalf("errors: %v", errs)
		}
		if !reflect.DeepEqual(got, msgs) {
			t.Fatalf("decoded\n %#v\nwant\n %#v", got, msgs)
		}
	})
}

// TestBitFlipsNeverDecode: one flipped bit anywhere in a valid frame never
// yields a message (XOR checks catch every single-bit error; a flipped bit
// in a start byte makes the frame unfindable).
func TestBitFlipsNeverDecode(t *testing.T) {
	for _, fv := range loadVectors(t).Frames {
		good := testutil.Unhex(t, fv.Hex)
		for i := range good {
			for bit := range 8 {
				b := append([]byte(nil), good...)
				b[i] ^= 1 << bit
				msgs, errs := decodeStream(b, 0)
				if len(msgs) != 0 {
					t.Fatalf("%s: flipping bit %d of byte %d decoded %#v", fv.Name, bit, i, msgs)
				}
				for _, err := range errs {
					var fe *FrameError
					if !errors.As(err, &fe) {
						t.Fatalf("%s: untyped error %v", fv.Name, err)
					}
				}
			}
		}
	}
}
