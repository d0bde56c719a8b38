package serialport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

// plug starts an echo instrument on a pty linked at link.
func plug(t *testing.T, link string) *serialsim.Port {
	t.Helper()
	p, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background(), echo{}) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return p
}

// readN reads n bytes with the port's timeout, failing instead of hanging.
func readN(t *testing.T, p device.Port, n int) []byte {
	t.Helper()
	if err := p.SetReadTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 512)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d bytes", len(got), n)
		}
		k, err := p.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

func TestOpenerOnPty(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyUSB0")
	plug(t, link)
	for _, mode := range []device.SerialMode{
		{}, {Baud: 115200}, {Baud: 9600, DataBits: 8, Parity: "E", StopBits: 1}, {Baud: 19200, Parity: "O", StopBits: 2},
	} {
		p, err := Opener{}.OpenSerial(link, mode)
		if err != nil {
			t.Fatalf("open %+v on a pty: %v", mode, err)
		}
		want := make([]byte, 256)
		for i := range want {
			want[i] = byte(i)
		}
		if _, err := p.Write(want); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, p, len(want)); !bytes.Equal(got, want) {
			t.Fatalf("%+v: not 8-bit clean:\n% X", mode, got)
		}
		// Idle line: a read times out with (0, nil).
		if n, err := p.Read(make([]byte, 8)); n != 0 || err != nil {
			t.Fatalf("idle read = %d, %v", n, err)
		}
		if err := p.ResetInputBuffer(); err != nil {
			t.Fatalf("ResetInputBuffer on a pty: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenerErrors(t *testing.T) {
	if _, err := (Opener{}).OpenSerial(filepath.Join(t.TempDir(), "missing"), device.SerialMode{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing port: %v", err)
	}
	for _, m := range []device.SerialMode{{Parity: "X"}, {StopBits: 3}, {DataBits: 9}} {
		if _, err := (Opener{}).OpenSerial("/dev/null", m); !errors.Is(err, ErrMode) {
			t.Errorf("mode %+v: %v", m, err)
		}
	}
}

// TestUnplugReplug: a pulled cable fails reads (never a silent timeout
// forever), the path vanishes, and the re-plugged instrument opens again.
func TestUnplugReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyUSB0")
	sim := plug(t, link)
	p, err := Opener{}.OpenSerial(link, device.SerialMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetReadTimeout(50 * time.Millisecond)
	sim.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := p.Read(make([]byte, 16))
		if err != nil {
			t.Logf("read after unplug: %v", err)
			break
		}
		if n == 0 && time.Now().After(deadline) {
			t.Fatal("reads keep timing out after the master closed; the driver could not notice the unplug")
		}
	}
	if _, err := (Opener{}).OpenSerial(link, device.SerialMode{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open after unplug: %v", err)
	}
	plug(t, link)
	p2, err := Opener{}.OpenSerial(link, device.SerialMode{})
	if err != nil {
		t.Fatalf("open after replug: %v", err)
	}
	defer p2.Close()
	p2.Write([]byte{0x03, 0xFF})
	if got := readN(t, p2, 2); !bytes.Equal(got, []byte{0x03, 0xFF}) {
		t.Fatalf("% X", got)
	}
}

func TestHubSharesOnePortWithOneLock(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyRS485")
	sim := plug(t, link)
	var hub Hub
	a, err := hub.OpenSerial(link, device.SerialMode{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := hub.OpenSerial(sim.SlavePath(), device.SerialMode{}) // same port by another name
	if err != nil {
		t.Fatal(err)
	}
	if a.(*Handle).s != b.(*Handle).s {
		t.Fatal("two handles on one physical port opened it twice")
	}
	if _, err := hub.OpenSerial(link, device.SerialMode{Baud: 19200}); !errors.Is(err, ErrMode) {
		t.Fatalf("mismatched settings: %v", err)
	}
	// 9600 8N1 written out is the same line as the zero mode (a profile
	// names its settings; a hand-written driver leaves them default).
	full, err := hub.OpenSerial(link, device.SerialMode{Baud: 9600, DataBits: 8, Parity: "N", StopBits: 1})
	if err != nil {
		t.Fatalf("the default line written out: %v", err)
	}
	defer full.Close()
	type locker interface {
		Lock(context.Context) error
		Unlock()
	}
	la, lb := a.(locker), b.(locker)
	ctx := context.Background()
	if err := la.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if err := lb.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: %v", err)
	}
	cancel()
	got := make(chan error, 1)
	go func() { got <- lb.Lock(ctx) }()
	a.Write([]byte("A"))
	if r := readN(t, a, 1); string(r) != "A" {
		t.Fatalf("%q", r)
	}
	la.Unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	lb.Unlock()
	// Closing one handle keeps the port open for the other.
	a.Close()
	b.Write([]byte("B"))
	if r := readN(t, b, 1); string(r) != "B" {
		t.Fatalf("%q", r)
	}
	// A handle closed while holding the lock releases it.
	lb.Lock(ctx)
	b.Close()
	c, err := hub.OpenSerial(link, device.SerialMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	if err := c.(locker).Lock(ctx); err != nil {
		t.Fatal(err)
	}
	c.(locker).Unlock()
}

func TestHubReopensBrokenPort(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyUSB0")
	sim := plug(t, link)
	var hub Hub
	a, err := hub.OpenSerial(link, device.SerialMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.SetReadTimeout(50 * time.Millisecond)
	sim.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := a.Read(make([]byte, 8)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reads keep timing out after the unplug")
		}
	}
	if !a.(*Handle).Broken() {
		t.Fatal("port not marked broken")
	}
	plug(t, link)
	b, err := hub.OpenSerial(link, device.SerialMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.(*Handle).s == a.(*Handle).s {
		t.Fatal("a broken port was handed out again")
	}
	b.Write([]byte{1, 2, 3})
	if got := readN(t, b, 3); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("% X", got)
	}
}
