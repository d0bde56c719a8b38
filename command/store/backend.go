package store

import (
	"errors"
	"strings"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/geo"
	"github.com/tidwall/buntdb"
)

// kv is one transaction's access to the records, the part of a backend
// that [Tx] and the typed helpers above it are written against: buntdb's
// transaction (buntKV) or a PostgreSQL transaction (pgKV, postgres.go).
// Records are addressed by kind and id; ids of one kind are ordered
// bytewise in both backends.
type kv interface {
	get(kind, id string) (val string, ok bool, err error)
	set(kind, id, val string) error
	// create stores val only if kind:id is absent; false when it exists.
	create(kind, id, val string) (bool, error)
	// del removes kind:id; false when it was absent.
	del(kind, id string) (bool, error)
	// ascend calls fn for the records of kind with id >= from, in id
	// order, until fn returns false.
	ascend(kind, from string, fn func(id, val string) bool) error
	// descend calls fn for the records of kind with id <= upto (every
	// record when all), in reverse id order, until fn returns false.
	descend(kind, upto string, all bool, fn func(id, val string) bool) error
	// sitesIn calls fn with every site whose location lies in b.
	sitesIn(b orb.Bound, fn func(val string) bool) error
}

// buntKV is kv over one buntdb transaction.
type buntKV struct{ tx *buntdb.Tx }

func bkey(kind, id string) string { return kind + ":" + id }

func (b buntKV) get(kind, id string) (string, bool, error) {
	v, err := b.tx.Get(bkey(kind, id))
	if errors.Is(err, buntdb.ErrNotFound) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (b buntKV) set(kind, id, val string) error {
	_, _, err := b.tx.Set(bkey(kind, id), val, nil)
	return err
}

func (b buntKV) create(kind, id, val string) (bool, error) {
	if _, err := b.tx.Get(bkey(kind, id)); err == nil {
		return false, nil
	}
	return true, b.set(kind, id, val)
}

func (b buntKV) del(kind, id string) (bool, error) {
	_, err := b.tx.Delete(bkey(kind, id))
	if errors.Is(err, buntdb.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (b buntKV) ascend(kind, from string, fn func(id, val string) bool) error {
	prefix := kind + ":"
	return b.tx.AscendGreaterOrEqual("", prefix+from, func(k, v string) bool {
		id, ok := strings.CutPrefix(k, prefix)
		return ok && fn(id, v)
	})
}

func (b buntKV) descend(kind, upto string, all bool, fn func(id, val string) bool) error {
	prefix := kind + ":"
	if all {
		return b.tx.DescendKeys(prefix+"*", func(k, v string) bool { return fn(strings.TrimPrefix(k, prefix), v) })
	}
	return b.tx.DescendLessOrEqual("", prefix+upto, func(k, v string) bool {
		id, ok := strings.CutPrefix(k, prefix)
		return ok && fn(id, v)
	})
}

func (b buntKV) sitesIn(bd orb.Bound, fn func(val string) bool) error {
	return b.tx.Intersects("sites", geo.RectString(bd), func(_, v string) bool { return fn(v) })
}
