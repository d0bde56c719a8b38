package profiled

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/modbusunit"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Options are a Modbus device's timing (poll_every, reply_timeout, gap,
// pause_after_connect, fail_after, backoff_min, backoff_max; the poll and
// reply times default to the profile's) and choices (kiosk.yaml options).
type Options struct {
	modbusunit.Timing
	// Method fixes the method (one the profile can give); "" takes the
	// device's.
	Method assay.Method
}

func parseModbusOptions(spec device.Spec, p *profile.Profile) (Options, error) {
	o := Options{Timing: modbusunit.DefaultTiming()}
	o.PollEvery, o.ReplyTimeout = p.Transport.PollEvery, p.Transport.ReplyTimeout
	err := o.Timing.Parse(spec.ID, spec.Options, "method, "+modbusunit.Keys, func(k, v string) (bool, error) {
		if k != "method" {
			return false, nil
		}
		m, err := methodOption(spec.ID, p, v)
		o.Method = m
		return true, err
	})
	return o, err
}

// Errors of a transaction, besides the protocols/device/modbus ones.
var (
	// ErrNoAnswer: the unit did not answer within reply_timeout.
	ErrNoAnswer = errors.New("profiled: no answer")
	// ErrPort: the port or connection failed (not a timeout); it is
	// reopened.
	ErrPort = errors.New("profiled: port failed")
)

// Modbus is one Modbus device read from its profile.
type Modbus struct {
	spec  device.Spec
	env   device.Env
	p     *profile.Profile
	opt   Options
	unit  byte
	baud  int
	item  string // item code Trigger selects when the operator names none
	model string // kiosk.yaml's model ("" when not given)

	txMu sync.Mutex // one transaction at a time (Run, Trigger, Probe)

	mu       sync.Mutex
	st       device.Status
	failures int
	conn     mbLink
	opened   bool // a link was opened before: the next open is a reopen
	ident    profile.Ident
	lastSeq  uint64
	haveSeq  bool
}

// triggeredModbus is a Modbus device whose profile has a trigger: only it
// implements device.Triggerer, so the screen offers 测量 for it alone.
type triggeredModbus struct{ *Modbus }

var (
	_ device.Instrument = (*Modbus)(nil)
	_ device.Confirming = (*Modbus)(nil)
	_ device.Triggerer  = triggeredModbus{}
)

func newModbus(spec device.Spec, env device.Env, p *profile.Profile) (device.Instrument, error) {
	d, err := buildModbus(spec, env, p)
	if err != nil {
		return nil, err
	}
	if p.Trigger != nil {
		return triggeredModbus{d}, nil
	}
	return d, nil
}

func buildModbus(spec device.Spec, env device.Env, p *profile.Profile) (*Modbus, error) {
	opt, err := parseModbusOptions(spec, p)
	if err != nil {
		return nil, err
	}
	d := &Modbus{spec: spec, env: env, p: p, opt: opt, unit: p.Transport.Unit, baud: p.Transport.Baud, model: spec.Model}
	if spec.Addr != 0 {
		if spec.Addr > modbus.MaxSlave {
			return nil, fmt.Errorf("device %q: addr %d: a Modbus unit address is 1…%d", spec.ID, spec.Addr, modbus.MaxSlave)
		}
		d.unit = byte(spec.Addr)
	}
	if spec.Baud != 0 {
		d.baud = spec.Baud
	}
	switch len(spec.Items) {
	case 0:
	case 1:
		it, ok := item(p, spec.Items[0])
		if !ok {
			return nil, fmt.Errorf("device %q: items: %q is not an item of profile %s (known: %s)", spec.ID, spec.Items[0], p.Name, itemNames(p))
		}
		d.item = it.Code
	default:
		return nil, fmt.Errorf("device %q: items: name at most one item, the one the 测量 button selects", spec.ID)
	}
	if d.opt.Gap == 0 {
		d.opt.Gap = modbusunit.InterFrameGap(d.baud)
	}
	if d.env.Now == nil {
		d.env.Now = time.Now
	}
	d.st = device.Status{ID: spec.ID, Model: d.modelName()}
	return d, nil
}

// modelName is kiosk.yaml's model, else the device's own, else the
// profile's. Caller holds mu (or is building d).
func (d *Modbus) modelName() string {
	switch {
	case d.model != "":
		return d.model
	case d.ident.Model != "":
		return d.ident.Model
	}
	return d.p.Model
}

