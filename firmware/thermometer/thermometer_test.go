package thermometer_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/firmware/internal/printer/printertest"
	"github.com/shianfood/shian/firmware/thermometer"
	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSharedVectors prints the TEMP reports of
// asciirpttest.Vectors byte for byte.
func TestSharedVectors(t *testing.T) {
	v := printertest.Vectors(t)
	cst := time.FixedZone("CST", 8*3600)
	clock := []time.Time{time.Date(2026, 11, 28, 11, 2, 17, 0, cst), time.Date(2026, 11, 28, 11, 5, 0, 0, cst)}
	probe := &thermometer.SimProbe{}
	th := thermometer.New(thermometer.Config{Serial: "TP1-0007", FirstNo: 13, Now: func() time.Time { c := clock[0]; clock = clock[1:]; return c }}, probe)
	h, stop := printertest.Serve(t, th)
	defer stop()

	probe.Set(72440) // 72.44 °C: printed as 72.4
	go th.Hold()
	if got := h.Report(t); got != v["core 72.4"] {
		t.Errorf("HOLD:\n%q\nwant\n%q", got, v["core 72.4"])
	}
	probe.Set(64951) // 64.951 °C: 65.0
	h.W.Write(asciirpt.Command(asciirpt.CmdMeasure))
	if got := h.Report(t); got != v["undercooked 65.0"] {
		t.Errorf("?MEAS:\n%q\nwant\n%q", got, v["undercooked 65.0"])
	}
	h.W.Write([]byte("\x00\xff?ID\r\n" + strings.Repeat("?", 100) + "\r\n"))
	h.W.Write(asciirpt.Command(asciirpt.CmdID))
	if got := h.Report(t); got != v["identity thermometer"] {
		t.Errorf("?ID: %q", got)
	}
	probe.Unplug(true)
	go th.Hold()
	if got := h.Report(t); got != v["probe open"] {
		t.Errorf("open probe: %q", got)
	}
	probe.Unplug(false)
	probe.Set(350000)
	go th.Hold()
	r, err := asciirpt.Parse([]byte(h.Report(t)), cst)
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
