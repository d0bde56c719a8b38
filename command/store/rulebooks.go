package store

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// ruleBookKey is the key of one rule-book version.
func ruleBookKey(v uint64) string { return "rulebook:" + ruleBookID(v) }

func ruleBookID(v uint64) string { return fmt.Sprintf("%020d", v) }

// PutRuleBook stores a new rule-book version durably (fsynced through the
// store's own descriptor before it returns). A version is written once:
// storing one that exists is ErrConflict.
func (s *Store) PutRuleBook(b assay.Book) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("store: encode rule book %d: %w", b.Version, err)
	}
	return s.Update(func(t *Tx) error {
		err := t.create("rulebook", ruleBookID(b.Version), string(raw))
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("rule book version %d: %w", b.Version, ErrConflict)
		}
		return err
	})
}

// RuleBooks returns every stored rule-book version, oldest first. A
// version that does not decode is skipped and logged.
func (s *Store) RuleBooks() ([]assay.Book, error) {
	var out []assay.Book
	err := s.View(func(t *Tx) error {
		return t.kv.ascend("rulebook", "", func(id, v string) bool {
			k := "rulebook:" + id
			var b assay.Book
			if err := json.Unmarshal([]byte(v), &b); err != nil || ruleBookKey(b.Version) != k {
				s.opts.Log.Error("skipping unreadable rule book", "key", k, "err", err)
				return true
			}
			out = append(out, b)
			return true
		})
	})
	return out, err
}
