package api

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/live"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// LiveHub is what the API needs of the live hub.
type LiveHub interface {
	ServeWS(w http.ResponseWriter, r *http.Request)
	Publish(kind string, data any) uint64
	// Disconnect closes the connections whose owner matches (see
	// live.Hub.Disconnect).
	Disconnect(match func(live.Owner) bool, code int, reason string) int
}

// KioskLinks is what the API needs of the kiosk ingest.
type KioskLinks interface {
	http.Handler // the /ws/kiosk endpoint
	KioskStates() []wire.KioskState
}

// Results is what the API reads of the result history
// (history.History).
type Results interface {
	Result(id string) (wire.Result, error)
	Results(f history.Filter) ([]wire.Result, error)
	Each(f history.Filter, desc bool, fn func(*wire.Result) bool) error
	StallState(id string) (wire.StallState, bool)
	Err() error
}

// Server holds the API's dependencies. Fill the fields, then call Routes.
type Server struct {
	Store   *store.Store
	History Results
	Auth    *auth.Authenticator
	Hub     LiveHub
	Kiosks  KioskLinks
	// Web serves the map page and its assets at /.
	Web http.Handler
	Log *slog.Logger
	Now func() time.Time
	// Edge is how requests reach the service: the addresses of trusted
	// proxies, HSTS (see edge.go).
	Edge Edge
	// StreamIdle is how long a download or upload may stop before the
	// server's timeouts cut it (default 1 min; see stream.go).
	StreamIdle time.Duration
	// OpenIncidentAt returns the open incident that keeps a site
	// alarming (engine.Engine.OpenAt); nil: none is ever shown.
	OpenIncidentAt func(site string) *wire.StallIncident

	mux    *http.ServeMux
	audit  *auditor
	gs     *guardState
	routes []Route
}

// Access says who may use a route.
type Access int

// The kinds of access a route has.
const (
	// AccessRole routes need a user (session or API token) with at least
	// the route's Min role: 401 without one, 403 below it.
	AccessRole Access = iota
	// AccessPublic routes need no credential (health, login, the page).
	AccessPublic
	// AccessKiosk is the kiosks' websocket: a kiosk token, no user.
	AccessKiosk
)

// Route is one registered route: its pattern (as given to
// http.ServeMux) and who may use it. [Server.Registered] lists them, so
// that a test can walk every route the router has.
type Route struct {
	Pattern string
	Access  Access
	Min     assurance.Role // for AccessRole
}

// Routes builds the HTTP handler: the router behind the guard (security
// headers, CSRF; see the package doc). Further routes can be added with
// Handle, HandleUpload and Mount afterwards.
func (s *Server) Routes() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.mux = http.NewServeMux()
	s.initGuard()
	s.routes = nil
	s.audit = newAuditor(s)
	s.public("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cmp.Or(s.Store.Err(), s.History.Err()); err != nil {
			// A write's fsync (a commit) failed: nothing more is stored
			// until a restart.
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "storage_failed", "error": err.Error()})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	s.register(Route{Pattern: "GET /ws/kiosk", Access: AccessKiosk}, s.Kiosks)
	s.register(Route{Pattern: "GET /ws/live", Min: assurance.RoleViewer},
		s.Auth.Require(assurance.RoleViewer, refuse, http.HandlerFunc(s.Hub.ServeWS)))

	s.public("POST /api/v1/login", s.wrap(s.login))
	s.public("POST /api/v1/logout", s.wrap(s.logout))
	s.public("GET /login", s.wrap(s.loginLink))

	s.Handle("GET /api/v1/me", assurance.RoleViewer, s.me)
	s.Handle("GET /api/v1/results", assurance.RoleViewer, s.listResults)
	s.Handle("GET /api/v1/results/{id}", assurance.RoleViewer, s.getResult)
	s.Handle("GET /api/v1/stalls", assurance.RoleViewer, s.listSites)
	s.Handle("POST /api/v1/stalls", assurance.RoleAdmin, s.importRoute(takePoints))
	s.Handle("GET /api/v1/stalls/{id}", assurance.RoleViewer, s.getSite)
	s.Handle("GET /api/v1/zones", assurance.RoleViewer, s.listZones)
	s.Handle("POST /api/v1/zones", assurance.RoleAdmin, s.importRoute(takeAreas))
	s.Handle("POST /api/v1/venue", assurance.RoleAdmin, s.importRoute(takeAll))
	s.Handle("GET /api/v1/kiosks", assurance.RoleViewer, s.listKiosks)
	s.Handle("POST /api/v1/kiosks", assurance.RoleAdmin, s.registerKiosk)
	s.Handle("POST /api/v1/kiosks/{id}/disable", assurance.RoleAdmin, s.disableKiosk(true))
	s.Handle("POST /api/v1/kiosks/{id}/enable", assurance.RoleAdmin, s.disableKiosk(false))
	s.Handle("DELETE /api/v1/kiosks/{id}", assurance.RoleAdmin, s.deleteKiosk)
	s.Handle("GET /api/v1/alarms", assurance.RoleViewer, s.listAlarms)
	s.Handle("POST /api/v1/alarms/{seq}/ack", assurance.RoleCommander, s.ackAlarm)
	s.Handle("POST /api/v1/alarms/ack", assurance.RoleCommander, s.ackAlarms)
	s.registerAccess()
	s.registerAudit()
	if s.Web != nil {
		s.public("GET /", s.Web)
	}
	// The edge (HSTS, the audit log) outside the guard (security headers
	// and CSRF, guard.go), so that the guard's refusals are audited too.
	return s.edge(s.guard(s.mux))
}

