package asciirpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/device/asciirpt/asciirpttest"
	"github.com/shianfood/shian/protocols/domain/measure"
)

var cst = time.FixedZone("CST", 8*3600)

type vectorReport struct {
	Name   string
	Text   string
	Kind   Kind
	Model  string
	Serial string
	FW     string
	No     int
	Time   string
	Point  string
	RLU    measure.RLU
	Probe  string
	Mode   Mode
	TempMC measure.Temperature `json:"temp_mc"`
	Code   string
}

type vectors struct {
	Check []struct {
		ASCII string
		CRC   string
	}
	Reports []vectorReport
	Bad     []struct {
		Name, Text, Error string
	}
	Commands []struct {
		Line, Cmd, Error string
	}
}

func loadVectors(t testing.TB) vectors {
	var v vectors
	if err := json.Unmarshal(asciirpttest.Vectors(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v vectorReport) want(t testing.TB) Report {
	r := Report{Kind: v.Kind, Model: v.Model, Serial: v.Serial, Firmware: v.FW, No: v.No, Point: v.Point, RLU: v.RLU,
		Probe: v.Probe, Mode: v.Mode, Temp: v.TempMC, Code: v.Code}
	if v.Time != "" {
		tm, err := time.Parse(time.RFC3339, v.Time)
		if err != nil {
			t.Fatal(err)
		}
		r.Time = tm.In(cst)
	}
	return r
}

func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrChecksum):
		return "checksum"
	case errors.Is(err, ErrFraming):
		return "framing"
	case errors.Is(err, ErrFormat):
		return "format"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	}
	return "untyped: " + err.Error()
}

func TestVectors(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Check {
		if got := fmt.Sprintf("%04X", Checksum([]byte(c.ASCII))); got != c.CRC {
			t.Errorf("Checksum(%q) = %s, want %s", c.ASCII, got, c.CRC)
		}
	}
	for _, rv := range v.Reports {
		want := rv.want(t)
		got, err := Parse([]byte(rv.Text), cst)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Parse = %+v, %v\nwant %+v", rv.Name, got, err, want)
		}
		b, err := want.Append(nil)
		if err != nil || string(b) != rv.Text {
			t.Errorf("%s: Append = %q, %v\nwant %q", rv.Name, b, err, rv.Text)
		}
	}
	for _, bv := range v.Bad {
		r, err := Parse([]byte(bv.Text), cst)
		if errClass(err) != bv.Error {
			t.Errorf("%s: %+v, %v; want a %s error", bv.Name, r, err, bv.Error)
		}
	}
	for _, c := range v.Commands {
		cmd, err := ParseCommand([]byte(strings.TrimSuffix(c.Line, "\n")))
		if cmd != c.Cmd || errClass(err) != c.Error {
			t.Errorf("command %q: %q %v", c.Line, cmd, err)
		}
		if c.Error == "" && strings.HasSuffix(c.Line, "\r\n") && string(Command(c.Cmd)) != c.Line {
			t.Errorf("Command(%q) = %q", c.Cmd, Command(c.Cmd))
		}
	}
}

// decodeAll feeds b in pieces of step bytes.
func decodeAll(d *Decoder, b []byte, step int) (reps []Report, errs []error) {
	for len(b) > 0 {
		n := min(step, len(b))
		d.Feed(b[:n])
		b = b[n:]
		for {
			r, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			reps = append(reps, r)
		}
	}
	return reps, errs
}

func TestDecoderSplitAtEveryBoundary(t *testing.T) {
	v := loadVectors(t)
	var stream string
	var want []Report
	for _, rv := range v.Reports {
		stream += rv.Text + "\r\n" // the printer feeds a blank line
		want = append(want, rv.want(t))
	}
	for _, step := range []int{1, 2, 3, 7, 13, 33, 34, 35, 100, len(stream)} {
		d := Decoder{Loc: cst}
		got, errs := decodeAll(&d, []byte(stream), step)
		if !reflect.DeepEqual(got, want) || len(errs) != 0 || d.Pending() {
			t.Fatalf("step %d: %d reports of %d, errors %v", step, len(got), len(want), errs)
		}
	}
}

// TestDecoderResync: each fault gives one typed error and no report; the
// next report is read.
func TestDecoderResync(t *testing.T) {
	v := loadVectors(t)
	good := v.Reports[1].Text
	wantR := v.Reports[1].want(t)
	cut := good[:len(good)/2]
	flipped := strings.Replace(good, "27 RLU", "37 RLU", 1)
	cases := []struct {
		name, stream, class string
	}{
		{"noise line", "\x00\xff garbage \x07\r\n" + good, "framing"},
		{"noise run", "a\r\nb\r\nc\r\n" + good, "framing"},
		{"noise into the begin line", "\x13\x37" + good, "framing"},
		{"over-long line", strings.Repeat("x", 500) + "\r\n" + good, "framing"},
		{"cut by a new report", cut + good, "truncated"},
		{"flipped digit", flipped + good, "checksum"},
		{"over-long line inside", good[:40] + strings.Repeat("y", 80) + "\r\n" + good, "truncated"},
		{"no end line", strings.Replace(good, End+"\r\n", "", 1) + "MORE  : x\r\n" + good, "truncated"},
	}
	for _, c := range cases {
		for _, step := range []int{1, 5, 1000} {
			d := Decoder{Loc: cst}
			got, errs := decodeAll(&d, []byte(c.stream), step)
			if len(got) != 1 || !reflect.DeepEqual(got[0], wantR) {
				t.Errorf("%s, step %d: reports %+v, errors %v", c.name, step, got, errs)
				continue
			}
			if len(errs) != 1 || errClass(errs[0]) != c.class {
				t.Errorf("%s, step %d: errors %v, want one %s", c.name, step, errs, c.class)
			}
		}
	}
	d := Decoder{Loc: cst}
	decodeAll(&d, []byte(cut), 1000)
	if err := d.Gap(); !errors.Is(err, ErrTruncated) {
		t.Errorf("Gap = %v", err)
	}
	if d.Gap() != nil || d.Pending() {
		t.Error("Gap twice")
	}
}

func TestValidate(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, cst)
	for _, r := range []Report{
		{Kind: "PH", Model: "M", Serial: "S"},
		{Kind: KindATP, Model: "M", Serial: "S", No: 1, Time: at, Point: "P", RLU: -1},
		{Kind: KindATP, Model: "M", Serial: "S", No: 1, Time: at.Add(time.Millisecond), Point: "P"},
		{Kind: KindATP, Model: "M", Serial: "S", No: 1, Point: "P"},
		{Kind: KindTemp, Model: "M", Serial: "S", No: 1, Time: at, Probe: "P", Mode: ModeCook, Temp: 72450},
		{Kind: KindID, Model: "M", Serial: "S", Firmware: "1", No: 3},
		{Kind: KindID, Model: "M", Serial: "S", Firmware: "1", RLU: 3},
		{Kind: KindErr, Model: "读卡", Serial: "S", Code: "X"},
	} {
		if _, err := r.Append(nil); !errors.Is(err, ErrFormat) {
			t.Errorf("%+v: %v", r, err)
		}
	}
}
