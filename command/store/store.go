// Package store is the command service's operational records: kiosks,
// users and sessions, sites (stalls, kitchens) and zones, alarms, and the
// assurance records, in one buntdb file. The test results are not here:
// they live in the result history (command/history, SQLite or
// PostgreSQL). A data directory of an earlier version, whose results are
// still result:<id> keys here, has them carried over at its first open
// ([Store.LegacyResults], history.CarryOver).
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
// to more than twice its records.
//
// Every write goes through [Store.Update]: it refuses once the store has
// failed, and
// before it returns it fsyncs the file through our own descriptor, because
// buntdb throws its fsync error away (tidwall/buntdb#122). A failed fsync
// fails the store: every later write returns [ErrStorageFailed], /healthz
// reports it, and the service must be restarted to read the file back. So
// an incident's 销号, an alarm or a kiosk's new token is reported done only
// once it is on disk. One logical record is one key: nothing is derived
// from a second key written beside it, because a torn tail after a power
// cut can keep one and lose the other. The alarm counter is rebuilt from
// the records at every open, and so is buntdb's spatial index of the
// sites, which it does not persist.
//
// # Two backends: buntdb, and PostgreSQL for cluster mode
//
// [Open] keeps the records in DIR/command.db (buntdb), as above: one
// service per data directory. [OpenPostgres] keeps them in a PostgreSQL
// database — the service does so when --db names one (cluster mode), the
// database that also holds the result history — so that several command
// services share them. Everything above the backend is the same code:
// [Tx], [Modify], [List], the kiosk tokens, alarms, audit, rule books and
// the sites' map queries, written against a small internal interface
// (kv, backend.go) with one implementation per backend.
//
// On PostgreSQL the records are rows of records(kind, id, val) with
// kind:id the primary key (ids compare bytewise, COLLATE "C", as buntdb's
// keys do). An [Store.Update] is one SQL transaction: READ COMMITTED, and
// every row Get reads in it locked FOR UPDATE until it commits, so a
// read-modify-write ([Modify]) is never lost to another instance's; Create
// is INSERT … ON CONFLICT DO NOTHING, so of two instances creating the
// same record exactly one gets nil and the other [ErrConflict]. A
// deadlock (40P01) or serialization failure (40001) re-runs fn in a new
// transaction. Rows read by Each or FirstKey inside an Update are not
// locked: a function that decides on a set of records must lock one row
// it Gets (or Create a record keyed by what must be unique). The alarm and
// audit numbers come from the sequences records_alarm_seq and
// records_audit_seq (unique across instances; a rolled-back transaction
// leaves a gap); the alarm lists and counts are read from the table at
// every call. A site's location is kept in two columns beside its JSON,
// written with it, and SitesIn queries them: a site another instance
// added is on the map at once. Durability is PostgreSQL's: Update returns
// after its COMMIT; ErrStorageFailed and the fsync seam are buntdb's.
//
// The store keeps no cache of records on either backend. Change hooks
// carry writes to the rest of the service and to other instances:
// [Store.OnChange] sees the kind:id keys of every committed Update (the
// cluster bus publishes them), [Store.Changed] takes the keys another
// instance wrote and calls the local watchers ([Store.OnKioskChange]).
//
// Backup and Check: on PostgreSQL Check queries the table, and Backup
// writes the records of one snapshot in the buntdb file format (a copy a
// single instance can open). The cluster's backup is pg_dump of the
// database — records, history and sequences together; `shian-command
// backup` refuses in cluster mode and says so.
//
// Which store owns what in cluster mode, and how a crash between the
// records and the history is recovered: the history owns the results
// (dedupe by result_id, rx_seq, each kiosk's acked_up_to); this store
// owns everything else (kiosks, users, sessions, tokens, sites, zones,
// alarms, audit, rule books, the engine's incidents and marks). They are
// written in separate transactions, the result first: a crash after the
// result's commit and before the engine's record leaves a result with no
// incident, which the engine's Recover sweep (at the start of whichever
// instance leads next) opens. One incident per result is the database's
// doing, not the leader's: the engine claims incident-by-result:<id> with
// Create in the transaction that stores the incident (and takes its
// number from a counter row, and stores its alarm with [Tx.RaiseAlarm]),
// so two engines at once still open one (command/engine, once.go). A
// crash before the result's commit acks nothing: the kiosk resends.
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
//	audit:<20-digit seq> AuditEntry: who did what from where (command/api's audit log)
//	rulebook:<20-digit version> assay.Book, one key per version, never rewritten
//	<kind>:<id>          other records through Put/Get/List
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/internal/durable"
	"github.com/tidwall/buntdb"
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
	// Fault is a test seam: called before the fsync that follows every
	// Update that wrote (op "sync"); a non-nil error is taken as the
	// fsync failing.
	Fault func(op string) error
}

