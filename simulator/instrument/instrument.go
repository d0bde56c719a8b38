// Package instrument is the simulator's registry of emulated instrument
// models: each runs real firmware/ code behind a serialsim.Device, so that
// the demo, the tests and `shian-sim instrument` put the same instruments
// on pseudo-terminals, and any serial program — the kiosk, minicom, a
// third-party Modbus master — talks to them as to the real thing.
//
// # Models
//
//	name          instrument                                   line                      kiosk protocol
//	dy3000        DY-3000E enzyme-inhibition pesticide tester  RS-232/USB, 9600 8N1      dy-enzyme
//	strip-reader  SHIAN-SR1 reference strip reader ($STRIP)    USB-CDC, 9600 8N1         strip-reader
//	card-reader   SHIAN-GC1 colloidal-gold card reader(s)      RS-485 Modbus RTU, 9600   modbus-gold
//	atp           SHIAN-ATP1 ATP luminometer (printed report)  RS-232, 9600 8N1          ascii-atp
//	thermometer   SHIAN-TP1 probe thermometer (printed report) USB-CDC, 9600 8N1         ascii-thermometer
//
// [New] builds an [Instance]: the Device to serve, and Test, which makes
// one test with a chosen outcome happen the way an operator would (a
// sample keyed in and START pressed, a card or strip inserted, a swab
// read, a probe held in food). Several card readers can share one port
// ([Options.Addrs]): they are put on a simulated RS-485 [Bus].
package instrument

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/firmware/atp"
	"github.com/shianfood/shian/firmware/cardreader"
	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/firmware/stripreader"
	"github.com/shianfood/shian/firmware/thermometer"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/device/strip/striptest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/simulator/profilesim"
	"github.com/shianfood/shian/simulator/serialsim"
)

