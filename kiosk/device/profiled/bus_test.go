package profiled_test

// The behaviour of a Modbus profile on a shared, faulty RS-485 bus: the
// tests of the hand-written SHIAN-GC1 driver (kiosk/device/modbusgold),
// run against the SHIAN-GC1 profile.

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/firmware/cardreader"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

// bus is card readers on one simulated RS-485 line behind a pty.
type bus struct {
	link    string
	readers map[byte]*cardreader.Reader
	optics  map[byte]*cardreader.SimOptics
	port    *serialsim.Port
	done    chan error
}

func newReaders(t *testing.T, auto bool, addrs ...byte) (map[byte]*cardreader.Reader, map[byte]*cardreader.SimOptics) {
	rs, os := map[byte]*cardreader.Reader{}, map[byte]*cardreader.SimOptics{}
	for _, a := range addrs {
		o := &cardreader.SimOptics{}
		r, err := cardreader.New(cardreader.Config{Addr: a, Serial: "GC1-000" + string('0'+rune(a)), AutoRead: auto, Settle: 1, Mode: goldcard.ModeRatio, PollEvery: 5 * time.Millisecond}, o)
		if err != nil {
			t.Fatal(err)
		}
		rs[a], os[a] = r, o
	}
	return rs, os
}

func (b *bus) plug(t *testing.T, faults *serialsim.Faults) {
	t.Helper()
	p, err := serialsim.Open(serialsim.Options{Link: b.link})
	if err != nil {
		t.Fatal(err)
	}
	var devs []serialsim.Device
	for a := byte(1); a < 248; a++ {
		if r, ok := b.readers[a]; ok {
			devs = append(devs, r)
		}
	}
	var dev serialsim.Device = &instrument.Bus{Devices: devs}
	if faults != nil {
		dev = serialsim.WithFaults(dev, *faults)
	}
	b.port, b.done = p, make(chan error, 1)
	go func() { b.done <- p.Serve(context.Background(), dev) }()
}

func (b *bus) unplug() {
	if b.port != nil {
		b.port.Close()
		<-b.done
		b.port = nil
	}
}

type busKiosk struct {
	mu   sync.Mutex
	got  map[string][]device.Reading
	inst map[string]device.Instrument
	stop func()
}

func (k *busKiosk) readings(id string) []device.Reading {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]device.Reading(nil), k.got[id]...)
}

// start runs one driver per spec, all through one serialport.Hub (one
// physical port, one lock).
func startBus(t *testing.T, specs ...device.Spec) *busKiosk {
	t.Helper()
	hub := &serialport.Hub{}
	env := device.Env{Serial: hub, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	k := &busKiosk{got: map[string][]device.Reading{}, inst: map[string]device.Instrument{}}
	var wg sync.WaitGroup
	for _, s := range specs {
		inst, err := device.Open(s, env)
		if err != nil {
			t.Fatal(err)
		}
		k.inst[s.ID] = inst
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := inst.Run(ctx, func(r device.Reading) {
				k.mu.Lock()
				k.got[r.DeviceID] = append(k.got[r.DeviceID], r)
				k.mu.Unlock()
			})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: Run = %v", s.ID, err)
			}
		}()
	}
	k.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(k.stop)
	return k
}

// spec names the built-in SHIAN-GC1 profile: these are the tests of the
// hand-written modbus-gold driver, run on the profile driver.
func spec(id, link string, addr uint16) device.Spec {
	return device.Spec{ID: id, Profile: "SHIAN-GC1", Port: link, Addr: addr,
		Options: map[string]string{"poll_every": "10ms", "reply_timeout": "1s", "fail_after": "2", "backoff_min": "20ms", "backoff_max": "200ms"}}
}

