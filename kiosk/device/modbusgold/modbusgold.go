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
	"strconv"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Protocol is the registered protocol name.
const Protocol = "modbus-gold"

func init() { device.Register(Protocol, New) }

// Options are the driver's timing settings.
type Options struct {
	// PollEvery is the time between result-block polls.
	PollEvery time.Duration
	// ReplyTimeout bounds the wait for an answer.
	ReplyTimeout time.Duration
	// Gap is the silence kept before each request and after a failed
	// one (0: 3.5 character times at the baud rate, at least 1.75 ms).
	Gap time.Duration
	// PauseAfterConnect is waited once after the port opens.
	PauseAfterConnect time.Duration
	// FailAfter consecutive failures make the unit down.
	FailAfter int
	// BackoffMin and BackoffMax bound the probe interval while down and
	// the reopen delay of a failed port.
	BackoffMin, BackoffMax time.Duration
	// Mode is the mode Trigger selects ("" keeps the reader's).
	Mode string
}

// DefaultOptions returns 1 s polls, 300 ms replies, down after 3
// failures, probes every 1 s … 30 s.
func DefaultOptions() Options {
	return Options{PollEvery: time.Second, ReplyTimeout: 300 * time.Millisecond, FailAfter: 3,
		BackoffMin: time.Second, BackoffMax: 30 * time.Second}
}

// ParseOptions reads spec options over the defaults.
func ParseOptions(id string, m map[string]string) (Options, error) {
	o := DefaultOptions()
	durs := map[string]*time.Duration{"poll_every": &o.PollEvery, "reply_timeout": &o.ReplyTimeout, "gap": &o.Gap,
		"pause_after_connect": &o.PauseAfterConnect, "backoff_min": &o.BackoffMin, "backoff_max": &o.BackoffMax}
	for k, v := range m {
		switch {
		case durs[k] != nil:
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || (d == 0 && k != "gap" && k != "pause_after_connect") {
				return o, fmt.Errorf("device %q: options.%s %q: want a positive duration like 1s or 300ms", id, k, v)
			}
			*durs[k] = d
		case k == "fail_after":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("device %q: options.fail_after %q: want a whole number ≥ 1", id, v)
			}
			o.FailAfter = n
		case k == "mode":
			if v != "ratio" && v != "line" {
				return o, fmt.Errorf("device %q: options.mode %q: use ratio (T/C, 比色法) or line (T intensity, 消线法)", id, v)
			}
			o.Mode = v
		default:
			return o, fmt.Errorf("device %q: unknown option %q (known: backoff_max, backoff_min, fail_after, gap, mode, pause_after_connect, poll_every, reply_timeout)", id, k)
		}
	}
	if o.BackoffMax < o.BackoffMin {
		return o, fmt.Errorf("device %q: options.backoff_max %v is below backoff_min %v", id, o.BackoffMax, o.BackoffMin)
	}
	return o, nil
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
func InterFrameGap(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(35 * 11 * int64(time.Second) / int64(10*baud))
}

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

type locker interface {
	Lock(ctx context.Context) error
	Unlock()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run implements device.Instrument: RunConfirmed with a sink that
// always takes the reading.
func (d *Driver) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.RunConfirmed(ctx, func(r device.Reading) error { sink(r); return nil })
}

// RunConfirmed implements device.Confirming: a result is acknowledged to
// the reader only once save returned nil.
func (d *Driver) RunConfirmed(ctx context.Context, save func(device.Reading) error) error {
	attempt := 0
	needIdent := true
	opened := false
	defer d.closePort()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := d.cycle(ctx, save, &needIdent, &opened)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := d.opt.PollEvery
		if err != nil {
			d.fail(err)
			needIdent = true
			if errors.Is(err, ErrPort) {
				d.closePort()
			}
		}
		if err != nil && (d.down() || errors.Is(err, ErrPort)) {
			wait = min(d.opt.BackoffMin<<min(attempt, 16), d.opt.BackoffMax)
			attempt++
		} else if err == nil {
			attempt = 0
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// cycle opens the port if needed, identifies the unit if needed, and
// polls its result block once.
func (d *Driver) cycle(ctx context.Context, save func(device.Reading) error, needIdent, opened *bool) error {
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
		if *opened {
			d.st.Reopens++
		}
		d.mu.Unlock()
		*opened, *needIdent, p = true, true, np
		if err := sleep(ctx, d.opt.PauseAfterConnect); err != nil {
			return err
		}
	}
	if *needIdent {
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
		*needIdent = false
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

// transact sends req and returns the answer to it (see the package doc,
// "Sharing the bus"). An exception answer is returned as the
// *modbus.ExceptionError.
func (d *Driver) transact(ctx context.Context, p device.Port, req modbus.Request) (modbus.Response, error) {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	if l, ok := p.(locker); ok {
		if err := l.Lock(ctx); err != nil {
			return modbus.Response{}, err
		}
		defer l.Unlock()
	}
	slice := min(20*time.Millisecond, d.opt.ReplyTimeout)
	if err := p.SetReadTimeout(slice); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: set read timeout: %w", ErrPort, err)
	}
	if err := p.ResetInputBuffer(); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: flush: %w", ErrPort, err)
	}
	if err := sleep(ctx, d.opt.Gap); err != nil {
		return modbus.Response{}, err
	}
	if _, err := p.Write(req.Bytes()); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: write: %w", ErrPort, err)
	}
	var fr modbus.Framer
	fr.Expect(&req)
	var bad error // the first damaged frame seen
	buf := make([]byte, modbus.MaxADU)
	deadline := d.env.Now().Add(d.opt.ReplyTimeout)
	for {
		n, err := p.Read(buf)
		if err != nil {
			return modbus.Response{}, fmt.Errorf("%w: read: %w", ErrPort, err)
		}
		fr.Feed(buf[:n])
		for {
			adu, ferr := fr.Next()
			if errors.Is(ferr, modbus.ErrIncomplete) {
				break
			}
			if ferr != nil {
				d.mu.Lock()
				d.st.BadFrames++
				d.mu.Unlock()
				if bad == nil && !errors.Is(ferr, modbus.ErrMismatch) {
					bad = ferr
				}
				continue
			}
			resp, perr := modbus.ParseResponse(adu)
			if perr != nil { // cannot happen: the framer returns frames that parse
				bad = perr
				continue
			}
			d.mu.Lock()
			d.st.Frames++
			d.mu.Unlock()
			if bad != nil {
				d.recover(ctx, p)
			}
			return resp, req.Check(resp)
		}
		if ctx.Err() != nil {
			return modbus.Response{}, ctx.Err()
		}
		if !d.env.Now().Before(deadline) {
			if gerr := fr.Gap(); gerr != nil && bad == nil {
				bad = gerr
			}
			d.recover(ctx, p)
			if bad != nil {
				return modbus.Response{}, fmt.Errorf("unit %d: %w", d.slave, bad)
			}
			return modbus.Response{}, fmt.Errorf("%w from unit %d on %s within %v", ErrNoAnswer, d.slave, d.spec.Port, d.opt.ReplyTimeout)
		}
	}
}

// recover lets the line go quiet and discards what arrived, so that a
// late or damaged answer is not read by the next request.
func (d *Driver) recover(ctx context.Context, p device.Port) {
	_ = sleep(ctx, d.opt.Gap)
	_ = p.ResetInputBuffer()
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
