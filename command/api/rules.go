package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/shianfood/shian/command/rulebook"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// RuleBooks is what the rule-book routes need (command/rulebook.Keeper).
type RuleBooks interface {
	Current() assay.Book
	Version(v uint64) (assay.Book, bool)
	Versions() []rulebook.Summary
	Issue(e rulebook.Edit) (assay.Book, error)
}

var _ RuleBooks = (*rulebook.Keeper)(nil)

// RegisterRules adds the rule-book routes:
//
//	GET  /api/v1/rules                     the current book (viewer)
//	GET  /api/v1/rules/versions            every version, newest first (viewer)
//	GET  /api/v1/rules/versions/{version}  one version (viewer)
//	PUT  /api/v1/rules                     issue a new version: the whole book (admin)
//	PUT  /api/v1/rules/lots/{id}           issue a new version with one lot added or replaced (admin)
//	DELETE /api/v1/rules/lots/{id}         issue a new version without the lot (admin)
//
// A PUT body is JSON (thresholds in the wire's integer units) or, with
// Content-Type application/yaml, YAML in the units people write ("50%",
// "70°C", "30 RLU"). Each edit names the version it was made on
// (base_version); an edit of a version that is no longer current is 409.
func RegisterRules(s *Server, books RuleBooks) {
	r := &rulesAPI{s: s, books: books}
	s.Handle("GET /api/v1/rules", assurance.RoleViewer, r.current)
	s.Handle("GET /api/v1/rules/versions", assurance.RoleViewer, r.versions)
	s.Handle("GET /api/v1/rules/versions/{version}", assurance.RoleViewer, r.version)
	s.Accept("PUT /api/v1/rules", "application/json", "application/yaml", "text/yaml", "application/x-yaml")
	s.Handle("PUT /api/v1/rules", assurance.RoleAdmin, r.put)
	s.Accept("PUT /api/v1/rules/lots/{id}", "application/json", "application/yaml", "text/yaml", "application/x-yaml")
	s.Handle("PUT /api/v1/rules/lots/{id}", assurance.RoleAdmin, r.putLot)
	s.Handle("DELETE /api/v1/rules/lots/{id}", assurance.RoleAdmin, r.deleteLot)
}

type rulesAPI struct {
	s     *Server
	books RuleBooks
}

// bookEdit is the body of PUT /api/v1/rules.
type bookEdit struct {
	BaseVersion uint64       `json:"base_version" yaml:"base_version"`
	Note        string       `json:"note" yaml:"note"`
	Rules       *assay.Rules `json:"rules" yaml:"rules"`
	Lots        []assay.Lot  `json:"lots" yaml:"lots"`
}

// lotEdit is the body of PUT /api/v1/rules/lots/{id}.
type lotEdit struct {
	BaseVersion uint64    `json:"base_version" yaml:"base_version"`
	Note        string    `json:"note" yaml:"note"`
	Lot         assay.Lot `json:"lot" yaml:"lot"`
}

func (a *rulesAPI) current(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, a.books.Current())
	return nil
}

func (a *rulesAPI) versions(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, a.books.Versions())
	return nil
}

func (a *rulesAPI) version(w http.ResponseWriter, r *http.Request) error {
	v, err := strconv.ParseUint(r.PathValue("version"), 10, 64)
	if err != nil || v == 0 {
		return Invalid("version %q: want a version number (1, 2, …)", r.PathValue("version"))
	}
	b, ok := a.books.Version(v)
	if !ok {
		return Errorf(http.StatusNotFound, CodeNotFound, "规则书没有第 %d 版 / no rule-book version %d", v, v)
	}
	WriteJSON(w, http.StatusOK, b)
	return nil
}

