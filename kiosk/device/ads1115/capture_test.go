package ads1115

import (
	"reflect"
	"testing"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture/capturetest"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/ads1115"
	"github.com/shianfood/shian/protocols/device/ads1115/ads1115test"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// TestGoldenSessionResults replays the golden trace (a chicken breast
// probed as it cooks: 65, 72, 75 °C) through the instrument the kiosk
// runs. With the measure button pressed before each read, the results are
// the golden readings; without it none of the three (each read once, the
// temperature still rising) is a settled measurement, so none is a
// result. Before the capture fix every read was a result.
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
			inst.Gate().Trigger()
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
	}
}

// TestInsertion: the probe on the bench, pushed into a pot of stew
// (rising, settling at 71.x), pulled out (cooling on the bench), pushed
// into an undercooked dish: two results, each the settled centre
// temperature; nothing while it lies on the bench or cools.
func TestInsertion(t *testing.T) {
	fake := &ads1115test.ADC{}
	probe := ads1115.DefaultProbe()
	var plan []measure.Temperature
	add := func(cs ...float64) {
		for _, c := range cs {
			plan = append(plan, measure.Temperature(c*1000))
		}
	}
	add(24, 24, 24, 24, 24, 24)
	add(35, 52, 64, 69, 70.8, 71.2, 71.3, 71.3, 71.2, 71.3, 71.3, 71.3)
	add(60, 45, 36, 30, 27, 26, 25.5, 25.2, 25, 25, 25, 25)
	add(40, 55, 61, 62.5, 62.8, 62.9, 62.9, 62.9, 62.9, 62.9)
	fake.SetInput(1, probe.VoltageAt(plan[0]))
	inst, err := New(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: fake}})
	if err != nil {
		t.Fatal(err)
	}
	got := capturetest.Run(t, inst, func(c int) bool {
		if c < len(plan) {
			fake.SetInput(1, probe.VoltageAt(plan[c]))
		}
		return c >= len(plan)
	}, 100)
	if len(got) != 2 {
		t.Fatalf("%d results: %+v", len(got), got)
	}
	rules := assay.DefaultRules()
	for i, want := range []assay.Verdict{assay.Pass, assay.Fail} {
		o, err := rules.Decide(got[i].Method, got[i].Item, got[i].Raw)
		if err != nil || o.Verdict != want {
			t.Errorf("result %d: %v → %+v %v", i, *got[i].Raw.CoreTemp, o, err)
		}
	}
}
