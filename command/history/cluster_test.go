package history_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/history/historytest"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// The conformance suite with every instance in cluster mode.
func TestPostgresCluster(t *testing.T) {
	historytest.Run(t, func(t *testing.T) historytest.Backend {
		b := postgresBackend(t)
		open := b.Open
		b.Open = func(o history.Options) (history.History, error) { o.Cluster = true; return open(o) }
		return b
	})
}

func openCluster(t *testing.T, dsn string) history.History {
	t.Helper()
	h, err := history.Open(dsn, history.Options{Cluster: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Two instances commit interleaved, overlapping groups from the same
// kiosks, the same result ids on both: every result is stored once, a
// resend the other instance stored is a duplicate, the marks are right on
// both and on a third instance that never saw a result; a reader paging by
// rx_seq during the writes misses nothing.
func TestClusterTwoWriters(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openCluster(t, dsn), openCluster(t, dsn)
	const kiosks, perKiosk, group = 3, 120, 7
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var all []wire.Result
	for k := 0; k < kiosks; k++ {
		for s := 1; s <= perKiosk; s++ {
			all = append(all, historytest.Result(fmt.Sprintf("K-%d", k), uint64(s), fmt.Sprintf("S-%d", s%5), assay.Negative, t0.Add(time.Duration(s)*time.Second)))
		}
	}
	var wg sync.WaitGroup
	stored := make([]map[string]int, 2)
	errs := make(chan error, 4)
	for w, h := range []history.History{a, b} {
		stored[w] = map[string]int{}
		wg.Add(1)
		go func(w int, h history.History) {
			defer wg.Done()
			// Both send everything in overlapping windows, a from the
			// start and b from the end, so that they meet.
			for j := 0; j*(group-2) < len(all); j++ {
				i := j * (group - 2)
				if w == 1 {
					i = max(len(all)-group-i, 0)
				}
				end := min(i+group, len(all))
				out, err := h.Commit(all[i:end])
				if err != nil {
					errs <- err
					return
				}
				for _, c := range out {
					switch c.Outcome {
					case history.Stored:
						stored[w][c.Result.ResultID]++
					case history.Duplicate:
					default:
						errs <- fmt.Errorf("instance %d: %s: outcome %v", w, c.Result.ResultID, c.Outcome)
						return
					}
				}
			}
			// And the first few again, which the other one stored too.
			if _, err := h.Commit(all[:group]); err != nil {
				errs <- err
			}
		}(w, h)
	}
	// A reader follows by rx_seq while they write: it must see every row.
	seen := map[uint64]string{}
	var after uint64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	follow := func() {
		n := 0
		err := a.Each(history.Filter{AfterRx: after}, false, func(r *wire.Result) bool {
			seen[r.RxSeq] = r.ResultID
			after = max(after, r.RxSeq)
			n++
			return n < 50
		})
		if err != nil {
			t.Error(err)
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			follow()
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for n := -1; n != len(seen); {
		n = len(seen)
		follow()
	}
	once := map[string]int{}
	for w := range stored {
		for id, n := range stored[w] {
			once[id] += n
		}
	}
	for _, r := range all {
		if once[r.ResultID] != 1 {
			t.Fatalf("%s stored %d times across the instances", r.ResultID, once[r.ResultID])
		}
	}
	if len(once) != len(all) || len(stored[0]) == 0 || len(stored[1]) == 0 {
		t.Fatalf("stored %d of %d (a %d, b %d): both instances should have stored some", len(once), len(all), len(stored[0]), len(stored[1]))
	}
	if len(seen) != len(all) {
		t.Fatalf("the reader following by rx_seq saw %d of %d rows", len(seen), len(all))
	}
	for rx := uint64(1); rx <= uint64(len(all)); rx++ {
		if seen[rx] == "" {
			t.Fatalf("rx_seq %d missing: numbering is not gap-free in commit order", rx)
		}
	}
	c := openCluster(t, dsn)
	for _, h := range []history.History{a, b, c} {
		if n := h.Count(); n != len(all) {
			t.Fatalf("Count %d, want %d", n, len(all))
		}
		for k := 0; k < kiosks; k++ {
			if hw, hi := h.HighWater(fmt.Sprintf("K-%d", k)); hw != perKiosk || hi != perKiosk {
				t.Fatalf("K-%d HighWater %d/%d, want %d/%d", k, hw, hi, perKiosk, perKiosk)
			}
		}
	}
	rep, err := c.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

// A kiosk that moves from instance a to b: b answers its marks (gap and
// all) from the database, and a resend of what a stored is a duplicate.
func TestClusterKioskMoves(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openCluster(t, dsn), openCluster(t, dsn)
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var rs []wire.Result
	for s := uint64(1); s <= 5; s++ {
		rs = append(rs, historytest.Result("K-1", s, "S-1", assay.Negative, t0.Add(time.Duration(s)*time.Minute)))
	}
	b.HighWater("K-1") // b has looked once before a stored anything
	if _, err := a.Commit([]wire.Result{rs[0], rs[1], rs[3]}); err != nil {
		t.Fatal(err)
	}
	if hw, hi := b.HighWater("K-1"); hw != 2 || hi != 4 {
		t.Fatalf("b: HighWater %d/%d, want 2/4", hw, hi)
	}
	out, err := b.Commit(rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []history.Outcome{history.Duplicate, history.Duplicate, history.Stored, history.Duplicate, history.Stored}
	for i, c := range out {
		if c.Outcome != want[i] || c.SeqRegression {
			t.Fatalf("seq %d: outcome %v regression %v, want %v", i+1, c.Outcome, c.SeqRegression, want[i])
		}
	}
	if hw, hi := a.HighWater("K-1"); hw != 5 || hi != 5 {
		t.Fatalf("a: HighWater %d/%d, want 5/5", hw, hi)
	}
	if st, ok := a.StallState("S-1"); !ok || st.ResultID != rs[4].ResultID {
		t.Fatalf("a: stall S-1 latest %+v, want b's %s", st, rs[4].ResultID)
	}
}

// The two modes never write one database at once.
func TestClusterAndSingleWriterExclude(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := history.Open(dsn, history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := history.Open(dsn, history.Options{Cluster: true}); err == nil || !strings.Contains(err.Error(), "single-writer") {
		t.Fatalf("cluster instance beside a single writer: %v", err)
	}
	s.Close()
	a := openCluster(t, dsn)
	_ = a
	if _, err := history.Open(dsn, history.Options{}); err == nil || !strings.Contains(err.Error(), "cluster mode") {
		t.Fatalf("single writer beside a cluster instance: %v", err)
	}
	if _, err := history.Open("sqlite:"+t.TempDir()+"/h.db", history.Options{Cluster: true}); err == nil {
		t.Fatal("SQLite accepted cluster mode")
	}
}
