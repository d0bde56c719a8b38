// Package historytest is the conformance suite every implementation of
// history.History passes: SQLite and PostgreSQL run the same tests
// (command/history's sqlite_test.go and postgres_test.go).
//
//	historytest.Run(t, func(t *testing.T) historytest.Backend { … a fresh, empty database … })
package historytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// Backend is one fresh, empty database.
type Backend struct {
	// Open opens the history on it (again, after a Close: a restart).
	Open func(opts history.Options) (history.History, error)
	// Exec runs SQL on the database behind the history's back, with ?
	// placeholders (to damage rows, to fake a newer schema).
	Exec func(q string, args ...any) error
	// FlipKiosk damages the stored JSON of the row with rx_seq rx the way
	// one flipped byte did in the field: "kiosk_id" becomes "fiosk_id".
	FlipKiosk func(rx uint64) error
}

var quiet = slog.New(slog.DiscardHandler)

// Run runs the suite; newBackend makes a fresh database per test.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"CommitDedupeConflictRegression", testCommit},
		{"GroupDuplicatesAndConflicts", testGroup},
		{"RestartKeepsWorkingSet", testRestart},
		{"FailedCommitStopsAcks", testFailedCommit},
		{"FiltersAndKeysetPaging", testFilters},
		{"EachStreams", testEach},
		{"Tally", testTally},
		{"DamagedRowNeverServed", testDamage},
		{"Import", testImport},
		{"NewerSchemaRefused", testNewerSchema},
		{"TiersAndImportedResults", testTiers},
		{"UpgradeFromSchema1", testUpgrade1},
		{"ConcurrentReadsDuringCommits", testConcurrent},
		{"PreparedIsCommit", testPrepared},
		{"ReadersDoNotWaitForACommit", testReadersDuringCommit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

func open(t *testing.T, b Backend, opts history.Options) history.History {
	t.Helper()
	if opts.Log == nil {
		opts.Log = quiet
	}
	h, err := b.Open(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return h
}

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

var idN struct {
	sync.Mutex
	n int
}

// newID returns a fresh result id (a valid UUIDv7 shape, unique per run).
func newID() string {
	idN.Lock()
	defer idN.Unlock()
	idN.n++
	return fmt.Sprintf("0193a1b2-7c4d-7e5f-8a6b-%012d", idN.n)
}

// Imported makes r an imported result of source (a market's or a lab's
// system) with its row id: no kiosk, no seq; its tier is the market's
// self-test unless r names one.
func Imported(source, row string, r wire.Result) wire.Result {
	r.KioskID, r.Seq, r.BootEpoch, r.DeviceID = "", 0, 0, ""
	r.Source, r.SourceRow = source, row
	if r.Tier == "" {
		r.Tier = assay.TierMarketSelfTest
	}
	return r
}

// Result makes a valid result.
func Result(kiosk string, seq uint64, stall string, v assay.Verdict, at time.Time) wire.Result {
	return wire.Result{ResultID: newID(), KioskID: kiosk, Seq: seq, StallID: stall, DeviceID: "enzyme-1", Model: "DY-3000E",
		Method: assay.EnzymeInhibition, Item: "农药残留", Analyte: "organophosphate_carbamate", Verdict: v, MeasuredAt: at,
		Value: 1, Unit: "%", Sample: wire.Sample{Name: "菠菜", Category: "蔬菜"},
		Raw: assay.Raw{ControlDeltaA: assay.Ptr(300 * measure.MilliAU), SampleDeltaA: assay.Ptr(100 * measure.MilliAU)}}
}

func commit(t *testing.T, h history.History, rs ...wire.Result) []history.Committed {
	t.Helper()
	out, err := h.Commit(rs)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if len(out) != len(rs) {
		t.Fatalf("commit of %d returned %d outcomes", len(rs), len(out))
	}
	return out
}

func testCommit(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	a := Result("K-1", 1, "S-1", assay.Negative, t0)
	bb := Result("K-1", 2, "S-1", assay.Positive, t0.Add(time.Minute))
	c := Result("K-1", 4, "S-2", assay.Negative, t0)
	out := commit(t, h, a, bb, c, a)
	if out[0].Outcome != history.Stored || out[1].Outcome != history.Stored || out[2].Outcome != history.Stored || out[3].Outcome != history.Duplicate {
		t.Fatalf("outcomes %v %v %v %v", out[0].Outcome, out[1].Outcome, out[2].Outcome, out[3].Outcome)
	}
	if out[0].Result.RxSeq != 1 || out[2].Result.RxSeq != 3 || out[0].Result.ReceivedAt == nil || out[3].Result.RxSeq != 1 {
		t.Fatalf("rx seqs %d %d %d", out[0].Result.RxSeq, out[2].Result.RxSeq, out[3].Result.RxSeq)
	}
	if !out[0].StallChanged || !out[1].StallChanged || !out[2].StallChanged {
		t.Fatal("new latest results not marked StallChanged")
	}
	if hw, max := h.HighWater("K-1"); hw != 2 || max != 4 {
		t.Fatalf("high water %d %d", hw, max)
	}
	// Identical resend in a later group: the stored copy comes back.
	out = commit(t, h, bb)
	if out[0].Outcome != history.Duplicate || out[0].Result.RxSeq != 2 || out[0].Result.ReceivedAt == nil {
		t.Fatalf("resend: %+v", out[0])
	}
	// Same id, other content.
	b2 := bb
	b2.Value = 99
	out = commit(t, h, b2)
	if out[0].Outcome != history.Conflict || out[0].Result.Value != 99 {
		t.Fatalf("conflict: %+v", out[0])
	}
	// A new result reusing seq 2 (kiosk restored from a backup): stored, flagged.
	d := Result("K-1", 2, "S-3", assay.Negative, t0)
	out = commit(t, h, d)
	if out[0].Outcome != history.Stored || !out[0].SeqRegression || len(out[0].Result.Flags) == 0 || out[0].Result.Flags[0] != wire.FlagSeqRegression {
		t.Fatalf("regression: %+v", out[0])
	}
	if got, err := h.Result(d.ResultID); err != nil || len(got.Flags) != 1 {
		t.Fatalf("regression stored: %+v %v", got, err)
	}
	if st, ok := h.StallState("S-1"); !ok || st.Verdict != assay.Positive {
		t.Fatalf("latest S-1: %+v", st)
	}
	// An older result arriving later does not replace the stall's latest.
	old := Result("K-2", 1, "S-1", assay.Negative, t0.Add(-time.Hour))
	if out = commit(t, h, old); out[0].StallChanged {
		t.Fatal("older backlog result replaced the latest")
	}
	if st, _ := h.StallState("S-1"); st.Verdict != assay.Positive {
		t.Fatalf("latest S-1 after backlog: %+v", st)
	}
	if h.Count() != 5 {
		t.Fatalf("count %d", h.Count())
	}
	if _, err := h.Result(newID()); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("absent result: %v", err)
	}
	h.Close()

	h = open(t, b, history.Options{})
	defer h.Close()
	if hw, max := h.HighWater("K-1"); hw != 2 || max != 4 {
		t.Fatalf("high water after reopen %d %d", hw, max)
	}
	if st, _ := h.StallState("S-1"); st.Verdict != assay.Positive || st.ResultID != bb.ResultID {
		t.Fatalf("latest S-1 after reopen: %+v", st)
	}
	rs, err := h.Results(history.Filter{Limit: 2})
	if err != nil || len(rs) != 2 || rs[0].RxSeq != 5 || rs[1].RxSeq != 4 {
		t.Fatalf("newest first: %v %v", rs, err)
	}
	if h.Count() != 5 {
		t.Fatalf("count after reopen %d", h.Count())
	}
	e := Result("K-1", 5, "S-1", assay.Negative, t0.Add(2*time.Minute))
	if out = commit(t, h, e); out[0].Result.RxSeq != 6 {
		t.Fatalf("rx seq after reopen %d", out[0].Result.RxSeq)
	}
	// Still a duplicate after the restart.
	if out = commit(t, h, a); out[0].Outcome != history.Duplicate || out[0].Result.RxSeq != 1 {
		t.Fatalf("resend after reopen: %+v", out[0])
	}
}

// testGroup: several kiosks in one group, a result twice in the group
// with other content the second time, and a new result whose id a group
// member already stored.
func testGroup(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	defer h.Close()
	a := Result("K-1", 1, "S-1", assay.Negative, t0)
	a2 := a
	a2.Value = 7
	c := Result("K-2", 1, "S-2", assay.Negative, t0)
	out := commit(t, h, a, c, a2, c)
	want := []history.Outcome{history.Stored, history.Stored, history.Conflict, history.Duplicate}
	for i, o := range out {
		if o.Outcome != want[i] {
			t.Fatalf("result %d: %v, want %v", i, o.Outcome, want[i])
		}
	}
	if out[3].Result.RxSeq != 2 || h.Count() != 2 {
		t.Fatalf("group dedupe: rx %d count %d", out[3].Result.RxSeq, h.Count())
	}
	for _, k := range []string{"K-1", "K-2"} {
		if hw, _ := h.HighWater(k); hw != 1 {
			t.Fatalf("%s high water %d", k, hw)
		}
	}
	if out := commit(t, h); len(out) != 0 {
		t.Fatal("empty group")
	}
}

// testRestart is docs/reliability.md test 23 for the history: ingest order,
// per-kiosk marks (with a gap) and the latest verdict per stall are the
// same after a reopen, loaded from their tables.
func testRestart(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	var batch []wire.Result
	for i := uint64(1); i <= 30; i++ {
		if i != 17 {
			batch = append(batch, Result("K-1", i, fmt.Sprintf("S-%03d", i%7), assay.Negative, t0.Add(time.Duration(i)*time.Second)),
				Result("K-2", 31-i, fmt.Sprintf("S-%03d", i%5), assay.Positive, t0.Add(time.Duration(i)*time.Second)))
		}
	}
	commit(t, h, batch...)
	hw1, hi1 := h.HighWater("K-1")
	hw2k, hi2k := h.HighWater("K-2")
	stalls := fmt.Sprint(h.StallStates())
	rs, _ := h.Results(history.Filter{Limit: 1000})
	h.Close()
	h = open(t, b, history.Options{})
	defer h.Close()
	hw2, hi2 := h.HighWater("K-1")
	rs2, _ := h.Results(history.Filter{Limit: 1000})
	if hw1 != 16 || hi1 != 30 || hw1 != hw2 || hi1 != hi2 || len(rs) != 58 || len(rs) != len(rs2) {
		t.Fatalf("before hw %d/%d, after %d/%d; %d/%d results", hw1, hi1, hw2, hi2, len(rs), len(rs2))
	}
	if a, b := h.HighWater("K-2"); a != hw2k || b != hi2k || a != 13 {
		t.Fatalf("K-2 marks %d/%d, before %d/%d", a, b, hw2k, hi2k)
	}
	if got := fmt.Sprint(h.StallStates()); got != stalls {
		t.Fatalf("stall states differ after reopen:\n%s\n%s", stalls, got)
	}
	for i := range rs {
		if rs[i].ResultID != rs2[i].ResultID || rs[i].RxSeq != rs2[i].RxSeq {
			t.Fatalf("ingest order differs at %d", i)
		}
	}
	// Filling the gap moves the mark over everything above it.
	commit(t, h, Result("K-1", 17, "S-1", assay.Negative, t0))
	if hw, hi := h.HighWater("K-1"); hw != 30 || hi != 30 {
		t.Fatalf("after filling the gap %d/%d", hw, hi)
	}
	if rep, err := h.Verify(); err != nil || !rep.OK() || rep.Rows != 59 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// testFailedCommit: after a failed COMMIT the history refuses every later
// Commit (so the ingest acks nothing, and a resend is not acked as a
// duplicate of what may not be on disk) until it is reopened.
func testFailedCommit(t *testing.T, b Backend) {
	fail := false
	h := open(t, b, history.Options{Fault: func(op string) error {
		if fail {
			return errors.New("input/output error")
		}
		return nil
	}})
	commit(t, h, Result("K-1", 1, "S-1", assay.Negative, t0))
	r2 := Result("K-1", 2, "S-1", assay.Negative, t0)
	fail = true
	if _, err := h.Commit([]wire.Result{r2}); !errors.Is(err, history.ErrStorageFailed) {
		t.Fatalf("commit with a failing COMMIT: %v", err)
	}
	fail = false
	if _, err := h.Commit([]wire.Result{r2}); !errors.Is(err, history.ErrStorageFailed) {
		t.Fatalf("the resend was accepted after the failure: %v", err)
	}
	if hw, _ := h.HighWater("K-1"); hw != 1 || h.Count() != 1 {
		t.Fatalf("the failed group counts: hw %d count %d", hw, h.Count())
	}
	h.Close()
	h = open(t, b, history.Options{})
	defer h.Close()
	out := commit(t, h, r2)
	if out[0].Outcome != history.Stored || out[0].Result.RxSeq != 2 {
		t.Fatalf("after reopening: %+v", out[0])
	}
}

// corpus commits a varied set and returns it as stored.
func corpus(t *testing.T, h history.History, n int) []wire.Result {
	t.Helper()
	verdicts := []assay.Verdict{assay.Negative, assay.Negative, assay.Negative, assay.Positive, assay.Suspicious, assay.Invalid}
	analytes := []string{"organophosphate_carbamate", "clenbuterol", "aflatoxin_b1"}
	var all []wire.Result
	seq := map[string]uint64{}
	var group []wire.Result
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("K-%d", i%4)
		seq[k]++
		r := Result(k, seq[k], fmt.Sprintf("S-%02d", i%9), verdicts[i%len(verdicts)], t0.Add(time.Duration(i*37)*time.Minute))
		switch {
		case i%7 == 3: // a market's self-test, imported: no kiosk, no seq
			seq[k]--
			r = Imported("market:M-1", fmt.Sprintf("row-%d", i), r)
		case i%5 == 1: // a kiosk at a wholesale market
			r.Tier = assay.TierWholesale
		}
		r.Analyte = analytes[i%len(analytes)]
		r.Lot = fmt.Sprintf("LOT-%d", i%5)
		if i%3 != 0 {
			r.EventID = fmt.Sprintf("EV-%d", i%2)
		}
		group = append(group, r)
		if len(group) == 16 || i == n-1 {
			for _, c := range commit(t, h, group...) {
				all = append(all, c.Result)
			}
			group = nil
		}
	}
	return all
}

func ids(rs []wire.Result) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.ResultID[len(r.ResultID)-4:])
		b.WriteByte(' ')
	}
	return b.String()
}

