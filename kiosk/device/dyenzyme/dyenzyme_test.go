package dyenzyme_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/dyenzyme"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/device/dyframe/dyframetest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hung is the timeout after which a wait fails the test. It is not a timing
// assertion: everything here normally takes milliseconds.
const hung = 30 * time.Second

var logw io.Writer = io.Discard

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hung)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- the instrument side ----------------------------------------------

// recorder wraps a photometer and records the counts of every reading of
// the current test, so the test knows exactly what the firmware measured.
type recorder struct {
	enzyme.Photometer
	mu    sync.Mutex
	tests [][]read
}

type read struct {
	ch int
	c  enzyme.Counts
}

func (r *recorder) BeginTest(ch int) {
	r.mu.Lock()
	r.tests = append(r.tests, nil)
	r.mu.Unlock()
	if b, ok := r.Photometer.(enzyme.TestBeginner); ok {
		b.BeginTest(ch)
	}
}

func (r *recorder) Read(ch int) (enzyme.Counts, error) {
	c, err := r.Photometer.Read(ch)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && len(r.tests) > 0 {
		r.tests[len(r.tests)-1] = append(r.tests[len(r.tests)-1], read{ch, c})
	}
	return c, err
}

// deltas returns the ΔA the firmware computed for test i (control, sample).
func (r *recorder) deltas(i, control int) (c, s int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cs, ss []int64
	for _, x := range r.tests[i] {
		a := int64(enzyme.Absorbance(x.c))
		if x.ch == control {
			cs = append(cs, a)
		} else {
			ss = append(ss, a)
		}
	}
	return cs[1] - cs[0], ss[1] - ss[0]
}

// shiftedClock sets the instrument's wall clock to a chosen time.
type shiftedClock struct{ d time.Duration }

func (c shiftedClock) Now() time.Time                         { return time.Now().Add(c.d) }
func (c shiftedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// instrument is a firmware that can be plugged into a pty at a fixed path
// and unplugged, like a USB tester on a cable.
type instrument struct {
	t      *testing.T
	link   string
	fw     *enzyme.Firmware
	faults *serialsim.Faults

	port *serialsim.Port
	done chan error
}

func newInstrument(t *testing.T, ph enzyme.Photometer, clk enzyme.Clock) *instrument {
	fw := enzyme.New(enzyme.Config{
		Model: "DY-3000E", Serial: "SA2026-0001", Version: "1.0.0",
		Lead: 10 * time.Millisecond, Interval: 30 * time.Millisecond, Resend: 50 * time.Millisecond,
	}, ph, clk)
	in := &instrument{t: t, link: filepath.Join(t.TempDir(), "ttyUSB0"), fw: fw}
	t.Cleanup(in.unplug)
	return in
}

func (in *instrument) plug() {
	in.t.Helper()
	p, err := serialsim.Open(serialsim.Options{Link: in.link})
	if err != nil {
		in.t.Fatal(err)
	}
	var dev serialsim.Device = in.fw
	if in.faults != nil {
		dev = serialsim.WithFaults(in.fw, *in.faults)
	}
	in.port, in.done = p, make(chan error, 1)
	go func() { in.done <- p.Serve(context.Background(), dev) }()
}

func (in *instrument) unplug() {
	if in.port == nil {
		return
	}
	in.port.Close()
	if err := <-in.done; err != nil {
		in.t.Errorf("instrument serve: %v", err)
	}
	in.port = nil
}

// ---- the kiosk side ---------------------------------------------------

type kiosk struct {
	inst device.Instrument
	mu   sync.Mutex
	got  []device.Reading
	stop func()
}

func fastSpec(port string) device.Spec {
	return device.Spec{
		ID: "dy-1", Protocol: dyenzyme.Protocol, Model: "DY-3000", Port: port, Line: 12,
		Options: map[string]string{
			"read_timeout": "10ms", "reply_timeout": "300ms", "probe_every": "100ms", "frame_timeout": "100ms",
			"backoff_min": "10ms", "backoff_max": "100ms", "fail_after": "3",
		},
	}
}

func startKiosk(t *testing.T, spec device.Spec, opener device.SerialOpener, sink func(device.Reading)) *kiosk {
	t.Helper()
	inst, err := device.Open(spec, device.Env{Serial: opener, Log: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	k := &kiosk{inst: inst}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inst.Run(ctx, func(r device.Reading) {
			if sink != nil {
				sink(r)
			}
			k.mu.Lock()
			k.got = append(k.got, r)
			k.mu.Unlock()
		})
	}()
	var once sync.Once
	k.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(k.stop)
	return k
}

func (k *kiosk) readings() []device.Reading {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]device.Reading(nil), k.got...)
}