// ErrStorageFailed means an fsync after a write failed: what is on the
// disk is unknown, so the store refuses every later Update (nothing more
// is reported done) until the service is restarted and reads the file
// back.
var ErrStorageFailed = errors.New("store: storage failure")

// ErrClosed is returned by a read or a write after Close: the service is
// stopping (a request still in flight when it stops gets it, never a
// crash).
var ErrClosed = errors.New("store: closed; the command service is stopping")

// Store is the command's database. It is safe for concurrent use.
type Store struct {
	opts Options
	dir  string
	lock *dirlock.Lock
	db   *buntdb.DB
	// file holds db and our own descriptor of it: buntdb discards fsync
	// errors (#122), so Update fsyncs through file before it returns.
	file   *durable.File
	failed error
	closed bool // after Close: reads and writes return ErrClosed

	repairs []Alarm // what the salvage check did at open, raised once open
	rects   geo.RectStats

	// mu serialises the writers (Update) with each other and guards
	// failed, closed and the counters below.
	mu       sync.RWMutex
	onKiosk  []func(id string)     // called after a durable write changed kiosk:<id>
	onChange []func(keys []string) // called after every committed Update that wrote
	alarmSeq uint64                // buntdb only: PostgreSQL numbers from its sequences
	auditSeq uint64
	legacy   int // result:<id> keys of an earlier version, not carried over yet

	// pg is the PostgreSQL backend (OpenPostgres); nil for buntdb, whose
	// db, file and lock are the fields above.
	pg *pgBackend
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
	if n := s.rects.Skipped(); n > 0 {
		opts.Log.Warn("sites without a valid location are not on the spatial index", "sites", n)
	}
	for _, a := range s.repairs {
		if _, err := s.RaiseAlarm(a); err != nil {
			opts.Log.Error("cannot store the storage alarm", "code", a.Code, "err", err)
		}
	}
	s.repairs = nil
	return s, nil
}

// Path returns the database file's path (for PostgreSQL, a description of
// the database without its password).
func (s *Store) Path() string {
	if s.pg != nil {
		return s.pg.desc
	}
	return filepath.Join(s.dir, "command.db")
}

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
	// The sites' "loc":[lon,lat], through geo's rect function (it never
	// panics; a record without a valid location is counted, not indexed).
	if err := f.DB.CreateSpatialIndex("sites", "site:*", s.rects.Rect); err != nil {
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
		s.opts.Log.Error("store: fsync failed; refusing further writes", "err", err)
		return s.failed
	}
	return nil
}

// Err returns nil while the store is healthy, and the ErrStorageFailed
// error (with the failed fsync's cause) once a write's fsync failed: the
// service must then be restarted. Health checks report it.
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.failed
}

// Close closes the database and releases the directory lock.
func (s *Store) Close() error {
	s.mu.Lock()
	var err error
	if !s.closed {
		switch {
		case s.pg != nil:
			s.pg.close()
		case s.db != nil:
			err = s.file.Close()
		}
	}
	s.closed = true
	s.mu.Unlock()
	if s.lock != nil {
		if lerr := s.lock.Release(); err == nil {
			err = lerr
		}
	}
	return err
}

// Tx is one Update's (or View's) access to the records: reads see the
// transaction's own writes. It is valid only inside the function it was
// passed to.
type Tx struct {
	kv       kv
	s        *Store
	readOnly bool
	wrote    bool
	keys     []string          // kind:id of every record written or deleted
	seqs     map[string]uint64 // buntdb: the counters this transaction took
}

var errReadOnly = errors.New("store: write in a read-only transaction (View)")

func (t *Tx) touched(kind, id string) {
	t.wrote = true
	if k := kind + ":" + id; !slices.Contains(t.keys, k) {
		t.keys = append(t.keys, k)
	}
}

// Get loads kind:id into v; ErrNotFound when absent. Inside an Update on
// PostgreSQL the row is locked (SELECT … FOR UPDATE) until the
// transaction ends, so a read-modify-write is never lost to another
// instance's.
func (t *Tx) Get(kind, id string, v any) error {
	raw, ok, err := t.kv.get(kind, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("%s %q: stored record unreadable: %w", kind, id, err)
	}
	return nil
}

// Put stores v as JSON under kind:id.
func (t *Tx) Put(kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	return t.set(kind, id, string(b))
}

// Create stores v under kind:id only if the key is new; else ErrConflict.
// On PostgreSQL the conflict is the primary key's: of two instances
// creating the same record at once exactly one succeeds.
func (t *Tx) Create(kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	return t.create(kind, id, string(b))
}