func testFilters(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	defer h.Close()
	all := corpus(t, h, 240)
	filters := []history.Filter{
		{}, {StallID: "S-03"}, {KioskID: "K-2"}, {Verdict: "positive"}, {Analyte: "clenbuterol"}, {EventID: "EV-1"},
		{Verdicts: []string{"positive", "suspicious"}}, {Events: []string{"EV-0"}},
		{Since: t0.Add(40 * time.Hour), Until: t0.Add(90 * time.Hour)},
		{KioskID: "K-1", Verdict: "negative", Since: t0.Add(10 * time.Hour)},
		{StallID: "S-04", EventID: "EV-0", Analyte: "aflatoxin_b1"}, {Lot: "LOT-3"},
		{ReceivedSince: *all[0].ReceivedAt}, {AfterRx: 100, BeforeRx: 140},
		{Tier: assay.TierRegulator}, {Tier: assay.TierMarketSelfTest, Verdict: "positive"}, {Tier: assay.TierWholesale, EventID: "EV-1"},
		{Source: "market:M-1"}, {Source: wire.SourceKiosk, KioskID: "K-3"},
	}
	for _, f := range filters {
		var want []wire.Result
		for i := len(all) - 1; i >= 0; i-- {
			if match(&f, &all[i]) {
				want = append(want, all[i])
			}
		}
		// Keyset pages of 7, newest first.
		var got []wire.Result
		p := f
		p.Limit = 7
		for {
			page, err := h.Results(p)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			got = append(got, page...)
			if len(page) < 7 {
				break
			}
			p.BeforeRx = page[len(page)-1].RxSeq
		}
		if ids(got) != ids(want) {
			t.Fatalf("filter %+v: got %d results, want %d\n got %s\nwant %s", f, len(got), len(want), ids(got), ids(want))
		}
		for i := range got {
			if got[i].Fingerprint() != want[i].Fingerprint() || got[i].RxSeq != want[i].RxSeq {
				t.Fatalf("filter %+v: result %d differs", f, i)
			}
		}
	}
	if rs, _ := h.Results(history.Filter{}); len(rs) != 100 {
		t.Fatalf("default limit: %d", len(rs))
	}
}