// TestSharedBus: three readers on one RS-485 line and a fourth address
// with nobody behind it, read by four drivers sharing the port through
// the Hub. The missing unit goes down; the others keep delivering.
func TestSharedBus(t *testing.T) {
	b := &bus{link: filepath.Join(t.TempDir(), "ttyRS485")}
	b.readers, b.optics = newReaders(t, true, 1, 2, 3)
	b.plug(t, nil)
	defer b.unplug()
	k := startBus(t, spec("gold-1", b.link, 1), spec("gold-2", b.link, 2), spec("gold-3", b.link, 3), spec("gold-9", b.link, 9))

	waitFor(t, "the missing unit to go down", func() bool { return k.inst["gold-9"].Status().State == device.StateDown })
	b.optics[1].Insert(cardreader.Card{C: 42 * u, T: 9 * u})  // positive
	b.optics[3].Insert(cardreader.Card{C: 40 * u, T: 44 * u}) // negative
	waitFor(t, "units 1 and 3", func() bool { return len(k.readings("gold-1")) == 1 && len(k.readings("gold-3")) == 1 })
	b.optics[2].Insert(cardreader.Card{C: 3 * u, T: 20 * u}) // no control line
	waitFor(t, "unit 2", func() bool { return len(k.readings("gold-2")) == 1 })

	rules := assay.DefaultRules()
	for id, want := range map[string]assay.Verdict{"gold-1": assay.Positive, "gold-2": assay.Invalid, "gold-3": assay.Negative} {
		r := k.readings(id)[0]
		o, err := rules.ForModel(r.Model).Decide(r.Method, r.Item, r.Raw)
		if err != nil || o.Verdict != want || r.Method != assay.GoldRatio || r.Item != "克伦特罗" || r.Analyte != "clenbuterol" || r.Model != "SHIAN-GC1" {
			t.Errorf("%s: %+v → %+v %v, want %s", id, r, o, err, want)
		}
	}
	if r := k.readings("gold-1")[0]; *r.Raw.C != 42*u || *r.Raw.T != 9*u || r.Serial != "GC1-0001" {
		t.Errorf("gold-1 %+v", r)
	}
	// Every result was acknowledged: the readers hold none.
	waitFor(t, "the acknowledgements", func() bool {
		return b.readers[1].Waiting() == 0 && b.readers[2].Waiting() == 0 && b.readers[3].Waiting() == 0
	})
	for _, id := range []string{"gold-1", "gold-2", "gold-3"} {
		if st := k.inst[id].Status(); st.State != device.StateReady {
			t.Errorf("%s %+v", id, st)
		}
	}
	if st := k.inst["gold-9"].Status(); st.State != device.StateDown || st.LastErr == "" {
		t.Errorf("gold-9 %+v", st)
	}
	k.stop()
	for id := range k.inst {
		if n := len(k.readings(id)); id != "gold-9" && n != 1 {
			t.Errorf("%s: %d readings, want 1", id, n)
		}
	}
}

// TestUnplugQueueReplug: results measured while the cable is out wait in
// the reader and arrive, in order, once, after the port is back.
func TestUnplugQueueReplug(t *testing.T) {
	b := &bus{link: filepath.Join(t.TempDir(), "ttyRS485")}
	b.readers, b.optics = newReaders(t, false, 5)
	b.plug(t, nil)
	k := startBus(t, spec("gold-5", b.link, 5))
	waitFor(t, "ready", func() bool { return k.inst["gold-5"].Status().State == device.StateReady })
	b.unplug()
	waitFor(t, "down", func() bool { return k.inst["gold-5"].Status().State == device.StateDown })
	r := b.readers[5]
	for i, tt := range []measure.Intensity{30 * u, 12 * u, 20 * u} {
		b.optics[5].Insert(cardreader.Card{C: 40 * u, T: tt})
		if _, err := r.Measure(); err != nil {
			t.Fatal(i, err)
		}
	}
	b.plug(t, nil)
	defer b.unplug()
	waitFor(t, "the queued results", func() bool { return len(k.readings("gold-5")) == 3 })
	waitFor(t, "the acknowledgements", func() bool { return r.Waiting() == 0 })
	k.stop()
	got := k.readings("gold-5")
	if len(got) != 3 || *got[0].Raw.T != 30*u || *got[1].Raw.T != 12*u || *got[2].Raw.T != 20*u {
		t.Fatalf("%d readings %+v", len(got), got)
	}
	if st := k.inst["gold-5"].Status(); st.Reopens == 0 {
		t.Errorf("status %+v", st)
	}
}

