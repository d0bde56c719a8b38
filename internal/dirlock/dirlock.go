// Package dirlock keeps a second process out of a data directory.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is returned by Lock when another process holds the directory.
var ErrLocked = errors.New("data directory is locked by another process")

// Lock is an exclusive flock on DIR/LOCK, held for the life of a store.
// buntdb takes no lock of its own, and two writers corrupt its file
// (buntdb #61). The lock file holds the holder's pid, for the error message
// a second process prints.
type Lock struct{ f *os.File }

// Acquire takes the lock on dir without waiting. program names the
// process for the error message ("shian-kiosk").
func Acquire(dir, program string) (*Lock, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(b))
		if holder == "" {
			holder = "unknown"
		}
		return nil, fmt.Errorf("%w: %s (held by pid %s); stop the other %s or use another --data directory", ErrLocked, dir, holder, program)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock. It is safe to call on a nil or released lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
