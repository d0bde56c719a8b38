package stripreader

import (
	"encoding/json"
	"errors"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/device/tcs34725/tcs34725test"
)

// TestTCSVectors reads every count block of
// tcs34725test.Vectors through the firmware's fixture
// code: same counts as the codec's tests, all-ones refused as saturated.
func TestTCSVectors(t *testing.T) {
	raw := tcs34725test.Vectors()
	var v struct {
		Counts []struct {
			Name       string
			Bytes      string
			C, R, G, B uint16
			Error      string
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Counts {
		if c.Error != "" {
			continue
		}
		b := testutil.Unhex(t, c.Bytes)
		pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: strip.MuxAddr, W: []byte{0x02}},
			{Addr: strip.MuxAddr, R: []byte{0x02}},
			{Addr: tcs34725.Addr, W: []byte{0x93}, R: []byte{0x01}},
			{Addr: tcs34725.Addr, W: []byte{0xB4}, R: b},
		}}
		got, err := NewFixture(pb, nil).Counts(strip.ControlLine)
		want := tcs34725.Counts{C: c.C, R: c.R, G: c.G, B: c.B}
		if c.C == 65535 {
			if !errors.Is(err, tcs34725.ErrSaturated) {
				t.Errorf("%s: %v", c.Name, err)
			}
		} else if err != nil || got != want {
			t.Errorf("%s: %+v %v", c.Name, got, err)
		}
		if err := pb.Close(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}
