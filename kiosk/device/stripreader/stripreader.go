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
//   - A sentence that fails its checksum or grammar (protocols/strip) is
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
	"strconv"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/assay"
	"github.com/shianfood/shian/protocols/strip"
)

// Protocol is the registered protocol name.
const Protocol = "strip-reader"

func init() { device.Register(Protocol, New) }

// Options are the driver's timing and decoding settings.
type Options struct {
	Method       assay.Method
	ReadTimeout  time.Duration
	ProbeEvery   time.Duration
	ReplyTimeout time.Duration
	FailAfter    int
	BackoffMin   time.Duration
	BackoffMax   time.Duration
}

// DefaultOptions returns ratio mode, 100 ms reads, a probe every 30 s
// answered within 1 s, down after 3 failures, reopen 200 ms … 10 s.
func DefaultOptions() Options {
	return Options{Method: assay.GoldRatio, ReadTimeout: 100 * time.Millisecond, ProbeEvery: 30 * time.Second,
		ReplyTimeout: time.Second, FailAfter: 3, BackoffMin: 200 * time.Millisecond, BackoffMax: 10 * time.Second}
}

// ParseOptions reads spec options over the defaults.
func ParseOptions(id string, m map[string]string) (Options, error) {
	o := DefaultOptions()
	durs := map[string]*time.Duration{"read_timeout": &o.ReadTimeout, "probe_every": &o.ProbeEvery,
		"reply_timeout": &o.ReplyTimeout, "backoff_min": &o.BackoffMin, "backoff_max": &o.BackoffMax}
	for k, v := range m {
		switch {
		case durs[k] != nil:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("device %q: options.%s %q: want a positive duration like 1s", id, k, v)
			}
			*durs[k] = d
		case k == "fail_after":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("device %q: options.fail_after %q: want a whole number ≥ 1", id, v)
			}
			o.FailAfter = n
		case k == "mode":
			switch v {
			case "ratio":
				o.Method = assay.GoldRatio
			case "line":
				o.Method = assay.GoldLine
			default:
				return o, fmt.Errorf("device %q: options.mode %q: use ratio (T/C, 比色法) or line (T intensity, 消线法)", id, v)
			}
		default:
			return o, fmt.Errorf("device %q: unknown option %q (known: backoff_max, backoff_min, fail_after, mode, probe_every, read_timeout, reply_timeout)", id, k)
		}
	}
	if o.BackoffMax < o.BackoffMin {
		return o, fmt.Errorf("device %q: options.backoff_max %v is below backoff_min %v", id, o.BackoffMax, o.BackoffMin)
	}
	return o, nil
}

// Driver is a running strip reader.
type Driver struct {
	spec device.Spec
	env  device.Env
	opt  Options

	mu       sync.Mutex
	st       device.Status
	failures int
	port     device.Port // open port, for Trigger
	serialNo string      // from the reader's $INFO
	wmu      sync.Mutex
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
	if env.Now == nil {
		env.Now = time.Now
	}
	if spec.Model == "" {
		spec.Model = "SHIAN-SR1"
	}
	return &Driver{spec: spec, env: env, opt: opt,
		st: device.Status{ID: spec.ID, Model: spec.Model, StateS: device.StateUnknown.String()}}, nil
}

// ID implements device.Instrument.
func (d *Driver) ID() string { return d.spec.ID }

// Status implements device.Instrument.
func (d *Driver) Status() device.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// ErrNotConnected is returned by Trigger while the port is closed.
var ErrNotConnected = errors.New("strip reader not connected")

// Trigger asks the reader to read the strip in its slot now, for item
// ("" = the reader's own item). The reading arrives through Run's sink.
func (d *Driver) Trigger(item string) error {
	d.mu.Lock()
	p := d.port
	d.mu.Unlock()
	if p == nil {
		return ErrNotConnected
	}
	m := strip.Message{Kind: strip.KindRead, Item: item}
	if err := m.Validate(); err != nil {
		return err
	}
	return d.write(p, m)
}

func (d *Driver) write(p device.Port, m strip.Message) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	_, err := p.Write(m.Append(nil))
	return err
}

func (d *Driver) setState(s device.State) { d.st.State, d.st.StateS = s, s.String() }

