// Package cardreader is the firmware of the SHIAN-GC1 colloidal-gold card
// reader (胶体金读卡仪): a Modbus RTU slave on RS-485 that measures the C
// and T lines of a developed test card and keeps its results until a
// master acknowledges them. It is written against two small interfaces —
// an io.ReadWriter UART (9600 8N1) and the [Optics] that read the card —
// so the same code runs on a microcontroller or inside the simulator
// behind a pseudo-terminal. The register map is in README.md (and, as
// code, in protocols/device/goldcard).
//
// # Behaviour
//
//   - A card is measured when the master writes COMMAND = 1, when the
//     reader's own button is pressed ([Reader.Measure]), or — with
//     AutoRead — when a card has stayed in the slot for Settle+1 polls.
//     Taking the card out re-arms the automatic read.
//   - Each measurement becomes a result with the next sequence number
//     (1…65535, then 1 again) in a queue of QueueCap results. The head of
//     the queue is presented in the result block with RESULT_READY = 1
//     until the master writes its sequence to ACK; the next is then
//     presented. A full queue refuses new measurements (exception 06,
//     server busy) rather than drop a result.
//   - Writing the sequence acknowledged last, again, is accepted and
//     changes nothing (the master's first acknowledgement was applied but
//     its answer was lost).
//   - The reader computes its own verdict with the default thresholds of
//     protocols/domain/assay for the item (shown on its screen, kept in the
//     VERDICT register); the kiosk decides from C and T itself.
//
// # Modbus
//
// The reader answers requests to its address (1…247) and obeys
// broadcast writes (address 0) without answering. Frames that fail their
// CRC, or that are cut short, are ignored, as the Modbus serial line
// specification requires: the master times out and retries. Requests it
// cannot serve get an exception: 01 for a function other than 03, 04, 06
// and 16, 02 for registers outside the map, 03 for a value a register
// does not take, 04 when the optics fail or no card is in the slot, 06
// when the result queue is full.
package cardreader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shianfood/shian/firmware/rtuslave"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Optics reads the card slot.
type Optics interface {
	// Card reports whether a card is in the slot.
	Card() (bool, error)
	// Read scans the card and returns its C and T line intensities on
	// the reader's 0–100 scale.
	Read() (c, t measure.Intensity, err error)
}

// Errors of a measurement.
var (
	ErrNoCard    = errors.New("cardreader: no card in the slot")
	ErrQueueFull = errors.New("cardreader: result queue full; the master must acknowledge results")
)

// Config configures a Reader. Zero fields take the defaults.
type Config struct {
	// Addr is the slave address, 1…247 (default 1).
	Addr byte
	// Model and Serial answer the identity block (SHIAN-GC1, GC1-0001).
	Model, Serial string
	// Firmware is major<<8|minor (0x0100, "1.0").
	Firmware uint16
	// Item and Mode are the item and decision mode of the next
	// measurement until the master selects others (clenbuterol, and the
	// MODE register's 0: line intensity, 消线法).
	Item goldcard.Item
	Mode goldcard.Mode
	// QueueCap is how many unacknowledged results the reader keeps (16).
	QueueCap int
	// AutoRead measures a card that has stayed in the slot for Settle+1
	// polls of PollEvery (Serve polls only when PollEvery > 0).
	AutoRead  bool
	Settle    int
	PollEvery time.Duration
	// Now is the reader's clock (time.Now); nil readers' results carry no
	// time.
	Now func() time.Time
}

// Version is the default firmware version (1.0).
const Version = 0x0100

func (c *Config) defaults() {
	if c.Addr == 0 {
		c.Addr = 1
	}
	if c.Model == "" {
		c.Model = "SHIAN-GC1"
	}
	if c.Serial == "" {
		c.Serial = "GC1-0001"
	}
	if c.Firmware == 0 {
		c.Firmware = Version
	}
	if c.Item == 0 {
		c.Item = 1
	}
	if c.QueueCap <= 0 {
		c.QueueCap = 16
	}
}

// Reader is the firmware's state.
type Reader struct {
	cfg    Config
	optics Optics
	ident  []uint16

	mu       sync.Mutex
	queue    []goldcard.Result
	seq      uint16 // last sequence given
	lastAck  uint16
	item     goldcard.Item
	mode     goldcard.Mode
	fault    bool
	card     bool
	seen     int // polls with a card in the slot
	stats    Stats
	readDone bool // the card in the slot was read automatically
}

// Stats counts what the reader saw on its line.
type Stats struct {
	Requests   uint64 // valid requests addressed to it (or broadcast)
	Exceptions uint64 // exception responses sent
	BadFrames  uint64 // frames dropped (CRC, length, noise)
	Results    uint64 // measurements made
}

