package assay

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

func testBook() Book {
	b := Book{Version: 3, Rules: DefaultRules()}
	b.Rules.Gold.Models = map[string]GoldTable{"LY-GR20": {Default: GoldThresholds{CThr: 5000, TA: 30000, TB: 50000, CTA: 600000, CTB: 900000}}}
	b.Lots = []Lot{
		{ID: "GC2611A", Analyte: "clenbuterol", Methods: []Method{GoldLine, GoldRatio}, Expires: "2027-03-31",
			Gold:       &GoldThresholds{CThr: 10000, TA: 20000, TB: 30000, CTA: 700000, CTB: 900000},
			GoldModels: map[string]GoldThresholds{"LY-GR20": {CThr: 5000, TA: 40000, TB: 60000, CTA: 500000, CTB: 800000}}},
		{ID: "GC2611B", Analyte: "clenbuterol", Expires: "2027-03-31", Gold: &GoldThresholds{CThr: 10000, TA: 20000, TB: 30000, CTA: 700000, CTB: 900000}},
		{ID: "EZ-7", Methods: []Method{EnzymeInhibition}, Expires: "2026-12-01",
			Enzyme: &EnzymeRule{PositiveAt: 45 * measure.PercentUnit, SuspiciousAt: 35 * measure.PercentUnit, RepeatsOnPositive: 2}},
		{ID: "ATP-SWAB-9", Methods: []Method{ATP}, Expires: "2026-12-01"},
	}
	return b
}

// TestBookFor: a lot's own cut-offs win over the model's and the default
// table; a default-scale lot cut-off never applies to a reader with a scale
// of its own; the ATP model limits come through.
func TestBookFor(t *testing.T) {
	b := testBook()
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	c, tl := in(40), in(18)
	cases := []struct {
		model, lot string
		m          Method
		want       Verdict
	}{
		{"", "", GoldLine, Suspicious},             // default: T 18 between 15 and 25
		{"", "GC2611A", GoldLine, Positive},        // lot: T ≤ 20
		{"LY-GR20", "", GoldLine, Positive},        // model: T ≤ 30
		{"LY-GR20", "GC2611A", GoldLine, Positive}, // lot on the model's scale: T ≤ 40
		{"LY-GR20", "GC2611B", GoldLine, Positive}, // default-scale lot ignored: model table (T ≤ 30)
		{"SHIAN-GC1", "GC2611B", GoldLine, Positive},
		{"", "NOT-IN-BOOK", GoldLine, Suspicious},
	}
	for _, k := range cases {
		out, err := b.Decide(k.m, "clenbuterol", k.model, k.lot, Raw{C: c, T: tl})
		if err != nil || out.Verdict != k.want {
			t.Errorf("model %q lot %q: %v %v, want %v", k.model, k.lot, out.Verdict, err, k.want)
		}
	}
	// T 61 on LY-GR20 with the lot: the lot's t_b (60) says negative.
	out, _ := b.Decide(GoldLine, "", "LY-GR20", "GC2611A", Raw{C: c, T: in(61)})
	if out.Verdict != Negative {
		t.Errorf("lot on model scale: %v", out.Verdict)
	}
	// Enzyme lot: 47 % is positive with the lot's 45 %, suspicious by default.
	mAU := measure.MilliAU
	raw := Raw{ControlDeltaA: Ptr(1000 * mAU), SampleDeltaA: Ptr(530 * mAU)}
	if o, _ := b.Decide(EnzymeInhibition, "", "", "EZ-7", raw); o.Verdict != Positive {
		t.Errorf("enzyme lot: %v", o.Verdict)
	}
	if o, _ := b.Decide(EnzymeInhibition, "", "", "", raw); o.Verdict != Suspicious {
		t.Errorf("enzyme default: %v", o.Verdict)
	}
	// ATP: RLU 10 is caution on a SystemSURE II (pass ≤ 9), pass by default.
	if o, _ := b.Decide(ATP, "", "SystemSURE II", "ATP-SWAB-9", Raw{RLU: Ptr(measure.RLU(10))}); o.Verdict != Caution {
		t.Errorf("SystemSURE II RLU 10: %v", o.Verdict)
	}
	if o, _ := b.Decide(ATP, "", "", "", Raw{RLU: Ptr(measure.RLU(10))}); o.Verdict != Pass {
		t.Errorf("default RLU 10: %v", o.Verdict)
	}
}