func (d *Driver) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures++
	d.st.LastErr = err.Error()
	if d.failures >= d.opt.FailAfter {
		d.setState(device.StateDown)
	}
}

func (d *Driver) good() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures = 0
	d.st.Frames++
	d.st.LastSeen = d.env.Now()
	d.setState(device.StateReady)
}

// Run implements device.Instrument.
func (d *Driver) Run(ctx context.Context, sink func(device.Reading)) error {
	attempt := 0
	for opened := false; ; opened = true {
		healthy, err := d.session(ctx, sink, opened)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			d.fail(err)
			if d.env.Log != nil {
				d.env.Log.Warn("strip reader", "device", d.spec.ID, "err", err)
			}
		}
		if healthy {
			attempt = 0
		}
		delay := d.opt.BackoffMin << min(attempt, 16)
		delay = min(delay, d.opt.BackoffMax)
		attempt++
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

type locker interface {
	Lock(ctx context.Context) error
	Unlock()
}

// session runs one open port until it fails; healthy reports whether it
// produced at least one valid sentence.
func (d *Driver) session(ctx context.Context, sink func(device.Reading), reopen bool) (healthy bool, err error) {
	port, err := d.env.Serial.OpenSerial(d.spec.Port, device.SerialMode{Baud: d.spec.Baud})
	if err != nil {
		return false, fmt.Errorf("open %s: %w", d.spec.Port, err)
	}
	defer port.Close()
	if l, ok := port.(locker); ok {
		if err := l.Lock(ctx); err != nil {
			return false, err
		}
		defer l.Unlock()
	}
	if reopen {
		d.mu.Lock()
		d.st.Reopens++
		d.mu.Unlock()
	}
	if err := port.SetReadTimeout(d.opt.ReadTimeout); err != nil {
		return false, fmt.Errorf("set read timeout: %w", err)
	}
	_ = port.ResetInputBuffer() // bytes from before we opened are stale
	d.mu.Lock()
	d.port = port
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.port = nil
		d.mu.Unlock()
	}()

	probe := func() error { return d.write(port, strip.Message{Kind: strip.KindInfo}) }
	if err := probe(); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	probedAt := d.env.Now()
	waiting := true // for an answer to the probe
	lastHeard := probedAt
	var buf []byte
	chunk := make([]byte, 256)
	for {
		if ctx.Err() != nil {
			return healthy, nil
		}
		n, err := port.Read(chunk)
		if err != nil {
			return healthy, fmt.Errorf("read: %w", err)
		}
		now := d.env.Now()
		buf = append(buf, chunk[:n]...)
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
				d.mu.Lock()
				d.st.BadFrames++
				d.st.LastErr = "bad sentence: " + perr.Error()
				d.mu.Unlock()
				_ = port.ResetInputBuffer()
				buf = buf[:0]
				break
			}
			healthy, waiting, lastHeard = true, false, now
			d.handle(m, sink)
		}
		if len(buf) > 4*strip.MaxLine { // cannot happen with SplitLines; bound it anyway
			buf = buf[:0]
		}
		switch {
		case waiting && now.Sub(probedAt) >= d.opt.ReplyTimeout:
			d.fail(fmt.Errorf("no answer to $INFO within %v: is the reader powered and on %s at %d baud?", d.opt.ReplyTimeout, d.spec.Port, max(d.spec.Baud, 9600)))
			if d.Status().State == device.StateDown {
				return healthy, nil // reopen on the backoff
			}
			if err := probe(); err != nil {
				return healthy, fmt.Errorf("write: %w", err)
			}
			probedAt = now
		case !waiting && now.Sub(lastHeard) >= d.opt.ProbeEvery:
			if err := probe(); err != nil {
				return healthy, fmt.Errorf("write: %w", err)
			}
			probedAt, waiting = now, true
		}
	}
}

func (d *Driver) handle(m strip.Message, sink func(device.Reading)) {
	d.good()
	switch m.Kind {
	case strip.KindInfo:
		d.mu.Lock()
		if m.Model != "" {
			d.st.Model = m.Model
		}
		d.serialNo = m.Serial
		d.mu.Unlock()
	case strip.KindErr:
		d.mu.Lock()
		d.st.LastErr = "reader: " + m.Code + " " + m.Text
		d.mu.Unlock()
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