// New returns a reader.
func New(cfg Config, optics Optics) (*Reader, error) {
	cfg.defaults()
	if cfg.Addr > modbus.MaxSlave {
		return nil, fmt.Errorf("cardreader: address %d is outside 1…%d", cfg.Addr, modbus.MaxSlave)
	}
	if _, ok := goldcard.Lookup(cfg.Item); !ok {
		return nil, fmt.Errorf("cardreader: unknown item code %d", cfg.Item)
	}
	ident, err := goldcard.Identity{Firmware: cfg.Firmware, Serial: cfg.Serial, Model: cfg.Model,
		Hardware: 1, QueueCapacity: uint16(cfg.QueueCap)}.Registers()
	if err != nil {
		return nil, fmt.Errorf("cardreader: %w", err)
	}
	return &Reader{cfg: cfg, optics: optics, ident: ident, item: cfg.Item, mode: cfg.Mode}, nil
}

// Config returns the configuration in use.
func (r *Reader) Config() Config { return r.cfg }

// Stats returns the counters.
func (r *Reader) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Waiting returns how many results wait for acknowledgement.
func (r *Reader) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

// Measure scans the card in the slot now (the reader's button) and
// queues the result.
func (r *Reader) Measure() (goldcard.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.measure()
}

// measure runs with r.mu held.
func (r *Reader) measure() (goldcard.Result, error) {
	if len(r.queue) >= r.cfg.QueueCap {
		return goldcard.Result{}, ErrQueueFull
	}
	in, err := r.optics.Card()
	if err != nil {
		r.fault = true
		return goldcard.Result{}, fmt.Errorf("cardreader: optics: %w", err)
	}
	if !in {
		return goldcard.Result{}, ErrNoCard
	}
	c, t, err := r.optics.Read()
	if err != nil {
		r.fault = true
		return goldcard.Result{}, fmt.Errorf("cardreader: optics: %w", err)
	}
	c, t = clampScale(c), clampScale(t)
	r.seq++
	if r.seq == 0 {
		r.seq = 1
	}
	res := goldcard.Result{Ready: true, Seq: r.seq, Item: r.item, Mode: r.mode, C: c, T: t, Verdict: r.verdict(c, t)}
	if r.cfg.Now != nil {
		res.Time = r.cfg.Now().Truncate(time.Second).UTC()
	}
	r.queue = append(r.queue, res)
	r.stats.Results++
	return res, nil
}

func clampScale(v measure.Intensity) measure.Intensity {
	return min(max(v, 0), goldcard.FullScale)
}

// verdict is the reader's own decision with the default thresholds.
func (r *Reader) verdict(c, t measure.Intensity) goldcard.Verdict {
	it, _ := goldcard.Lookup(r.item)
	th := assay.DefaultGoldRule().For(it.Analyte)
	o := th.DecideRatio(c, t)
	if r.mode == goldcard.ModeLine {
		o = th.DecideLine(c, t)
	}
	switch o.Verdict {
	case assay.Negative:
		return goldcard.VerdictNegative
	case assay.Suspicious:
		return goldcard.VerdictSuspicious
	case assay.Positive:
		return goldcard.VerdictPositive
	}
	return goldcard.VerdictInvalid
}

// Poll looks at the slot once: with AutoRead, a card that has stayed for
// Settle+1 polls is measured once; an empty slot re-arms.
func (r *Reader) Poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, err := r.optics.Card()
	if err != nil {
		r.fault = true
		return
	}
	r.card = in
	if !in {
		r.seen, r.readDone = 0, false
		return
	}
	r.seen++
	if r.cfg.AutoRead && !r.readDone && r.seen >= r.cfg.Settle+1 {
		if _, err := r.measure(); err == nil {
			r.readDone = true
		}
	}
}

// status returns the STATUS register; r.mu held.
func (r *Reader) status() uint16 {
	s := uint16(min(len(r.queue), 255)) << 8
	if !r.fault {
		s |= goldcard.StatusIdle
	}
	if r.card {
		s |= goldcard.StatusCard
	}
	if len(r.queue) > 0 {
		s |= goldcard.StatusResultReady
	}
	if r.fault {
		s |= goldcard.StatusFault
	}
	return s
}

// inputs returns the input registers; r.mu held.
func (r *Reader) inputs() []uint16 {
	if in, err := r.optics.Card(); err != nil {
		r.fault = true
	} else {
		r.card = in
	}
	regs := make([]uint16, 0, goldcard.InputLen)
	regs = append(regs, r.ident...)
	res := goldcard.Result{Seq: r.seq}
	if len(r.queue) > 0 {
		res = r.queue[0]
	}
	res.Status = r.status()
	block, err := res.Registers()
	if err != nil { // cannot happen: results are built valid
		panic(err)
	}
	return append(regs, block...)
}

// holding returns the holding registers; r.mu held.
func (r *Reader) holding() []uint16 {
	return []uint16{r.lastAck, uint16(r.item), uint16(r.mode), 0}
}