func (t *Tx) create(kind, id, val string) error {
	if t.readOnly {
		return errReadOnly
	}
	ok, err := t.kv.create(kind, id, val)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %q: %w", kind, id, ErrConflict)
	}
	t.touched(kind, id)
	return nil
}

// Delete removes kind:id; deleting an absent key is not an error.
func (t *Tx) Delete(kind, id string) error {
	if t.readOnly {
		return errReadOnly
	}
	ok, err := t.kv.del(kind, id)
	if ok {
		t.touched(kind, id)
	}
	return err
}

// FirstKey returns the id of the first record of kind whose id begins
// with prefix; ErrNotFound when there is none.
func (t *Tx) FirstKey(kind, prefix string) (string, error) {
	var id string
	err := t.kv.ascend(kind, prefix, func(k, _ string) bool {
		if strings.HasPrefix(k, prefix) {
			id = k
		}
		return false
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("%s %q…: %w", kind, prefix, ErrNotFound)
	}
	return id, nil
}

// Each calls fn with the id and stored JSON of every record of kind, in
// key order, until fn returns an error (which Each returns). fn must not
// write through t (collect, then write).
func (t *Tx) Each(kind string, fn func(id string, raw []byte) error) error {
	var ferr error
	err := t.kv.ascend(kind, "", func(id, v string) bool {
		ferr = fn(id, []byte(v))
		return ferr == nil
	})
	if err != nil {
		return err
	}
	return ferr
}

func (t *Tx) set(kind, id, val string) error {
	if t.readOnly {
		return errReadOnly
	}
	if err := t.kv.set(kind, id, val); err != nil {
		return err
	}
	t.touched(kind, id)
	return nil
}

// nextSeq takes the next number of counter name ("alarm", "audit"): on
// PostgreSQL from its sequence (unique across instances; a rolled-back
// transaction leaves a gap), on buntdb from the counter rebuilt at open,
// advanced when the Update commits.
func (t *Tx) nextSeq(name string) (uint64, error) {
	if t.s.pg != nil {
		return t.kv.(*pgKV).nextSeq(name)
	}
	if t.seqs == nil {
		t.seqs = map[string]uint64{}
	}
	cur := t.seqs[name]
	if cur == 0 {
		cur = *t.s.counter(name)
	}
	t.seqs[name] = cur + 1
	return cur + 1, nil
}

// counter is the buntdb counter of name. Caller holds mu.
func (s *Store) counter(name string) *uint64 {
	if name == "audit" {
		return &s.auditSeq
	}
	return &s.alarmSeq
}

// Update runs fn in one read-write transaction and makes what it wrote
// durable before returning: every write to the store goes through here
// (Put, Create, Delete, Modify, PutMany, RaiseAlarm, RegisterKiosk, and
// the sessions, tokens and login links of command/auth).
//
// When fn returns an error nothing it wrote is kept. When Update returns
// nil the writes are durable. On buntdb they were fsynced through our own
// descriptor, whose error — unlike buntdb's — is not thrown away; a
// failed fsync puts the store in the failed state: that Update and every
// later one return ErrStorageFailed until the service is restarted and
// reads the file back. On PostgreSQL the Update is one SQL transaction
// (READ COMMITTED, the rows Get reads locked FOR UPDATE) and returns after
// its COMMIT. A caller must not report a write as done unless Update
// returned nil.
//
// On buntdb, Updates are serialised with each other. On PostgreSQL they
// run concurrently (also with other instances'), and when the database
// aborts one to break a deadlock (40P01) or a serialization failure
// (40001) fn is run again in a new transaction, up to a few times: fn
// must touch nothing but tx and its own variables, and reset those it
// appends to. fn must not call other methods of the Store (they would
// wait on the transaction it is in): read and write through tx.
func (s *Store) Update(fn func(tx *Tx) error) error {
	var keys []string
	var err error
	if s.pg != nil {
		s.mu.RLock()
		closed := s.closed
		s.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		keys, err = s.pg.update(s, fn)
	} else {
		s.mu.Lock()
		keys, err = s.updateTx(fn)
		s.mu.Unlock()
	}
	if err == nil && len(keys) > 0 {
		s.fire(keys, true)
	}
	return err
}

// fire calls the hooks for keys: the kiosk hooks with every kiosk:<id>,
// and, for a local commit, the change hooks with all of them.
func (s *Store) fire(keys []string, local bool) {
	s.mu.RLock()
	kh, ch := s.onKiosk, s.onChange
	s.mu.RUnlock()
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, "kiosk:"); ok {
			for _, h := range kh {
				h(id)
			}
		}
	}
	if local {
		for _, h := range ch {
			h(keys)
		}
	}
}

