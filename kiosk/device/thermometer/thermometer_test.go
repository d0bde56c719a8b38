package thermometer_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	fw "github.com/shianfood/shian/firmware/thermometer"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/thermometer"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func plug(t *testing.T, link string, th *fw.Thermometer) {
	t.Helper()
	p, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), th) }()
	t.Cleanup(func() { p.Close(); <-done })
}

type kiosk struct {
	inst device.Instrument
	mu   sync.Mutex
	got  []device.Reading
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
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
	return device.Spec{ID: "probe-s1", Protocol: thermometer.Protocol, Port: link,
		Options: map[string]string{"read_timeout": "10ms", "reply_timeout": "300ms", "probe_every": "100ms",
			"backoff_min": "10ms", "backoff_max": "100ms", "fail_after": "2"}}
}

// TestEndToEnd: the thermometer's firmware on a pty. The kiosk's measure
// button (Trigger), the HOLD key in each mode, an open probe.
func TestEndToEnd(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyTP0")
	probe := &fw.SimProbe{}
	th := fw.New(fw.Config{Serial: "TP1-0003"}, probe)
	k := start(t, spec(link))
	tr := k.inst.(device.Triggerer)
	if err := tr.Trigger(""); !errors.Is(err, device.ErrNotConnected) {
		t.Fatalf("Trigger before the thermometer is there: %v", err)
	}
	plug(t, link, th)
	waitFor(t, "ready", func() bool { st := k.inst.Status(); return st.State == device.StateReady && st.Model == "SHIAN-TP1" })

	probe.Set(72440)
	if err := tr.Trigger(""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the triggered reading", func() bool { return len(k.readings()) == 1 })
	probe.Set(64900)
	th.Hold()
	th.SetMode(asciirpt.ModeCold)
	probe.Set(9500)
	th.Hold()
	th.SetMode(asciirpt.ModeFrozen)
	probe.Set(-18600)
	th.Hold()
	waitFor(t, "four readings", func() bool { return len(k.readings()) == 4 })
	probe.Unplug(true)
	th.Hold()
	waitFor(t, "the open probe in the status", func() bool { return strings.Contains(k.inst.Status().LastErr, "PROBE-OPEN") })

	want := []struct {
		m assay.Method
		t int64
		v assay.Verdict
	}{{assay.CoreTemperature, 72400, assay.Pass}, {assay.CoreTemperature, 64900, assay.Fail}, {assay.ColdHolding, 9500, assay.Fail}, {assay.Frozen, -18600, assay.Pass}}
	got := k.readings()
	if len(got) != 4 {
		t.Fatalf("%d readings", len(got))
	}
	for i, r := range got {
		o, err := assay.DefaultRules().Decide(r.Method, r.Item, r.Raw)
		if r.Method != want[i].m || int64(*r.Raw.CoreTemp) != want[i].t || err != nil || o.Verdict != want[i].v || r.Serial != "TP1-0003" || r.Raw.SurfaceTemp != nil {
			t.Errorf("reading %d: %+v → %+v %v", i, r, o, err)
		}
	}
}

func TestFixedMethod(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyTP0")
	probe := &fw.SimProbe{}
	probe.Set(63000)
	th := fw.New(fw.Config{}, probe) // keyed to COOK
	plug(t, link, th)
	s := spec(link)
	s.Options["method"] = "hot_holding"
	k := start(t, s)
	waitFor(t, "ready", func() bool { return k.inst.Status().State == device.StateReady })
	th.Hold()
	waitFor(t, "the reading", func() bool { return len(k.readings()) == 1 })
	if r := k.readings()[0]; r.Method != assay.HotHolding || r.Item != "热藏温度" {
		t.Errorf("%+v", r)
	}
	s.Options["method"] = "surface_temperature"
	if _, err := device.Open(s, device.Env{Serial: &serialport.Hub{}}); err == nil {
		t.Error("a probe decided a surface temperature")
	}
}
