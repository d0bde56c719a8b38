package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/wire"
	"github.com/tidwall/buntdb"
)

// kioskSeqs tracks which sequence numbers of one kiosk are stored: every
// seq ≤ hw, plus the sparse set above it.
type kioskSeqs struct {
	hw    uint64
	above map[uint64]bool
}

func (k *kioskSeqs) add(seq uint64) {
	if seq <= k.hw {
		return
	}
	if k.above == nil {
		k.above = map[uint64]bool{}
	}
	k.above[seq] = true
	for k.above[k.hw+1] {
		delete(k.above, k.hw+1)
		k.hw++
	}
}

func (k *kioskSeqs) has(seq uint64) bool { return seq <= k.hw || k.above[seq] }

func (k *kioskSeqs) max() uint64 {
	m := k.hw
	for s := range k.above {
		if s > m {
			m = s
		}
	}
	return m
}

type latestAt struct {
	state wire.StallState
	rx    uint64
}

// rebuild derives the in-memory indexes from the records.
func (s *Store) rebuild() error {
	var bad []string
	defer func() {
		if len(bad) > 0 {
			show := bad[:min(len(bad), 5)]
			s.repairs = append(s.repairs, Alarm{Code: "storage_damaged_record",
				Message: fmt.Sprintf("指挥中心有 %d 条结果无法读取，已跳过 / %d stored results cannot be read and are skipped (%s)", len(bad), len(bad), strings.Join(show, ", "))})
		}
	}()
	return s.db.View(func(tx *buntdb.Tx) error {
		err := tx.AscendKeys("result:*", func(k, v string) bool {
			var r wire.Result
			if err := json.Unmarshal([]byte(v), &r); err != nil || "result:"+r.ResultID != k {
				s.opts.Log.Warn("skipping unreadable result", "key", k, "err", err)
				bad = append(bad, k)
				return true
			}
			s.index(&r)
			return true
		})
		if err != nil {
			return err
		}
		return tx.DescendKeys("alarm:*", func(k, v string) bool {
			n, _ := strconv.ParseUint(k[len("alarm:"):], 10, 64)
			s.alarmSeq = n
			return false
		})
	})
}

// index adds a stored result to the in-memory indexes. Caller holds mu (or
// is rebuilding before the store is shared).
func (s *Store) index(r *wire.Result) {
	s.nResults++
	if r.RxSeq > s.rxSeq {
		s.rxSeq = r.RxSeq
	}
	ks := s.kiosks[r.KioskID]
	if ks == nil {
		ks = &kioskSeqs{}
		s.kiosks[r.KioskID] = ks
	}
	ks.add(r.Seq)
	if r.StallID != "" {
		cur, ok := s.latest[r.StallID]
		if !ok || !r.MeasuredAt.Before(cur.state.MeasuredAt) {
			s.latest[r.StallID] = latestAt{state: StallStateOf(r), rx: r.RxSeq}
		}
	}
}

// StallStateOf is the map's view of a result at its stall.
func StallStateOf(r *wire.Result) wire.StallState {
	st := wire.StallState{StallID: r.StallID, ResultID: r.ResultID, Verdict: r.EffectiveVerdict(),
		Method: r.Method, Analyte: r.Analyte, Value: r.Value, Unit: r.Unit, MeasuredAt: r.MeasuredAt}
	if r.Derived != nil {
		st.Value, st.Unit = r.Derived.Value, r.Derived.Unit
	}
	return st
}

// Outcome says what Commit did with one incoming result.
type Outcome int

// Outcomes.
const (
	Stored    Outcome = iota // new, stored durably
	Duplicate                // identical resend of a stored result; ignored
	Conflict                 // same result_id, other content; refused
)

func (o Outcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return "unknown"
}

// Committed is the fate of one incoming result.
type Committed struct {
	Result  wire.Result // as stored (for Stored), as held (for Duplicate), as sent (for Conflict)
	Outcome Outcome
	// SeqRegression is set when a new result reuses a seq this kiosk has
	// already used for another result (a kiosk restored from an old backup).
	SeqRegression bool
	// StallChanged is set when the result became its stall's latest.
	StallChanged bool
}

