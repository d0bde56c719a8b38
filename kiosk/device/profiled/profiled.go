// Package profiled reads any instrument that has a profile
// (protocols/device/profile): a device in kiosk.yaml names its profile
// instead of a protocol, and this driver reads it as the profile says —
// Modbus RTU on a serial port or an RS-485 bus, Modbus TCP, or lines of
// text. It registers as device.ProfileProtocol; device.Open sends it
// every spec that names a profile.
//
//   - id: gold-2
//     profile: LANYU-GR20        # a file in /etc/shian/profiles, or a built-in profile
//     port: /dev/ttyUSB1         # Modbus TCP: host:port
//     addr: 3                    # Modbus unit (the profile's by default)
//     items: [克伦特罗]            # the item the 测量 button selects (optional)
//     options: {poll_every: 1s, reply_timeout: 300ms, method: gold_line}
//
// # Modbus
//
// Run opens the port (the profile's line settings; kiosk.yaml's baud
// overrides), reads and checks the identity once, then reads the result
// blocks every poll_every. A result that is ready and new (its sequence
// not the last one taken) becomes a device.Reading, handed to the sink;
// only once the sink took it is it acknowledged as the profile says. A
// result presented again with the same sequence (a lost acknowledgement)
// is acknowledged again, not taken twice; with RunConfirmed, a result the
// kiosk could not store is not acknowledged and is offered again. Units
// on one RS-485 bus share the port through kiosk/serialport.Hub, one
// request/response at a time, each taking only the answer to its own
// request; a unit that fails fail_after times in a row is down and is
// probed on a capped backoff.
//
// # Text
//
// A text device is read on kiosk/device/internal/serialloop: the
// profile's probe is sent when the port opens and whenever the line is
// quiet, and every message that arrives is matched against the profile's
// patterns — a result becomes a reading (one with a serial and sequence
// seen before is taken once), an identity names the model, an error
// report is shown in the status, anything else is counted as damaged.
//
// # Readings
//
// A reading carries the method (the profile's, or options.method), the
// item and analyte from the item table, the raw values, the device's
// clock, its serial, and Report "<serial>/<sequence>", with which the
// kiosk recognises a result the device presents again after a restart.
// Model is kiosk.yaml's model, else what the device says, else the
// profile's.
package profiled

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
)

func init() { device.Register(device.ProfileProtocol, New) }

// New builds the driver of spec's profile (it does not open the port).
func New(spec device.Spec, env device.Env) (device.Instrument, error) {
	lib := env.Profiles
	if lib == nil {
		lib = profile.Builtin()
	}
	p, err := lib.Lookup(spec.Profile)
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", spec.ID, err)
	}
	if spec.Port == "" {
		if p.Transport.Kind == profile.ModbusTCP {
			return nil, fmt.Errorf("device %q: port is required: the device's host:port (e.g. 192.168.1.50:502)", spec.ID)
		}
		return nil, fmt.Errorf("device %q: port is required (the serial device, e.g. /dev/ttyUSB0)", spec.ID)
	}
	if p.Transport.Kind != profile.ModbusTCP && env.Serial == nil {
		return nil, fmt.Errorf("device %q: this kiosk has no serial opener", spec.ID)
	}
	if p.Transport.Kind == profile.Text {
		return newText(spec, env, p)
	}
	return newModbus(spec, env, p)
}

// Profile returns the profile an instrument built here reads with.
func Profile(inst device.Instrument) (*profile.Profile, bool) {
	switch d := inst.(type) {
	case *Modbus:
		return d.p, true
	case triggeredModbus:
		return d.p, true
	case *Text:
		return d.p, true
	case triggeredText:
		return d.p, true
	}
	return nil, false
}

// methodOption reads options.method: it must be one the profile can give.
func methodOption(id string, p *profile.Profile, v string) (assay.Method, error) {
	m := assay.Method(v)
	for _, x := range p.Result.Method.Methods() {
		if x == m {
			return m, nil
		}
	}
	return "", fmt.Errorf("device %q: options.method %q: profile %s decides with %v", id, v, p.Name, p.Result.Method.Methods())
}

// item finds a test item of the profile by code, analyte key or name.
func item(p *profile.Profile, s string) (profile.Item, bool) {
	s = strings.TrimSpace(s)
	for _, k := range sortedItems(p) {
		it := p.Items[k]
		if k == "" {
			continue
		}
		if strings.EqualFold(it.Analyte, s) || it.Name == s || k == s {
			return it, true
		}
	}
	return profile.Item{}, false
}

func sortedItems(p *profile.Profile) []string {
	keys := make([]string, 0, len(p.Items))
	for k := range p.Items {
		keys = append(keys, k)
	}
	// Numeric codes in numeric order, then the rest.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func less(a, b string) bool {
	x, e1 := strconv.Atoi(a)
	y, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return x < y
	}
	return a < b
}

// ItemCodes lists the codes of the profile's items in order (numeric
// codes in numeric order), without the fixed item of a profile that has
// one.
func ItemCodes(p *profile.Profile) []string {
	var out []string
	for _, k := range sortedItems(p) {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// itemNames lists the items for messages.
func itemNames(p *profile.Profile) string {
	var s []string
	for _, k := range sortedItems(p) {
		if k == "" {
			continue
		}
		it := p.Items[k]
		s = append(s, it.Name+" ("+it.Analyte+")")
	}
	return strings.Join(s, ", ")
}

// reading turns a decoded result into a device.Reading.
func reading(spec device.Spec, model, serial string, d profile.Decoded) device.Reading {
	if d.Serial != "" {
		serial = d.Serial
	}
	rd := device.Reading{DeviceID: spec.ID, Model: model, Serial: serial, Method: d.Method, Item: d.Item, Analyte: d.Analyte,
		SampleCode: d.SampleCode, SampleName: d.SampleName, Raw: d.Raw, DeviceTime: d.Time}
	if d.HasSequence {
		rd.Report = serial + "/" + strconv.FormatUint(d.Sequence, 10)
	}
	return rd
}
