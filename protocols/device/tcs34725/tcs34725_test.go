package tcs34725

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/testutil"
)

// Vectors is the shape of tcs34725test/vectors.json.
type Vectors struct {
	Commands []struct {
		Name string
		Reg  byte
		Auto bool
		Cmd  string
	}
	ClearInterrupt string `json:"clear_interrupt"`
	ATime          []struct {
		ATime         byte   `json:"atime"`
		IntegrationUS int64  `json:"integration_us"`
		MaxCount      uint16 `json:"max_count"`
	}
	IDs []struct {
		ID, Model, Error string
	}
	Counts []struct {
		Name       string
		Bytes      string
		C, R, G, B uint16
		Error      string
	}
}

func loadVectors(t testing.TB) Vectors {
	t.Helper()
	raw, err := os.ReadFile("tcs34725test/vectors.json") // tcs34725test.Vectors; importing it here would be a cycle
	if err != nil {
		t.Fatal(err)
	}
	var v Vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectors(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Commands {
		got := Cmd(c.Reg)
		if c.Auto {
			got = CmdAuto(c.Reg)
		}
		if got != testutil.Unhex(t, c.Cmd)[0] {
			t.Errorf("%s: command %02X, want %s", c.Name, got, c.Cmd)
		}
	}
	if ClearInt != testutil.Unhex(t, v.ClearInterrupt)[0] {
		t.Errorf("clear interrupt %02X", ClearInt)
	}
	for _, a := range v.ATime {
		if got := ATime(a.ATime).Integration(); got != time.Duration(a.IntegrationUS)*time.Microsecond {
			t.Errorf("ATIME %02X: %v", a.ATime, got)
		}
		if got := ATime(a.ATime).MaxCount(); got != a.MaxCount {
			t.Errorf("ATIME %02X: max %d want %d", a.ATime, got, a.MaxCount)
		}
	}
	for _, id := range v.IDs {
		model, err := CheckID(testutil.Unhex(t, id.ID)[0])
		if id.Error != "" {
			var ie *IDError
			if !errors.Is(err, ErrWrongID) || !errors.As(err, &ie) {
				t.Errorf("ID %s: %v", id.ID, err)
			}
		} else if err != nil || model != id.Model {
			t.Errorf("ID %s: %s %v", id.ID, model, err)
		}
	}
	for _, c := range v.Counts {
		b := testutil.Unhex(t, c.Bytes)
		got, err := DecodeCounts(b)
		if c.Error != "" {
			if !errors.Is(err, ErrLength) {
				t.Errorf("%s: %v", c.Name, err)
			}
			continue
		}
		if want := (Counts{c.C, c.R, c.G, c.B}); err != nil || got != want {
			t.Errorf("%s: %+v %v", c.Name, got, err)
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Errorf("%s: encode", c.Name)
		}
	}
}

func TestCheck(t *testing.T) {
	a := ATime(0xF6) // max 10240
	if err := (Counts{C: 10239, R: 1, G: 2, B: 3}).Check(a); err != nil {
		t.Error(err)
	}
	if err := (Counts{C: 10240}).Check(a); !errors.Is(err, ErrSaturated) {
		t.Error(err)
	}
	if err := (Counts{G: 10241}).Check(a); !errors.Is(err, ErrRange) {
		t.Error(err)
	}
	if err := (Counts{C: 65535}).Check(0); !errors.Is(err, ErrSaturated) {
		t.Error(err)
	}
	ok, err := DecodeStatus([]byte{0x11})
	if !ok || err != nil {
		t.Error("status")
	}
	if _, err := DecodeStatus(nil); !errors.Is(err, ErrLength) {
		t.Error(err)
	}
	for _, s := range []string{"1x", "4", "16x", "60x"} {
		g, err := ParseGain(s)
		if err != nil || !strings.HasPrefix(s, g.String()[:len(g.String())-1]) {
			t.Errorf("%s → %v %v", s, g, err)
		}
	}
	if _, err := ParseGain("2x"); err == nil {
		t.Error("2x accepted")
	}
}

// FuzzDecodeCounts: no panic; accepted blocks re-encode to themselves.
func FuzzDecodeCounts(f *testing.F) {
	for _, c := range loadVectors(f).Counts {
		f.Add(testutil.Unhex(f, c.Bytes))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCounts(b)
		if err != nil {
			if len(b) == DataLen {
				t.Fatalf("refused a full block: %v", err)
			}
			return
		}
		if !bytes.Equal(c.Encode(), b) {
			t.Fatalf("round trip % X", b)
		}
		_ = c.Check(ATime(b[0]))
	})
}
