// Package serialsim puts simulated instruments on pseudo-terminals, so that
// any serial program — the kiosk through go.bug.st/serial, minicom, a
// third-party Modbus master — talks to them exactly as to /dev/ttyUSB0.
//
// # How it works
//
// [Open] creates a pseudo-terminal with github.com/creack/pty, puts its
// slave side (/dev/pts/N) in raw mode (no echo, no line editing, no CR/LF
// translation, 8-bit clean), and optionally symlinks it at a fixed path
// (Options.Link) so that a kiosk configuration can name a stable port.
// [Port.Serve] runs a [Device] — instrument firmware — on the master side.
// [Port.Close] is the cable being pulled: the master closes, a program
// holding the slave sees its reads fail, and the link is removed. Open again
// with the same Link is the cable plugged back in (on a new /dev/pts/N).
//
// # Caveats
//
//   - The simulator keeps its own descriptor of the slave open for the
//     life of the Port, so the master never sees a hang-up when the kiosk
//     closes and reopens the port.
//   - go.bug.st/serial sets TIOCEXCL on the ports it opens and clears it
//     on Close. A kiosk killed with SIGKILL never clears it, and because
//     the simulator still holds the slave, a non-root process then gets
//     EBUSY when it reopens the same pty. A real USB adapter does not
//     have this problem (the tty is released on the last close). Restart
//     the simulated instrument (Close, Open) after killing a kiosk, or run
//     the kill tests as root.
//   - Raw mode is set with Linux termios ioctls; other systems get an error
//     from Open.
package serialsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Device is what serialsim serves: instrument firmware. Serve talks over
// uart until ctx ends or the UART fails; it must not close uart.
type Device interface {
	Serve(ctx context.Context, uart io.ReadWriter) error
}

// Options configure a Port.
type Options struct {
	// Link, if set, is a path at which to symlink the slave side. An
	// existing symlink there is replaced; any other file is an error.
	Link string
}

// Port is one simulated serial port.
type Port struct {
	slavePath string
	link      string

	master *os.File // the instrument's side
	slave  *os.File // held open, see the package doc

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// Open creates a pseudo-terminal in raw mode and, if opts.Link is set,
// symlinks its slave side there.
func Open(opts Options) (*Port, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("serialsim: creating a pseudo-terminal: %w", err)
	}
	// creack/pty leaves the master in blocking mode (it calls Fd()), and a
	// Read blocked in the kernel would not wake up on Close. Take a
	// non-blocking duplicate that the Go runtime poller manages.
	master, err := pollable(ptmx)
	if err != nil {
		tty.Close()
		return nil, err
	}
	p := &Port{slavePath: tty.Name(), master: master, slave: tty, closed: make(chan struct{})}
	if err := makeRaw(tty); err != nil {
		p.Close()
		return nil, fmt.Errorf("serialsim: raw mode on %s: %w", tty.Name(), err)
	}
	if opts.Link != "" {
		if err := link(p.slavePath, opts.Link); err != nil {
			p.Close()
			return nil, err
		}
		p.link = opts.Link
	}
	return p, nil
}

func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("serialsim: dup of the pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("serialsim: non-blocking pty master: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// link makes path a symlink to target, atomically replacing an existing
// symlink. It refuses to replace anything that is not a symlink.
func link(target, path string) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("serialsim: %s exists and is not a symlink; not replacing it", path)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".serialsim-tmp")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("serialsim: symlink %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("serialsim: symlink %s: %w", path, err)
	}
	return nil
}

// SlavePath returns the pseudo-terminal's slave device (/dev/pts/N).
func (p *Port) SlavePath() string { return p.slavePath }

// Path returns the path a serial program should open: the link if one was
// requested, else the slave device.
func (p *Port) Path() string {
	if p.link != "" {
		return p.link
	}
	return p.slavePath
}

// Serve runs dev on the master side until ctx ends or the Port is closed
// (both return nil), or until dev fails (its error is returned). Serve
// closes the Port when it returns. Call it once.
func (p *Port) Serve(ctx context.Context, dev Device) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer stop()
	go func() {
		select {
		case <-p.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := dev.Serve(ctx, p.master)
	p.Close()
	select {
	case <-p.closed:
		if ctx.Err() != nil || errors.Is(err, os.ErrClosed) || errors.Is(err, context.Canceled) {
			return nil
		}
	default:
	}
	return err
}

// Close pulls the cable: it closes both sides and removes the link if it
// still points at this port. It is safe to call more than once.
func (p *Port) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		errM := p.master.Close()
		errS := p.slave.Close()
		if p.link != "" {
			if target, err := os.Readlink(p.link); err == nil && target == p.slavePath {
				os.Remove(p.link)
			}
		}
		p.closeErr = errors.Join(errM, errS)
	})
	return p.closeErr
}

// Done is closed when the Port is closed.
func (p *Port) Done() <-chan struct{} { return p.closed }