// Mount registers a route that needs no authentication (the monitoring
// endpoints: /metrics, /readyz).
func (s *Server) Mount(pattern string, h http.Handler) { s.public(pattern, h) }

// Handle registers an authenticated route that needs at least role min.
func (s *Server) Handle(pattern string, min assurance.Role, h Handler) {
	s.register(Route{Pattern: pattern, Access: AccessRole, Min: min}, s.Auth.Require(min, refuse, s.wrap(h)))
}

func (s *Server) public(pattern string, h http.Handler) {
	s.register(Route{Pattern: pattern, Access: AccessPublic}, h)
}

// register is the only way into the router: every route is recorded.
func (s *Server) register(rt Route, h http.Handler) {
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.Pattern, h)
}

// Registered returns every route of the router, in registration order.
func (s *Server) Registered() []Route { return slices.Clone(s.routes) }

func (s *Server) wrap(h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := auth.UserFrom(r.Context()); ok {
			auditAs(r, u.Name, "", "")
		}
		if err := s.checkBody(r); err != nil { // JSON, or what the route accepts (guard.go)
			WriteError(w, s.Log, err)
			return
		}
		if err := h(w, r); err != nil {
			WriteError(w, s.Log, err)
		}
	})
}

type loginReq struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type userView struct {
	Name        string         `json:"name"`
	DisplayName string         `json:"display_name,omitempty"`
	Role        assurance.Role `json:"role"`
	Events      []string       `json:"events,omitempty"`
	TeamID      string         `json:"team_id,omitempty"`
}

func viewOf(u store.User) userView {
	return userView{Name: u.Name, DisplayName: u.DisplayName, Role: u.Role, Events: u.Events, TeamID: u.TeamID}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	tok, u, err := s.Auth.Login(req.User, req.Password, s.ClientAddr(r))
	var te *auth.ThrottledError
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrBadCredentials):
		auditAs(r, req.User, KindLoginFailed, "")
		return Errorf(http.StatusUnauthorized, CodeUnauthorized, "用户名或密码错误 / wrong user name or password")
	case errors.As(err, &te):
		secs := int(te.RetryAfter.Round(time.Second) / time.Second)
		secs = max(secs, 1)
		auditAs(r, req.User, KindLoginFailed, noteThrottled)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &Error{Status: http.StatusTooManyRequests, Code: CodeThrottled,
			Message: fmt.Sprintf("登录失败次数过多，请 %d 秒后再试 / too many failed logins from this address; try again in %d s", secs, secs),
			Details: map[string]any{"retry_after": secs}}
	default:
		return err
	}
	auditAs(r.WithContext(auth.WithUser(r.Context(), u)), u.Name, KindLogin, "")
	s.Auth.SetCookie(w, tok, s.Secure(r))
	WriteJSON(w, http.StatusOK, viewOf(u))
	return nil
}

// logout ends the request's session and closes the live connections
// opened with it (4003): the map on another device stays logged in.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(auth.CookieName); err == nil {
		var sess store.Session
		cred := auth.SessionCredential(c.Value)
		if s.Store.Get("session", strings.TrimPrefix(cred, "session:"), &sess) == nil {
			auditAs(r, sess.User, KindLogout, "")
		}
		if err := s.Auth.EndSession(c.Value); err != nil {
			return err
		}
		s.Hub.Disconnect(func(o live.Owner) bool { return o.Cred == cred }, wire.CloseLoggedOut, "logged out")
	}
	s.Auth.ClearCookie(w, s.Secure(r))
	WriteJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
	return nil
}

// loginLink turns a one-time token into a session and opens the map.
func (s *Server) loginLink(w http.ResponseWriter, r *http.Request) error {
	tok, u, err := s.Auth.UseLoginLink(r.URL.Query().Get("token"))
	if err != nil {
		auditAs(r, "", KindLoginFailed, "登录链接无效、已使用或已过期 / login link unknown, used or expired")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>食安 Shian</title><p>登录链接无效、已使用或已过期，请重新获取或<a href="/">用户名密码登录</a>。</p><p>This login link is unknown, used or expired. Ask for a new one or <a href="/">log in with a password</a>.</p>`))
		return nil
	}
	auditAs(r.WithContext(auth.WithUser(r.Context(), u)), u.Name, KindLogin, "登录链接 / login link")
	s.Auth.SetCookie(w, tok, s.Secure(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, viewOf(userOf(r)))
	return nil
}

func (s *Server) listResults(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100, 10000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := history.Filter{Limit: limit, StallID: q.Get("stall"), KioskID: q.Get("kiosk"), Verdict: q.Get("verdict"),
		Analyte: q.Get("analyte"), EventID: q.Get("event"), Lot: q.Get("lot"), Tier: assay.Tier(q.Get("tier")), Source: q.Get("source"),
		Events: userOf(r).Events}
	if f.Since, err = queryTime(r, "since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return err
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 64)
		if err != nil {
			return Invalid("before=%q: want the rx_seq of the last result of the previous page", b)
		}
		f.BeforeRx = n
	}
	rs, err := s.History.Results(f)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []wire.Result{}
	}
	WriteJSON(w, http.StatusOK, rs)
	return nil
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) error {
	res, err := s.History.Result(r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := inScope(r, res.EventID); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// writeGeoJSON encodes fc with the GeoJSON media type.
func writeGeoJSON(w http.ResponseWriter, fc geo.FeatureCollection) error {
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/geo+json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}
