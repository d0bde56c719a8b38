package store

import (
	"errors"
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

// TestLegacyResults: results an earlier version stored as result:<id>
// keys are counted at open, read in pages and dropped once carried over.
func TestLegacyResults(t *testing.T) {
	eachBackend(t, testLegacyResults)
}

func testLegacyResults(t *testing.T, open func() *Store) {
	s := open()
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	var want []string
	for i := uint64(1); i <= 25; i++ {
		r := result("K-1", i, "S-1", assay.Negative, t0)
		if err := s.Put("result", r.ResultID, r); err != nil {
			t.Fatal(err)
		}
		want = append(want, r.ResultID)
	}
	s.Put("site", "S-1", Site{ID: "S-1", Loc: []float64{120, 32}})
	s.Close()
	s = open()
	defer s.Close()
	if n := s.LegacyCount(); n != 25 {
		t.Fatalf("legacy count %d", n)
	}
	var got []string
	after := ""
	for {
		ids, raws, err := s.LegacyResults(after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(raws) {
			t.Fatal("ids and records differ in number")
		}
		if len(ids) == 0 {
			break
		}
		got = append(got, ids...)
		after = ids[len(ids)-1]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages:\n%v\n%v", got, want)
	}
	if err := s.DropLegacyResults(got[:20]); err != nil {
		t.Fatal(err)
	}
	if n := s.LegacyCount(); n != 5 {
		t.Fatalf("after the drop %d", n)
	}
	if ids, _, _ := s.LegacyResults("", 100); len(ids) != 5 || ids[0] != want[20] {
		t.Fatalf("left %v", ids)
	}
	var site Site
	if err := s.Get("site", "S-1", &site); err != nil {
		t.Fatalf("other records kept: %v", err)
	}
}

func TestSpatialIndexRebuiltOnOpen(t *testing.T) {
	eachBackend(t, testSpatialIndexRebuiltOnOpen)
}

func testSpatialIndexRebuiltOnOpen(t *testing.T, open func() *Store) {
	s := open()
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
	s = open()
	defer s.Close()
	after, _ := s.SitesIn(120.9, 31.9, 120.905, 32.1)
	if len(after) != len(before) {
		t.Fatalf("after reopen %d sites, before %d", len(after), len(before))
	}
}

func TestKioskTokenAndAlarms(t *testing.T) {
	eachBackend(t, testKioskTokenAndAlarms)
}

func testKioskTokenAndAlarms(t *testing.T, open func() *Store) {
	s := open()
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

// TestClosedStoreRefuses: a request still in flight when the service
// stops reads and writes a closed store: it gets ErrClosed, never a crash.
func TestClosedStoreRefuses(t *testing.T) {
	eachBackend(t, testClosedStoreRefuses)
}

func testClosedStoreRefuses(t *testing.T, open func() *Store) {
	s := open()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v", err)
	}
	if err := s.View(func(tx *Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close: %v", err)
	}
	if _, err := All[Site](s, "site"); !errors.Is(err, ErrClosed) {
		t.Errorf("All after Close: %v", err)
	}
	if _, err := s.RaiseAlarm(Alarm{Code: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("RaiseAlarm after Close: %v", err)
	}
	if err := s.Check(); err == nil {
		t.Error("Check after Close: nil")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
