// Package outbox is the kiosk's durable queue of results: every result is
// written here, fsynced, before the operator sees "saved", and stays until
// the command service has acknowledged storing it.
//
// # Storage rules
//
// The outbox is a buntdb file (DIR/outbox.db) with SyncPolicy Always and
// auto-shrink disabled, locked against a second process (DIR/LOCK). One
// result is one key, result:<20-digit seq>, holding the complete record as
// JSON; no key has a TTL (a Pi without a battery clock can jump years). The
// sequence counter is not stored: it is derived as max(seq)+1 when the file
// is opened, and pruning never deletes the newest record, so the counter
// can never go backwards. A boot counter (meta:boot_epoch) is incremented
// at every open.
//
// buntdb applies a multi-key transaction in one write(), but after a power
// cut a torn tail can keep some of its keys and not others. The only
// multi-key updates here are acknowledgements and pruning, and both are
// idempotent: a lost ack mark means a resend the command deduplicates.
//
// # Life of a record
//
//	Save ──▶ pending ──Ack──▶ acked ──Prune (after the history window)──▶ deleted
//	                 └─Reject─▶ rejected (kept for the operator, never resent)
package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/tidwall/buntdb"
)

// Record states.
const (
	StatePending  = "pending"
	StateAcked    = "acked"
	StateRejected = "rejected"
)

// Record is one stored result with its delivery state.
type Record struct {
	Result  wire.Result  `json:"result"`
	State   string       `json:"state"`
	SavedAt time.Time    `json:"saved_at"` // kiosk clock at the durable write
	AckedAt *time.Time   `json:"acked_at,omitempty"`
	Reject  *wire.Reject `json:"reject,omitempty"`
}

// Stats describes the queue for the operator's screen and the status
// message.
type Stats struct {
	Pending       int        `json:"pending"`
	Rejected      int        `json:"rejected"`
	OldestPending *time.Time `json:"oldest_pending,omitempty"`
	LastSeq       uint64     `json:"last_seq"`
	LastAck       *time.Time `json:"last_ack,omitempty"`
	// StorageErr is the last write error, empty when the last write
	// succeeded.
	StorageErr string `json:"storage_error,omitempty"`
}

// Options configures Open.
type Options struct {
	// KioskID is stamped on every saved result.
	KioskID string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// History is how long acknowledged results are kept for the
	// operator's history screen before Prune deletes them (default 72 h).
	History time.Duration
	// Log receives storage events (default slog.Default()).
	Log *slog.Logger
}

// ErrLocked is returned by Open when another process holds the data
// directory.
var ErrLocked = dirlock.ErrLocked

// ErrStorage wraps every failed durable write: the result was NOT saved
// and must not be shown as saved.
var ErrStorage = errors.New("outbox: storage write failed")

// Outbox is the durable result queue. It is safe for concurrent use.
type Outbox struct {
	opts Options
	dir  string
	lock *dirlock.Lock

	mu        sync.Mutex
	db        *buntdb.DB
	lastSeq   uint64
	bootEpoch uint64
	pending   map[uint64]time.Time // seq → saved at
	rejected  int
	lastAck   *time.Time
	storeErr  error
	changed   chan struct{}
}

const (
	keyBootEpoch = "meta:boot_epoch"
	resultPrefix = "result:"
)

func resultKey(seq uint64) string { return fmt.Sprintf("%s%020d", resultPrefix, seq) }

// Open opens (creating if needed) the outbox in dir, takes the directory
// lock, increments the boot counter and rebuilds the in-memory state.
func Open(dir string, opts Options) (*Outbox, error) {
	if opts.KioskID == "" {
		return nil, errors.New("outbox: KioskID is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.History <= 0 {
		opts.History = 72 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("outbox: create data directory: %w", err)
	}
	lk, err := dirlock.Acquire(dir, "shian-kiosk")
	if err != nil {
		return nil, err
	}
	o := &Outbox{opts: opts, dir: dir, lock: lk, pending: map[uint64]time.Time{}, changed: make(chan struct{}, 1)}
	if err := o.open(); err != nil {
		lk.Release()
		return nil, err
	}
	return o, nil
}

// Path returns the database file's path.
func (o *Outbox) Path() string { return filepath.Join(o.dir, "outbox.db") }

func (o *Outbox) open() error {
	db, err := buntdb.Open(o.Path())
	if err != nil {
		if errors.Is(err, buntdb.ErrInvalid) {
			return fmt.Errorf("outbox: %s is damaged (%v); move it aside and start again, or run the salvage tool", o.Path(), err)
		}
		return fmt.Errorf("outbox: open %s: %w", o.Path(), err)
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		db.Close()
		return err
	}
	cfg.SyncPolicy = buntdb.Always
	cfg.AutoShrinkDisabled = true
	if err := db.SetConfig(cfg); err != nil {
		db.Close()
		return err
	}
	o.db = db
	if err := o.rebuild(); err != nil {
		db.Close()
		return err
	}
	// The boot counter: one key, one Update.
	err = db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(keyBootEpoch)
		if err != nil && !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		o.bootEpoch = n + 1
		_, _, err = tx.Set(keyBootEpoch, strconv.FormatUint(o.bootEpoch, 10), nil)
		return err
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("%w: boot counter: %v", ErrStorage, err)
	}
	return nil
}

