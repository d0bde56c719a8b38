package profiled_test

// Golden tests: the built-in profiles read the existing firmware
// emulations exactly as the hand-written drivers read them. Each test
// runs one scripted session twice — once with the hand-written driver,
// once with the profile — on fresh, identically seeded emulations behind
// pseudo-terminals, and compares every reading as the kiosk would store
// it (its JSON).

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	atpfw "github.com/shianfood/shian/firmware/atp"
	"github.com/shianfood/shian/firmware/cardreader"
	thermofw "github.com/shianfood/shian/firmware/thermometer"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/atp"
	"github.com/shianfood/shian/kiosk/device/modbusgold"
	_ "github.com/shianfood/shian/kiosk/device/profiled"
	"github.com/shianfood/shian/kiosk/device/thermometer"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

const u = measure.IntensityUnit

// ticker is an instrument clock that moves on a minute per reading.
type ticker struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ticker) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute + 7*time.Second)
	return c.t
}

func newTicker() *ticker { return &ticker{t: time.Date(2026, 11, 28, 1, 30, 0, 0, time.UTC)} }

// collector runs one instrument and keeps its readings.
type collector struct {
	inst device.Instrument
	mu   sync.Mutex
	got  []device.Reading
	stop func()
}

func (c *collector) readings() []device.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]device.Reading(nil), c.got...)
}

func run(t *testing.T, spec device.Spec) *collector {
	t.Helper()
	inst, err := device.Open(spec, device.Env{Serial: &serialport.Hub{}, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{inst: inst}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inst.Run(ctx, func(r device.Reading) { c.mu.Lock(); c.got = append(c.got, r); c.mu.Unlock() })
	}()
	var once sync.Once
	c.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(c.stop)
	return c
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

func serve(t *testing.T, link string, dev serialsim.Device) {
	t.Helper()
	p, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), dev) }()
	t.Cleanup(func() { p.Close(); <-done })
}

// same compares two sessions' readings as stored (JSON).
func same(t *testing.T, what string, hand, prof []device.Reading) {
	t.Helper()
	if len(hand) != len(prof) {
		t.Fatalf("%s: the hand-written driver read %d, the profile %d", what, len(hand), len(prof))
	}
	for i := range hand {
		a, _ := json.Marshal(hand[i])
		b, _ := json.Marshal(prof[i])
		if string(a) != string(b) {
			t.Errorf("%s reading %d:\nhand-written %s\nprofile      %s", what, i, a, b)
		}
	}
	t.Logf("%s: %d readings, identical; the first: %s", what, len(hand), must(json.Marshal(hand[0])))
}

func must(b []byte, _ error) string { return string(b) }

