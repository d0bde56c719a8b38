package serialport

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shianfood/shian/kiosk/device"
)

// Hub is a device.SerialOpener that opens each physical port once and
// shares it between the drivers that ask for it, with one lock per port.
// The zero value opens ports with Opener.
type Hub struct {
	// Opener opens the physical ports; nil means Opener{}.
	Opener device.SerialOpener

	mu    sync.Mutex
	ports map[string]*shared
}

var _ device.SerialOpener = (*Hub)(nil)

// shared is one open physical port.
type shared struct {
	key    string
	mode   device.SerialMode
	port   device.Port
	refs   int // open handles; guarded by Hub.mu
	broken atomic.Bool
	lock   chan struct{} // one token: the port lock
}

// Key returns the identity of the physical port at path: the path with
// symlinks resolved (so /dev/serial/by-id/… and /dev/ttyUSB0 are one port),
// or the cleaned path if it cannot be resolved.
func Key(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return filepath.Clean(path)
}

// OpenSerial returns a handle on the physical port at path, opening it if
// no other handle has it open. Handles on one port must ask for the same
// line settings.
func (h *Hub) OpenSerial(path string, mode device.SerialMode) (device.Port, error) {
	key := Key(path)
	mode = mode.Normal() // 0 data bits and 8 are one line
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ports == nil {
		h.ports = map[string]*shared{}
	}
	s := h.ports[key]
	if s != nil && !s.broken.Load() {
		if s.mode != mode {
			return nil, fmt.Errorf("%s: %w: already open as %+v by another device; every device on one line must use the same settings", path, ErrMode, s.mode)
		}
		s.refs++
		return &Handle{hub: h, s: s, path: path}, nil
	}
	op := h.Opener
	if op == nil {
		op = Opener{}
	}
	p, err := op.OpenSerial(path, mode)
	if err != nil {
		return nil, err
	}
	s = &shared{key: key, mode: mode, port: p, refs: 1, lock: make(chan struct{}, 1)}
	h.ports[key] = s // a broken predecessor is closed when its last handle goes
	return &Handle{hub: h, s: s, path: path}, nil
}

// Handle is one driver's use of a shared port. It implements device.Port;
// Lock and Unlock serialise the drivers on the port.
type Handle struct {
	hub    *Hub
	s      *shared
	path   string
	held   atomic.Bool
	closed atomic.Bool
}

var _ device.Port = (*Handle)(nil)

// ErrClosed is returned by a Handle used after Close.
var ErrClosed = errors.New("serialport: handle is closed")

// Lock waits for the port's lock, or for ctx to end.
func (h *Handle) Lock(ctx context.Context) error {
	if h.closed.Load() {
		return ErrClosed
	}
	select {
	case h.s.lock <- struct{}{}:
		h.held.Store(true)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unlock releases the port's lock. It does nothing if this handle does not
// hold it.
func (h *Handle) Unlock() {
	if h.held.CompareAndSwap(true, false) {
		<-h.s.lock
	}
}

// Read reads from the port. A failure other than a timeout marks the
// physical port broken.
func (h *Handle) Read(b []byte) (int, error) {
	if h.closed.Load() {
		return 0, ErrClosed
	}
	n, err := h.s.port.Read(b)
	if err != nil {
		h.s.broken.Store(true)
	}
	return n, err
}

// Write writes to the port; a failure marks the physical port broken.
func (h *Handle) Write(b []byte) (int, error) {
	if h.closed.Load() {
		return 0, ErrClosed
	}
	n, err := h.s.port.Write(b)
	if err != nil {
		h.s.broken.Store(true)
	}
	return n, err
}

// SetReadTimeout sets the port's read timeout. It is a property of the
// physical port: set it while holding the lock.
func (h *Handle) SetReadTimeout(d time.Duration) error {
	if h.closed.Load() {
		return ErrClosed
	}
	return h.s.port.SetReadTimeout(d)
}

// ResetInputBuffer discards received bytes not yet read.
func (h *Handle) ResetInputBuffer() error {
	if h.closed.Load() {
		return ErrClosed
	}
	return h.s.port.ResetInputBuffer()
}

// Broken reports whether the physical port has failed.
func (h *Handle) Broken() bool { return h.s.broken.Load() }

// Close releases the handle (and the lock, if held). The physical port is
// closed with its last handle.
func (h *Handle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	h.Unlock()
	h.hub.mu.Lock()
	h.s.refs--
	last := h.s.refs == 0
	if last && h.hub.ports[h.s.key] == h.s {
		delete(h.hub.ports, h.s.key)
	}
	h.hub.mu.Unlock()
	if last {
		return h.s.port.Close()
	}
	return nil
}

// String returns the path the handle was opened with.
func (h *Handle) String() string { return h.path }
