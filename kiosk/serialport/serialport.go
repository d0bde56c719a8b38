// Package serialport opens the kiosk's serial ports: the real implementation
// of device.SerialOpener on go.bug.st/serial, and a Hub that shares one
// physical port between the drivers of several devices (an RS-485 bus) with
// one lock per port.
//
// # Opener
//
// [Opener] opens /dev/ttyUSB0, /dev/ttyACM0, /dev/ttyAMA0 or a
// pseudo-terminal's slave side the same way: raw mode, the requested line
// settings (9600 8N1 by default), no flow control, and exclusive access
// (TIOCEXCL). Nothing in it is pty-specific: go.bug.st/serial's termios calls
// (line settings, baud rate, TCFLSH for ResetInputBuffer) all work on a pty,
// which accepts and ignores the baud rate. The one thing a pty cannot do is
// modem control (TIOCMGET/TIOCMSET: DTR, RTS), so the Opener never asks for
// initial DTR/RTS states; drivers that need them must treat their failure
// as "not supported". Tests run the real Opener against simulator/serialsim.
//
// # One lock per physical port
//
// Several Modbus units on one RS-485 bus share one port: their drivers must
// not interleave requests, and a timeout on one must not leave its late
// answer for the next. [Hub] opens each physical port once (keyed by the
// path with symlinks resolved), hands every driver its own [Handle], and
// gives the port one lock: a driver holds it for one request/response
// (a polling protocol) or for as long as it has the port open (a protocol
// where the device pushes frames, which cannot share a line anyway). When
// one handle sees the port fail (the USB adapter vanished), the port is
// marked broken; the next OpenSerial opens a fresh one.
//
// Drivers find the lock by type assertion, periph.io style, without
// importing this package:
//
//	if l, ok := port.(interface {
//		Lock(context.Context) error
//		Unlock()
//	}); ok { … }
package serialport

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"go.bug.st/serial"

	"github.com/shianfood/shian/kiosk/device"
)

// Opener opens real serial ports with go.bug.st/serial.
type Opener struct{}

var _ device.SerialOpener = Opener{}

// Errors of OpenSerial, for callers that branch (all are wrapped with the
// path and what to do).
var (
	ErrNotFound   = errors.New("serial port not found")
	ErrBusy       = errors.New("serial port busy")
	ErrPermission = errors.New("serial port permission denied")
	ErrMode       = errors.New("bad serial line settings")
)

// OpenSerial opens path with the line settings mode (zero fields: 9600 8N1).
func (Opener) OpenSerial(path string, mode device.SerialMode) (device.Port, error) {
	m, err := toMode(mode)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := serial.Open(path, m)
	if err != nil {
		return nil, openErr(path, err)
	}
	return port{p}, nil
}

func toMode(mode device.SerialMode) (*serial.Mode, error) {
	m := &serial.Mode{BaudRate: mode.Baud, DataBits: mode.DataBits, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	if m.BaudRate == 0 {
		m.BaudRate = 9600
	}
	if m.DataBits == 0 {
		m.DataBits = 8
	}
	if m.BaudRate < 0 || m.DataBits < 5 || m.DataBits > 8 {
		return nil, fmt.Errorf("%w: %d baud, %d data bits", ErrMode, m.BaudRate, m.DataBits)
	}
	switch strings.ToUpper(mode.Parity) {
	case "", "N":
	case "E":
		m.Parity = serial.EvenParity
	case "O":
		m.Parity = serial.OddParity
	default:
		return nil, fmt.Errorf("%w: parity %q (use N, E or O)", ErrMode, mode.Parity)
	}
	switch mode.StopBits {
	case 0, 1:
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("%w: %d stop bits (use 1 or 2)", ErrMode, mode.StopBits)
	}
	return m, nil
}

func openErr(path string, err error) error {
	var pe *serial.PortError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w (is the instrument plugged in and switched on?): %v", path, ErrNotFound, err)
	case errors.As(err, &pe) && pe.Code() == serial.PortBusy:
		return fmt.Errorf("%s: %w (another program has it open; stop it or check the kiosk config for a duplicate port)", path, ErrBusy)
	case errors.As(err, &pe) && pe.Code() == serial.PermissionDenied:
		return fmt.Errorf("%s: %w (add the kiosk user to the dialout group)", path, ErrPermission)
	case errors.As(err, &pe) && pe.Code() == serial.PortNotFound:
		return fmt.Errorf("%s: %w (is the instrument plugged in?)", path, ErrNotFound)
	}
	return fmt.Errorf("opening serial port %s: %w", path, err)
}

// port adapts serial.Port to device.Port.
type port struct{ p serial.Port }

var _ device.Port = port{}

func (p port) Read(b []byte) (int, error)  { return p.p.Read(b) }
func (p port) Write(b []byte) (int, error) { return p.p.Write(b) }
func (p port) Close() error                { return p.p.Close() }
func (p port) ResetInputBuffer() error     { return p.p.ResetInputBuffer() }

// SetReadTimeout maps device.Port's "d < 0 blocks forever" onto
// serial.NoTimeout.
func (p port) SetReadTimeout(d time.Duration) error {
	if d < 0 {
		d = serial.NoTimeout
	}
	return p.p.SetReadTimeout(d)
}
