package atp_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/firmware/atp"
	"github.com/shianfood/shian/firmware/internal/printer/printertest"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSharedVectors prints the ATP reports of
// asciirpttest.Vectors byte for byte.
func TestSharedVectors(t *testing.T) {
	v := printertest.Vectors(t)
	cst := time.FixedZone("CST", 8*3600)
	clock := []time.Time{time.Date(2026, 11, 28, 10, 15, 3, 0, cst), time.Date(2026, 11, 28, 10, 16, 40, 0, cst)}
	lum := &atp.SimLuminometer{}
	m := atp.New(atp.Config{FirstNo: 42, Now: func() time.Time { c := clock[0]; clock = clock[1:]; return c }}, lum)
	h, stop := printertest.Serve(t, m)
	defer stop()

	for _, c := range []struct {
		point string
		rlu   measure.RLU
		want  string
	}{{"CB-01", 7, "ATP pass"}, {"KNIFE-2", 27, "ATP caution"}} {
		lum.Next(c.rlu)
		errc := make(chan error, 1)
		go func() { _, err := m.Swab(c.point); errc <- err }()
		if got := h.Report(t); got != v[c.want] {
			t.Errorf("%s:\n%q\nwant\n%q", c.want, got, v[c.want])
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// PRINT repeats the last report unchanged.
	go m.Reprint()
	if got := h.Report(t); got != v["ATP caution"] {
		t.Errorf("reprint %q", got)
	}
	// The host's commands.
	h.W.Write(asciirpt.Command(asciirpt.CmdID))
	if got := h.Report(t); got != v["identity ATP"] {
		t.Errorf("?ID: %q", got)
	}
	h.W.Write([]byte("garbage that is not a command\r\n" + strings.Repeat("x", 200) + "\n"))
	h.W.Write(asciirpt.Command(asciirpt.CmdMeasure))
	if got := h.Report(t); got != v["not supported"] {
		t.Errorf("?MEAS: %q", got)
	}
	// A failed luminometer prints ERR and uses no record number.
	lum.Fail(true)
	go m.Swab("SINK")
	r, err := asciirpt.Parse([]byte(h.Report(t)), cst)
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
