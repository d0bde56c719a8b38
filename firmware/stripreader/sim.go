package stripreader

import (
	"io"
	"time"

	"github.com/shianfood/shian/protocols/device/strip/striptest"
)

// NewSimulated returns a reader on a fake fixture (register-level
// TCS34725s and multiplexer) talking on uart (which Serve replaces), for
// the simulator: put a strip in its slot with fixture.Show and serve the
// reader (it is a serialsim.Device), polling every second.
func NewSimulated(uart io.ReadWriter, item, serial string) (*Reader, *striptest.Fixture, error) {
	fx := &striptest.Fixture{}
	f := NewFixture(fx, nil)
	if err := f.Init(); err != nil {
		return nil, nil, err
	}
	return &Reader{Sensor: f, UART: uart, Item: item, Model: "SHIAN-SR1", Firmware: Version, Serial: serial, Settle: 1, PollEvery: time.Second}, fx, nil
}

// Version is the firmware version reported by $INFO.
const Version = "1.0.0"
