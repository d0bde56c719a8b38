package store

import (
	"fmt"
	"io"

	"github.com/tidwall/buntdb"
)

// Check reports whether the store can serve: it is open, not in the
// failed state (an fsync failed), and answers a read. It is the store's
// part of the service's GET /readyz.
func (s *Store) Check() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
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
func (s *Store) Backup(w io.Writer) error {
	if s.isClosed() {
		return ErrClosed
	}
	if err := s.db.Save(w); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}
