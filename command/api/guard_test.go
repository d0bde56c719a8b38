package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/auth"
)

// guardEnv is a command service on 127.0.0.1 with an admin logged in by
// cookie and an API token for the same admin.
type guardEnv struct {
	srv    *httptest.Server
	cookie *http.Cookie
	token  string
}

func newGuardEnv(t *testing.T) *guardEnv {
	t.Helper()
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := svc.Bootstrap("admin")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Auth().NewAPIToken("admin", "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() { srv.Close(); svc.Close() })
	e := &guardEnv{srv: srv, token: tok}
	// A script's login: no Origin, no Sec-Fetch-Site, no cookie yet.
	resp, err := http.Post(srv.URL+"/api/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"user":"admin","password":%q}`, pw)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			e.cookie = c
		}
	}
	if resp.StatusCode != 200 || e.cookie == nil {
		t.Fatalf("login: %d, cookie %v", resp.StatusCode, e.cookie)
	}
	return e
}

// send makes a request; hdr "Cookie" adds the admin's session, "Bearer"
// the API token, anything else is a header.
func (e *guardEnv) send(t *testing.T, method, path string, body io.Reader, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	for k, v := range hdr {
		switch k {
		case "Cookie":
			req.AddCookie(e.cookie)
		case "Bearer":
			req.Header.Set("Authorization", "Bearer "+e.token)
		default:
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func newUser(name string) io.Reader {
	return strings.NewReader(fmt.Sprintf(`{"name":%q,"display_name":"x","role":"admin","password":"correct horse battery"}`, name))
}

func errCode(body string) string {
	var v struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal([]byte(body), &v)
	return v.Error.Code
}

func multipartBody(t *testing.T) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "x.png")
	w.Write([]byte("\x89PNG\r\n\x1a\n"))
	mw.Close()
	return &b, mw.FormDataContentType()
}

// TestCSRF: the probes of issue 11 finding 4 — a foreign-Origin POST with
// the admin's cookie and no Content-Type, a multipart upload from a
// foreign Origin, a page on the same site but another port — are refused
// with 403 cross_origin (or 415 for a body that is not JSON) and change
// nothing; the map page's own requests, scripts with a token and a
// script's login still work.
func TestCSRF(t *testing.T) {
	e := newGuardEnv(t)
	other := "http://127.0.0.1:1" // the same site, another port
	mp, mpType := multipartBody(t)
	cases := []struct {
		name   string
		method string
		path   string
		body   io.Reader
		hdr    map[string]string
		status int
		code   string
	}{
		{"foreign Origin, cookie, no Content-Type", "POST", "/api/v1/users", newUser("u1"),
			map[string]string{"Cookie": "", "Origin": "https://evil.example"}, 403, api.CodeCrossOrigin},
		{"same site, other port (Origin)", "POST", "/api/v1/users", newUser("u2"),
			map[string]string{"Cookie": "", "Origin": other, "Content-Type": "application/json"}, 403, api.CodeCrossOrigin},
		{"same site, other port (Sec-Fetch-Site)", "POST", "/api/v1/users", newUser("u3"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-site", "Origin": other, "Content-Type": "application/json"}, 403, api.CodeCrossOrigin},
		{"cross-site form", "POST", "/api/v1/users", newUser("u4"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"}, 403, api.CodeCrossOrigin},
		{"Origin null (sandboxed frame)", "POST", "/api/v1/users", newUser("u5"),
			map[string]string{"Cookie": "", "Origin": "null", "Content-Type": "application/json"}, 403, api.CodeCrossOrigin},
		{"cookie, says nothing of where it comes from", "POST", "/api/v1/users", newUser("u6"),
			map[string]string{"Cookie": "", "Content-Type": "application/json"}, 403, api.CodeCrossOrigin},
		{"foreign multipart upload", "POST", "/api/v1/incidents/INC-1/evidence", mp,
			map[string]string{"Cookie": "", "Origin": "https://evil.example", "Content-Type": mpType}, 403, api.CodeCrossOrigin},
		{"login from another site", "POST", "/api/v1/login", strings.NewReader(`{"user":"admin","password":"x"}`),
			map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403, api.CodeCrossOrigin},
		{"same origin, text/plain", "POST", "/api/v1/users", newUser("u7"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}, 415, api.CodeMediaType},
		{"same origin, body-less, no Content-Type", "POST", "/api/v1/logout", nil,
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-origin"}, 415, api.CodeMediaType},
		{"same origin, multipart on a JSON route", "POST", "/api/v1/users", strings.NewReader("--x--"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-origin", "Content-Type": "multipart/form-data; boundary=x"}, 415, api.CodeMediaType},
		{"same origin, JSON on the upload route", "POST", "/api/v1/incidents/INC-1/evidence", strings.NewReader("{}"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, 415, api.CodeMediaType},
		{"token, form body", "POST", "/api/v1/users", newUser("u8"),
			map[string]string{"Bearer": "", "Content-Type": "application/x-www-form-urlencoded"}, 415, api.CodeMediaType},

		{"the page (Sec-Fetch-Site same-origin)", "POST", "/api/v1/users", newUser("ok1"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-origin", "Origin": "", "Content-Type": "application/json"}, 201, ""},
		{"an older browser (Origin = Host)", "POST", "/api/v1/users", newUser("ok2"),
			map[string]string{"Cookie": "", "Origin": "SELF", "Content-Type": "application/json; charset=utf-8"}, 201, ""},
		{"typed or bookmarked (Sec-Fetch-Site none)", "POST", "/api/v1/users", newUser("ok3"),
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "none", "Content-Type": "application/json"}, 201, ""},
		{"a token from anywhere (no browser attaches it)", "POST", "/api/v1/users", newUser("ok4"),
			map[string]string{"Bearer": "", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 201, ""},
		{"a token, unlabelled JSON", "POST", "/api/v1/users", newUser("ok5"),
			map[string]string{"Bearer": ""}, 201, ""},
		{"the page's logout", "POST", "/api/v1/logout", nil,
			map[string]string{"Cookie": "", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, 200, ""},
	}
	for _, c := range cases {
		if c.hdr["Origin"] == "SELF" {
			c.hdr["Origin"] = e.srv.URL
		}
		if c.hdr["Origin"] == "" {
			delete(c.hdr, "Origin")
		}
		status, body, _ := e.send(t, c.method, c.path, c.body, c.hdr)
		if status != c.status || errCode(body) != c.code {
			t.Errorf("%s: %d %s, want %d %q", c.name, status, body, c.status, c.code)
		}
		if status == 403 && !strings.Contains(body, "Authorization: Bearer") {
			t.Errorf("%s: the refusal does not say what to do: %s", c.name, body)
		}
	}
	// Nothing refused was created: u1…u8 cannot log in, ok1…ok5 can.
	for i := 1; i <= 8; i++ {
		if code, _, _ := e.send(t, "POST", "/api/v1/login", strings.NewReader(fmt.Sprintf(`{"user":"u%d","password":"correct horse battery"}`, i)),
			map[string]string{"Content-Type": "application/json"}); code != 401 {
			t.Errorf("u%d was created by a refused request (login %d)", i, code)
		}
	}
	for i := 1; i <= 5; i++ {
		if code, body, _ := e.send(t, "POST", "/api/v1/login", strings.NewReader(fmt.Sprintf(`{"user":"ok%d","password":"correct horse battery"}`, i)),
			map[string]string{"Content-Type": "application/json"}); code != 200 {
			t.Errorf("ok%d: login %d %s", i, code, body)
		}
	}
}

// TestSecurityHeaders: every answer — the page, a script, the API, an
// error, a 404 — carries the CSP (script-src 'self', frame-ancestors
// 'none'), nosniff, Referrer-Policy and X-Frame-Options; the CSP admits
// the tile server set in ui-config, and only it.
func TestSecurityHeaders(t *testing.T) {
	e := newGuardEnv(t)
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "strict-origin-when-cross-origin",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	for _, p := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/js/app.js"}, {"GET", "/js/dom.js"}, {"GET", "/api/v1/me"},
		{"GET", "/api/v1/nothing"}, {"POST", "/api/v1/users"}, {"GET", "/login?token=x"}, {"GET", "/healthz"}} {
		_, _, h := e.send(t, p.method, p.path, nil, nil)
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s %s: %s = %q, want %q", p.method, p.path, k, h.Get(k), v)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self';", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s %s: CSP %q lacks %s", p.method, p.path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s %s: CSP %q is not strict", p.method, p.path, csp)
		}
		if !strings.Contains(h.Get("Permissions-Policy"), "microphone=()") {
			t.Errorf("%s %s: Permissions-Policy %q", p.method, p.path, h.Get("Permissions-Policy"))
		}
	}
	imgSrc := func() string {
		_, _, h := e.send(t, "GET", "/", nil, nil)
		for _, d := range strings.Split(h.Get("Content-Security-Policy"), ";") {
			if d = strings.TrimSpace(d); strings.HasPrefix(d, "img-src ") {
				return d
			}
		}
		return ""
	}
	if got := imgSrc(); got != "img-src 'self' data: blob:" {
		t.Errorf("no base map: %q", got)
	}
	code, body, _ := e.send(t, "PUT", "/api/v1/ui-config", strings.NewReader(`{"tiles":{"url":"https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}","datum":"gcj02","subdomains":"1234"}}`),
		map[string]string{"Bearer": "", "Content-Type": "application/json"})
	if code != 200 {
		t.Fatalf("PUT ui-config: %d %s", code, body)
	}
	if got := imgSrc(); got != "img-src 'self' data: blob: https://*.is.autonavi.com" {
		t.Errorf("AMap tiles: %q", got)
	}
	e.send(t, "DELETE", "/api/v1/ui-config", nil, map[string]string{"Bearer": ""})
	if got := imgSrc(); got != "img-src 'self' data: blob:" {
		t.Errorf("after DELETE ui-config: %q", got)
	}
}

// TestTileSource: the CSP source of each kind of tile URL template.
func TestTileSource(t *testing.T) {
	for in, want := range map[string]string{
		"https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png":              "https://*.tile.openstreetmap.org",
		"https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}":  "https://*.is.autonavi.com",
		"http://10.0.0.5:8081/tiles/{z}/{x}/{y}.png":                      "http://10.0.0.5:8081",
		"http://127.0.0.1:18301/{z}/{x}/{y}.png":                          "http://127.0.0.1:18301",
		"https://maponline{s}.bdimg.com/tile/?qt=vtile&x={x}&y={y}&z={z}": "https://*.bdimg.com",
		"/tiles/{z}/{x}/{y}.png":                                          "",
		"https://tiles.example/{z}/{x}/{y}.png":                           "https://tiles.example",
		"https://a.{s}.example/{z}/{x}/{y}.png":                           "",
		"https://{s}.com/{z}/{x}/{y}.png":                                 "",
		"javascript:alert(1)//{z}{x}{y}":                                  "",
		"https://x.example; script-src *; /{z}/{x}/{y}":                   "",
		"https://user@x.example/{z}/{x}/{y}":                              "",
	} {
		if got := api.TileSource(in); got != want {
			t.Errorf("TileSource(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzTileSource: whatever template an admin saves, the source let into
// the CSP is empty or one scheme://host[:port] with nothing that could
// end the directive or add another (no space, ';', ',', quote).
func FuzzTileSource(f *testing.F) {
	for _, s := range []string{"https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "http://10.0.0.5:8081/{z}/{x}/{y}.png",
		"/tiles/{z}/{x}/{y}.png", "https://x.example; script-src *; /{z}/{x}/{y}", "https://*.evil/{z}", "http://[::1]:80/{z}/{x}/{y}"} {
		f.Add(s)
	}
	ok := regexp.MustCompile(`^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$`)
	f.Fuzz(func(t *testing.T, tmpl string) {
		got := api.TileSource(tmpl)
		if got != "" && !ok.MatchString(got) {
			t.Fatalf("TileSource(%q) = %q: not a plain scheme://host[:port]", tmpl, got)
		}
		if got != "" && !strings.Contains(api.CSP(got), "img-src 'self' data: blob: "+got+";") {
			t.Fatalf("CSP(%q) = %q", got, api.CSP(got))
		}
	})
}

// FuzzCSVCell: no cell of a CSV export starts a formula or a DDE command
// unless it is a plain number, and the text is otherwise unchanged.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"=cmd|' /C calc'!A0", "+1", "-18.5", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "菠菜", "", "'"} {
		f.Add(s)
	}
	number := regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, s string) {
		got := api.CSVCell(s)
		if got != s && got != "'"+s {
			t.Fatalf("CSVCell(%q) = %q: the text changed", s, got)
		}
		if got != "" && strings.ContainsRune("=+-@\t\r\n", rune(got[0])) && !number.MatchString(got) {
			t.Fatalf("CSVCell(%q) = %q starts a formula", s, got)
		}
	})
}
