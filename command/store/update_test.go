package store

import (
	"errors"
	"sync/atomic"
	"testing"
)

// TestUpdateDurableWrites: every write path fsyncs through the store's own
// descriptor (the Fault seam sees one "sync" per write, none for an
// aborted or read-only Update), and a write whose fsync fails is refused,
// as is every later write of any kind, until the store is reopened.
func TestUpdateDurableWrites(t *testing.T) {
	dir := t.TempDir()
	var syncs atomic.Int32
	var fail atomic.Bool
	s, err := Open(dir, Options{Log: quietLog, Fault: func(op string) error {
		syncs.Add(1)
		if fail.Load() {
			return errors.New("input/output error")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"Put":    func() error { return s.Put("thing", "a", map[string]int{"n": 1}) },
		"Create": func() error { return s.Create("thing", "new", 1) },
		"Modify": func() error {
			_, err := Modify(s, "thing", "a", func(v *map[string]int) error { (*v)["n"]++; return nil })
			return err
		},
		"Delete":        func() error { return s.Delete("thing", "new") },
		"PutMany":       func() error { return PutMany(s, "site", []string{"S-1"}, []Site{{ID: "S-1", Loc: []float64{120, 31}}}) },
		"RaiseAlarm":    func() error { _, err := s.RaiseAlarm(Alarm{Code: "test"}); return err },
		"AckAlarm":      func() error { _, err := s.AckAlarm(1, "admin"); return err },
		"RegisterKiosk": func() error { _, err := s.RegisterKiosk(Kiosk{ID: "K-1"}); return err },
	}
	order := []string{"Put", "Create", "Modify", "Delete", "PutMany", "RaiseAlarm", "AckAlarm", "RegisterKiosk"}
	for _, name := range order {
		before := syncs.Load()
		if err := writes[name](); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := syncs.Load() - before; n != 1 {
			t.Errorf("%s fsynced %d times through the store's descriptor, want 1", name, n)
		}
	}

	before := syncs.Load()
	boom := errors.New("changed my mind")
	if err := s.Update(func(tx *Tx) error {
		if err := tx.Put("thing", "b", 2); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("aborted Update: %v", err)
	}
	if err := s.Get("thing", "b", new(int)); !errors.Is(err, ErrNotFound) {
		t.Errorf("an aborted Update kept its write: %v", err)
	}
	if err := s.Create("thing", "a", 3); !errors.Is(err, ErrConflict) {
		t.Errorf("Create over an existing key: %v", err)
	}
	if err := s.Delete("thing", "absent"); err != nil {
		t.Errorf("Delete of an absent key: %v", err)
	}
	if n := syncs.Load() - before; n != 0 {
		t.Errorf("Updates that kept nothing fsynced %d times", n)
	}

	fail.Store(true)
	if err := s.Put("thing", "a", 9); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("Put with a failing fsync: %v", err)
	}
	fail.Store(false)
	for _, name := range order {
		if err := writes[name](); !errors.Is(err, ErrStorageFailed) {
			t.Errorf("%s after a failed fsync: %v, want ErrStorageFailed", name, err)
		}
	}
	if !errors.Is(s.Err(), ErrStorageFailed) {
		t.Errorf("Err: %v", s.Err())
	}
	s.Close()

	s, err = Open(dir, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Err(); err != nil {
		t.Fatalf("Err after reopening: %v", err)
	}
	if as, err := s.Alarms(10, false); err != nil || len(as) != 1 || as[0].AckedBy != "admin" {
		t.Fatalf("the alarm raised and acknowledged before the failure: %+v %v", as, err)
	}
	var k Kiosk
	if err := s.Get("kiosk", "K-1", &k); err != nil || k.TokenHash == "" {
		t.Fatalf("the kiosk registered before the failure: %+v %v", k, err)
	}
	if err := s.Put("thing", "c", 1); err != nil {
		t.Fatalf("Put after reopening: %v", err)
	}
}
