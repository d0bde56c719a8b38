// Package rulebook is the command's rule book (规则书): the one set of
// decision rules every verdict in the city is taken with — per method, per
// instrument model and per kit lot — versioned, edited by admins through
// the API, sent to every kiosk, and used to re-derive every result.
//
// # Versions
//
// The book is a protocols/domain/assay.Book. Every edit issues a new
// version (the last plus one), written durably before anyone sees it; a
// version is never rewritten or deleted, so a result decided with
// version 7 a month ago is re-derived with version 7 today. At its first
// start the command issues version 1 from its configured rules.
//
// # How a result is judged
//
// A kiosk decides with the book it holds and names its version in the
// result (rules_version, 0 when it never had one). [Keeper.Judge]
// re-derives the verdict:
//
//   - with the book the result names, for the instrument's model and the
//     result's kit lot: a different verdict is verdict_mismatch (a kiosk
//     with a bug or tampered rules);
//   - the book in force is the newest version issued at or before the
//     result was measured. A result that names an older book was decided by
//     a kiosk that had not heard of the change (it was offline): it is
//     flagged rules_outdated, and the command's verdict is the one the book
//     in force gives — the kiosk's is not trusted. A version the command
//     never issued is rules_unknown, judged the same way;
//   - a kit lot used after its expiry is lot_expired.
//
// The command's verdict is stored as the result's derived outcome when it
// differs from the kiosk's; the map shows it.
package rulebook

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// Store keeps the versions durably (command/store.Store).
type Store interface {
	// PutRuleBook stores a new version durably; an existing version is an
	// error.
	PutRuleBook(b assay.Book) error
	// RuleBooks returns every stored version.
	RuleBooks() ([]assay.Book, error)
}

// Errors of Issue.
var (
	// ErrStale: the edit was made on a version that is no longer current
	// (another admin issued one meanwhile).
	ErrStale = errors.New("rulebook: edited an outdated version")
	// ErrInvalid: the edited book does not validate.
	ErrInvalid = errors.New("rulebook: invalid rule book")
)

// FlagVerdictUnchecked is set when the command cannot re-derive a result
// (a method or raw value it does not know).
const FlagVerdictUnchecked = "verdict_unchecked"

// Keeper holds every version and issues new ones. It is safe for
// concurrent use.
type Keeper struct {
	st      Store
	now     func() time.Time
	builtin assay.Book // version 0: the command's configured rules

	mu       sync.RWMutex
	versions []assay.Book // ascending by version
	listen   []func(assay.Book)
}

// Open loads the stored versions; when there are none it issues version 1
// from rules (the command's configured rules), by "system".
func Open(st Store, rules assay.Rules, now func() time.Time) (*Keeper, error) {
	if now == nil {
		now = time.Now
	}
	k := &Keeper{st: st, now: now, builtin: assay.Book{Rules: rules}}
	vs, err := st.RuleBooks()
	if err != nil {
		return nil, fmt.Errorf("rulebook: load: %w", err)
	}
	slices.SortFunc(vs, func(a, b assay.Book) int { return cmp.Compare(a.Version, b.Version) })
	k.versions = vs
	if len(vs) == 0 {
		if _, err := k.Issue(Edit{Rules: rules, By: "system", Note: "初始规则书（服务配置的规则）/ initial rule book from the service's configured rules"}); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Fixed returns a keeper of one set of rules and no versions: it judges
// every result with rules (version 0) and cannot issue (tests, tools).
func Fixed(rules assay.Rules) *Keeper {
	return &Keeper{st: nil, now: time.Now, builtin: assay.Book{Rules: rules}}
}

// OnIssue registers fn to be called with every version issued from now on
// (after it is stored), from the goroutine that issued it.
func (k *Keeper) OnIssue(fn func(assay.Book)) {
	k.mu.Lock()
	k.listen = append(k.listen, fn)
	k.mu.Unlock()
}

// Current returns the newest version (a copy: changing it changes nothing
// here).
func (k *Keeper) Current() assay.Book { return k.current().Clone() }

func (k *Keeper) current() assay.Book {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.versions) == 0 {
		return k.builtin
	}
	return k.versions[len(k.versions)-1]
}

// Version returns version v (0 is the command's built-in rules), a copy.
func (k *Keeper) Version(v uint64) (assay.Book, bool) {
	b, ok := k.version(v)
	return b.Clone(), ok
}

func (k *Keeper) version(v uint64) (assay.Book, bool) {
	if v == 0 {
		return k.builtin, true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	i, ok := slices.BinarySearchFunc(k.versions, v, func(b assay.Book, v uint64) int {
		switch {
		case b.Version < v:
			return -1
		case b.Version > v:
			return 1
		}
		return 0
	})
	if !ok {
		return assay.Book{}, false
	}
	return k.versions[i], true
}

// InForce returns the version in force at t: the newest issued at or
// before t (the built-in rules, version 0, before the first); a copy.
func (k *Keeper) InForce(t time.Time) assay.Book { return k.inForce(t).Clone() }

func (k *Keeper) inForce(t time.Time) assay.Book {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for i := len(k.versions) - 1; i >= 0; i-- {
		if !k.versions[i].IssuedAt.After(t) {
			return k.versions[i]
		}
	}
	return k.builtin
}

// Summary describes one version for the version list.
type Summary struct {
	Version  uint64    `json:"version"`
	IssuedAt time.Time `json:"issued_at"`
	IssuedBy string    `json:"issued_by,omitempty"`
	Note     string    `json:"note,omitempty"`
	Lots     int       `json:"lots"`
}

// Versions lists every version, newest first.
func (k *Keeper) Versions() []Summary {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]Summary, 0, len(k.versions))
	for i := len(k.versions) - 1; i >= 0; i-- {
		b := k.versions[i]
		out = append(out, Summary{Version: b.Version, IssuedAt: b.IssuedAt, IssuedBy: b.IssuedBy, Note: b.Note, Lots: len(b.Lots)})
	}
	return out
}

