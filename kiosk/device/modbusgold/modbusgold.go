// Package modbusgold is the kiosk driver for SHIAN-GC1 colloidal-gold card
// readers (firmware/cardreader, register map in its README) on an RS-485
// Modbus RTU bus, registered as "modbus-gold". Several readers share one
// bus: each is its own device in kiosk.yaml, with the same port and its own
// address.
//
// # What it does
//
// Run opens the port through env.Serial (9600 8N1 by default), reads the
// reader's identity block once (DEVICE_ID must be "GC"), then polls its
// result block every poll_every. A result with RESULT_READY = 1 and a
// sequence number it has not taken yet becomes one device.Reading — C and
// T line intensities (Raw.C, Raw.T), method assay.GoldRatio or
// assay.GoldLine from the result's MODE, the item from its ITEM code —
// handed to the sink; only then does the driver write the sequence to
// ACK. The driver is a device.Confirming instrument: with RunConfirmed,
// a result the kiosk could not store (save returned an error) is not
// acknowledged, and the reader presents it again at the next poll. A
// result whose acknowledgement was lost shows again with the same
// sequence: it is acknowledged again, not re-emitted. Every reading
// carries Report "<serial>/<sequence>", so a kiosk killed between saving
// a result and acknowledging it recognises the result when the reader
// presents it again after the restart.
// [Driver.Trigger] selects the configured item and mode and measures the
// card in the slot now.
//
// # Sharing the bus
//
// The drivers of one bus share one port through kiosk/serialport.Hub and
// take its lock for one request/response at a time; nobody holds it
// longer than reply_timeout plus the inter-frame gap. Every transaction
// flushes the port's input, waits the RTU inter-frame gap (3.5 character
// times, at least 1.75 ms) and sends; it accepts only the answer to its
// own request (the same slave, function and count — modbus.Framer.Expect),
// so a late answer from another unit that timed out is skipped as stale,
// never taken for this one's. After a timeout or a damaged answer it
// waits the gap again and flushes before it lets go of the port.
//
// # Failures
//
//   - Each unit counts its own consecutive failures (no answer, a CRC or
//     framing error, an exception); after fail_after it is down, and it is
//     probed (identity read) on a capped exponential backoff instead of
//     polled: a dead unit costs the bus one request per backoff, and
//     never stalls the others.
//   - A port that fails (USB adapter unplugged) is closed and reopened on
//     the same backoff; the Hub opens one fresh port for all its units.
//   - Bytes that fail the CRC or the frame checks never produce a
//     reading (Status.BadFrames counts them); the result block is also
//     checked for consistency (protocols/device/goldcard).
//
// # kiosk.yaml
//
//   - id: gold-1
//     protocol: modbus-gold
//     model: SHIAN-GC1
//     port: /dev/ttyUSB1        # the RS-485 adapter; all units of the bus name it
//     baud: 9600
//     addr: 1                   # Modbus slave address 1…247
//     items: [克伦特罗]           # item Trigger selects when the operator names none (optional)
//     options: {mode: ratio, poll_every: 1s, reply_timeout: 300ms, fail_after: "3", backoff_min: 1s, backoff_max: 30s}
package modbusgold

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/modbusunit"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "modbus-gold"

func init() { device.Register(Protocol, New) }

// Options are the driver's settings: the unit's timing (poll_every,
// reply_timeout, gap, pause_after_connect, fail_after, backoff_min,
// backoff_max) and the mode.
type Options struct {
	modbusunit.Timing
	// Mode is the mode Trigger selects ("" keeps the reader's).
	Mode string
}

// DefaultOptions returns 1 s polls, 300 ms replies, down after 3
// failures, probes every 1 s … 30 s.
func DefaultOptions() Options { return Options{Timing: modbusunit.DefaultTiming()} }

// ParseOptions reads spec options over the defaults.
func ParseOptions(id string, m map[string]string) (Options, error) {
	o := DefaultOptions()
	err := o.Timing.Parse(id, m, "mode, "+modbusunit.Keys, func(k, v string) (bool, error) {
		if k != "mode" {
			return false, nil
		}
		if v != "ratio" && v != "line" {
			return true, fmt.Errorf("device %q: options.mode %q: use ratio (T/C, 比色法) or line (T intensity, 消线法)", id, v)
		}
		o.Mode = v
		return true, nil
	})
	return o, err
}

