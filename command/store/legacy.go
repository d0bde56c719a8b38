package store

import (
	"fmt"
	"strconv"
)

// rebuild reads what the store derives from its records at open: the
// alarm and audit counters (buntdb only; PostgreSQL numbers from its
// sequences), and how many results of an earlier version wait to be
// carried into the history.
func (s *Store) rebuild() error {
	return s.view(func(tx kv) error {
		err := tx.ascend("result", "", func(string, string) bool {
			s.legacy++
			return true
		})
		if err != nil || s.pg != nil {
			return err
		}
		err = tx.descend("alarm", "", true, func(id, _ string) bool {
			s.alarmSeq, _ = strconv.ParseUint(id, 10, 64)
			return false
		})
		if err != nil {
			return err
		}
		return tx.descend("audit", "", true, func(id, _ string) bool {
			s.auditSeq, _ = strconv.ParseUint(id, 10, 64)
			return false
		})
	})
}

// LegacyCount returns how many results of an earlier version (keys
// result:<id>) the store held at open, less those dropped since.
func (s *Store) LegacyCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.legacy
}

// LegacyResults returns up to n results of an earlier version, as stored
// (key without its "result:" prefix, and the JSON), in key order after
// the key after ("" for the first). It holds no transaction between calls.
func (s *Store) LegacyResults(after string, n int) (ids, raws []string, err error) {
	err = s.view(func(tx kv) error {
		return tx.ascend("result", after, func(id, v string) bool {
			if id == after && after != "" {
				return true
			}
			ids, raws = append(ids, id), append(raws, v)
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
	n := 0
	err := s.Update(func(tx *Tx) error {
		n = 0
		for _, id := range ids {
			ok, err := tx.kv.del("result", id)
			if err != nil {
				return err
			}
			if ok {
				n++
				tx.wrote = true
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: drop %d carried-over results: %w", len(ids), err)
	}
	s.mu.Lock()
	s.legacy -= n
	s.mu.Unlock()
	return nil
}
