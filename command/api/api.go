// Package api is the command service's REST interface (/api/v1/...), its
// login endpoints, and the routing of the two websockets.
//
// # Conventions
//
// Requests and responses are JSON (GeoJSON for map layers, CSV/XLSX for
// exports). Every /api/v1 route except login needs a session cookie or
// "Authorization: Bearer <api token>" and a minimum role. Errors are
//
//	{"error": {"code": "invalid", "message": "…what went wrong and what to do…"}}
//
// with the HTTP status saying the class (400 invalid, 401 unauthenticated,
// 403 forbidden, 404 not found, 409 conflict or a refusal of the protocol,
// 413 too large, 415 wrong body type, 503 storage failed, 500 internal;
// internal details go to the log, not to the client). The route table is
// in command/README.md.
//
// # Errors: one type, one mapping
//
// A handler is a [Handler]: it returns an error and never writes one
// itself. [Server.Handle] sends whatever it returns through [WriteError],
// which maps it with [AsError] — the only place where an error becomes an
// HTTP status and a code. So a handler
//
//   - returns the domain's error as it is: an assurance refusal
//     (*assurance.TransitionError, …) becomes 409 with its code and
//     details, store.ErrNotFound 404, store.ErrStorageFailed 503, and so on
//     (the table is on [AsError]);
//   - returns [Invalid] or [Errorf] (an [*Error]) for what only the API
//     knows: a bad query parameter, a body of the wrong type, a record
//     outside the user's events;
//   - never maps errors per route: a new kind of domain error gets one
//     line in [AsError].
//
// Handlers written directly against net/http (websocket upgrades, file
// downloads) call [WriteError] with their error.
//
// # Browser protections
//
// Every request to the command service passes the guard (guard.go) before the
// router. It does two things and nothing else:
//
//  1. Security headers on every answer (pages, API, files): a strict
//     Content-Security-Policy — scripts only from this server (no inline
//     script, no eval, no inline handlers), nothing framed by anyone
//     (frame-ancestors 'none'), images from here, data:/blob: and the
//     configured tile server only — plus X-Content-Type-Options: nosniff,
//     Referrer-Policy, X-Frame-Options, Cross-Origin-Opener-Policy,
//     Cross-Origin-Resource-Policy and Permissions-Policy. A handler may
//     tighten them (evidence files are served sandboxed).
//  2. CSRF on state-changing requests (anything but GET, HEAD, OPTIONS):
//     - A browser request must be same-origin: Sec-Fetch-Site is
//     same-origin or none, or, from a browser that does not send it, the
//     Origin's host is the request's Host (net/http's
//     CrossOriginProtection). A request that carries the session cookie
//     but neither header is refused too. Refusal: 403 cross_origin.
//     - The body must be JSON (application/json or another +json type);
//     the upload routes ([Server.HandleUpload]) take multipart/form-data
//     instead, and a route may declare other types ([Server.Accept]: the
//     rule book takes YAML). Refusal: 415 unsupported_media_type, checked
//     by every handler's wrapper after the role gate.
//     A form, text/plain or a body-less fetch from another site is the
//     shape of a forged request; JSON from another origin needs a CORS
//     preflight this server never answers.
//
// A request that authenticates with "Authorization: Bearer <token>" (API
// tokens of scripts and the simulator; kiosks use their token on the
// /ws/kiosk handshake, a GET) is not held to the Origin rules: a browser
// never attaches that header by itself, and a page on another origin
// cannot add it without a preflight, so such a request cannot be forged
// from a victim's browser. auth.Identify takes the header before the
// cookie, so the cookie plays no part in it. Its body still must be JSON:
// a declared non-JSON type is refused, an unlabelled body is decoded as
// JSON (scripts often send none).
//
// Errors go through [AsError] like every other ([ErrCrossOrigin],
// [ErrMediaType]).
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Error codes in API responses. The assurance protocol's codes
// (illegal_transition, precondition_failed, not_ready, retest_refused, and
// its own invalid and forbidden) come through as they are: see
// [assurance.Code].
const (
	CodeInvalid       = "invalid"
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeNotFound      = "not_found"
	CodeConflict      = "conflict"
	CodeTooLarge      = "too_large"
	CodeThrottled     = "throttled" // 429: too many failed logins; retry_after says when
	CodeStorageFailed = "storage_failed"
	CodeDamaged       = "damaged" // a stored result failed its checksum
	CodeInternal      = "internal"
)