func match(f *history.Filter, r *wire.Result) bool {
	v := string(r.EffectiveVerdict())
	switch {
	case f.StallID != "" && r.StallID != f.StallID,
		f.KioskID != "" && r.KioskID != f.KioskID,
		f.Verdict != "" && v != f.Verdict,
		len(f.Verdicts) > 0 && !contains(f.Verdicts, v),
		len(f.Events) > 0 && !contains(f.Events, r.EventID),
		f.Analyte != "" && r.Analyte != f.Analyte,
		f.EventID != "" && r.EventID != f.EventID,
		f.Lot != "" && r.Lot != f.Lot,
		f.Tier != "" && r.EffectiveTier() != f.Tier,
		f.Source != "" && r.EffectiveSource() != f.Source,
		!f.Since.IsZero() && r.MeasuredAt.Before(f.Since),
		!f.Until.IsZero() && !r.MeasuredAt.Before(f.Until),
		!f.ReceivedSince.IsZero() && r.ReceivedAt.Before(f.ReceivedSince),
		f.BeforeRx > 0 && r.RxSeq >= f.BeforeRx,
		f.AfterRx > 0 && r.RxSeq <= f.AfterRx:
		return false
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func testEach(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	defer h.Close()
	all := corpus(t, h, 1100) // more than two of Each's pages
	var asc []wire.Result
	if err := h.Each(history.Filter{}, false, func(r *wire.Result) bool { asc = append(asc, *r); return true }); err != nil {
		t.Fatal(err)
	}
	if ids(asc) != ids(all) {
		t.Fatalf("Each ascending: %d of %d, or out of order", len(asc), len(all))
	}
	var desc []uint64
	h.Each(history.Filter{KioskID: "K-3"}, true, func(r *wire.Result) bool {
		desc = append(desc, r.RxSeq)
		return len(desc) < 600
	})
	k3 := 0
	for i := range all {
		if all[i].KioskID == "K-3" {
			k3++
		}
	}
	if len(desc) != k3 || k3 < 200 || !sort.SliceIsSorted(desc, func(i, j int) bool { return desc[i] > desc[j] }) {
		t.Fatalf("Each descending for K-3: %d results", len(desc))
	}
	n := 0
	h.Each(history.Filter{}, false, func(*wire.Result) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("Each did not stop: %d", n)
	}
}

func testTally(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	all := corpus(t, h, 300)
	// Groups with more tally keys than one multi-row upsert carries (a
	// stall each), the second adding to the rows the first made.
	for g := 0; g < 2; g++ {
		var group []wire.Result
		for i := 0; i < 75; i++ {
			r := Result("K-9", uint64(g*75+i+1), fmt.Sprintf("S-W%02d", i), assay.Negative, t0.Add(time.Duration(i)*time.Minute))
			r.EventID = "EV-1"
			group = append(group, r)
		}
		for _, c := range commit(t, h, group...) {
			all = append(all, c.Result)
		}
	}
	// Repeats of the same sample (复测): tallied apart, so that
	// SkipRepeats counts each sample once.
	var repeats []wire.Result
	for i := 0; i < 40; i++ {
		first := all[len(all)-150+i]
		v := assay.Positive
		if i%3 == 0 {
			v = assay.Negative
		}
		r := Result("K-9", uint64(200+i), first.StallID, v, first.MeasuredAt.Add(4*time.Minute))
		r.EventID, r.RepeatOf = first.EventID, first.ResultID
		repeats = append(repeats, r)
	}
	for _, c := range commit(t, h, repeats...) {
		all = append(all, c.Result)
	}
	check := func(h history.History, off time.Duration) {
		t.Helper()
		zone := time.FixedZone("", int(off/time.Second))
		for _, q := range []history.TallyQuery{{By: history.ByTotal}, {By: history.ByEvent}, {By: history.ByDay}, {By: history.ByStall},
			{By: history.ByAnalyte}, {By: history.ByDay, EventID: "EV-1"}, {By: history.ByStall, Events: []string{"EV-0", "EV-1"}},
			{By: history.ByTier}, {By: history.ByDay, Tier: assay.TierMarketSelfTest}, {By: history.ByTier, EventID: "EV-0"},
			{By: history.ByTotal, SkipRepeats: true}, {By: history.ByStall, SkipRepeats: true}, {By: history.ByDay, EventID: "EV-1", SkipRepeats: true}} {
			want := map[string]int{}
			for _, r := range all {
				if q.EventID != "" && r.EventID != q.EventID || len(q.Events) > 0 && !contains(q.Events, r.EventID) ||
					q.Tier != "" && r.EffectiveTier() != q.Tier || q.SkipRepeats && r.RepeatOf != "" {
					continue
				}
				key := map[history.Dim]string{history.ByTotal: "", history.ByEvent: r.EventID, history.ByDay: r.MeasuredAt.In(zone).Format("2006-01-02"),
					history.ByStall: r.StallID, history.ByAnalyte: r.Analyte, history.ByTier: string(r.EffectiveTier())}[q.By]
				want[key+"|"+string(r.EffectiveVerdict())]++
			}
			ts, err := h.Tally(q)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, x := range ts {
				got[x.Key+"|"+x.Verdict] += x.N
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("tally %+v (offset %v):\n got %v\nwant %v", q, off, got, want)
			}
		}
	}
	check(h, 8*time.Hour)
	h.Close()
	// Opening with other days recounts the tally.
	utc := time.Duration(0)
	h = open(t, b, history.Options{DayOffset: &utc})
	check(h, 0)
	h.Close()
	h = open(t, b, history.Options{})
	defer h.Close()
	check(h, 8*time.Hour)
	if _, err := h.Tally(history.TallyQuery{By: "zone"}); err == nil {
		t.Fatal("tally by an unknown dimension")
	}
	if rep, err := h.Verify(); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// testDamage is the field's byte flip: "kiosk_id" became "fiosk_id" in a
// stored result. The row is never served as if whole: Result says it is
// damaged, queries skip it, OnDamage hears of it once, Verify lists it;
// the kiosk's resend of the same result repairs it.
func testDamage(t *testing.T, b Backend) {
	var mu sync.Mutex
	var told []history.Damage
	opts := history.Options{OnDamage: func(d history.Damage) { mu.Lock(); told = append(told, d); mu.Unlock() }}
	h := open(t, b, opts)
	var rs []wire.Result
	for i := uint64(1); i <= 5; i++ {
		rs = append(rs, Result("K-1", i, "S-1", assay.Negative, t0.Add(time.Duration(i)*time.Minute)))
	}
	commit(t, h, rs...)
	h.Close()
	if err := b.FlipKiosk(3); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(`UPDATE results SET kiosk_id = ? WHERE rx_seq = ?`, "K-9", 4); err != nil {
		t.Fatal(err)
	}
	h = open(t, b, opts)
	defer h.Close()
	for _, rx := range []int{3, 4} {
		if _, err := h.Result(rs[rx-1].ResultID); !errors.Is(err, history.ErrDamaged) {
			t.Fatalf("damaged rx %d served: %v", rx, err)
		}
	}
	got, err := h.Results(history.Filter{})
	if err != nil || len(got) != 3 {
		t.Fatalf("listing: %d results, %v", len(got), err)
	}
	for _, r := range got {
		if r.KioskID != "K-1" {
			t.Fatalf("served with kiosk %q", r.KioskID)
		}
	}
	if k9, _ := h.Results(history.Filter{KioskID: "K-9"}); len(k9) != 0 {
		t.Fatalf("a damaged column served: %+v", k9)
	}
	h.Results(history.Filter{})
	mu.Lock()
	n := len(told)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("OnDamage told %d times, want once per damaged row: %+v", n, told)
	}
	rep, err := h.Verify()
	if err != nil || len(rep.Damaged) != 2 || rep.Damaged[0].RxSeq != 3 || rep.Damaged[1].RxSeq != 4 || rep.Rows != 5 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// The kiosk resends (it still holds the result): the row is whole again.
	out := commit(t, h, rs[2])
	if out[0].Outcome != history.Duplicate || out[0].Result.RxSeq != 3 {
		t.Fatalf("resend of a damaged row: %+v", out[0])
	}
	if r, err := h.Result(rs[2].ResultID); err != nil || r.Fingerprint() != rs[2].Fingerprint() || r.RxSeq != 3 {
		t.Fatalf("after the repair: %+v %v", r, err)
	}
	if h.Count() != 5 {
		t.Fatalf("count %d", h.Count())
	}
}

func testImport(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	recv := t0.Add(time.Hour)
	var legacy []wire.Result
	for i := uint64(1); i <= 40; i++ {
		r := Result("K-1", i, fmt.Sprintf("S-%d", i%3), assay.Negative, t0.Add(time.Duration(i)*time.Minute))
		r.RxSeq, r.ReceivedAt, r.Flags = i*2, &recv, []string{"clock_skew"}
		legacy = append(legacy, r)
	}
	// Two rows whose rx_seq is the same: the second is renumbered.
	legacy[5].RxSeq = legacy[4].RxSeq
	rep, err := h.Import(legacy[:20])
	if err != nil || rep.Imported != 20 || rep.Renumbered != 1 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	rep, err = h.Import(legacy) // resumed after a crash: the first 20 again
	if err != nil || rep.Imported != 20 || rep.Present != 20 || len(rep.Conflicts) != 0 {
		t.Fatalf("import again: %+v %v", rep, err)
	}
	other := legacy[7]
	other.Value = 5
	if rep, _ = h.Import([]wire.Result{other}); len(rep.Conflicts) != 1 {
		t.Fatalf("conflicting import: %+v", rep)
	}
	if h.Count() != 40 {
		t.Fatalf("count %d", h.Count())
	}
	for _, r := range legacy {
		got, err := h.Result(r.ResultID)
		if err != nil || got.Fingerprint() != r.Fingerprint() || !got.ReceivedAt.Equal(recv) || len(got.Flags) != 1 {
			t.Fatalf("imported %s: %+v %v", r.ResultID, got, err)
		}
	}
	if hw, _ := h.HighWater("K-1"); hw != 40 {
		t.Fatalf("high water %d", hw)
	}
	out := commit(t, h, Result("K-1", 41, "S-1", assay.Negative, t0))
	if out[0].Result.RxSeq != 81 {
		t.Fatalf("new rx after import: %d", out[0].Result.RxSeq)
	}
	if out = commit(t, h, legacy[3]); out[0].Outcome != history.Duplicate {
		t.Fatalf("resend of an imported result: %v", out[0].Outcome)
	}
	if rep, err := h.Verify(); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	h.Close()
}

func testNewerSchema(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	h.Close()
	if err := b.Exec(`UPDATE history_schema SET version = ?`, 99); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(history.Options{Log: quiet}); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("a newer schema opened: %v", err)
	}
}

// testConcurrent runs queries while groups commit (for the race detector
// and for readers that must see whole groups only).
func testConcurrent(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	defer h.Close()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				rs, err := h.Results(history.Filter{Limit: 50})
				if err != nil {
					t.Error(err)
					return
				}
				if n := len(rs); n > 0 && n%10 != 0 && n != 50 {
					t.Errorf("a reader saw part of a group: %d results", n)
					return
				}
				h.StallStates()
				h.HighWater("K-1")
				h.Tally(history.TallyQuery{By: history.ByStall})
			}
		}()
	}
	for i := uint64(0); i < 20; i++ {
		var g []wire.Result
		for j := uint64(1); j <= 10; j++ {
			g = append(g, Result("K-1", i*10+j, "S-1", assay.Negative, t0))
		}
		commit(t, h, g...)
	}
	close(done)
	wg.Wait()
	if h.Count() != 200 {
		t.Fatalf("count %d", h.Count())
	}
}

