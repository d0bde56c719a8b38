package atp_test

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

	"github.com/shianfood/shian/firmware/atp"
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

// TestSharedVectors prints the ATP reports of
// protocols/asciirpt/testdata/vectors.json byte for byte.
func TestSharedVectors(t *testing.T) {
	v := vectors(t)
	cst := time.FixedZone("CST", 8*3600)
	clock := []time.Time{time.Date(2026, 11, 28, 10, 15, 3, 0, cst), time.Date(2026, 11, 28, 10, 16, 40, 0, cst)}
	lum := &atp.SimLuminometer{}
	m := atp.New(atp.Config{FirstNo: 42, Now: func() time.Time { c := clock[0]; clock = clock[1:]; return c }}, lum)
	h, stop := serve(t, m)
	defer stop()

	for _, c := range []struct {
		point string
		rlu   measure.RLU
		want  string
	}{{"CB-01", 7, "ATP pass"}, {"KNIFE-2", 27, "ATP caution"}} {
		lum.Next(c.rlu)
		errc := make(chan error, 1)
		go func() { _, err := m.Swab(c.point); errc <- err }()
		if got := h.report(t); got != v[c.want] {
			t.Errorf("%s:\n%q\nwant\n%q", c.want, got, v[c.want])
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// PRINT repeats the last report unchanged.
	go m.Reprint()
	if got := h.report(t); got != v["ATP caution"] {
		t.Errorf("reprint %q", got)
	}
	// The host's commands.
	h.w.Write(asciirpt.Command(asciirpt.CmdID))
	if got := h.report(t); got != v["identity ATP"] {
		t.Errorf("?ID: %q", got)
	}
	h.w.Write([]byte("garbage that is not a command\r\n" + strings.Repeat("x", 200) + "\n"))
	h.w.Write(asciirpt.Command(asciirpt.CmdMeasure))
	if got := h.report(t); got != v["not supported"] {
		t.Errorf("?MEAS: %q", got)
	}
	// A failed luminometer prints ERR and uses no record number.
	lum.Fail(true)
	go m.Swab("SINK")
	r, err := asciirpt.Parse([]byte(h.report(t)), cst)
	if err != nil || r.Kind != asciirpt.KindErr || r.Code != "LUM-FAULT" {
		t.Errorf("%+v %v", r, err)
	}
}

func TestOffLine(t *testing.T) {
	m := atp.New(atp.Config{}, &atp.SimLuminometer{})
	if err := m.Reprint(); err != atp.ErrNothing {
		t.Error(err)
	}
	if _, err := m.Swab("CB-01"); err == nil {
		t.Error("printed without a UART")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rules := assay.DefaultRules()
	for _, v := range []assay.Verdict{assay.Negative, assay.Suspicious, assay.Positive} {
		for range 100 {
			rlu := atp.RLUFor(rng, v)
			o, _ := rules.Decide(assay.ATP, "", assay.Raw{RLU: &rlu})
			if want := map[assay.Verdict]assay.Verdict{assay.Negative: assay.Pass, assay.Suspicious: assay.Caution, assay.Positive: assay.Fail}[v]; o.Verdict != want {
				t.Fatalf("%s: %d RLU is %s", v, rlu, o.Verdict)
			}
		}
	}
}
