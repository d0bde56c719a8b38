package mlx90614

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/mlx90614"
	"github.com/shianfood/shian/protocols/device/mlx90614/mlx90614test"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// TestSharedVectors runs the object-temperature frames of
// mlx90614test.Vectors through the driver's read.
func TestSharedVectors(t *testing.T) {
	raw := mlx90614test.Vectors()
	var v struct {
		Frames []struct {
			Name          string
			Addr          uint16
			Cmd           byte
			Bytes         string
			TemperatureMC int64 `json:"temperature_mc"`
			Error         string
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range v.Frames {
		if f.Error == "length" || (f.Cmd != mlx90614.RegTobj1 && f.Error == "") {
			continue
		}
		n++
		r := testutil.Unhex(t, f.Bytes)
		pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: f.Addr, W: []byte{f.Cmd}, R: r}}}
		s := &Sensor{Addr: f.Addr, Reg: f.Cmd}
		got, err := s.Read(context.Background(), i2cbus.Link{Bus: pb})
		switch f.Error {
		case "":
			if err != nil || *got[0].Raw.SurfaceTemp != measure.Temperature(f.TemperatureMC) {
				t.Errorf("%s: %+v %v", f.Name, got, err)
			}
		case "pec":
			if !errors.Is(err, i2cbus.ErrInvalid) || !errors.Is(err, mlx90614.ErrPEC) || got != nil {
				t.Errorf("%s: %v", f.Name, err)
			}
		case "flag":
			if !errors.Is(err, i2cbus.ErrInvalid) || !errors.Is(err, mlx90614.ErrFlag) || got != nil {
				t.Errorf("%s: %v", f.Name, err)
			}
		}
		if err := pb.Close(); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	if n < 8 {
		t.Errorf("only %d vectors used", n)
	}
}
