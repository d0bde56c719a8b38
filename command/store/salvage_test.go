package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

var quietLog = slog.New(slog.DiscardHandler)

func rec(kiosk string, seq uint64) wire.Result {
	return wire.Result{ResultID: fmt.Sprintf("0193a1b2-7c4d-7e5f-8a6b-%012d", seq), KioskID: kiosk, Seq: seq,
		DeviceID: "enzyme-1", Model: "DY-3000E", StallID: fmt.Sprintf("S-%03d", seq%7),
		Method: assay.EnzymeInhibition, Item: "农药残留", Analyte: "organophosphate_carbamate",
		Value: 10, Unit: "%", Verdict: assay.Negative,
		Raw:        assay.Raw{ControlDeltaA: assay.Ptr(300 * measure.MilliAU), SampleDeltaA: assay.Ptr(270 * measure.MilliAU)},
		MeasuredAt: time.Date(2026, 11, 28, 9, 0, int(seq), 0, time.UTC)}
}

// TestDamagedStoreOpens: a command.db with garbage in the middle opens
// (no crash loop), keeps every result written before the damage, says so
// in a stored alarm, keeps the damaged file, and takes new results.
func TestDamagedStoreOpens(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 40; i++ {
		if _, err := s.Commit([]wire.Result{rec("K-1", i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	path := filepath.Join(dir, "command.db")
	data, _ := os.ReadFile(path)
	var cmds []aofsalvage.Command
	aofsalvage.Scan(data, func(c aofsalvage.Command) { cmds = append(cmds, c) })
	at := cmds[25].Offset + 3
	data[at] = '#'
	os.WriteFile(path, data, 0o644)

	s, err = Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatalf("a damaged store must open: %v", err)
	}
	defer s.Close()
	for _, c := range cmds[:25] {
		if len(c.Key) > 7 && c.Key[:7] == "result:" {
			if _, err := s.Result(c.Key[7:]); err != nil {
				t.Fatalf("%s before the damage is gone: %v", c.Key, err)
			}
		}
	}
	if n := s.ResultCount(); n != 39 {
		t.Fatalf("%d results, want all 39 undamaged ones (salvage continues past the damage)", n)
	}
	alarms, _ := s.Alarms(10, false)
	if len(alarms) != 1 || alarms[0].Code != "storage_salvaged" {
		t.Fatalf("alarms %+v", alarms)
	}
	matches, _ := filepath.Glob(path + ".damaged-*")
	if len(matches) != 1 {
		t.Fatalf("damaged file kept: %v", matches)
	}
	if _, err := s.Commit([]wire.Result{rec("K-1", 41)}); err != nil {
		t.Fatal(err)
	}
	if hw, _ := s.HighWater("K-1"); hw != 25 {
		t.Fatalf("high-water %d: rebuilt from what is there", hw)
	}
}

// TestRestartRebuildsIndexes is docs/reliability.md test 23 (for the indexes the
// store owns): rx order, per-kiosk high-water marks and the latest verdict
// per stall are the same after a reopen.
func TestRestartRebuildsIndexes(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{Log: quietLog})
	var batch []wire.Result
	for i := uint64(1); i <= 30; i++ {
		if i != 17 {
			batch = append(batch, rec("K-1", i), rec("K-2", i))
		}
	}
	if _, err := s.Commit(batch); err != nil {
		t.Fatal(err)
	}
	hw1, hi1 := s.HighWater("K-1")
	stalls := fmt.Sprint(s.StallStates())
	rs, _ := s.Results(ResultFilter{Limit: 1000})
	s.Close()
	s, _ = Open(dir, Options{Log: quietLog})
	defer s.Close()
	hw2, hi2 := s.HighWater("K-1")
	rs2, _ := s.Results(ResultFilter{Limit: 1000})
	if hw1 != 16 || hw1 != hw2 || hi1 != hi2 || stalls != fmt.Sprint(s.StallStates()) || len(rs) != len(rs2) {
		t.Fatalf("before hw %d/%d, after %d/%d", hw1, hi1, hw2, hi2)
	}
	for i := range rs {
		if rs[i].ResultID != rs2[i].ResultID || rs[i].RxSeq != rs2[i].RxSeq {
			t.Fatalf("ingest order differs at %d", i)
		}
	}
}

// TestFailedFsyncStopsAcks: after an fsync failure the store refuses every
// commit (so the ingest acks nothing, and a resend is not acked as a
// duplicate of what may not be on disk) until it is reopened.
func TestFailedFsyncStopsAcks(t *testing.T) {
	dir := t.TempDir()
	fail := false
	s, err := Open(dir, Options{Log: quietLog, Fault: func(op string) error {
		if fail {
			return errors.New("input/output error")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit([]wire.Result{rec("K-1", 1)}); err != nil {
		t.Fatal(err)
	}
	fail = true
	if _, err := s.Commit([]wire.Result{rec("K-1", 2)}); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("commit with a failing fsync: %v", err)
	}
	fail = false
	if _, err := s.Commit([]wire.Result{rec("K-1", 2)}); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("the resend was accepted after the failure: %v", err)
	}
	s.Close()
	s, err = Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Commit([]wire.Result{rec("K-1", 2)})
	if err != nil || len(out) != 1 {
		t.Fatalf("after reopening: %v", err)
	}
}