// ID implements device.Instrument.
func (d *Modbus) ID() string { return d.spec.ID }

// Status implements device.Instrument.
func (d *Modbus) Status() device.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

func (d *Modbus) setState(s device.State) { d.st.State = s }

func (d *Modbus) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures++
	d.st.LastErr = err.Error()
	if errors.Is(err, profile.ErrValue) || errors.Is(err, profile.ErrIdentity) {
		d.st.BadFrames++
	}
	if d.failures >= d.opt.FailAfter && d.st.State != device.StateDown {
		d.setState(device.StateDown)
		if d.env.Log != nil {
			d.env.Log.Warn("instrument down", "device", d.spec.ID, "profile", d.p.Name, "unit", d.unit, "err", err, "probe_every", d.opt.BackoffMin)
		}
	}
}

func (d *Modbus) good(r profile.Decoded) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures = 0
	d.st.LastSeen = d.env.Now()
	switch {
	case r.Fault:
		d.setState(device.StateReady)
		d.st.LastErr = "instrument reports a fault"
	case r.Busy:
		d.setState(device.StateMeasuring)
	default:
		d.setState(device.StateReady)
	}
}

func (d *Modbus) down() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.State == device.StateDown
}

// Run implements device.Instrument.
func (d *Modbus) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.RunConfirmed(ctx, func(r device.Reading) error { sink(r); return nil })
}

// RunConfirmed implements device.Confirming: a result is acknowledged to
// the device only once save returned nil.
func (d *Modbus) RunConfirmed(ctx context.Context, save func(device.Reading) error) error {
	return modbusunit.Poll{
		Timing:    d.opt.Timing,
		Cycle:     func(ctx context.Context, identify bool) error { return d.cycle(ctx, save, identify) },
		Fail:      d.fail,
		Down:      d.down,
		ClosePort: d.closeLink,
		Err:       errs,
	}.Run(ctx)
}

var errs = modbusunit.Errors{Port: ErrPort, NoAnswer: ErrNoAnswer}