// testPrepared: results prepared ahead (history.Prepare, as the ingest
// does on each kiosk link's goroutine) are stored exactly as Commit stores
// them: what Commit returns is what reads back, with the rx_seq and
// received_at of the commit (not whatever the prepared result carried),
// and a seq regression found at commit still flags the stored result.
func testPrepared(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	defer h.Close()
	a := Result("K-1", 1, "S-1", assay.Negative, t0)
	c := Result("K-1", 2, "S-2", assay.Positive, t0.Add(time.Minute))
	c.Flags = []string{wire.FlagVerdictMismatch}
	c.EventID, c.Lot = "EV-1", "LOT-7"
	bogus := t0.Add(-time.Hour)
	c.RxSeq, c.ReceivedAt = 99, &bogus                                        // the history sets both
	regress := Result("K-1", 1, "S-3", assay.Negative, t0.Add(2*time.Minute)) // seq 1 again, another result
	out, err := h.CommitPrepared([]history.Incoming{history.Prepare(a), history.Prepare(c), history.Prepare(a)})
	if err != nil {
		t.Fatal(err)
	}
	more, err := h.CommitPrepared([]history.Incoming{history.Prepare(regress)})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, more...)
	want := []history.Outcome{history.Stored, history.Stored, history.Duplicate, history.Stored}
	for i, o := range out {
		if o.Outcome != want[i] {
			t.Fatalf("result %d: outcome %v, want %v", i, o.Outcome, want[i])
		}
	}
	if out[1].Result.RxSeq != 2 || out[1].Result.ReceivedAt == nil || out[1].Result.ReceivedAt.Equal(bogus) {
		t.Fatalf("prepared result stored with rx_seq %d received %v", out[1].Result.RxSeq, out[1].Result.ReceivedAt)
	}
	if !out[3].SeqRegression || !contains(out[3].Result.Flags, wire.FlagSeqRegression) {
		t.Fatalf("seq regression not flagged: %+v", out[3])
	}
	for _, i := range []int{0, 1, 3} {
		got, err := h.Result(out[i].Result.ResultID)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(out[i].Result)
		if string(gj) != string(wj) {
			t.Fatalf("result %d reads back\n%s\nbut Commit returned\n%s", i, gj, wj)
		}
	}
	if rep, err := h.Verify(); err != nil || len(rep.Damaged) != 0 {
		t.Fatalf("verify after prepared commits: %+v %v", rep, err)
	}
}