// rebuild derives the sequence counter and the pending set from the records.
func (o *Outbox) rebuild() error {
	return o.db.View(func(tx *buntdb.Tx) error {
		var bad error
		err := tx.AscendKeys(resultPrefix+"*", func(k, v string) bool {
			var rec Record
			if err := json.Unmarshal([]byte(v), &rec); err != nil {
				bad = fmt.Errorf("outbox: record %s is not valid JSON: %v", k, err)
				return false
			}
			seq := rec.Result.Seq
			if seq > o.lastSeq {
				o.lastSeq = seq
			}
			switch rec.State {
			case StatePending:
				o.pending[seq] = rec.SavedAt
			case StateRejected:
				o.rejected++
			case StateAcked:
				if rec.AckedAt != nil && (o.lastAck == nil || rec.AckedAt.After(*o.lastAck)) {
					t := *rec.AckedAt
					o.lastAck = &t
				}
			}
			return true
		})
		if bad != nil {
			return bad
		}
		return err
	})
}

// Close releases the database and the directory lock.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	if o.db != nil {
		err = o.db.Close()
		o.db = nil
	}
	if lerr := o.lock.Release(); err == nil {
		err = lerr
	}
	return err
}

// BootEpoch returns this start's boot counter.
func (o *Outbox) BootEpoch() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bootEpoch
}

// LastSeq returns the highest sequence number saved.
func (o *Outbox) LastSeq() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastSeq
}

// Changed returns a channel that receives a value after results are saved
// (coalesced: one value may stand for several saves).
func (o *Outbox) Changed() <-chan struct{} { return o.changed }

func (o *Outbox) signal() {
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// Save assigns r the next sequence number, this start's boot counter, the
// kiosk id and (if empty) a new result_id, and writes it durably. Only a
// nil error means the result is saved; on error nothing was saved and the
// returned error wraps ErrStorage.
func (o *Outbox) Save(r wire.Result) (wire.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return r, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	if r.ResultID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return r, fmt.Errorf("%w: result id: %v", ErrStorage, err)
		}
		r.ResultID = id.String()
	}
	r.KioskID = o.opts.KioskID
	r.Seq = o.lastSeq + 1
	r.BootEpoch = o.bootEpoch
	if r.MeasuredAt.IsZero() {
		r.MeasuredAt = o.opts.Now()
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("outbox: result not saved, it is invalid: %w", err)
	}
	now := o.opts.Now()
	rec := Record{Result: r, State: StatePending, SavedAt: now}
	b, err := json.Marshal(rec)
	if err != nil {
		return r, fmt.Errorf("%w: encode: %v", ErrStorage, err)
	}
	err = o.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(resultKey(r.Seq), string(b), nil)
		return err
	})
	if err != nil {
		o.storeErr = err
		o.opts.Log.Error("outbox write failed; result NOT saved", "seq", r.Seq, "err", err)
		return r, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	o.storeErr = nil
	o.lastSeq = r.Seq
	o.pending[r.Seq] = now
	o.signal()
	return r, nil
}

// PendingAfter returns up to max pending results with seq > after, in seq
// order.
func (o *Outbox) PendingAfter(after uint64, max int) ([]wire.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	var out []wire.Result
	var bad error
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendGreaterOrEqual("", resultKey(after+1), func(k, v string) bool {
			if len(k) < len(resultPrefix) || k[:len(resultPrefix)] != resultPrefix {
				return false
			}
			var rec Record
			if err := json.Unmarshal([]byte(v), &rec); err != nil {
				bad = fmt.Errorf("outbox: record %s: %v", k, err)
				return false
			}
			if rec.State == StatePending {
				out = append(out, rec.Result)
			}
			return len(out) < max
		})
	})
	if bad != nil {
		return nil, bad
	}
	return out, err
}

