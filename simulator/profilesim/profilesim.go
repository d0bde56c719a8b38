// Package profilesim emulates a Modbus instrument from its profile alone
// (protocols/device/profile): the register map, the status bits, the item
// and method codes, the scales and word orders, the acknowledgement — all
// come from the profile, none from a driver. The same profile file then
// tells the kiosk how to read it, so a profile can be tried end to end
// before the real instrument arrives, and a reader the project never saw
// is proved readable from its profile only.
//
// # What it does
//
// A [Device] answers Modbus requests for its unit: reads of any register
// of the blocks its profile reads (registers it has no value for read 0;
// others are exception 02), and writes to holding registers. Results are
// queued ([Device.Measure]) and presented one at a time, encoded as the
// profile says: the ready condition set, the next sequence number, the
// codes, the values, the clock. A write to the acknowledgement register
// (of the presented sequence, or the profile's constant) drops the
// presented result and presents the next; a wrong value is exception 03.
// A write to the trigger register measures the card in the slot
// ([Device.Insert]) with the item the write selected. It serves Modbus
// RTU on a serial port (a pseudo-terminal; [Device.Serve] has the shape of
// simulator/serialsim's Device) or Modbus TCP ([Device.ServeTCP]).
package profilesim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/shianfood/shian/firmware/rtuslave"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Options configure a Device.
type Options struct {
	// Unit is the Modbus address (the profile's by default).
	Unit byte
	// Ident is what the identity registers hold (serial, model).
	Ident profile.Ident
	// Now is the device's clock (time.Now).
	Now func() time.Time
	// Cabinet gives the values of the device's own sensors (a cabinet's
	// temperature and humidity) put with every result it presents.
	Cabinet func() assay.Raw
}

// Result is one measurement the device makes.
type Result struct {
	// Item is the item's code, analyte key or name.
	Item   string
	Method assay.Method
	Raw    assay.Raw
}

// Device is one emulated instrument.
type Device struct {
	p    *profile.Profile
	opt  Options
	unit byte

	mu       sync.Mutex
	regs     profile.Registers
	queue    []profile.Decoded // queue[0] is presented
	seq      uint64
	lastAck  uint64
	card     *Result
	requests int
	acks     int
}

// New returns the emulation of a Modbus profile.
func New(p *profile.Profile, o Options) (*Device, error) {
	if !p.Transport.Kind.Modbus() {
		return nil, fmt.Errorf("profilesim: profile %s is %s; only Modbus profiles are emulated", p.Name, p.Transport.Kind)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Device{p: p, opt: o, unit: p.Transport.Unit, regs: profile.Registers{}}
	if o.Unit != 0 {
		d.unit = o.Unit
	}
	// Every register of every block reads 0 until something is written.
	blocks := append([]profile.Read(nil), p.Result.Reads...)
	if p.Identity != nil {
		blocks = append(blocks, p.Identity.Reads...)
	}
	for _, r := range blocks {
		for i := range r.Count {
			d.regs[profile.Ref{Table: r.Table, Addr: r.Start + i}] = 0
		}
	}
	if err := p.EncodeIdentity(o.Ident, d.regs); err != nil {
		return nil, err
	}
	if err := d.present(); err != nil {
		return nil, err
	}
	return d, nil
}

// Profile returns the device's profile.
func (d *Device) Profile() *profile.Profile { return d.p }

// Unit returns the device's Modbus address.
func (d *Device) Unit() byte { return d.unit }

// Waiting returns how many results wait for acknowledgement.
func (d *Device) Waiting() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Acks returns how many acknowledgements it took.
func (d *Device) Acks() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.acks
}

// Insert puts a card in the slot: a trigger write measures it.
func (d *Device) Insert(r Result) {
	d.mu.Lock()
	d.card = &r
	d.mu.Unlock()
}

// Measure makes one result and queues it (presented at once if none is).
func (d *Device) Measure(r Result) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.measure(r)
}

