// Package rtuslave is the serial side of an emulated Modbus RTU
// instrument: the loop that frames the requests arriving on a UART,
// hands each to the instrument, and writes its answer. The SHIAN-GC1 card
// reader (firmware/cardreader) and the simulator's profile-driven devices
// (simulator/profilesim) are both served by it; they keep their register
// maps.
//
// # Framing
//
// Requests are framed with protocols/device/modbus's Framer. Bytes that
// stay unfinished over two gap ticks (50 ms each) are a cut frame — the
// 3.5-character silence of RTU — and are dropped. A frame for a function
// the framer does not know is answered with exception 01 (illegal
// function) by the instrument's Refuse; a damaged frame is counted by Bad
// and never answered, as a real slave stays silent on a CRC error.
package rtuslave

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shianfood/shian/protocols/device/modbus"
)

// Slave is what the loop serves.
type Slave struct {
	// Name prefixes the loop's errors ("cardreader").
	Name string
	// Handle answers a request; send is false when the request is not
	// for this slave (another address on the bus) or gets no answer.
	Handle func(modbus.Request) (resp modbus.Response, send bool)
	// Refuse answers a frame for an unsupported function (nil: answer
	// with exception 01 when it is addressed to Unit).
	Refuse func(*modbus.UnsupportedError) (modbus.Response, bool)
	// Unit is the slave address Refuse's default answers for.
	Unit byte
	// Bad is told of every damaged frame and cut frame (nil: ignored).
	Bad func()
	// Every and Tick: Tick runs every Every (0: never), between requests.
	Every time.Duration
	Tick  func()
}

// gapEvery is the cut-frame tick: unfinished bytes over two ticks are a
// cut frame.
const gapEvery = 50 * time.Millisecond

// Serve runs s on uart until ctx ends or the UART fails. The UART is read
// on a goroutine that ends when its Read fails, so close the UART after
// Serve returns.
func Serve(ctx context.Context, uart io.ReadWriter, s Slave) error {
	bad := s.Bad
	if bad == nil {
		bad = func() {}
	}
	refuse := s.Refuse
	if refuse == nil {
		refuse = func(e *modbus.UnsupportedError) (modbus.Response, bool) {
			return modbus.Response{Slave: e.Slave, Func: e.Func, Exception: modbus.IllegalFunction}, e.Slave == s.Unit
		}
	}
	chunks := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := uart.Read(buf)
			if n > 0 {
				select {
				case chunks <- append([]byte(nil), buf[:n]...):
				case <-ctx.Done():
					readErr <- ctx.Err()
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var tick <-chan time.Time
	if s.Every > 0 && s.Tick != nil {
		t := time.NewTicker(s.Every)
		defer t.Stop()
		tick = t.C
	}
	gap := time.NewTicker(gapEvery)
	defer gap.Stop()
	fr := modbus.Framer{Side: modbus.Requests}
	quiet := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("%s: UART: %w", s.Name, err)
		case <-tick:
			s.Tick()
		case <-gap.C:
			if fr.Pending() == 0 {
				quiet = 0
				continue
			}
			if quiet++; quiet >= 2 {
				quiet = 0
				if fr.Gap() != nil {
					bad()
				}
			}
		case b := <-chunks:
			quiet = 0
			fr.Feed(b)
			for {
				adu, err := fr.Next()
				if errors.Is(err, modbus.ErrIncomplete) {
					break
				}
				var resp modbus.Response
				var send bool
				var ue *modbus.UnsupportedError
				switch {
				case errors.As(err, &ue):
					resp, send = refuse(ue)
				case err != nil:
					bad()
					continue
				default:
					req, err := modbus.ParseRequest(adu)
					if err != nil { // the framer only returns frames that parse
						bad()
						continue
					}
					resp, send = s.Handle(req)
				}
				if !send {
					continue
				}
				out, err := resp.Append(nil)
				if err != nil {
					return fmt.Errorf("%s: encoding a response: %w", s.Name, err)
				}
				if _, err := uart.Write(out); err != nil {
					return fmt.Errorf("%s: UART: %w", s.Name, err)
				}
			}
		}
	}
}
