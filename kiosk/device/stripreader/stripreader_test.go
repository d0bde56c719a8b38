package stripreader_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	fw "github.com/shianfood/shian/firmware/stripreader"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/stripreader"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/device/strip/striptest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const u = measure.IntensityUnit

// reader is the firmware on a pseudo-terminal symlinked at link.
type reader struct {
	t    *testing.T
	link string
	fx   *striptest.Fixture
	port *serialsim.Port
	done chan error
}

func plug(t *testing.T, link string, faults *serialsim.Faults) *reader {
	t.Helper()
	r, fx, err := fw.NewSimulated(nil, "clenbuterol", "SR1-0001")
	if err != nil {
		t.Fatal(err)
	}
	r.PollEvery = 5 * time.Millisecond
	p, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	var dev serialsim.Device = r
	if faults != nil {
		dev = serialsim.WithFaults(r, *faults)
	}
	rd := &reader{t: t, link: link, fx: fx, port: p, done: make(chan error, 1)}
	go func() { rd.done <- p.Serve(context.Background(), dev) }()
	return rd
}

func (r *reader) unplug() {
	if r.port == nil {
		return
	}
	r.port.Close()
	<-r.done
	r.port = nil
}

type kiosk struct {
	inst   device.Instrument
	mu     sync.Mutex
	got    []device.Reading
	cancel func()
	done   chan error
}

func start(t *testing.T, spec device.Spec) *kiosk {
	t.Helper()
	inst, err := device.Open(spec, device.Env{Serial: serialport.Opener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &kiosk{inst: inst, cancel: cancel, done: make(chan error, 1)}
	go func() {
		k.done <- inst.Run(ctx, func(r device.Reading) {
			k.mu.Lock()
			k.got = append(k.got, r)
			k.mu.Unlock()
		})
	}()
	t.Cleanup(k.stop)
	return k
}

func (k *kiosk) stop() {
	if k.cancel != nil {
		k.cancel()
		<-k.done
		k.cancel = nil
	}
}

func (k *kiosk) readings() []device.Reading {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]device.Reading(nil), k.got...)
}

// waitFor polls cond (no timing assertion: the deadline only bounds a
// hung test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func spec(link string) device.Spec {
	return device.Spec{ID: "strip-1", Protocol: stripreader.Protocol, Port: link,
		Options: map[string]string{"read_timeout": "10ms", "reply_timeout": "300ms", "probe_every": "100ms",
			"backoff_min": "10ms", "backoff_max": "100ms", "fail_after": "2"}}
}

