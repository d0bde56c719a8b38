// Package store is the command service's operational records: kiosks,
// users and sessions, sites (stalls, kitchens) and zones, alarms, and the
// assurance records, in one buntdb file. The test results are not here:
// they live in the result history (command/history, SQLite or
// PostgreSQL); a data directory of an earlier version, whose results are
// still result:<id> keys here, has them carried over at its first open
// ([Store.LegacyResults]).
//
// # Durability
//
// The file (DIR/command.db) uses SyncPolicy Always and is locked against a
// second process (DIR/LOCK). It is opened by internal/durable, as the
// kiosk's outbox is: before buntdb reads it, internal/aofsalvage checks it:
// a torn tail is cut off, a file buntdb would misread is rewritten, a
// damaged one is moved aside and replaced by every record salvaged from
// it, and an alarm is raised — the service never crash-loops
// on its own file. buntdb's auto-shrink is off (it renames a temporary file
// it never fsyncs); the file is compacted at open instead when it has grown
// to more than twice its records. One logical record is one key: nothing is
// derived from a second key written beside it, because a torn tail after a
// power cut can keep one and lose the other. The alarm counter is rebuilt
// from the records at every open, and so is buntdb's spatial index of the
// sites, which it does not persist.
//
// # Keys
//
//	result:<result_id>   wire.Result of an earlier version, until carried over
//	kiosk:<id>           Kiosk
//	user:<name>          User
//	session:<sha256>     Session            token:<sha256>   APIToken
//	loginlink:<sha256>   LoginLink
//	site:<id>            Site (stall, kitchen) with "loc":[lon,lat]
//	zone:<id>            Zone (GeoJSON geometry)
//	alarm:<20-digit seq> Alarm
//	<kind>:<id>          other records through Put/Get/List
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/internal/durable"
	"github.com/tidwall/buntdb"
	"github.com/tidwall/gjson"
)

// Errors.
var (
	ErrNotFound = errors.New("not found")
	ErrLocked   = dirlock.ErrLocked
	ErrConflict = errors.New("already exists")
)

// Options configures Open.
type Options struct {
	Now func() time.Time
	Log *slog.Logger
	// Sync is buntdb's sync policy (default Always). Tests of
	// non-durability paths may use Never.
	Sync *buntdb.SyncPolicy
	// Fault is a test seam: called before the fsync that follows a
	// durable write (op "sync"); a non-nil error is taken as the fsync
	// failing.
	Fault func(op string) error
}

// ErrStorageFailed means an fsync after a write failed: what is on the
// disk is unknown, so the store refuses the writes that check it until the
// service is restarted and reads the file back.
var ErrStorageFailed = errors.New("store: storage failure")

// Store is the command's database. It is safe for concurrent use.
type Store struct {
	opts Options
	dir  string
	lock *dirlock.Lock
	db   *buntdb.DB
	// file holds db and our own descriptor of it: buntdb discards fsync
	// errors (#122), so durable writes fsync through file.
	file   *durable.File
	failed error

	repairs []Alarm // what the salvage check did at open, raised once open

	mu       sync.RWMutex
	alarmSeq uint64
	legacy   int // result:<id> keys of an earlier version, not carried over yet
}

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	lk, err := dirlock.Acquire(dir, "shian-command")
	if err != nil {
		return nil, err
	}
	s := &Store{opts: opts, dir: dir, lock: lk}
	start := time.Now()
	if err := s.open(); err != nil {
		lk.Release()
		return nil, err
	}
	opts.Log.Info("store opened", "path", s.Path(), "legacy_results", s.legacy, "took", time.Since(start).Round(time.Millisecond))
	for _, a := range s.repairs {
		if _, err := s.RaiseAlarm(a); err != nil {
			opts.Log.Error("cannot store the storage alarm", "code", a.Code, "err", err)
		}
	}
	s.repairs = nil
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return filepath.Join(s.dir, "command.db") }

func (s *Store) open() error {
	f, err := durable.Open(s.Path(), durable.Options{
		Name: "store", Now: s.opts.Now, Log: s.opts.Log, CompactOver: 64 << 20, Sync: s.opts.Sync,
		Repaired: func(code, msg string) {
			s.repairs = append(s.repairs, Alarm{Code: code, Message: "指挥中心数据文件已修复 / command store repaired: " + msg})
		},
	})
	if err != nil {
		return err
	}
	// buntdb does not persist indexes: create them at every open.
	if err := f.DB.CreateSpatialIndex("sites", "site:*", s.siteRect); err != nil {
		f.Close()
		return err
	}
	s.db, s.file = f.DB, f
	if err := s.rebuild(); err != nil {
		f.Close()
		return err
	}
	return nil
}

