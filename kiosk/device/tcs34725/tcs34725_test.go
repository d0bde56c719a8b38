package tcs34725

import (
	"flag"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/strip/striptest"
	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

var update = flag.Bool("update", false, "re-record the golden session (striptest/session.json) and testdata/*.json from the fake fixture")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func spec() device.Spec {
	return device.Spec{ID: "strip-i2c", Protocol: Protocol, Bus: "1", Items: []string{"克伦特罗"},
		Options: map[string]string{"max_failures": "1000"}}
}

func newP(env device.Env) (*i2cbus.Poller, error) { return New(spec(), env) }

const u = measure.IntensityUnit

// What is in the slot at each poll: empty, a negative strip sliding in and
// staying, empty, a positive strip (faint T line).
var session = []*striptest.Strip{
	nil,
	{C: 42 * u, T: 45 * u}, {C: 42 * u, T: 45 * u}, {C: 42 * u, T: 45 * u},
	nil,
	{C: 40 * u, T: 9 * u}, {C: 40 * u, T: 9 * u},
}

func recordTrace(t *testing.T, fx *striptest.Fixture, path, note string, slot []*striptest.Strip) {
	rec := &i2ctest.Record{Bus: fx}
	p, err := New(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: rec}})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	fx.Show(slot[0])
	i2cbustest.Run(t, p, func() bool {
		i++
		if i == len(slot) {
			return true
		}
		fx.Show(slot[i])
		return false
	}, 100)
	if err := i2cbustest.FromRecord("tcs34725-strip", note, rec.Ops).Save(path); err != nil {
		t.Fatal(err)
	}
}

func record(t *testing.T) {
	recordTrace(t, &striptest.Fixture{}, striptest.SessionFile(),
		"fixture: empty; negative strip (C 42, T 45) for 3 polls; empty; positive strip (C 40, T 9) for 2 polls; recorded from protocols/device/strip/striptest", session)
	fx := &striptest.Fixture{}
	fx.Sensor(strip.DefaultChannels[strip.TestLine]).ID = 0x12
	recordTrace(t, fx, "testdata/wrongid.json", "the T-line sensor answers with ID 0x12: not a TCS34725", []*striptest.Strip{nil})
}

func TestGoldenSession(t *testing.T) {
	if *update {
		record(t)
	}
	tr, err := i2cbustest.Parse(striptest.Session())
	if err != nil {
		t.Fatal(err)
	}
	out, p := i2cbustest.GoldenSessionOf(t, newP, tr, *update)
	if len(out) != 2 || out[0].Outcome.Verdict != assay.Negative || out[1].Outcome.Verdict != assay.Positive {
		t.Errorf("want one negative then one positive strip, got %+v", out)
	}
	if st := p.Status(); st.Frames != uint64(len(session)) || st.BadFrames != 0 || st.State != device.StateReady {
		t.Errorf("status %+v", st)
	}
}

func TestWrongID(t *testing.T) {
	tr, err := i2cbustest.Load("testdata/wrongid.json")
	if err != nil {
		t.Fatal(err)
	}
	got, p, _ := i2cbustest.Replay(t, newP, tr, 100)
	st := p.Status()
	if len(got) != 0 || st.BadFrames == 0 || !strings.HasPrefix(p.FirstErr(), "EINVALID") || !strings.Contains(p.FirstErr(), "ID register reads 0x12") {
		t.Errorf("readings %v status %+v first %q", got, st, p.FirstErr())
	}
}

func TestMutations(t *testing.T) {
	tr, err := i2cbustest.Parse(striptest.Session())
	if err != nil {
		t.Fatal(err)
	}
	good, _, _ := i2cbustest.Replay(t, newP, tr, 100)
	// Checked: the multiplexer echo and the ID. Colour counts carry no
	// checksum; STATUS bit 4 (AINT) is not AVALID.
	checked := func(op, i int) bool {
		o := tr.Ops[op]
		return o.Addr == strip.MuxAddr || (len(o.W) == 1 && o.W[0] == tcs34725.Cmd(tcs34725.RegID))
	}
	ms := i2cbustest.Mutations(tr, checked)
	i2cbustest.CheckMutations(t, newP, ms, good)
}

func TestSaturation(t *testing.T) {
	fx := &striptest.Fixture{}
	fx.Show(&striptest.Strip{C: 40 * u, T: 40 * u})
	fx.Sensor(0).Set(tcs34725.Counts{C: 65535, R: 9000, G: 9000, B: 9000})
	p, err := New(spec(), device.Env{I2C: &i2cbustest.Opener{Bus: fx}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	got := i2cbustest.Run(t, p, func() bool { n++; return n == 3 }, 10)
	if len(got) != 0 || !strings.Contains(p.Status().LastErr, "saturated") {
		t.Errorf("%v %+v", got, p.Status())
	}
}

func TestSpec(t *testing.T) {
	for _, bad := range []map[string]string{
		{"channels": "0,1"}, {"channels": "0,1,1"}, {"channels": "0,1,9"}, {"atime": "0x1FF"}, {"atime": "0xFF"},
		{"gain": "2x"}, {"mode": "visual"}, {"settle": "-1"},
	} {
		s := spec()
		s.Options = bad
		if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
	s := spec()
	s.Items = nil
	if _, err := New(s, device.Env{I2C: &i2cbustest.Opener{}}); err == nil || !strings.Contains(err.Error(), "items") {
		t.Errorf("no item: %v", err)
	}
	s = spec()
	s.Options = map[string]string{"channels": "3, 5,7", "atime": "0xF6", "gain": "16x", "mode": "line", "settle": "0"}
	sen, err := FromSpec(s)
	if err != nil || sen.Channels != (strip.Channels{3, 5, 7}) || sen.ATime != 0xF6 || sen.Gain != tcs34725.Gain16x || sen.Method != assay.GoldLine || sen.Settle != 0 {
		t.Errorf("%+v %v", sen, err)
	}
}