// Edit is a change an admin makes: the whole new content of the book.
type Edit struct {
	// Base is the version the admin edited; if it is not the current one
	// Issue fails with ErrStale (0 skips the check).
	Base  uint64
	Rules assay.Rules
	Lots  []assay.Lot
	// By is the admin's user name; Note says why.
	By   string
	Note string
}

// Issue validates the edit and issues it as the next version, durably,
// then tells the listeners. The error matches ErrStale or ErrInvalid (with
// the book's field errors), or is the store's.
func (k *Keeper) Issue(e Edit) (assay.Book, error) {
	if k.st == nil {
		return assay.Book{}, errors.New("rulebook: this keeper has no store and issues nothing")
	}
	k.mu.Lock()
	cur := uint64(0)
	var last time.Time
	if n := len(k.versions); n > 0 {
		cur, last = k.versions[n-1].Version, k.versions[n-1].IssuedAt
	}
	if e.Base != 0 && e.Base != cur {
		k.mu.Unlock()
		return assay.Book{}, fmt.Errorf("%w: you edited version %d, the current one is %d; reload it and edit again", ErrStale, e.Base, cur)
	}
	at := k.now().UTC()
	if at.Before(last) {
		at = last // a clock stepped back must not reorder the versions
	}
	b := assay.Book{Version: cur + 1, IssuedAt: at, IssuedBy: e.By, Note: strings.TrimSpace(e.Note), Rules: e.Rules, Lots: e.Lots}.Clone()
	if err := b.Validate(); err != nil {
		k.mu.Unlock()
		return assay.Book{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := k.st.PutRuleBook(b); err != nil {
		k.mu.Unlock()
		// Another instance of a cluster may have issued this version
		// first: then the edit was made on an outdated one.
		if _, rerr := k.Reload(); rerr == nil && k.current().Version > cur {
			return assay.Book{}, fmt.Errorf("%w: another command instance issued version %d meanwhile; reload it and edit again", ErrStale, k.current().Version)
		}
		return assay.Book{}, fmt.Errorf("rulebook: store version %d: %w", b.Version, err)
	}
	k.versions = append(k.versions, b)
	listen := slices.Clone(k.listen)
	k.mu.Unlock()
	for _, fn := range listen {
		fn(b.Clone())
	}
	return b.Clone(), nil
}

// Reload reads the stored versions again and takes the newer ones it
// does not hold — issued by another command instance on the same
// database (cluster mode) — telling the listeners of each, oldest first,
// as Issue does. It returns the versions it took.
func (k *Keeper) Reload() ([]assay.Book, error) {
	if k.st == nil {
		return nil, nil
	}
	vs, err := k.st.RuleBooks()
	if err != nil {
		return nil, fmt.Errorf("rulebook: reload: %w", err)
	}
	slices.SortFunc(vs, func(a, b assay.Book) int { return cmp.Compare(a.Version, b.Version) })
	k.mu.Lock()
	cur := uint64(0)
	if n := len(k.versions); n > 0 {
		cur = k.versions[n-1].Version
	}
	var fresh []assay.Book
	for _, b := range vs {
		if b.Version > cur {
			fresh = append(fresh, b)
			cur = b.Version
		}
	}
	k.versions = append(k.versions, fresh...)
	listen := slices.Clone(k.listen)
	k.mu.Unlock()
	for _, b := range fresh {
		for _, fn := range listen {
			fn(b.Clone())
		}
	}
	return fresh, nil
}

// Judgement is the command's view of one result.
type Judgement struct {
	// Derived is the command's outcome when its verdict differs from the
	// kiosk's (nil when they agree).
	Derived *assay.Outcome
	// Flags are verdict_mismatch, rules_outdated, rules_unknown,
	// lot_expired and verdict_unchecked, as they apply.
	Flags []string
	// Book is the version the command's verdict was taken with.
	Book uint64
}

// Judge re-derives a result's verdict (see the package doc).
func (k *Keeper) Judge(r *wire.Result) Judgement {
	var j Judgement
	named, known := k.version(r.RulesVersion)
	inForce := k.inForce(r.MeasuredAt)
	trusted := known && r.RulesVersion >= inForce.Version
	if known {
		out, err := named.Decide(r.Method, r.Item, r.Model, r.Lot, r.Raw)
		switch {
		case err != nil:
			j.Flags = append(j.Flags, FlagVerdictUnchecked)
		case out.Verdict != r.Verdict:
			j.Flags = append(j.Flags, wire.FlagVerdictMismatch)
		}
	}
	switch {
	case !known:
		j.Flags = append(j.Flags, wire.FlagRulesUnknown)
	case !trusted:
		j.Flags = append(j.Flags, wire.FlagRulesOutdated)
	}
	by := named
	if !trusted {
		by = inForce
	}
	j.Book = by.Version
	out, err := by.Decide(r.Method, r.Item, r.Model, r.Lot, r.Raw)
	switch {
	case err != nil:
		if !slices.Contains(j.Flags, FlagVerdictUnchecked) {
			j.Flags = append(j.Flags, FlagVerdictUnchecked)
		}
	case out.Verdict != r.Verdict:
		j.Derived = &out
	}
	if r.Lot != "" {
		expires := r.LotExpires
		if l, ok := by.Lot(r.Lot); ok {
			expires = l.Expires
		}
		if expires != "" && assay.LotExpired(expires, r.MeasuredAt) {
			j.Flags = append(j.Flags, wire.FlagLotExpired)
		}
	}
	return j
}
