package assay

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Book is the rule book: the decision rules in force, numbered, with the
// reagent and card lots (试剂/检测卡批号) that have cut-offs of their own.
//
// The command service owns the book. An admin edits it; every edit is a
// new Version, and the command keeps every version it ever issued. Kiosks
// receive the current book when they connect (and whenever it changes),
// keep it durably and decide with it, online or not. Every result names
// the version it was decided with and the kit lot it used, so that the
// command re-derives each verdict with exactly the rules the kiosk had
// (and flags a result decided by a book that was already replaced).
//
// Version 0 is not a book the command issued: it is a kiosk's built-in
// rules (the defaults, or kiosk.yaml's rules section) before it ever
// received one.
type Book struct {
	// Version numbers the book, from 1; 0 is "no book from the command".
	Version uint64 `json:"version"`
	// IssuedAt is when the command issued this version; IssuedBy the
	// admin who edited it and Note what they said about the change.
	IssuedAt time.Time `json:"issued_at"`
	IssuedBy string    `json:"issued_by,omitempty"`
	Note     string    `json:"note,omitempty"`
	// Rules are the rules per method, and per instrument model where a
	// model has its own scale (Rules.ATP.Models, Rules.Gold.Models).
	Rules Rules `json:"rules"`
	// Lots are the kit lots known to the book, each with its expiry and,
	// where the maker gives them, its own cut-offs.
	Lots []Lot `json:"lots,omitempty"`
}

// DefaultBook is version 0 with the default rules.
func DefaultBook() Book { return Book{Rules: DefaultRules()} }

// Lot is one reagent or test-card lot: what the maker printed on the box.
//
// Cut-offs given by the maker for this lot replace the book's for every
// result that names the lot:
//
//   - GoldModels[model]: the lot's gold-strip thresholds on that reader's
//     scale;
//   - Gold: the lot's thresholds on the default (reference) scale, used for
//     readers that have no table of their own in Rules.Gold.Models (a
//     cut-off on one reader's scale means nothing on another's);
//   - Enzyme: the lot's enzyme-inhibition rule.
//
// A lot without cut-offs is still worth listing: results carry it (a
// recalled lot's results are found in one query), and its expiry is
// checked before every test.
type Lot struct {
	// ID is the lot number as printed (批号), e.g. "GC2611A".
	ID string `json:"id" yaml:"id"`
	// Name is what the kit is, for people, e.g. "克伦特罗胶体金检测卡".
	Name  string `json:"name,omitempty" yaml:"name,omitempty"`
	Maker string `json:"maker,omitempty" yaml:"maker,omitempty"`
	// Methods the kit is used with; empty means any.
	Methods []Method `json:"methods,omitempty" yaml:"methods,omitempty"`
	// Analyte is what the kit tests (the key of the gold table, e.g.
	// "clenbuterol"); empty means any.
	Analyte string `json:"analyte,omitempty" yaml:"analyte,omitempty"`
	// Expires is the last day the lot may be used, YYYY-MM-DD, in China
	// Standard Time (the kit box's 有效期至).
	Expires string `json:"expires" yaml:"expires"`

	Gold       *GoldThresholds           `json:"gold,omitempty" yaml:"gold,omitempty"`
	GoldModels map[string]GoldThresholds `json:"gold_models,omitempty" yaml:"gold_models,omitempty"`
	Enzyme     *EnzymeRule               `json:"enzyme,omitempty" yaml:"enzyme,omitempty"`
}

// ChinaStandardTime is UTC+8, the zone in which a lot's expiry date is a
// day (China keeps one zone and no daylight saving).
var ChinaStandardTime = time.FixedZone("CST", 8*60*60)

// MaxLots bounds the lots of one book (a book travels to every kiosk in
// one message).
const MaxLots = 500

// ErrLotExpired is matched by the error CheckLot returns for a lot used
// after its expiry date.
var ErrLotExpired = errors.New("assay: kit lot expired")

// ErrLotMismatch is matched by the error CheckLot returns for a lot used
// for a method or analyte it is not for.
var ErrLotMismatch = errors.New("assay: kit lot is not for this test")