// TestEndToEndPty: firmware on a pty, the kiosk through go.bug.st/serial.
func TestEndToEndPty(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyUSB0")
	rd := plug(t, link, nil)
	defer rd.unplug()
	k := start(t, spec(link))
	waitFor(t, "the reader to identify", func() bool { return k.inst.Status().State == device.StateReady && k.inst.Status().Model == "SHIAN-SR1" })

	rd.fx.Show(&striptest.Strip{C: 42 * u, T: 45 * u}) // a negative strip goes in
	waitFor(t, "the first strip", func() bool { return len(k.readings()) == 1 })
	r := k.readings()[0]
	if r.Method != assay.GoldRatio || r.Item != "clenbuterol" || r.Analyte != "clenbuterol" || r.Serial != "SR1-0001" ||
		*r.Raw.C != 42*u || *r.Raw.T != 45*u || r.DeviceID != "strip-1" {
		t.Errorf("reading %+v", r)
	}
	if o, _ := assay.DefaultRules().Decide(r.Method, r.Item, r.Raw); o.Verdict != assay.Negative {
		t.Errorf("verdict %+v", o)
	}
	// The operator presses "read" for another item on the same strip.
	if err := k.inst.(*stripreader.Driver).Trigger("莱克多巴胺"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the triggered read", func() bool { return len(k.readings()) == 2 })
	if r := k.readings()[1]; r.Item != "莱克多巴胺" || r.Analyte != "ractopamine" {
		t.Errorf("triggered reading %+v", r)
	}

	// Unplug: the port fails, the driver goes down and keeps probing.
	rd.unplug()
	waitFor(t, "down", func() bool { return k.inst.Status().State == device.StateDown })
	// Replug; once the kiosk has reopened the port, a positive strip goes
	// in. (The reader keeps no results: a strip read while the cable is
	// out is lost, and the operator reads it again with Trigger.)
	rd2 := plug(t, link, nil)
	defer rd2.unplug()
	waitFor(t, "the reopen", func() bool { st := k.inst.Status(); return st.Reopens > 0 && st.State == device.StateReady })
	rd2.fx.Show(&striptest.Strip{C: 40 * u, T: 9 * u})
	waitFor(t, "the strip after replug", func() bool { return len(k.readings()) == 3 })
	r = k.readings()[2]
	if o, _ := assay.DefaultRules().Decide(r.Method, r.Item, r.Raw); o.Verdict != assay.Positive || *r.Raw.T != 9*u {
		t.Errorf("after replug %+v %+v", r, o)
	}
	if st := k.inst.Status(); st.Reopens == 0 || st.State != device.StateReady {
		t.Errorf("status %+v", st)
	}
	k.stop()
}

// TestNoisyLine: garbage, split writes and flipped bytes on the line
// never produce a reading that the reader did not send.
func TestNoisyLine(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyUSB1")
	rd := plug(t, link, &serialsim.Faults{Garbage: 0.5, GarbageMax: 100, Split: true, Flip: 0.3, Seed: 7})
	defer rd.unplug()
	s := spec(link)
	s.Options["mode"] = "line"
	k := start(t, s)
	for i := range 6 {
		rd.fx.Show(&striptest.Strip{C: 40 * u, T: measure.Intensity(10+i) * u})
		waitFor(t, "the strip to be seen", func() bool { time.Sleep(30 * time.Millisecond); return true })
		rd.fx.Show(nil)
		waitFor(t, "the slot to empty", func() bool { time.Sleep(30 * time.Millisecond); return true })
	}
	waitFor(t, "a damaged sentence to be counted", func() bool { return k.inst.Status().BadFrames > 0 })
	k.stop()
	for _, r := range k.readings() {
		c, tt := *r.Raw.C, *r.Raw.T
		if r.Method != assay.GoldLine || c != 40*u || tt < 10*u || tt > 15*u || tt%u != 0 {
			t.Errorf("invented reading: %+v C %v T %v", r, c, tt)
		}
	}
	t.Logf("%d readings of 6 strips, status %+v", len(k.readings()), k.inst.Status())
}

func TestSpecErrors(t *testing.T) {
	env := device.Env{Serial: serialport.Opener{}}
	for _, s := range []device.Spec{
		{ID: "a", Protocol: stripreader.Protocol},
		{ID: "a", Protocol: stripreader.Protocol, Port: "/dev/x", Options: map[string]string{"mode": "eyeball"}},
		{ID: "a", Protocol: stripreader.Protocol, Port: "/dev/x", Options: map[string]string{"probe_every": "never"}},
		{ID: "a", Protocol: stripreader.Protocol, Port: "/dev/x", Options: map[string]string{"colour": "red"}},
		{ID: "a", Protocol: stripreader.Protocol, Port: "/dev/x", Options: map[string]string{"backoff_min": "1s", "backoff_max": "10ms"}},
	} {
		if _, err := device.Open(s, env); err == nil || !strings.Contains(err.Error(), `device "a"`) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if _, err := device.Open(device.Spec{ID: "a", Protocol: stripreader.Protocol, Port: "/dev/x"}, device.Env{}); err == nil {
		t.Error("no serial opener accepted")
	}
	inst, _ := device.Open(device.Spec{ID: "a", Protocol: stripreader.Protocol, Port: "/dev/x"}, env)
	if err := inst.(*stripreader.Driver).Trigger(""); err != stripreader.ErrNotConnected {
		t.Errorf("trigger while closed: %v", err)
	}
}
