package command_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// scopedViewer creates a viewer scoped to events and returns an API token
// acting as it.
func (e *env) scopedViewer(t *testing.T, name string, events ...string) string {
	t.Helper()
	if code := e.do(t, "POST", "/api/v1/users", map[string]any{"name": name, "role": "viewer", "password": "a long password", "events": events}, nil); code != http.StatusCreated {
		t.Fatalf("create %s: %d", name, code)
	}
	var out map[string]string
	if code := e.do(t, "POST", "/api/v1/tokens", map[string]any{"user": name, "name": "test"}, &out); code != http.StatusCreated {
		t.Fatalf("token for %s: %d", name, code)
	}
	return out["token"]
}

// body GETs path with token and returns the status and the body.
func (e *env) body(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// leaks names the first mark of event EV-B found in s ("" for none).
func leaks(s string) string {
	for _, mark := range []string{"EV-B", "S-B1", "K-B"} {
		if strings.Contains(s, mark) {
			return mark
		}
	}
	return ""
}

// TestScopedViewerSeesOnlyItsEvent (issue 11, finding 5): with two events
// on one command — each with its stall, its kiosk, a positive result and
// the incident it opened, and alarms — a viewer scoped to EV-A gets
// nothing of EV-B from any REST read (the live map's half is
// TestScopedViewerLiveMap): GET /api/v1/results (and a result of EV-B by id), stalls, zones, kiosks, alarms, incidents, QR labels and the
// CSV exports. The unscoped admin still sees both.
func TestScopedViewerSeesOnlyItsEvent(t *testing.T) {
	e := start(t)
	twoEvents(t, e)
	for _, z := range []store.Zone{
		{ID: "Z-A", Kind: "zone", Name: "甲区", EventID: "EV-A", Geometry: json.RawMessage(`{"type":"Polygon","coordinates":[[[120.94,31.97],[120.96,31.97],[120.96,31.99],[120.94,31.97]]]}`)},
		{ID: "Z-B", Kind: "zone", Name: "乙区", EventID: "EV-B", Geometry: json.RawMessage(`{"type":"Polygon","coordinates":[[[121.4,31.1],[121.6,31.1],[121.6,31.3],[121.4,31.1]]]}`)},
	} {
		if err := e.svc.Store().Put("zone", z.ID, z); err != nil {
			t.Fatal(err)
		}
	}
	la, _, err := dialKiosk(t, e, "K-A", e.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"}))
	if err != nil {
		t.Fatal(err)
	}
	lb, _, err := dialKiosk(t, e, "K-B", e.registerKiosk(t, map[string]any{"id": "K-B", "event_id": "EV-B"}))
	if err != nil {
		t.Fatal(err)
	}
	positive := func(kiosk string, seq uint64, stall, event string) wire.Result {
		r := result(kiosk, seq, stall, event)
		p := enzymeResult(stall, 303*measure.MilliAU, 131*measure.MilliAU)
		r.Raw, r.Verdict, r.Value = p.Raw, p.Verdict, p.Value
		return r
	}
	ra, rb := positive("K-A", 1, "S-A1", "EV-A"), positive("K-B", 1, "S-B1", "EV-B")
	la.send(&wire.Results{Results: []wire.Result{ra}})
	la.read()
	// K-B: its positive, and a result for EV-A's stall (refused: an
	// alarm of EV-B that names S-A1).
	lb.send(&wire.Results{Results: []wire.Result{rb, result("K-B", 2, "S-A1", "EV-A")}})
	lb.read()
	lb.read()
	waitUntil(t, "both incidents", func() bool {
		incs, _ := e.svc.Assure().Incidents(engine.IncidentFilter{})
		return len(incs) == 2
	})

	va := e.scopedViewer(t, "viewer-a", "EV-A")
	// REST reads.
	for _, path := range []string{"/api/v1/results", "/api/v1/results?event=EV-B", "/api/v1/stalls", "/api/v1/zones",
		"/api/v1/kiosks", "/api/v1/alarms", "/api/v1/incidents", "/api/v1/labels", "/api/v1/export/results.csv",
		"/api/v1/export/incidents.csv", "/api/v1/export/results.xlsx", "/api/v1/events", "/api/v1/kpis", "/api/v1/vendors",
		"/api/v1/clusters", "/api/v1/patrols/visits"} {
		code, body := e.body(t, path, va)
		if code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
			continue
		}
		if m := leaks(body); m != "" && !strings.HasSuffix(path, ".xlsx") {
			t.Errorf("%s: the EV-A viewer sees %s:\n%s", path, m, body)
		}
		if strings.HasSuffix(path, ".xlsx") && strings.Contains(body, "S-B1") {
			t.Errorf("%s: holds EV-B", path)
		}
	}
	for _, path := range []string{"/api/v1/results", "/api/v1/stalls", "/api/v1/kiosks", "/api/v1/alarms", "/api/v1/incidents", "/api/v1/vendors"} {
		_, body := e.body(t, path, va)
		if !strings.Contains(body, "K-A") && !strings.Contains(body, "S-A1") {
			t.Errorf("%s: the EV-A viewer does not see its own event:\n%s", path, body)
		}
		if _, all := e.body(t, path, e.token); leaks(all) == "" {
			t.Errorf("%s: the admin does not see EV-B:\n%s", path, all)
		}
	}
	for _, path := range []string{"/api/v1/results/" + rb.ResultID, "/api/v1/stalls/S-B1", "/api/v1/stalls/S-B1/qr.png", "/api/v1/vendors/S-B1"} {
		if code, body := e.body(t, path, va); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403: %s", path, code, body)
		}
	}
	if code, body := e.body(t, "/api/v1/stalls/S-A1", va); code != 200 || leaks(body) != "" {
		t.Errorf("own stall: %d %s", code, body)
	}
	incB, _ := e.svc.Assure().Incidents(engine.IncidentFilter{EventID: "EV-B"})
	if code, _ := e.body(t, "/api/v1/incidents/"+incB[0].ID, va); code != http.StatusForbidden {
		t.Errorf("EV-B's incident: %d, want 403", code)
	}
	alarms, _ := e.svc.Store().Alarms(100, false)
	for _, a := range alarms {
		if e.svc.Store().AlarmEvent(a) == "EV-B" {
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/alarms/"+itoa(int(a.Seq))+"/ack", nil)
			req.Header.Set("Authorization", "Bearer "+e.scopedCommander(t))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("an EV-A commander acked EV-B's alarm %d: %d", a.Seq, resp.StatusCode)
			}
			req, _ = http.NewRequest("POST", e.srv.URL+"/api/v1/alarms/ack", strings.NewReader(`{"seqs":[`+itoa(int(a.Seq))+`]}`))
			req.Header.Set("Authorization", "Bearer "+e.scopedCommander(t))
			req.Header.Set("Content-Type", "application/json")
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("an EV-A commander bulk-acked EV-B's alarm %d: %d", a.Seq, resp.StatusCode)
			}
			break
		}
	}

}

