package command_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/rulebook"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"golang.org/x/crypto/bcrypt"
)

// twoInstances starts two whole command services, A and B, in cluster
// mode on one fresh database of pgtest's PostgreSQL (each with its own
// data directory, one shared evidence directory), serving on loopback,
// and an admin with an API token made on A.
func twoInstances(t *testing.T, cfg command.Config) (a, b *env) {
	t.Helper()
	dsn := pgtest.DSN(t)
	evidence := filepath.Join(t.TempDir(), "evidence")
	open := func(name string) *env {
		c := cfg
		c.DataDir, c.DB, c.Evidence, c.Instance = t.TempDir(), dsn, evidence, name
		if c.Log == nil {
			c.Log = quiet
		}
		svc, err := command.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		svc.Auth().Cost = bcrypt.MinCost
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { svc.Run(ctx); close(done) }()
		e := &env{svc: svc, srv: httptest.NewServer(svc.Handler()), cancel: cancel}
		t.Cleanup(func() { e.srv.CloseClientConnections(); e.srv.Close(); cancel(); <-done; svc.Close() })
		return e
	}
	a, b = open("a"), open("b")
	if err := a.svc.Auth().CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, err := a.svc.Auth().NewAPIToken("admin", "test")
	if err != nil {
		t.Fatal(err)
	}
	a.token, b.token = tok, tok
	eventually(t, "both instances listening", func() bool { return a.svc.Ready() == nil && b.svc.Ready() == nil })
	return a, b
}

// closedWith reads a websocket until it ends and returns its close code
// (0: it did not close within d).
func closedWith(c *websocket.Conn, d time.Duration) int {
	c.SetReadDeadline(time.Now().Add(d))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			return 0
		}
	}
}

// TestClusterKioskChangeClosesItsLinkEverywhere (issue 17 item 1, issue
// 11): a kiosk linked to instance B loses its link with 1008 within
// seconds of being disabled through instance A's API — A's store change
// goes over the Bus to B, whose ingest checks the link against the row.
// Then, enabled again and linked to B anew, it is re-registered on A:
// the link on its old token closes the same way.
func TestClusterKioskChangeClosesItsLinkEverywhere(t *testing.T) {
	a, b := twoInstances(t, command.Config{})
	twoEvents(t, a)
	tok := a.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"})
	l, _, err := dialKiosk(t, b, "K-A", tok)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := a.do(t, "POST", "/api/v1/kiosks/K-A/disable", nil, nil); code != 200 {
		t.Fatalf("disable on A: %d", code)
	}
	expectRevoked(t, l, "disabled on A, linked to B")
	t.Logf("the link on B closed %v after the disable on A", time.Since(start).Round(time.Millisecond))
	if code := a.do(t, "POST", "/api/v1/kiosks/K-A/enable", nil, nil); code != 200 {
		t.Fatalf("enable on A: %d", code)
	}
	var l2 *kioskLink
	eventually(t, "the enabled kiosk links to B again", func() bool {
		l2, _, err = dialKiosk(t, b, "K-A", tok)
		return err == nil
	})
	a.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"})
	expectRevoked(t, l2, "re-registered on A, linked to B")
}