func (k *kiosk) waitReadings(t *testing.T, n int) []device.Reading {
	t.Helper()
	eventually(t, "readings", func() bool { return len(k.readings()) >= n })
	return k.readings()
}

// ---- vectors ----------------------------------------------------------

type vectorTest struct {
	Name       string        `json:"name"`
	Record     uint32        `json:"record"`
	Channel    int           `json:"channel"`
	SampleCode string        `json:"sample_code"`
	SampleName string        `json:"sample_name"`
	Item       string        `json:"item"`
	First      scriptReading `json:"first"`
	Last       scriptReading `json:"last"`
	Verdict    assay.Verdict `json:"verdict"`
	Frame      struct {
		Report dyframe.Report `json:"report"`
	} `json:"frame"`
}

type scriptReading struct {
	Control enzyme.Counts `json:"control"`
	Sample  enzyme.Counts `json:"sample"`
}

// script replays the vectors' counts, one vector per test.
type script struct {
	mu    sync.Mutex
	tests []vectorTest
	cur   int
	n     map[int]int
}

func (s *script) BeginTest(int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur++
	s.n = map[int]int{}
}

func (s *script) Read(ch int) (enzyme.Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.tests[s.cur-1]
	r := v.First
	if s.n[ch] > 0 {
		r = v.Last
	}
	s.n[ch]++
	if ch == 0 {
		return r.Control, nil
	}
	return r.Sample, nil
}

