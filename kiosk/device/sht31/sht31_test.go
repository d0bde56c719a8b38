package sht31

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/sht31/sht31test"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

var update = flag.Bool("update", false, "re-record testdata/*.json from the fake sensor")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func spec() device.Spec {
	return device.Spec{ID: "coldroom-1", Protocol: Protocol, Bus: "1", Options: map[string]string{"max_failures": "100"}}
}

// newP builds the bare poll loop. The golden traces, their readings and
// the mutation tests check what the sensor delivers on every poll; since
// the capture fix, New puts a capture rule between those readings and the
// kiosk (which of them become results is tested in capture_test.go), so
// these tests use NewPoller, whose readings are what New's used to be.
func newP(env device.Env) (*i2cbus.Poller, error) { return NewPoller(spec(), env) }

// A cold room over four reads: fine, at the edge, too warm, freezing.
var session = []struct {
	t  measure.Temperature
	rh measure.Percent
}{{4000, 850000}, {7900, 820000}, {9500, 800000}, {-500, 900000}}

func record(t *testing.T) {
	fake := &sht31test.Sensor{}
	rec := &i2ctest.Record{Bus: fake}
	p, err := NewPoller(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: rec}})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	fake.Set(session[0].t, session[0].rh)
	i2cbustest.Run(t, p, func() bool {
		i++
		if i == len(session) {
			return true
		}
		fake.Set(session[i].t, session[i].rh)
		return false
	}, 100)
	tr := i2cbustest.FromRecord("sht31", "cold room: 4.0, 7.9, 9.5, -0.5 °C; recorded from protocols/device/sht31/sht31test", rec.Ops)
	if err := tr.Save("testdata/session.json"); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenSession(t *testing.T) {
	if *update {
		record(t)
	}
	_, p := i2cbustest.GoldenSession(t, newP, *update)
	if st := p.Status(); st.Frames != 4 || st.BadFrames != 0 || st.State != device.StateReady {
		t.Errorf("status %+v", st)
	}
}

func TestMutations(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/session.json")
	if err != nil {
		t.Fatal(err)
	}
	good, _, _ := i2cbustest.Replay(t, newP, tr, 100)
	// Every byte the SHT31 sends is covered by a CRC.
	i2cbustest.CheckMutations(t, newP, i2cbustest.Mutations(tr, func(op, i int) bool { return true }), good)
}

func TestSpec(t *testing.T) {
	for _, bad := range []map[string]string{{"repeatability": "max"}, {"method": "core_temperature"}, {"interval": "-1s"}, {"max_failures": "0"}} {
		s := spec()
		s.Options = bad
		if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
	s := spec()
	s.Addr = 0x46
	if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil {
		t.Error("accepted addr 0x46")
	}
	if _, err := New(spec(), device.Env{}); err == nil {
		t.Error("accepted an env without I²C")
	}
	s = spec()
	s.Addr, s.Options = 0x45, map[string]string{"method": "frozen", "repeatability": "low"}
	sen, err := FromSpec(s)
	if err != nil || sen.Addr != 0x45 || sen.Method != assay.Frozen {
		t.Errorf("%+v %v", sen, err)
	}
}