// TestClusterLogoutClosesLiveEverywhere (issue 17 item 2): a browser's
// /ws/live on instance B closes with 4003 when its session is logged out
// on instance A, and another one (an API token's) when its user is
// disabled on A.
func TestClusterLogoutClosesLiveEverywhere(t *testing.T) {
	a, b := twoInstances(t, command.Config{})
	if err := a.svc.Auth().CreateUser("li", "李", assurance.RoleViewer, "correct horse"); err != nil {
		t.Fatal(err)
	}
	liTok, err := a.svc.Auth().NewAPIToken("li", "test")
	if err != nil {
		t.Fatal(err)
	}
	// A session made on A (login through A's API).
	resp, err := http.Post(a.srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"user":"li","password":"correct horse"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "shian_session" {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil {
		t.Fatalf("login on A: %d, cookie %v", resp.StatusCode, cookie)
	}
	wsB := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/ws/live"
	h := http.Header{}
	h.Set("Cookie", cookie.Name+"="+cookie.Value)
	h.Set("Origin", b.srv.URL)
	bySession, _, err := websocket.DefaultDialer.Dial(wsB, h)
	if err != nil {
		t.Fatal(err)
	}
	defer bySession.Close()
	byToken := dialLiveAs(t, b, liTok)
	for _, c := range []*websocket.Conn{bySession, byToken} {
		if _, ok := readMsg(t, c).(*wire.Snapshot); !ok {
			t.Fatal("first message is not a snapshot")
		}
	}

	req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/logout", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(cookie)
	req.Header.Set("Origin", a.srv.URL)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("logout on A: %v %v", err, resp)
	}
	start := time.Now()
	if code := closedWith(bySession, 10*time.Second); code != wire.CloseLoggedOut {
		t.Fatalf("the session's /ws/live on B after logout on A: close %d, want %d", code, wire.CloseLoggedOut)
	}
	t.Logf("the session's /ws/live on B closed %v after the logout on A", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if code := a.do(t, "PATCH", "/api/v1/users/li", map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("disable li on A: %d", code)
	}
	if code := closedWith(byToken, 10*time.Second); code != wire.CloseLoggedOut {
		t.Fatalf("the token's /ws/live on B after disabling its user on A: close %d, want %d", code, wire.CloseLoggedOut)
	}
	t.Logf("the token's /ws/live on B closed %v after the user was disabled on A", time.Since(start).Round(time.Millisecond))
}

// TestClusterRuleBookIssuedOnBIsCurrentOnA (issue 17 item 1): a rule
// book issued through instance B's API is the current one on instance A
// within seconds (A's keeper reads it on B's notice), and an edit on A
// based on the version before it is refused as stale instead of issuing
// a second book with the same version.
func TestClusterRuleBookIssuedOnBIsCurrentOnA(t *testing.T) {
	a, b := twoInstances(t, command.Config{})
	if v := a.svc.Books().Current().Version; v != 1 {
		t.Fatalf("A's first rule book is version %d, want 1", v)
	}
	rules := assay.DefaultRules()
	var issued assay.Book
	if code := b.do(t, "PUT", "/api/v1/rules", map[string]any{"base_version": 1, "rules": rules, "note": "issued on B"}, &issued); code != 201 || issued.Version != 2 {
		t.Fatalf("issue on B: %d, version %d", code, issued.Version)
	}
	eventually(t, "B's rule book current on A", func() bool {
		cur := a.svc.Books().Current()
		return cur.Version == 2 && cur.Note == "issued on B"
	})
	// The race lost: A has not heard of version 3 from B yet.
	if _, err := b.svc.Books().Issue(rulebook.Edit{Base: 2, Rules: rules, By: "admin", Note: "version 3, on B"}); err != nil {
		t.Fatal(err)
	}
	if code := a.do(t, "PUT", "/api/v1/rules", map[string]any{"base_version": 2, "rules": rules, "note": "on A"}, nil); code == 201 {
		t.Fatalf("an edit on A of version 2 after B issued 3 was issued")
	}
	eventually(t, "version 3 current on A", func() bool { return a.svc.Books().Current().Version == 3 })
}

// TestClusterLoginThrottleCountsEverywhere: password guesses spread over
// the instances behind a balancer count together. Five wrong passwords
// for admin on A, then the right one on B from the same address, is
// refused with 429 as it would be on one instance; a single instance's
// memory would have let it in.
func TestClusterLoginThrottleCountsEverywhere(t *testing.T) {
	a, b := twoInstances(t, command.Config{})
	login := func(e *env, password string) int {
		t.Helper()
		resp, err := http.Post(e.srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"user":"admin","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusInternalServerError {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("login: 500 %s", body)
		}
		return resp.StatusCode
	}
	for i := range 5 {
		if code := login(a, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d on A: %d", i+1, code)
		}
	}
	if code := login(b, "correct horse"); code != http.StatusTooManyRequests {
		t.Fatalf("the right password on B after 5 failures on A: %d, want 429 (the throttle's counts are per instance)", code)
	}
}

// TestClusterKioskPresenceEverywhere: a kiosk linked to B is online in A's
// kiosk list (the same states the readiness gate and the map's snapshot
// read), and offline there once its link to B is gone.
func TestClusterKioskPresenceEverywhere(t *testing.T) {
	a, b := twoInstances(t, command.Config{})
	twoEvents(t, a)
	tok := a.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"})
	l, _, err := dialKiosk(t, b, "K-A", tok)
	if err != nil {
		t.Fatal(err)
	}
	online := func(e *env) bool {
		var ks []struct {
			ID     string `json:"kiosk_id"`
			Online bool   `json:"online"`
		}
		e.do(t, "GET", "/api/v1/kiosks", nil, &ks)
		for _, k := range ks {
			if k.ID == "K-A" {
				return k.Online
			}
		}
		t.Fatalf("K-A is not in the kiosk list: %+v", ks)
		return false
	}
	start := time.Now()
	eventually(t, "K-A online on A while linked to B", func() bool { return online(a) })
	t.Logf("online on A %v after linking to B", time.Since(start).Round(time.Millisecond))
	if !online(b) {
		t.Fatal("K-A is not online on B, its own link")
	}
	l.ws.Close()
	eventually(t, "K-A offline on A once its link to B is gone", func() bool { return !online(a) })
}