// decodeBody reads JSON, or YAML when the request says so; both refuse
// unknown fields.
func decodeBody(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/yaml") && !strings.HasPrefix(ct, "text/yaml") && !strings.HasPrefix(ct, "application/x-yaml") {
		return decodeJSON(r, 1<<20, v)
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than 1 MiB")
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return Invalid("request body is not valid YAML for this route: %v", err)
	}
	return nil
}

func (a *rulesAPI) put(w http.ResponseWriter, r *http.Request) error {
	cur := a.books.Current()
	e := bookEdit{}
	rules := cur.Rules // a YAML body overrides only the keys it names
	e.Rules = &rules
	if err := decodeBody(r, &e); err != nil {
		return err
	}
	if e.Rules == nil {
		return Invalid("rules: the book's rules are required")
	}
	return a.issue(w, r, rulebook.Edit{Base: e.BaseVersion, Rules: *e.Rules, Lots: e.Lots, Note: e.Note})
}

func (a *rulesAPI) putLot(w http.ResponseWriter, r *http.Request) error {
	var e lotEdit
	if err := decodeBody(r, &e); err != nil {
		return err
	}
	id := r.PathValue("id")
	if e.Lot.ID == "" {
		e.Lot.ID = id
	}
	if e.Lot.ID != id {
		return Invalid("lot.id %q differs from the lot in the path, %q", e.Lot.ID, id)
	}
	cur := a.books.Current()
	if e.BaseVersion != 0 && e.BaseVersion != cur.Version {
		return staleErr(e.BaseVersion, cur.Version)
	}
	lots := make([]assay.Lot, 0, len(cur.Lots)+1)
	replaced := false
	for _, l := range cur.Lots {
		if l.ID == id {
			l, replaced = e.Lot, true
		}
		lots = append(lots, l)
	}
	if !replaced {
		lots = append(lots, e.Lot)
	}
	note := e.Note
	if note == "" {
		verb := "新增批号 / lot added: "
		if replaced {
			verb = "修改批号 / lot changed: "
		}
		note = verb + id
	}
	return a.issue(w, r, rulebook.Edit{Base: cur.Version, Rules: cur.Rules, Lots: lots, Note: note})
}

func (a *rulesAPI) deleteLot(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	cur := a.books.Current()
	lots := make([]assay.Lot, 0, len(cur.Lots))
	for _, l := range cur.Lots {
		if l.ID != id {
			lots = append(lots, l)
		}
	}
	if len(lots) == len(cur.Lots) {
		return Errorf(http.StatusNotFound, CodeNotFound, "规则书中没有批号 %s / lot %s is not in the rule book", id, id)
	}
	note := r.URL.Query().Get("note")
	if note == "" {
		note = "删除批号 / lot removed: " + id
	}
	return a.issue(w, r, rulebook.Edit{Base: cur.Version, Rules: cur.Rules, Lots: lots, Note: note})
}

func staleErr(base, cur uint64) error {
	return Errorf(http.StatusConflict, CodeConflict, "规则书已更新为第 %d 版，您编辑的是第 %d 版，请重新载入后再改 / the rule book is now version %d; you edited version %d: reload it and edit again", cur, base, cur, base)
}

// issue issues the edit as the next version; the version itself records
// who (issued_by), when and why (note), and the log records from where.
func (a *rulesAPI) issue(w http.ResponseWriter, r *http.Request, e rulebook.Edit) error {
	u := userOf(r)
	e.By = u.Name
	b, err := a.books.Issue(e)
	switch {
	case errors.Is(err, rulebook.ErrStale):
		return staleErr(e.Base, a.books.Current().Version)
	case errors.Is(err, rulebook.ErrInvalid):
		return Invalid("%s", strings.TrimPrefix(err.Error(), rulebook.ErrInvalid.Error()+": "))
	case err != nil:
		return err
	}
	a.s.Log.Info("rule book issued", "version", b.Version, "by", u.Name, "from", r.RemoteAddr, "lots", len(b.Lots), "note", b.Note)
	WriteJSON(w, http.StatusCreated, b)
	return nil
}
