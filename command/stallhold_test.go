package command_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// TestOpenIncidentKeepsTheStallAlarming (issue 11, finding 2): a positive
// at S-001 opens an incident; a later negative at the same stall is the
// stall's latest result, but the stall stays alarming — in the stall
// delta on /ws/live, in a new browser's snapshot and in GET
// /api/v1/stalls — until the incident is closed; the close releases it
// (a stall delta without the incident, shown negative).
func TestOpenIncidentKeepsTheStallAlarming(t *testing.T) {
	e := startAssure(t, command.Config{})
	// GET /api/v1/stalls wants a stall's zone.
	if _, err := store.Modify(e.svc.Store(), "site", "S-001", func(s *store.Site) error { s.ZoneID = "Z-1"; return nil }); err != nil {
		t.Fatal(err)
	}
	tok, err := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-1"})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/kiosk", h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	k := &kioskLink{t: t, ws: ws}
	k.send(&wire.Hello{KioskID: "K-1", SentAt: time.Now()})
	k.read() // welcome
	send := func(seq uint64, c, s measure.Absorbance, repeatOf string) wire.Result {
		r := enzymeResult("S-001", c, s)
		r.ResultID, r.KioskID, r.Seq, r.MeasuredAt, r.RepeatOf = uuid.Must(uuid.NewV7()).String(), "K-1", seq, time.Now(), repeatOf
		k.send(&wire.Results{Results: []wire.Result{r}})
		for {
			if _, ok := k.read().(*wire.Ack); ok {
				return r
			}
		}
	}
	lh := http.Header{}
	lh.Set("Authorization", "Bearer "+e.tok["viewer"])
	live, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/live", lh)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	readMsg(t, live) // snapshot
	// nextStall reads deltas until a stall delta of S-001 that satisfies ok.
	nextStall := func(what string, ok func(wire.StallState) bool) wire.StallState {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			d, isDelta := readMsg(t, live).(*wire.Delta)
			if !isDelta || d.Kind != wire.KindStall {
				continue
			}
			var st wire.StallState
			json.Unmarshal(d.Data, &st)
			if st.StallID == "S-001" && ok(st) {
				return st
			}
		}
		t.Fatalf("no stall delta: %s", what)
		return wire.StallState{}
	}

	pos := send(1, 303*measure.MilliAU, 131*measure.MilliAU, "")
	held := nextStall("held by the incident", func(st wire.StallState) bool { return st.OpenIncident != nil })
	var incs []engine.Incident
	e.must(t, 200, "GET", "/api/v1/incidents?open=1", "viewer", nil, &incs)
	if len(incs) != 1 || incs[0].Trigger.ResultID != pos.ResultID || held.OpenIncident.ID != incs[0].ID || held.OpenIncident.Verdict != assay.Positive {
		t.Fatalf("incidents %+v, stall %+v", incs, held)
	}
	inc := incs[0]
	// The method's two repeats (复测) reproduce it, and a team is sent.
	send(2, 303*measure.MilliAU, 131*measure.MilliAU, pos.ResultID)
	send(3, 303*measure.MilliAU, 131*measure.MilliAU, pos.ResultID)
	waitUntil(t, "a team assigned", func() bool {
		e.must(t, 200, "GET", "/api/v1/incidents/"+inc.ID, "viewer", nil, &inc)
		return inc.TeamID != ""
	})

	neg := send(4, 300*measure.MilliAU, 290*measure.MilliAU, "")
	after := nextStall("the negative", func(st wire.StallState) bool { return st.ResultID == neg.ResultID })
	if after.Verdict != assay.Negative || after.OpenIncident == nil || after.OpenIncident.ID != inc.ID || after.Shown() != assay.Positive {
		t.Fatalf("after a later negative the stall is %+v (shown %s), want held at positive by %s", after, after.Shown(), inc.ID)
	}
	// A browser connecting now, and the REST layer, say the same.
	live2, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/live", lh)
	if err != nil {
		t.Fatal(err)
	}
	defer live2.Close()
	snap := readMsg(t, live2).(*wire.Snapshot)
	if len(snap.Stalls) != 1 || snap.Stalls[0].Shown() != assay.Positive || snap.Stalls[0].Verdict != assay.Negative {
		t.Fatalf("snapshot stalls %+v", snap.Stalls)
	}
	var fc struct {
		Features []struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	e.must(t, 200, "GET", "/api/v1/stalls", "viewer", nil, &fc)
	for _, f := range fc.Features {
		if f.ID == "S-001" {
			oi, _ := f.Properties["open_incident"].(map[string]any)
			if f.Properties["verdict"] != "negative" || oi == nil || oi["id"] != inc.ID || oi["verdict"] != "positive" {
				t.Fatalf("GET /api/v1/stalls S-001: %v", f.Properties)
			}
		}
	}

	// The team clears it (排除), the commanders sign it off and close it.
	path := "/api/v1/incidents/" + inc.ID + "/transition"
	e.must(t, 200, "POST", "/api/v1/teams/"+inc.TeamID+"/position", "insp1", stallLoc, nil)
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "on_site", "note": "到场"}, nil)
	upload := func(kind, name string, data []byte) string {
		t.Helper()
		code, b := e.upload(t, "/api/v1/incidents/"+inc.ID+"/evidence", "insp1", kind, name, data)
		if code != 201 {
			t.Fatalf("upload %s: %d %s", name, code, b)
		}
		var ev engine.Evidence
		json.Unmarshal(b, &ev)
		return ev.Ref
	}
	seal := upload("seal_record", "seal.png", photoOf(40))
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "controlled", "controls": []string{"sealed", "sale_stopped"}, "note": "封存",
		"evidence": []map[string]string{{"kind": "seal_record", "ref": seal}}}, nil)
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "lab_sent", "note": "送检",
		"lab": map[string]any{"lab": "南通市食品药品监督检验中心", "sample_id": "NT-1", "method": map[string]string{"kind": "lab", "name": "GB 23200.113-2018"}}}, nil)
	report := upload("lab_report", "report.pdf", []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"))
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "cleared", "note": "检验未检出，排除",
		"evidence": []map[string]string{{"kind": "lab_report", "ref": report}}}, nil)
	e.must(t, 200, "POST", path, "cmd2", map[string]any{"to": "signed_off", "note": "同意销号"}, nil)
	if st := nextStall("still held after sign-off", func(st wire.StallState) bool { return true }); st.OpenIncident == nil {
		// Every step publishes the stall; before the close it stays held.
		t.Fatalf("released before the close: %+v", st)
	}
	var closed engine.Incident
	e.must(t, 200, "POST", path, "cmd1", map[string]any{"to": "closed"}, &closed)
	if closed.State != assurance.IncidentClosed {
		t.Fatalf("state %s", closed.State)
	}
	free := nextStall("released by the close", func(st wire.StallState) bool { return st.OpenIncident == nil })
	if free.Shown() != assay.Negative || free.ResultID != neg.ResultID {
		t.Fatalf("after the close the stall is %+v", free)
	}
}
