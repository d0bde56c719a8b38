package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/simulator/instrument"
)

// syncBuffer is a bytes.Buffer safe for the command and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInstrumentList(t *testing.T) {
	var out, errb syncBuffer
	if code := run(context.Background(), []string{"instrument", "--list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, m := range instrument.Models() {
		if !strings.Contains(out.String(), m.Name) || !strings.Contains(out.String(), m.Protocol) {
			t.Errorf("--list lacks %s:\n%s", m.Name, out.String())
		}
	}
	if code := run(context.Background(), []string{"instrument", "--model", "dy9000", "--link", "/tmp/x"}, &out, &errb); code != 2 {
		t.Errorf("unknown model: exit %d", code)
	}
	if code := run(context.Background(), []string{"instrument", "--model", "atp"}, &out, &errb); code != 2 {
		t.Errorf("no link: exit %d", code)
	}
}

// TestInstrumentServes: `shian-sim instrument --model card-reader --link
// PATH --addr 3,4` serves two readers until its context ends; a
// third-party Modbus master reads both through PATH.
func TestInstrumentServes(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyGC0")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"instrument", "--model", "card-reader", "--link", link, "--addr", "3,4", "--every", "50ms"}, &out, &errb)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Lstat(link); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link at %s: %s %s", link, out.String(), errb.String())
		}
	}
	mc, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "rtu://" + link, Speed: 9600, Timeout: 2 * time.Second, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Open(); err != nil {
		t.Fatal(err)
	}
	for _, unit := range []uint8{3, 4} {
		mc.SetUnitId(unit)
		regs, err := mc.ReadRegisters(goldcard.IdentityAddr, goldcard.IdentityLen, modbus.INPUT_REGISTER)
		if err != nil {
			t.Fatalf("unit %d: %v", unit, err)
		}
		id, err := goldcard.DecodeIdentity(regs)
		if err != nil || id.Serial != "GC1-000"+string(rune('0'+unit)) {
			t.Errorf("unit %d: %+v %v", unit, id, err)
		}
	}
	mc.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link left behind: %v", err)
	}
	if !strings.Contains(out.String(), "protocol: modbus-gold") {
		t.Errorf("output %q", out.String())
	}
}
