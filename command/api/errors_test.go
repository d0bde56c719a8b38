package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestWriteErrorMapping: every kind of error a handler returns gets its
// status, code and details from the one mapping, and an internal error's
// detail stays out of the response.
func TestWriteErrorMapping(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	cases := []struct {
		err     error
		status  int
		code    string
		details map[string]any
	}{
		{api.Invalid("since=%q: want a date", "x"), 400, "invalid", nil},
		{&geo.Error{Code: geo.CodeTooLarge, Feature: -1, Msg: "too many features"}, 413, "too_large", nil},
		{&geo.Error{Code: geo.CodeRingUnclosed, Feature: -1, Msg: "close the ring"}, 400, "invalid", nil},
		{fmt.Errorf("incident INC-1: %w", &assurance.TransitionError{Machine: "incident", ID: "INC-1", From: "closed", To: "assigned"}),
			409, "illegal_transition", map[string]any{"from": "closed", "to": "assigned", "allowed": []any{}}},
		{&assurance.PreconditionError{Action: "x", Rule: "evidence_required", Detail: "attach a photo"}, 409, "precondition_failed", map[string]any{"rule": "evidence_required"}},
		{&assurance.ValidationError{Field: "team_id", Problem: "unknown"}, 400, "invalid", map[string]any{"field": "team_id"}},
		{&assurance.RoleError{Action: "x", Role: assurance.RoleViewer, Allowed: []assurance.Role{assurance.RoleCommander}}, 403, "forbidden",
			map[string]any{"allowed_roles": []any{"commander"}}},
		{fmt.Errorf("%w: over 10 bytes", engine.ErrTooLarge), 413, "too_large", nil},
		{fmt.Errorf("%w: a text file", engine.ErrUnsupported), 415, "invalid", nil},
		{fmt.Errorf("site %q: %w", "S-9", store.ErrNotFound), 404, "not_found", nil},
		{fmt.Errorf("user %q: %w", "li", store.ErrConflict), 409, "conflict", nil},
		{fmt.Errorf("%w: fsync of /data/command.db failed", store.ErrStorageFailed), 503, "storage_failed", nil},
		{errors.New("secret detail"), 500, "internal", nil},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		api.WriteError(rec, quiet, c.err)
		var body struct {
			Error map[string]any `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: %v", c.err, err)
		}
		if rec.Code != c.status || body.Error["code"] != c.code {
			t.Errorf("%v: %d %v, want %d %s", c.err, rec.Code, body.Error["code"], c.status, c.code)
		}
		msg, _ := body.Error["message"].(string)
		if msg == "" {
			t.Errorf("%v: no message", c.err)
		}
		if c.status >= 500 && (msg == c.err.Error() || len(msg) == 0) {
			t.Errorf("%v: internal detail in the response: %q", c.err, msg)
		}
		for k, want := range c.details {
			if got, _ := json.Marshal(body.Error[k]); string(got) != mustJSON(want) {
				t.Errorf("%v: %s = %s, want %s", c.err, k, got, mustJSON(want))
			}
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%v: Content-Type %q", c.err, ct)
		}
	}
	if _, internal := api.AsError(errors.New("x")); !internal {
		t.Error("an unknown error is not internal")
	}
	if ae, internal := api.AsError(api.Errorf(http.StatusForbidden, api.CodeForbidden, "outside your events")); internal || ae.Status != 403 {
		t.Errorf("an *api.Error: %+v %v", ae, internal)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
