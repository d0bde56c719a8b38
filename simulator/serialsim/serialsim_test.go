package serialsim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is a device that sends back what it receives.
type echo struct{}

func (echo) Serve(ctx context.Context, uart io.ReadWriter) error {
	buf := make([]byte, 256)
	for {
		n, err := uart.Read(buf)
		if n > 0 {
			if _, werr := uart.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// readFull reads n bytes from f, failing the test (instead of hanging) if
// they do not come.
func readFull(t *testing.T, f *os.File, n int) []byte {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func TestRawEightBitClean(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyDY0")
	p, err := Open(Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != p.SlavePath() || p.Path() != link {
		t.Fatalf("link %s -> %s (%v), slave %s", link, target, err, p.SlavePath())
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), echo{}) }()

	f, err := os.OpenFile(link, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Every byte value, including CR, LF, ^C, ^D, XON/XOFF, DEL and 0xFF,
	// must come back unchanged: no echo, no line discipline, no signals.
	want := append(allBytes(), allBytes()...)
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, f, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("echo differs:\n got % X\nwant % X", got, want)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link still there after Close: %v", err)
	}
	// The cable is pulled: the other side's reads fail.
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on the slave succeeded after the master closed")
	}
}

func TestServeEndsWithContext(t *testing.T) {
	p, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Path() != p.SlavePath() {
		t.Fatal("no link: Path should be the slave")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, echo{}) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("port not closed after Serve returned")
	}
}

func TestLinkReplacesStaleSymlinkOnly(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "tty")
	if err := os.Symlink("/dev/pts/nonexistent", link); err != nil {
		t.Fatal(err)
	}
	p, err := Open(Options{Link: link})
	if err != nil {
		t.Fatalf("replacing a stale symlink: %v", err)
	}
	// A second port at the same link takes it over; closing the first
	// must not remove the second's link.
	p2, err := Open(Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if target, _ := os.Readlink(link); target != p2.SlavePath() {
		t.Fatalf("closing the old port broke the new link: %q", target)
	}
	p2.Close()

	regular := filepath.Join(dir, "file")
	os.WriteFile(regular, nil, 0o644)
	if _, err := Open(Options{Link: regular}); err == nil {
		t.Fatal("replaced a regular file")
	}
}
