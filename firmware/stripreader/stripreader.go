package stripreader

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/tcs34725"
)

// Bus is one I²C transaction: write w, then read len(r) bytes with a
// repeated start (either may be empty).
type Bus interface {
	Tx(addr uint16, w, r []byte) error
}

// Sensor gives the colour counts at a position on the strip.
type Sensor interface {
	Counts(p strip.Position) (tcs34725.Counts, error)
}

// Errors of the fixture.
var (
	ErrMux = errors.New("stripreader: multiplexer did not echo the channel")
)

// Fixture is the Sensor of the reference hardware: three TCS34725 behind
// a TCA9548A.
type Fixture struct {
	Bus      Bus
	Mux      uint16         // 0 means strip.MuxAddr
	Channels strip.Channels // zero value means background 0, C 1, T 2
	ATime    tcs34725.ATime // 0 means 0xC0
	Gain     tcs34725.Gain  // 0 means 1x; the reference setting is 4x
	// Sleep waits (power-on delay, integration). Nil does not wait (tests
	// and simulators whose sensors integrate at once).
	Sleep func(time.Duration)
}

var _ Sensor = (*Fixture)(nil)

// NewFixture returns the reference settings on bus.
func NewFixture(bus Bus, sleep func(time.Duration)) *Fixture {
	return &Fixture{Bus: bus, Mux: strip.MuxAddr, Channels: strip.DefaultChannels, ATime: 0xC0, Gain: tcs34725.Gain4x, Sleep: sleep}
}

func (f *Fixture) sleep(d time.Duration) {
	if f.Sleep != nil {
		f.Sleep(d)
	}
}

func (f *Fixture) mux() uint16 {
	if f.Mux == 0 {
		return strip.MuxAddr
	}
	return f.Mux
}

func (f *Fixture) atime() tcs34725.ATime {
	if f.ATime == 0 {
		return 0xC0
	}
	return f.ATime
}

func (f *Fixture) channels() strip.Channels {
	if f.Channels == (strip.Channels{}) {
		return strip.DefaultChannels
	}
	return f.Channels
}

func (f *Fixture) sel(p strip.Position) error {
	b := strip.Select(f.channels()[p])
	if err := f.Bus.Tx(f.mux(), b, nil); err != nil {
		return fmt.Errorf("select %s: %w", p, err)
	}
	var r [1]byte
	if err := f.Bus.Tx(f.mux(), nil, r[:]); err != nil {
		return fmt.Errorf("read back multiplexer: %w", err)
	}
	if r[0] != b[0] {
		return fmt.Errorf("%w: 0x%02X after selecting 0x%02X", ErrMux, r[0], b[0])
	}
	return nil
}

// Init checks and configures the three sensors.
func (f *Fixture) Init() error {
	if err := f.channels().Validate(); err != nil {
		return err
	}
	a := tcs34725.Addr
	for p := strip.Background; p <= strip.TestLine; p++ {
		if err := f.sel(p); err != nil {
			return err
		}
		var id [1]byte
		if err := f.Bus.Tx(a, []byte{tcs34725.Cmd(tcs34725.RegID)}, id[:]); err != nil {
			return fmt.Errorf("%s sensor: read ID: %w", p, err)
		}
		if _, err := tcs34725.CheckID(id[0]); err != nil {
			return fmt.Errorf("%s sensor: %w", p, err)
		}
		for _, w := range [][]byte{
			tcs34725.WriteReg(tcs34725.RegATime, byte(f.atime())),
			tcs34725.WriteReg(tcs34725.RegControl, byte(f.Gain)),
			tcs34725.WriteReg(tcs34725.RegEnable, tcs34725.EnablePON),
		} {
			if err := f.Bus.Tx(a, w, nil); err != nil {
				return fmt.Errorf("%s sensor: configure: %w", p, err)
			}
		}
		f.sleep(tcs34725.PowerOnDelay)
		if err := f.Bus.Tx(a, tcs34725.WriteReg(tcs34725.RegEnable, tcs34725.EnablePON|tcs34725.EnableAEN), nil); err != nil {
			return fmt.Errorf("%s sensor: enable: %w", p, err)
		}
	}
	f.sleep(f.atime().Integration())
	return nil
}