// Handle serves one request. It returns the response and whether to send
// it (a broadcast is never answered; a request for another slave is
// ignored).
func (r *Reader) Handle(req modbus.Request) (modbus.Response, bool) {
	if req.Slave != r.cfg.Addr && req.Slave != modbus.Broadcast {
		return modbus.Response{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	resp := r.serve(req)
	if req.Slave == modbus.Broadcast {
		return modbus.Response{}, false
	}
	if resp.Exception != 0 {
		r.stats.Exceptions++
	}
	return resp, true
}

// serve runs with r.mu held.
func (r *Reader) serve(req modbus.Request) modbus.Response {
	end := int(req.Addr) + int(req.Qty)
	switch req.Func {
	case modbus.ReadInputRegisters:
		if end > goldcard.InputLen {
			return req.Fail(modbus.IllegalDataAddress)
		}
		return req.Reply(r.inputs()[req.Addr:end])
	case modbus.ReadHoldingRegisters:
		if req.Addr < goldcard.HoldingAddr || end > goldcard.HoldingAddr+goldcard.HoldingLen {
			return req.Fail(modbus.IllegalDataAddress)
		}
		h := r.holding()
		return req.Reply(h[req.Addr-goldcard.HoldingAddr : end-goldcard.HoldingAddr])
	case modbus.WriteSingleRegister, modbus.WriteMultipleRegisters:
		if req.Addr < goldcard.HoldingAddr || end > goldcard.HoldingAddr+goldcard.HoldingLen {
			return req.Fail(modbus.IllegalDataAddress)
		}
		// Check every value before applying any.
		for i, v := range req.Values {
			if code := r.checkWrite(req.Addr+uint16(i), v); code != 0 {
				return req.Fail(code)
			}
		}
		for i, v := range req.Values {
			if code := r.write(req.Addr+uint16(i), v); code != 0 {
				return req.Fail(code)
			}
		}
		return req.Reply(nil)
	}
	return req.Fail(modbus.IllegalFunction)
}

func (r *Reader) checkWrite(reg, v uint16) modbus.ExceptionCode {
	switch reg {
	case goldcard.RegAck:
		if v == 0 || (v != r.lastAck && (len(r.queue) == 0 || v != r.queue[0].Seq)) {
			return modbus.IllegalDataValue
		}
	case goldcard.RegCommand:
		if v != goldcard.CmdMeasure && v != goldcard.CmdClearFault {
			return modbus.IllegalDataValue
		}
	case goldcard.RegItemSelect:
		if _, ok := goldcard.Lookup(goldcard.Item(v)); !ok {
			return modbus.IllegalDataValue
		}
	case goldcard.RegModeSelect:
		if goldcard.Mode(v) != goldcard.ModeLine && goldcard.Mode(v) != goldcard.ModeRatio {
			return modbus.IllegalDataValue
		}
	}
	return 0
}

func (r *Reader) write(reg, v uint16) modbus.ExceptionCode {
	switch reg {
	case goldcard.RegAck:
		if len(r.queue) > 0 && v == r.queue[0].Seq {
			r.queue = r.queue[1:]
			r.lastAck = v
		}
	case goldcard.RegCommand:
		if v == goldcard.CmdClearFault {
			r.fault = false
			return 0
		}
		if _, err := r.measure(); err != nil {
			if errors.Is(err, ErrQueueFull) {
				return modbus.ServerDeviceBusy
			}
			return modbus.ServerDeviceFailure
		}
	case goldcard.RegItemSelect:
		r.item = goldcard.Item(v)
	case goldcard.RegModeSelect:
		r.mode = goldcard.Mode(v)
	}
	return 0
}

// Serve runs the reader on uart until ctx ends or the UART fails: it
// frames requests, answers them, and polls the slot every PollEvery
// (firmware/rtuslave). It has the shape of simulator/serialsim's Device.
// The UART is read on a goroutine that ends when the UART's Read fails,
// so close the UART after Serve returns.
func (r *Reader) Serve(ctx context.Context, uart io.ReadWriter) error {
	return rtuslave.Serve(ctx, uart, rtuslave.Slave{Name: "cardreader", Handle: r.Handle, Refuse: r.refuse,
		Bad: r.bad, Every: r.cfg.PollEvery, Tick: r.Poll})
}

// refuse answers a request for an unsupported function with exception 01
// if it is addressed to this reader.
func (r *Reader) refuse(e *modbus.UnsupportedError) (modbus.Response, bool) {
	if e.Slave != r.cfg.Addr {
		return modbus.Response{}, false
	}
	r.mu.Lock()
	r.stats.Requests++
	r.stats.Exceptions++
	r.mu.Unlock()
	return modbus.Response{Slave: e.Slave, Func: e.Func, Exception: modbus.IllegalFunction}, true
}

func (r *Reader) bad() {
	r.mu.Lock()
	r.stats.BadFrames++
	r.mu.Unlock()
}
