package sht31

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/sht31"
	"github.com/shianfood/shian/protocols/device/sht31/sht31test"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// TestSharedVectors runs every frame of sht31test.Vectors
// through the driver's read sequence: the driver and the codec agree on
// every value and refuse every damaged frame.
func TestSharedVectors(t *testing.T) {
	raw := sht31test.Vectors()
	var v struct {
		Frames []struct {
			Name          string
			Bytes         string
			TemperatureMC int64 `json:"temperature_mc"`
			HumidityPPM   int64 `json:"humidity_ppm"`
			Error         string
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Frames {
		if f.Error == "length" {
			continue // a short read is the bus's business (see the mutation tests)
		}
		r := testutil.Unhex(t, f.Bytes)
		pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: sht31.Addr, W: sht31.MeasureHigh.Bytes()},
			{Addr: sht31.Addr, R: r},
		}}
		s := &Sensor{Addr: sht31.Addr, Cmd: sht31.MeasureHigh, Method: "cold_holding"}
		got, err := s.Read(context.Background(), i2cbus.Link{Bus: pb, Sleep: func(context.Context, time.Duration) error { return nil }})
		if f.Error != "" {
			if !errors.Is(err, i2cbus.ErrInvalid) || !errors.Is(err, sht31.ErrCRC) || got != nil {
				t.Errorf("%s: %v %v", f.Name, got, err)
			}
		} else if err != nil || *got[0].Raw.AirTemp != measure.Temperature(f.TemperatureMC) || *got[0].Raw.Humidity != measure.Percent(f.HumidityPPM) {
			t.Errorf("%s: %+v %v", f.Name, got, err)
		}
		if err := pb.Close(); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
}
