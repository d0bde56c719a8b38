package atp_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	fw "github.com/shianfood/shian/firmware/atp"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/atp"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func plug(t *testing.T, link string, m *fw.Meter, faults *serialsim.Faults) *serialsim.Port {
	t.Helper()
	p, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	var dev serialsim.Device = m
	if faults != nil {
		dev = serialsim.WithFaults(m, *faults)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), dev) }()
	t.Cleanup(func() { p.Close(); <-done })
	return p
}

type kiosk struct {
	inst device.Instrument
	mu   sync.Mutex
	got  []device.Reading
	stop func()
}

func (k *kiosk) readings() []device.Reading {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]device.Reading(nil), k.got...)
}

func start(t *testing.T, spec device.Spec) *kiosk {
	t.Helper()
	inst, err := device.Open(spec, device.Env{Serial: &serialport.Hub{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &kiosk{inst: inst}
	done := make(chan error, 1)
	go func() {
		done <- inst.Run(ctx, func(r device.Reading) { k.mu.Lock(); k.got = append(k.got, r); k.mu.Unlock() })
	}()
	var once sync.Once
	k.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(k.stop)
	return k
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func spec(link string) device.Spec {
	return device.Spec{ID: "atp-1", Protocol: atp.Protocol, Port: link,
		Options: map[string]string{"read_timeout": "10ms", "reply_timeout": "300ms", "probe_every": "100ms",
			"backoff_min": "10ms", "backoff_max": "100ms", "fail_after": "2", "report_timeout": "200ms"}}
}

// TestEndToEnd: the meter's firmware on a pty, the kiosk through
// go.bug.st/serial: three swabs, a reprint, the verdicts by the model's
// limits; unplugged, down, replugged.
func TestEndToEnd(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyATP0")
	lum := &fw.SimLuminometer{}
	m := fw.New(fw.Config{Serial: "ATP1-0009"}, lum)
	plug(t, link, m, nil)
	k := start(t, spec(link))
	waitFor(t, "the meter to identify", func() bool { st := k.inst.Status(); return st.State == device.StateReady && st.Model == "SHIAN-ATP1" })

	rules := assay.DefaultRules()
	rules.ATP.Models["SHIAN-ATP1"] = assay.ATPLimits{PassMax: 15, FailAbove: 150} // this meter's own scale
	want := []assay.Verdict{assay.Pass, assay.Caution, assay.Fail}
	for i, rlu := range []measure.RLU{12, 27, 250} {
		lum.Next(rlu)
		if _, err := m.Swab("CB-0" + string(rune('1'+i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three readings", func() bool { return len(k.readings()) == 3 })
	if err := m.Reprint(); err != nil {
		t.Fatal(err)
	}
	lum.Next(3)
	m.Swab("SINK")
	waitFor(t, "the fourth", func() bool { return len(k.readings()) == 4 })
	got := k.readings()
	for i, r := range got[:3] {
		o, err := rules.ForModel(r.Model).Decide(r.Method, r.Item, r.Raw)
		if err != nil || o.Verdict != want[i] || r.Model != "SHIAN-ATP1" || r.Serial != "ATP1-0009" || r.Method != assay.ATP || r.SampleCode != "CB-0"+string(rune('1'+i)) || r.DeviceTime.IsZero() {
			t.Errorf("reading %d %+v → %+v %v", i, r, o, err)
		}
	}
	if *got[3].Raw.RLU != 3 || got[3].SampleCode != "SINK" {
		t.Errorf("after the reprint: %+v", got[3])
	}
	if _, ok := k.inst.(device.Triggerer); ok {
		t.Error("an ATP meter measures on its own key: no Trigger")
	}
}

func TestUnplugReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyATP0")
	lum := &fw.SimLuminometer{}
	m := fw.New(fw.Config{}, lum)
	p := plug(t, link, m, nil)
	k := start(t, spec(link))
	waitFor(t, "ready", func() bool { return k.inst.Status().State == device.StateReady })
	p.Close()
	waitFor(t, "down", func() bool { return k.inst.Status().State == device.StateDown })
	plug(t, link, m, nil)
	waitFor(t, "ready again", func() bool { st := k.inst.Status(); return st.State == device.StateReady && st.Reopens > 0 })
	lum.Next(40)
	m.Swab("KNIFE")
	waitFor(t, "the swab after replug", func() bool { return len(k.readings()) == 1 })
}

// TestNoisyLine: garbage, split writes and flipped bytes: no reading the
// meter did not print.
func TestNoisyLine(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyATP0")
	lum := &fw.SimLuminometer{}
	m := fw.New(fw.Config{}, lum)
	plug(t, link, m, &serialsim.Faults{Garbage: 0.4, GarbageMax: 80, Split: true, Flip: 0.3, Seed: 5})
	s := spec(link)
	s.Options["fail_after"] = "1000"
	k := start(t, s)
	waitFor(t, "the meter", func() bool { return k.inst.Status().Frames > 0 })
	printed := map[measure.RLU]bool{}
	for i := range 12 {
		rlu := measure.RLU(100 + i)
		printed[rlu] = true
		lum.Next(rlu)
		if _, err := m.Swab("P"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "damage to be seen", func() bool { return k.inst.Status().BadFrames > 0 })
	time.Sleep(100 * time.Millisecond)
	k.stop()
	seen := map[measure.RLU]bool{}
	for _, r := range k.readings() {
		if !printed[*r.Raw.RLU] || seen[*r.Raw.RLU] {
			t.Errorf("invented or repeated reading %v", *r.Raw.RLU)
		}
		seen[*r.Raw.RLU] = true
	}
	t.Logf("%d of 12 reports read through the noise; status %+v", len(seen), k.inst.Status())
}

func TestSpecErrors(t *testing.T) {
	env := device.Env{Serial: &serialport.Hub{}}
	for _, o := range []map[string]string{{"probe_every": "x"}, {"tz": "Mars/Olympus"}, {"mode": "x"}, {"fail_after": "0"}} {
		if _, err := device.Open(device.Spec{ID: "a", Protocol: atp.Protocol, Port: "/dev/x", Options: o}, env); err == nil {
			t.Errorf("accepted %v", o)
		}
	}
	if _, err := device.Open(device.Spec{ID: "a", Protocol: atp.Protocol}, env); err == nil {
		t.Error("accepted no port")
	}
}