// open connects (the serial port or the TCP connection) if needed.
func (d *Modbus) open(ctx context.Context) (mbLink, error) {
	d.mu.Lock()
	l := d.conn
	d.mu.Unlock()
	if l != nil {
		return l, nil
	}
	var err error
	if d.p.Transport.Kind == profile.ModbusTCP {
		l, err = dialTCP(ctx, d)
	} else {
		l, err = openRTU(d)
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conn = l
	if d.opened {
		d.st.Reopens++
	}
	d.opened = true
	d.mu.Unlock()
	return l, modbusunit.Sleep(ctx, d.opt.PauseAfterConnect)
}

// readBlocks reads the blocks into registers.
func (d *Modbus) readBlocks(ctx context.Context, l mbLink, reads []profile.Read) (profile.Registers, error) {
	regs := profile.Registers{}
	for _, r := range reads {
		req := modbus.ReadHolding(d.unit, r.Start, r.Count)
		if r.Table == profile.Input {
			req = modbus.ReadInput(d.unit, r.Start, r.Count)
		}
		resp, err := d.transact(ctx, l, req)
		if err != nil {
			return nil, fmt.Errorf("%s registers 0x%04X+%d: %w", r.Table, r.Start, r.Count, err)
		}
		regs.Put(r.Table, r.Start, resp.Values)
	}
	return regs, nil
}

func (d *Modbus) identify(ctx context.Context, l mbLink) (profile.Registers, error) {
	if d.p.Identity == nil {
		return nil, nil
	}
	regs, err := d.readBlocks(ctx, l, d.p.Identity.Reads)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	id, err := d.p.DecodeIdentity(regs)
	if err != nil {
		return regs, fmt.Errorf("identity of unit %d on %s: %w", d.unit, d.spec.Port, err)
	}
	d.mu.Lock()
	if id.Serial != d.ident.Serial {
		d.haveSeq = false // another device at this address: its sequences are its own
	}
	d.ident = id
	d.st.Model = d.modelName()
	d.mu.Unlock()
	return regs, nil
}

// cycle connects and identifies if needed, then polls the result once.
func (d *Modbus) cycle(ctx context.Context, save func(device.Reading) error, identify bool) error {
	l, err := d.open(ctx)
	if err != nil {
		return err
	}
	if identify {
		if _, err := d.identify(ctx, l); err != nil {
			return err
		}
	}
	regs, err := d.readBlocks(ctx, l, d.p.Result.Reads)
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	res, err := d.p.DecodeResult(regs, d.opt.Method)
	if err != nil {
		return fmt.Errorf("result of unit %d: %w", d.unit, err)
	}
	d.good(res)
	if !res.Ready {
		return nil
	}
	d.mu.Lock()
	seen := d.haveSeq && res.HasSequence && d.lastSeq == res.Sequence
	rd := reading(d.spec, d.modelName(), d.ident.Serial, res)
	d.mu.Unlock()
	if !seen {
		if err := save(rd); err != nil {
			if d.env.Log != nil {
				d.env.Log.Warn("result not stored; the instrument keeps it", "device", d.spec.ID, "report", rd.Report, "err", err)
			}
			return nil
		}
		d.mu.Lock()
		d.lastSeq, d.haveSeq = res.Sequence, res.HasSequence
		d.mu.Unlock()
	}
	if a := d.p.Result.Ack; a != nil {
		v := a.ValueConst
		if a.Sequence {
			v = uint16(res.Sequence)
		}
		if _, err := d.transact(ctx, l, modbus.WriteSingle(d.unit, a.Register, v)); err != nil {
			return fmt.Errorf("acknowledge result %d: %w", res.Sequence, err)
		}
	}
	return nil
}

func (d *Modbus) closeLink() {
	d.mu.Lock()
	l := d.conn
	d.conn = nil
	d.mu.Unlock()
	if l != nil {
		l.close()
	}
}

// transact sends req and returns the answer to it.
func (d *Modbus) transact(ctx context.Context, l mbLink, req modbus.Request) (modbus.Response, error) {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	return l.transact(ctx, req)
}

func (d *Modbus) countFrame(good bool) {
	d.mu.Lock()
	if good {
		d.st.Frames++
	} else {
		d.st.BadFrames++
	}
	d.mu.Unlock()
}

// mbLink is an open connection to the unit.
type mbLink interface {
	transact(ctx context.Context, req modbus.Request) (modbus.Response, error)
	close()
}

// rtuLink is a serial port (shared with the other units of its bus when
// the opener is a kiosk/serialport.Hub).
type rtuLink struct {
	d    *Modbus
	port device.Port
}

func openRTU(d *Modbus) (mbLink, error) {
	t := d.p.Transport
	p, err := d.env.Serial.OpenSerial(d.spec.Port, device.SerialMode{Baud: d.baud, DataBits: t.DataBits, Parity: t.Parity, StopBits: t.StopBits})
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrPort, d.spec.Port, err)
	}
	return &rtuLink{d: d, port: p}, nil
}

func (l *rtuLink) close() { l.port.Close() }

// transact: one transaction on the bus (modbusunit.RTU.Transact).
func (l *rtuLink) transact(ctx context.Context, req modbus.Request) (modbus.Response, error) {
	d := l.d
	return modbusunit.RTU{Unit: d.unit, PortName: d.spec.Port, ReplyTimeout: d.opt.ReplyTimeout, Gap: d.opt.Gap,
		Now: d.env.Now, Count: d.countFrame, Err: errs}.Transact(ctx, l.port, req)
}

// tcpLink is a Modbus TCP connection.
type tcpLink struct {
	d   *Modbus
	c   net.Conn
	tid uint16
	buf []byte
}

func dialTCP(ctx context.Context, d *Modbus) (mbLink, error) {
	dial := d.env.Dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, max(d.opt.ReplyTimeout, 3*time.Second))
	defer cancel()
	c, err := dial(dctx, "tcp", d.spec.Port)
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrPort, d.spec.Port, err)
	}
	return &tcpLink{d: d, c: c}, nil
}

func (l *tcpLink) close() { l.c.Close() }

