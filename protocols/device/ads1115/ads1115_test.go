package ads1115

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Vectors is the shape of ads1115test/vectors.json.
type Vectors struct {
	Configs []struct {
		Name           string
		Mux, PGA, Rate uint8
		Word, Write    string
	}
	Volts []struct {
		Raw        int16
		PGA        PGA
		Microvolts int64
	}
	Conversions []struct {
		Name, Bytes, Error string
		Raw                int16
	}
	Probe []struct {
		Kind       ProbeKind
		SupplyUV   int64   `json:"supply_uv"`
		RefOhms    float64 `json:"ref_ohms"`
		Celsius    float64
		Ohms       float64
		Microvolts int64
		Raw512     int16 `json:"raw_at_0.512"`
		Raw4096    int16 `json:"raw_at_4.096"`
	}
}

func loadVectors(t testing.TB) Vectors {
	t.Helper()
	raw, err := os.ReadFile("ads1115test/vectors.json") // ads1115test.Vectors; importing it here would be a cycle
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
	for _, c := range v.Configs {
		cfg := SingleShot(Mux(c.Mux), PGA(c.PGA), DataRate(c.Rate))
		if got := cfg.WriteBytes(); !bytes.Equal(got, testutil.Unhex(t, c.Write)) {
			t.Errorf("%s: % X, want %s", c.Name, got, c.Write)
		}
		w, _ := DecodeWord(testutil.Unhex(t, c.Word))
		if ParseConfig(w) != cfg {
			t.Errorf("%s: parse %+v", c.Name, ParseConfig(w))
		}
		if CheckConfig(cfg, w) != nil || !errors.Is(CheckConfig(cfg, w&^0x8000), ErrBusy) || !errors.Is(CheckConfig(cfg, w^0x0200), ErrConfigMismatch) {
			t.Errorf("%s: CheckConfig", c.Name)
		}
	}
	for _, c := range v.Volts {
		if got := Volts(c.Raw, c.PGA); got != measure.Voltage(c.Microvolts) {
			t.Errorf("Volts(%d, %d) = %d µV, want %d", c.Raw, c.PGA, got, c.Microvolts)
		}
	}
	for _, c := range v.Conversions {
		raw, err := DecodeConversion(testutil.Unhex(t, c.Bytes))
		switch c.Error {
		case "":
			if err != nil || raw != c.Raw {
				t.Errorf("%s: %d %v", c.Name, raw, err)
			}
		case "saturated":
			if !errors.Is(err, ErrSaturated) {
				t.Errorf("%s: %v", c.Name, err)
			}
		case "length":
			if !errors.Is(err, ErrLength) {
				t.Errorf("%s: %v", c.Name, err)
			}
		}
	}
	for _, c := range v.Probe {
		p := Probe{Kind: c.Kind, Supply: measure.Voltage(c.SupplyUV), RefOhms: c.RefOhms}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		want := measure.Temperature(c.Celsius * 1000)
		got, err := p.Temperature(measure.Voltage(c.Microvolts))
		if err != nil || abs(int64(got-want)) > 5 {
			t.Errorf("%s %v °C: from %d µV got %v %v", c.Kind, c.Celsius, c.Microvolts, got, err)
		}
		if r := p.ResistanceAt(want); abs(int64((r-c.Ohms)*1000)) > 10 {
			t.Errorf("%s %v °C: %v Ω want %v", c.Kind, c.Celsius, r, c.Ohms)
		}
		// Through the ADC at the probe's range: within one LSB's worth.
		pga, raw := PGA512, c.Raw512
		if c.Kind == NTC {
			pga, raw = PGA4096, c.Raw4096
		}
		got, err = p.Temperature(Volts(raw, pga))
		tol := int64(50)
		if c.Kind == NTC {
			tol = 300 // 125 µV steps on a thermistor
		}
		if err != nil || abs(int64(got-want)) > tol {
			t.Errorf("%s %v °C through the ADC: %v %v", c.Kind, c.Celsius, got, err)
		}
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestProbeErrors(t *testing.T) {
	p := DefaultProbe()
	if _, err := p.Temperature(0); !errors.Is(err, ErrProbe) {
		t.Error("short", err)
	}
	if _, err := p.Temperature(p.Supply); !errors.Is(err, ErrProbe) {
		t.Error("open", err)
	}
	if _, err := p.Temperature(3 * measure.Volt); !errors.Is(err, ErrProbe) {
		t.Error("out of range", err)
	}
	p.Offset = 500
	if got, _ := p.Temperature(p.VoltageAt(70 * measure.Celsius)); abs(int64(got-70500)) > 2 {
		t.Error("offset", got)
	}
	for _, bad := range []Probe{{Kind: "k-type", Supply: 1, RefOhms: 1}, {Kind: PT100, RefOhms: 1}, {Kind: NTC, Supply: 1}} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if g, err := ParsePGA("0.512V"); err != nil || g != PGA512 {
		t.Error(g, err)
	}
	if _, err := ParsePGA("5"); err == nil {
		t.Error("5 V accepted")
	}
	if d, err := ParseDataRate(860); err != nil || d != DR860 || d.Period() != 1162791 {
		t.Error(d, d.Period(), err)
	}
	if _, err := SingleEnded(4); err == nil {
		t.Error("AIN4")
	}
	if RawFor(Volts(1234, PGA4096), PGA4096) != 1234 || RawFor(10*measure.Volt, PGA4096) != 32767 {
		t.Error("RawFor")
	}
}

// FuzzDecodeConversion: no panic; accepted words are not saturated and
// their voltage is within full scale.
func FuzzDecodeConversion(f *testing.F) {
	for _, c := range loadVectors(f).Conversions {
		f.Add(testutil.Unhex(f, c.Bytes), uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, pga uint8) {
		raw, err := DecodeConversion(b)
		if err != nil {
			return
		}
		v := Volts(raw, PGA(pga))
		fs := PGA(pga).FullScale()
		if v >= fs || v <= -fs {
			t.Fatalf("raw %d at %d → %v", raw, pga, v)
		}
		if w := uint16(raw); !bytes.Equal([]byte{byte(w >> 8), byte(w)}, b) {
			t.Fatalf("round trip % X", b)
		}
		_, _ = DefaultProbe().Temperature(v)
	})
}

// FuzzConfig: every config word parses and re-packs to itself (except
// PGA codes 6 and 7, which alias ±0.256 V but are kept as written).
func FuzzConfig(f *testing.F) {
	f.Add(uint16(0xC383))
	f.Add(uint16(0x8583))
	f.Add(uint16(0xFFFF))
	f.Add(uint16(0))
	f.Fuzz(func(t *testing.T, w uint16) {
		if got := ParseConfig(w).Word(); got != w {
			t.Fatalf("%04X → %04X", w, got)
		}
	})
}