// Errors of a transaction, besides the protocols/device/modbus ones.
var (
	// ErrNoAnswer: the unit did not answer within reply_timeout.
	ErrNoAnswer = errors.New("modbus-gold: no answer")
	// ErrPort: the port failed (not a timeout); it is reopened.
	ErrPort = errors.New("modbus-gold: port failed")
)

// Driver is one card reader on a bus.
type Driver struct {
	spec  device.Spec
	env   device.Env
	opt   Options
	slave byte
	item  goldcard.Item // selected by Trigger; 0 keeps the reader's
	baud  int

	txMu sync.Mutex // one transaction at a time (Run and Trigger)

	mu       sync.Mutex
	st       device.Status
	failures int
	port     device.Port
	opened   bool // a port was opened before: the next open is a reopen
	ident    goldcard.Identity
	lastSeq  uint16
	haveSeq  bool
}

var (
	_ device.Instrument = (*Driver)(nil)
	_ device.Confirming = (*Driver)(nil)
	_ device.Triggerer  = (*Driver)(nil)
	_ device.PortSharer = (*Driver)(nil)
)

// SharesPort implements device.PortSharer: the units of one RS-485 bus
// share its port.
func (d *Driver) SharesPort() bool { return true }

// New builds the driver from its spec (it does not open the port).
func New(spec device.Spec, env device.Env) (device.Instrument, error) {
	if spec.Port == "" {
		return nil, fmt.Errorf("device %q: port is required (the RS-485 adapter, e.g. /dev/ttyUSB1)", spec.ID)
	}
	if env.Serial == nil {
		return nil, fmt.Errorf("device %q: this kiosk has no serial opener", spec.ID)
	}
	if spec.Addr == 0 {
		spec.Addr = 1
	}
	if spec.Addr > modbus.MaxSlave {
		return nil, fmt.Errorf("device %q: addr %d: a Modbus slave address is 1…%d", spec.ID, spec.Addr, modbus.MaxSlave)
	}
	opt, err := ParseOptions(spec.ID, spec.Options)
	if err != nil {
		return nil, err
	}
	d := &Driver{spec: spec, env: env, opt: opt, slave: byte(spec.Addr), baud: spec.Baud}
	if d.baud == 0 {
		d.baud = 9600
	}
	switch len(spec.Items) {
	case 0:
	case 1:
		it, ok := goldcard.ItemByName(spec.Items[0])
		if !ok {
			return nil, fmt.Errorf("device %q: items: %q is not an item of the card reader (known: %s)", spec.ID, spec.Items[0], itemNames())
		}
		d.item = it.Code
	default:
		return nil, fmt.Errorf("device %q: items: name at most one item, the one Trigger selects", spec.ID)
	}
	if d.opt.Gap == 0 {
		d.opt.Gap = InterFrameGap(d.baud)
	}
	if d.env.Now == nil {
		d.env.Now = time.Now
	}
	if spec.Model == "" {
		d.spec.Model = "SHIAN-GC1"
	}
	d.st = device.Status{ID: spec.ID, Model: d.spec.Model}
	return d, nil
}

func itemNames() string {
	s := ""
	for i, it := range goldcard.Items {
		if i > 0 {
			s += ", "
		}
		s += it.Name + " (" + it.Analyte + ")"
	}
	return s
}

// InterFrameGap returns the RTU silence between frames at baud: 3.5
// character times of 11 bits, or 1.75 ms above 19200 baud.
func InterFrameGap(baud int) time.Duration { return modbusunit.InterFrameGap(baud) }

// ID implements device.Instrument.
func (d *Driver) ID() string { return d.spec.ID }

// Status implements device.Instrument.
func (d *Driver) Status() device.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

func (d *Driver) setState(s device.State) { d.st.State = s }