// Error is the one error type of the API: what a handler returns when it
// wants a particular answer, and what [AsError] makes of every other
// error. Details are extra members of the response's "error" object
// (the allowed states of a refused transition, the field of a validation
// error, …).
type Error struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an API error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid makes a 400 error.
func Invalid(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalid, format, args...)
}

// assuranceStatus maps the protocol's error codes to HTTP.
var assuranceStatus = map[assurance.Code]int{
	assurance.CodeInvalid:           http.StatusBadRequest,
	assurance.CodeForbidden:         http.StatusForbidden,
	assurance.CodeIllegalTransition: http.StatusConflict,
	assurance.CodePrecondition:      http.StatusConflict,
	assurance.CodeNotReady:          http.StatusConflict,
	assurance.CodeRetestRefused:     http.StatusConflict,
}

// AsError is the one mapping from errors to API answers:
//
//	*Error                          as it is
//	ErrCrossOrigin                  403 cross_origin (the guard's CSRF check)
//	ErrMediaType                    415 unsupported_media_type (the guard: not JSON, not multipart on an upload route)
//	*geo.Error                      400 invalid (413 too_large for an oversized layer)
//	assurance errors                their code: 400 invalid, 403 forbidden, 409 illegal_transition,
//	                                precondition_failed, not_ready, retest_refused — with details
//	engine.ErrTooLarge              413 too_large
//	engine.ErrUnsupported           415 invalid
//	store.ErrNotFound               404 not_found
//	store.ErrConflict               409 conflict
//	store.ErrStorageFailed          503 storage_failed (the service must be restarted)
//	history.ErrNotFound             404 not_found
//	history.ErrStorageFailed        503 storage_failed (the service must be restarted)
//	history.ErrDamaged              500 damaged (the stored result failed its checksum; alarmed)
//	anything else                   500 internal; internal reports whether it was
//
// The message of a mapped error is the error's own text (written for the
// person who sent the request); an internal error's is not shown.
func AsError(err error) (ae *Error, internal bool) {
	var ge *geo.Error
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.Is(err, ErrCrossOrigin):
		return &Error{Status: http.StatusForbidden, Code: CodeCrossOrigin, Message: err.Error()}, false
	case errors.Is(err, ErrMediaType):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMediaType, Message: err.Error()}, false
	case errors.As(err, &ge):
		ae = &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: ge.Error()}
		if ge.Code == geo.CodeTooLarge {
			ae.Status, ae.Code = http.StatusRequestEntityTooLarge, CodeTooLarge
		}
		return ae, false
	}
	if code := assurance.ErrorCode(err); assuranceStatus[code] != 0 {
		return &Error{Status: assuranceStatus[code], Code: string(code), Message: err.Error(), Details: assuranceDetails(err)}, false
	}
	switch {
	case errors.Is(err, engine.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: err.Error()}, false
	case errors.Is(err, engine.ErrUnsupported):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeInvalid, Message: err.Error()}, false
	case errors.Is(err, engine.ErrDuplicateComplaint):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "已收到相同的投诉，正在处理中 / " + err.Error()}, false
	case errors.Is(err, engine.ErrUnknownCode):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "查询码不存在，请核对 / no complaint has this follow-up code; check it"}, false
	case errors.Is(err, store.ErrNotFound), errors.Is(err, history.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}, false
	case errors.Is(err, history.ErrDamaged):
		return &Error{Status: http.StatusInternalServerError, Code: CodeDamaged,
			Message: "此结果的存储已损坏，不予提供，已报警 / this result's stored copy is damaged and is not served; an alarm was raised (shian-command verify lists the damage)"}, true
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}, false
	case errors.Is(err, store.ErrStorageFailed), errors.Is(err, history.ErrStorageFailed):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeStorageFailed,
			Message: "指挥中心无法保存数据，请联系管理员重启服务 / the command service cannot store anything until it is restarted; nothing was saved"}, true
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; the details are in the command service's log"}, true
}

