// Package ads1115 is the kiosk driver for a core-temperature probe read
// through a TI ADS1115 ADC on the Pi's I²C bus, registered as
// "i2c-ads1115-probe".
//
// # What it measures
//
// The centre temperature of cooked food (or of held food) with a PT100,
// PT1000 or NTC probe in the divider described in protocols/ads1115: each
// read is a device.Reading with Raw.CoreTemp, decided by
// assay.CoreTemperature (≥ 70 °C) by default, or by hot_holding,
// cold_holding or frozen (options.method).
//
// # Sequence
//
//	init:  write 01 <cfg without OS>       configure, no conversion
//	       write 01, read 2                 read back: must equal what was written (OS = 1, idle)
//	read:  write 01 <cfg | OS>              start a single conversion
//	       wait 1/DR (+10 %)
//	       write 01, read 2                 idle and unchanged, else EINVALID / retry
//	       write 00, read 2                 the conversion; full scale = saturated (EINVALID)
//
// An open or shorted probe is an ErrInvalid naming the fault; no reading is
// made from it.
//
// # Results
//
// The probe is read every interval, but a reading becomes a result
// (stored and sent) only when it is a measurement (kiosk/device/capture,
// Settle): when the operator presses the measure button (the instrument
// is a device.Triggerer: the next good reading is the result), or, with
// capture: auto, when the temperature has settled in food — outside the
// ambient band of a probe in the air — once per insertion. A probe pulled
// out and cooling on the bench gives no result. [NewPoller] is the bare
// poll loop, every reading (tests and diagnostics).
//
// # kiosk.yaml
//
//   - id: probe-1
//     protocol: i2c-ads1115-probe
//     model: PT100 probe
//     bus: "1"
//     addr: 0x48
//     options:
//     channel: "0"        # AIN0…AIN3 against GND
//     pga: "0.512"        # full scale in volts
//     rate: "128"         # samples per second
//     probe: pt100        # pt100, pt1000, ntc
//     supply: "3.3"       # divider supply, volts
//     ref_ohms: "1000"    # fixed resistor, supply side
//     r0: "100"           # probe resistance at 0 °C (NTC: at t0)
//     beta: "3950"        # NTC only
//     offset: "0.0"       # °C, calibration against a reference thermometer
//     method: core_temperature
//     interval: 1s
//     capture: auto       # or trigger: only the measure button
//     settle_reads: "5"   # readings within settle_band °C of each other
//     settle_band: "0.5"
//     ambient_min: "10"   # °C: a probe in the air
//     ambient_max: "35"
//     insert_delta: "5"   # °C from the last result: another dish
package ads1115

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/ads1115"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Protocol is the registered protocol name.
const Protocol = "i2c-ads1115-probe"

// DefaultInterval is the default time between reads.
const DefaultInterval = time.Second

func init() {
	device.Register(Protocol, func(s device.Spec, e device.Env) (device.Instrument, error) { return New(s, e) })
	device.RegisterOptions(Protocol, append([]string{"channel", "pga", "rate", "probe", "ref_ohms", "r0", "beta", "supply", "offset", "method"}, append(capture.SettleOptions, i2cbus.PollerOptions...)...)...)
}

// New builds the instrument the kiosk runs: the poll loop behind the
// capture rule (see "Results").
func New(spec device.Spec, env device.Env) (*capture.Instrument, error) {
	p, err := NewPoller(spec, env)
	if err != nil {
		return nil, err
	}
	gate, err := capture.SettleFromSpec(spec, func(r device.Reading) (measure.Temperature, bool) {
		if r.Raw.CoreTemp == nil {
			return 0, false
		}
		return *r.Raw.CoreTemp, true
	})
	if err != nil {
		return nil, err
	}
	return capture.New(p, gate, env.Now), nil
}

// Sensor reads one probe through an ADS1115.
type Sensor struct {
	Addr   uint16
	Config ads1115.Config // with Start clear
	Probe  ads1115.Probe
	Method assay.Method
}

var _ i2cbus.Sensor = (*Sensor)(nil)

// NewPoller builds the bare poll loop: every read is a reading.
func NewPoller(spec device.Spec, env device.Env) (*i2cbus.Poller, error) {
	s, err := FromSpec(spec)
	if err != nil {
		return nil, err
	}
	return i2cbus.NewPollerFor(spec, env, s, DefaultInterval, "ADS1115 "+string(s.Probe.Kind))
}

