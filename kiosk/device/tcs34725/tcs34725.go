// Package tcs34725 is the kiosk driver for the strip-reader fixture read
// directly over the Pi's I²C bus — three TCS34725 colour sensors behind a
// TCA9548A multiplexer looking at the background, C line and T line of a
// colloidal-gold strip (see protocols/device/strip) — registered as
// "i2c-tcs34725-strip".
//
// # What it measures
//
// When a strip is put in the slot, one device.Reading with the C and T
// line intensities (Raw.C, Raw.T, on the reference reader's 0–100 scale),
// decided by assay.GoldRatio (T/C against ct_a, ct_b) or assay.GoldLine
// (T against t_a, t_b; options.mode: line), with the per-item thresholds
// of the configured test item. While the strip stays in the slot nothing
// more is reported; an empty slot (dark background) re-arms the reader.
// A strip must be seen in settle+1 consecutive polls before it is read,
// so a strip still sliding in is not measured.
//
// # Sequence
//
//	init, per position: write 70 <1<<ch>, read 70 (must echo) — select the channel
//	                    write 92, read 1   ID 0x44/0x4D, else EINVALID (wrong part)
//	                    write 81 <ATIME>, write 8F <AGAIN>
//	                    write 80 01, wait 2.4 ms, write 80 03
//	                    then wait one integration time
//	read, per position: select and check the channel as above
//	                    write 93, read 1   AVALID
//	                    write B4, read 8   C R G B, checked against the maximum count
//
// The TCS34725 sends no checksum: the multiplexer echo, the ID, AVALID and
// the count range are what can be checked (a flipped data bit is not
// detectable); saturation is refused (lower gain or ATIME).
//
// # kiosk.yaml
//
//   - id: strip-i2c
//     protocol: i2c-tcs34725-strip
//     model: SHIAN-SR1 fixture
//     bus: "1"
//     addr: 0x70              # the multiplexer
//     items: [clenbuterol]
//     options: {mode: ratio, channels: "0,1,2", atime: "0xC0", gain: 4x, settle: "1", interval: 1s}
package tcs34725

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "i2c-tcs34725-strip"

// DefaultInterval is the default time between polls.
const DefaultInterval = time.Second

func init() {
	device.Register(Protocol, func(s device.Spec, e device.Env) (device.Instrument, error) { return New(s, e) })
	device.RegisterOptions(Protocol, append([]string{"channels", "atime", "gain", "mode", "settle"}, i2cbus.PollerOptions...)...)
}

// Sensor reads the fixture.
type Sensor struct {
	Mux      uint16
	Channels strip.Channels
	ATime    tcs34725.ATime
	Gain     tcs34725.Gain
	Method   assay.Method
	Item     string
	Settle   int

	seen int // consecutive polls with a strip in the slot
}

var _ i2cbus.Sensor = (*Sensor)(nil)

// New builds the instrument from its spec.
func New(spec device.Spec, env device.Env) (*i2cbus.Poller, error) {
	s, err := FromSpec(spec)
	if err != nil {
		return nil, err
	}
	return i2cbus.NewPollerFor(spec, env, s, DefaultInterval, "TCS34725 strip fixture")
}

// FromSpec reads the fixture settings from a spec.
func FromSpec(spec device.Spec) (*Sensor, error) {
	mux, err := i2cbus.Addr(spec, strip.MuxAddr, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77)
	if err != nil {
		return nil, err
	}
	bad := func(key, want string) error {
		return fmt.Errorf("device %q: options.%s %q: %s", spec.ID, key, spec.Options[key], want)
	}
	s := &Sensor{Mux: mux, Channels: strip.DefaultChannels, ATime: 0xC0, Gain: tcs34725.Gain4x, Method: assay.GoldRatio, Settle: 1}
	if len(spec.Items) != 1 || spec.Items[0] == "" {
		return nil, fmt.Errorf("device %q: items: name the one test item of the strips this fixture reads (e.g. [clenbuterol])", spec.ID)
	}
	s.Item = spec.Items[0]
	if v, ok := spec.Options["channels"]; ok {
		parts := strings.Split(v, ",")
		if len(parts) != 3 {
			return nil, bad("channels", `want three channels "background,C,T", e.g. "0,1,2"`)
		}
		for i, p := range parts {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 0 || n > 7 {
				return nil, bad("channels", "channels are 0…7")
			}
			s.Channels[i] = uint8(n)
		}
		if err := s.Channels.Validate(); err != nil {
			return nil, bad("channels", err.Error())
		}
	}
	if v, ok := spec.Options["atime"]; ok {
		n, err := strconv.ParseUint(v, 0, 8)
		if err != nil || n == 0xFF {
			return nil, bad("atime", "want a byte 0x00…0xFE (integration 2.4 ms × (256 − ATIME))")
		}
		s.ATime = tcs34725.ATime(n)
	}
	if v, ok := spec.Options["gain"]; ok {
		if s.Gain, err = tcs34725.ParseGain(v); err != nil {
			return nil, bad("gain", "use 1x, 4x, 16x or 60x")
		}
	}
	switch v := spec.Options["mode"]; v {
	case "", "ratio":
	case "line":
		s.Method = assay.GoldLine
	default:
		return nil, bad("mode", "use ratio (T/C, 比色法) or line (T intensity, 消线法)")
	}
	if err := i2cbus.OptInt(spec, "settle", &s.Settle, 0, 10); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sensor) selectPos(l i2cbus.Link, p strip.Position) error {
	sel := strip.Select(s.Channels[p])
	if err := l.Tx("select "+p.String(), s.Mux, sel, nil); err != nil {
		return err
	}
	var r [1]byte
	if err := l.Tx("read back multiplexer", s.Mux, nil, r[:]); err != nil {
		return err
	}
	if r[0] != sel[0] {
		return i2cbus.Invalid(fmt.Errorf("multiplexer at 0x%02X reads back 0x%02X after selecting 0x%02X (%s): check the TCA9548A", s.Mux, r[0], sel[0], p))
	}
	return nil
}