// scopedCommander is a commander of EV-A (made once per env).
func (e *env) scopedCommander(t *testing.T) string {
	t.Helper()
	if e.commanderA == "" {
		if code := e.do(t, "POST", "/api/v1/users", map[string]any{"name": "commander-a", "role": "commander", "password": "a long password", "events": []string{"EV-A"}}, nil); code != http.StatusCreated {
			t.Fatalf("create commander: %d", code)
		}
		var out map[string]string
		e.do(t, "POST", "/api/v1/tokens", map[string]any{"user": "commander-a", "name": "test"}, &out)
		e.commanderA = out["token"]
	}
	return e.commanderA
}

// TestUserNamesFollowScope: GET /api/v1/users/names gives a viewer the
// display names and roles of the users it may meet on its records — those
// of its own event and the unscoped ones — never those of another event,
// and nothing but the name and the role (no events, team, password hash).
func TestUserNamesFollowScope(t *testing.T) {
	e := start(t)
	for _, u := range []map[string]any{
		{"name": "insp-a", "display_name": "甲监督", "role": "inspector", "password": "a long password", "events": []string{"EV-A"}},
		{"name": "insp-b", "display_name": "乙监督", "role": "inspector", "password": "a long password", "events": []string{"EV-B"}},
		{"name": "chief", "display_name": "总指挥", "role": "commander", "password": "a long password"},
		{"name": "jiandu", "role": "inspector", "password": "a long password", "events": []string{"EV-A", "EV-B"}},
	} {
		if code := e.do(t, "POST", "/api/v1/users", u, nil); code != http.StatusCreated {
			t.Fatalf("create %v: %d", u["name"], code)
		}
	}
	tok := e.scopedViewer(t, "view-a", "EV-A")
	code, body := e.body(t, "/api/v1/users/names", tok)
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/users/names: %d %s", code, body)
	}
	var got struct {
		Users map[string]map[string]any `json:"users"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Users["insp-a"]["name"] != "甲监督" || got.Users["chief"]["name"] != "总指挥" || got.Users["jiandu"]["name"] != "jiandu" || got.Users["view-a"] == nil {
		t.Errorf("the scoped viewer's names: %s", body)
	}
	if l, _ := got.Users["insp-a"]["role_label"].(map[string]any); got.Users["insp-a"]["role"] != "inspector" || l["zh"] != "监督员" {
		t.Errorf("insp-a's role: %v", got.Users["insp-a"])
	}
	if _, ok := got.Users["insp-b"]; ok {
		t.Errorf("a viewer of EV-A sees EV-B's inspector: %s", body)
	}
	for _, secret := range []string{"password", "hash", "events", "team", "EV-B", "disabled"} {
		if strings.Contains(body, secret) {
			t.Errorf("the names carry %q: %s", secret, body)
		}
	}
}