func (d *Device) measure(r Result) error {
	dec := profile.Decoded{Ready: true, Method: r.Method, Raw: r.Raw, Time: d.opt.Now().Truncate(time.Second), HasSequence: true}
	if dec.Method == "" {
		dec.Method = d.p.Result.Method.Default
	}
	if r.Item != "" {
		code, ok := d.itemCode(r.Item)
		if !ok {
			return fmt.Errorf("profilesim: %s has no item %q", d.p.Name, r.Item)
		}
		it := d.p.Items[code]
		dec.ItemCode, dec.Item, dec.Analyte = code, it.Name, it.Analyte
	}
	d.seq++
	if d.seq > 0xFFFF {
		d.seq = 1
	}
	dec.Sequence = d.seq
	d.queue = append(d.queue, dec)
	if len(d.queue) == 1 {
		return d.present()
	}
	return nil
}

func (d *Device) itemCode(s string) (string, bool) {
	for _, k := range slices.Sorted(mapsKeys(d.p.Items)) {
		it := d.p.Items[k]
		if k != "" && (k == s || it.Analyte == s || it.Name == s) {
			return k, true
		}
	}
	return "", false
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// present encodes the presented result (or, with none, the idle state)
// into the registers. d.mu held (or d not yet shared).
func (d *Device) present() error {
	cur := profile.Decoded{Sequence: d.lastAck, HasSequence: true}
	if len(d.queue) > 0 {
		cur = d.queue[0]
	}
	if d.opt.Cabinet != nil && cur.Ready {
		mergeRaw(&cur.Raw, d.opt.Cabinet())
	}
	return d.p.EncodeResult(cur, d.regs)
}

// mergeRaw copies the values set in from into r.
func mergeRaw(r *assay.Raw, from assay.Raw) {
	if from.AirTemp != nil {
		r.AirTemp = from.AirTemp
	}
	if from.Humidity != nil {
		r.Humidity = from.Humidity
	}
	if from.CoreTemp != nil {
		r.CoreTemp = from.CoreTemp
	}
	if from.SurfaceTemp != nil {
		r.SurfaceTemp = from.SurfaceTemp
	}
}

// Handle answers one request; send is false for a broadcast or another
// unit's request.
func (d *Device) Handle(req modbus.Request) (resp modbus.Response, send bool) {
	if req.Slave != d.unit && req.Slave != modbus.Broadcast {
		return modbus.Response{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	resp = d.serve(req)
	return resp, req.Slave != modbus.Broadcast
}

func (d *Device) serve(req modbus.Request) modbus.Response {
	switch req.Func {
	case modbus.ReadHoldingRegisters, modbus.ReadInputRegisters:
		t := profile.Holding
		if req.Func == modbus.ReadInputRegisters {
			t = profile.Input
		}
		vals := make([]uint16, req.Qty)
		for i := range vals {
			v, ok := d.regs[profile.Ref{Table: t, Addr: req.Addr + uint16(i)}]
			if !ok {
				return req.Fail(modbus.IllegalDataAddress)
			}
			vals[i] = v
		}
		return req.Reply(vals)
	case modbus.WriteSingleRegister, modbus.WriteMultipleRegisters:
		if code := d.write(req.Addr, req.Values); code != 0 {
			return req.Fail(code)
		}
		return req.Reply(nil)
	}
	return req.Fail(modbus.IllegalFunction)
}

// write applies a write: an acknowledgement, a trigger, or a plain
// holding register.
func (d *Device) write(addr uint16, vals []uint16) modbus.ExceptionCode {
	if a := d.p.Result.Ack; a != nil && addr == a.Register && len(vals) == 1 {
		v := vals[0]
		switch {
		case a.Sequence && v == uint16(d.lastAck) && d.lastAck != 0 && (len(d.queue) == 0 || uint16(d.queue[0].Sequence) != v):
			return 0 // the same acknowledgement again
		case len(d.queue) == 0:
			return modbus.IllegalDataValue
		case a.Sequence && v != uint16(d.queue[0].Sequence), !a.Sequence && v != a.ValueConst:
			return modbus.IllegalDataValue
		}
		d.lastAck = d.queue[0].Sequence
		d.queue = d.queue[1:]
		d.acks++
		if err := d.present(); err != nil {
			return modbus.ServerDeviceFailure
		}
		return 0
	}
	if t := d.p.Trigger; t != nil {
		for _, tr := range []*profile.Trigger{t, t.WithoutItem} {
			if tr != nil && addr == tr.Register && len(vals) == len(tr.Values) {
				return d.trigger(tr, vals)
			}
		}
	}
	for i, v := range vals {
		ref := profile.Ref{Table: profile.Holding, Addr: addr + uint16(i)}
		if _, ok := d.regs[ref]; !ok {
			return modbus.IllegalDataAddress
		}
		d.regs[ref] = v
	}
	return 0
}

// trigger measures the card in the slot with the item (and method) the
// write selects.
func (d *Device) trigger(tr *profile.Trigger, vals []uint16) modbus.ExceptionCode {
	if d.card == nil {
		return modbus.ServerDeviceFailure
	}
	r := *d.card
	for i, tok := range tr.Values {
		code := strconv.Itoa(int(vals[i]))
		switch tok {
		case "item":
			if _, ok := d.p.Items[code]; !ok {
				return modbus.IllegalDataValue
			}
			r.Item = code
		case "method":
			m, ok := d.p.Result.Method.Map[code]
			if !ok {
				return modbus.IllegalDataValue
			}
			r.Method = m
		}
	}
	if err := d.measure(r); err != nil {
		return modbus.ServerDeviceFailure
	}
	return 0
}

// Serve runs the device as a Modbus RTU slave on uart until ctx ends or
// the UART fails (firmware/rtuslave; the shape of simulator/serialsim's
// Device).
func (d *Device) Serve(ctx context.Context, uart io.ReadWriter) error {
	return rtuslave.Serve(ctx, uart, rtuslave.Slave{Name: "profilesim", Handle: d.Handle, Unit: d.unit})
}

// ServeTCP runs the device as a Modbus TCP server on ln until ctx ends;
// it closes ln.
func (d *Device) ServeTCP(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			d.serveConn(c)
		}()
	}
}

func (d *Device) serveConn(c net.Conn) {
	var buf []byte
	chunk := make([]byte, 512)
	for {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			fl, ferr := modbus.TCPFrameLen(buf)
			if ferr != nil && !errors.Is(ferr, modbus.ErrIncomplete) {
				return // a stream that cannot be framed: drop the client
			}
			if ferr != nil || len(buf) < fl {
				break
			}
			frame := buf[:fl]
			tid, req, perr := modbus.ParseTCPRequest(frame)
			buf = append(buf[:0], buf[fl:]...)
			if perr != nil {
				continue
			}
			resp, send := d.Handle(req)
			if !send {
				continue
			}
			out, err := resp.AppendTCP(nil, tid)
			if err != nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Random returns a result whose verdict by the default rules is v (an
// item of the profile at random), for a simulated operator. It knows the
// gold-strip, ATP and temperature methods.
func (d *Device) Random(rng *rand.Rand, v assay.Verdict) (Result, error) {
	r := Result{Method: d.p.Result.Method.Default}
	var codes []string
	for k := range d.p.Items {
		if k != "" {
			codes = append(codes, k)
		}
	}
	slices.Sort(codes)
	if len(codes) > 0 {
		r.Item = codes[rng.IntN(len(codes))]
	}
	rules := assay.DefaultRules()
	switch r.Method {
	case assay.GoldLine, assay.GoldRatio:
		th := rules.Gold.For(d.p.Items[r.Item].Analyte)
		between := func(lo, hi measure.Intensity) measure.Intensity {
			return lo + measure.Intensity(rng.Int64N(int64(hi-lo)+1))
		}
		for range 1000 {
			c := between(th.CThr+10*measure.IntensityUnit, th.CThr+40*measure.IntensityUnit)
			t := between(0, th.TB+30*measure.IntensityUnit)
			if v == assay.Invalid {
				c = between(0, th.CThr/2)
			}
			raw := assay.Raw{C: &c, T: &t}
			if out, _ := rules.Decide(r.Method, d.p.Items[r.Item].Analyte, raw); out.Verdict == v {
				r.Raw = raw
				return r, nil
			}
		}
	case assay.ATP:
		rlu := map[assay.Verdict]measure.RLU{assay.Negative: 4, assay.Pass: 4, assay.Suspicious: 22, assay.Caution: 22, assay.Positive: 140, assay.Fail: 140}[v]
		r.Raw.RLU = assay.Ptr(rlu + measure.RLU(rng.IntN(5)))
		return r, nil
	}
	return r, fmt.Errorf("profilesim: no %s result for method %s", v, r.Method)
}
