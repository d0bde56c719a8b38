package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// AuditEntry is one line of the audit log: a login, a failed login, a
// logout, a refused request (401/403) or a change, with who, from where
// and when. Entries are numbered in the order they were stored and never
// rewritten.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`            // login, login_failed, logout, refused, change
	Actor  string    `json:"actor,omitempty"` // the user (or the name tried at a failed login)
	Role   string    `json:"role,omitempty"`
	Addr   string    `json:"addr,omitempty"` // the client's address (through trusted proxies)
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Route  string    `json:"route,omitempty"` // the route's pattern: "PATCH /api/v1/users/{name}"
	Status int       `json:"status"`
	Note   string    `json:"note,omitempty"` // what changed, in words; never a secret
}

// AppendAudit stores e with the next sequence number (and the store's
// clock when e.At is zero), durably, and returns it.
func (s *Store) AppendAudit(e AuditEntry) (AuditEntry, error) {
	if e.At.IsZero() {
		e.At = s.opts.Now()
	}
	err := s.Update(func(tx *Tx) error {
		seq, err := tx.nextSeq("audit")
		if err != nil {
			return err
		}
		e.Seq = seq
		return tx.Put("audit", alarmID(e.Seq), e)
	})
	if err != nil {
		return e, fmt.Errorf("store: audit: %w", err)
	}
	return e, nil
}

// AuditFilter selects audit entries. Zero fields select everything.
type AuditFilter struct {
	Kind, Actor, Addr string
	Since, Until      time.Time // At in [Since, Until)
	Before            uint64    // only entries with Seq < Before (keyset paging)
	Limit             int       // default 100
}

// Audit returns the entries f selects, newest first, and calls fn (when
// not nil) instead of collecting when a caller streams them.
func (s *Store) Audit(f AuditFilter, fn func(AuditEntry) bool) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []AuditEntry
	n := 0
	iter := func(_, v string) bool {
		var e AuditEntry
		if json.Unmarshal([]byte(v), &e) != nil {
			return true
		}
		// No early stop on Since: the clock may have jumped back, so
		// entries are in Seq order, not necessarily in time order.
		if (!f.Since.IsZero() && e.At.Before(f.Since)) || (f.Kind != "" && e.Kind != f.Kind) || (f.Actor != "" && e.Actor != f.Actor) ||
			(f.Addr != "" && e.Addr != f.Addr) || (!f.Until.IsZero() && !e.At.Before(f.Until)) {
			return true
		}
		n++
		if fn != nil {
			return fn(e) && n < f.Limit
		}
		out = append(out, e)
		return n < f.Limit
	}
	err := s.view(func(tx kv) error {
		if f.Before > 0 {
			return tx.descend("audit", alarmID(f.Before-1), false, iter)
		}
		return tx.descend("audit", "", true, iter)
	})
	return out, err
}
