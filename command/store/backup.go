package store

import (
	"fmt"
	"io"

	"github.com/tidwall/buntdb"
)

// Check reports whether the store can serve: it is open, not in the
// failed state (an fsync failed), and answers a read (on PostgreSQL, a
// query of the records table within 5 s). It is the store's part of the
// service's GET /readyz.
func (s *Store) Check() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	if s.pg != nil {
		return s.pg.check()
	}
	return s.db.View(func(tx *buntdb.Tx) error {
		_, err := tx.Len()
		return err
	})
}

// Backup writes a consistent copy of the store to w while the service
// runs: buntdb's Save writes every record as of one instant, under the
// database's read lock, in the file format Open reads (commits wait
// while it writes; reads do not). The copy is a compact file: every
// record once, no history. Restore it by writing it to DIR/command.db of
// a data directory no service holds.
//
// On PostgreSQL (cluster mode) Backup writes the records table, as of one
// snapshot (REPEATABLE READ), in the same buntdb file format: a copy a
// single instance can open, or one to inspect. It is not the cluster's
// backup: that is pg_dump of the whole database (records, result history
// and sequences together), the city's tool for its PostgreSQL.
func (s *Store) Backup(w io.Writer) error {
	if s.isClosed() {
		return ErrClosed
	}
	if s.pg != nil {
		return s.pgBackup(w)
	}
	if err := s.db.Save(w); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// pgBackup copies the records into an in-memory buntdb and saves that.
func (s *Store) pgBackup(w io.Writer) error {
	mem, err := buntdb.Open(":memory:")
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer mem.Close()
	err = mem.Update(func(mtx *buntdb.Tx) error {
		return s.pg.view(func(k kv) error {
			return k.(*pgKV).all(func(kind, id, val string) error {
				_, _, err := mtx.Set(kind+":"+id, val, nil)
				return err
			})
		})
	})
	if err == nil {
		err = mem.Save(w)
	}
	if err != nil {
		return fmt.Errorf("store: backup of %s: %w", s.Path(), err)
	}
	return nil
}
