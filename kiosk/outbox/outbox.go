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
// # What "saved" means
//
// Save returns nil only when buntdb's write() returned without error and
// our own fsync of the file did too. buntdb (SyncPolicy Always) calls
// fsync but discards its error (buntdb #122), so the outbox holds a second
// descriptor of the file, opened at Open, and fsyncs it after every save:
// Linux reports a writeback error to every descriptor open when it
// happened, so ours sees what buntdb threw away. The failure modes:
//
//   - the write fails (ENOSPC: a full SD card): buntdb truncates what it
//     wrote and rolls back; Save returns ErrDiskFull (or ErrStorage), the
//     screen refuses tests, and the next Save simply tries again, so the
//     kiosk resumes by itself when space returns;
//   - the fsync fails (EIO: a failing card): the record's fate on the
//     media is unknown. Save returns ErrStorageFailed, removes the record
//     from the queue (best effort), and refuses every later Save until the
//     kiosk is restarted and the file is read back from the card.
//
// Options.Fault is the seam through which tests fail the N-th write or
// fsync.
//
// # Opening a damaged file
//
// The file is opened by internal/durable (as the command's store is):
// before buntdb reads it, internal/aofsalvage checks it: a torn tail is cut
// off (and kept beside the file), a file buntdb would misread is rewritten, and a damaged one is moved aside and replaced by every record
// salvaged from it. The kiosk never crash-loops on its own file; what was
// done is reported once by TakeAlarms (code storage_salvaged and friends)
// for the uplink to send to the command. A record whose JSON does not
// decode, or whose key does not match its seq, is left in place, skipped
// and reported (storage_damaged_record).
//
// # Instrument reports seen twice
//
// An instrument that repeats a report until the kiosk acknowledges it
// (kiosk/device/dyenzyme) repeats it again after a kiosk crash that fell
// between the save and the acknowledgement. SaveOnce takes the report's
// origin (instrument, serial, record number and content) and returns the
// record already saved for it instead of saving a second one.
//
// # Life of a record
//
//	Save ──▶ pending ──Ack──▶ acked ──Prune (after the history window)──▶ deleted
//	                 └─Reject─▶ rejected (kept for the operator, never resent)
//
// An acked record is still sent again when the command shows it lost it
// (HeldAfter): until it is pruned, the kiosk is the command's second copy.
package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/internal/durable"
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
	// Origin identifies the instrument report the result came from (see
	// SaveOnce); empty for manual entries.
	Origin string `json:"origin,omitempty"`
	// Sum is the result's fingerprint when it was saved: buntdb keeps no
	// checksum, and a flipped byte inside a value would otherwise go
	// unnoticed (a record that fails it is skipped and reported).
	Sum string `json:"sum,omitempty"`
}

// whole reports whether a decoded record is intact: a known state and,
// when it has one, a matching sum.
func (rec *Record) whole() bool {
	switch rec.State {
	case StatePending, StateAcked, StateRejected:
	default:
		return false
	}
	return rec.Sum == "" || rec.Sum == rec.Result.Fingerprint()
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
	// succeeded (and the storage has not failed).
	StorageErr string `json:"storage_error,omitempty"`
	// Damaged counts records that could not be read at open (skipped).
	Damaged int `json:"damaged,omitempty"`
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
	// Fault is a test seam: when set it is called before every durable
	// write with op "write" and before every fsync with op "sync"; a
	// non-nil error is taken as that operation failing with it (the write
	// is then not attempted, as buntdb rolls a failed write back).
	Fault func(op string) error
}

// ErrLocked is returned by Open when another process holds the data
// directory.
var ErrLocked = dirlock.ErrLocked

// ErrStorage wraps every failed durable write: the result was NOT saved
// and must not be shown as saved.
var ErrStorage = errors.New("outbox: storage write failed")

// ErrDiskFull is a failed write for lack of space (it wraps ErrStorage).
// Nothing is wrong with what is stored; saving works again as soon as
// there is room.
var ErrDiskFull = fmt.Errorf("%w: 存储空间已满 / disk full", ErrStorage)

// ErrStorageFailed means an fsync failed: the storage cannot be trusted
// and the outbox refuses every save until it is reopened (it wraps
// ErrStorage).
var ErrStorageFailed = fmt.Errorf("%w: 存储故障 / storage failure", ErrStorage)

