package capture

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func core(r device.Reading) (measure.Temperature, bool) {
	if r.Raw.CoreTemp == nil {
		return 0, false
	}
	return *r.Raw.CoreTemp, true
}

func at(c float64) device.Reading {
	t := measure.Temperature(c * 1000)
	return device.Reading{Method: assay.CoreTemperature, Raw: assay.Raw{CoreTemp: &t}}
}

// feed returns the indexes of the readings the gate takes.
func feed(g Gate, temps []float64) []int {
	var took []int
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i, c := range temps {
		if g.Take(now.Add(time.Duration(i)*time.Second), at(c)) {
			took = append(took, i)
		}
	}
	return took
}

func same(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSettle(t *testing.T) {
	// A probe on the bench, pushed into a chicken breast (rising, then
	// steady at 72.x), pulled out (cooling through the air), into the
	// next dish at 64 (undercooked) straight from the first one.
	bench := []float64{24, 24.1, 24, 24.1, 24, 24, 24.1}
	into := []float64{40, 58, 66, 70, 71.8, 72.2, 72.3, 72.3, 72.4, 72.3, 72.4, 72.3, 72.4, 72.4, 72.3}
	out := []float64{60, 48, 39, 33, 29, 27, 26, 25.5, 25.2, 25.1, 25, 25, 25.1, 25}
	next := []float64{70, 66, 64.5, 64.2, 64.1, 64.1, 64, 64.1, 64.1}
	var seq []float64
	seq = append(seq, bench...)
	seq = append(seq, into...)
	settled1 := len(seq) - len(into) + 9 // 72.2 72.3 72.3 72.4 72.3: five within 0.5 °C
	seq = append(seq, out...)
	seq = append(seq, into...)
	settled2 := len(seq) - len(into) + 9
	seq = append(seq, next...)
	settled3 := len(seq) - len(next) + 6 // 64.2 … 64: the fifth steady reading
	took := feed(DefaultSettle(core), seq)
	if want := []int{settled1, settled2, settled3}; !same(took, want) {
		t.Errorf("took readings %v, want %v", took, want)
	}

	// Only the button: nothing automatic; the next reading after a
	// trigger, whatever it is.
	s := DefaultSettle(core)
	s.Auto = false
	if took := feed(s, seq); len(took) != 0 {
		t.Errorf("trigger-only took %v", took)
	}
	s.Trigger()
	if took := feed(s, []float64{24, 24}); !same(took, []int{0}) {
		t.Errorf("after a trigger: %v", took)
	}
	// A reading without the value is never taken, and keeps the trigger.
	s.Trigger()
	if s.Take(time.Time{}, device.Reading{}) || !s.Take(time.Time{}, at(80)) {
		t.Error("trigger spent on a reading without a temperature")
	}
	// Frozen food: below the ambient band.
	if took := feed(DefaultSettle(core), []float64{25, 25, 25, 25, 25, -10, -17, -18, -18.2, -18.1, -18.2, -18.2}); !same(took, []int{11}) {
		t.Errorf("frozen: %v", took)
	}
}

func TestLog(t *testing.T) {
	classify := func(r device.Reading) string {
		o, err := assay.DefaultRules().Decide(assay.ColdHolding, "", assay.Raw{AirTemp: r.Raw.CoreTemp})
		if err != nil {
			return ""
		}
		return string(o.Verdict)
	}
	l := &Log{Every: 15 * time.Minute, Confirm: 1, Classify: classify}
	start := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	var took []int
	// One reading a minute for two hours: 4 °C, a breach at 9.5 °C from
	// minute 40 to 44, recovery at 45.
	for m := 0; m < 120; m++ {
		c := 4.0
		if m >= 40 && m < 45 {
			c = 9.5
		}
		if l.Take(start.Add(time.Duration(m)*time.Minute), at(c)) {
			took = append(took, m)
		}
	}
	want := []int{0, 15, 30, 40, 45, 60, 75, 90, 105}
	if !same(took, want) {
		t.Errorf("logged at minutes %v, want %v", took, want)
	}
	// Confirm 3: a door open for two minutes is not a breach; five are.
	l = &Log{Every: time.Hour, Confirm: 3, Classify: classify}
	took = nil
	for m := 0; m < 20; m++ {
		c := 4.0
		if m == 5 || m == 6 || (m >= 10 && m < 15) {
			c = 9.5
		}
		if l.Take(start.Add(time.Duration(m)*time.Minute), at(c)) {
			took = append(took, m)
		}
	}
	if want := []int{0, 12, 17}; !same(took, want) {
		t.Errorf("confirm 3: logged at %v, want %v", took, want)
	}
	l.Trigger()
	if !l.Take(start.Add(21*time.Minute), at(4)) {
		t.Error("trigger ignored")
	}
}

type fakeInst struct {
	st       device.Status
	readings []device.Reading
}

func (f *fakeInst) ID() string            { return "fake" }
func (f *fakeInst) Status() device.Status { return f.st }
func (f *fakeInst) Run(ctx context.Context, sink func(device.Reading)) error {
	for _, r := range f.readings {
		sink(r)
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestInstrument(t *testing.T) {
	f := &fakeInst{readings: []device.Reading{at(24), at(75)}}
	s := DefaultSettle(core)
	s.Auto = false
	inst := New(f, s, nil)
	if err := inst.Trigger(""); !errors.Is(err, device.ErrNotConnected) {
		t.Fatalf("Trigger before the first read: %v", err)
	}
	f.st.State = device.StateReady
	if err := inst.Trigger("ignored"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var got []device.Reading
	done := make(chan error)
	go func() { done <- inst.Run(ctx, func(r device.Reading) { got = append(got, r) }) }()
	cancel()
	<-done
	if len(got) != 1 || *got[0].Raw.CoreTemp != 24000 {
		t.Errorf("%+v", got)
	}
	if inst.ID() != "fake" || inst.Inner() != f || inst.Gate() != s {
		t.Error("accessors")
	}
}

func TestOptions(t *testing.T) {
	spec := func(o map[string]string) device.Spec { return device.Spec{ID: "p", Options: o} }
	s, err := SettleFromSpec(spec(map[string]string{"capture": "trigger", "settle_reads": "3", "settle_band": "0.2", "ambient_min": "5", "ambient_max": "40°C", "insert_delta": "3"}), core)
	if err != nil || s.Auto || s.Reads != 3 || s.Band != 200 || s.AmbientMin != 5000 || s.AmbientMax != 40000 || s.Insert != 3000 {
		t.Errorf("%+v %v", s, err)
	}
	for _, bad := range []map[string]string{{"capture": "always"}, {"settle_reads": "0"}, {"settle_band": "-1"}, {"insert_delta": "0"},
		{"ambient_min": "30", "ambient_max": "20"}, {"ambient_min": "warm"}} {
		if _, err := SettleFromSpec(spec(bad), core); !errors.Is(err, ErrOption) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	l, err := LogFromSpec(spec(map[string]string{"log_every": "5m", "confirm": "2"}), nil)
	if err != nil || l.Every != 5*time.Minute || l.Confirm != 2 {
		t.Errorf("%+v %v", l, err)
	}
	for _, bad := range []map[string]string{{"log_every": "0s"}, {"confirm": "0"}} {
		if _, err := LogFromSpec(spec(bad), nil); !errors.Is(err, ErrOption) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