// Options configure a new instance. Zero fields take the defaults.
type Options struct {
	// Seed seeds the outcomes' random values.
	Seed uint64
	// Serial is the instrument's serial number (a default per model).
	// With several units, the unit's address is appended.
	Serial string
	// Addrs are the Modbus addresses of the card readers on the port
	// ([1]); other models ignore it.
	Addrs []byte
	// Measure is how long a test takes where the instrument times it (the
	// enzyme tester: 1 s here, 3.5 min for real).
	Measure time.Duration
	// Poll is how often readers look at their slot (500 ms).
	Poll time.Duration
	// Now is the instruments' clock (time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if len(o.Addrs) == 0 {
		o.Addrs = []byte{1}
	}
	if o.Measure <= 0 {
		o.Measure = time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Model is one emulated instrument model.
type Model struct {
	Name      string
	Title     string // zh-CN / en
	Transport string
	// Protocol is the kiosk driver that reads it (kiosk.yaml protocol:).
	Protocol string
	// KioskModel is the model name to put in kiosk.yaml.
	KioskModel string
	build      func(o Options) (*Instance, error)
}

// Instance is one emulated instrument (or one bus of them).
type Instance struct {
	Model Model
	// Device is what to serve on a port (serialsim.Port.Serve).
	Device serialsim.Device
	// Units are the Modbus addresses on the port (card-reader), else nil.
	Units []byte
	// Serials are the serial numbers, one per unit.
	Serials []string

	test func(ctx context.Context, v assay.Verdict) error
}

// ErrBusy is returned by Test when the instrument cannot start a test now
// (one is running, or its port is not being served yet): try again.
var ErrBusy = errors.New("instrument: busy, try again")

// Test makes one test with outcome v happen, as an operator would, and
// returns once it has started (the reading comes later, over the line).
// Verdicts map to what the instrument can show: for ATP and
// temperatures, negative is a pass, suspicious a caution, positive a
// fail; invalid is an invalid test where the method has one.
func (in *Instance) Test(ctx context.Context, v assay.Verdict) error { return in.test(ctx, v) }

var registry = []Model{
	{Name: "dy3000", Title: "DY-3000E 农药残留速测仪（酶抑制率法） / enzyme-inhibition pesticide tester",
		Transport: "RS-232 / USB serial, 9600 8N1, DY-3000 hex frames", Protocol: "dy-enzyme", KioskModel: "DY-3000E", build: newDY3000},
	{Name: "strip-reader", Title: "SHIAN-SR1 参考试纸条读数仪 / reference strip reader",
		Transport: "USB-CDC serial, 9600 8N1, $STRIP lines", Protocol: "strip-reader", KioskModel: "SHIAN-SR1", build: newStripReader},
	{Name: "card-reader", Title: "SHIAN-GC1 胶体金读卡仪 / colloidal-gold card reader",
		Transport: "RS-485 Modbus RTU slave, 9600 8N1 (--addr 1,2,3: several on one bus)", Protocol: "modbus-gold", KioskModel: "SHIAN-GC1", build: newCardReader},
	{Name: "atp", Title: "SHIAN-ATP1 ATP荧光检测仪 / ATP luminometer",
		Transport: "RS-232 printer port, 9600 8N1, printed reports", Protocol: "ascii-atp", KioskModel: "SHIAN-ATP1", build: newATP},
	{Name: "thermometer", Title: "SHIAN-TP1 中心温度计 / food probe thermometer",
		Transport: "USB-CDC serial, 9600 8N1, printed reports (?MEAS to measure)", Protocol: "ascii-thermometer", KioskModel: "SHIAN-TP1", build: newThermometer},
}

// Models lists the models, sorted by name.
func Models() []Model {
	out := append([]Model(nil), registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ErrUnknownModel is returned by New for a name not in Models.
var ErrUnknownModel = errors.New("instrument: unknown model")

// New builds an instance of the named model.
func New(name string, o Options) (*Instance, error) {
	o.defaults()
	for _, m := range registry {
		if m.Name == name {
			in, err := m.build(o)
			if err != nil {
				return nil, fmt.Errorf("instrument %s: %w", name, err)
			}
			in.Model = m
			return in, nil
		}
	}
	var names []string
	for _, m := range Models() {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownModel, name, strings.Join(names, ", "))
}

// Operate runs a simulated operator: a test every `every` (±50 %), with
// outcomes drawn from weights (negative, suspicious, positive, invalid),
// until ctx ends.
func Operate(ctx context.Context, in *Instance, every time.Duration, seed uint64, weights [4]float64) {
	rng := rand.New(rand.NewPCG(seed, 0x0be7))
	verdicts := [4]assay.Verdict{assay.Negative, assay.Suspicious, assay.Positive, assay.Invalid}
	for {
		wait := time.Duration(float64(every) * (0.5 + rng.Float64()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		total := weights[0] + weights[1] + weights[2] + weights[3]
		x := rng.Float64() * total
		v := verdicts[3]
		for i, w := range weights {
			if x < w {
				v = verdicts[i]
				break
			}
			x -= w
		}
		_ = in.Test(ctx, v) // a busy instrument skips a turn, as an operator would wait
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func newDY3000(o Options) (*Instance, error) {
	serial := o.Serial
	if serial == "" {
		serial = "DY3E-220100"
	}
	sim := enzyme.NewSim(enzyme.SimConfig{Seed: o.Seed})
	fw := enzyme.New(enzyme.Config{Model: "DY-3000E", Serial: serial, Interval: o.Measure, Lead: o.Measure / 6}, sim, clock{o.Now})
	samples := []string{"菠菜", "小白菜", "韭菜", "芹菜", "油麦菜", "生菜", "豇豆", "黄瓜"}
	var mu sync.Mutex
	n := 0
	return &Instance{Device: fw, Serials: []string{serial}, test: func(ctx context.Context, v assay.Verdict) error {
		if fw.Measuring() {
			return ErrBusy
		}
		mu.Lock()
		n++
		code, name := fmt.Sprintf("S-%03d", n), samples[n%len(samples)]
		mu.Unlock()
		sim.NextVerdict(v)
		if _, err := fw.Start(1, code, name); errors.Is(err, enzyme.ErrBusy) {
			return ErrBusy
		} else if err != nil {
			return err
		}
		return nil
	}}, nil
}

type clock struct{ now func() time.Time }

func (c clock) Now() time.Time                         { return c.now() }
func (c clock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// stripFor returns line intensities that the default gold thresholds
// decide as v in both modes (the strip reader reports both).
func stripFor(rng *rand.Rand, v assay.Verdict) (c, t measure.Intensity) {
	card := cardreader.CardFor(rng, 1, v)
	// The strip reader reports whole thousandths of its own scale; keep
	// the card's.
	return card.C, card.T
}

func newStripReader(o Options) (*Instance, error) {
	serial := o.Serial
	if serial == "" {
		serial = "SR1-0001"
	}
	r, fx, err := stripreader.NewSimulated(nil, "clenbuterol", serial)
	if err != nil {
		return nil, err
	}
	r.PollEvery = o.Poll
	rng := rand.New(rand.NewPCG(o.Seed, 0x57))
	var mu sync.Mutex
	return &Instance{Device: r, Serials: []string{serial}, test: func(ctx context.Context, v assay.Verdict) error {
		mu.Lock()
		defer mu.Unlock()
		// Take the last strip out, wait for the reader to see the slot
		// empty, put the new one in.
		fx.Show(nil)
		if err := sleep(ctx, 2*o.Poll); err != nil {
			return err
		}
		c, t := stripFor(rng, v)
		fx.Show(&striptest.Strip{C: c, T: t})
		return nil
	}}, nil
}

func newCardReader(o Options) (*Instance, error) {
	base := o.Serial
	if base == "" {
		base = "GC1-"
	}
	bus := &Bus{}
	type unit struct {
		r      *cardreader.Reader
		optics *cardreader.SimOptics
	}
	var units []unit
	var serials []string
	seen := map[byte]bool{}
	for _, a := range o.Addrs {
		if a < 1 || a > 247 || seen[a] {
			return nil, fmt.Errorf("card reader address %d: use distinct addresses 1…247", a)
		}
		seen[a] = true
		serial := base
		if o.Serial == "" || len(o.Addrs) > 1 {
			serial = fmt.Sprintf("%s%04d", base, a)
		}
		optics := &cardreader.SimOptics{}
		r, err := cardreader.New(cardreader.Config{Addr: a, Serial: serial, AutoRead: true, Settle: 1, PollEvery: o.Poll, Now: o.Now}, optics)
		if err != nil {
			return nil, err
		}
		units = append(units, unit{r, optics})
		serials = append(serials, serial)
		bus.Devices = append(bus.Devices, r)
	}
	var dev serialsim.Device = bus
	if len(units) == 1 {
		dev = units[0].r
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6c))
	var mu sync.Mutex
	next := 0
	return &Instance{Device: dev, Units: append([]byte(nil), o.Addrs...), Serials: serials, test: func(ctx context.Context, v assay.Verdict) error {
		mu.Lock()
		defer mu.Unlock()
		u := units[next%len(units)]
		next++
		u.optics.Remove()
		if err := sleep(ctx, 2*o.Poll); err != nil {
			return err
		}
		u.optics.Insert(cardreader.CardFor(rng, goldcard.Item(1), v))
		return nil
	}}, nil
}

var points = []string{"CB-01", "CB-02", "KNIFE-1", "KNIFE-2", "SINK", "TRAY-3", "HANDS-A", "BOWL-7"}

func newATP(o Options) (*Instance, error) {
	lum := &atp.SimLuminometer{}
	m := atp.New(atp.Config{Serial: o.Serial, Now: o.Now}, lum)
	rng := rand.New(rand.NewPCG(o.Seed, 0xa7))
	var mu sync.Mutex
	return &Instance{Device: m, Serials: []string{m.Config().Serial}, test: func(ctx context.Context, v assay.Verdict) error {
		mu.Lock()
		defer mu.Unlock()
		lum.Next(atp.RLUFor(rng, v))
		if _, err := m.Swab(points[rng.IntN(len(points))]); errors.Is(err, atp.ErrOffline) {
			return ErrBusy
		} else if err != nil {
			return err
		}
		return nil
	}}, nil
}

func newThermometer(o Options) (*Instance, error) {
	probe := &thermometer.SimProbe{}
	probe.Set(25 * measure.Celsius)
	th := thermometer.New(thermometer.Config{Serial: o.Serial, Now: o.Now}, probe)
	rng := rand.New(rand.NewPCG(o.Seed, 0x7e))
	var mu sync.Mutex
	return &Instance{Device: th, Serials: []string{th.Config().Serial}, test: func(ctx context.Context, v assay.Verdict) error {
		mu.Lock()
		defer mu.Unlock()
		probe.Set(thermometer.CoreFor(rng, v))
		if _, err := th.Hold(); errors.Is(err, thermometer.ErrOffline) {
			return ErrBusy
		} else if err != nil {
			return err
		}
		return nil
	}}, nil
}

// FromProfile is an instrument emulated from its profile alone
// (simulator/profilesim): a Modbus reader whose registers, codes and
// acknowledgement are what the profile says. Test makes one result of the
// outcome (for the gold, ATP and temperature methods).
func FromProfile(p *profile.Profile, o Options) (*Instance, error) {
	o.defaults()
	serial := o.Serial
	if serial == "" {
		serial = "SIM-0001"
	}
	cab := func() assay.Raw {
		return assay.Raw{AirTemp: assay.Ptr(23400 * measure.MilliCelsius), Humidity: assay.Ptr(measure.Percent(612000))}
	}
	dev, err := profilesim.New(p, profilesim.Options{Unit: o.Addrs[0], Ident: profile.Ident{Serial: serial, Model: p.Model}, Now: o.Now, Cabinet: cab})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9f))
	var mu sync.Mutex
	m := Model{Name: "profile:" + p.Name, Title: p.Description, Transport: string(p.Transport.Kind) + " (from " + p.File + ")",
		Protocol: "profile " + p.Name, KioskModel: p.Model}
	return &Instance{Model: m, Device: dev, Units: []byte{dev.Unit()}, Serials: []string{serial}, test: func(ctx context.Context, v assay.Verdict) error {
		mu.Lock()
		defer mu.Unlock()
		r, err := dev.Random(rng, v)
		if err != nil {
			return err
		}
		if dev.Waiting() > 8 {
			return ErrBusy // nobody collects its results
		}
		return dev.Measure(r)
	}}, nil
}
