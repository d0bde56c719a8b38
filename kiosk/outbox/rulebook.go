package outbox

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/tidwall/buntdb"
)

// SaveRuleBook keeps the command's rule book durably (one key, fsynced
// like a result), so that the kiosk decides with it after a restart with
// the network down. It replaces the book kept before.
func (o *Outbox) SaveRuleBook(b assay.Book) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("outbox: encode rule book: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return fmt.Errorf("%w: outbox closed", ErrStorage)
	}
	if o.failed != nil {
		return o.failed
	}
	return o.update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(keyRuleBook, string(raw), nil)
		return err
	})
}

// RuleBook returns the rule book kept by SaveRuleBook; ok is false when the
// kiosk never had one. A kept book that cannot be read is reported as an
// error (the kiosk then decides with its built-in rules and says so).
func (o *Outbox) RuleBook() (b assay.Book, ok bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return b, false, fmt.Errorf("%w: outbox closed", ErrStorage)
	}
	var raw string
	err = o.db.View(func(tx *buntdb.Tx) error {
		var err error
		raw, err = tx.Get(keyRuleBook)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return assay.Book{}, false, fmt.Errorf("outbox: the kept rule book cannot be read: %w", err)
	}
	return b, true, nil
}
