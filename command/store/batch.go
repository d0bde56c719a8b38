package store

import (
	"encoding/json"
	"fmt"
)

// PutMany stores several records of one kind in one durable Update (one
// fsync instead of one per record), as an import of thousands of stalls
// needs. Each record is still one key, so a torn tail after a power cut can
// keep a prefix of the batch, never half a record; imports are idempotent,
// so rerunning one repairs it.
func PutMany[T any](s *Store, kind string, ids []string, vs []T) error {
	if len(ids) != len(vs) {
		return fmt.Errorf("store: PutMany: %d ids for %d records", len(ids), len(vs))
	}
	enc := make([]string, len(vs))
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("store: encode %s %s: %w", kind, ids[i], err)
		}
		enc[i] = string(b)
	}
	return s.Update(func(tx *Tx) error {
		for i, id := range ids {
			if err := tx.set(kind, id, enc[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
