package bench

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// The spliced messages are what encoding/json would write for the same
// results, and the command's decoder accepts them.
func TestEncoderMatchesJSON(t *testing.T) {
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 9, 31, 12, 345000000, time.FixedZone("CST", 8*3600))
	var specs []Spec
	for i := range kinds {
		specs = append(specs, Spec{Kind: i, KioskID: "K-NT-01", Seq: uint64(1040 + i), StallID: "S-012", Tag: "菠菜 \"quoted\"", MeasuredAt: at.Add(time.Duration(i) * time.Second)})
	}
	b := enc.AppendMessage(nil, specs)
	m, err := wire.Decode(b, wire.MaxKioskMessage)
	if err != nil {
		t.Fatalf("the command would refuse the message: %v\n%s", err, b)
	}
	got := m.(*wire.Results).Results
	rules := assay.DefaultRules()
	for i, s := range specs {
		want := sampleResult(kinds[i], benchEvent)
		want.ResultID, want.KioskID, want.Seq, want.StallID = s.ResultID(), s.KioskID, s.Seq, s.StallID
		want.Sample.Code, want.Sample.Name, want.MeasuredAt = s.StallID, s.Tag, s.MeasuredAt.UTC()
		out, _ := rules.Decide(want.Method, want.Item, want.Raw)
		want.Value, want.Unit, want.Verdict, want.RepeatsRequired = out.Value, out.Unit, out.Verdict, out.RepeatsRequired
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got[i])
		if string(wj) != string(gj) {
			t.Errorf("result %d:\n got %s\nwant %s", i, gj, wj)
		}
		if got[i].Verdict != kinds[i].verdict {
			t.Errorf("result %d verdict %s, want %s", i, got[i].Verdict, kinds[i].verdict)
		}
	}
}

// Result ids are canonical UUIDv7s and differ across kiosks and seqs at
// the same moment.
func TestResultIDs(t *testing.T) {
	at := time.Now()
	seen := map[string]bool{}
	kiosks := append(kioskIDs("L1000", 1000), kioskIDs("F", fillKiosks)...)
	for _, k := range kiosks {
		for seq := uint64(1); seq <= 20; seq++ {
			s := Spec{KioskID: k, Seq: seq, MeasuredAt: at}
			id := s.ResultID()
			u, err := uuid.Parse(id)
			if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || len(id) != 36 {
				t.Fatalf("%s: %v (version %d)", id, err, u.Version())
			}
			if seen[id] {
				t.Fatalf("%s given twice", id)
			}
			seen[id] = true
		}
	}
}

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		v, goal float64
		higher  bool
		want    string
	}{
		{0.6, 0.5, true, "met"}, {0.1, 0.5, true, "missed (0.2× of the goal)"},
		{40, 50, false, "met"}, {100, 50, false, "missed (2× the limit)"}, {1, 0, true, ""},
	} {
		if got := status(c.v, c.goal, c.higher); got != c.want {
			t.Errorf("status(%v, %v, %v) = %q, want %q", c.v, c.goal, c.higher, got, c.want)
		}
	}
}

// The geo part checks the index against brute force and reports both.
func TestGeoPart(t *testing.T) {
	b := &Bench{o: Options{Out: io.Discard}, sz: Sizes{Zones: 2000, Lookup: 2000, BruteLookups: 20}, rep: &Report{}}
	if err := b.geoPart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(b.rep.Rows) != 1 || !strings.Contains(b.rep.Rows[0].Value, "lookups/s") || !strings.HasSuffix(b.rep.Rows[0].Ratio, "×") {
		t.Fatalf("rows %+v", b.rep.Rows)
	}
}

// The bench's own PostgreSQL starts with the durability settings on.
func TestPostgresStarts(t *testing.T) {
	if pgBin() == "" {
		t.Skip(errNoPostgres)
	}
	p, err := startPostgres(context.Background(), filepath.Join(t.TempDir(), "pg"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	out, err := p.command(context.Background(), "psql", p.dsn(), "-Atc", "show fsync; show synchronous_commit").CombinedOutput()
	if err != nil || strings.Fields(string(out))[0] != "on" || strings.Fields(string(out))[1] != "on" {
		t.Fatalf("psql: %v %q", err, out)
	}
}
