// Package sht31 is the kiosk driver for a Sensirion SHT31 temperature and
// humidity sensor on the Pi's I²C bus, registered as "i2c-sht31".
//
// # What it measures
//
// The air of a cold room, a refrigerator or a hot-holding cabinet: each
// read is a device.Reading with Raw.AirTemp and Raw.Humidity, decided by
// assay.ColdHolding by default (options.method: frozen or hot_holding for
// other stores). The sensor covers −40…125 °C.
//
// # Sequence
//
//	init:  write F3 2D, read 3       status word, CRC-checked (is a SHT31 there?)
//	read:  write 24 00               single shot, high repeatability, no stretching
//	       wait 16 ms
//	       read 6                    T, CRC, RH, CRC
//
// A word whose CRC fails is an ErrInvalid (counted as a bad frame); no
// reading is made from it.
//
// # Results
//
// The sensor is read every interval (60 s), but the cold room's log is
// what becomes results (kiosk/device/capture, Log): the first reading,
// then one every log_every (15 min), and at once when the room's verdict
// changes — a breach (above cold_max), or the recovery from one — by the
// kiosk's rules (env.Rules; the defaults without them), once the new
// verdict has held for confirm readings. The measure button
// (device.Triggerer) logs the next reading now. [NewPoller] is the bare
// poll loop, every reading (tests and diagnostics).
//
// # kiosk.yaml
//
//   - id: coldroom-1
//     protocol: i2c-sht31
//     model: SHT31
//     bus: "1"
//     addr: 0x44              # 0x45 with ADDR high
//     options:
//     method: cold_holding  # or frozen, hot_holding
//     repeatability: high   # medium, low
//     interval: 60s         # how often the sensor is read
//     log_every: 15m        # how often a reading is logged as a result
//     confirm: "1"          # readings a breach or recovery must hold
package sht31

import (
	"context"
	"fmt"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/sht31"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "i2c-sht31"

// DefaultInterval is the default time between reads.
const DefaultInterval = 60 * time.Second

func init() {
	device.Register(Protocol, func(s device.Spec, e device.Env) (device.Instrument, error) { return New(s, e) })
	device.RegisterOptions(Protocol, append([]string{"repeatability", "method"}, append(capture.LogOptions, i2cbus.PollerOptions...)...)...)
}

// New builds the instrument the kiosk runs: the poll loop behind the
// logging rule (see "Results").
func New(spec device.Spec, env device.Env) (*capture.Instrument, error) {
	p, err := NewPoller(spec, env)
	if err != nil {
		return nil, err
	}
	rules := assay.DefaultRules()
	if env.Rules != nil {
		rules = *env.Rules
	}
	gate, err := capture.LogFromSpec(spec, func(r device.Reading) string {
		o, err := rules.ForModel(r.Model).Decide(r.Method, r.Item, r.Raw)
		if err != nil {
			return ""
		}
		return string(o.Verdict)
	})
	if err != nil {
		return nil, err
	}
	return capture.New(p, gate, env.Now), nil
}

// Sensor reads one SHT31.
type Sensor struct {
	Addr   uint16
	Cmd    sht31.Command
	Method assay.Method
}

var _ i2cbus.Sensor = (*Sensor)(nil)

// NewPoller builds the bare poll loop: every read is a reading.
func NewPoller(spec device.Spec, env device.Env) (*i2cbus.Poller, error) {
	s, err := FromSpec(spec)
	if err != nil {
		return nil, err
	}
	return i2cbus.NewPollerFor(spec, env, s, DefaultInterval, "SHT31")
}

// FromSpec reads the sensor settings from a spec.
func FromSpec(spec device.Spec) (*Sensor, error) {
	addr, err := i2cbus.Addr(spec, sht31.Addr, sht31.Addr, sht31.AltAddr)
	if err != nil {
		return nil, err
	}
	s := &Sensor{Addr: addr, Cmd: sht31.MeasureHigh}
	switch r := spec.Options["repeatability"]; r {
	case "", "high":
	case "medium":
		s.Cmd = sht31.MeasureMedium
	case "low":
		s.Cmd = sht31.MeasureLow
	default:
		return nil, fmt.Errorf("device %q: options.repeatability %q: use high, medium or low", spec.ID, r)
	}
	s.Method, err = i2cbus.OptMethod(spec, assay.ColdHolding, assay.ColdHolding, assay.Frozen, assay.HotHolding)
	return s, err
}

// Init reads the status word: a SHT31 answers with a CRC-checked word.
func (s *Sensor) Init(ctx context.Context, l i2cbus.Link) error {
	var r [3]byte
	if err := l.Tx("read status", s.Addr, sht31.ReadStatus.Bytes(), r[:]); err != nil {
		return err
	}
	_, err := sht31.DecodeStatus(r[:])
	return i2cbus.Invalid(err)
}

// Read takes one single-shot measurement.
func (s *Sensor) Read(ctx context.Context, l i2cbus.Link) ([]device.Reading, error) {
	if err := l.Tx("start measurement", s.Addr, s.Cmd.Bytes(), nil); err != nil {
		return nil, err
	}
	if err := l.Sleep(ctx, sht31.MeasureDuration); err != nil {
		return nil, err
	}
	var r [sht31.FrameLen]byte
	if err := l.Tx("read measurement", s.Addr, nil, r[:]); err != nil {
		return nil, err
	}
	m, err := sht31.Decode(r[:])
	if err != nil {
		return nil, i2cbus.Invalid(err)
	}
	return []device.Reading{{
		Model:   "SHT31",
		Method:  s.Method,
		Item:    i2cbus.TemperatureItems[s.Method],
		Analyte: "air_temperature",
		Raw:     assay.Raw{AirTemp: &m.Temperature, Humidity: &m.Humidity},
	}}, nil
}