// Expired reports whether the lot may no longer be used at t: t's date in
// China Standard Time is after Expires. A lot without a valid date is
// expired (it cannot be checked).
func (l Lot) Expired(t time.Time) bool { return LotExpired(l.Expires, t) }

// LotExpired reports whether a lot expiring on the date expires
// (YYYY-MM-DD) is expired at t.
func LotExpired(expires string, t time.Time) bool {
	if _, err := ParseExpiry(expires); err != nil {
		return true
	}
	return t.In(ChinaStandardTime).Format(time.DateOnly) > expires
}

// ParseExpiry checks an expiry date written YYYY-MM-DD.
func ParseExpiry(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, ChinaStandardTime)
	if err != nil || len(s) != len(time.DateOnly) {
		return time.Time{}, fmt.Errorf("expiry %q: write the date as YYYY-MM-DD, e.g. 2027-03-31", clipText(s))
	}
	return t, nil
}

// For reports whether the lot may be used for a test of method m on
// analyte a (an empty m or analyte is not checked).
func (l Lot) For(m Method, analyte string) bool {
	if len(l.Methods) > 0 && m != "" {
		ok := false
		for _, x := range l.Methods {
			ok = ok || x == m
		}
		if !ok {
			return false
		}
	}
	if l.Analyte == "" || analyte == "" {
		return true
	}
	a := strings.ToLower(strings.TrimSpace(analyte))
	if k, ok := GoldAnalytes[a]; ok {
		a = k
	}
	return a == l.Analyte
}

// Lot returns the book's lot with the given id.
func (b Book) Lot(id string) (Lot, bool) {
	for _, l := range b.Lots {
		if l.ID == id {
			return l, true
		}
	}
	return Lot{}, false
}

// CheckLot says whether a test of method m on analyte may use lot id
// (with the expiry the operator read off the box, when the book does not
// know the lot) at t. It returns an error matching ErrLotExpired or
// ErrLotMismatch, worded for the operator in zh-CN and en; nil when the lot
// may be used. An empty id is no lot, and always allowed.
func (b Book) CheckLot(id, expires string, m Method, analyte string, t time.Time) error {
	if id == "" {
		return nil
	}
	l, known := b.Lot(id)
	if known {
		expires = l.Expires
		if !l.For(m, analyte) {
			what := l.Name
			if what == "" {
				what = l.Analyte
			}
			return fmt.Errorf("%w: 批号 %s 是%s，不能用于本项检测 / lot %s is %s, not for this test (%s %s)",
				ErrLotMismatch, id, what, id, what, m, analyte)
		}
	}
	if expires == "" {
		return fmt.Errorf("%w: 批号 %s 未填有效期，请按包装盒填写 / lot %s has no expiry date: enter the date printed on the box",
			ErrLotExpired, id, id)
	}
	if LotExpired(expires, t) {
		return fmt.Errorf("%w: 批号 %s 已于 %s 过期，请换用有效批次 / lot %s expired on %s: use a lot that is in date",
			ErrLotExpired, id, expires, id, expires)
	}
	return nil
}

// For returns the rules that decide a result from an instrument of the
// given model with the given lot: the model's tables (Rules.ForModel),
// then the lot's own cut-offs (see Lot).
func (b Book) For(model, lot string) Rules {
	r := b.Rules.ForModel(model)
	l, ok := b.Lot(lot)
	if lot == "" || !ok {
		return r
	}
	_, ownScale := b.Rules.Gold.Models[model]
	if th, ok := l.GoldModels[model]; ok {
		r.Gold.GoldTable = GoldTable{Default: th}
	} else if l.Gold != nil && !ownScale {
		r.Gold.GoldTable = GoldTable{Default: *l.Gold}
	}
	if l.Enzyme != nil {
		r.Enzyme = *l.Enzyme
	}
	return r
}

// Decide decides a result as a kiosk does: with the rules for the
// instrument's model and the kit lot (For), then Rules.Decide.
func (b Book) Decide(m Method, item, model, lot string, raw Raw) (Outcome, error) {
	return b.For(model, lot).Decide(m, item, raw)
}