// OnKioskChange registers fn to be called, after the write is durable and
// outside the store's lock, with the id of every kiosk record an Update
// wrote or deleted — whichever path wrote it (the API, a command-line
// tool in this process, a test) — and with every kiosk:<id> key passed to
// [Store.Changed] (a write of another instance). The kiosk ingest uses it
// to close the link of a kiosk that was re-registered, disabled or
// deleted at once. fn may read the store; it must not block for long.
func (s *Store) OnKioskChange(fn func(id string)) {
	s.mu.Lock()
	s.onKiosk = append(s.onKiosk, fn)
	s.mu.Unlock()
}

// OnChange registers fn to be called after every Update of this process
// that committed a write, outside the store's lock, with the kind:id keys
// it wrote or deleted. In cluster mode the service publishes them to the
// other instances (command/cluster, LISTEN/NOTIFY), which pass them to
// their own [Store.Changed]. fn must not block for long.
func (s *Store) OnChange(fn func(keys []string)) {
	s.mu.Lock()
	s.onChange = append(s.onChange, fn)
	s.mu.Unlock()
}

// Changed tells the store that another instance committed writes to keys
// (kind:id): it calls the local hooks that watch those records (the
// kiosk hooks, so a kiosk disabled on instance A loses its link on B), but
// not the OnChange hooks (the notice came from elsewhere; it is not
// published again). The store keeps no cache of records: every read after
// a notice sees the database.
func (s *Store) Changed(keys []string) {
	if len(keys) > 0 {
		s.fire(keys, false)
	}
}

// updateTx is the buntdb Update; caller holds mu.
func (s *Store) updateTx(fn func(tx *Tx) error) ([]string, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.failed != nil {
		return nil, s.failed
	}
	var t *Tx
	err := s.db.Update(func(btx *buntdb.Tx) error {
		t = &Tx{kv: buntKV{btx}, s: s}
		return fn(t)
	})
	if err != nil || !t.wrote {
		return nil, err
	}
	if err := s.sync(); err != nil {
		return nil, err
	}
	for name, v := range t.seqs {
		*s.counter(name) = v
	}
	return t.keys, nil
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// View runs fn in a read-only transaction: a consistent view of the
// records (on PostgreSQL, REPEATABLE READ READ ONLY). Writes through tx
// fail. fn must not call other methods of the Store.
func (s *Store) View(fn func(tx *Tx) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	return s.view(func(k kv) error { return fn(&Tx{kv: k, s: s, readOnly: true}) })
}

func (s *Store) view(fn func(kv) error) error {
	if s.pg != nil {
		return s.pg.view(fn)
	}
	return s.db.View(func(btx *buntdb.Tx) error { return fn(buntKV{btx}) })
}

// Put stores v as JSON under kind:id, durably (see Update).
func (s *Store) Put(kind, id string, v any) error {
	return s.Update(func(tx *Tx) error { return tx.Put(kind, id, v) })
}

// Create stores v under kind:id only if the key is new; else ErrConflict.
func (s *Store) Create(kind, id string, v any) error {
	return s.Update(func(tx *Tx) error { return tx.Create(kind, id, v) })
}

// Get loads kind:id into v; ErrNotFound when absent.
func (s *Store) Get(kind, id string, v any) error {
	return s.View(func(tx *Tx) error { return tx.Get(kind, id, v) })
}

// Delete removes kind:id; deleting an absent key is not an error.
func (s *Store) Delete(kind, id string) error {
	return s.Update(func(tx *Tx) error { return tx.Delete(kind, id) })
}

// Modify loads kind:id, calls fn on it and stores the result in one
// Update. fn's error aborts and keeps nothing; fn must not call the Store
// (and may be run again on PostgreSQL, see Update).
func Modify[T any](s *Store, kind, id string, fn func(*T) error) (T, error) {
	var v T
	err := s.Update(func(tx *Tx) error {
		v = *new(T)
		if err := tx.Get(kind, id, &v); err != nil {
			return err
		}
		if err := fn(&v); err != nil {
			return err
		}
		return tx.Put(kind, id, v)
	})
	return v, err
}

// List calls fn for every record of kind in key order until fn returns
// false. Records that do not decode are skipped and logged. fn runs inside
// a read transaction: it must not call the Store (a writer waiting on the
// transaction holds the lock the index reads need); collect, then act.
func List[T any](s *Store, kind string, fn func(id string, v T) bool) error {
	if s.isClosed() {
		return ErrClosed
	}
	return s.view(func(k kv) error {
		return k.ascend(kind, "", func(id, raw string) bool {
			var v T
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				s.opts.Log.Warn("skipping unreadable record", "key", kind+":"+id, "err", err)
				return true
			}
			return fn(id, v)
		})
	})
}

// All returns every record of kind.
func All[T any](s *Store, kind string) ([]T, error) {
	var out []T
	err := List(s, kind, func(_ string, v T) bool { out = append(out, v); return true })
	return out, err
}
