package device

import (
	"io"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// Port is an open serial port: what a driver needs of go.bug.st/serial,
// and no more, so that tests can use a pseudo-terminal or a pipe.
type Port interface {
	io.ReadWriteCloser
	// SetReadTimeout makes Read return (0, nil) after d without data;
	// d < 0 blocks forever.
	SetReadTimeout(d time.Duration) error
	// ResetInputBuffer discards bytes received but not yet read (used
	// after a timeout or a bad CRC so a stale frame is not taken as the
	// answer to the next request).
	ResetInputBuffer() error
}

// SerialMode is the line setting of a port. Zero fields take the defaults
// 9600 8N1.
type SerialMode struct {
	Baud     int
	DataBits int
	Parity   string // "N", "E", "O"
	StopBits int
}

// SerialOpener opens serial ports by path (/dev/ttyUSB0, /dev/ttyACM0, or
// a pseudo-terminal's slave side).
type SerialOpener interface {
	OpenSerial(path string, mode SerialMode) (Port, error)
}

// BusOpener opens I²C buses by name ("1" on a Raspberry Pi). The returned
// closer is owned by the caller of OpenBus; drivers only use the Bus.
type BusOpener interface {
	OpenBus(name string) (i2c.BusCloser, error)
}

// Normal returns m with the defaults filled in (9600 8N1), so that two
// modes that mean the same line compare equal.
func (m SerialMode) Normal() SerialMode {
	if m.Baud == 0 {
		m.Baud = 9600
	}
	if m.DataBits == 0 {
		m.DataBits = 8
	}
	if m.Parity == "" {
		m.Parity = "N"
	}
	if m.StopBits == 0 {
		m.StopBits = 1
	}
	return m
}