// testReadersDuringCommit: while a commit is inside its transaction (held
// at the COMMIT by the Fault seam), the working-set readers the live map
// and the kiosk links use answer at once from the last committed state.
func testReadersDuringCommit(t *testing.T, b Backend) {
	hold, release := make(chan struct{}), make(chan struct{})
	var held sync.Once
	blocking := false
	var mu sync.Mutex
	h := open(t, b, history.Options{Fault: func(string) error {
		mu.Lock()
		blk := blocking
		mu.Unlock()
		if blk {
			held.Do(func() { close(hold) })
			<-release
		}
		return nil
	}})
	defer h.Close()
	commit(t, h, Result("K-1", 1, "S-1", assay.Negative, t0))
	mu.Lock()
	blocking = true
	mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		_, err := h.Commit([]wire.Result{Result("K-1", 2, "S-1", assay.Positive, t0.Add(time.Minute))})
		errc <- err
	}()
	<-hold
	read := make(chan string, 1)
	go func() {
		hw, _ := h.HighWater("K-1")
		st, _ := h.StallState("S-1")
		read <- fmt.Sprintf("hw %d count %d stall %s states %d err %v", hw, h.Count(), st.Verdict, len(h.StallStates()), h.Err())
	}()
	select {
	case got := <-read:
		if want := "hw 1 count 1 stall negative states 1 err <nil>"; got != want {
			t.Errorf("during the commit: %s, want %s", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Error("the working-set readers waited for a commit held in its transaction")
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if hw, _ := h.HighWater("K-1"); hw != 2 || h.Count() != 2 {
		t.Fatalf("after the commit: hw %d count %d", hw, h.Count())
	}
}

// testTiers: results of the four tiers and from three kinds of source. An
// imported result (a market's self-test row) has no kiosk and no seq: it
// never moves a kiosk's marks, is never a seq regression, and its second
// import is a Duplicate; the tally and the filters split by tier and
// source, and a restart keeps them.
func testTiers(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	k1 := Result("K-1", 1, "S-1", assay.Negative, t0)
	k2 := Result("K-1", 2, "S-1", assay.Positive, t0.Add(time.Minute))
	k2.Tier = assay.TierWholesale
	m1 := Imported("market:M-1", "r1", Result("", 0, "S-2", assay.Positive, t0.Add(2*time.Minute)))
	m2 := Imported("market:M-1", "r2", Result("", 0, "S-2", assay.Negative, t0.Add(3*time.Minute)))
	m3 := Imported("market:M-2", "r1", Result("", 0, "S-3", assay.Negative, t0.Add(4*time.Minute)))
	lab := Imported("lab:L-1", "R-77", Result("", 0, "S-1", assay.Positive, t0.Add(5*time.Minute)))
	lab.Tier = assay.TierLab
	out := commit(t, h, k1, k2, m1, m2, m3, lab)
	for i, c := range out {
		if c.Outcome != history.Stored || c.SeqRegression {
			t.Fatalf("result %d: %v regression=%v", i, c.Outcome, c.SeqRegression)
		}
	}
	if hw, max := h.HighWater("K-1"); hw != 2 || max != 2 {
		t.Fatalf("K-1 marks %d/%d", hw, max)
	}
	if hw, max := h.HighWater(""); hw != 0 || max != 0 {
		t.Fatalf("imported results moved the marks of kiosk \"\": %d/%d", hw, max)
	}
	// A second import of the same rows stores nothing.
	again := commit(t, h, m1, m2, m3, lab)
	for i, c := range again {
		if c.Outcome != history.Duplicate {
			t.Fatalf("second import, row %d: %v", i, c.Outcome)
		}
	}
	changed := m1
	changed.Verdict = assay.Negative
	if c := commit(t, h, changed); c[0].Outcome != history.Conflict {
		t.Fatalf("a row id imported again with other content: %v", c[0].Outcome)
	}
	check := func(h history.History) {
		t.Helper()
		if h.Count() != 6 {
			t.Fatalf("count %d", h.Count())
		}
		ts, err := h.Tally(history.TallyQuery{By: history.ByTier})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, x := range ts {
			got[x.Key+"|"+x.Verdict] += x.N
		}
		want := map[string]int{"regulator_rapid|negative": 1, "wholesale_market|positive": 1, "market_self_test|positive": 1,
			"market_self_test|negative": 2, "statutory_lab|positive": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("tally by tier\n got %v\nwant %v", got, want)
		}
		rs, err := h.Results(history.Filter{Source: "market:M-1"})
		if err != nil || ids(rs) != ids([]wire.Result{m2, m1}) {
			t.Fatalf("market M-1's results: %d %v", len(rs), err)
		}
		rs, _ = h.Results(history.Filter{Tier: assay.TierRegulator})
		if len(rs) != 1 || rs[0].ResultID != k1.ResultID || rs[0].EffectiveSource() != wire.SourceKiosk {
			t.Fatalf("regulator tier: %+v", rs)
		}
		if got, err := h.Result(lab.ResultID); err != nil || got.Source != "lab:L-1" || got.SourceRow != "R-77" || got.EffectiveTier() != assay.TierLab {
			t.Fatalf("lab result: %+v %v", got, err)
		}
		if st, ok := h.StallState("S-2"); !ok || st.ResultID != m2.ResultID {
			t.Fatalf("an imported result is its stall's latest: %+v", st)
		}
		if rep, err := h.Verify(); err != nil || !rep.OK() {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	}
	check(h)
	h.Close()
	h = open(t, b, history.Options{})
	defer h.Close()
	check(h)
	// The kiosk goes on where it was.
	if c := commit(t, h, Result("K-1", 3, "S-1", assay.Negative, t0.Add(time.Hour))); c[0].SeqRegression {
		t.Fatal("seq regression after imports")
	}
	if hw, _ := h.HighWater("K-1"); hw != 3 {
		t.Fatalf("K-1 high water %d", hw)
	}
}

// schema1 turns the current schema back into version 1 (the results
// without tier and source, the tally without tier), as a database written
// before tiers existed holds it. Plain SQL both dialects run.
var schema1 = []string{
	`DROP INDEX results_flagged`, // schema 3
	`CREATE INDEX results_verdict ON results (verdict, rx_seq)`,
	`DROP INDEX results_tier`,
	`DROP INDEX results_source`,
	`ALTER TABLE results DROP COLUMN tier`,
	`ALTER TABLE results DROP COLUMN source`,
	`CREATE TABLE tally_v1 (event_id TEXT NOT NULL, day BIGINT NOT NULL, stall_id TEXT NOT NULL, analyte TEXT NOT NULL,
		verdict TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (event_id, day, stall_id, analyte, verdict))`,
	`INSERT INTO tally_v1 (event_id, day, stall_id, analyte, verdict, n)
		SELECT event_id, day, stall_id, analyte, verdict, SUM(n) FROM tally GROUP BY event_id, day, stall_id, analyte, verdict`,
	`DROP TABLE tally`,
	`ALTER TABLE tally_v1 RENAME TO tally`,
	`UPDATE history_schema SET version = 1`,
}

// testUpgrade1: a history written at schema version 1 (kiosk results
// only, no tiers) opens upgraded: every result is a kiosk's regulator
// rapid test, whole, counted in the tally by tier, and the kiosks' marks
// and latest states are kept; imported results then go in beside them.
func testUpgrade1(t *testing.T, b Backend) {
	h := open(t, b, history.Options{})
	var old []wire.Result
	for i := uint64(1); i <= 30; i++ {
		v := assay.Negative
		if i%6 == 0 {
			v = assay.Positive
		}
		old = append(old, Result(fmt.Sprintf("K-%d", i%2), (i+1)/2, fmt.Sprintf("S-%d", i%4), v, t0.Add(time.Duration(i)*time.Minute)))
	}
	commit(t, h, old...)
	h.Close()
	for _, q := range schema1 {
		if err := b.Exec(q); err != nil {
			t.Fatalf("back to schema 1: %s: %v", q, err)
		}
	}
	h = open(t, b, history.Options{})
	defer h.Close()
	if rep, err := h.Verify(); err != nil || !rep.OK() {
		t.Fatalf("verify after the upgrade: %+v %v", rep, err)
	}
	rs, err := h.Results(history.Filter{Tier: assay.TierRegulator, Source: wire.SourceKiosk, Limit: 100})
	if err != nil || len(rs) != 30 {
		t.Fatalf("upgraded results as regulator rapid tests from kiosks: %d %v", len(rs), err)
	}
	ts, _ := h.Tally(history.TallyQuery{By: history.ByTier})
	if len(ts) != 2 || ts[0].Key != "regulator_rapid" || ts[0].N+ts[1].N != 30 {
		t.Fatalf("tally by tier after the upgrade: %+v", ts)
	}
	if hw, _ := h.HighWater("K-0"); hw != 15 {
		t.Fatalf("K-0 marks after the upgrade: %d", hw)
	}
	m := Imported("market:M-1", "r1", Result("", 0, "S-1", assay.Positive, t0.Add(time.Hour)))
	if c := commit(t, h, m, Result("K-0", 16, "S-1", assay.Negative, t0.Add(2*time.Hour))); c[0].Outcome != history.Stored || c[1].SeqRegression {
		t.Fatalf("commit after the upgrade: %+v", c)
	}
	if rep, err := h.Verify(); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
