package sht31

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Vectors is the shape of sht31test/vectors.json, shared with the kiosk
// driver tests.
type Vectors struct {
	CRC []struct {
		Data, CRC string
	}
	Frames []struct {
		Name          string
		Bytes         string
		RawT          uint16 `json:"raw_t"`
		RawRH         uint16 `json:"raw_rh"`
		TemperatureMC int64  `json:"temperature_mc"`
		HumidityPPM   int64  `json:"humidity_ppm"`
		Error         string
	}
}

func loadVectors(t testing.TB) Vectors {
	t.Helper()
	raw, err := os.ReadFile("sht31test/vectors.json") // sht31test.Vectors; importing it here would be a cycle
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
	for _, c := range v.CRC {
		if got := CRC8(testutil.Unhex(t, c.Data)); got != testutil.Unhex(t, c.CRC)[0] {
			t.Errorf("CRC8(%s) = %02X, want %s", c.Data, got, c.CRC)
		}
	}
	for _, f := range v.Frames {
		b := testutil.Unhex(t, f.Bytes)
		m, err := Decode(b)
		switch f.Error {
		case "":
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
				continue
			}
			want := Measurement{Temperature: measure.Temperature(f.TemperatureMC), Humidity: measure.Percent(f.HumidityPPM), RawT: f.RawT, RawRH: f.RawRH}
			if m != want {
				t.Errorf("%s: got %+v want %+v", f.Name, m, want)
			}
			if !bytes.Equal(Encode(f.RawT, f.RawRH), b) {
				t.Errorf("%s: Encode differs", f.Name)
			}
		case "crc":
			var ce *CRCError
			if !errors.Is(err, ErrCRC) || !errors.As(err, &ce) {
				t.Errorf("%s: got %v, want a CRC error", f.Name, err)
			}
		case "length":
			if !errors.Is(err, ErrLength) {
				t.Errorf("%s: got %v, want ErrLength", f.Name, err)
			}
		}
	}
}

func TestDatasheetCRC(t *testing.T) {
	if got := CRC8([]byte{0xBE, 0xEF}); got != 0x92 {
		t.Fatalf("CRC(BE EF) = %02X, want 92", got)
	}
}

func TestConversionEdges(t *testing.T) {
	if Temperature(0) != -45*measure.Celsius || Temperature(0xFFFF) != 130*measure.Celsius {
		t.Errorf("range: %v %v", Temperature(0), Temperature(0xFFFF))
	}
	if Humidity(0) != 0 || Humidity(0xFFFF) != measure.Whole {
		t.Errorf("humidity range")
	}
	for _, tc := range []measure.Temperature{-45000, -18000, 0, 4000, 25000, 130000} {
		if got := Temperature(RawTemperature(tc)); abs(int64(got-tc)) > 2 {
			t.Errorf("round trip %v → %v", tc, got)
		}
	}
	if RawTemperature(-100*measure.Celsius) != 0 || RawTemperature(200*measure.Celsius) != 0xFFFF {
		t.Error("clamp")
	}
	if RawHumidity(measure.Whole) != 0xFFFF {
		t.Error("rh")
	}
	st, err := DecodeStatus(Encode(0x8010, 0)[:3])
	if err != nil || st != 0x8010 {
		t.Errorf("status %x %v", st, err)
	}
	if _, err := DecodeStatus([]byte{1}); !errors.Is(err, ErrLength) {
		t.Error(err)
	}
	if !bytes.Equal(MeasureHigh.Bytes(), []byte{0x24, 0x00}) {
		t.Error("command bytes")
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// FuzzDecode: no panic; an accepted frame re-encodes to itself; no frame
// whose CRC fails is accepted.
func FuzzDecode(f *testing.F) {
	for _, fr := range loadVectors(f).Frames {
		f.Add(testutil.Unhex(f, fr.Bytes))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if CRC8(b[0:2]) != b[2] || CRC8(b[3:5]) != b[5] {
			t.Fatalf("accepted a frame with a bad CRC: % X", b)
		}
		if !bytes.Equal(Encode(m.RawT, m.RawRH), b) {
			t.Fatalf("round trip % X", b)
		}
		if m.Temperature < -45*measure.Celsius || m.Temperature > 130*measure.Celsius || m.Humidity < 0 || m.Humidity > measure.Whole {
			t.Fatalf("out of range %+v", m)
		}
	})
}
