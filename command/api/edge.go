package api

// The edge: what every request passes through before the router, and how
// the service learns who is on the other end.
//
// # Behind a proxy
//
// With no trusted proxy, the client is the TCP peer and a request is
// secure when it came over TLS (--tls-cert). Behind a TLS-terminating
// reverse proxy, list the proxy's addresses in Edge.TrustedProxies
// (command.yaml proxy.trusted): for a request whose peer is one of them,
// X-Forwarded-For names the client (the rightmost address that is not a
// trusted proxy) and X-Forwarded-Proto: https makes the request secure.
// The same headers from anyone else are ignored, so a client cannot make
// itself someone else's address or turn off throttling by forging them.
//
// A secure request gets Secure cookies and Strict-Transport-Security.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Edge configures how requests reach the service.
type Edge struct {
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (addresses or CIDR prefixes).
	TrustedProxies []netip.Prefix
	// HSTSMaxAge is the Strict-Transport-Security max-age in seconds sent
	// on secure responses (0: one year; negative: no header).
	HSTSMaxAge int
}

// ParseProxies reads trusted proxy addresses: "10.0.0.5", "10.0.0.0/8",
// "::1".
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an IP address (10.0.0.5) or a prefix (10.0.0.0/8)", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (e Edge) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range e.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerOf(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

// fromProxy reports whether the request's peer is a trusted proxy.
func (s *Server) fromProxy(r *http.Request) bool {
	p, ok := peerOf(r)
	return ok && len(s.Edge.TrustedProxies) > 0 && s.Edge.trusted(p)
}

// ClientAddr returns the address of the client that sent r: the TCP
// peer, or behind trusted proxies the rightmost X-Forwarded-For entry
// that is not one of them.
func (s *Server) ClientAddr(r *http.Request) string {
	p, ok := peerOf(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.fromProxy(r) {
		return p.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing to its left
		}
		if !s.Edge.trusted(a) {
			return a.Unmap().String()
		}
		p = a.Unmap()
	}
	return p.String()
}

// Secure reports whether r reached the service over HTTPS: directly, or
// through a trusted proxy that says so.
func (s *Server) Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !s.fromProxy(r) {
		return false
	}
	protos := strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(protos[len(protos)-1]), "https")
}

// edge wraps the router: HSTS on secure responses, and the audit log of
// what each request did (see audit.go).
func (s *Server) edge(next http.Handler) http.Handler {
	hsts := ""
	switch age := s.Edge.HSTSMaxAge; {
	case age == 0:
		hsts = "max-age=31536000"
	case age > 0:
		hsts = fmt.Sprintf("max-age=%d", age)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hsts != "" && s.Secure(r) {
			w.Header().Set("Strict-Transport-Security", hsts)
		}
		rec := &statusWriter{ResponseWriter: w}
		r, note := withAudit(r)
		next.ServeHTTP(rec, r)
		s.audit.record(r, note, rec.status())
	})
}

// statusWriter remembers the status of the response; it lets a websocket
// hijack the connection and a download flush.
type statusWriter struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	switch {
	case w.hijacked:
		return http.StatusSwitchingProtocols
	case w.code == 0:
		return http.StatusOK
	}
	return w.code
}