func (l *tcpLink) transact(ctx context.Context, req modbus.Request) (modbus.Response, error) {
	d := l.d
	l.tid++
	b, err := req.AppendTCP(nil, l.tid)
	if err != nil {
		return modbus.Response{}, err
	}
	// The connection's own deadline is on the wall clock.
	l.c.SetDeadline(time.Now().Add(d.opt.ReplyTimeout))
	if _, err := l.c.Write(b); err != nil {
		return modbus.Response{}, fmt.Errorf("%w: write: %w", ErrPort, err)
	}
	chunk := make([]byte, modbus.MaxADU+8)
	for {
		n, err := modbus.TCPFrameLen(l.buf)
		if err == nil && len(l.buf) >= n {
			frame := l.buf[:n]
			l.buf = append(l.buf[:0], l.buf[n:]...)
			tid, resp, perr := modbus.ParseTCPResponse(frame)
			if perr != nil {
				d.countFrame(false)
				return modbus.Response{}, fmt.Errorf("%w: %w", ErrPort, perr) // a TCP stream cannot resynchronise
			}
			if tid != l.tid {
				d.countFrame(false)
				continue // the late answer to an earlier request
			}
			d.countFrame(true)
			return resp, req.Check(resp)
		}
		if err != nil && !errors.Is(err, modbus.ErrIncomplete) {
			return modbus.Response{}, fmt.Errorf("%w: %w", ErrPort, err)
		}
		m, rerr := l.c.Read(chunk)
		l.buf = append(l.buf, chunk[:m]...)
		if rerr != nil {
			var ne net.Error
			if errors.As(rerr, &ne) && ne.Timeout() {
				l.buf = l.buf[:0]
				return modbus.Response{}, fmt.Errorf("%w from unit %d at %s within %v", ErrNoAnswer, d.unit, d.spec.Port, d.opt.ReplyTimeout)
			}
			return modbus.Response{}, fmt.Errorf("%w: read: %w", ErrPort, rerr)
		}
		if ctx.Err() != nil {
			return modbus.Response{}, ctx.Err()
		}
	}
}

// Trigger implements device.Triggerer (for a profile with a trigger): it writes the profile's trigger
// (selecting item, by code, analyte key or name — "" the configured one —
// and the method) and the device measures; the result arrives through
// Run's sink at the next poll.
func (t triggeredModbus) Trigger(itemName string) error { return t.trigger(itemName) }

func (d *Modbus) trigger(itemName string) error {
	t := d.p.Trigger
	code := d.item
	if itemName != "" {
		it, ok := item(d.p, itemName)
		if !ok {
			return fmt.Errorf("仪器不支持该项目 / %s has no item %q (known: %s)", d.p.Model, itemName, itemNames(d.p))
		}
		code = it.Code
	}
	if code == "" && t.WithoutItem != nil {
		t = t.WithoutItem
	}
	vals := make([]uint16, 0, len(t.Values))
	for _, v := range t.Values {
		switch v {
		case "item":
			if code == "" {
				return fmt.Errorf("%s: choose the test item first (items in kiosk.yaml, or on the screen)", d.spec.ID)
			}
			n, _ := strconv.ParseUint(code, 10, 16)
			vals = append(vals, uint16(n))
		case "method":
			m := d.opt.Method
			if m == "" {
				m = d.p.Result.Method.Default
			}
			c, _ := d.p.Result.Method.Code(m)
			n, _ := strconv.ParseUint(c, 10, 16)
			vals = append(vals, uint16(n))
		default:
			n, _ := strconv.ParseUint(v, 0, 16)
			vals = append(vals, uint16(n))
		}
	}
	d.mu.Lock()
	l := d.conn
	d.mu.Unlock()
	if l == nil {
		return fmt.Errorf("%q: %w (is it powered and on %s?)", d.spec.ID, device.ErrNotConnected, d.spec.Port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.opt.ReplyTimeout+time.Second)
	defer cancel()
	req := modbus.WriteSingle(d.unit, t.Register, vals[0])
	if len(vals) > 1 {
		req = modbus.WriteMultiple(d.unit, t.Register, vals...)
	}
	_, err := d.transact(ctx, l, req)
	var ee *modbus.ExceptionError
	if errors.As(err, &ee) {
		if msg, ok := d.p.Trigger.Exceptions[uint8(ee.Code)]; ok {
			return fmt.Errorf("%s: %w", msg, err)
		}
	}
	if errors.Is(err, ErrPort) {
		return fmt.Errorf("%w: %w", device.ErrNotConnected, err)
	}
	return err
}

// SharesPort implements device.PortSharer: the units of one RS-485 bus
// (or behind one Modbus TCP gateway) share its port, each at its own
// address.
func (d *Modbus) SharesPort() bool { return true }
