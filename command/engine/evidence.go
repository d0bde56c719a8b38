package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// EvidenceTypes are the content types accepted for evidence, as sniffed
// from the file's first bytes (http.DetectContentType), never as the
// client declares them.
var EvidenceTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}

// Evidence subjects.
const (
	SubjectIncident = "incident"
	SubjectBanquet  = "banquet"
)

// AddEvidence stores an uploaded file for an incident or a banquet and
// returns its record; cite Evidence.Ref in a step's evidence. The file is
// read up to Config.MaxEvidence bytes (ErrTooLarge beyond), its type is
// sniffed (ErrUnsupported unless a photo or a PDF), and it is written
// under DATA/evidence named by its SHA-256, synced, before the record
// that cites it. Inspectors upload only for records of their team.
func (e *Engine) AddEvidence(subjectKind, id, kind, name string, body io.Reader, actor assurance.Actor) (Evidence, error) {
	if e.dir == "" {
		return Evidence{}, errors.New("assure: no data directory for evidence")
	}
	if kind == "" {
		kind = "photo"
	}
	team, err := e.subjectTeam(subjectKind, id)
	if err != nil {
		return Evidence{}, err
	}
	switch actor.Role {
	case assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleOperator:
	case assurance.RoleInspector:
		if team != "" && actor.TeamID != team {
			return Evidence{}, &assurance.RoleError{Action: subjectKind + " " + id + " evidence", Role: actor.Role,
				Reason: fmt.Sprintf("inspector %s is on team %q, but this is assigned to team %q", actor.UserID, actor.TeamID, team)}
		}
	default:
		return Evidence{}, &assurance.RoleError{Action: subjectKind + " " + id + " evidence", Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector, assurance.RoleOperator}}
	}
	return e.storeEvidence(subjectKind, id, kind, name, body, actor, e.cfg.MaxEvidence, EvidenceTypes)
}

// storeEvidence writes an upload of at most max bytes whose sniffed type
// is one of types, and cites it in its subject's record.
func (e *Engine) storeEvidence(subjectKind, id, kind, name string, body io.Reader, actor assurance.Actor, max int64, types []string) (Evidence, error) {
	if kind == "" {
		kind = "photo"
	}
	tmp, err := os.CreateTemp(e.dir, "upload-*")
	if err != nil {
		return Evidence{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(tmp, h, &limitedBuffer{b: &head, n: 512}), io.LimitReader(body, max+1))
	if err != nil {
		return Evidence{}, fmt.Errorf("assure: reading the upload: %w", err)
	}
	if n > max {
		return Evidence{}, fmt.Errorf("%w: over %d bytes; send a smaller photo", ErrTooLarge, max)
	}
	if n == 0 {
		return Evidence{}, &assurance.ValidationError{Field: "file", Problem: "the file is empty"}
	}
	ct := http.DetectContentType(head.Bytes())
	if !slices.Contains(types, ct) {
		what := "a JPEG, PNG, GIF or WebP photo"
		if slices.Contains(types, "application/pdf") {
			what += " or a PDF"
		}
		return Evidence{}, fmt.Errorf("%w: the file is %s; send %s", ErrUnsupported, ct, what)
	}
	if err := tmp.Sync(); err != nil {
		return Evidence{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	path := filepath.Join(e.dir, sum)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return Evidence{}, err
	}
	if d, err := os.Open(e.dir); err == nil {
		d.Sync()
		d.Close()
	}
	refSum := sha256.Sum256([]byte(subjectKind + ":" + id + "\n" + sum))
	ev := Evidence{Ref: "ev-" + hex.EncodeToString(refSum[:8]), Subject: subjectKind + ":" + id, Kind: kind, ContentType: ct,
		Size: n, SHA256: sum, Name: filepath.Base(name), By: actor.UserID, At: e.deps.Now()}
	add := func(list *[]Evidence) {
		if !slices.ContainsFunc(*list, func(x Evidence) bool { return x.Ref == ev.Ref }) {
			*list = append(*list, ev)
		}
	}
	switch subjectKind {
	case SubjectIncident:
		rec, err := store.Modify(e.st, kindIncident, id, func(r *Incident) error { add(&r.Evidence); return nil })
		if err != nil {
			return Evidence{}, err
		}
		e.publish(wire.KindIncident, e.view(rec))
	case SubjectBanquet:
		b, err := store.Modify(e.st, kindBanquet, id, func(b *Banquet) error { add(&b.Evidence); return nil })
		if err != nil {
			return Evidence{}, err
		}
		e.publish(wire.KindBanquet, e.banquetView(b))
	}
	return ev, nil
}

// subjectTeam returns the team a record is assigned to.
func (e *Engine) subjectTeam(subjectKind, id string) (string, error) {
	switch subjectKind {
	case SubjectIncident:
		var r Incident
		err := e.st.Get(kindIncident, id, &r)
		return r.TeamID, err
	case SubjectBanquet:
		var b Banquet
		err := e.st.Get(kindBanquet, id, &b)
		return b.TeamID, err
	}
	return "", &assurance.ValidationError{Field: "subject", Problem: fmt.Sprintf("%q takes no evidence", subjectKind)}
}

// EvidenceFile returns an evidence record of a subject and the path of its
// file.
func (e *Engine) EvidenceFile(subjectKind, id, ref string) (Evidence, string, error) {
	var list []Evidence
	switch subjectKind {
	case SubjectIncident:
		var r Incident
		if err := e.st.Get(kindIncident, id, &r); err != nil {
			return Evidence{}, "", err
		}
		list = r.Evidence
	case SubjectBanquet:
		var b Banquet
		if err := e.st.Get(kindBanquet, id, &b); err != nil {
			return Evidence{}, "", err
		}
		list = b.Evidence
	}
	i := slices.IndexFunc(list, func(x Evidence) bool { return x.Ref == ref })
	if i < 0 {
		return Evidence{}, "", fmt.Errorf("evidence %q of %s %s: %w", ref, subjectKind, id, store.ErrNotFound)
	}
	return list[i], filepath.Join(e.dir, list[i].SHA256), nil
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
