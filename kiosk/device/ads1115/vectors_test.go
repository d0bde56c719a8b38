package ads1115

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/ads1115"
	"github.com/shianfood/shian/protocols/device/ads1115/ads1115test"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// TestSharedVectors reads the PT100 table of
// ads1115test.Vectors through the driver: the ADC code
// the vector gives at ±0.512 V comes out as the vector's temperature.
func TestSharedVectors(t *testing.T) {
	raw := ads1115test.Vectors()
	var v struct {
		Probe []struct {
			Kind    string
			Celsius float64
			Raw512  int16 `json:"raw_at_0.512"`
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	s, err := FromSpec(spec())
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.Config
	cfg.Start = true
	idle := cfg.Word()
	n := 0
	for _, p := range v.Probe {
		if p.Kind != "pt100" {
			continue
		}
		n++
		w := uint16(p.Raw512)
		pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: ads1115.Addr, W: cfg.WriteBytes()},
			{Addr: ads1115.Addr, W: []byte{ads1115.RegConfig}, R: []byte{byte(idle >> 8), byte(idle)}},
			{Addr: ads1115.Addr, W: []byte{ads1115.RegConversion}, R: []byte{byte(w >> 8), byte(w)}},
		}}
		got, err := s.Read(context.Background(), i2cbus.Link{Bus: pb, Sleep: func(context.Context, time.Duration) error { return nil }})
		want := measure.Temperature(p.Celsius * 1000)
		if err != nil || abs(int64(*got[0].Raw.CoreTemp-want)) > 50 {
			t.Errorf("%v °C: %+v %v", p.Celsius, got, err)
		}
		if err := pb.Close(); err != nil {
			t.Error(err)
		}
	}
	if n < 8 {
		t.Errorf("only %d vectors", n)
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