// Counts implements Sensor: select, wait for AVALID (up to 3 integration
// times), read the data block, check its range.
func (f *Fixture) Counts(p strip.Position) (tcs34725.Counts, error) {
	if err := f.sel(p); err != nil {
		return tcs34725.Counts{}, err
	}
	a := tcs34725.Addr
	for try := 0; ; try++ {
		var st [1]byte
		if err := f.Bus.Tx(a, []byte{tcs34725.Cmd(tcs34725.RegStatus)}, st[:]); err != nil {
			return tcs34725.Counts{}, fmt.Errorf("%s sensor: status: %w", p, err)
		}
		if ok, _ := tcs34725.DecodeStatus(st[:]); ok {
			break
		}
		if try == 2 {
			return tcs34725.Counts{}, fmt.Errorf("%s sensor: %w", p, tcs34725.ErrNotValid)
		}
		f.sleep(f.atime().Integration())
	}
	var b [tcs34725.DataLen]byte
	if err := f.Bus.Tx(a, []byte{tcs34725.CmdAuto(tcs34725.RegCDataL)}, b[:]); err != nil {
		return tcs34725.Counts{}, fmt.Errorf("%s sensor: read: %w", p, err)
	}
	c, _ := tcs34725.DecodeCounts(b[:])
	if err := c.Check(f.atime()); err != nil {
		return c, fmt.Errorf("%s sensor: %w", p, err)
	}
	return c, nil
}

// Reader is the firmware's main program.
type Reader struct {
	Sensor Sensor
	UART   io.ReadWriter
	// Item is reported for strips read by insertion or by a $READ without
	// an item.
	Item string
	// Model, Firmware and Serial answer $INFO.
	Model, Firmware, Serial string
	// Settle is how many extra polls a strip must stay before it is read.
	Settle int
	// PollEvery is how often Serve looks at the slot (0: never; the
	// reader then reads only on $READ).
	PollEvery time.Duration

	wmu  sync.Mutex
	seen int
}

// Measure reads the strip and returns the sentence to send: $STRIP, or
// $ERR when there is no strip or a sensor failed.
func (r *Reader) Measure(item string) strip.Message {
	if item == "" {
		item = r.Item
	}
	var c [3]tcs34725.Counts
	for p := strip.Background; p <= strip.TestLine; p++ {
		v, err := r.Sensor.Counts(p)
		if err != nil {
			code := strip.CodeSensor
			if errors.Is(err, tcs34725.ErrSaturated) {
				code = strip.CodeSaturated
			}
			return strip.Message{Kind: strip.KindErr, Code: code, Text: sanitize(err.Error())}
		}
		c[p] = v
	}
	ci, err := strip.LineIntensity(c[strip.ControlLine], c[strip.Background])
	if err != nil {
		return strip.Message{Kind: strip.KindErr, Code: strip.CodeNoStrip, Text: "no strip in the slot"}
	}
	ti, _ := strip.LineIntensity(c[strip.TestLine], c[strip.Background])
	return strip.StripMessage(item, ci, ti)
}

// sanitize keeps an error text within the line grammar.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7F || c == ',' || c == '*' || c == '$' {
			b[i] = ' '
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

// send writes one sentence.
func (r *Reader) send(m strip.Message) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err := r.UART.Write(m.Append(nil))
	return err
}

func (r *Reader) setUART(u io.ReadWriter) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.UART = u
}

// Poll looks at the slot once and reports a strip that has settled.
func (r *Reader) Poll() error {
	m := r.Measure("")
	if m.Kind == strip.KindErr {
		r.seen = 0
		if m.Code == strip.CodeNoStrip {
			return nil
		}
		return r.send(m)
	}
	r.seen++
	if r.seen != r.Settle+1 {
		return nil
	}
	return r.send(m)
}

// Handle answers one line from the host. Lines that do not parse are
// ignored (the host repeats a command it gets no answer to).
func (r *Reader) Handle(line []byte) error {
	m, err := strip.Parse(line)
	if err != nil {
		return nil
	}
	switch {
	case m.Kind == strip.KindRead:
		return r.send(r.Measure(m.Item))
	case m.Kind == strip.KindInfo && m.Model == "":
		return r.send(strip.Message{Kind: strip.KindInfo, Model: r.Model, Firmware: r.Firmware, Serial: r.Serial})
	}
	return nil
}

// Serve runs the reader on uart until ctx ends or the UART fails: it
// answers host commands and polls the slot every PollEvery. It has the
// shape of simulator/serialsim's Device, so a Reader can be served on a
// pseudo-terminal. The UART is read on a goroutine that ends when the
// UART's Read fails, so close the UART after Serve returns.
func (r *Reader) Serve(ctx context.Context, uart io.ReadWriter) error {
	r.setUART(uart)
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(uart)
		sc.Split(strip.SplitLines)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		readErr <- err
	}()
	var tick <-chan time.Time
	if r.PollEvery > 0 {
		t := time.NewTicker(r.PollEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("stripreader: UART: %w", err)
		case l := <-lines:
			if err := r.Handle(l); err != nil {
				return fmt.Errorf("stripreader: UART: %w", err)
			}
		case <-tick:
			if err := r.Poll(); err != nil {
				return fmt.Errorf("stripreader: UART: %w", err)
			}
		}
	}
}
