package ads1115

import (
	"flag"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/ads1115"
	"github.com/shianfood/shian/protocols/device/ads1115/ads1115test"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

var update = flag.Bool("update", false, "re-record testdata/*.json from the fake ADC")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func spec() device.Spec {
	return device.Spec{ID: "probe-1", Protocol: Protocol, Bus: "1", Model: "PT100 probe",
		Options: map[string]string{"max_failures": "100", "channel": "1"}}
}

// newP builds the bare poll loop. The golden traces, their readings and
// the mutation tests check what the sensor delivers on every poll; since
// the capture fix, New puts a capture rule between those readings and the
// kiosk (which of them become results is tested in capture_test.go), so
// these tests use NewPoller, whose readings are what New's used to be.
func newP(env device.Env) (*i2cbus.Poller, error) { return NewPoller(spec(), env) }

// A chicken breast probed as it cooks: 65 °C (not done), 72 °C, 75 °C.
var session = []measure.Temperature{65000, 72000, 75000}

func recordTrace(t *testing.T, path, note string, volts []measure.Voltage) {
	fake := &ads1115test.ADC{}
	rec := &i2ctest.Record{Bus: fake}
	p, err := NewPoller(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: rec}})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	fake.SetInput(1, volts[0])
	i2cbustest.Run(t, p, func() bool {
		i++
		if i == len(volts) {
			return true
		}
		fake.SetInput(1, volts[i])
		return false
	}, 100)
	if err := i2cbustest.FromRecord("ads1115", note, rec.Ops).Save(path); err != nil {
		t.Fatal(err)
	}
}

func record(t *testing.T) {
	probe := ads1115.DefaultProbe()
	var v []measure.Voltage
	for _, c := range session {
		v = append(v, probe.VoltageAt(c))
	}
	recordTrace(t, "testdata/session.json", "PT100 under 1 kΩ from 3.3 V on AIN1 at ±0.512 V: 65, 72, 75 °C; recorded from protocols/device/ads1115/ads1115test", v)
	recordTrace(t, "testdata/open.json", "probe unplugged: AIN1 pulled to the 3.3 V supply (saturates at ±0.512 V)", []measure.Voltage{3300 * measure.Millivolt})
}

func TestGoldenSession(t *testing.T) {
	if *update {
		record(t)
	}
	_, p := i2cbustest.GoldenSession(t, newP, *update)
	if st := p.Status(); st.Frames != 3 || st.BadFrames != 0 || st.State != device.StateReady {
		t.Errorf("status %+v", st)
	}
}

func TestOpenProbe(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/open.json")
	if err != nil {
		t.Fatal(err)
	}
	got, p, closeErr := i2cbustest.Replay(t, newP, tr, 100)
	st := p.Status()
	if len(got) != 0 || closeErr != nil || st.BadFrames != 1 || !strings.HasPrefix(st.LastErr, "EINVALID") || !strings.Contains(st.LastErr, "full scale") {
		t.Errorf("readings %v close %v status %+v", got, closeErr, st)
	}
}

func TestMutations(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/session.json")
	if err != nil {
		t.Fatal(err)
	}
	good, _, _ := i2cbustest.Replay(t, newP, tr, 100)
	// The config read-backs are checked; a flipped bit in a conversion
	// result is a plausible voltage and cannot be detected (no CRC).
	checked := func(op, i int) bool { return tr.Ops[op].W[0] == ads1115.RegConfig }
	i2cbustest.CheckMutations(t, newP, i2cbustest.Mutations(tr, checked), good)
}

func TestSpec(t *testing.T) {
	for _, bad := range []map[string]string{
		{"channel": "4"}, {"pga": "5"}, {"rate": "100"}, {"probe": "k-type"}, {"supply": "x"},
		{"ref_ohms": "-1"}, {"offset": "warm"}, {"method": "surface_temperature"}, {"r0": "NaN"},
	} {
		s := spec()
		s.Options = bad
		if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
	s := spec()
	s.Addr = 0x4B
	s.Options = map[string]string{"probe": "ntc", "pga": "4.096", "rate": "860", "supply": "3.3", "beta": "3435", "offset": "-0.4", "method": "cold_holding"}
	sen, err := FromSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	if sen.Addr != 0x4B || sen.Probe.Kind != ads1115.NTC || sen.Probe.RefOhms != 10000 || sen.Probe.Beta != 3435 ||
		sen.Probe.Offset != -400 || sen.Config.PGA != ads1115.PGA4096 || sen.Config.Rate != ads1115.DR860 || sen.Method != assay.ColdHolding {
		t.Errorf("%+v", sen)
	}
}
