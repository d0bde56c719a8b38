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
// 403 forbidden, 404 not found, 409 conflict, 413 too large, 500 internal;
// internal details go to the log, not to the client). The route table is
// in command/README.md.
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
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
)

// Error codes in API responses.
const (
	CodeInvalid      = "invalid"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeInternal     = "internal"
	CodeDamaged      = "damaged" // a stored record failed its checksum
)

// Error is an error with an API code, returned by handlers.
type Error struct {
	Status  int
	Code    string
	Message string
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

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// WriteError writes err as an API error response. Errors that are not
// *Error map by kind (store.ErrNotFound → 404, …) or become 500 with the
// detail logged.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var ae *Error
	var ge *geo.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ge):
		ae = &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: ge.Error()}
		if ge.Code == geo.CodeTooLarge {
			ae.Status, ae.Code = http.StatusRequestEntityTooLarge, CodeTooLarge
		}
	case errors.Is(err, history.ErrDamaged):
		log.Error("damaged result requested", "err", err)
		ae = &Error{Status: http.StatusInternalServerError, Code: CodeDamaged,
			Message: "此结果的存储已损坏，不予提供，已报警 / this result's stored copy is damaged and is not served; an alarm was raised (shian-command verify lists the damage)"}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, history.ErrNotFound):
		ae = &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		ae = &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	default:
		log.Error("internal error", "err", err)
		ae = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; the details are in the command service's log"}
	}
	WriteJSON(w, ae.Status, map[string]any{"error": map[string]string{"code": ae.Code, "message": ae.Message}})
}

// refuse writes a 401/403 from the auth middleware.
func refuse(w http.ResponseWriter, status int, msg string) {
	code := CodeUnauthorized
	if status == http.StatusForbidden {
		code = CodeForbidden
	}
	WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// Handler is a handler that returns an error.
type Handler func(w http.ResponseWriter, r *http.Request) error

// decodeJSON reads a JSON body of at most limit bytes into v, refusing
// unknown fields.
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
		if d, derr := time.Parse("2006-01-02", s); derr == nil {
			return d, nil
		}
		return time.Time{}, Invalid("%s=%q: want an RFC 3339 time (2026-11-28T09:00:00+08:00) or a date (2026-11-28)", name, s)
	}
	return t, nil
}

// userOf returns the request's authenticated user (set by Require).
func userOf(r *http.Request) store.User {
	u, _ := auth.UserFrom(r.Context())
	return u
}
