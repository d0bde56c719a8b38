package mlx90614

import (
	"flag"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/mlx90614"
	"github.com/shianfood/shian/protocols/device/mlx90614/mlx90614test"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

var update = flag.Bool("update", false, "re-record testdata/*.json from the fake sensor")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func spec() device.Spec {
	return device.Spec{ID: "ir-1", Protocol: Protocol, Bus: "1", Options: map[string]string{"max_failures": "100"}}
}

// newP builds the bare poll loop. The golden traces, their readings and
// the mutation tests check what the sensor delivers on every poll; since
// the capture fix, New puts a capture rule between those readings and the
// kiosk (which of them become results is tested in capture_test.go), so
// these tests use NewPoller, whose readings are what New's used to be.
func newP(env device.Env) (*i2cbus.Poller, error) { return NewPoller(spec(), env) }

// A fried-chicken tray as it cools, then the error flag.
var session = []measure.Temperature{28010, 95000, 63500}

func record(t *testing.T) {
	fake := &mlx90614test.Sensor{}
	fake.SetWord(mlx90614.RegEmissivity, 0xF332) // 0.95
	rec := &i2ctest.Record{Bus: fake}
	p, err := NewPoller(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: rec}})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	fake.Set(session[0], 25000)
	i2cbustest.Run(t, p, func() bool {
		i++
		if i == len(session) {
			return true
		}
		fake.Set(session[i], 25000)
		return false
	}, 100)
	tr := i2cbustest.FromRecord("mlx90614", "surface 28.01, 95.0, 63.5 °C at emissivity 0.95; recorded from protocols/device/mlx90614/mlx90614test", rec.Ops)
	if err := tr.Save("testdata/session.json"); err != nil {
		t.Fatal(err)
	}
	// The same part with its error flag up.
	fake.SetErrorFlag(true)
	rec.Ops = nil
	p, _ = NewPoller(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: rec}})
	n := 0
	i2cbustest.Run(t, p, func() bool { n++; return n == 1 }, 10)
	tr = i2cbustest.FromRecord("mlx90614", "error flag (bit 15) set in Tobj1", rec.Ops)
	if err := tr.Save("testdata/errorflag.json"); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenSession(t *testing.T) {
	if *update {
		record(t)
	}
	out, p := i2cbustest.GoldenSession(t, newP, *update)
	if st := p.Status(); st.Frames != 3 || st.BadFrames != 0 || st.State != device.StateReady {
		t.Errorf("status %+v", st)
	}
	// The surface never decides cooking.
	if _, err := assay.DefaultRules().Decide(assay.CoreTemperature, "", out[1].Raw); err == nil {
		t.Error("a surface reading decided the cooking rule")
	}
}

func TestErrorFlag(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/errorflag.json")
	if err != nil {
		t.Fatal(err)
	}
	got, p, closeErr := i2cbustest.Replay(t, newP, tr, 100)
	st := p.Status()
	if len(got) != 0 || closeErr != nil || st.BadFrames != 1 || !strings.HasPrefix(st.LastErr, "EINVALID") || !strings.Contains(st.LastErr, "error flag") {
		t.Errorf("readings %v close %v status %+v", got, closeErr, st)
	}
}

func TestMutations(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/session.json")
	if err != nil {
		t.Fatal(err)
	}
	good, _, _ := i2cbustest.Replay(t, newP, tr, 100)
	// Every byte is covered by the PEC.
	i2cbustest.CheckMutations(t, newP, i2cbustest.Mutations(tr, func(op, i int) bool { return true }), good)
}

func TestSpec(t *testing.T) {
	s := spec()
	s.Options = map[string]string{"zone": "3"}
	if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil {
		t.Error("zone 3 accepted")
	}
	s.Options = map[string]string{"zone": "2"}
	sen, err := FromSpec(s)
	if err != nil || sen.Reg != mlx90614.RegTobj2 {
		t.Errorf("%+v %v", sen, err)
	}
}
