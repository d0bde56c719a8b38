// Package thermometer is the kiosk driver for food probe thermometers
// that print protocols/device/asciirpt reports on a serial port (the SHIAN-TP1,
// firmware/thermometer), registered as "ascii-thermometer".
//
// # What it does
//
// The operator pushes the probe into the centre of the food and presses
// HOLD (or the kiosk's measure button: [Driver.Trigger] sends ?MEAS); the
// thermometer prints a TEMP report. Each report becomes one
// device.Reading with the probe temperature as Raw.CoreTemp, decided by
// the rule of the mode keyed on the thermometer — COOK: core_temperature
// (≥ 70 °C), HOT: hot_holding (> 60 °C), COLD: cold_holding (0–8 °C),
// FROZEN: frozen (≤ −12 °C) — unless options.method fixes one. A report
// printed twice, same serial and NO., is taken once. An ERR report (probe
// open, over range) is shown in the status and makes no reading.
//
// Session, probing, DOWN and reopening: see kiosk/device/internal/rptlink.
//
// # kiosk.yaml
//
//   - id: probe-serial-1
//     protocol: ascii-thermometer
//     model: SHIAN-TP1
//     port: /dev/ttyACM1          # USB-CDC
//     options: {method: core_temperature, probe_every: 30s, tz: Asia/Shanghai}
package thermometer

import (
	"fmt"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/rptlink"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "ascii-thermometer"

func init() { device.Register(Protocol, New) }

// Methods maps the thermometer's modes to the rules that decide them.
var Methods = map[asciirpt.Mode]assay.Method{
	asciirpt.ModeCook:   assay.CoreTemperature,
	asciirpt.ModeHot:    assay.HotHolding,
	asciirpt.ModeCold:   assay.ColdHolding,
	asciirpt.ModeFrozen: assay.Frozen,
}

// Driver is a running thermometer.
type Driver struct {
	*rptlink.Link
}

var (
	_ device.Instrument = Driver{}
	_ device.Triggerer  = Driver{}
)

// New builds the driver from its spec (it does not open the port).
func New(spec device.Spec, env device.Env) (device.Instrument, error) {
	var fixed assay.Method
	opt, err := rptlink.ParseOptions(spec.ID, spec.Options, rptlink.SessionKeys+", method", func(k, v string) (bool, error) {
		if k != "method" {
			return false, nil
		}
		for _, m := range Methods {
			if string(m) == v {
				fixed = m
				return true, nil
			}
		}
		return true, fmt.Errorf("device %q: options.method %q: a probe decides core_temperature, hot_holding, cold_holding or frozen", spec.ID, v)
	})
	if err != nil {
		return nil, err
	}
	l, err := rptlink.New(spec, env, opt, asciirpt.KindTemp, func(r asciirpt.Report) device.Reading {
		m := Methods[r.Mode]
		if fixed != "" {
			m = fixed
		}
		t := r.Temp
		return device.Reading{Method: m, Item: i2cbus.TemperatureItems[m], Analyte: "core_temperature", Raw: assay.Raw{CoreTemp: &t}}
	})
	if err != nil {
		return nil, err
	}
	return Driver{l}, nil
}

// Trigger implements device.Triggerer: the thermometer reports the
// probe's temperature now, as if HOLD was pressed (item is ignored: a
// probe measures one thing).
func (d Driver) Trigger(item string) error { return d.Send(asciirpt.CmdMeasure) }
