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
// (no crash loop), keeps every record written before the damage, says so
// in a stored alarm, keeps the damaged file, and takes new records.
func TestDamagedStoreOpens(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 40; i++ {
		if err := s.Put("site", fmt.Sprintf("S-%03d", i), site(i)); err != nil {
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
		var st Site
		if err := s.Get("site", c.Key[len("site:"):], &st); err != nil {
			t.Fatalf("%s before the damage is gone: %v", c.Key, err)
		}
	}
	sites, _ := All[Site](s, "site")
	if n := len(sites); n != 39 {
		t.Fatalf("%d sites, want all 39 undamaged ones (salvage continues past the damage)", n)
	}
	alarms, _ := s.Alarms(10, false)
	if len(alarms) != 1 || alarms[0].Code != "storage_salvaged" {
		t.Fatalf("alarms %+v", alarms)
	}
	matches, _ := filepath.Glob(path + ".damaged-*")
	if len(matches) != 1 {
		t.Fatalf("damaged file kept: %v", matches)
	}
	if err := s.Put("site", "S-041", site(41)); err != nil {
		t.Fatal(err)
	}
}

func site(i int) Site {
	return Site{ID: fmt.Sprintf("S-%03d", i), Kind: "stall", Name: "摊位", Loc: []float64{120.9 + float64(i)*0.001, 32}}
}

// TestFailedFsyncStopsDrops: after an fsync failure the store refuses the
// writes that check it (dropping carried-over results: they must stay
// until their removal is known to be on disk) until it is reopened.
func TestFailedFsyncStopsDrops(t *testing.T) {
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
	for i := uint64(1); i <= 3; i++ {
		r := rec("K-1", i)
		s.Put("result", r.ResultID, r)
	}
	if err := s.DropLegacyResults([]string{rec("K-1", 1).ResultID}); err != nil {
		t.Fatal(err)
	}
	fail = true
	if err := s.DropLegacyResults([]string{rec("K-1", 2).ResultID}); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("drop with a failing fsync: %v", err)
	}
	fail = false
	if err := s.DropLegacyResults([]string{rec("K-1", 3).ResultID}); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("a drop was accepted after the failure: %v", err)
	}
	s.Close()
	s, err = Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.DropLegacyResults([]string{rec("K-1", 3).ResultID}); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}