// TestNoisyBus: garbage, split writes and flipped bytes on the line
// between the readers and the kiosk: no reading the readers did not
// make, each result once.
func TestNoisyBus(t *testing.T) {
	b := &bus{link: filepath.Join(t.TempDir(), "ttyRS485")}
	b.readers, b.optics = newReaders(t, false, 1, 2)
	b.plug(t, &serialsim.Faults{Garbage: 0.3, GarbageMax: 40, Split: true, Flip: 0.2, Seed: 11})
	defer b.unplug()
	s1, s2 := spec("gold-1", b.link, 1), spec("gold-2", b.link, 2)
	s1.Options["fail_after"], s2.Options["fail_after"] = "1000", "1000"
	k := startBus(t, s1, s2)
	want := map[measure.Intensity]bool{}
	for i := range 5 {
		for a := byte(1); a <= 2; a++ {
			tt := measure.Intensity(10+5*i+int(a)) * u
			want[tt] = true
			b.optics[a].Insert(cardreader.Card{C: 40 * u, T: tt})
			if _, err := b.readers[a].Measure(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every result", func() bool { return len(k.readings("gold-1"))+len(k.readings("gold-2")) == 10 })
	waitFor(t, "damage to be seen", func() bool {
		return k.inst["gold-1"].Status().BadFrames+k.inst["gold-2"].Status().BadFrames > 0
	})
	k.stop()
	seen := map[measure.Intensity]bool{}
	for _, id := range []string{"gold-1", "gold-2"} {
		for _, r := range k.readings(id) {
			tt := *r.Raw.T
			if *r.Raw.C != 40*u || !want[tt] || seen[tt] {
				t.Errorf("%s: invented or repeated reading C %v T %v", id, *r.Raw.C, tt)
			}
			seen[tt] = true
		}
	}
	t.Logf("status %+v %+v", k.inst["gold-1"].Status(), k.inst["gold-2"].Status())
}

// TestConfirmed: a result the kiosk cannot store is not acknowledged;
// the reader offers it again and it is acknowledged once stored.
func TestConfirmed(t *testing.T) {
	b := &bus{link: filepath.Join(t.TempDir(), "ttyRS485")}
	b.readers, b.optics = newReaders(t, false, 1)
	b.plug(t, nil)
	defer b.unplug()
	inst, err := device.Open(spec("gold-1", b.link, 1), device.Env{Serial: &serialport.Hub{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ci := inst.(device.Confirming)
	var mu sync.Mutex
	var offers []device.Reading
	full := true // the disk is full
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ci.RunConfirmed(ctx, func(r device.Reading) error {
			mu.Lock()
			defer mu.Unlock()
			offers = append(offers, r)
			if full {
				return errors.New("no space left on device")
			}
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	b.optics[1].Insert(cardreader.Card{C: 40 * u, T: 8 * u})
	if _, err := b.readers[1].Measure(); err != nil {
		t.Fatal(err)
	}
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(offers) }
	waitFor(t, "three refused offers", func() bool { return n() >= 3 })
	if b.readers[1].Waiting() != 1 {
		t.Fatal("a result the kiosk could not store was acknowledged")
	}
	mu.Lock()
	full = false
	mu.Unlock()
	waitFor(t, "the acknowledgement", func() bool { return b.readers[1].Waiting() == 0 })
	mu.Lock()
	defer mu.Unlock()
	for _, r := range offers {
		if r.Report != "GC1-0001/1" || *r.Raw.T != 8*u {
			t.Errorf("offer %+v", r)
		}
	}
	if st := inst.Status(); st.State != device.StateReady {
		t.Errorf("a full disk is not the reader's failure: %+v", st)
	}
}