// Commit stores a group of results in one durable Update: each new
// result gets received_at and the next rx_seq; identical resends are
// recognised; conflicting ones are refused. Results may come from several
// kiosks. When Commit returns nil every Stored result is on disk (write
// done, and fsynced through our own descriptor, whose error — unlike
// buntdb's — is not thrown away) and may be acknowledged. After a failed
// fsync every Commit returns ErrStorageFailed: the results may be in memory
// and not on disk, and a resend must not be acked as a duplicate of them.
func (s *Store) Commit(in []wire.Result) ([]Committed, error) {
	now := s.opts.Now().UTC()
	out := make([]Committed, len(in))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return nil, s.failed
	}
	batch := map[string]int{} // result_id → index in out, within this group
	rx := s.rxSeq
	err := s.db.Update(func(tx *buntdb.Tx) error {
		for i := range in {
			r := in[i]
			out[i].Result = r
			if j, ok := batch[r.ResultID]; ok {
				if out[j].Result.Fingerprint() == r.Fingerprint() {
					out[i].Outcome, out[i].Result = Duplicate, out[j].Result
				} else {
					out[i].Outcome = Conflict
				}
				continue
			}
			held, err := tx.Get("result:" + r.ResultID)
			if err == nil {
				var h wire.Result
				if jerr := json.Unmarshal([]byte(held), &h); jerr == nil && h.Fingerprint() == r.Fingerprint() {
					out[i].Outcome, out[i].Result = Duplicate, h
				} else {
					out[i].Outcome = Conflict
				}
				continue
			} else if !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
			if ks := s.kiosks[r.KioskID]; ks != nil && ks.has(r.Seq) {
				out[i].SeqRegression = true
				r.Flags = appendFlag(r.Flags, wire.FlagSeqRegression)
			}
			rx++
			r.RxSeq = rx
			t := now
			r.ReceivedAt = &t
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, _, err := tx.Set("result:"+r.ResultID, string(b), nil); err != nil {
				return err
			}
			out[i].Result, out[i].Outcome = r, Stored
			batch[r.ResultID] = i
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: commit %d results: %w", len(in), err)
	}
	if err := s.sync(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Outcome != Stored {
			continue
		}
		r := &out[i].Result
		before := s.latest[r.StallID]
		s.index(r)
		if r.StallID != "" && s.latest[r.StallID].state.ResultID == r.ResultID && before.state.ResultID != r.ResultID {
			out[i].StallChanged = true
		}
	}
	return out, nil
}

func appendFlag(flags []string, f string) []string {
	for _, x := range flags {
		if x == f {
			return flags
		}
	}
	return append(flags, f)
}

// HighWater returns the highest seq up to which every result of the kiosk
// is stored, and the highest seq stored at all.
func (s *Store) HighWater(kioskID string) (contiguous, highest uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ks := s.kiosks[kioskID]
	if ks == nil {
		return 0, 0
	}
	return ks.hw, ks.max()
}

// ResultCount returns how many results are stored.
func (s *Store) ResultCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nResults
}

// Result returns one stored result.
func (s *Store) Result(id string) (wire.Result, error) {
	var r wire.Result
	err := s.Get("result", id, &r)
	return r, err
}

// ResultFilter selects results for Results. Zero fields do not filter.
type ResultFilter struct {
	Limit    int // default 100, at most 10000
	StallID  string
	KioskID  string
	Verdict  string
	Analyte  string
	EventID  string
	Lot      string    // kit lot (批号): every result that used it
	Since    time.Time // measured at or after
	Until    time.Time // measured before
	BeforeRx uint64    // for paging: only rx_seq below this
}

// Results returns stored results, newest received first.
func (s *Store) Results(f ResultFilter) ([]wire.Result, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 10000 {
		f.Limit = 10000
	}
	var out []wire.Result
	err := s.EachResult(func(r *wire.Result) bool {
		if f.BeforeRx > 0 && r.RxSeq >= f.BeforeRx {
			return true
		}
		if !f.match(r) {
			return true
		}
		out = append(out, *r)
		return len(out) < f.Limit
	}, true)
	return out, err
}

func (f *ResultFilter) match(r *wire.Result) bool {
	switch {
	case f.StallID != "" && r.StallID != f.StallID,
		f.KioskID != "" && r.KioskID != f.KioskID,
		f.Verdict != "" && string(r.EffectiveVerdict()) != f.Verdict,
		f.Analyte != "" && r.Analyte != f.Analyte,
		f.EventID != "" && r.EventID != f.EventID,
		f.Lot != "" && r.Lot != f.Lot,
		!f.Since.IsZero() && r.MeasuredAt.Before(f.Since),
		!f.Until.IsZero() && !r.MeasuredAt.Before(f.Until):
		return false
	}
	return true
}

// EachResult calls fn for every stored result in ingest order (newest
// first when desc) until fn returns false. It streams: exports of any size
// run in constant memory.
func (s *Store) EachResult(fn func(*wire.Result) bool, desc bool) error {
	return s.db.View(func(tx *buntdb.Tx) error {
		iter := func(k, v string) bool {
			var r wire.Result
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				return true
			}
			return fn(&r)
		}
		if desc {
			return tx.Descend("rx", iter)
		}
		return tx.Ascend("rx", iter)
	})
}

// StallStates returns the latest verdict at every site, ordered by site id.
func (s *Store) StallStates() []wire.StallState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]wire.StallState, 0, len(s.latest))
	for _, l := range s.latest {
		out = append(out, l.state)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StallID < out[j].StallID })
	return out
}

// StallState returns the latest verdict at one site.
func (s *Store) StallState(id string) (wire.StallState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.latest[id]
	return l.state, ok
}
