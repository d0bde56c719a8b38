// Package mlx90614 is the kiosk driver for a Melexis MLX90614 infrared
// thermometer on the Pi's I²C bus, registered as "i2c-mlx90614".
//
// # What it measures
//
// The surface temperature of food or a work surface: each read is a
// device.Reading with Raw.SurfaceTemp and method assay.SurfaceTemperature,
// which is recorded but never decides the cooking rule (that needs a core
// probe: see kiosk/device/ads1115). Set the part's emissivity for food
// (about 0.95) with the vendor tool; the driver reads it at start
// (Sensor.Emissivity) as its presence check.
//
// # Sequence
//
// SMBus read-word transactions (write the command, repeated start, read
// LSB MSB PEC), each PEC-checked:
//
//	init:  write 24, read 3      emissivity (EEPROM 0x24; 0xFFFF = 1.0)
//	read:  write 07, read 3      Tobj1 (or 08, Tobj2, with options.zone: 2)
//
// A PEC mismatch or the error flag (bit 15) is an ErrInvalid; no reading
// is made from it. Keep the bus at ≤ 100 kHz (the Pi's default).
//
// # Results
//
// The thermometer is read every interval, but a reading becomes a result
// (stored and sent) only when it is a measurement (kiosk/device/capture,
// Settle): when the operator presses the measure button (the instrument
// is a device.Triggerer: the next good reading is the result), or, with
// capture: auto, when the reading has settled on something outside the
// ambient band — once per target. [NewPoller] is the bare poll loop,
// every reading (tests and diagnostics).
//
// # kiosk.yaml
//
//   - id: ir-1
//     protocol: i2c-mlx90614
//     model: MLX90614
//     bus: "1"
//     addr: 0x5A
//     options: {interval: 1s, zone: "1", capture: auto, settle_reads: "5", settle_band: "0.5", ambient_min: "10", ambient_max: "35", insert_delta: "5"}
package mlx90614

import (
	"context"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/mlx90614"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Protocol is the registered protocol name.
const Protocol = "i2c-mlx90614"

// DefaultInterval is the default time between reads.
const DefaultInterval = time.Second

func init() {
	device.Register(Protocol, func(s device.Spec, e device.Env) (device.Instrument, error) { return New(s, e) })
	device.RegisterOptions(Protocol, append([]string{"zone"}, append(capture.SettleOptions, i2cbus.PollerOptions...)...)...)
}

// New builds the instrument the kiosk runs: the poll loop behind the
// capture rule (see "Results").
func New(spec device.Spec, env device.Env) (*capture.Instrument, error) {
	p, err := NewPoller(spec, env)
	if err != nil {
		return nil, err
	}
	gate, err := capture.SettleFromSpec(spec, func(r device.Reading) (measure.Temperature, bool) {
		if r.Raw.SurfaceTemp == nil {
			return 0, false
		}
		return *r.Raw.SurfaceTemp, true
	})
	if err != nil {
		return nil, err
	}
	return capture.New(p, gate, env.Now), nil
}

// Sensor reads one MLX90614.
type Sensor struct {
	Addr       uint16
	Reg        byte
	Emissivity measure.Ratio // read at Init
}

var _ i2cbus.Sensor = (*Sensor)(nil)

// NewPoller builds the bare poll loop: every read is a reading.
func NewPoller(spec device.Spec, env device.Env) (*i2cbus.Poller, error) {
	s, err := FromSpec(spec)
	if err != nil {
		return nil, err
	}
	return i2cbus.NewPollerFor(spec, env, s, DefaultInterval, "MLX90614")
}

// FromSpec reads the sensor settings from a spec.
func FromSpec(spec device.Spec) (*Sensor, error) {
	addr, err := i2cbus.Addr(spec, mlx90614.Addr)
	if err != nil {
		return nil, err
	}
	zone := 1
	if err := i2cbus.OptInt(spec, "zone", &zone, 1, 2); err != nil {
		return nil, err
	}
	return &Sensor{Addr: addr, Reg: mlx90614.RegTobj1 + byte(zone-1)}, nil
}

func (s *Sensor) word(l i2cbus.Link, op string, cmd byte) (uint16, error) {
	var r [mlx90614.FrameLen]byte
	if err := l.Tx(op, s.Addr, []byte{cmd}, r[:]); err != nil {
		return 0, err
	}
	w, err := mlx90614.DecodeWord(s.Addr, cmd, r[:])
	return w, i2cbus.Invalid(err)
}

// Init reads the emissivity: a PEC-checked answer shows the part is there.
func (s *Sensor) Init(ctx context.Context, l i2cbus.Link) error {
	w, err := s.word(l, "read emissivity", mlx90614.RegEmissivity)
	if err != nil {
		return err
	}
	s.Emissivity = mlx90614.Emissivity(w)
	return nil
}

// Read reads the object temperature.
func (s *Sensor) Read(ctx context.Context, l i2cbus.Link) ([]device.Reading, error) {
	w, err := s.word(l, "read object temperature", s.Reg)
	if err != nil {
		return nil, err
	}
	t, err := mlx90614.Temperature(w)
	if err != nil {
		return nil, i2cbus.Invalid(err)
	}
	return []device.Reading{{
		Model:   "MLX90614",
		Method:  assay.SurfaceTemperature,
		Item:    i2cbus.TemperatureItems[assay.SurfaceTemperature],
		Analyte: "surface_temperature",
		Raw:     assay.Raw{SurfaceTemp: &t},
	}}, nil
}
