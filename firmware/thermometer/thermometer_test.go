package thermometer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/firmware/thermometer"
	"github.com/shianfood/shian/protocols/asciirpt"
	"github.com/shianfood/shian/protocols/assay"
	"github.com/shianfood/shian/protocols/measure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func vectors(t *testing.T) map[string]string {
	b, err := os.ReadFile("../../protocols/asciirpt/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Reports []struct{ Name, Text string } }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range v.Reports {
		m[r.Name] = r.Text
	}
	return m
}

// host is the other end of the meter's UART.
type host struct {
	w  *io.PipeWriter
	r  *bufio.Reader
	rc *io.PipeReader
}

func serve(t *testing.T, dev interface {
	Serve(context.Context, io.ReadWriter) error
	Serving() bool
}) (*host, func()) {
	hostR, devW := io.Pipe()
	devR, hostW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dev.Serve(ctx, struct {
			io.Reader
			io.Writer
		}{devR, devW})
	}()
	// A report printed before Serve has the UART goes nowhere (the
	// instrument's port is not connected yet): wait for it.
	for deadline := time.Now().Add(10 * time.Second); !dev.Serving(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the instrument never started serving")
		}
	}
	return &host{w: hostW, r: bufio.NewReader(hostR), rc: hostR}, func() {
		cancel()
		hostW.Close()
		hostR.Close()
		<-done
	}
}

// report reads one report block.
func (h *host) report(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		for {
			l, err := h.r.ReadString('\n')
			b.WriteString(l)
			if err != nil || l == asciirpt.End+"\r\n" {
				got <- b.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no report")
	}
	return ""
}

// TestSharedVectors prints the TEMP reports of
// protocols/asciirpt/testdata/vectors.json byte for byte.
func TestSharedVectors(t *testing.T) {
	v := vectors(t)
	cst := time.FixedZone("CST", 8*3600)
	clock := []time.Time{time.Date(2026, 11, 28, 11, 2, 17, 0, cst), time.Date(2026, 11, 28, 11, 5, 0, 0, cst)}
	probe := &thermometer.SimProbe{}
	th := thermometer.New(thermometer.Config{Serial: "TP1-0007", FirstNo: 13, Now: func() time.Time { c := clock[0]; clock = clock[1:]; return c }}, probe)
	h, stop := serve(t, th)
	defer stop()

	probe.Set(72440) // 72.44 °C: printed as 72.4
	go th.Hold()
	if got := h.report(t); got != v["core 72.4"] {
		t.Errorf("HOLD:\n%q\nwant\n%q", got, v["core 72.4"])
	}
	probe.Set(64951) // 64.951 °C: 65.0
	h.w.Write(asciirpt.Command(asciirpt.CmdMeasure))
	if got := h.report(t); got != v["undercooked 65.0"] {
		t.Errorf("?MEAS:\n%q\nwant\n%q", got, v["undercooked 65.0"])
	}
	h.w.Write([]byte("\x00\xff?ID\r\n" + strings.Repeat("?", 100) + "\r\n"))
	h.w.Write(asciirpt.Command(asciirpt.CmdID))
	if got := h.report(t); got != v["identity thermometer"] {
		t.Errorf("?ID: %q", got)
	}
	probe.Unplug(true)
	go th.Hold()
	if got := h.report(t); got != v["probe open"] {
		t.Errorf("open probe: %q", got)
	}
	probe.Unplug(false)
	probe.Set(350000)
	go th.Hold()
	r, err := asciirpt.Parse([]byte(h.report(t)), cst)
	if err != nil || r.Kind != asciirpt.KindErr || r.Code != "OVER-RANGE" {
		t.Errorf("%+v %v", r, err)
	}
}

func TestRound(t *testing.T) {
	for in, want := range map[measure.Temperature]measure.Temperature{72440: 72400, 72450: 72500, -18649: -18600, -18650: -18700, 49: 0, -49: 0} {
		if got := thermometer.Round(in); got != want {
			t.Errorf("Round(%d) = %d, want %d", in, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		for _, v := range []assay.Verdict{assay.Negative, assay.Positive} {
			c := thermometer.CoreFor(rng, v)
			o, _ := assay.DefaultRules().Decide(assay.CoreTemperature, "", assay.Raw{CoreTemp: &c})
			if (v == assay.Negative) != (o.Verdict == assay.Pass) {
				t.Fatalf("%s: %v is %s", v, c, o.Verdict)
			}
		}
	}
}