// FromSpec reads the sensor settings from a spec.
func FromSpec(spec device.Spec) (*Sensor, error) {
	addr, err := i2cbus.Addr(spec, ads1115.Addr, 0x48, 0x49, 0x4A, 0x4B)
	if err != nil {
		return nil, err
	}
	bad := func(key string, err error) error {
		return fmt.Errorf("device %q: options.%s %q: %v", spec.ID, key, spec.Options[key], err)
	}
	ch := 0
	if err := i2cbus.OptInt(spec, "channel", &ch, 0, 3); err != nil {
		return nil, err
	}
	mux, _ := ads1115.SingleEnded(ch)
	pga := ads1115.PGA512
	if v, ok := spec.Options["pga"]; ok {
		if pga, err = ads1115.ParsePGA(v); err != nil {
			return nil, bad("pga", err)
		}
	}
	sps := 128
	if err := i2cbus.OptInt(spec, "rate", &sps, 8, 860); err != nil {
		return nil, err
	}
	rate, err := ads1115.ParseDataRate(sps)
	if err != nil {
		return nil, bad("rate", err)
	}
	p := ads1115.DefaultProbe()
	if v, ok := spec.Options["probe"]; ok {
		p.Kind = ads1115.ProbeKind(v)
		if p.Kind == ads1115.NTC {
			p.RefOhms = 10000
		}
	}
	floats := map[string]*float64{"ref_ohms": &p.RefOhms, "r0": &p.R0, "beta": &p.Beta}
	for key, dst := range floats {
		if v, ok := spec.Options[key]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, bad(key, fmt.Errorf("not a number"))
			}
			*dst = f
		}
	}
	if v, ok := spec.Options["supply"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 6 {
			return nil, bad("supply", fmt.Errorf("want volts, e.g. 3.3"))
		}
		p.Supply = measure.Voltage(math.Round(f * 1e6))
	}
	if v, ok := spec.Options["offset"]; ok {
		if err := p.Offset.Set(v); err != nil {
			return nil, bad("offset", err)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("device %q: %w", spec.ID, err)
	}
	m, err := i2cbus.OptMethod(spec, assay.CoreTemperature, assay.CoreTemperature, assay.HotHolding, assay.ColdHolding, assay.Frozen)
	if err != nil {
		return nil, err
	}
	return &Sensor{Addr: addr, Config: ads1115.Config{Mux: mux, PGA: pga, Rate: rate, Comp: ads1115.CompDisable}, Probe: p, Method: m}, nil
}

func (s *Sensor) readReg(l i2cbus.Link, op string, reg byte) (uint16, error) {
	var r [2]byte
	if err := l.Tx(op, s.Addr, []byte{reg}, r[:]); err != nil {
		return 0, err
	}
	return ads1115.DecodeWord(r[:])
}

// Init writes the configuration and reads it back.
func (s *Sensor) Init(ctx context.Context, l i2cbus.Link) error {
	if err := l.Tx("write config", s.Addr, s.Config.WriteBytes(), nil); err != nil {
		return err
	}
	w, err := s.readReg(l, "read config", ads1115.RegConfig)
	if err != nil {
		return err
	}
	if err := ads1115.CheckConfig(s.Config, w); err != nil {
		return i2cbus.Invalid(fmt.Errorf("%w (is an ADS1115 at 0x%02X?)", err, s.Addr))
	}
	return nil
}

// Read runs one single-shot conversion and converts it.
func (s *Sensor) Read(ctx context.Context, l i2cbus.Link) ([]device.Reading, error) {
	start := s.Config
	start.Start = true
	if err := l.Tx("start conversion", s.Addr, start.WriteBytes(), nil); err != nil {
		return nil, err
	}
	if err := l.Sleep(ctx, s.Config.Rate.Period()*11/10); err != nil {
		return nil, err
	}
	w, err := s.readReg(l, "read config", ads1115.RegConfig)
	if err != nil {
		return nil, err
	}
	if err := ads1115.CheckConfig(s.Config, w); err != nil {
		return nil, i2cbus.Invalid(err)
	}
	var r [2]byte
	if err := l.Tx("read conversion", s.Addr, []byte{ads1115.RegConversion}, r[:]); err != nil {
		return nil, err
	}
	raw, err := ads1115.DecodeConversion(r[:])
	if err != nil {
		return nil, i2cbus.Invalid(err)
	}
	t, err := s.Probe.Temperature(ads1115.Volts(raw, s.Config.PGA))
	if err != nil {
		return nil, i2cbus.Invalid(err)
	}
	return []device.Reading{{
		Method:  s.Method,
		Item:    i2cbus.TemperatureItems[s.Method],
		Analyte: "core_temperature",
		Raw:     assay.Raw{CoreTemp: &t},
	}}, nil
}