// Outbox is the durable result queue. It is safe for concurrent use.
type Outbox struct {
	opts Options
	dir  string
	lock *dirlock.Lock

	mu        sync.Mutex
	db        *buntdb.DB
	file      *durable.File // db and our own descriptor of it, for fsync (see package doc)
	failed    error         // set by a failed fsync: every Save is refused
	origins   map[string]uint64
	damaged   int
	alarms    []wire.Alarm
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
	keyRuleBook  = "meta:rule_book"
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
	o := &Outbox{opts: opts, dir: dir, lock: lk, pending: map[uint64]time.Time{}, origins: map[string]uint64{}, changed: make(chan struct{}, 1)}
	if err := o.open(); err != nil {
		lk.Release()
		return nil, err
	}
	return o, nil
}

// Path returns the database file's path.
func (o *Outbox) Path() string { return filepath.Join(o.dir, "outbox.db") }

func (o *Outbox) open() error {
	// The file is compacted at open when it has grown past 1 MB and twice
	// its records (see internal/durable).
	f, err := durable.Open(o.Path(), durable.Options{
		Name: "outbox", Now: o.opts.Now, Log: o.opts.Log, CompactOver: 1 << 20,
		Repaired: o.alarm,
	})
	if err != nil {
		return err
	}
	o.db, o.file = f.DB, f
	if err := o.rebuild(); err != nil {
		f.Close()
		return err
	}
	// The boot counter: one key, one Update. A kiosk that starts on a full
	// or failing card keeps running (it can still send what it holds, and
	// the screen shows the storage error) instead of exiting in a loop.
	var epoch uint64
	err = o.update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(keyBootEpoch)
		if err != nil && !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		epoch = n + 1
		_, _, err = tx.Set(keyBootEpoch, strconv.FormatUint(epoch, 10), nil)
		return err
	})
	o.bootEpoch = epoch
	if err != nil {
		o.storeErr = err
		o.opts.Log.Error("cannot record the boot counter; running on", "err", err)
		o.alarm("storage_error", "启动计数无法写入 / cannot write the boot counter: "+err.Error())
	}
	return nil
}

func (o *Outbox) alarm(code, msg string) {
	o.alarms = append(o.alarms, wire.Alarm{Code: code, Message: msg, At: o.opts.Now()})
}

// TakeAlarms returns, once, what the outbox found at open that a person
// must look at (a salvaged file, unreadable records, a storage error), as
// alarms for the command.
func (o *Outbox) TakeAlarms() []wire.Alarm {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.alarms
	o.alarms = nil
	return a
}

// update runs fn in one buntdb Update and then fsyncs the file through our
// own descriptor. An error from fn is returned as it is; a failed write
// wraps ErrDiskFull or ErrStorage; a failed fsync wraps ErrStorageFailed
// and puts the outbox in the failed state.
func (o *Outbox) update(fn func(tx *buntdb.Tx) error) error {
	if o.opts.Fault != nil {
		if err := o.opts.Fault("write"); err != nil {
			return classify(err)
		}
	}
	var fnErr error
	err := o.db.Update(func(tx *buntdb.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err != nil {
		if fnErr != nil && errors.Is(err, fnErr) {
			return err
		}
		return classify(err)
	}
	if o.opts.Fault != nil {
		err = o.opts.Fault("sync")
	}
	if err == nil {
		err = o.file.Sync()
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: fsync: %v", ErrDiskFull, err)
		}
		o.failed = fmt.Errorf("%w: fsync of %s failed (%v); the card may be failing: results are refused until the kiosk is restarted", ErrStorageFailed, o.Path(), err)
		return o.failed
	}
	return nil
}

func classify(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %v; free space on the kiosk — testing resumes by itself", ErrDiskFull, err)
	}
	return fmt.Errorf("%w: %v", ErrStorage, err)
}

