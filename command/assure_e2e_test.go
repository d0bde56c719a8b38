package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// TestPositiveFromKioskToSignOff follows one positive from a kiosk's
// outbox, over a real uplink on loopback, into the command service, which
// opens an incident, dispatches the nearest team and tells the kiosk the
// incident number; the team then works it through the REST API to 销号
// (signed_off) and closed, with photo and lab-report evidence.
func TestPositiveFromKioskToSignOff(t *testing.T) {
	e := startAssure(t, command.Config{})
	st := e.svc.Store()
	tok, err := st.RegisterKiosk(store.Kiosk{ID: "K-NT-01", Name: "美食广场快检点", SiteID: "S-001", Loc: []float64{stallLoc.Lon, stallLoc.Lat}})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-NT-01", Log: silent})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	notices := make(chan wire.Notice, 4)
	up, err := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk", KioskID: "K-NT-01", Token: tok,
		Source: ob, Log: silent, BackoffMin: 10 * time.Millisecond, OnNotice: func(n wire.Notice) { notices <- n }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// The operator tests spinach from stall S-001: ΔA0 0.303, ΔAt 0.131,
	// inhibition 56.77 % — positive.
	mAU := measure.MilliAU
	out := assay.DefaultEnzymeRule().Decide(303*mAU, 131*mAU)
	saved, err := ob.Save(wire.Result{DeviceID: "enzyme-1", Model: "DY-3000E", StallID: "S-001", Operator: "op",
		Sample: wire.Sample{Name: "菠菜", Category: "蔬菜", Batch: "20261128-3"}, Method: assay.EnzymeInhibition,
		Item: "有机磷和氨基甲酸酯类农药", Analyte: "organophosphate_carbamate", Value: out.Value, Unit: out.Unit, Verdict: out.Verdict,
		Reason: out.Reason, RepeatsRequired: out.RepeatsRequired, Raw: assay.Raw{ControlDeltaA: assay.Ptr(303 * mAU), SampleDeltaA: assay.Ptr(131 * mAU)}})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Verdict != assay.Positive {
		t.Fatalf("verdict %s", saved.Verdict)
	}

	var notice wire.Notice
	select {
	case notice = <-notices:
	case <-time.After(15 * time.Second):
		t.Fatal("no notice reached the kiosk")
	}
	var inc engine.Incident
	e.must(t, 200, "GET", "/api/v1/incidents/"+notice.IncidentNo, "viewer", nil, &inc)
	// A first enzyme positive waits in 待复测 for its two repeats
	// (decision 0015): no team yet.
	if notice.ResultID != saved.ResultID || inc.Trigger.ResultID != saved.ResultID || inc.State != assurance.IncidentWarned || inc.TeamID != "" ||
		inc.Repeat == nil || inc.Repeat.State != assurance.RepeatAwaiting || inc.Repeat.Needed != 2 || !strings.Contains(notice.Message, "待复测") {
		t.Fatalf("notice %+v, incident %s %s %q repeat %+v", notice, inc.ID, inc.State, inc.TeamID, inc.Repeat)
	}
	t.Logf("kiosk notice: %s", notice.Message)
	// The operator repeats the same sample twice; both stay positive.
	for _, sample := range []measure.Absorbance{128 * mAU, 133 * mAU} {
		rep := assay.DefaultEnzymeRule().Decide(303*mAU, sample)
		if _, err := ob.Save(wire.Result{DeviceID: "enzyme-1", Model: "DY-3000E", StallID: "S-001", Operator: "op", RepeatOf: saved.ResultID,
			Sample: saved.Sample, Method: assay.EnzymeInhibition, Item: saved.Item, Analyte: saved.Analyte, Value: rep.Value, Unit: rep.Unit,
			Verdict: rep.Verdict, RepeatsRequired: rep.RepeatsRequired,
			Raw: assay.Raw{ControlDeltaA: assay.Ptr(303 * mAU), SampleDeltaA: assay.Ptr(sample)}}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case notice = <-notices:
	case <-time.After(15 * time.Second):
		t.Fatal("no notice after the repeats")
	}
	e.must(t, 200, "GET", "/api/v1/incidents/"+notice.IncidentNo, "viewer", nil, &inc)
	if inc.State != assurance.IncidentAssigned || inc.TeamID != "T-01" || inc.Repeat.State != assurance.RepeatReproduced || len(inc.Repeat.Repeats) != 2 ||
		!strings.Contains(notice.Message, "复测阳性成立") {
		t.Fatalf("after the repeats: notice %q, incident %s %s repeat %+v", notice.Message, inc.State, inc.TeamID, inc.Repeat)
	}
	t.Logf("kiosk notice after the repeats: %s", notice.Message)

	path := "/api/v1/incidents/" + inc.ID
	step := func(user string, body map[string]any) {
		t.Helper()
		e.must(t, 200, "POST", path+"/transition", user, body, &inc)
	}
	upload := func(kind, name string, data []byte) string {
		t.Helper()
		code, b := e.upload(t, path+"/evidence", "insp1", kind, name, data)
		if code != 201 {
			t.Fatalf("upload %s: %d %s", name, code, b)
		}
		var ev engine.Evidence
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.Ref
	}
	// The team walks over, reporting its position, and arrives.
	e.must(t, 200, "POST", "/api/v1/teams/T-01/position", "insp1", assurance.Point{Lon: 120.9395, Lat: 31.9893}, nil)
	e.must(t, 200, "POST", "/api/v1/teams/T-01/position", "insp1", stallLoc, nil)
	step("insp1", map[string]any{"to": "on_site", "note": "到达张记蔬菜"})
	seal := upload("seal_record", "seal.png", photoOf(40))
	step("insp1", map[string]any{"to": "controlled", "controls": []string{"sealed", "sale_stopped"}, "note": "封存菠菜 12 kg，暂停销售",
		"evidence": []map[string]string{{"kind": "seal_record", "ref": seal}}})
	step("insp1", map[string]any{"to": "lab_sent", "note": "送市食品药品检验所",
		"lab": map[string]any{"lab": "南通市食品药品监督检验中心", "sample_id": "NT-2026-1128-017",
			"method": map[string]string{"kind": "lab", "name": "GB 23200.113-2018 GC-MS/MS"}}})
	report := upload("lab_report", "report.pdf", []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"))
	step("insp1", map[string]any{"to": "confirmed_positive", "note": "毒死蜱 0.35 mg/kg，超过 GB 2763 限量",
		"evidence": []map[string]string{{"kind": "lab_report", "ref": report}}})
	disposal := upload("photo", "disposal.png", photoOf(200))
	step("insp1", map[string]any{"to": "disposed", "note": "监督下粉碎深埋 12 kg",
		"evidence": []map[string]string{{"kind": "photo", "ref": disposal}}})
	// The sign-off (销号) is another commander's; the closing anyone's.
	step("cmd2", map[string]any{"to": "signed_off", "note": "处置到位，同意销号"})
	step("cmd1", map[string]any{"to": "closed"})

	if inc.State != assurance.IncidentClosed || len(inc.Evidence) != 3 {
		t.Fatalf("final %s, %d evidence files", inc.State, len(inc.Evidence))
	}
	var r wire.Result
	e.must(t, 200, "GET", "/api/v1/results/"+saved.ResultID, "viewer", nil, &r)
	t.Logf("positive %s: measured %s (kiosk clock), received %s (command clock)", r.ResultID,
		r.MeasuredAt.In(assurance.ChinaStandardTime).Format("15:04:05.000"), r.ReceivedAt.In(assurance.ChinaStandardTime).Format("15:04:05.000"))
	for _, a := range inc.Audit {
		where := ""
		if a.Where != nil {
			where = fmt.Sprintf(" @%.5f,%.5f", a.Where.Lon, a.Where.Lat)
		}
		t.Logf("%2d %s %-6s %-8s %-18s → %-18s %s%s", a.Seq, a.At.In(assurance.ChinaStandardTime).Format("15:04:05.000"), a.Actor.Role,
			a.Actor.UserID, a.Action, a.To, labelZH(a.To), where)
	}
	if inc.Audit[0].At.Before(*r.ReceivedAt) {
		t.Error("incident opened before the result was received")
	}

	// The figures follow: one positive, disposed and signed off.
	var kpi struct {
		Report assurance.KPIReport `json:"report"`
	}
	e.must(t, 200, "GET", "/api/v1/kpis", "viewer", nil, &kpi)
	k := kpi.Report.Total
	// The two repeats (复测 of the same sample) are not more tests: one
	// test, one positive, disposed (decision 0033).
	if k.Tests != 1 || k.Positives != 1 || k.DisposalRate.Num != 1 || k.DisposalRate.Den != 1 || k.TimeToArrive.N != 1 || k.TimeToClose.N != 1 {
		t.Errorf("kpis %+v", k)
	}
	t.Logf("KPIs: tests %d, detection %d/%d, disposal %d/%d, arrive %s, close %s", k.Tests, k.DetectionRate.Num, k.DetectionRate.Den,
		k.DisposalRate.Num, k.DisposalRate.Den, k.TimeToArrive.Median, k.TimeToClose.Median)
	// The stall's credit: −10 for the positive, −20 for the confirmation.
	var c engine.Credit
	e.must(t, 200, "GET", "/api/v1/vendors/S-001", "viewer", nil, &c)
	if c.Score != 70 || c.Grade != assurance.GradeD || len(c.History) != 2 {
		t.Errorf("credit %d %s %+v", c.Score, c.Grade, c.History)
	}
	t.Logf("credit S-001: %d → grade %s (%s)", c.Score, c.Grade, c.GradeLabel.ZH)
}

func labelZH(id string) string {
	if l, ok := assurance.LabelOf(id); ok {
		return l.ZH
	}
	return ""
}
