package mlx90614

import (
	"reflect"
	"testing"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture/capturetest"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/mlx90614"
	"github.com/shianfood/shian/protocols/device/mlx90614/mlx90614test"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// TestGoldenSessionResults replays the golden trace through the
// instrument the kiosk runs. The operator presses "measure" before each
// read: the results are exactly the golden readings. Without the button
// none of the three reads (28, 95, 63.5 °C, each once) is a settled
// measurement, so none becomes a result (before the capture fix all
// three did, and a thermometer read every second made 86,400 results a
// day).
func TestGoldenSessionResults(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/session.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _, _ := i2cbustest.Replay(t, newP, tr, 100)
	for _, press := range []bool{true, false} {
		pb := tr.Playback()
		inst, err := New(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: pb}})
		if err != nil {
			t.Fatal(err)
		}
		if press {
			inst.Gate().Trigger() // before the first read; Trigger() needs a read first
		}
		got := capturetest.Run(t, inst, func(int) bool {
			if press {
				if err := inst.Trigger(""); err != nil {
					t.Fatal(err)
				}
			}
			return i2cbustest.Drained(pb)
		}, 100)
		if err := pb.Close(); err != nil {
			t.Fatalf("Playback.Close: %v", err)
		}
		want := raw
		if !press {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("button %v: results %+v, want %+v", press, got, want)
		}
		if st := inst.Status(); st.Frames != 3 {
			t.Errorf("status %+v", st)
		}
	}
}

// TestSettledTarget: the thermometer at the room for a while, then held
// on a tray of fried chicken, back to the room, then on a pot: one
// result per target, none for the room.
func TestSettledTarget(t *testing.T) {
	fake := &mlx90614test.Sensor{}
	fake.SetWord(mlx90614.RegEmissivity, 0xF332)
	var plan []measure.Temperature
	for _, seg := range []struct {
		t measure.Temperature
		n int
	}{{25000, 8}, {63500, 8}, {26000, 8}, {95000, 8}, {94900, 4}} {
		for range seg.n {
			plan = append(plan, seg.t)
		}
	}
	fake.Set(plan[0], 25000)
	inst, err := New(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: fake}})
	if err != nil {
		t.Fatal(err)
	}
	got := capturetest.Run(t, inst, func(c int) bool {
		if c < len(plan) {
			fake.Set(plan[c], 25000)
		}
		return c >= len(plan)
	}, 100)
	near := func(a, b measure.Temperature) bool { return a-b < 20 && b-a < 20 } // 0.02 K per LSB
	if len(got) != 2 || !near(*got[0].Raw.SurfaceTemp, 63500) || !near(*got[1].Raw.SurfaceTemp, 95000) {
		t.Fatalf("results %+v", got)
	}
	if _, ok := any(inst).(device.Triggerer); !ok {
		t.Error("not a Triggerer")
	}
	s := spec()
	s.Options = map[string]string{"capture": "sometimes"}
	if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil {
		t.Error("accepted capture: sometimes")
	}
}