// rebuild derives the sequence counter, the pending set and the origin
// index from the records. The counter comes from the keys, so a record
// whose value is damaged still holds its seq.
func (o *Outbox) rebuild() error {
	var bad []string
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			if !strings.HasPrefix(k, resultPrefix) {
				if k != keyBootEpoch && k != keyRuleBook {
					bad = append(bad, k) // a key we never write: a damaged key
				}
				return true
			}
			seq, perr := strconv.ParseUint(strings.TrimPrefix(k, resultPrefix), 10, 64)
			if perr == nil && seq > o.lastSeq {
				o.lastSeq = seq
			}
			var rec Record
			if jerr := json.Unmarshal([]byte(v), &rec); perr != nil || jerr != nil || rec.Result.Seq != seq || !rec.whole() {
				bad = append(bad, k)
				return true
			}
			if rec.Origin != "" {
				o.origins[rec.Origin] = seq
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
	})
	if len(bad) > 0 {
		o.damaged = len(bad)
		show := bad
		if len(show) > 5 {
			show = show[:5]
		}
		msg := fmt.Sprintf("%d records in %s cannot be read and are skipped (%s); the file is unchanged", len(bad), o.Path(), strings.Join(show, ", "))
		o.opts.Log.Error("outbox: unreadable records", "n", len(bad), "keys", show)
		o.alarm("storage_damaged_record", msg)
	}
	return err
}

// Close releases the database and the directory lock.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	if o.db != nil {
		err = o.file.Close()
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
// returned error wraps ErrStorage (ErrDiskFull, ErrStorageFailed).
func (o *Outbox) Save(r wire.Result) (wire.Result, error) {
	r, _, err := o.SaveOnce(r, "")
	return r, err
}

// SaveOnce is Save for a result that an instrument may report more than
// once: origin identifies the report (for example device, serial, record
// number and a digest of the raw values). If a record with the same origin
// is already stored, SaveOnce writes nothing and returns that record's
// result with again = true. An empty origin always saves.
func (o *Outbox) SaveOnce(r wire.Result, origin string) (saved wire.Result, again bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return r, false, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	if origin != "" {
		if seq, ok := o.origins[origin]; ok {
			if rec, ok := o.get(seq); ok {
				return rec.Result, true, nil
			}
		}
	}
	if o.failed != nil {
		return r, false, o.failed
	}
	if r.ResultID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return r, false, fmt.Errorf("%w: result id: %v", ErrStorage, err)
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
		return r, false, fmt.Errorf("outbox: result not saved, it is invalid: %w", err)
	}
	now := o.opts.Now()
	rec := Record{Result: r, State: StatePending, SavedAt: now, Origin: origin, Sum: r.Fingerprint()}
	b, err := json.Marshal(rec)
	if err != nil {
		return r, false, fmt.Errorf("%w: encode: %v", ErrStorage, err)
	}
	key := resultKey(r.Seq)
	err = o.update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(key, string(b), nil)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrStorageFailed) {
			// Written, not known to be on the card: take it out of the
			// queue so that it is never sent as if saved. If the delete
			// does not reach the card either, the record reappears after
			// the restart and is sent then — it is a real measurement,
			// and the instrument's repeat finds it by its origin.
			_ = o.db.Update(func(tx *buntdb.Tx) error { _, err := tx.Delete(key); return err })
		}
		o.storeErr = err
		o.opts.Log.Error("outbox write failed; result NOT saved", "seq", r.Seq, "err", err)
		return r, false, err
	}
	o.storeErr = nil
	o.lastSeq = r.Seq
	o.pending[r.Seq] = now
	if origin != "" {
		o.origins[origin] = r.Seq
	}
	o.signal()
	return r, false, nil
}

// get reads one record; caller holds mu.
func (o *Outbox) get(seq uint64) (Record, bool) {
	var rec Record
	ok := false
	_ = o.db.View(func(tx *buntdb.Tx) error {
		v, err := tx.Get(resultKey(seq))
		if err == nil && json.Unmarshal([]byte(v), &rec) == nil {
			ok = true
		}
		return nil
	})
	return rec, ok
}

// PendingAfter returns up to max pending results with seq > after, in seq
// order. Unreadable records are never pending (they were reported at
// open).
func (o *Outbox) PendingAfter(after uint64, max int) ([]wire.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	var out []wire.Result
	if len(o.pending) == 0 || max <= 0 {
		return nil, nil
	}
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendGreaterOrEqual("", resultKey(after+1), func(k, v string) bool {
			if !strings.HasPrefix(k, resultPrefix) {
				return false
			}
			seq, perr := strconv.ParseUint(k[len(resultPrefix):], 10, 64)
			if perr != nil {
				return true
			}
			if _, ok := o.pending[seq]; !ok {
				return true
			}
			var rec Record
			if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.State != StatePending {
				return true
			}
			out = append(out, rec.Result)
			return len(out) < max
		})
	})
	return out, err
}