// TestGoldenGC1: results queued in the card reader (every item, both
// modes, clock set), then read by the kiosk; then cards read on the
// operator's 测量 (Trigger) with an item chosen.
func TestGoldenGC1(t *testing.T) {
	type card struct {
		item goldcard.Item
		mode goldcard.Mode
		c, t measure.Intensity
	}
	script := []card{{1, goldcard.ModeRatio, 42 * u, 9 * u}, {2, goldcard.ModeLine, 40125, 25000}, {3, goldcard.ModeRatio, 3 * u, 30 * u},
		{4, goldcard.ModeLine, 61 * u, 14999}, {5, goldcard.ModeRatio, 100 * u, 0}, {6, goldcard.ModeRatio, 50 * u, 41 * u},
		{1, goldcard.ModeLine, 55555, 22222}}
	session := func(spec device.Spec) []device.Reading {
		clk := newTicker()
		optics := &cardreader.SimOptics{}
		r, err := cardreader.New(cardreader.Config{Addr: 2, Serial: "GC1-0042", Mode: goldcard.ModeRatio, Now: clk.now}, optics)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range script {
			if resp, _ := r.Handle(modbus.WriteMultiple(2, goldcard.RegItemSelect, uint16(s.item), uint16(s.mode))); resp.Exception != 0 {
				t.Fatalf("select: %v", resp.Exception)
			}
			optics.Insert(cardreader.Card{C: s.c, T: s.t})
			if _, err := r.Measure(); err != nil {
				t.Fatal(err)
			}
		}
		link := filepath.Join(t.TempDir(), "ttyRS485")
		serve(t, link, &instrument.Bus{Devices: []serialsim.Device{r}})
		spec.Port, spec.Addr = link, 2
		spec.Options = map[string]string{"poll_every": "10ms", "reply_timeout": "1s"}
		c := run(t, spec)
		waitFor(t, "the queued results", func() bool { return len(c.readings()) == len(script) && r.Waiting() == 0 })
		// The operator's button: ractopamine, then the configured item.
		tr := c.inst.(device.Triggerer)
		optics.Insert(cardreader.Card{C: 44 * u, T: 20 * u})
		waitFor(t, "trigger", func() bool { return tr.Trigger("莱克多巴胺") == nil })
		waitFor(t, "the triggered result", func() bool { return len(c.readings()) == len(script)+1 })
		if err := tr.Trigger(""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the second triggered result", func() bool { return len(c.readings()) == len(script)+2 })
		optics.Remove()
		if err := tr.Trigger(""); err == nil {
			t.Error("measured an empty slot")
		}
		c.stop()
		return c.readings()
	}
	hand := session(device.Spec{ID: "gold-1", Protocol: modbusgold.Protocol, Items: []string{"氯霉素"}})
	prof := session(device.Spec{ID: "gold-1", Profile: "SHIAN-GC1", Items: []string{"氯霉素"}})
	same(t, "SHIAN-GC1", hand, prof)
}

// TestGoldenATP: swabs printed by the ATP meter, a reprint (taken once),
// a luminometer fault (an ERR report, no reading).
func TestGoldenATP(t *testing.T) {
	session := func(spec device.Spec) []device.Reading {
		clk := newTicker()
		lum := &atpfw.SimLuminometer{}
		m := atpfw.New(atpfw.Config{Serial: "ATP1-0007", Now: clk.now}, lum)
		link := filepath.Join(t.TempDir(), "ttyATP")
		serve(t, link, m)
		spec.Port = link
		spec.Options = map[string]string{"read_timeout": "10ms", "probe_every": "100ms", "reply_timeout": "300ms"}
		c := run(t, spec)
		waitFor(t, "ready", func() bool { return c.inst.Status().State == device.StateReady && m.Serving() })
		for i, rlu := range []measure.RLU{7, 10, 11, 30, 31, 9999999, 0} {
			lum.Next(rlu)
			if _, err := m.Swab([]string{"CB-01", "KN-2", "SINK", "CB-01", "TRAY/7", "X.Y_Z", "CB-09"}[i]); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the report", func() bool { return len(c.readings()) == i+1 })
		}
		if err := m.Reprint(); err != nil {
			t.Fatal(err)
		}
		lum.Fail(true)
		m.Swab("CB-02")
		waitFor(t, "the fault shown", func() bool { return c.inst.Status().LastErr == "instrument: LUM-FAULT" })
		c.stop()
		return c.readings()
	}
	hand := session(device.Spec{ID: "atp-1", Protocol: atp.Protocol})
	prof := session(device.Spec{ID: "atp-1", Profile: "SHIAN-ATP1"})
	same(t, "SHIAN-ATP1", hand, prof)
}

// TestGoldenThermometer: every mode, negative temperatures, the kiosk's
// measure button (?MEAS), a fixed method, an open probe.
func TestGoldenThermometer(t *testing.T) {
	session := func(spec device.Spec) []device.Reading {
		clk := newTicker()
		probe := &thermofw.SimProbe{}
		th := thermofw.New(thermofw.Config{Serial: "TP1-0003", Now: clk.now}, probe)
		link := filepath.Join(t.TempDir(), "ttyTP")
		serve(t, link, th)
		spec.Port = link
		opts := map[string]string{"read_timeout": "10ms", "probe_every": "100ms", "reply_timeout": "300ms"}
		for k, v := range spec.Options {
			opts[k] = v
		}
		spec.Options = opts
		c := run(t, spec)
		waitFor(t, "ready", func() bool { return c.inst.Status().State == device.StateReady && th.Serving() })
		steps := []struct {
			mode asciirpt.Mode
			temp measure.Temperature
		}{{asciirpt.ModeCook, 72400}, {asciirpt.ModeHot, 60000}, {asciirpt.ModeCold, 8100}, {asciirpt.ModeFrozen, -18500}, {asciirpt.ModeCold, -400}}
		for i, s := range steps {
			th.SetMode(s.mode)
			probe.Set(s.temp)
			if _, err := th.Hold(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the report", func() bool { return len(c.readings()) == i+1 })
		}
		th.SetMode(asciirpt.ModeCook)
		probe.Set(69900)
		if err := c.inst.(device.Triggerer).Trigger(""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the triggered report", func() bool { return len(c.readings()) == len(steps)+1 })
		probe.Unplug(true)
		th.Hold()
		waitFor(t, "the open probe shown", func() bool { return c.inst.Status().LastErr == "instrument: PROBE-OPEN" })
		c.stop()
		return c.readings()
	}
	hand := session(device.Spec{ID: "probe-1", Protocol: thermometer.Protocol})
	prof := session(device.Spec{ID: "probe-1", Profile: "SHIAN-TP1"})
	same(t, "SHIAN-TP1", hand, prof)
	fixed := map[string]string{"method": "core_temperature"}
	hand = session(device.Spec{ID: "probe-1", Protocol: thermometer.Protocol, Model: "TP-X", Options: fixed})
	prof = session(device.Spec{ID: "probe-1", Profile: "SHIAN-TP1", Model: "TP-X", Options: fixed})
	same(t, "SHIAN-TP1 with options.method and a model", hand, prof)
}
