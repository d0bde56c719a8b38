package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/xuri/excelize/v2"
	"golang.org/x/crypto/bcrypt"
)

var silent = slog.New(slog.DiscardHandler)

// assureEnv is a running command service with one user per role.
type assureEnv struct {
	svc *command.Service
	srv *httptest.Server
	tok map[string]string // user → API token
}

// The users: two commanders, an inspector on each of two teams, an
// operator, a viewer, and a viewer scoped to another event.
var assureUsers = []struct {
	name string
	role assurance.Role
	team string
}{
	{"cmd1", assurance.RoleCommander, ""}, {"cmd2", assurance.RoleCommander, ""},
	{"insp1", assurance.RoleInspector, "T-01"}, {"insp2", assurance.RoleInspector, "T-02"},
	{"op", assurance.RoleOperator, ""}, {"viewer", assurance.RoleViewer, ""}, {"scoped", assurance.RoleViewer, ""},
}

// Stall S-001 and kitchen K-01 near the Nantong venue; the teams' homes.
var (
	stallLoc   = assurance.Point{Lon: 120.9390, Lat: 31.9890}
	kitchenLoc = assurance.Point{Lon: 120.9370, Lat: 31.9902}
	nearLoc    = assurance.Point{Lon: 120.9400, Lat: 31.9895} // ~110 m from the stall
	farLoc     = assurance.Point{Lon: 120.9500, Lat: 31.9990} // ~1.5 km
)

func startAssure(t *testing.T, cfg command.Config) *assureEnv {
	t.Helper()
	cfg.DataDir, cfg.Log = t.TempDir(), silent
	if cfg.DB == "" {
		cfg.DB = testDB(t)
	}
	svc, err := command.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Auth().Cost = bcrypt.MinCost // before it serves: bcrypt's default cost is slow under -race
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	srv := httptest.NewServer(svc.Handler())
	e := &assureEnv{svc: svc, srv: srv, tok: map[string]string{}}
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-done
		svc.Close()
	})
	for _, u := range assureUsers {
		if err := svc.Auth().CreateUser(u.name, u.name, u.role, "correct horse"); err != nil {
			t.Fatal(err)
		}
		store.Modify(svc.Store(), "user", u.name, func(x *store.User) error {
			x.TeamID = u.team
			if u.name == "scoped" {
				x.Events = []string{"EV-OTHER"}
			}
			return nil
		})
		if e.tok[u.name], err = svc.Auth().NewAPIToken(u.name, "test"); err != nil {
			t.Fatal(err)
		}
	}
	st := svc.Store()
	st.Put("site", "S-001", store.Site{ID: "S-001", Kind: "stall", Name: "张记蔬菜", Grade: "B", Loc: []float64{stallLoc.Lon, stallLoc.Lat}})
	st.Put("site", "K-01", store.Site{ID: "K-01", Kind: "kitchen", Name: "会展中心主厨房", Loc: []float64{kitchenLoc.Lon, kitchenLoc.Lat}})
	for _, tm := range []engine.Team{
		{ID: "T-01", Name: "第一保障组", NameEN: "Assurance Team 1", Mode: engine.ModePatrol, Home: &nearLoc, OnDuty: true, Members: []string{"insp1"}},
		{ID: "T-02", Name: "第二保障组", NameEN: "Assurance Team 2", Mode: engine.ModePatrol, Home: &farLoc, OnDuty: true, Members: []string{"insp2"}},
	} {
		if code, b := e.do(t, "POST", "/api/v1/teams", "cmd1", tm); code != 200 {
			t.Fatalf("team %s: %d %s", tm.ID, code, b)
		}
	}
	return e
}

