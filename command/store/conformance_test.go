package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/protocols/domain/assay"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// eachBackend runs test against both backends: buntdb in a temporary
// directory, and PostgreSQL (a fresh database on internal/pgtest's real
// server). open opens the same store again each time it is called (the
// same directory, the same database), so a test can close and reopen.
func eachBackend(t *testing.T, test func(t *testing.T, open func() *Store)) {
	t.Run("buntdb", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func() *Store {
			t.Helper()
			s, err := Open(dir, Options{Log: quietLog})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		test(t, func() *Store {
			t.Helper()
			return openPG(t, dsn)
		})
	})
}

func openPG(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type crec struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}

// TestTxConformance: the Tx API answers the same on both backends.
func TestTxConformance(t *testing.T) { eachBackend(t, testTx) }

func testTx(t *testing.T, open func() *Store) {
	s := open()
	defer s.Close()
	for _, id := range []string{"b", "a2", "a1", "c"} {
		if err := s.Put("thing", id, crec{N: len(id)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Put("thingx", "a0", crec{N: 99}) // a kind whose name extends another's
	if err := s.Create("thing", "a1", crec{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("Create of an existing id: %v", err)
	}
	if err := s.Create("thing", "d", crec{N: 4}); err != nil {
		t.Fatal(err)
	}
	var r crec
	if err := s.Get("thing", "nope", &r); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get absent: %v", err)
	}
	err := s.View(func(tx *Tx) error {
		if id, err := tx.FirstKey("thing", "a"); err != nil || id != "a1" {
			return fmt.Errorf("FirstKey a: %q %v", id, err)
		}
		if _, err := tx.FirstKey("thing", "z"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("FirstKey z: %v", err)
		}
		var ids []string
		if err := tx.Each("thing", func(id string, _ []byte) error { ids = append(ids, id); return nil }); err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[a1 a2 b c d]" {
			return fmt.Errorf("Each: %v", ids)
		}
		stop := errors.New("stop")
		if err := tx.Each("thing", func(string, []byte) error { return stop }); err != stop {
			return fmt.Errorf("Each's fn error: %v", err)
		}
		if err := tx.Put("thing", "x", crec{}); err == nil {
			return errors.New("a write in View succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An Update whose fn fails keeps nothing.
	boom := errors.New("boom")
	if err := s.Update(func(tx *Tx) error {
		tx.Put("thing", "e", crec{})
		tx.Delete("thing", "a1")
		return boom
	}); err != boom {
		t.Fatalf("Update: %v", err)
	}
	// Reads in an Update see its own writes.
	if err := s.Update(func(tx *Tx) error {
		if err := tx.Put("thing", "f", crec{N: 6}); err != nil {
			return err
		}
		var f crec
		if err := tx.Get("thing", "f", &f); err != nil || f.N != 6 {
			return fmt.Errorf("own write: %v %v", f, err)
		}
		return tx.Delete("thing", "absent")
	}); err != nil {
		t.Fatal(err)
	}
	got, err := Modify(s, "thing", "b", func(r *crec) error { r.N += 10; return nil })
	if err != nil || got.N != 11 {
		t.Fatalf("Modify: %v %v", got, err)
	}
	if _, err := Modify(s, "thing", "nope", func(r *crec) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Modify absent: %v", err)
	}
	s.Delete("thing", "c")
	all, _ := All[crec](s, "thing")
	var ns []int
	for _, r := range all {
		ns = append(ns, r.N)
	}
	if fmt.Sprint(ns) != "[2 2 11 4 6]" {
		t.Fatalf("All: %v", ns)
	}
	if err := PutMany(s, "thing", []string{"m1", "m2"}, []crec{{N: 1}, {N: 2}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	List(s, "thing", func(string, crec) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("List did not stop: %d", n)
	}
	// Rule books: a version is written once.
	if err := s.PutRuleBook(assay.Book{Version: 2}); err != nil {
		t.Fatal(err)
	}
	s.PutRuleBook(assay.Book{Version: 1})
	if err := s.PutRuleBook(assay.Book{Version: 2}); !errors.Is(err, ErrConflict) {
		t.Fatalf("rule book twice: %v", err)
	}
	books, _ := s.RuleBooks()
	if len(books) != 2 || books[0].Version != 1 {
		t.Fatalf("rule books %v", books)
	}
}

// TestAuditConformance: audit seqs, newest first, keyset paging, and the
// numbers carry on after a reopen.
func TestAuditConformance(t *testing.T) { eachBackend(t, testAudit) }

func testAudit(t *testing.T, open func() *Store) {
	s := open()
	for i := 0; i < 700; i++ { // more than a PostgreSQL page
		kind := "login"
		if i%2 == 1 {
			kind = "change"
		}
		if _, err := s.AppendAudit(AuditEntry{Kind: kind, Actor: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open()
	defer s.Close()
	e, err := s.AppendAudit(AuditEntry{Kind: "logout"})
	if err != nil || e.Seq != 701 {
		t.Fatalf("seq after reopen: %d %v", e.Seq, err)
	}
	page, _ := s.Audit(AuditFilter{Limit: 3}, nil)
	if len(page) != 3 || page[0].Seq != 701 || page[2].Seq != 699 {
		t.Fatalf("newest first: %v", page)
	}
	page, _ = s.Audit(AuditFilter{Before: 650, Kind: "change", Limit: 600}, nil)
	if len(page) != 324 || page[0].Seq != 648 || page[len(page)-1].Seq != 2 {
		t.Fatalf("before 650: %d, %d…%d", len(page), page[0].Seq, page[len(page)-1].Seq)
	}
}

// TestHooksConformance: OnChange sees the keys of every committed
// Update, not of a failed one; OnKioskChange fires for a local write and
// for Changed; Changed does not fire OnChange (a notice is not published
// again).
func TestHooksConformance(t *testing.T) { eachBackend(t, testHooks) }

func testHooks(t *testing.T, open func() *Store) {
	s := open()
	defer s.Close()
	var mu sync.Mutex
	var changes [][]string
	var kiosks []string
	s.OnChange(func(keys []string) { mu.Lock(); changes = append(changes, keys); mu.Unlock() })
	s.OnKioskChange(func(id string) { mu.Lock(); kiosks = append(kiosks, id); mu.Unlock() })
	s.RegisterKiosk(Kiosk{ID: "K-1"})
	s.Update(func(tx *Tx) error { tx.Put("zone", "Z", Zone{ID: "Z"}); return errors.New("no") })
	s.Update(func(tx *Tx) error { tx.Put("zone", "Z", Zone{ID: "Z"}); return tx.Put("site", "S", Site{ID: "S"}) })
	s.RaiseAlarm(Alarm{Code: "c"})
	s.Changed([]string{"kiosk:K-2", "site:S-9"})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(kiosks) != "[K-1 K-2]" {
		t.Errorf("kiosk hooks: %v", kiosks)
	}
	if len(changes) != 3 || fmt.Sprint(changes[0]) != "[kiosk:K-1]" || fmt.Sprint(changes[1]) != "[zone:Z site:S]" ||
		len(changes[2]) != 1 || changes[2][0][:6] != "alarm:" {
		t.Errorf("change hooks: %v", changes)
	}
}

// TestBackupConformance: Backup of either backend is a buntdb file that
// Open reads with every record.
func TestBackupConformance(t *testing.T) { eachBackend(t, testBackup) }

func testBackup(t *testing.T, open func() *Store) {
	s := open()
	defer s.Close()
	s.Put("site", "S-1", Site{ID: "S-1", Loc: []float64{120, 32}})
	s.RaiseAlarm(Alarm{Code: "c"})
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/command.db", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st, err := r.SitesIn(119, 31, 121, 33); err != nil || len(st) != 1 {
		t.Fatalf("restored sites %v %v", st, err)
	}
	if a, _ := r.RaiseAlarm(Alarm{Code: "d"}); a.Seq != 2 {
		t.Fatalf("restored alarm counter: next %d", a.Seq)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresTwoInstances: two stores on one database, as two command
// services in cluster mode. From two goroutines on each: Modify of one
// record (no update lost), Create of the same ids (exactly one wins
// each), alarms (numbers unique); and a site added on one is found by
// the other's SitesIn, a kiosk disabled on one is refused by the other.
func TestPostgresTwoInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	defer a.Close()
	defer b.Close()
	if err := a.Put("counter", "c", crec{}); err != nil {
		t.Fatal(err)
	}
	const perWorker, creates = 40, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	var seqs []uint64
	var errs []error
	for w, s := range []*Store{a, a, b, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if _, err := Modify(s, "counter", "c", func(r *crec) error { r.N++; return nil }); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				if i < creates {
					id := fmt.Sprintf("inc-%02d", i)
					err := s.Create("incident_of", id, crec{N: w})
					mu.Lock()
					switch {
					case err == nil:
						wins[id]++
					case !errors.Is(err, ErrConflict):
						errs = append(errs, err)
					}
					mu.Unlock()
				}
				al, err := s.RaiseAlarm(Alarm{Code: "x"})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					seqs = append(seqs, al.Seq)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first %v", len(errs), errs[0])
	}
	var c crec
	b.Get("counter", "c", &c)
	if c.N != 4*perWorker {
		t.Errorf("counter %d after %d increments: an update was lost", c.N, 4*perWorker)
	}
	for i := 0; i < creates; i++ {
		if id := fmt.Sprintf("inc-%02d", i); wins[id] != 1 {
			t.Errorf("%s created %d times", id, wins[id])
		}
	}
	slices.Sort(seqs)
	if len(slices.Compact(seqs)) != 4*perWorker {
		t.Errorf("alarm seqs not unique")
	}
	if al, _ := a.Alarms(1000, true); len(al) != 4*perWorker {
		t.Errorf("instance A sees %d unacked alarms, want %d", len(al), 4*perWorker)
	}
	// A site added on A is on B's map.
	if err := a.Put("site", "S-new", Site{ID: "S-new", Loc: []float64{121.5, 31.2}}); err != nil {
		t.Fatal(err)
	}
	if st, err := b.SitesIn(121, 31, 122, 32); err != nil || len(st) != 1 || st[0].ID != "S-new" {
		t.Errorf("B's SitesIn: %v %v", st, err)
	}
	// A kiosk disabled on A is refused on B, and B's hooks fire on the
	// notice (command/cluster delivers it).
	tok, _ := a.RegisterKiosk(Kiosk{ID: "K-1"})
	var notified []string
	b.OnKioskChange(func(id string) { notified = append(notified, id) })
	a.OnChange(b.Changed) // the bus, in one process
	a.SetKioskDisabled("K-1", true)
	if _, err := b.KioskByToken(tok); !errors.Is(err, ErrKioskDisabled) {
		t.Errorf("B accepted a kiosk disabled on A: %v", err)
	}
	if fmt.Sprint(notified) != "[K-1]" {
		t.Errorf("B's kiosk hooks: %v", notified)
	}
}