func TestCheckLot(t *testing.T) {
	b := testBook()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	last := at("2027-03-31T23:59:59+08:00")
	after := at("2027-03-31T16:00:00Z") // 2027-04-01 00:00 in Beijing
	if err := b.CheckLot("GC2611A", "", GoldLine, "克伦特罗", last); err != nil {
		t.Errorf("last day: %v", err)
	}
	if err := b.CheckLot("GC2611A", "", GoldLine, "clenbuterol", after); !errors.Is(err, ErrLotExpired) || !strings.Contains(err.Error(), "已于 2027-03-31 过期") {
		t.Errorf("day after: %v", err)
	}
	// The book's expiry wins over what the operator typed.
	if err := b.CheckLot("GC2611A", "2099-01-01", GoldLine, "clenbuterol", after); !errors.Is(err, ErrLotExpired) {
		t.Errorf("typed expiry overrode the book: %v", err)
	}
	if err := b.CheckLot("GC2611A", "", GoldLine, "ractopamine", last); !errors.Is(err, ErrLotMismatch) {
		t.Errorf("wrong analyte: %v", err)
	}
	if err := b.CheckLot("GC2611A", "", EnzymeInhibition, "", last); !errors.Is(err, ErrLotMismatch) {
		t.Errorf("wrong method: %v", err)
	}
	// A lot the book does not know: the operator's expiry decides.
	if err := b.CheckLot("X-1", "", GoldLine, "", last); !errors.Is(err, ErrLotExpired) {
		t.Errorf("unknown lot without expiry: %v", err)
	}
	if err := b.CheckLot("X-1", "2027-04-01", GoldLine, "", after); err != nil {
		t.Errorf("unknown lot in date: %v", err)
	}
	if err := b.CheckLot("X-1", "2027-3-1", GoldLine, "", after); !errors.Is(err, ErrLotExpired) {
		t.Errorf("malformed expiry: %v", err)
	}
	if err := b.CheckLot("", "", GoldLine, "", after); err != nil {
		t.Errorf("no lot: %v", err)
	}
}

func TestBookValidate(t *testing.T) {
	b := testBook()
	b.Lots = append(b.Lots, Lot{ID: "GC2611A", Expires: "2027-02-30"}, Lot{ID: "bad lot", Expires: "2027-01-01", Methods: []Method{"magic"}},
		Lot{ID: "G3", Expires: "2027-01-01", Gold: &GoldThresholds{TA: 30, TB: 20, CTB: 1}})
	err := b.Validate()
	for _, want := range []string{"lots[4].id: \"GC2611A\" is also lots[0]", "lots[4].expires", "lots[5].id", "lots[5].methods", "lots[6].gold.t_a"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

func TestInForce(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	vs := []Book{{Version: 2, IssuedAt: t0.Add(time.Hour)}, {Version: 1, IssuedAt: t0}, {Version: 3, IssuedAt: t0.Add(2 * time.Hour)}}
	if b, ok := InForce(vs, t0.Add(90*time.Minute)); !ok || b.Version != 2 {
		t.Errorf("in force: %v %v", b.Version, ok)
	}
	if _, ok := InForce(vs, t0.Add(-time.Second)); ok {
		t.Error("a book in force before the first")
	}
}

func TestBookJSON(t *testing.T) {
	b := testBook()
	j, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var back Book
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	j2, _ := json.Marshal(back)
	if string(j) != string(j2) {
		t.Errorf("round trip:\n%s\n%s", j, j2)
	}
}

func TestBookClone(t *testing.T) {
	b := testBook()
	c := b.Clone()
	c.Rules.ATP.Models["SystemSURE II"] = ATPLimits{PassMax: 1, FailAbove: 2}
	c.Rules.Gold.Models["LY-GR20"] = GoldTable{}
	c.Rules.Gold.Items["clenbuterol"] = GoldThresholds{}
	c.Lots[0].GoldModels["LY-GR20"] = GoldThresholds{}
	c.Lots[0].Gold.TA = 1
	c.Lots[2].Enzyme.PositiveAt = 1
	if b.Rules.ATP.Models["SystemSURE II"].PassMax != 9 || b.Rules.Gold.Models["LY-GR20"].Default.TA != 30000 ||
		b.Rules.Gold.Items["clenbuterol"].TA == 0 || b.Lots[0].GoldModels["LY-GR20"].TA != 40000 || b.Lots[0].Gold.TA != 20000 ||
		b.Lots[2].Enzyme.PositiveAt != 45*measure.PercentUnit {
		t.Error("changing a clone changed the book")
	}
}
