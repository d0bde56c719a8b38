package api

// The guard: see "Browser protections" in the package doc (api.go).

import (
	"errors"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Errors of the guard, mapped by [AsError].
var (
	// ErrCrossOrigin: a state-changing request from another origin (or a
	// cookie-carrying one that does not say where it comes from).
	ErrCrossOrigin = errors.New("跨站请求被拒绝：请从指挥中心页面操作 / cross-origin request refused: a state-changing request must come from this server's own pages (same Origin, or Sec-Fetch-Site: same-origin); scripts authenticate with Authorization: Bearer <api token>")
	// ErrMediaType: a state-changing request whose body is not JSON (or
	// not multipart on an upload route).
	ErrMediaType = errors.New("请求格式错误 / send the body as application/json (uploads: multipart/form-data)")
)

// Codes of the guard's refusals.
const (
	CodeCrossOrigin = "cross_origin"
	CodeMediaType   = "unsupported_media_type"
)

// guardState is the guard's configuration, kept on the Server.
type guardState struct {
	cop    *http.CrossOriginProtection
	bodies map[string][]string    // route pattern → the media types it takes, when not JSON
	csp    atomic.Pointer[string] // the current Content-Security-Policy
}

// CSP returns the Content-Security-Policy for pages whose images may also
// come from the tile sources imgSrc (CSP source expressions).
func CSP(imgSrc ...string) string {
	img := append([]string{"'self'", "data:", "blob:"}, imgSrc...)
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + strings.Join(img, " "),
		"connect-src 'self'",
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// TileSource returns the CSP source expression that admits the images of
// a Leaflet tile URL template: "https://*.is.autonavi.com" for
// https://webrd0{s}.is.autonavi.com/…, "http://10.0.0.5:8081" for a tile
// server on the LAN, "" for a path on this server (covered by 'self') or
// a template it cannot read (the map then shows the venue plan and the
// browser reports the refused tiles).
func TileSource(tmpl string) string {
	if strings.HasPrefix(tmpl, "/") && !strings.HasPrefix(tmpl, "//") {
		return ""
	}
	scheme, rest, ok := strings.Cut(tmpl, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	if strings.ContainsAny(host, "{}") {
		// A subdomain placeholder ({s}) may stand only in the first label:
		// that label becomes CSP's wildcard.
		_, tail, ok := strings.Cut(host, ".")
		if !ok || strings.ContainsAny(tail, "{}") || !strings.Contains(tail, ".") {
			return ""
		}
		host = "*." + tail
	}
	if !hostSource.MatchString(host) {
		return "" // not a plain host[:port]: never let a template write into the CSP
	}
	return scheme + "://" + host
}

// hostSource is what TileSource lets into the CSP: a host name (its first
// label may be *), or an IPv4 address, with an optional port.
var hostSource = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$`)

// SetTileSources sets the tile sources the pages' CSP admits images from
// (each a CSP source expression, see [TileSource]); RegisterUI calls it
// with the configured base map at start and whenever it is changed.
func (s *Server) SetTileSources(srcs ...string) {
	srcs = slices.DeleteFunc(slices.Clone(srcs), func(x string) bool { return x == "" })
	c := CSP(srcs...)
	s.gs.csp.Store(&c)
}

// TrustOrigin admits state-changing browser requests from another origin
// ("https://shian.example.gov.cn"), for a proxy that rewrites Host. Browsers
// that send Sec-Fetch-Site need no such entry.
func (s *Server) TrustOrigin(origin string) error {
	return s.gs.cop.AddTrustedOrigin(origin)
}

// HandleUpload registers an authenticated route that takes
// multipart/form-data (an evidence upload) instead of JSON.
func (s *Server) HandleUpload(pattern string, min assurance.Role, h Handler) {
	s.Accept(pattern, "multipart/form-data")
	s.Handle(pattern, min, h)
}

// Accept declares the media types a route's state-changing requests may
// carry instead of JSON (the rule book also takes YAML). Only
// multipart/form-data, text/plain and application/x-www-form-urlencoded
// can be sent cross-origin without a preflight; a route that accepts them
// relies on the Origin rules alone.
func (s *Server) Accept(pattern string, mediaTypes ...string) {
	s.gs.bodies[pattern] = mediaTypes
}

func (s *Server) initGuard() {
	s.gs = &guardState{cop: http.NewCrossOriginProtection(), bodies: map[string][]string{}}
	s.SetTileSources()
}

// guard sets the security headers and refuses forged state-changing
// requests before next (the router) sees them.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", *s.gs.csp.Load())
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()")
		if err := s.checkUnsafe(r); err != nil {
			WriteError(w, s.Log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkUnsafe applies the Origin rules to r, before the router: a forged
// request learns nothing, not even whether its credential is good.
func (s *Server) checkUnsafe(r *http.Request) error {
	if safeMethod(r.Method) || r.Header.Get("Authorization") != "" {
		return nil
	}
	if err := s.gs.cop.Check(r); err != nil {
		return ErrCrossOrigin
	}
	if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
		if _, err := r.Cookie(auth.CookieName); err == nil {
			return ErrCrossOrigin // a session cookie from something that will not say where it comes from
		}
	}
	return nil
}

// checkBody applies the media-type rule to a state-changing request. It
// runs in every handler wrapper ([Server.wrap]), after authentication and
// the role gate (so a user without the role learns 403 first), with the
// pattern the router matched.
func (s *Server) checkBody(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	bearer := r.Header.Get("Authorization") != ""
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct != "" && err != nil {
		return ErrMediaType
	}
	if types, ok := s.gs.bodies[r.Pattern]; ok {
		if !slices.Contains(types, mt) {
			return ErrMediaType
		}
		return nil
	}
	switch {
	case mt == "application/json", strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return nil
	case ct == "" && bearer:
		return nil // a script that does not label its JSON: no browser can forge it, the decoder still wants JSON
	}
	return ErrMediaType
}