// HeldAfter returns up to max results with seq > after, in seq order, that
// the command may lack: every pending one, and every acknowledged one with
// seq > ackedAbove. Rejected and unreadable records are never returned.
// The uplink resends these after a welcome whose acked_up_to (ackedAbove)
// is below what this kiosk saw acked: the command lost them (a restore
// from an older backup, damage), and its dedupe on result_id makes the
// resend harmless where it did not. ackedAbove = 0 returns everything held
// (a range the command asked for).
func (o *Outbox) HeldAfter(after, ackedAbove uint64, max int) ([]wire.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	if max <= 0 {
		return nil, nil
	}
	var out []wire.Result
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendGreaterOrEqual("", resultKey(after+1), func(k, v string) bool {
			if !strings.HasPrefix(k, resultPrefix) {
				return false
			}
			seq, perr := strconv.ParseUint(k[len(resultPrefix):], 10, 64)
			if perr != nil {
				return true
			}
			if _, ok := o.pending[seq]; !ok && seq <= ackedAbove {
				return true
			}
			var rec Record
			if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Result.Seq != seq || !rec.whole() {
				return true
			}
			switch rec.State {
			case StatePending, StateAcked:
				out = append(out, rec.Result)
			}
			return len(out) < max
		})
	})
	return out, err
}

// Ack marks every pending result with seq ≤ upTo as acknowledged. It is
// idempotent.
func (o *Outbox) Ack(upTo uint64) (int, error) {
	o.mu.Lock()
	var seqs []uint64
	for s := range o.pending {
		if s <= upTo {
			seqs = append(seqs, s)
		}
	}
	o.mu.Unlock()
	return o.AckSeqs(seqs)
}

// AckSeqs marks exactly the given results acknowledged, those of them that
// are pending. It is idempotent.
func (o *Outbox) AckSeqs(seqs []uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return 0, fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	var todo []uint64
	for _, s := range seqs {
		if _, ok := o.pending[s]; ok {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	now := o.opts.Now()
	err := o.update(func(tx *buntdb.Tx) error {
		for _, s := range todo {
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
		return 0, fmt.Errorf("ack: %w", err)
	}
	for _, s := range todo {
		delete(o.pending, s)
	}
	o.lastAck = &now
	return len(todo), nil
}

// Reject marks one result as refused by the command service. It is kept
// for the operator and never resent.
func (o *Outbox) Reject(rj wire.Reject) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return fmt.Errorf("%w: outbox is closed", ErrStorage)
	}
	changed := false
	err := o.update(func(tx *buntdb.Tx) error {
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
		changed = err == nil
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reject: %w", err)
	}
	if changed {
		o.rejected++
		delete(o.pending, rj.Seq)
	}
	return nil
}

// Stats returns the queue state.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{Pending: len(o.pending), Rejected: o.rejected, LastSeq: o.lastSeq, LastAck: o.lastAck, Damaged: o.damaged}
	for _, t := range o.pending {
		if s.OldestPending == nil || t.Before(*s.OldestPending) {
			t := t
			s.OldestPending = &t
		}
	}
	switch {
	case o.failed != nil:
		s.StorageErr = o.failed.Error()
	case o.storeErr != nil:
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
	var origins []string
	err := o.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys(resultPrefix+"*", func(k, v string) bool {
			if k == resultKey(o.lastSeq) {
				return true
			}
			var rec Record
			if json.Unmarshal([]byte(v), &rec) == nil && rec.State == StateAcked && rec.AckedAt != nil && rec.AckedAt.Before(cutoff) {
				del = append(del, k)
				if rec.Origin != "" {
					origins = append(origins, rec.Origin)
				}
			}
			return true
		})
	})
	if err != nil || len(del) == 0 {
		return 0, err
	}
	err = o.update(func(tx *buntdb.Tx) error {
		for _, k := range del {
			if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	for _, og := range origins {
		delete(o.origins, og)
	}
	return len(del), nil
}
