package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	svc    *command.Service
	srv    *httptest.Server
	cancel context.CancelFunc
	token  string // admin API token

	commanderA string // a commander scoped to EV-A (scopedCommander)
}

func start(t *testing.T) *env {
	t.Helper()
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), DB: testDB(t), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go svc.Run(ctx)
	srv := httptest.NewServer(svc.Handler())
	if err := svc.Auth().CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Auth().NewAPIToken("admin", "test")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, srv: srv, cancel: cancel, token: tok}
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		svc.Close()
	})
	return e
}

func (e *env) get(t *testing.T, path, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func enzymeResult(stall string, c, s measure.Absorbance) wire.Result {
	out := assay.DefaultEnzymeRule().Decide(c, s)
	return wire.Result{DeviceID: "enzyme-1", Model: "DY-3000E", StallID: stall, Method: assay.EnzymeInhibition,
		Item: "有机磷和氨基甲酸酯类农药", Analyte: "organophosphate_carbamate",
		Value: out.Value, Unit: out.Unit, Verdict: out.Verdict, Reason: out.Reason, RepeatsRequired: out.RepeatsRequired,
		Raw: assay.Raw{ControlDeltaA: assay.Ptr(c), SampleDeltaA: assay.Ptr(s)}}
}

func TestHealthAndAuth(t *testing.T) {
	e := start(t)
	var h map[string]string
	if code := e.get(t, "/healthz", "", &h); code != 200 || h["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, h)
	}
	for _, path := range []string{"/api/v1/results", "/api/v1/stalls", "/api/v1/zones", "/api/v1/kiosks"} {
		if code := e.get(t, path, "", nil); code != 401 {
			t.Errorf("%s without auth: %d", path, code)
		}
		if code := e.get(t, path, "at_wrong", nil); code != 401 {
			t.Errorf("%s with a bad bearer: %d", path, code)
		}
		if code := e.get(t, path, e.token, nil); code != 200 {
			t.Errorf("%s with the token: %d", path, code)
		}
	}
	// Password login sets a session cookie that works for the API.
	resp, err := http.Post(e.srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"user":"admin","password":"correct horse"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, resp.Status)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "shian_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("no HttpOnly session cookie: %v", resp.Cookies())
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/me", nil)
	req.AddCookie(cookie)
	resp, _ = http.DefaultClient.Do(req)
	if resp.StatusCode != 200 {
		t.Fatalf("me with cookie: %d", resp.StatusCode)
	}
	resp, _ = http.Post(e.srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"user":"admin","password":"wrong"}`))
	if resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
}

func TestKioskHandshakeRefusesWrongToken(t *testing.T) {
	e := start(t)
	if _, err := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-1"}); err != nil {
		t.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk"
	for _, tok := range []string{"", "kt_wrong"} {
		h := http.Header{}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
		_, resp, err := websocket.DefaultDialer.Dial(url, h)
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("token %q: err %v, resp %v", tok, err, resp)
		}
	}
}

// TestKioskSpeaksOnlyForItself: a valid token for K-1 saying hello as K-2
// is refused with a policy close.
func TestKioskSpeaksOnlyForItself(t *testing.T) {
	e := start(t)
	tok, _ := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-1"})
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk"
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	c, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := wire.Encode(&wire.Hello{KioskID: "K-2", SentAt: time.Now()})
	c.WriteMessage(websocket.TextMessage, b)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := wire.Decode(msg, 0)
	if em, ok := m.(*wire.Error); !ok || em.Code != "forbidden" {
		t.Fatalf("got %s", msg)
	}
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, wire.ClosePolicy) {
		t.Fatalf("close: %v", err)
	}
}

// TestKioskToCommand streams results from a real outbox through a real
// uplink to the command and checks the stored values, the acks and the
// re-derived verdicts.
func TestKioskToCommand(t *testing.T) {
	e := start(t)
	tok, _ := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-1"})
	ob, err := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-1", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	mAU := measure.MilliAU
	cases := []struct {
		c, s    measure.Absorbance
		verdict assay.Verdict
	}{
		{303 * mAU, 131 * mAU, assay.Positive},
		{300 * mAU, 290 * mAU, assay.Negative},
		{500 * mAU, 290 * mAU, assay.Suspicious},
		{0, 100 * mAU, assay.Invalid},
	}
	for i, c := range cases {
		if _, err := ob.Save(enzymeResult(fmt.Sprintf("S-%03d", i), c.c, c.s)); err != nil {
			t.Fatal(err)
		}
	}
	// A kiosk whose rules were tampered with: the command re-derives.
	lie := enzymeResult("S-009", 303*mAU, 131*mAU)
	lie.Verdict = assay.Negative
	ob.Save(lie)

	up, _ := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk",
		KioskID: "K-1", Token: tok, Source: ob, Log: quiet, BackoffMin: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for ob.Stats().Pending > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p := ob.Stats().Pending; p != 0 {
		t.Fatalf("%d results still pending", p)
	}
	var rs []wire.Result
	if code := e.get(t, "/api/v1/results?limit=10", e.token, &rs); code != 200 || len(rs) != 5 {
		t.Fatalf("results: %d, %d", code, len(rs))
	}
	byStall := map[string]wire.Result{}
	for _, r := range rs {
		byStall[r.StallID] = r
		if r.ReceivedAt == nil || r.Raw.ControlDeltaA == nil || r.KioskID != "K-1" {
			t.Errorf("stored result incomplete: %+v", r)
		}
	}
	for i, c := range cases {
		r := byStall[fmt.Sprintf("S-%03d", i)]
		if r.EffectiveVerdict() != c.verdict || *r.Raw.ControlDeltaA != c.c || *r.Raw.SampleDeltaA != c.s {
			t.Errorf("case %d: stored %+v", i, r)
		}
	}
	if r := byStall["S-009"]; r.EffectiveVerdict() != assay.Positive || r.Verdict != assay.Negative || len(r.Flags) == 0 || r.Flags[0] != wire.FlagVerdictMismatch {
		t.Errorf("tampered verdict not re-derived: %+v", r)
	}
	if rs[0].Value != 56.77 && byStall["S-000"].Value != 56.77 {
		t.Errorf("value of the worked example: %v", byStall["S-000"].Value)
	}
}