// fail records a failed poll or probe.
func (d *Driver) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures++
	d.st.LastErr = err.Error()
	if errors.Is(err, goldcard.ErrValue) { // damaged frames are counted by transact
		d.st.BadFrames++
	}
	if errors.Is(err, ErrNoAnswer) {
		d.st.Timeouts++
	}
	if d.failures >= d.opt.FailAfter && d.st.State != device.StateDown {
		d.setState(device.StateDown)
		if d.env.Log != nil {
			d.env.Log.Warn("card reader down", "device", d.spec.ID, "addr", d.slave, "err", err, "probe_every", d.opt.BackoffMin)
		}
	}
}

func (d *Driver) good(status uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures = 0
	d.st.LastSeen = d.env.Now()
	if status&goldcard.StatusMeasuring != 0 {
		d.setState(device.StateMeasuring)
	} else {
		d.setState(device.StateReady)
	}
}

func (d *Driver) down() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.State == device.StateDown
}

// Run implements device.Instrument: RunConfirmed with a sink that
// always takes the reading.
func (d *Driver) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.RunConfirmed(ctx, func(r device.Reading) error { sink(r); return nil })
}

// RunConfirmed implements device.Confirming: a result is acknowledged to
// the reader only once save returned nil.
func (d *Driver) RunConfirmed(ctx context.Context, save func(device.Reading) error) error {
	return modbusunit.Poll{
		Timing:    d.opt.Timing,
		Cycle:     func(ctx context.Context, identify bool) error { return d.cycle(ctx, save, identify) },
		Fail:      d.fail,
		Down:      d.down,
		ClosePort: d.closePort,
		Err:       errs,
	}.Run(ctx)
}

var errs = modbusunit.Errors{Port: ErrPort, NoAnswer: ErrNoAnswer}

// cycle opens the port if needed, identifies the unit if needed, and
// polls its result block once.
func (d *Driver) cycle(ctx context.Context, save func(device.Reading) error, identify bool) error {
	d.mu.Lock()
	p := d.port
	d.mu.Unlock()
	if p == nil {
		np, err := d.env.Serial.OpenSerial(d.spec.Port, device.SerialMode{Baud: d.spec.Baud})
		if err != nil {
			return fmt.Errorf("%w: open %s: %w", ErrPort, d.spec.Port, err)
		}
		d.mu.Lock()
		d.port = np
		if d.opened {
			d.st.Reopens++
		}
		d.opened = true
		d.mu.Unlock()
		identify, p = true, np
		if err := modbusunit.Sleep(ctx, d.opt.PauseAfterConnect); err != nil {
			return err
		}
	}
	if identify {
		resp, err := d.transact(ctx, p, modbus.ReadInput(d.slave, goldcard.IdentityAddr, goldcard.IdentityLen))
		if err != nil {
			return fmt.Errorf("identity: %w", err)
		}
		id, err := goldcard.DecodeIdentity(resp.Values)
		if err != nil {
			return fmt.Errorf("identity of unit %d on %s: %w", d.slave, d.spec.Port, err)
		}
		d.mu.Lock()
		if id.Serial != d.ident.Serial {
			d.haveSeq = false // another reader at this address: its sequences are its own
		}
		d.ident = id
		if d.spec.Model == "SHIAN-GC1" && id.Model != "" {
			d.st.Model = id.Model
		}
		d.mu.Unlock()
	}
	resp, err := d.transact(ctx, p, modbus.ReadInput(d.slave, goldcard.ResultAddr, goldcard.ResultLen))
	if err != nil {
		return fmt.Errorf("result block: %w", err)
	}
	res, err := goldcard.DecodeResult(resp.Values)
	if err != nil {
		return fmt.Errorf("result block of unit %d: %w", d.slave, err)
	}
	d.good(res.Status)
	if !res.Ready {
		return nil
	}
	d.mu.Lock()
	seen := d.haveSeq && d.lastSeq == res.Seq
	d.mu.Unlock()
	if !seen {
		if err := save(d.reading(res)); err != nil {
			// Not stored: leave it in the reader, offer it again at the
			// next poll. Not the unit's failure.
			if d.env.Log != nil {
				d.env.Log.Warn("card reader result not stored; the reader keeps it", "device", d.spec.ID, "seq", res.Seq, "err", err)
			}
			return nil
		}
		d.mu.Lock()
		d.lastSeq, d.haveSeq = res.Seq, true
		d.mu.Unlock()
	}
	if _, err := d.transact(ctx, p, modbus.WriteSingle(d.slave, goldcard.RegAck, res.Seq)); err != nil {
		return fmt.Errorf("acknowledge result %d: %w", res.Seq, err)
	}
	return nil
}

