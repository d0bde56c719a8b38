package i2cbus

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"

	"github.com/shianfood/shian/kiosk/device"
)

// DefaultBus is the bus used when a device names none: I²C1 on the Pi's
// header (pins 3 and 5).
const DefaultBus = "1"

// Host opens real I²C buses through periph.io/x/host/v3. The zero value
// is ready to use. Buses are shared: opening a name twice returns two
// handles on one bus, closed when the last handle is closed.
type Host struct {
	// Init and Open default to host.Init and i2creg.Open; tests replace
	// them.
	Init func() error
	Open func(name string) (i2c.BusCloser, error)

	mu      sync.Mutex
	initErr error
	inited  bool
	buses   map[string]*sharedBus
}

var _ device.BusOpener = (*Host)(nil)

// NewHost returns a Host using periph's host drivers.
func NewHost() *Host { return &Host{} }

type sharedBus struct {
	i2c.BusCloser
	refs int
}

// OpenError is a bus that could not be opened, with what to do about it.
type OpenError struct {
	Bus  string
	Hint string
	Err  error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("i2c bus %q: %v — %s", e.Bus, e.Err, e.Hint)
}

func (e *OpenError) Unwrap() error { return e.Err }

// Hints for OpenError.
const (
	HintEnable = "enable I²C: add dtparam=i2c_arm=on to /boot/firmware/config.txt (/boot/config.txt before Bookworm) " +
		"or run raspi-config → Interface Options → I2C, reboot, and check that /dev/i2c-1 exists"
	HintPermission = "the kiosk's user may not open /dev/i2c-*: add it to group i2c (sudo usermod -aG i2c USER; " +
		"older images use plugdev) and restart the service"
	HintName = `name the bus as "1" (or the number N of /dev/i2c-N) in the device's bus: field; "1" is the header bus on a Raspberry Pi`
)

func hint(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) || strings.Contains(msg, "plugdev") || strings.Contains(msg, "permission denied"):
		return HintPermission
	case strings.Contains(msg, "no bus found") || strings.Contains(msg, "not configured") || errors.Is(err, fs.ErrNotExist):
		return HintEnable
	}
	return HintName
}

// OpenBus implements device.BusOpener.
func (h *Host) OpenBus(name string) (i2c.BusCloser, error) {
	if name == "" {
		name = DefaultBus
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.inited {
		h.inited = true
		initFn := h.Init
		if initFn == nil {
			initFn = func() error { _, err := host.Init(); return err }
		}
		h.initErr = initFn()
	}
	if h.initErr != nil {
		return nil, &OpenError{Bus: name, Hint: HintEnable, Err: fmt.Errorf("periph host init: %w", h.initErr)}
	}
	if sb, ok := h.buses[name]; ok {
		sb.refs++
		return &handle{h: h, name: name, sb: sb}, nil
	}
	open := h.Open
	if open == nil {
		open = i2creg.Open
	}
	bc, err := open(name)
	if err != nil {
		h := hint(err)
		if strings.Contains(err.Error(), "no bus found") {
			// periph's text suggests a missing Init(); it was called.
			err = fmt.Errorf("no /dev/i2c-* device exists (periph: %w)", err)
		}
		return nil, &OpenError{Bus: name, Hint: h, Err: err}
	}
	if h.buses == nil {
		h.buses = map[string]*sharedBus{}
	}
	sb := &sharedBus{BusCloser: bc, refs: 1}
	h.buses[name] = sb
	return &handle{h: h, name: name, sb: sb}, nil
}

// handle is one user's reference to a shared bus.
type handle struct {
	h      *Host
	name   string
	sb     *sharedBus
	closed bool
}

func (b *handle) String() string                    { return b.sb.String() }
func (b *handle) Tx(addr uint16, w, r []byte) error { return b.sb.Tx(addr, w, r) }
func (b *handle) SetSpeed(f physic.Frequency) error { return b.sb.SetSpeed(f) }

// Close releases this handle; the bus closes with its last handle.
func (b *handle) Close() error {
	b.h.mu.Lock()
	defer b.h.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.sb.refs--
	if b.sb.refs > 0 {
		return nil
	}
	delete(b.h.buses, b.name)
	return b.sb.Close()
}