// do sends a JSON request as user and returns the status and body.
func (e *assureEnv) do(t *testing.T, method, path, user string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.tok[user])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must sends a request that must answer want, and decodes the body into v.
func (e *assureEnv) must(t *testing.T, want int, method, path, user string, body, v any) {
	t.Helper()
	code, b := e.do(t, method, path, user, body)
	if code != want {
		t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, code, want, b)
	}
	if v != nil {
		reflect.ValueOf(v).Elem().SetZero() // json.Unmarshal would keep fields the body omits
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type apiErr struct {
	Error struct {
		Code    string                 `json:"code"`
		Message string                 `json:"message"`
		Allowed []string               `json:"allowed"`
		Rule    string                 `json:"rule"`
		Open    []assurance.OpenItem   `json:"open"`
		Roles   []assurance.Role       `json:"allowed_roles"`
		Field   string                 `json:"field"`
		Reason  assurance.RetestReason `json:"reason"`
	} `json:"error"`
}

// upload posts a multipart file as user.
func (e *assureEnv) upload(t *testing.T, path, user, kind, name string, data []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+path, &buf)
	req.Header.Set("Authorization", "Bearer "+e.tok[user])
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func photo() []byte { return photoOf(0) }

// photoOf returns a small PNG; different shades give different files.
func photoOf(shade byte) []byte {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// TestAssuranceAPIRoles walks the incident routes with every role: the
// coarse role gate (403 for a viewer), the protocol's role and team rules
// (403), illegal transitions (409 with what is allowed), missing input
// (400), rules not met (409 with the rule), event scope, and the
// readiness gate's open items.
func TestAssuranceAPIRoles(t *testing.T) {
	e := startAssure(t, command.Config{Assure: engine.Config{MaxEvidence: 4 << 10}})
	var inc engine.Incident
	e.must(t, 201, "POST", "/api/v1/incidents", "op", map[string]any{"trigger": map[string]any{
		"kind": "complaint", "subject_id": "S-001", "description": "顾客投诉食用后腹泻"}}, &inc)
	if inc.State != assurance.IncidentAssigned || inc.TeamID != "T-01" || inc.Trigger.Where == nil {
		t.Fatalf("opened %s %s %+v", inc.State, inc.TeamID, inc.Trigger.Where)
	}
	path := "/api/v1/incidents/" + inc.ID + "/transition"
	var ae apiErr
	e.must(t, 403, "POST", path, "viewer", map[string]any{"to": "on_site"}, &ae)
	e.must(t, 403, "POST", path, "insp2", map[string]any{"to": "on_site"}, &ae)
	if ae.Error.Code != "forbidden" || !strings.Contains(ae.Error.Message, "T-01") {
		t.Errorf("other team: %+v", ae.Error)
	}
	e.must(t, 403, "POST", path, "op", map[string]any{"to": "on_site"}, &ae) // the route needs an inspector
	e.must(t, 409, "POST", path, "insp1", map[string]any{"to": "disposed"}, &ae)
	if ae.Error.Code != "illegal_transition" || strings.Join(ae.Error.Allowed, ",") != "assigned,on_site" {
		t.Errorf("illegal: %+v", ae.Error)
	}
	t.Logf("409: %s", ae.Error.Message)
	e.must(t, 400, "POST", path, "insp1", map[string]any{"to": "teleported"}, &ae)
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "on_site", "where": nearLoc}, &inc)
	e.must(t, 400, "POST", path, "insp1", map[string]any{"to": "controlled"}, &ae)
	if ae.Error.Field != "controls" {
		t.Errorf("missing controls: %+v", ae.Error)
	}
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "controlled", "controls": []string{"sale_stopped"}}, &inc)
	e.must(t, 409, "POST", path, "insp1", map[string]any{"to": "cleared"}, &ae)
	if ae.Error.Rule != "note_required" {
		t.Errorf("clear without a note: %+v", ae.Error)
	}
	e.must(t, 200, "POST", path, "insp1", map[string]any{"to": "cleared", "note": "留样复测阴性，投诉不属实"}, &inc)
	e.must(t, 403, "POST", path, "insp1", map[string]any{"to": "signed_off"}, &ae)
	e.must(t, 200, "POST", path, "cmd1", map[string]any{"to": "signed_off"}, &inc)
	e.must(t, 200, "POST", path, "cmd1", map[string]any{"to": "closed"}, &inc)
	e.must(t, 409, "POST", path, "cmd1", map[string]any{"to": "closed"}, &ae)
	if inc.State != assurance.IncidentClosed || len(inc.Origins) != len(inc.Audit)-2 || inc.Audit[2].Where == nil {
		t.Errorf("closed: %s, %d origins for %d entries, where %+v", inc.State, len(inc.Origins), len(inc.Audit), inc.Audit[2].Where)
	}

	// Scope: a viewer of another event sees neither the list nor the record.
	var list []engine.Incident
	e.must(t, 200, "GET", "/api/v1/incidents", "scoped", nil, &list)
	if len(list) != 0 {
		t.Errorf("scoped viewer sees %d incidents", len(list))
	}
	e.must(t, 403, "GET", "/api/v1/incidents/"+inc.ID, "scoped", nil, nil)
	e.must(t, 200, "GET", "/api/v1/incidents?state=closed", "viewer", nil, &list)
	if len(list) != 1 {
		t.Errorf("%d closed incidents", len(list))
	}

	// Evidence: sniffed, size-limited, served back.
	evPath := "/api/v1/incidents/" + inc.ID + "/evidence"
	if code, b := e.upload(t, evPath, "insp1", "photo", "x.png", []byte("<html>not a photo</html>")); code != 415 {
		t.Errorf("html upload: %d %s", code, b)
	}
	if code, b := e.upload(t, evPath, "insp1", "photo", "big.png", append(photo(), make([]byte, 8<<10)...)); code != 413 {
		t.Errorf("large upload: %d %s", code, b)
	}
	if code, _ := e.upload(t, evPath, "insp2", "photo", "p.png", photo()); code != 403 {
		t.Errorf("other team's upload: %d", code)
	}
	code, b := e.upload(t, evPath, "insp1", "photo", "p.png", photo())
	var ev engine.Evidence
	if code != 201 || json.Unmarshal(b, &ev) != nil || ev.ContentType != "image/png" {
		t.Fatalf("upload: %d %s", code, b)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+evPath+"/"+ev.Ref, nil)
	req.Header.Set("Authorization", "Bearer "+e.tok["viewer"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(got, photo()) {
		t.Errorf("served back: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+evPath+"/"+ev.Ref, nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("anonymous evidence: %d", resp.StatusCode)
	}

	// Events: the readiness gate answers 409 with the open items.
	e.must(t, 403, "POST", "/api/v1/events", "insp1", map[string]any{}, nil)
	first := assurance.DateOf(time.Now().In(assurance.ChinaStandardTime))
	var evv engine.EventView
	e.must(t, 201, "POST", "/api/v1/events", "cmd1", map[string]any{"id": "EV-1", "filing": assurance.EventFiling{
		Name: "江海国际美食博览会", Organiser: assurance.Organiser{Name: "南通市商务局"}, FirstDay: first, LastDay: first.AddDays(2),
		Headcount: 5000, Mode: assurance.SupervisionFull, NotifiedOn: first.AddDays(-10),
		Venues:   []assurance.Venue{{ID: "V-1", Name: "南通国际会展中心"}},
		Caterers: []assurance.Caterer{{ID: "C-1", Name: "南通江海餐饮"}},
		Kitchens: []assurance.Kitchen{{ID: "K-01", Name: "主厨房", CatererID: "C-1"}}}}, &evv)
	if len(evv.Warnings) != 1 || evv.Warnings[0].Code != "late_notification" {
		t.Errorf("warnings %+v", evv.Warnings)
	}
	e.must(t, 409, "POST", "/api/v1/events/EV-1/phase", "cmd1", map[string]any{"to": "live"}, &ae)
	if ae.Error.Code != "illegal_transition" {
		t.Errorf("filed → live: %+v", ae.Error)
	}
	e.must(t, 200, "POST", "/api/v1/events/EV-1/phase", "cmd1", map[string]any{"to": "preparing"}, &evv)
	e.must(t, 409, "POST", "/api/v1/events/EV-1/phase", "cmd1", map[string]any{"to": "ready"}, &ae)
	if ae.Error.Code != "not_ready" || len(ae.Error.Open) != 9 || ae.Error.Open[0].Label.ZH == "" {
		t.Fatalf("not ready: %+v", ae.Error)
	}
	e.must(t, 200, "POST", "/api/v1/events/EV-1/kitchens/K-01/readiness", "insp1", map[string]any{"item": "emergency_plan", "ref": "预案-7"}, &evv)
	if evv.Readiness.Done != 1 {
		t.Errorf("readiness %+v", evv.Readiness)
	}
	e.must(t, 403, "POST", "/api/v1/events/EV-1/kitchens/K-01/readiness", "viewer", map[string]any{"item": "training"}, nil)
	e.must(t, 403, "GET", "/api/v1/events/EV-1", "scoped", nil, nil)
	var evs []engine.EventView
	e.must(t, 200, "GET", "/api/v1/events", "scoped", nil, &evs)
	if len(evs) != 0 {
		t.Errorf("scoped viewer sees %d events", len(evs))
	}

	// Teams: positions only for one's own team; the nearest query.
	e.must(t, 403, "POST", "/api/v1/teams/T-01/position", "insp2", stallLoc, nil)
	var tm engine.Team
	e.must(t, 200, "POST", "/api/v1/teams/T-01/position", "insp1", stallLoc, &tm)
	if tm.Position == nil || tm.Status != engine.TeamAvailable {
		t.Errorf("team %+v", tm)
	}
	var near struct {
		Nearest *engine.TeamDistance  `json:"nearest_available"`
		Teams   []engine.TeamDistance `json:"teams"`
	}
	e.must(t, 200, "GET", fmt.Sprintf("/api/v1/teams/nearest?lon=%v&lat=%v", farLoc.Lon, farLoc.Lat), "viewer", nil, &near)
	if near.Nearest == nil || near.Nearest.ID != "T-02" || len(near.Teams) != 2 || near.Teams[0].Metres > near.Teams[1].Metres {
		t.Errorf("nearest %+v", near)
	}
	e.must(t, 400, "GET", "/api/v1/teams/nearest?lon=x&lat=1", "viewer", nil, nil)
	var plan engine.PatrolPlan
	e.must(t, 200, "GET", "/api/v1/patrols/plan?team=T-01&date="+first.String(), "viewer", nil, &plan)
	if len(plan.Stops) != 1 || plan.Stops[0].TargetID != "S-001" || plan.Mode != assurance.PatrolEvent || len(plan.Route) != 3 {
		t.Errorf("plan %+v", plan)
	}

	// The live snapshot carries the assurance collections.
	h := http.Header{}
	h.Set("Authorization", "Bearer "+e.tok["viewer"])
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/live", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := func() wire.Message {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		m, err := wire.Decode(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	snap, ok := next().(*wire.Snapshot)
	if !ok {
		t.Fatal("no snapshot")
	}
	for _, k := range []string{"incidents", "teams", "alerts", "events", "banquets"} {
		if len(snap.Extra[k]) < 2 {
			t.Errorf("snapshot extra %q: %s", k, snap.Extra[k])
		}
	}
	var snapTeams []engine.Team
	json.Unmarshal(snap.Extra["teams"], &snapTeams)
	if len(snapTeams) != 2 {
		t.Errorf("snapshot teams %s", snap.Extra["teams"])
	}
	// … and a position report arrives as a team delta.
	e.must(t, 200, "POST", "/api/v1/teams/T-02/position", "insp2", nearLoc, nil)
	for {
		if d, ok := next().(*wire.Delta); ok && d.Kind == wire.KindTeam && strings.Contains(string(d.Data), `"T-02"`) {
			break
		}
	}
}

// TestExportsAndKPIRoutes: the export routes answer CSV (with a BOM and
// a bilingual header) and XLSX that excelize reads back; KPIs and the
// banquet, chef and vendor routes answer.
func TestExportsAndKPIRoutes(t *testing.T) {
	e := startAssure(t, command.Config{})
	e.must(t, 201, "POST", "/api/v1/incidents", "op", map[string]any{"trigger": map[string]any{
		"kind": "complaint", "subject_id": "S-001", "description": "异味"}}, nil)
	day := assurance.DateOf(time.Now().In(assurance.ChinaStandardTime)).AddDays(5)
	var filed struct {
		Banquet  engine.Banquet      `json:"banquet"`
		Warnings []assurance.Warning `json:"warnings"`
	}
	e.must(t, 201, "POST", "/api/v1/banquets", "op", map[string]any{"filing": assurance.BanquetFiling{
		FilingNo: "NT-XF-2026-001", Town: "先锋街道", Village: "东社村", Host: assurance.Host{Name: "张建华", Phone: "13812345678"},
		Type: assurance.BanquetWedding, Place: "张宅", Point: &stallLoc, Sittings: []assurance.Sitting{{Date: day, Meal: assurance.MealDinner}},
		Headcount: 120, ChefSource: assurance.ChefHired, Cooks: []assurance.BanquetCook{{Name: "陈德胜", Role: assurance.CookChef, Cert: assurance.CertValid}},
	}}, &filed)
	if filed.Banquet.State != assurance.BanquetGuidanceAssigned || filed.Banquet.TeamID != "T-01" || filed.Banquet.WindowStart.IsZero() {
		t.Errorf("banquet %+v", filed.Banquet)
	}
	e.must(t, 200, "POST", "/api/v1/chefs", "op", assurance.VillageChef{ID: "VC-1", Name: "陈德胜", Trainings: 2,
		Cert: assurance.HealthCertificate{ValidUntil: day.AddDays(200)}}, nil)
	var chefs []engine.ChefView
	e.must(t, 200, "GET", "/api/v1/chefs", "viewer", nil, &chefs)
	if len(chefs) != 1 || !chefs[0].FitToday {
		t.Errorf("chefs %+v", chefs)
	}
	var bs []engine.Banquet
	e.must(t, 200, "GET", "/api/v1/banquets?date="+day.String(), "viewer", nil, &bs)
	if len(bs) != 1 {
		t.Errorf("%d banquets on %s", len(bs), day)
	}
	e.must(t, 200, "POST", "/api/v1/vendors/S-001/credit", "insp1", map[string]any{"reason": "minor_finding", "note": "台面不洁"}, nil)
	var vendors []engine.Credit
	e.must(t, 200, "GET", "/api/v1/vendors", "viewer", nil, &vendors)
	if len(vendors) != 1 || vendors[0].Score != 98 || vendors[0].Name != "张记蔬菜" {
		t.Errorf("vendors %+v", vendors)
	}
	var kpi struct {
		Report assurance.KPIReport `json:"report"`
	}
	e.must(t, 200, "GET", "/api/v1/kpis", "viewer", nil, &kpi)
	if kpi.Report.Total.Incidents != 1 || kpi.Report.Total.BanquetsFiled != 1 || kpi.Report.Total.BanquetsGuidanceRequired != 1 {
		t.Errorf("kpis %+v", kpi.Report.Total)
	}
	e.must(t, 400, "GET", "/api/v1/kpis?day=tomorrow", "viewer", nil, nil)

	for _, name := range []string{"results", "incidents", "banquets"} {
		code, b := e.do(t, "GET", "/api/v1/export/"+name+".csv", "viewer", nil)
		if code != 200 || !bytes.HasPrefix(b, []byte("\ufeff")) {
			t.Fatalf("%s.csv: %d %.80s", name, code, b)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		want := map[string]int{"results": 1, "incidents": 2, "banquets": 2}[name]
		if len(lines) != want {
			t.Errorf("%s.csv: %d lines, want %d: %s", name, len(lines), want, b)
		}
		code, b = e.do(t, "GET", "/api/v1/export/"+name+".xlsx", "viewer", nil)
		if code != 200 {
			t.Fatalf("%s.xlsx: %d %s", name, code, b)
		}
		x, err := excelize.OpenReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s.xlsx: %v", name, err)
		}
		rows, err := x.GetRows(x.GetSheetName(0))
		if err != nil || len(rows) != want {
			t.Errorf("%s.xlsx: %d rows (%v), want %d", name, len(rows), err, want)
		}
		x.Close()
	}
	// The credit ledger: one row per booking, the rule and its source as
	// labels, the inspector who recorded it by hand.
	code, b := e.do(t, "GET", "/api/v1/export/credit.csv", "viewer", nil)
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff")), "\n")
	if code != 200 || !strings.HasPrefix(lines[0], "经营者 business_id,名称 name,") || len(lines) < 2 {
		t.Fatalf("credit.csv: %d %s", code, b)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "S-001,张记蔬菜,") || !strings.Contains(last, ",一般问题,minor_finding,-2,98,人工登记,from_manual,,台面不洁,insp1") {
		t.Errorf("credit.csv's last line %q", last)
	}
	e.must(t, 404, "GET", "/api/v1/export/results.pdf", "viewer", nil, nil)
	e.must(t, 404, "GET", "/api/v1/export/secrets.csv", "viewer", nil, nil)
}