// sync fsyncs the file through our descriptor; a failure puts the store in
// the failed state. Caller holds mu.
func (s *Store) sync() error {
	var err error
	if s.opts.Fault != nil {
		err = s.opts.Fault("sync")
	}
	if err == nil {
		err = s.file.Sync()
	}
	if err != nil {
		s.failed = fmt.Errorf("%w: fsync of %s failed (%v); nothing more is acknowledged until the service is restarted", ErrStorageFailed, s.Path(), err)
		s.opts.Log.Error("store: fsync failed; refusing further commits", "err", err)
		return s.failed
	}
	return nil
}

// siteRect extracts "loc":[lon,lat] from a site record for the spatial
// index. It runs inside Open during replay, so it never panics; a record
// without a valid location is simply not indexed.
//
// buntdb also passes query bounds through this function, so the bracket
// notation "[lon lat],[lon lat]" is handed to buntdb.IndexRect.
func (s *Store) siteRect(v string) (min, max []float64) {
	if strings.HasPrefix(v, "[") {
		return buntdb.IndexRect(v)
	}
	loc := gjson.Get(v, "loc")
	if !loc.IsArray() {
		return nil, nil
	}
	a := loc.Array()
	if len(a) != 2 || a[0].Type != gjson.Number || a[1].Type != gjson.Number {
		return nil, nil
	}
	lon, lat := a[0].Float(), a[1].Float()
	if !(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90) {
		return nil, nil
	}
	p := []float64{lon, lat}
	return p, p
}

// Close closes the database and releases the directory lock.
func (s *Store) Close() error {
	var err error
	if s.db != nil {
		err = s.file.Close()
		s.db = nil
	}
	if lerr := s.lock.Release(); err == nil {
		err = lerr
	}
	return err
}

// Put stores v as JSON under kind:id.
func (s *Store) Put(kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	return s.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(kind+":"+id, string(b), nil)
		return err
	})
}

// Create stores v under kind:id only if the key is new; else ErrConflict.
func (s *Store) Create(kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	return s.db.Update(func(tx *buntdb.Tx) error {
		if _, err := tx.Get(kind + ":" + id); err == nil {
			return fmt.Errorf("%s %q: %w", kind, id, ErrConflict)
		}
		_, _, err := tx.Set(kind+":"+id, string(b), nil)
		return err
	})
}

// Get loads kind:id into v; ErrNotFound when absent.
func (s *Store) Get(kind, id string, v any) error {
	var raw string
	err := s.db.View(func(tx *buntdb.Tx) error {
		var err error
		raw, err = tx.Get(kind + ":" + id)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(raw), v)
}

// Delete removes kind:id; deleting an absent key is not an error.
func (s *Store) Delete(kind, id string) error {
	err := s.db.Update(func(tx *buntdb.Tx) error {
		_, err := tx.Delete(kind + ":" + id)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil
	}
	return err
}

// Modify loads kind:id, calls fn on it and stores the result, atomically
// with respect to other Modify calls on the store. fn's error aborts.
func Modify[T any](s *Store, kind, id string, fn func(*T) error) (T, error) {
	var v T
	err := s.db.Update(func(tx *buntdb.Tx) error {
		raw, err := tx.Get(kind + ":" + id)
		if errors.Is(err, buntdb.ErrNotFound) {
			return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return fmt.Errorf("%s %q: stored record unreadable: %w", kind, id, err)
		}
		if err := fn(&v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, _, err = tx.Set(kind+":"+id, string(b), nil)
		return err
	})
	return v, err
}

// List calls fn for every record of kind in key order until fn returns
// false. Records that do not decode are skipped and logged.
func List[T any](s *Store, kind string, fn func(id string, v T) bool) error {
	prefix := kind + ":"
	return s.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys(prefix+"*", func(k, raw string) bool {
			var v T
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				s.opts.Log.Warn("skipping unreadable record", "key", k, "err", err)
				return true
			}
			return fn(strings.TrimPrefix(k, prefix), v)
		})
	})
}

// All returns every record of kind.
func All[T any](s *Store, kind string) ([]T, error) {
	var out []T
	err := List(s, kind, func(_ string, v T) bool { out = append(out, v); return true })
	return out, err
}