func loadVectorTests(t *testing.T) []vectorTest {
	b := dyframetest.Vectors()
	var v struct {
		Firmware []vectorTest `json:"firmware"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Firmware
}

// TestEndToEndVectors: firmware on a real pty, the kiosk driver through
// kiosk/serialport (go.bug.st/serial). Every reading carries exactly the
// vector's absorbance changes, and the assay verdict follows; the
// overflow vector yields no reading.
func TestEndToEndVectors(t *testing.T) {
	vs := loadVectorTests(t)
	when := time.Date(2026, 5, 1, 10, 23, 30, 0, time.FixedZone("CST", 8*3600))
	clk := shiftedClock{time.Until(when)}
	in := newInstrument(t, &script{tests: vs}, clk)
	in.plug()
	k := startKiosk(t, fastSpec(in.link), serialport.Opener{}, nil)
	eventually(t, "ready", func() bool { return k.inst.Status().State == device.StateReady })

	rules := assay.DefaultRules()
	emitted := 0
	for _, v := range vs {
		if _, err := in.fw.Start(v.Channel, v.SampleCode, v.SampleName); err != nil {
			t.Fatal(err)
		}
		eventually(t, v.Name+" acknowledged", func() bool { return !in.fw.Measuring() && in.fw.Pending() == 0 })
		got := k.readings()
		if v.Verdict == "" {
			if len(got) != emitted {
				t.Fatalf("%s: a report with reserved absorbances produced a reading: %+v", v.Name, got[len(got)-1])
			}
			continue
		}
		emitted++
		if len(got) != emitted {
			t.Fatalf("%s: %d readings, want %d", v.Name, len(got), emitted)
		}
		r := got[emitted-1]
		wantC, _ := v.Frame.Report.ControlDeltaA()
		wantS, _ := v.Frame.Report.SampleDeltaA()
		if r.Raw.ControlDeltaA == nil || *r.Raw.ControlDeltaA != wantC || *r.Raw.SampleDeltaA != wantS {
			t.Fatalf("%s: raw %+v, want ΔA0 %d ΔAt %d µAU", v.Name, r.Raw, wantC, wantS)
		}
		if r.Method != assay.EnzymeInhibition || r.Item != v.Item || r.SampleCode != v.SampleCode ||
			r.SampleName != v.SampleName || r.Channel != v.Channel || r.DeviceID != "dy-1" ||
			r.Model != "DY-3000E" || r.Serial != "SA2026-0001" || r.Analyte != dyenzyme.DefaultAnalyte {
			t.Fatalf("%s: reading %+v", v.Name, r)
		}
		// The tester's clock has a 2 s resolution.
		if r.DeviceTime.Before(when.Add(-2*time.Second)) || r.DeviceTime.After(clk.Now()) || r.DeviceTime.Second()%2 != 0 {
			t.Fatalf("%s: device time %v, want the tester's clock (%v…%v)", v.Name, r.DeviceTime, when, clk.Now())
		}
		out, err := rules.Decide(r.Method, r.Item, r.Raw)
		if err != nil || out.Verdict != v.Verdict {
			t.Fatalf("%s: verdict %+v, %v; want %s", v.Name, out, err, v.Verdict)
		}
	}
	st := k.inst.Status()
	if st.BadFrames != 0 || st.Frames == 0 || st.State != device.StateReady || st.Reopens != 0 {
		t.Fatalf("status %+v", st)
	}
}

// TestGarbageAndSplitFrames: noise bursts, frames written in 1–8 byte
// pieces and damaged bytes on the line. Every test yields exactly one
// reading with exactly the measured values; none is invented or doubled;
// the bad frames are counted.
func TestGarbageAndSplitFrames(t *testing.T) {
	sim := enzyme.NewSim(enzyme.SimConfig{Seed: 3})
	rec := &recorder{Photometer: sim}
	in := newInstrument(t, rec, nil)
	in.faults = &serialsim.Faults{Garbage: 0.5, GarbageMax: 200, Split: true, Flip: 0.25, Seed: 11}
	in.plug()
	k := startKiosk(t, fastSpec(in.link), &serialport.Hub{}, nil)

	verdicts := []assay.Verdict{assay.Negative, assay.Suspicious, assay.Positive, assay.Invalid}
	const n = 24
	for i := range n {
		sim.NextVerdict(verdicts[i%4])
		eventually(t, "idle", func() bool { return !in.fw.Measuring() && in.fw.Pending() == 0 })
		if _, err := in.fw.Start(1+i%8, "G-"+string(rune('A'+i)), "菜"); err != nil {
			t.Fatal(err)
		}
	}
	k.waitReadings(t, n)
	eventually(t, "all acknowledged", func() bool { return in.fw.Pending() == 0 })
	got := k.readings()
	if len(got) != n {
		t.Fatalf("%d readings for %d tests", len(got), n)
	}
	rules := assay.DefaultRules()
	for i, r := range got {
		c, s := rec.deltas(i, 0)
		if int64(*r.Raw.ControlDeltaA) != c || int64(*r.Raw.SampleDeltaA) != s || r.SampleCode != "G-"+string(rune('A'+i)) {
			t.Fatalf("reading %d: %+v (ΔA0 %v ΔAt %v), measured ΔA0 %d ΔAt %d", i, r, *r.Raw.ControlDeltaA, *r.Raw.SampleDeltaA, c, s)
		}
		out, _ := rules.Decide(r.Method, r.Item, r.Raw)
		if out.Verdict != verdicts[i%4] {
			t.Errorf("reading %d: verdict %s, planned %s", i, out.Verdict, verdicts[i%4])
		}
	}
	st := k.inst.Status()
	if st.BadFrames == 0 {
		t.Errorf("no bad frames counted on a noisy line: %+v", st)
	}
	t.Logf("noisy line: %d good frames, %d bad, %d reopens; firmware sent %d report frames for %d tests",
		st.Frames, st.BadFrames, st.Reopens, in.fw.Stats().SentReports, n)
}

// TestUnplugReplug: the pty disappears and comes back at the same path.
// The driver reopens, continues, goes down after repeated failures and
// comes back; a report whose acknowledgement was lost is delivered once.
func TestUnplugReplug(t *testing.T) {
	sim := enzyme.NewSim(enzyme.SimConfig{})
	in := newInstrument(t, sim, nil)
	in.plug()
	// The first reading's sink blocks until the cable is pulled, so the
	// acknowledgement cannot get through and the tester repeats the
	// report on the next connection.
	pulled := make(chan struct{})
	var once sync.Once
	k := startKiosk(t, fastSpec(in.link), serialport.Opener{}, func(device.Reading) {
		once.Do(func() { <-pulled })
	})
	eventually(t, "ready", func() bool { return k.inst.Status().State == device.StateReady })

	sim.NextVerdict(assay.Positive)
	if _, err := in.fw.Start(1, "U-1", "菠菜"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "measuring", func() bool {
		s := k.inst.Status().State
		return s == device.StateMeasuring || len(k.readings()) > 0 || !in.fw.Measuring()
	})
	eventually(t, "report sent", func() bool { return in.fw.Stats().SentReports > 0 })
	in.unplug()
	close(pulled)
	if in.fw.Pending() != 1 {
		t.Fatalf("pending %d, want the unacknowledged report", in.fw.Pending())
	}

	// Unplugged long enough to go down.
	eventually(t, "down", func() bool { return k.inst.Status().State == device.StateDown })

	in.plug()
	eventually(t, "ready again", func() bool { return k.inst.Status().State == device.StateReady })
	eventually(t, "repeat acknowledged", func() bool { return in.fw.Pending() == 0 })

	sim.NextVerdict(assay.Negative)
	if _, err := in.fw.Start(2, "U-2", "小白菜"); err != nil {
		t.Fatal(err)
	}
	k.waitReadings(t, 2)
	eventually(t, "acknowledged", func() bool { return in.fw.Pending() == 0 })
	got := k.readings()
	if len(got) != 2 || got[0].SampleCode != "U-1" || got[1].SampleCode != "U-2" {
		t.Fatalf("readings %+v, want U-1 once then U-2", got)
	}
	st := k.inst.Status()
	if st.Reopens == 0 || st.LastErr == "" {
		t.Fatalf("status after replug %+v", st)
	}
	t.Logf("after unplug/replug: %+v", st)
}

// TestSilentTesterGoesDown: a port that opens but never answers (tester
// switched off behind its USB adapter) is down after fail_after probes,
// and ready as soon as the tester answers.
func TestSilentTesterGoesDown(t *testing.T) {
	in := newInstrument(t, enzyme.NewSim(enzyme.SimConfig{}), nil)
	// A pty with nobody serving it: reads time out, probes get no answer.
	p, err := serialsim.Open(serialsim.Options{Link: in.link})
	if err != nil {
		t.Fatal(err)
	}
	k := startKiosk(t, fastSpec(in.link), serialport.Opener{}, nil)
	eventually(t, "down", func() bool { return k.inst.Status().State == device.StateDown })
	if st := k.inst.Status(); st.Frames != 0 {
		t.Fatalf("frames from a silent port: %+v", st)
	}
	p.Close()
	in.plug()
	eventually(t, "ready", func() bool { return k.inst.Status().State == device.StateReady })
}

// TestTwoDriversOneHubPort: a second push-protocol driver on the same
// physical port waits for the port lock instead of corrupting the first's
// session.
func TestTwoDriversOneHubPort(t *testing.T) {
	in := newInstrument(t, enzyme.NewSim(enzyme.SimConfig{}), nil)
	in.plug()
	hub := &serialport.Hub{}
	k1 := startKiosk(t, fastSpec(in.link), hub, nil)
	eventually(t, "first ready", func() bool { return k1.inst.Status().State == device.StateReady })
	spec2 := fastSpec(in.link)
	spec2.ID = "dy-2"
	k2 := startKiosk(t, spec2, hub, nil)
	if _, err := in.fw.Start(1, "H-1", ""); err != nil {
		t.Fatal(err)
	}
	got := k1.waitReadings(t, 1)
	if len(got) != 1 || len(k2.readings()) != 0 || k2.inst.Status().Frames != 0 {
		t.Fatalf("first %d readings, second %d, second status %+v", len(got), len(k2.readings()), k2.inst.Status())
	}
	k1.stop()
	eventually(t, "second takes over", func() bool { return k2.inst.Status().State == device.StateReady })
}

func TestSpecErrors(t *testing.T) {
	env := device.Env{Serial: serialport.Opener{}}
	cases := map[string]device.Spec{
		"no port":        {ID: "x", Protocol: dyenzyme.Protocol},
		"unknown option": {ID: "x", Protocol: dyenzyme.Protocol, Port: "/dev/ttyUSB0", Options: map[string]string{"speed": "1"}},
		"bad duration":   {ID: "x", Protocol: dyenzyme.Protocol, Port: "/dev/ttyUSB0", Options: map[string]string{"probe_every": "soon"}},
		"bad fail_after": {ID: "x", Protocol: dyenzyme.Protocol, Port: "/dev/ttyUSB0", Options: map[string]string{"fail_after": "0"}},
		"bad tz":         {ID: "x", Protocol: dyenzyme.Protocol, Port: "/dev/ttyUSB0", Options: map[string]string{"tz": "Mars/Olympus"}},
		"backoff order":  {ID: "x", Protocol: dyenzyme.Protocol, Port: "/dev/ttyUSB0", Options: map[string]string{"backoff_min": "5s", "backoff_max": "1s"}},
	}
	for name, spec := range cases {
		if _, err := device.Open(spec, env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := device.Open(device.Spec{ID: "x", Protocol: dyenzyme.Protocol, Port: "/dev/ttyUSB0"}, device.Env{}); err == nil {
		t.Error("accepted without a serial opener")
	}
}

// noisyPlug writes a megabyte of random bytes on the line before the
// firmware starts talking (docs/reliability.md test 5).
type noisyPlug struct {
	serialsim.Device
	n int
}

func (d noisyPlug) Serve(ctx context.Context, uart io.ReadWriter) error {
	rng := rand.New(rand.NewPCG(5, 5))
	b := make([]byte, 4096)
	for sent := 0; sent < d.n; sent += len(b) {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := uart.Write(b); err != nil {
			return err
		}
	}
	return d.Device.Serve(ctx, uart)
}

func TestMegabyteOfNoise(t *testing.T) {
	sim := enzyme.NewSim(enzyme.SimConfig{})
	in := newInstrument(t, sim, nil)
	k := startKiosk(t, fastSpec(in.link), serialport.Opener{}, nil)
	p, err := serialsim.Open(serialsim.Options{Link: in.link})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), noisyPlug{in.fw, 1 << 20}) }()
	defer func() {
		p.Close()
		<-done
	}()
	sim.NextVerdict(assay.Suspicious)
	if _, err := in.fw.Start(3, "N-1", "芹菜"); err != nil {
		t.Fatal(err)
	}
	k.waitReadings(t, 1)
	eventually(t, "acknowledged", func() bool { return in.fw.Pending() == 0 })
	got := k.readings()
	out, _ := assay.DefaultRules().Decide(got[0].Method, got[0].Item, got[0].Raw)
	if len(got) != 1 || got[0].SampleCode != "N-1" || out.Verdict != assay.Suspicious {
		t.Fatalf("after 1 MB of noise: %+v (%s)", got, out.Verdict)
	}
	t.Logf("after 1 MB of noise: %+v", k.inst.Status())
}