// Ack marks every pending result with seq ≤ upTo as acknowledged. It is
// idempotent.
func (o *Outbox) Ack(upTo uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return 0, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	var seqs []uint64
	for s := range o.pending {
		if s <= upTo {
			seqs = append(seqs, s)
		}
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	now := o.opts.Now()
	err := o.db.Update(func(tx *buntdb.Tx) error {
		for _, s := range seqs {
			v, err := tx.Get(resultKey(s))
			if err != nil {
				return fmt.Errorf("record %d: %w", s, err)
			}
			var rec Record
			if err := json.Unmarshal([]byte(v), &rec); err != nil {
				return fmt.Errorf("record %d: %w", s, err)
			}
			rec.State = StateAcked
			rec.AckedAt = &now
			b, _ := json.Marshal(rec)
			if _, _, err := tx.Set(resultKey(s), string(b), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		o.storeErr = err
		return 0, fmt.Errorf("%w: ack: %v", ErrStorage, err)
	}
	for _, s := range seqs {
		delete(o.pending, s)
	}
	o.lastAck = &now
	return len(seqs), nil
}

// Reject marks one result as refused by the command service. It is kept
// for the operator and never resent.
func (o *Outbox) Reject(rj wire.Reject) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	err := o.db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(resultKey(rj.Seq))
		if err != nil {
			return err
		}
		var rec Record
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			return err
		}
		if rec.Result.ResultID != rj.ResultID || rec.State != StatePending {
			return nil // not ours, or already settled
		}
		rec.State = StateRejected
		r := rj
		rec.Reject = &r
		b, _ := json.Marshal(rec)
		_, _, err = tx.Set(resultKey(rj.Seq), string(b), nil)
		if err == nil {
			o.rejected++
			delete(o.pending, rj.Seq)
		}
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: reject: %v", ErrStorage, err)
	}
	return nil
}

// Stats returns the queue state.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{Pending: len(o.pending), Rejected: o.rejected, LastSeq: o.lastSeq, LastAck: o.lastAck}
	for _, t := range o.pending {
		if s.OldestPending == nil || t.Before(*s.OldestPending) {
			t := t
			s.OldestPending = &t
		}
	}
	if o.storeErr != nil {
		s.StorageErr = o.storeErr.Error()
	}
	return s
}

// Recent returns up to n records, newest first, for the history screen.
func (o *Outbox) Recent(n int) ([]Record, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	var out []Record
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.DescendLessOrEqual("", resultKey(o.lastSeq), func(k, v string) bool {
			if len(k) < len(resultPrefix) || k[:len(resultPrefix)] != resultPrefix {
				return false
			}
			var rec Record
			if json.Unmarshal([]byte(v), &rec) == nil {
				out = append(out, rec)
			}
			return len(out) < n
		})
	})
	return out, err
}

// Get returns the record with the given result id (a linear scan of the
// local history; the outbox is small).
func (o *Outbox) Get(resultID string) (Record, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var found Record
	ok := false
	if o.db == nil {
		return found, false
	}
	_ = o.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys(resultPrefix+"*", func(k, v string) bool {
			var rec Record
			if json.Unmarshal([]byte(v), &rec) == nil && rec.Result.ResultID == resultID {
				found, ok = rec, true
				return false
			}
			return true
		})
	})
	return found, ok
}

// Prune deletes acknowledged results acked before now−History, except the
// newest record (which keeps the sequence counter). It returns how many it
// deleted.
func (o *Outbox) Prune() (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return 0, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	cutoff := o.opts.Now().Add(-o.opts.History)
	var del []string
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys(resultPrefix+"*", func(k, v string) bool {
			if k == resultKey(o.lastSeq) {
				return true
			}
			var rec Record
			if json.Unmarshal([]byte(v), &rec) == nil && rec.State == StateAcked && rec.AckedAt != nil && rec.AckedAt.Before(cutoff) {
				del = append(del, k)
			}
			return true
		})
	})
	if err != nil || len(del) == 0 {
		return 0, err
	}
	err = o.db.Update(func(tx *buntdb.Tx) error {
		for _, k := range del {
			if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%w: prune: %v", ErrStorage, err)
	}
	return len(del), nil
}