// Init checks and configures each sensor.
func (s *Sensor) Init(ctx context.Context, l i2cbus.Link) error {
	for p := strip.Background; p <= strip.TestLine; p++ {
		if err := s.selectPos(l, p); err != nil {
			return err
		}
		var id [1]byte
		if err := l.Tx("read ID", tcs34725.Addr, []byte{tcs34725.Cmd(tcs34725.RegID)}, id[:]); err != nil {
			return err
		}
		if _, err := tcs34725.CheckID(id[0]); err != nil {
			return i2cbus.Invalid(fmt.Errorf("%s sensor: %w", p, err))
		}
		for _, w := range [][]byte{
			tcs34725.WriteReg(tcs34725.RegATime, byte(s.ATime)),
			tcs34725.WriteReg(tcs34725.RegControl, byte(s.Gain)),
			tcs34725.WriteReg(tcs34725.RegEnable, tcs34725.EnablePON),
		} {
			if err := l.Tx("configure", tcs34725.Addr, w, nil); err != nil {
				return err
			}
		}
		if err := l.Sleep(ctx, tcs34725.PowerOnDelay); err != nil {
			return err
		}
		if err := l.Tx("enable", tcs34725.Addr, tcs34725.WriteReg(tcs34725.RegEnable, tcs34725.EnablePON|tcs34725.EnableAEN), nil); err != nil {
			return err
		}
	}
	return l.Sleep(ctx, s.ATime.Integration())
}

// ReadCounts reads the counts at one position.
func (s *Sensor) ReadCounts(l i2cbus.Link, p strip.Position) (tcs34725.Counts, error) {
	if err := s.selectPos(l, p); err != nil {
		return tcs34725.Counts{}, err
	}
	var st [1]byte
	if err := l.Tx("read status", tcs34725.Addr, []byte{tcs34725.Cmd(tcs34725.RegStatus)}, st[:]); err != nil {
		return tcs34725.Counts{}, err
	}
	if ok, _ := tcs34725.DecodeStatus(st[:]); !ok {
		return tcs34725.Counts{}, i2cbus.Device("read status", fmt.Errorf("%s sensor: %w", p, tcs34725.ErrNotValid))
	}
	var b [tcs34725.DataLen]byte
	if err := l.Tx("read counts", tcs34725.Addr, []byte{tcs34725.CmdAuto(tcs34725.RegCDataL)}, b[:]); err != nil {
		return tcs34725.Counts{}, err
	}
	c, _ := tcs34725.DecodeCounts(b[:])
	if err := c.Check(s.ATime); err != nil {
		return c, i2cbus.Invalid(fmt.Errorf("%s sensor: %w", p, err))
	}
	return c, nil
}

// Read polls the fixture and reports a strip once it has settled.
func (s *Sensor) Read(ctx context.Context, l i2cbus.Link) ([]device.Reading, error) {
	var counts [3]tcs34725.Counts
	for p := strip.Background; p <= strip.TestLine; p++ {
		c, err := s.ReadCounts(l, p)
		if err != nil {
			return nil, err
		}
		counts[p] = c
	}
	cI, err := strip.LineIntensity(counts[strip.ControlLine], counts[strip.Background])
	if err != nil { // no strip: re-arm
		s.seen = 0
		return nil, nil
	}
	tI, _ := strip.LineIntensity(counts[strip.TestLine], counts[strip.Background])
	s.seen++
	if s.seen != s.Settle+1 {
		return nil, nil
	}
	analyte := s.Item
	if a, ok := assay.GoldAnalytes[s.Item]; ok {
		analyte = a
	}
	return []device.Reading{{
		Method:  s.Method,
		Item:    s.Item,
		Analyte: analyte,
		Raw:     assay.Raw{C: assay.Ptr(cI), T: assay.Ptr(tI)},
	}}, nil
}
