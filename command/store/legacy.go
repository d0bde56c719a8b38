package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/buntdb"
)

// rebuild reads what the store derives from its records at open: the
// alarm and audit counters, and how many results of an earlier version wait to be
// carried into the history.
func (s *Store) rebuild() error {
	return s.db.View(func(tx *buntdb.Tx) error {
		err := tx.AscendKeys("result:*", func(k, v string) bool {
			s.legacy++
			return true
		})
		if err != nil {
			return err
		}
		err = tx.DescendKeys("alarm:*", func(k, v string) bool {
			n, _ := strconv.ParseUint(k[len("alarm:"):], 10, 64)
			s.alarmSeq = n
			return false
		})
		if err != nil {
			return err
		}
		return tx.DescendKeys("audit:*", func(k, v string) bool {
			n, _ := strconv.ParseUint(k[len("audit:"):], 10, 64)
			s.auditSeq = n
			return false
		})
	})
}

// LegacyCount returns how many results of an earlier version (keys
// result:<id>) the file holds.
func (s *Store) LegacyCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.legacy
}

// LegacyResults returns up to n results of an earlier version, as stored
// (key without its "result:" prefix, and the JSON), in key order after
// the key after ("" for the first). It holds no transaction between calls.
func (s *Store) LegacyResults(after string, n int) (ids, raws []string, err error) {
	from := "result:" + after
	err = s.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendGreaterOrEqual("", from, func(k, v string) bool {
			if k == from && after != "" {
				return true
			}
			if !strings.HasPrefix(k, "result:") {
				return false
			}
			ids, raws = append(ids, k[len("result:"):]), append(raws, v)
			return len(ids) < n
		})
	})
	return ids, raws, err
}

// DropLegacyResults deletes carried-over results of an earlier version, in
// one Update (durable, and refused once the store has failed).
func (s *Store) DropLegacyResults(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	err := s.update(func(tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.tx.Delete("result:" + id); err == nil {
				n++
				tx.wrote = true
			} else if !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: drop %d carried-over results: %w", len(ids), err)
	}
	s.legacy -= n
	return nil
}
