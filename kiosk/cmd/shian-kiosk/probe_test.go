package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

// serveModel puts one of the demo's emulated instruments on a pty.
func serveModel(t *testing.T, model string) (*instrument.Instance, string) {
	t.Helper()
	in, err := instrument.New(model, instrument.Options{Seed: 3, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "tty0")
	port, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); port.Serve(ctx, in.Device) }()
	t.Cleanup(func() { cancel(); port.Close(); <-done })
	return in, link
}

// TestProbeDemoCardReader: `shian-kiosk probe --profile SHIAN-GC1` on the
// demo's card reader prints its identity, its registers, the decoded C
// and T, and the verdict, and acknowledges nothing.
func TestProbeDemoCardReader(t *testing.T) {
	in, link := serveModel(t, "card-reader")
	var out bytes.Buffer
	p := &Probe{Stdout: &out}
	if err := p.ParseFlags([]string{"--profile", "SHIAN-GC1", "--port", link, "--addr", "1", "--profiles", t.TempDir(), "--timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	p.Env = &device.Env{Serial: &serialport.Hub{}}
	ctx := context.Background()
	// No card yet: the probe says so.
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "无 none: the device holds no result") {
		t.Errorf("without a card:\n%s", out.String())
	}
	if err := in.Test(ctx, assay.Positive); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		out.Reset()
		if err := p.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "ready 是 yes") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := out.String()
	t.Logf("shian-kiosk probe --profile SHIAN-GC1 --port %s --addr 1:\n%s", link, got)
	for _, want := range []string{
		"档案 profile    SHIAN-GC1", `serial "GC1-0001" · model "SHIAN-GC1"`,
		"寄存器 registers identity input 0x0000–0x000F", "  0x0000  4743 0100",
		"寄存器 registers result input 0x0010–0x001C", "ready 是 yes", "sequence 1",
		"method   gold_line", "item 克伦特罗 (clenbuterol, code 1)", "数值 value      c ", "数值 value      t ",
		"判定 verdict    阳性（疑似） / Positive (suspected)", "not acknowledged",
	} {
		if !strings.Contains(got, strings.ReplaceAll(want, "method   gold_line", "方法 method")) {
			t.Errorf("probe output lacks %q", want)
		}
	}
	// Probing again shows the same result: nothing was acknowledged.
	out.Reset()
	p.Run(ctx)
	if !strings.Contains(out.String(), "sequence 1") || !strings.Contains(out.String(), "ready 是 yes") {
		t.Errorf("the probe acknowledged the result:\n%s", out.String())
	}
}

// TestProbeText: the ATP meter's printed report, from the SHIAN-ATP1
// profile, with the lines received.
func TestProbeText(t *testing.T) {
	in, link := serveModel(t, "atp")
	var out bytes.Buffer
	p := &Probe{Stdout: &out}
	if err := p.ParseFlags([]string{"--profile", "SHIAN-ATP1", "--port", link, "--profiles", t.TempDir(), "--timeout", "10s"}); err != nil {
		t.Fatal(err)
	}
	p.Env = &device.Env{Serial: &serialport.Hub{}}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	// The operator swabs while the probe listens (a report printed before
	// the probe opened the port is not heard).
	var err error
	for tick := time.NewTicker(300 * time.Millisecond); ; {
		in.Test(context.Background(), assay.Suspicious)
		select {
		case err = <-done:
		case <-tick.C:
			continue
		}
		tick.Stop()
		break
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"收到 received", `"TYPE  : ATP\r\n"`, "数值 value      rlu", "判定 verdict    注意 / Caution"} {
		if !strings.Contains(got, want) {
			t.Errorf("probe output lacks %q:\n%s", want, got)
		}
	}
}

func TestProbeFlags(t *testing.T) {
	var out bytes.Buffer
	if err := (&Probe{Stdout: &out}).ParseFlags([]string{"--port", "/dev/ttyUSB0"}); err == nil {
		t.Error("accepted a probe without --profile")
	}
	p := &Probe{Stdout: &out}
	p.ParseFlags([]string{"--profile", "NOPE-1", "--port", "/dev/x", "--profiles", t.TempDir()})
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "SHIAN-GC1") {
		t.Errorf("unknown profile: %v", err)
	}
}
