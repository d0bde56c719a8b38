// Package stripreader is the kiosk driver for the reference strip reader
// (firmware/stripreader) on a serial port, registered as "strip-reader".
//
// # What it does
//
// Run opens the configured port through env.Serial (9600 8N1 by default),
// asks the reader to identify itself ($INFO) and then listens: every
// $STRIP sentence becomes one device.Reading with the strip's C and T line
// intensities (Raw.C, Raw.T), decided by assay.GoldRatio (T/C against
// ct_a, ct_b) or, with options.mode: line, assay.GoldLine (T against t_a,
// t_b), with the thresholds of the sentence's test item. $ERR sentences
// (no strip, sensor fault) are shown in the status, not counted as device
// failures. [Driver.Trigger] asks the reader to read now ($READ), for a
// kiosk button. The reader keeps no results: a strip it reads while the
// cable is out (or before the kiosk has opened the port, whose stale
// input is flushed) is lost — the operator reads it again with Trigger.
//
// # Robustness
//
//   - A sentence that fails its checksum or grammar (protocols/device/strip) is
//     counted (Status.BadFrames), never produces a reading, and the
//     port's input is flushed; the splitter resynchronises on the next '$'.
//   - When the line has been quiet for probe_every the driver sends $INFO;
//     no answer within reply_timeout is a failure.
//   - A port that fails (USB adapter unplugged, pty closed) is closed and
//     reopened on a capped exponential backoff; after fail_after
//     consecutive failures the state is down, and it is ready again at the
//     first valid sentence.
//   - If env.Serial hands out ports with Lock(ctx)/Unlock (see
//     kiosk/serialport.Hub), the driver holds the lock while the port is
//     open: the reader pushes sentences whenever a strip goes in.
//
// # kiosk.yaml
//
//   - id: strip-1
//     protocol: strip-reader
//     model: SHIAN-SR1
//     port: /dev/ttyUSB0
//     baud: 9600
//     options: {mode: ratio, probe_every: 30s, reply_timeout: 1s, fail_after: "3"}
package stripreader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/serialloop"
	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "strip-reader"

func init() { device.Register(Protocol, New) }

// Options are the driver's timing and decoding settings.
type Options struct {
	Method assay.Method
	serialloop.Timing
}

// DefaultOptions returns ratio mode, 100 ms reads, a probe every 30 s
// answered within 1 s, down after 3 failures, reopen 200 ms … 10 s.
func DefaultOptions() Options {
	return Options{Method: assay.GoldRatio, Timing: serialloop.Timing{ReadTimeout: 100 * time.Millisecond, ProbeEvery: 30 * time.Second,
		ReplyTimeout: time.Second, FailAfter: 3, BackoffMin: 200 * time.Millisecond, BackoffMax: 10 * time.Second}}
}

// ParseOptions reads spec options over the defaults.
func ParseOptions(id string, m map[string]string) (Options, error) {
	o := DefaultOptions()
	err := o.Timing.Parse(id, m, nil, "backoff_max, backoff_min, fail_after, mode, probe_every, read_timeout, reply_timeout", func(k, v string) (bool, error) {
		if k != "mode" {
			return false, nil
		}
		switch v {
		case "ratio":
			o.Method = assay.GoldRatio
		case "line":
			o.Method = assay.GoldLine
		default:
			return true, fmt.Errorf("device %q: options.mode %q: use ratio (T/C, 比色法) or line (T intensity, 消线法)", id, v)
		}
		return true, nil
	})
	return o, err
}

// Driver is a running strip reader.
type Driver struct {
	loop *serialloop.Loop
	spec device.Spec
	opt  Options

	mu       sync.Mutex
	serialNo string // from the reader's $INFO
}

var _ device.Instrument = (*Driver)(nil)

// New builds the driver from its spec (it does not open the port).
func New(spec device.Spec, env device.Env) (device.Instrument, error) {
	if spec.Port == "" {
		return nil, fmt.Errorf("device %q: port is required (e.g. /dev/ttyUSB0)", spec.ID)
	}
	if env.Serial == nil {
		return nil, fmt.Errorf("device %q: this kiosk has no serial opener", spec.ID)
	}
	opt, err := ParseOptions(spec.ID, spec.Options)
	if err != nil {
		return nil, err
	}
	if spec.Model == "" {
		spec.Model = "SHIAN-SR1"
	}
	return &Driver{loop: serialloop.New(spec, env, opt.Timing, "strip reader"), spec: spec, opt: opt}, nil
}

// ID implements device.Instrument.
func (d *Driver) ID() string { return d.spec.ID }

// Status implements device.Instrument.
func (d *Driver) Status() device.Status { return d.loop.Status() }

// ErrNotConnected is returned by Trigger while the port is closed.
var ErrNotConnected = errors.New("strip reader not connected")

// Trigger asks the reader to read the strip in its slot now, for item
// ("" = the reader's own item). The reading arrives through Run's sink.
func (d *Driver) Trigger(item string) error {
	p := d.loop.Port()
	if p == nil {
		return ErrNotConnected
	}
	m := strip.Message{Kind: strip.KindRead, Item: item}
	if err := m.Validate(); err != nil {
		return err
	}
	return d.loop.Write(p, m.Append(nil))
}

// Run implements device.Instrument.
func (d *Driver) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.loop.Run(ctx, func(port device.Port) serialloop.Session {
		var buf []byte
		return serialloop.Session{
			Probe:    func() error { return d.loop.Write(port, strip.Message{Kind: strip.KindInfo}.Append(nil)) },
			NoAnswer: fmt.Errorf("no answer to $INFO within %v: is the reader powered and on %s at %d baud?", d.opt.ReplyTimeout, d.spec.Port, max(d.spec.Baud, 9600)),
			Feed: func(_ time.Time, b []byte) (heard bool) {
				buf = append(buf, b...)
				for {
					adv, tok, _ := strip.SplitLines(buf, false)
					if adv == 0 {
						break
					}
					buf = buf[adv:]
					if tok == nil {
						continue
					}
					m, perr := strip.Parse(tok)
					if perr != nil {
						d.loop.Update(func(st *device.Status) {
							st.BadFrames++
							st.LastErr = "bad sentence: " + perr.Error()
						})
						_ = port.ResetInputBuffer()
						buf = buf[:0]
						break
					}
					heard = true
					d.handle(m, sink)
				}
				if len(buf) > 4*strip.MaxLine { // cannot happen with SplitLines; bound it anyway
					buf = buf[:0]
				}
				return heard
			},
		}
	})
}

func (d *Driver) handle(m strip.Message, sink func(device.Reading)) {
	d.loop.Good()
	switch m.Kind {
	case strip.KindInfo:
		if m.Model != "" {
			d.loop.Update(func(st *device.Status) { st.Model = m.Model })
		}
		d.mu.Lock()
		d.serialNo = m.Serial
		d.mu.Unlock()
	case strip.KindErr:
		d.loop.Update(func(st *device.Status) { st.LastErr = "reader: " + m.Code + " " + m.Text })
	case strip.KindStrip:
		analyte := m.Item
		if a, ok := assay.GoldAnalytes[m.Item]; ok {
			analyte = a
		}
		c, t := m.C, m.T
		sink(device.Reading{
			DeviceID: d.spec.ID,
			Model:    d.spec.Model,
			Serial:   d.serial(),
			Method:   d.opt.Method,
			Item:     m.Item,
			Analyte:  analyte,
			Raw:      assay.Raw{C: &c, T: &t},
		})
	}
}

func (d *Driver) serial() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.serialNo
}
