package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

func result(kiosk string, seq uint64, stall string, v assay.Verdict, at time.Time) wire.Result {
	id, _ := uuid.NewV7()
	return wire.Result{ResultID: id.String(), KioskID: kiosk, Seq: seq, StallID: stall,
		Method: assay.EnzymeInhibition, Verdict: v, MeasuredAt: at, Value: 1, Unit: "%",
		Raw: assay.Raw{ControlDeltaA: assay.Ptr(300 * measure.MilliAU), SampleDeltaA: assay.Ptr(100 * measure.MilliAU)}}
}

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCommitDedupeConflictRegression(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	a := result("K-1", 1, "S-1", assay.Negative, t0)
	b := result("K-1", 2, "S-1", assay.Positive, t0.Add(time.Minute))
	c := result("K-1", 4, "S-2", assay.Negative, t0)
	out, err := s.Commit([]wire.Result{a, b, c, a})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Outcome != Stored || out[1].Outcome != Stored || out[2].Outcome != Stored || out[3].Outcome != Duplicate {
		t.Fatalf("outcomes %v %v %v %v", out[0].Outcome, out[1].Outcome, out[2].Outcome, out[3].Outcome)
	}
	if out[0].Result.RxSeq != 1 || out[2].Result.RxSeq != 3 || out[0].Result.ReceivedAt == nil {
		t.Fatalf("rx seqs %d %d", out[0].Result.RxSeq, out[2].Result.RxSeq)
	}
	if hw, max := s.HighWater("K-1"); hw != 2 || max != 4 {
		t.Fatalf("high water %d %d", hw, max)
	}
	// Identical resend in a later group.
	out, _ = s.Commit([]wire.Result{b})
	if out[0].Outcome != Duplicate {
		t.Fatalf("resend: %v", out[0].Outcome)
	}
	// Same id, other content.
	b2 := b
	b2.Value = 99
	out, _ = s.Commit([]wire.Result{b2})
	if out[0].Outcome != Conflict {
		t.Fatalf("conflict: %v", out[0].Outcome)
	}
	// New result reusing seq 2 (kiosk restored from backup): stored, flagged.
	d := result("K-1", 2, "S-3", assay.Negative, t0)
	out, _ = s.Commit([]wire.Result{d})
	if out[0].Outcome != Stored || !out[0].SeqRegression || out[0].Result.Flags[0] != wire.FlagSeqRegression {
		t.Fatalf("regression: %+v", out[0])
	}
	if st, ok := s.StallState("S-1"); !ok || st.Verdict != assay.Positive {
		t.Fatalf("latest S-1: %+v", st)
	}
	// An older result arriving later does not replace the stall's latest.
	old := result("K-2", 1, "S-1", assay.Negative, t0.Add(-time.Hour))
	out, _ = s.Commit([]wire.Result{old})
	if out[0].StallChanged {
		t.Fatal("older backlog result replaced the latest")
	}
	if st, _ := s.StallState("S-1"); st.Verdict != assay.Positive {
		t.Fatalf("latest S-1 after backlog: %+v", st)
	}
	if s.ResultCount() != 5 {
		t.Fatalf("count %d", s.ResultCount())
	}
	s.Close()

	// Reopen: indexes and counters rebuilt.
	s = openT(t, dir)
	defer s.Close()
	if hw, max := s.HighWater("K-1"); hw != 2 || max != 4 {
		t.Fatalf("high water after reopen %d %d", hw, max)
	}
	if st, _ := s.StallState("S-1"); st.Verdict != assay.Positive {
		t.Fatalf("latest S-1 after reopen: %+v", st)
	}
	rs, err := s.Results(ResultFilter{Limit: 2})
	if err != nil || len(rs) != 2 || rs[0].RxSeq != 5 || rs[1].RxSeq != 4 {
		t.Fatalf("newest first: %v %v", rs, err)
	}
	e := result("K-1", 5, "S-1", assay.Negative, t0.Add(2*time.Minute))
	out, _ = s.Commit([]wire.Result{e})
	if out[0].Result.RxSeq != 6 {
		t.Fatalf("rx seq after reopen %d", out[0].Result.RxSeq)
	}
}

func TestSpatialIndexRebuiltOnOpen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for i := 0; i < 20; i++ {
		if err := s.Put("site", fmt.Sprintf("S-%02d", i), Site{ID: fmt.Sprintf("S-%02d", i), Kind: "stall",
			Loc: []float64{120.9 + float64(i)*0.001, 32.0}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Put("site", "bad", map[string]any{"id": "bad", "loc": "nowhere"})
	before, err := s.SitesIn(120.9, 31.9, 120.905, 32.1)
	if err != nil || len(before) != 6 {
		t.Fatalf("before: %d %v", len(before), err)
	}
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	after, _ := s.SitesIn(120.9, 31.9, 120.905, 32.1)
	if len(after) != len(before) {
		t.Fatalf("after reopen %d sites, before %d", len(after), len(before))
	}
}

func TestKioskTokenAndAlarms(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	tok, err := s.RegisterKiosk(Kiosk{ID: "K-1", Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.KioskByToken(tok)
	if err != nil || k.ID != "K-1" {
		t.Fatalf("%v %v", k, err)
	}
	if _, err := s.KioskByToken(tok + "x"); err == nil {
		t.Fatal("wrong token accepted")
	}
	a, _ := s.RaiseAlarm(Alarm{Code: "x", Message: "m"})
	b, _ := s.RaiseAlarm(Alarm{Code: "y", Message: "m"})
	if a.Seq != 1 || b.Seq != 2 {
		t.Fatal("alarm seqs")
	}
	if _, err := s.AckAlarm(1, "admin"); err != nil {
		t.Fatal(err)
	}
	un, _ := s.Alarms(10, true)
	if len(un) != 1 || un[0].Seq != 2 {
		t.Fatalf("unacked %v", un)
	}
}
