// Package atp is the kiosk driver for ATP bioluminescence meters that
// print protocols/device/asciirpt reports on a serial port (the SHIAN-ATP1,
// firmware/atp), registered as "ascii-atp".
//
// # What it does
//
// The operator swabs a surface (a chopping board, a knife, a sink), puts
// the swab in the meter and presses its MEASURE key; the meter prints an
// ATP report. Each report becomes one device.Reading: method assay.ATP,
// Raw.RLU, the swabbed point's code as SampleCode, the meter's clock as
// DeviceTime. The verdict is the ATP rule for the reading's Model (pass ≤
// pass_max, caution ≤ fail_above, fail above; rules.atp.models in
// kiosk.yaml, because the RLU scale is the manufacturer's). A report
// printed twice (the meter's PRINT key), same serial and NO., is taken
// once. The meter measures only on its own key, so the driver has no
// Trigger.
//
// Session, probing, DOWN and reopening: see kiosk/device/internal/rptlink
// (the meter is often switched off between swabs; it then shows as down
// and comes back at its first report or answer).
//
// # kiosk.yaml
//
//   - id: atp-1
//     protocol: ascii-atp
//     model: SHIAN-ATP1         # the key of rules.atp.models
//     port: /dev/ttyUSB2
//     baud: 9600
//     options: {probe_every: 30s, reply_timeout: 1s, fail_after: "3", tz: Asia/Shanghai}
package atp

import (
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/rptlink"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "ascii-atp"

// Item is the test item of an ATP swab (表面洁净度 ATP).
const Item = "ATP表面洁净度"

func init() { device.Register(Protocol, New) }

// New builds the driver from its spec (it does not open the port).
func New(spec device.Spec, env device.Env) (device.Instrument, error) {
	opt, err := rptlink.ParseOptions(spec.ID, spec.Options, rptlink.SessionKeys, nil)
	if err != nil {
		return nil, err
	}
	return rptlink.New(spec, env, opt, asciirpt.KindATP, func(r asciirpt.Report) device.Reading {
		rlu := r.RLU
		return device.Reading{Method: assay.ATP, Item: Item, Analyte: "atp", SampleCode: r.Point, Raw: assay.Raw{RLU: &rlu}}
	})
}
