package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"golang.org/x/crypto/bcrypt"
)

// realEnv is a command service behind its own HTTP server
// (ListenAndServe, with its timeouts) on a loopback port, with a clock the
// test moves.
type realEnv struct {
	svc  *command.Service
	base string // http://127.0.0.1:port
	mu   sync.Mutex
	now  time.Time
	tok  map[string]string
}

func (e *realEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *realEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func startReal(t *testing.T, cfg command.Config) *realEnv {
	t.Helper()
	e := &realEnv{now: time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC), tok: map[string]string{}}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Log, cfg.Now = silent, e.clock
	svc, err := command.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	svc.Auth().Cost = bcrypt.MinCost // before it serves: bcrypt's default cost is slow under -race
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- svc.ListenAndServe(ctx, "127.0.0.1:0", ready) }()
	select {
	case addr := <-ready:
		e.base = "http://" + addr
		if cfg.TLSCert != "" {
			e.base = "https://" + addr
		}
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		svc.Close()
	})
	for _, u := range []struct {
		name string
		role assurance.Role
	}{{"root", assurance.RoleAdmin}, {"li", assurance.RoleViewer}, {"wang", assurance.RoleViewer}} {
		if err := svc.Auth().CreateUser(u.name, u.name, u.role, "correct horse"); err != nil {
			t.Fatal(err)
		}
		if e.tok[u.name], err = svc.Auth().NewAPIToken(u.name, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// clientFrom is an HTTP client whose connections leave from a loopback
// source address of its own (127.0.0.2, …): another machine, as far as
// the service can tell.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// call sends a request with a JSON body (nil: none) and headers (k, v, …)
// and returns the status, the body and the response.
func call(t *testing.T, c *http.Client, method, url string, body any, hdr ...string) (int, []byte, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if method != "GET" {
		req.Header.Set("Content-Type", "application/json")
		// As a browser does: a state-changing request names its origin
		// (the guard refuses a cookie-carrying one that does not).
		req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// login logs user in from the client and returns the session cookie
// header value ("shian_session=…").
func (e *realEnv) login(t *testing.T, c *http.Client, user string) string {
	t.Helper()
	code, b, resp := call(t, c, "POST", e.base+"/api/v1/login", map[string]string{"user": user, "password": "correct horse"})
	if code != 200 {
		t.Fatalf("login %s: %d %s", user, code, b)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "shian_session" {
			return ck.Name + "=" + ck.Value
		}
	}
	t.Fatal("login set no session cookie")
	return ""
}

// dialLiveWith opens /ws/live with the given header (k, v, …) and reads
// its snapshot.
func (e *realEnv) dialLiveWith(t *testing.T, hdr ...string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	url := "ws" + strings.TrimPrefix(e.base, "http") + "/ws/live"
	c, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("dial /ws/live: %v %v", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closeCode reads until the connection ends and returns its close code
// (-1: no close frame, 0: still open after wait).
func closeCode(c *websocket.Conn, wait time.Duration) (code int, msgs int) {
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			msgs++
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, msgs
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, msgs
		}
		return -1, msgs
	}
}

// snapshotOf reads the first message and checks it is a snapshot.
func snapshotOf(t *testing.T, c *websocket.Conn) {
	t.Helper()
	if _, ok := readMsg(t, c).(*wire.Snapshot); !ok {
		t.Fatal("first message is not a snapshot")
	}
}

// stillOpen publishes a delta and checks c receives it.
func (e *realEnv) stillOpen(t *testing.T, c *websocket.Conn, what string) {
	t.Helper()
	e.svc.Hub().Publish(wire.KindAlert, store.Alarm{Code: "probe", Message: what})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: the connection ended: %v", what, err)
		}
		if bytes.Contains(b, []byte(what)) {
			return
		}
	}
}

// TestLogoutAndDisableCloseLive: logging out closes the live map opened
// with that session (4003) and nothing after it arrives; another session
// and a token of the same user stay up until the user is disabled, which
// closes them all (4003) and refuses the user's token and password.
func TestLogoutAndDisableCloseLive(t *testing.T) {
	e := startReal(t, command.Config{})
	c := clientFrom("127.0.0.1")
	sessA, sessB := e.login(t, c, "li"), e.login(t, c, "li")
	wsA := e.dialLiveWith(t, "Cookie", sessA)
	wsB := e.dialLiveWith(t, "Cookie", sessB)
	wsT := e.dialLiveWith(t, bearer(e.tok["li"])...)
	other := e.dialLiveWith(t, "Cookie", e.login(t, c, "wang"))
	for _, ws := range []*websocket.Conn{wsA, wsB, wsT, other} {
		snapshotOf(t, ws)
	}

	if code, b, _ := call(t, c, "POST", e.base+"/api/v1/logout", nil, "Cookie", sessA); code != 200 {
		t.Fatalf("logout: %d %s", code, b)
	}
	for i := range 20 { // deltas after the logout must not reach A
		e.svc.Hub().Publish(wire.KindAlert, store.Alarm{Seq: uint64(i), Code: "after_logout"})
	}
	if code, n := closeCode(wsA, 10*time.Second); code != wire.CloseLoggedOut || n != 0 {
		t.Fatalf("the logged-out session's live map: close %d after %d more messages, want 4003 after none", code, n)
	}
	if code, _, _ := call(t, c, "GET", e.base+"/api/v1/me", nil, "Cookie", sessA); code != 401 {
		t.Fatalf("the ended session: %d, want 401", code)
	}
	e.stillOpen(t, wsB, "session B after A logged out")
	e.stillOpen(t, wsT, "token after A logged out")

	if code, b, _ := call(t, c, "PATCH", e.base+"/api/v1/users/li", map[string]any{"disabled": true}, bearer(e.tok["root"])...); code != 200 || !bytes.Contains(b, []byte(`"disabled":true`)) {
		t.Fatalf("disable: %d %s", code, b)
	}
	for name, ws := range map[string]*websocket.Conn{"session B": wsB, "token": wsT} {
		if code, _ := closeCode(ws, 10*time.Second); code != wire.CloseLoggedOut {
			t.Fatalf("%s of the disabled user: close %d, want 4003", name, code)
		}
	}
	e.stillOpen(t, other, "another user stays")
	if code, _, _ := call(t, c, "GET", e.base+"/api/v1/me", nil, bearer(e.tok["li"])...); code != 401 {
		t.Fatalf("the disabled user's token: %d, want 401", code)
	}
	if code, _, _ := call(t, c, "POST", e.base+"/api/v1/login", map[string]string{"user": "li", "password": "correct horse"}); code != 401 {
		t.Fatalf("the disabled user's password: %d, want 401", code)
	}
	// The last admin cannot be disabled.
	if code, b, _ := call(t, c, "PATCH", e.base+"/api/v1/users/root", map[string]any{"disabled": true}, bearer(e.tok["root"])...); code != 409 || !bytes.Contains(b, []byte("最后一个")) {
		t.Fatalf("disable the last admin: %d %s", code, b)
	}
	var users []map[string]any
	code, b, _ := call(t, c, "GET", e.base+"/api/v1/users", nil, bearer(e.tok["root"])...)
	if json.Unmarshal(b, &users); code != 200 || len(users) != 3 || bytes.Contains(b, []byte("password")) {
		t.Fatalf("users: %d %s", code, b)
	}
}

// TestTokensListedRevokedExpiring: a token made through the API is listed
// (by id, never its value), works on the live map until it is revoked,
// which closes that map (4003); an expired session's map is closed by the
// sweep; validities are capped.
func TestTokensListedRevokedExpiring(t *testing.T) {
	e := startReal(t, command.Config{})
	c := clientFrom("127.0.0.1")
	admin := bearer(e.tok["root"])
	var made struct {
		ID, Token string
		ExpiresAt time.Time `json:"expires_at"`
	}
	code, b, _ := call(t, c, "POST", e.base+"/api/v1/tokens", map[string]any{"user": "li", "name": "大屏", "ttl_days": 7}, admin...)
	if json.Unmarshal(b, &made); code != 201 || made.Token == "" || !made.ExpiresAt.Equal(e.clock().Add(7*24*time.Hour)) {
		t.Fatalf("make a token: %d %s", code, b)
	}
	code, b, _ = call(t, c, "GET", e.base+"/api/v1/tokens", nil, admin...)
	if code != 200 || !bytes.Contains(b, []byte(made.ID)) || bytes.Contains(b, []byte(made.Token)) || !bytes.Contains(b, []byte(`"created_by":"root"`)) {
		t.Fatalf("list: %d %s", code, b)
	}
	ws := e.dialLiveWith(t, bearer(made.Token)...)
	snapshotOf(t, ws)
	if code, b, _ := call(t, c, "DELETE", e.base+"/api/v1/tokens/"+made.ID, nil, admin...); code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _ := closeCode(ws, 10*time.Second); code != wire.CloseLoggedOut {
		t.Fatalf("the revoked token's live map: close %d, want 4003", code)
	}
	if code, _, _ := call(t, c, "GET", e.base+"/api/v1/me", nil, bearer(made.Token)...); code != 401 {
		t.Fatalf("the revoked token: %d, want 401", code)
	}
	if code, _, _ := call(t, c, "DELETE", e.base+"/api/v1/tokens/"+made.ID, nil, admin...); code != 404 {
		t.Fatalf("revoking again: %d, want 404", code)
	}
	if code, b, _ := call(t, c, "POST", e.base+"/api/v1/tokens", map[string]any{"user": "li", "ttl_days": 3650}, admin...); code != 400 || !bytes.Contains(b, []byte("366")) {
		t.Fatalf("a 10-year token: %d %s", code, b)
	}
	if code, b, _ := call(t, c, "POST", e.base+"/api/v1/login-links", map[string]any{"user": "li", "ttl_seconds": 10 * 365 * 86400}, admin...); code != 400 || !bytes.Contains(b, []byte("24")) {
		t.Fatalf("a 10-year login link: %d %s", code, b)
	}
	if code, b, _ := call(t, c, "POST", e.base+"/api/v1/login-links", map[string]any{"user": "li", "ttl_seconds": 3600}, admin...); code != 201 {
		t.Fatalf("a 1-hour login link: %d %s", code, b)
	}

	// A session expires (12 h) while its map is open: the sweep closes it.
	sess := e.login(t, c, "wang")
	ws2 := e.dialLiveWith(t, "Cookie", sess)
	snapshotOf(t, ws2)
	tok := e.dialLiveWith(t, bearer(e.tok["wang"])...)
	snapshotOf(t, tok)
	if n := e.svc.SweepLive(); n != 0 {
		t.Fatalf("sweep before expiry closed %d", n)
	}
	e.advance(13 * time.Hour)
	if n := e.svc.SweepLive(); n != 1 {
		t.Fatalf("sweep after the session expired closed %d, want 1", n)
	}
	if code, _ := closeCode(ws2, 10*time.Second); code != wire.CloseLoggedOut {
		t.Fatalf("the expired session's live map: close %d, want 4003", code)
	}
	e.stillOpen(t, tok, "a token valid for 90 days stays")
	e.advance(91 * 24 * time.Hour)
	e.svc.SweepLive()
	if code, _ := closeCode(tok, 10*time.Second); code != wire.CloseLoggedOut {
		t.Fatalf("the expired token's live map: close %d, want 4003", code)
	}
}

// TestLiveCaps: one user's live maps are capped, and so are all of them;
// one over a cap is closed with 4004 and says why; closing one lets the
// next in.
func TestLiveCaps(t *testing.T) {
	e := startReal(t, command.Config{LiveMaxPerUser: 3, LiveMaxTotal: 5})
	var li []*websocket.Conn
	for range 3 {
		ws := e.dialLiveWith(t, bearer(e.tok["li"])...)
		snapshotOf(t, ws)
		li = append(li, ws)
	}
	over := e.dialLiveWith(t, bearer(e.tok["li"])...)
	if code, n := closeCode(over, 10*time.Second); code != wire.CloseTooMany || n != 0 {
		t.Fatalf("li's 4th live map: close %d after %d messages, want 4004 before any", code, n)
	}
	for range 2 {
		snapshotOf(t, e.dialLiveWith(t, bearer(e.tok["wang"])...))
	}
	if code, _ := closeCode(e.dialLiveWith(t, bearer(e.tok["root"])...), 10*time.Second); code != wire.CloseTooMany {
		t.Fatalf("the 6th live map in all: close %d, want 4004", code)
	}
	li[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for e.svc.Hub().Stats().Clients > 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	snapshotOf(t, e.dialLiveWith(t, bearer(e.tok["li"])...))
	if st := e.svc.Hub().Stats(); st.Clients != 5 || st.Refused != 2 {
		t.Fatalf("hub: %+v", st)
	}
}

// TestLoginThrottledPerAddress: someone guessing the admin's password
// from one address is made to wait (429, Retry-After, code throttled),
// even with the right password, while the admin logs in from another
// address; both are in the audit log with their addresses.
func TestLoginThrottledPerAddress(t *testing.T) {
	e := startReal(t, command.Config{})
	attacker, office := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	for i := range 5 {
		if code, _, _ := call(t, attacker, "POST", e.base+"/api/v1/login", map[string]string{"user": "root", "password": "guess"}); code != 401 {
			t.Fatalf("guess %d: %d", i+1, code)
		}
	}
	code, b, resp := call(t, attacker, "POST", e.base+"/api/v1/login", map[string]string{"user": "root", "password": "correct horse"})
	if code != 429 || resp.Header.Get("Retry-After") != "1" || !bytes.Contains(b, []byte(`"code":"throttled"`)) || !bytes.Contains(b, []byte("秒后再试")) {
		t.Fatalf("after 5 guesses: %d %q %s", code, resp.Header.Get("Retry-After"), b)
	}
	e.login(t, office, "root")

	var es []store.AuditEntry
	code, b, _ = call(t, office, "GET", e.base+"/api/v1/audit?kind=login_failed", nil, bearer(e.tok["root"])...)
	if json.Unmarshal(b, &es); code != 200 || len(es) != 6 || es[0].Actor != "root" || es[0].Addr != "127.0.0.2" || es[0].Note != "登录受限 / throttled" {
		t.Fatalf("failed logins in the audit log: %d %s", code, b)
	}
	code, b, _ = call(t, office, "GET", e.base+"/api/v1/audit?kind=login", nil, bearer(e.tok["root"])...)
	es = nil
	if json.Unmarshal(b, &es); code != 200 || len(es) != 1 || es[0].Addr != "127.0.0.3" || es[0].Actor != "root" {
		t.Fatalf("the login in the audit log: %d %s", code, b)
	}
}

// TestAuditLog: logins, refusals (401, 403, a kiosk's bad token) and
// every change to users, tokens, kiosks, ui-config, stalls and zones are
// in the audit log with actor, address and time; admins page and filter
// it and export it; it is in the backup.
func TestAuditLog(t *testing.T) {
	e := startReal(t, command.Config{})
	c := clientFrom("127.0.0.1")
	admin := bearer(e.tok["root"])
	must := func(want int, method, path string, body any, hdr ...string) []byte {
		t.Helper()
		code, b, _ := call(t, c, method, e.base+path, body, hdr...)
		if code != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, b)
		}
		return b
	}
	zones := json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"Z-1","properties":{"kind":"zone","name":"美食街A区"},"geometry":{"type":"Polygon","coordinates":[[[120.9,31.9],[120.91,31.9],[120.91,31.91],[120.9,31.91],[120.9,31.9]]]}}]}`)
	stalls := json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"1号","zone":"Z-1"},"geometry":{"type":"Point","coordinates":[120.905,31.905]}}]}`)
	must(201, "POST", "/api/v1/users", map[string]any{"name": "zhao", "role": "operator", "password": "long enough pw"}, admin...)
	must(200, "PATCH", "/api/v1/users/zhao", map[string]any{"disabled": true}, admin...)
	var tk struct{ ID string }
	json.Unmarshal(must(201, "POST", "/api/v1/tokens", map[string]any{"user": "li", "name": "script"}, admin...), &tk)
	must(200, "DELETE", "/api/v1/tokens/"+tk.ID, nil, admin...)
	must(201, "POST", "/api/v1/kiosks", map[string]any{"id": "K-01", "name": "一号机"}, admin...)
	must(200, "PUT", "/api/v1/ui-config", map[string]any{"label_base_url": "https://shian.example.cn"}, admin...)
	must(200, "POST", "/api/v1/zones", zones, admin...)
	must(200, "POST", "/api/v1/stalls", stalls, admin...)
	// Refusals: a viewer, no credential, a kiosk with a wrong token.
	must(403, "PUT", "/api/v1/ui-config", map[string]any{}, bearer(e.tok["li"])...)
	must(401, "GET", "/api/v1/results", nil)
	must(401, "GET", "/ws/kiosk", nil, "Authorization", "Bearer kt_stolen")
	e.login(t, c, "wang")

	var es []store.AuditEntry
	json.Unmarshal(must(200, "GET", "/api/v1/audit?kind=change&actor=root", nil, admin...), &es)
	var routes []string
	for i := len(es) - 1; i >= 0; i-- {
		x := es[i]
		if x.Addr != "127.0.0.1" || x.Role != "admin" || !x.At.Equal(e.clock()) || x.Status >= 400 {
			t.Errorf("entry %+v: want root, admin, 127.0.0.1, the service's clock, a success", x)
		}
		routes = append(routes, x.Route)
	}
	want := []string{"POST /api/v1/users", "PATCH /api/v1/users/{name}", "POST /api/v1/tokens", "DELETE /api/v1/tokens/{id}",
		"POST /api/v1/kiosks", "PUT /api/v1/ui-config", "POST /api/v1/zones", "POST /api/v1/stalls"}
	if strings.Join(routes, "|") != strings.Join(want, "|") {
		t.Fatalf("changes in the audit log:\n got %q\nwant %q", routes, want)
	}
	if !strings.Contains(es[len(es)-2].Note, "disabled") || !strings.Contains(es[len(es)-4].Note, "revoked") {
		t.Errorf("notes: %q, %q", es[len(es)-2].Note, es[len(es)-4].Note)
	}
	es = nil // json.Unmarshal would keep the fields an entry omits
	json.Unmarshal(must(200, "GET", "/api/v1/audit?kind=refused", nil, admin...), &es)
	if len(es) != 3 || es[0].Path != "/ws/kiosk" || es[0].Status != 401 || es[1].Status != 401 || es[2].Actor != "li" || es[2].Status != 403 {
		t.Fatalf("refusals: %+v", es)
	}
	// Paging: two at a time, newest first, until the end.
	var all []store.AuditEntry
	json.Unmarshal(must(200, "GET", "/api/v1/audit?limit=1000", nil, admin...), &all)
	var paged []store.AuditEntry
	before := ""
	for {
		var page []store.AuditEntry
		json.Unmarshal(must(200, "GET", "/api/v1/audit?limit=2"+before, nil, admin...), &page)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = "&before=" + itoa(int(page[len(page)-1].Seq))
	}
	if len(all) != 12 || len(paged) != len(all) || paged[0].Seq != all[0].Seq || paged[len(paged)-1].Seq != 1 {
		t.Fatalf("paging: %d entries in pages, %d at once", len(paged), len(all))
	}
	must(400, "GET", "/api/v1/audit?kind=everything", nil, admin...)
	must(403, "GET", "/api/v1/audit", nil, bearer(e.tok["li"])...)
	must(403, "GET", "/api/v1/export/audit.csv", nil, bearer(e.tok["li"])...)
	csv := must(200, "GET", "/api/v1/export/audit.csv", nil, admin...)
	if !bytes.Contains(csv, []byte("PATCH,/api/v1/users/zhao,200,用户 zhao：停用 / user zhao: disabled")) || !bytes.Contains(csv, []byte("审计")) && !bytes.Contains(csv, []byte("地址")) {
		t.Fatalf("audit export:\n%s", csv)
	}

	// The backup holds the audit log.
	var buf bytes.Buffer
	if err := e.svc.Store().Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "command.db"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := store.Open(dir, store.Options{Log: silent})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	got, err := restored.Audit(store.AuditFilter{Limit: 1000}, nil)
	if err != nil || len(got) < len(all) || got[len(got)-1].Route != "POST /api/v1/users" {
		t.Fatalf("the backup's audit log: %d entries (%v), want %d", len(got), err, len(all))
	}
	if e2, err := restored.AppendAudit(store.AuditEntry{Kind: "change"}); err != nil || e2.Seq != got[0].Seq+1 {
		t.Fatalf("numbering after a restore: %d %v", e2.Seq, err)
	}
}