// Validate checks the rules and the lots; the error joins one
// *FieldError per problem ("lots[2].expires: …").
func (b Book) Validate() error {
	var p problems
	if err := b.Rules.Validate(); err != nil {
		p = append(p, err)
	}
	if len(b.Lots) > MaxLots {
		p.add("lots", "%d lots; a book holds at most %d (drop expired ones)", len(b.Lots), MaxLots)
	}
	if len(b.Note) > 1024 || len(b.IssuedBy) > 64 {
		p.add("note", "note at most 1024 bytes, issued_by at most 64")
	}
	seen := map[string]int{}
	for i, l := range b.Lots {
		at := fmt.Sprintf("lots[%d]", i)
		if err := checkLotID(l.ID); err != nil {
			p.add(at+".id", "%v", err)
		} else if j, dup := seen[l.ID]; dup {
			p.add(at+".id", "%q is also lots[%d]", l.ID, j)
		}
		seen[l.ID] = i
		if _, err := ParseExpiry(l.Expires); err != nil {
			p.add(at+".expires", "%v", err)
		}
		if len(l.Name) > 128 || len(l.Maker) > 128 || len(l.Analyte) > 64 {
			p.add(at, "name and maker at most 128 bytes, analyte at most 64")
		}
		for _, m := range l.Methods {
			if !knownMethod(m) {
				p.add(at+".methods", "%q is not a method (known: %v)", m, Methods())
			}
		}
		if l.Gold != nil {
			l.Gold.validate(&p, at+".gold")
		}
		for _, k := range sortedKeys(l.GoldModels) {
			l.GoldModels[k].validate(&p, at+".gold_models."+k)
		}
		if l.Enzyme != nil {
			l.Enzyme.validate(&p, at+".enzyme")
		}
	}
	return errors.Join(p...)
}

func knownMethod(m Method) bool {
	for _, x := range Methods() {
		if x == m {
			return true
		}
	}
	return false
}

// checkLotID accepts what lot numbers are made of: 1…32 letters, digits
// and - _ . /.
func checkLotID(s string) error {
	if s == "" || len(s) > 32 {
		return fmt.Errorf("lot number %q: 1…32 characters", clipText(s))
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./", c)) {
			return fmt.Errorf("lot number %q: only letters, digits and - _ . /", clipText(s))
		}
	}
	return nil
}

// CheckLotID reports whether s can be a lot number (as the operator scans
// or types it).
func CheckLotID(s string) error { return checkLotID(s) }

// InForce returns, from versions (any order), the one in force at t: the
// highest version issued at or before t. ok is false when none was.
func InForce(versions []Book, t time.Time) (Book, bool) {
	var best Book
	ok := false
	for _, b := range versions {
		if b.IssuedAt.After(t) {
			continue
		}
		if !ok || b.Version > best.Version {
			best, ok = b, true
		}
	}
	return best, ok
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Clone returns a deep copy of b: changing the copy's tables or lots
// (decoding an edit onto it, say) leaves b as it was.
func (b Book) Clone() Book {
	c := b
	c.Rules = b.Rules.Clone()
	c.Lots = make([]Lot, len(b.Lots))
	for i, l := range b.Lots {
		l.Methods = slices.Clone(l.Methods)
		if l.Gold != nil {
			g := *l.Gold
			l.Gold = &g
		}
		if l.Enzyme != nil {
			e := *l.Enzyme
			l.Enzyme = &e
		}
		l.GoldModels = maps.Clone(l.GoldModels)
		c.Lots[i] = l
	}
	if b.Lots == nil {
		c.Lots = nil
	}
	return c
}

// Clone returns a deep copy of r (its per-item and per-model tables are
// maps).
func (r Rules) Clone() Rules {
	c := r
	c.ATP.Models = maps.Clone(r.ATP.Models)
	c.Gold.Items = maps.Clone(r.Gold.Items)
	if r.Gold.Models != nil {
		c.Gold.Models = make(map[string]GoldTable, len(r.Gold.Models))
		for k, t := range r.Gold.Models {
			t.Items = maps.Clone(t.Items)
			c.Gold.Models[k] = t
		}
	}
	return c
}
