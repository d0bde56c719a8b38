package kiosk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/simulator/serialsim"

	_ "github.com/shianfood/shian/kiosk/device/dyenzyme"
)

// deafTester is an enzyme tester whose UART can go deaf: what the kiosk
// writes while deaf never arrives — the acknowledgement a kiosk killed
// right after its save never sent. lostAcks counts the acknowledgements
// it did not hear, so that a test knows the one it means to lose is gone
// (not still in the line's buffer when the tester hears again).
type deafTester struct {
	fw       *enzyme.Firmware
	deaf     atomic.Bool
	lostAcks atomic.Int32
}

func (d *deafTester) Serve(ctx context.Context, uart io.ReadWriter) error {
	return d.fw.Serve(ctx, &deafUART{ReadWriter: uart, t: d})
}

type deafUART struct {
	io.ReadWriter
	t  *deafTester
	sc dyframe.Scanner
}

func (u *deafUART) Read(p []byte) (int, error) {
	for {
		n, err := u.ReadWriter.Read(p)
		if err != nil || !u.t.deaf.Load() {
			return n, err
		}
		u.sc.Feed(p[:n])
		for {
			f, err := u.sc.Next()
			if errors.Is(err, dyframe.ErrIncomplete) {
				break
			}
			if m, derr := dyframe.Decode(f); err == nil && derr == nil {
				if _, ok := m.(dyframe.Ack); ok {
					u.t.lostAcks.Add(1)
				}
			}
		}
	}
}

// TestCrashBetweenSaveAndAck: the kiosk saves a report and dies before
// its acknowledgement reaches the tester. The tester repeats the report to
// the restarted kiosk, which recognises it (same tester, record and
// content) and acknowledges it without saving it again: one test, one
// result.
func TestCrashBetweenSaveAndAck(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyENZ0")
	port, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	tester := &deafTester{fw: enzyme.New(enzyme.Config{Serial: "DY3E-000001", Interval: 20 * time.Millisecond,
		Lead: 5 * time.Millisecond, Resend: 50 * time.Millisecond}, enzyme.NewSim(enzyme.SimConfig{}), nil)}
	served := make(chan struct{})
	go func() { port.Serve(context.Background(), tester); close(served) }()
	defer func() { port.Close(); <-served }()

	cfg, err := kiosk.ParseConfig("kiosk.yaml", []byte(fmt.Sprintf(`kiosk_id: K-1
data: %s
command:
  url: ws://127.0.0.1:9/ws/kiosk
  token: kt_test
ui:
  listen: 127.0.0.1:0
devices:
  - id: enzyme-1
    protocol: dy-enzyme
    model: DY-3000E
    port: %s
    options:
      read_timeout: 10ms
      probe_every: 200ms
      backoff_min: 10ms
      backoff_max: 100ms
`, filepath.Join(dir, "data"), link)))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var saved []kiosk.Saved
	run := func(onSaved func(kiosk.Saved)) (*kiosk.Kiosk, context.CancelFunc, chan struct{}) {
		k, err := kiosk.Open(cfg, kiosk.Options{Serial: &serialport.Hub{}, Log: slog.New(slog.DiscardHandler),
			OnSaved: func(s kiosk.Saved) {
				mu.Lock()
				saved = append(saved, s)
				mu.Unlock()
				onSaved(s)
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { k.Run(ctx); close(done) }()
		return k, cancel, done
	}
	// The first kiosk saves, and its acknowledgement is lost: it "dies".
	first := make(chan struct{})
	var once sync.Once
	k1, stop1, done1 := run(func(kiosk.Saved) {
		tester.deaf.Store(true)
		once.Do(func() { close(first) })
	})
	if _, err := tester.fw.Start(1, "S-001", "菠菜"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("the first kiosk never saved the report")
	}
	stop1()
	<-done1
	k1.Close()
	for deadline := time.Now().Add(20 * time.Second); tester.lostAcks.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first kiosk never sent its acknowledgement")
		}
	}
	if tester.fw.Pending() != 1 {
		t.Fatalf("tester holds %d unacknowledged reports, want 1", tester.fw.Pending())
	}
	// The restarted kiosk gets the repeat.
	tester.deaf.Store(false)
	k2, stop2, done2 := run(func(kiosk.Saved) {})
	deadline := time.Now().Add(20 * time.Second)
	for tester.fw.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop2()
	<-done2
	defer k2.Close()
	if tester.fw.Pending() != 0 {
		t.Fatal("the repeated report was never acknowledged")
	}
	recs, _ := k2.Outbox().Recent(10)
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 1 || len(saved) != 2 || saved[0].Result.ResultID != saved[1].Result.ResultID || saved[1].Err != "" {
		t.Fatalf("outbox %d records; saved %+v", len(recs), saved)
	}
}
