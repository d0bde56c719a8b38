package rulebook

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// memStore is a Store in memory that can fail.
type memStore struct {
	books []assay.Book
	fail  error
}

func (m *memStore) PutRuleBook(b assay.Book) error {
	if m.fail != nil {
		return m.fail
	}
	for _, x := range m.books {
		if x.Version == b.Version {
			return errors.New("exists")
		}
	}
	m.books = append(m.books, b)
	return nil
}

func (m *memStore) RuleBooks() ([]assay.Book, error) { return slices.Clone(m.books), nil }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestIssueAndReopen(t *testing.T) {
	st := &memStore{}
	clk := &clock{time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)}
	k, err := Open(st, assay.DefaultRules(), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if c := k.Current(); c.Version != 1 || c.IssuedBy != "system" {
		t.Fatalf("first start issues version 1 by system: %+v", c)
	}
	var pushed []uint64
	k.OnIssue(func(b assay.Book) { pushed = append(pushed, b.Version) })
	r := assay.DefaultRules()
	r.ATP.Default.PassMax = 5
	clk.t = clk.t.Add(time.Hour)
	b, err := k.Issue(Edit{Base: 1, Rules: r, By: "admin", Note: "stricter ATP"})
	if err != nil || b.Version != 2 || b.IssuedBy != "admin" || !b.IssuedAt.Equal(clk.t) {
		t.Fatalf("issue: %+v %v", b, err)
	}
	if _, err := k.Issue(Edit{Base: 1, Rules: r}); !errors.Is(err, ErrStale) {
		t.Errorf("stale edit: %v", err)
	}
	bad := r
	bad.ATP.Default.FailAbove = 1
	if _, err := k.Issue(Edit{Base: 2, Rules: bad}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid edit: %v", err)
	}
	st.fail = errors.New("disk on fire")
	if _, err := k.Issue(Edit{Base: 2, Rules: r}); err == nil || k.Current().Version != 2 {
		t.Errorf("a version the store refused was issued: %v", err)
	}
	st.fail = nil
	// A clock that steps back does not reorder versions.
	clk.t = clk.t.Add(-3 * time.Hour)
	b3, err := k.Issue(Edit{Base: 2, Rules: r})
	if err != nil || b3.IssuedAt.Before(b.IssuedAt) {
		t.Fatalf("issue after a clock step: %+v %v", b3.IssuedAt, err)
	}
	if !slices.Equal(pushed, []uint64{2, 3}) {
		t.Errorf("pushed %v", pushed)
	}
	k2, err := Open(st, assay.DefaultRules(), clk.now)
	if err != nil || k2.Current().Version != 3 || len(k2.Versions()) != 3 {
		t.Fatalf("reopen: %v %v", k2.Current().Version, err)
	}
	if v, ok := k2.Version(2); !ok || v.Rules.ATP.Default.PassMax != 5 {
		t.Errorf("version 2 after reopen: %+v %v", v.Rules.ATP.Default, ok)
	}
	// Changing what Current returned changes nothing.
	c := k2.Current()
	c.Rules.ATP.Models["EnSURE"] = assay.ATPLimits{}
	if k2.Current().Rules.ATP.Models["EnSURE"].FailAbove != 30 {
		t.Error("Current shares its tables")
	}
}

func TestJudge(t *testing.T) {
	st := &memStore{}
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	clk := &clock{t0}
	k, _ := Open(st, assay.DefaultRules(), clk.now)
	r := assay.DefaultRules()
	r.ATP.Default = assay.ATPLimits{PassMax: 50, FailAbove: 100}
	clk.t = t0.Add(time.Hour)
	k.Issue(Edit{Base: 1, Rules: r, Lots: []assay.Lot{{ID: "SW-1", Expires: "2026-11-28"}}})
	atp := func(rlu measure.RLU, v assay.Verdict, version uint64, at time.Time, lot string) *wire.Result {
		return &wire.Result{Method: assay.ATP, Raw: assay.Raw{RLU: &rlu}, Verdict: v, RulesVersion: version, MeasuredAt: at, Lot: lot}
	}
	cases := []struct {
		name    string
		r       *wire.Result
		flags   []string
		derived assay.Verdict
	}{
		{"on the current book", atp(40, assay.Pass, 2, t0.Add(2*time.Hour), ""), nil, ""},
		{"on version 1 while it was in force", atp(40, assay.Fail, 1, t0.Add(30*time.Minute), ""), nil, ""},
		{"on version 1 after 2 was issued", atp(40, assay.Fail, 1, t0.Add(2*time.Hour), ""), []string{wire.FlagRulesOutdated}, assay.Pass},
		{"built-in rules after a book", atp(40, assay.Fail, 0, t0.Add(2*time.Hour), ""), []string{wire.FlagRulesOutdated}, assay.Pass},
		{"tampered", atp(40, assay.Fail, 2, t0.Add(2*time.Hour), ""), []string{wire.FlagVerdictMismatch}, assay.Pass},
		{"a version never issued", atp(40, assay.Pass, 9, t0.Add(2*time.Hour), ""), []string{wire.FlagRulesUnknown}, ""},
		{"a kiosk clock behind: newer than in force", atp(40, assay.Pass, 2, t0.Add(30*time.Minute), ""), nil, ""},
		{"lot in date", atp(40, assay.Pass, 2, time.Date(2026, 11, 28, 15, 59, 0, 0, time.UTC), "SW-1"), nil, ""},
		{"lot expired (Beijing midnight)", atp(40, assay.Pass, 2, time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC), "SW-1"), []string{wire.FlagLotExpired}, ""},
		{"undecidable", &wire.Result{Method: assay.ATP, Verdict: assay.Invalid, RulesVersion: 2, MeasuredAt: t0.Add(2 * time.Hour)}, []string{FlagVerdictUnchecked}, ""},
	}
	for _, c := range cases {
		j := k.Judge(c.r)
		if !slices.Equal(j.Flags, c.flags) {
			t.Errorf("%s: flags %v, want %v", c.name, j.Flags, c.flags)
		}
		got := assay.Verdict("")
		if j.Derived != nil {
			got = j.Derived.Verdict
		}
		if got != c.derived {
			t.Errorf("%s: derived %q, want %q", c.name, got, c.derived)
		}
	}
}
