package mlx90614

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Vectors is the shape of mlx90614test/vectors.json.
type Vectors struct {
	PEC []struct {
		Data, PEC string
	}
	Frames []struct {
		Name          string
		Addr          uint16
		Cmd           byte
		Bytes         string
		Raw           uint16
		TemperatureMC int64 `json:"temperature_mc"`
		Error         string
	}
}

func loadVectors(t testing.TB) Vectors {
	t.Helper()
	raw, err := os.ReadFile("mlx90614test/vectors.json") // mlx90614test.Vectors; importing it here would be a cycle
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
	for _, c := range v.PEC {
		if got := PEC(testutil.Unhex(t, c.Data)); got != testutil.Unhex(t, c.PEC)[0] {
			t.Errorf("PEC(%s) = %02X, want %s", c.Data, got, c.PEC)
		}
	}
	for _, f := range v.Frames {
		b := testutil.Unhex(t, f.Bytes)
		temp, raw, err := DecodeTemperature(f.Addr, f.Cmd, b)
		switch f.Error {
		case "":
			if err != nil || temp != measure.Temperature(f.TemperatureMC) || raw != f.Raw {
				t.Errorf("%s: got %v %04X %v, want %d m°C %04X", f.Name, temp, raw, err, f.TemperatureMC, f.Raw)
			}
			if !bytes.Equal(EncodeWord(f.Addr, f.Cmd, f.Raw), b) {
				t.Errorf("%s: EncodeWord differs", f.Name)
			}
		case "pec":
			var pe *PECError
			if !errors.Is(err, ErrPEC) || !errors.As(err, &pe) {
				t.Errorf("%s: got %v, want a PEC error", f.Name, err)
			}
		case "flag":
			if !errors.Is(err, ErrFlag) {
				t.Errorf("%s: got %v, want ErrFlag", f.Name, err)
			}
		case "length":
			if !errors.Is(err, ErrLength) {
				t.Errorf("%s: got %v, want ErrLength", f.Name, err)
			}
		}
	}
}

func TestWorkedCheck(t *testing.T) {
	// DOMAIN §3.2: raw 0x3AD2 → 28.01 °C; PEC of B4 07 B5 D2 3A = 0x30.
	if PEC([]byte{0xB4, 0x07, 0xB5, 0xD2, 0x3A}) != 0x30 {
		t.Fatal("PEC")
	}
	temp, err := Temperature(0x3AD2)
	if err != nil || temp != 28010*measure.MilliCelsius || temp.String() != "28.0°C" {
		t.Fatalf("%v %v", temp, err)
	}
	for _, tc := range []measure.Temperature{-70000, -18000, 0, 28010, 95000, 380000} {
		if got, _ := Temperature(RawTemperature(tc)); got-tc > 10 || tc-got > 10 {
			t.Errorf("round trip %v → %v", tc, got)
		}
	}
	if RawTemperature(-300*measure.Celsius) != 0 || RawTemperature(1000*measure.Celsius) != 0x7FFF {
		t.Error("clamp")
	}
	if Emissivity(0xFFFF) != measure.RatioOne || Emissivity(0xF332).String() != "0.95" {
		t.Errorf("emissivity %v", Emissivity(0xF332))
	}
}

// FuzzDecodeWord: no panic; only frames with a good PEC are accepted, and
// they re-encode to themselves; an accepted temperature never has bit 15.
func FuzzDecodeWord(f *testing.F) {
	for _, fr := range loadVectors(f).Frames {
		f.Add(fr.Cmd, testutil.Unhex(f, fr.Bytes))
	}
	f.Fuzz(func(t *testing.T, cmd byte, b []byte) {
		w, err := DecodeWord(Addr, cmd, b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeWord(Addr, cmd, w), b) {
			t.Fatalf("round trip % X", b)
		}
		temp, err := Temperature(w)
		if (err == nil) == (w&0x8000 != 0) {
			t.Fatalf("flag handling %04X %v", w, err)
		}
		if err == nil && (temp < -273150 || temp > 382200) {
			t.Fatalf("out of range %v", temp)
		}
	})
}