// reading converts a result.
func (d *Driver) reading(res goldcard.Result) device.Reading {
	it, _ := goldcard.Lookup(res.Item)
	m := assay.GoldRatio
	if res.Mode == goldcard.ModeLine {
		m = assay.GoldLine
	}
	c, t := res.C, res.T
	d.mu.Lock()
	defer d.mu.Unlock()
	return device.Reading{
		DeviceID:   d.spec.ID,
		Model:      d.st.Model,
		Serial:     d.ident.Serial,
		Method:     m,
		Item:       it.Name,
		Analyte:    it.Analyte,
		Raw:        assay.Raw{C: &c, T: &t},
		DeviceTime: res.Time,
		Report:     fmt.Sprintf("%s/%d", d.ident.Serial, res.Seq),
	}
}

func (d *Driver) closePort() {
	d.mu.Lock()
	p := d.port
	d.port = nil
	d.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

// transact sends req and returns the answer to it, one transaction at a
// time (see the package doc, "Sharing the bus"). An exception answer is
// returned as the *modbus.ExceptionError.
func (d *Driver) transact(ctx context.Context, p device.Port, req modbus.Request) (modbus.Response, error) {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	return modbusunit.RTU{Unit: d.slave, PortName: d.spec.Port, ReplyTimeout: d.opt.ReplyTimeout, Gap: d.opt.Gap,
		Now: d.env.Now, Count: d.countFrame, Err: errs}.Transact(ctx, p, req)
}

func (d *Driver) countFrame(good bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if good {
		d.st.Frames++
	} else {
		d.st.BadFrames++
	}
}

// Trigger implements device.Triggerer: it selects item (by its Chinese
// name or analyte key; "" = the configured item, or the reader's own)
// and the configured mode, and has the reader measure the card in its
// slot. The result arrives through Run's sink at the next poll.
func (d *Driver) Trigger(item string) error {
	code := d.item
	if item != "" {
		it, ok := goldcard.ItemByName(item)
		if !ok {
			return fmt.Errorf("读卡仪不支持该项目 / the card reader has no item %q (known: %s)", item, itemNames())
		}
		code = it.Code
	}
	d.mu.Lock()
	p := d.port
	d.mu.Unlock()
	if p == nil {
		return fmt.Errorf("card reader %q: %w (is it powered and on %s?)", d.spec.ID, device.ErrNotConnected, d.spec.Port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.opt.ReplyTimeout+time.Second)
	defer cancel()
	req := modbus.WriteSingle(d.slave, goldcard.RegCommand, goldcard.CmdMeasure)
	if code != 0 {
		mode := goldcard.ModeRatio
		if d.opt.Mode == "line" {
			mode = goldcard.ModeLine
		}
		req = modbus.WriteMultiple(d.slave, goldcard.RegItemSelect, uint16(code), uint16(mode), goldcard.CmdMeasure)
	}
	_, err := d.transact(ctx, p, req)
	var ee *modbus.ExceptionError
	if errors.As(err, &ee) {
		switch ee.Code {
		case modbus.ServerDeviceFailure:
			return fmt.Errorf("读卡仪未检测到检测卡 / no card in the reader's slot (or its optics failed): %w", err)
		case modbus.ServerDeviceBusy:
			return fmt.Errorf("读卡仪结果未取走 / the reader holds results not yet collected: %w", err)
		}
	}
	if errors.Is(err, ErrPort) {
		return fmt.Errorf("%w: %w", device.ErrNotConnected, err)
	}
	return err
}
