package api

// The audit log: who came in, who was turned away, and who changed what,
// from which address and when (docs/decisions/0020).
//
// Every request passes the edge (edge.go), which records after the
// handler has answered:
//
//   - login, login_failed and logout, named by the login handlers (the
//     actor of a failed login is the name that was tried);
//   - refused: every 401 and 403, the kiosks' websocket included;
//   - change: every request other than GET, HEAD and OPTIONS that
//     succeeded (status below 400), with its route and, where the
//     handler gives one, a note of what changed (never a password or a
//     token).
//
// Entries are stored in the command store (store.AppendAudit, one durable
// Update each) before the client sees the end of the response, so a
// change a client saw done is in the log. The refusals and failed logins
// of one address are stored at most refusalBurst a minute; the ones over
// that are counted into the next stored entry's note, so a flood of bad
// requests cannot fill the disk or slow the store.
//
// Admins read it at GET /api/v1/audit and export it with the other sheets
// at GET /api/v1/export/audit.csv (or .xlsx); it is in every backup, as a
// part of command.db.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Audit entry kinds.
const (
	KindLogin       = "login"
	KindLoginFailed = "login_failed"
	KindLogout      = "logout"
	KindRefused     = "refused"
	KindChange      = "change"
)

// noteThrottled notes a login refused by the throttle.
const noteThrottled = "登录受限 / throttled"

// refusalBurst is how many refusals and failed logins of one address are
// stored per minute.
const refusalBurst = 30

type auditKey struct{}

// auditNote is what the handlers tell the edge about a request.
type auditNote struct {
	mu    sync.Mutex
	actor string
	role  string
	kind  string
	notes string
}

func withAudit(r *http.Request) (*http.Request, *auditNote) {
	n := &auditNote{}
	return r.WithContext(context.WithValue(r.Context(), auditKey{}, n)), n
}

// auditAs names the request's actor (when not "") and, for the login
// routes, its kind (when not ""), and adds a note.
func auditAs(r *http.Request, actor, kind, note string) {
	n, _ := r.Context().Value(auditKey{}).(*auditNote)
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if actor != "" {
		n.actor = actor
		if u, ok := auth.UserFrom(r.Context()); ok && u.Name == actor {
			n.role = string(u.Role)
		}
	}
	if kind != "" {
		n.kind = kind
	}
	if note != "" {
		if n.notes != "" {
			n.notes += "; "
		}
		n.notes += note
	}
}

// noteAudit adds what a change did, in words, to the request's entry.
func noteAudit(r *http.Request, note string) { auditAs(r, "", "", note) }

type auditor struct {
	s  *Server
	mu sync.Mutex
	// per address: refusals stored in the current minute, and those
	// suppressed since the last stored one
	window time.Time
	stored map[string]int
	over   map[string]int
}

func newAuditor(s *Server) *auditor {
	return &auditor{s: s, stored: map[string]int{}, over: map[string]int{}}
}

// admit reports whether a refusal from addr is stored, and how many were
// suppressed before it.
func (a *auditor) admit(addr string, now time.Time) (bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := now.Truncate(time.Minute); !m.Equal(a.window) {
		a.window = m
		clear(a.stored)
		if len(a.over) > 10000 {
			clear(a.over)
		}
	}
	if a.stored[addr] >= refusalBurst {
		a.over[addr]++
		return false, 0
	}
	a.stored[addr]++
	n := a.over[addr]
	delete(a.over, addr)
	return true, n
}

func (a *auditor) record(r *http.Request, n *auditNote, status int) {
	n.mu.Lock()
	e := store.AuditEntry{Kind: n.kind, Actor: n.actor, Role: n.role, Note: n.notes}
	n.mu.Unlock()
	switch {
	case e.Kind != "":
	case status == http.StatusUnauthorized && r.URL.Path == "/api/v1/me" && r.Header.Get("Authorization") == "" && len(r.Cookies()) == 0:
		return // the page asking whether it is logged in: no refusal of anything
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = KindRefused
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions && status < 400:
		e.Kind = KindChange
	default:
		return
	}
	now := a.s.Now()
	e.At, e.Addr, e.Method, e.Path, e.Route, e.Status = now, a.s.ClientAddr(r), r.Method, r.URL.Path, r.Pattern, status
	if len(e.Path) > 300 {
		e.Path = e.Path[:300]
	}
	if e.Kind == KindRefused || e.Kind == KindLoginFailed {
		ok, over := a.admit(e.Addr, now)
		if !ok {
			return
		}
		if over > 0 {
			e.Note = strings.TrimSpace(fmt.Sprintf("%s（此地址另有 %d 次未记录 / %d more from this address not logged）", e.Note, over, over))
		}
	}
	if _, err := a.s.Store.AppendAudit(e); err != nil {
		a.s.Log.Error("cannot store the audit entry", "kind", e.Kind, "path", e.Path, "err", err)
	}
}

func (s *Server) registerAudit() {
	s.Handle("GET /api/v1/audit", assurance.RoleAdmin, s.listAudit)
}

// auditFilter reads the query of GET /api/v1/audit and of its export.
func auditFilter(r *http.Request, maxLimit int) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Kind: q.Get("kind"), Actor: q.Get("actor"), Addr: q.Get("addr")}
	switch f.Kind {
	case "", KindLogin, KindLoginFailed, KindLogout, KindRefused, KindChange:
	default:
		return f, Invalid("kind=%q: want login, login_failed, logout, refused or change", f.Kind)
	}
	var err error
	if f.Limit, err = queryInt(r, "limit", 100, maxLimit); err != nil {
		return f, err
	}
	if f.Since, err = queryTime(r, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return f, err
	}
	if b := q.Get("before"); b != "" {
		if f.Before, err = strconv.ParseUint(b, 10, 64); err != nil || f.Before == 0 {
			return f, Invalid("before=%q: want the seq of the last entry of the previous page", b)
		}
	}
	return f, nil
}

// listAudit answers the entries, newest first; the next page is
// before=<seq of the last one>.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r, 1000)
	if err != nil {
		return err
	}
	es, err := s.Store.Audit(f, nil)
	return replyList(w, es, err)
}

// auditTable is the audit log as an export sheet (admins only).
func (s *Server) auditTable(r *http.Request) (exportTable, error) {
	if !userOf(r).Role.AtLeast(assurance.RoleAdmin) {
		return exportTable{}, Errorf(http.StatusForbidden, CodeForbidden, "审计日志仅管理员可导出 / only an admin may export the audit log")
	}
	f, err := auditFilter(r, 1_000_000)
	if err != nil {
		return exportTable{}, err
	}
	if r.URL.Query().Get("limit") == "" {
		f.Limit = 1_000_000
	}
	return exportTable{name: "audit", sheet: "审计日志",
		header: []string{"序号 seq", "时间 time", "类别 kind", "用户 actor", "角色 role", "地址 address", "方法 method", "路径 path", "状态 status", "说明 note"},
		rows: func(emit func([]any) error) error {
			var eerr error
			_, err := s.Store.Audit(f, func(e store.AuditEntry) bool {
				eerr = emit([]any{e.Seq, exportTime(e.At), e.Kind, e.Actor, e.Role, e.Addr, e.Method, e.Path, e.Status, e.Note})
				return eerr == nil
			})
			if eerr != nil {
				return eerr
			}
			return err
		}}, nil
}