// assuranceDetails are a protocol error's details: allowed states, open
// readiness items, the allowed roles, the rule, the reason, the field.
func assuranceDetails(err error) map[string]any {
	var te *assurance.TransitionError
	var nr *assurance.NotReadyError
	var re *assurance.RoleError
	var pe *assurance.PreconditionError
	var rt *assurance.RetestError
	var ve *assurance.ValidationError
	switch {
	case errors.As(err, &te):
		return map[string]any{"from": te.From, "to": te.To, "allowed": nonNilStrings(te.Allowed)}
	case errors.As(err, &nr):
		return map[string]any{"to": nr.To, "open": nr.Open}
	case errors.As(err, &re):
		return map[string]any{"allowed_roles": re.Allowed}
	case errors.As(err, &pe):
		return map[string]any{"rule": pe.Rule}
	case errors.As(err, &rt):
		return map[string]any{"reason": rt.Reason, "reason_label": rt.Reason.Label()}
	case errors.As(err, &ve):
		return map[string]any{"field": ve.Field}
	}
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// WriteError writes err as the API's error response, mapped by [AsError];
// an internal error's detail goes to log, not to the client.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	ae, internal := AsError(err)
	if internal {
		log.Error("request failed", "err", err)
	}
	writeError(w, ae)
}

func writeError(w http.ResponseWriter, ae *Error) {
	body := make(map[string]any, 2+len(ae.Details))
	for k, v := range ae.Details {
		body[k] = v
	}
	body["code"], body["message"] = ae.Code, ae.Message
	WriteJSON(w, ae.Status, map[string]any{"error": body})
}

// refuse writes a 401/403 from the auth middleware.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if u, ok := auth.UserFrom(r.Context()); ok {
		auditAs(r, u.Name, "", "")
	}
	if status == http.StatusUnauthorized {
		msg = "请重新登录 / " + msg
	} else {
		msg = "您的角色无权执行此操作 / " + msg
	}
	code := CodeUnauthorized
	if status == http.StatusForbidden {
		code = CodeForbidden
	}
	writeError(w, &Error{Status: status, Code: code, Message: msg})
}

// Handler is a handler that returns an error.
type Handler func(w http.ResponseWriter, r *http.Request) error

// decodeJSON reads a JSON body of at most limit bytes into v, refusing
// unknown fields.
// DecodeJSON decodes a request's JSON body of at most limit bytes into v
// (for routes registered outside this package).
func DecodeJSON(r *http.Request, limit int64, v any) error { return decodeJSON(r, limit, v) }

// UserOf is the authenticated user of a request to a Handle route.
func UserOf(r *http.Request) store.User { return userOf(r) }

func decodeJSON(r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/geo+json") {
		return Errorf(http.StatusUnsupportedMediaType, CodeInvalid, "send the body as application/json, not %s", ct)
	}
	body := http.MaxBytesReader(nil, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than %d bytes", limit)
		}
		return Invalid("request body is not valid JSON for this route: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Invalid("request body has data after the JSON value")
	}
	return nil
}

func queryInt(r *http.Request, name string, def, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, Invalid("%s=%q: want a whole number from 1 to %d", name, s, max)
	}
	if n > max {
		n = max
	}
	return n, nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		// A bare date is the day as the city counts it: from 00:00
		// Beijing time (the zone every report and export speaks), not
		// from 00:00 UTC, which is 08:00 there and would drop the
		// night's and morning's results from "since=<today>".
		if d, derr := time.ParseInLocation("2006-01-02", s, assurance.ChinaStandardTime); derr == nil {
			return d, nil
		}
		return time.Time{}, Invalid("%s=%q: want an RFC 3339 time (2026-11-28T09:00:00+08:00) or a date (2026-11-28, from 00:00 Beijing time)", name, s)
	}
	return t, nil
}

// userOf returns the request's authenticated user (set by Require).
func userOf(r *http.Request) store.User {
	u, _ := auth.UserFrom(r.Context())
	return u
}
