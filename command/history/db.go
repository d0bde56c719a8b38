package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// dialect is what differs between SQLite and PostgreSQL.
type dialect struct {
	name     string
	intType  string
	blobType string
	// bodyText is the SQL for the results row's JSON as text.
	bodyText string
	// rebind turns the ?-placeholders of a query into the dialect's.
	rebind func(q string) string
	// held returns the stored rows among ids, keyed by result id.
	held func(ctx context.Context, tx *sql.Tx, ids []string) (map[string]row, error)
	// insert stores rows; upsertMarks, upsertLatest and addTally keep the
	// working-set tables; all inside tx.
	insert       func(ctx context.Context, tx *sql.Tx, rows []row) error
	upsertMarks  func(ctx context.Context, tx *sql.Tx, kiosks []string, marks []*kioskSeqs) error
	upsertLatest func(ctx context.Context, tx *sql.Tx, stalls []string, rx []int64) error
	addTally     func(ctx context.Context, tx *sql.Tx, keys []tallyKey, n []int64) error
}

type tallyKey struct {
	event   string
	day     int64
	stall   string
	analyte string
	tier    string
	verdict string
	repeat  int64 // 1: a repeat of the same sample (schema 4)
}

type latestAt struct {
	state wire.StallState
	rx    uint64
}

// db is the History on a database/sql database. One writer (w, a single
// connection) and a pool of readers (r).
type db struct {
	d    dialect
	opts Options
	desc string // for messages: the file or the server
	// snapDSN opens a connection for Snapshot (SQLite).
	snapDSN string
	w       *sql.DB
	r       *sql.DB
	// closeExtra releases what the dialect holds besides w and r.
	closeExtra func() error

	dayOff int64 // ns

	// cluster: several instances write the database (Options.Cluster);
	// the working set is only a cache, read again under pgCommitKey at
	// each commit and from the database by the readers below.
	cluster bool

	// wmu serialises the writers (Commit, Import): a writer reads the
	// working set under wmu alone, and takes mu for writing only to apply
	// a committed transaction, so that readers (HighWater at a kiosk's
	// connect, StallState for the live map, Count) never wait for a
	// commit's inserts and fsync.
	wmu    sync.Mutex
	mu     sync.RWMutex // guards the working set; written under wmu and mu
	failed error
	rxSeq  uint64
	count  int
	kiosks map[string]*kioskSeqs
	latest map[string]latestAt

	commits atomic.Uint64 // transactions committed, for the checkpointer

	dmu      sync.Mutex
	reported map[int64]bool // damaged rows already told to OnDamage
}

const dayNS = int64(24 * time.Hour)

// negative is the verdict most results have, left out of the verdict
// index (schema version 2).
const negative = string(assay.Negative)

// dayOf is the civil day (days since 1970-01-01 at the offset) of a time in
// unix ns.
func (h *db) dayOf(ns int64) int64 {
	x := ns + h.dayOff
	d := x / dayNS
	if x%dayNS < 0 {
		d--
	}
	return d
}

func dayKey(d int64) string { return time.Unix(d*86400, 0).UTC().Format("2006-01-02") }

// load runs the schema migrations and reads the working set.
func (h *db) load(ctx context.Context) error {
	h.kiosks, h.latest, h.reported = map[string]*kioskSeqs{}, map[string]latestAt{}, map[int64]bool{}
	h.dayOff = int64(*h.opts.DayOffset)
	if err := h.migrate(ctx); err != nil {
		return err
	}
	var max sql.NullInt64
	if err := h.w.QueryRowContext(ctx, `SELECT MAX(rx_seq) FROM results`).Scan(&max); err != nil {
		return fmt.Errorf("history: read the last rx_seq: %w", err)
	}
	h.rxSeq = uint64(max.Int64)
	var n int64
	if err := h.w.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'results'`).Scan(&n); err != nil {
		return fmt.Errorf("history: read the result count: %w", err)
	}
	h.count = int(n)
	rows, err := h.w.QueryContext(ctx, `SELECT kiosk_id, contiguous, above FROM kiosk_marks`)
	if err != nil {
		return fmt.Errorf("history: read the kiosks' marks: %w", err)
	}
	for rows.Next() {
		var id, above string
		var hw int64
		if err := rows.Scan(&id, &hw, &above); err != nil {
			rows.Close()
			return err
		}
		k, err := decodeMarks(hw, above)
		if err != nil {
			rows.Close()
			return fmt.Errorf("history: kiosk %s's marks are damaged (%v); run shian-command verify", id, err)
		}
		h.kiosks[id] = k
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := h.loadLatest(ctx); err != nil {
		return err
	}
	return h.checkDayOffset(ctx)
}

// querier is what the cluster refreshes read through: the reader pool or
// the commit's transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// syncCluster takes the cluster's commit lock for tx and reads again what
// the commit decides with: the last rx_seq, the count, and the marks and
// latest results of the group's kiosks and stalls. Other instances commit
// only under the same lock, so until tx ends this is the database's state.
func (h *db) syncCluster(ctx context.Context, tx *sql.Tx, rs []*wire.Result) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgCommitKey)); err != nil {
		return fmt.Errorf("take the cluster's commit lock: %w", err)
	}
	var last sql.NullInt64
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT MAX(rx_seq) FROM results), (SELECT v FROM meta WHERE k = 'results')`).Scan(&last, &n); err != nil {
		return fmt.Errorf("read the last rx_seq: %w", err)
	}
	kset, sset := map[string]bool{}, map[string]bool{}
	var kiosks, stalls []string
	for _, r := range rs {
		if r.FromKiosk() && !kset[r.KioskID] {
			kset[r.KioskID] = true
			kiosks = append(kiosks, r.KioskID)
		}
		if r.StallID != "" && !sset[r.StallID] {
			sset[r.StallID] = true
			stalls = append(stalls, r.StallID)
		}
	}
	marks, err := h.readMarks(ctx, tx, kiosks)
	if err != nil {
		return err
	}
	var latest map[string]latestAt
	if len(stalls) > 0 {
		if latest, err = h.readLatest(ctx, tx, stalls); err != nil {
			return err
		}
	}
	// The working set is the writer's alone in cluster mode (the readers
	// ask the database), so nothing stale can be written into it between
	// here and the COMMIT.
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rxSeq, h.count = uint64(last.Int64), int(n)
	for _, id := range kiosks {
		if k := marks[id]; k != nil {
			h.kiosks[id] = k
		} else {
			delete(h.kiosks, id)
		}
	}
	for _, s := range stalls {
		if l, ok := latest[s]; ok {
			h.latest[s] = l
		} else {
			delete(h.latest, s)
		}
	}
	return nil
}

// readMarks reads the kiosks' marks from the database (a kiosk with no
// row has none).
func (h *db) readMarks(ctx context.Context, q querier, kiosks []string) (map[string]*kioskSeqs, error) {
	if len(kiosks) == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT kiosk_id, contiguous, above FROM kiosk_marks WHERE kiosk_id = ANY($1)`, kiosks)
	if err != nil {
		return nil, fmt.Errorf("read the kiosks' marks: %w", err)
	}
	defer rows.Close()
	got := map[string]*kioskSeqs{}
	for rows.Next() {
		var id, above string
		var hw int64
		if err := rows.Scan(&id, &hw, &above); err != nil {
			return nil, err
		}
		k, err := decodeMarks(hw, above)
		if err != nil {
			return nil, fmt.Errorf("kiosk %s's marks are damaged (%v); run shian-command verify", id, err)
		}
		got[id] = k
	}
	return got, rows.Err()
}

// readLatest reads the stalls' latest results (all when stalls is nil)
// from the database.
func (h *db) readLatest(ctx context.Context, q querier, stalls []string) (map[string]latestAt, error) {
	query, args := `SELECT `+prefixed("r.", rowColumns)+` FROM stall_latest s JOIN results r ON r.rx_seq = s.rx_seq`, []any(nil)
	if stalls != nil {
		query, args = query+` WHERE s.stall_id = ANY($1)`, []any{stalls}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read the stalls' latest results: %w", err)
	}
	defer rows.Close()
	got := map[string]latestAt{}
	for rows.Next() {
		var w row
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, err
		}
		r, err := decodeRow(&w)
		if err != nil {
			h.damaged(Damage{RxSeq: uint64(w.rx), ResultID: w.resultID, KioskID: w.kioskID, Seq: uint64(max(w.seq, 0)), Problem: err.Error()})
			continue
		}
		got[r.StallID] = latestAt{state: StallStateOf(&r), rx: r.RxSeq}
	}
	return got, rows.Err()
}

func (h *db) loadLatest(ctx context.Context) error {
	rows, err := h.w.QueryContext(ctx, `SELECT `+prefixed("r.", rowColumns)+` FROM stall_latest s JOIN results r ON r.rx_seq = s.rx_seq`)
	if err != nil {
		return fmt.Errorf("history: read the stalls' latest results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var w row
		if err := rows.Scan(w.dest()...); err != nil {
			return err
		}
		r, err := decodeRow(&w)
		if err != nil {
			h.damaged(Damage{RxSeq: uint64(w.rx), ResultID: w.resultID, KioskID: w.kioskID, Seq: uint64(max(w.seq, 0)), Problem: err.Error()})
			continue
		}
		h.latest[r.StallID] = latestAt{state: StallStateOf(&r), rx: r.RxSeq}
	}
	return rows.Err()
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// checkDayOffset recounts the tally when the database was counted in
// other days than Options.DayOffset.
func (h *db) checkDayOffset(ctx context.Context) error {
	var stored int64
	err := h.w.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'day_offset'`).Scan(&stored)
	if err == nil && stored == h.dayOff {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM tally`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, h.d.rebind(`INSERT INTO tally (event_id, day, stall_id, analyte, tier, verdict, is_repeat, n)
		SELECT event_id, `+h.daySQL("measured_at")+`, stall_id, analyte, tier, verdict, `+h.repeatSQL()+`, COUNT(*) FROM results GROUP BY 1, 2, 3, 4, 5, 6, 7`)); err != nil {
		return fmt.Errorf("history: recount the tally: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE k = 'day_offset'`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, h.d.rebind(`INSERT INTO meta (k, v) VALUES ('day_offset', ?)`), h.dayOff); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if h.count > 0 {
		h.opts.Log.Info("history: tally recounted for the day offset", "offset", time.Duration(h.dayOff))
	}
	return nil
}

// daySQL is the SQL for dayOf(col), with the offset inlined (an integer).
func (h *db) daySQL(col string) string {
	x := fmt.Sprintf("(%s + %d)", col, h.dayOff)
	return fmt.Sprintf("(CASE WHEN %[1]s >= 0 THEN %[1]s / %[2]d ELSE (%[1]s - %[3]d) / %[2]d END)", x, dayNS, dayNS-1)
}

// damaged tells OnDamage about a row, once.
func (h *db) damaged(d Damage) {
	h.dmu.Lock()
	seen := h.reported[int64(d.RxSeq)]
	if !seen && len(h.reported) < 100000 {
		h.reported[int64(d.RxSeq)] = true
	}
	h.dmu.Unlock()
	if seen {
		return
	}
	h.opts.Log.Error("history: damaged result row; not served", "rx_seq", d.RxSeq, "result", d.ResultID, "problem", d.Problem)
	if h.opts.OnDamage != nil {
		h.opts.OnDamage(d)
	}
}

// Close closes the database.
func (h *db) Close() error {
	err := h.r.Close()
	if werr := h.w.Close(); err == nil {
		err = werr
	}
	if h.closeExtra != nil {
		if xerr := h.closeExtra(); err == nil {
			err = xerr
		}
	}
	return err
}

// ---- writes ----

// pending is what one transaction changes in the working set, applied to
// memory only after it committed.
type pending struct {
	kiosks map[string]*kioskSeqs
	latest map[string]latestAt
	added  int
	rx     uint64
}

// stage adds the table updates for new rows (their results in rs) to tx
// and returns the working-set changes.
func (h *db) stage(ctx context.Context, tx *sql.Tx, rows []row, rs []*wire.Result) (*pending, error) {
	p := &pending{kiosks: map[string]*kioskSeqs{}, latest: map[string]latestAt{}, rx: h.rxSeq}
	if len(rows) == 0 {
		return p, nil
	}
	if err := h.d.insert(ctx, tx, rows); err != nil {
		return nil, fmt.Errorf("history: insert %d results: %w", len(rows), err)
	}
	tally := map[tallyKey]int64{}
	for i, r := range rs {
		if r.FromKiosk() {
			ks := p.kiosks[r.KioskID]
			if ks == nil {
				if cur := h.kiosks[r.KioskID]; cur != nil {
					ks = cur.clone()
				} else {
					ks = &kioskSeqs{}
				}
				p.kiosks[r.KioskID] = ks
			}
			ks.add(r.Seq)
		}
		if r.StallID != "" {
			cur, ok := p.latest[r.StallID]
			if !ok {
				cur, ok = h.latest[r.StallID]
			}
			if !ok || !r.MeasuredAt.Before(cur.state.MeasuredAt) {
				p.latest[r.StallID] = latestAt{state: StallStateOf(r), rx: r.RxSeq}
			}
		}
		tally[tallyKey{rows[i].eventID, h.dayOf(rows[i].measuredAt), rows[i].stallID, rows[i].analyte, rows[i].tier, rows[i].verdict, repeatOf(r)}]++
		if r.RxSeq > p.rx {
			p.rx = r.RxSeq
		}
	}
	p.added = len(rows)
	kids := sortedKeys(p.kiosks)
	marks := make([]*kioskSeqs, len(kids))
	for i, k := range kids {
		marks[i] = p.kiosks[k]
	}
	if err := h.d.upsertMarks(ctx, tx, kids, marks); err != nil {
		return nil, fmt.Errorf("history: kiosk marks: %w", err)
	}
	var stalls []string
	var srx []int64
	for _, s := range sortedKeys(p.latest) {
		if l := p.latest[s]; h.latest[s].rx != l.rx {
			stalls, srx = append(stalls, s), append(srx, int64(l.rx))
		}
	}
	if len(stalls) > 0 {
		if err := h.d.upsertLatest(ctx, tx, stalls, srx); err != nil {
			return nil, fmt.Errorf("history: stall latest: %w", err)
		}
	}
	keys := make([]tallyKey, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return tallyLess(keys[i], keys[j]) })
	ns := make([]int64, len(keys))
	for i, k := range keys {
		ns[i] = tally[k]
	}
	if err := h.d.addTally(ctx, tx, keys, ns); err != nil {
		return nil, fmt.Errorf("history: tally: %w", err)
	}
	if _, err := tx.ExecContext(ctx, h.d.rebind(`UPDATE meta SET v = v + ? WHERE k = 'results'`), len(rows)); err != nil {
		return nil, fmt.Errorf("history: count: %w", err)
	}
	return p, nil
}

func tallyLess(a, b tallyKey) bool {
	if a.event != b.event {
		return a.event < b.event
	}
	if a.day != b.day {
		return a.day < b.day
	}
	if a.stall != b.stall {
		return a.stall < b.stall
	}
	if a.analyte != b.analyte {
		return a.analyte < b.analyte
	}
	if a.tier != b.tier {
		return a.tier < b.tier
	}
	if a.verdict != b.verdict {
		return a.verdict < b.verdict
	}
	return a.repeat < b.repeat
}

// repeatOf is a result's tally repeat flag: 1 for a repeat of the same
// sample (repeat_of set), else 0.
func repeatOf(r *wire.Result) int64 {
	if r.RepeatOf != "" {
		return 1
	}
	return 0
}

// repeatSQL is the SQL for a results row's repeat flag, from its JSON (the
// results table has no column for it): repeatOf's "repeat_of" key with a
// value. A key inside a string value cannot match: its quotes are escaped.
func (h *db) repeatSQL() string {
	return `CASE WHEN ` + h.d.bodyText + ` LIKE '%"repeat_of":"%' THEN 1 ELSE 0 END`
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// apply makes a committed transaction's changes visible. Caller holds mu.
func (h *db) apply(p *pending) {
	for k, ks := range p.kiosks {
		h.kiosks[k] = ks
	}
	for s, l := range p.latest {
		h.latest[s] = l
	}
	h.count += p.added
	if p.rx > h.rxSeq {
		h.rxSeq = p.rx
	}
}

// Commit stores a group of results in one transaction.
func (h *db) Commit(rs []wire.Result) ([]Committed, error) {
	in := make([]Incoming, len(rs))
	for i := range rs {
		in[i] = Prepare(rs[i])
	}
	return h.CommitPrepared(in)
}

// CommitPrepared stores a group of prepared results in one transaction.
func (h *db) CommitPrepared(pin []Incoming) ([]Committed, error) {
	ctx := context.Background()
	now := h.opts.Now().UTC()
	out := make([]Committed, len(pin))
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.failed != nil {
		return nil, h.failed
	}
	ids := make([]string, 0, len(pin))
	seen := make(map[string]bool, len(pin))
	for i := range pin {
		if id := pin[i].Result.ResultID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("history: commit %d results: %w", len(pin), err)
	}
	defer tx.Rollback()
	if h.cluster {
		rs := make([]*wire.Result, len(pin))
		for i := range pin {
			rs[i] = &pin[i].Result
		}
		if err := h.syncCluster(ctx, tx, rs); err != nil {
			return nil, fmt.Errorf("history: commit %d results: %w", len(pin), err)
		}
	}
	held, err := h.d.held(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("history: commit %d results: look up their ids: %w", len(pin), err)
	}
	// The received time, encoded once for the whole group.
	recv, err := now.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("history: commit: the clock reads %v: %w", now, err)
	}
	heldRes := map[string]*wire.Result{}
	var repairs []row
	batch := map[string]int{} // result_id → index in out, stored in this group
	var rows []row
	var stored []*wire.Result
	rx := h.rxSeq
	for i := range pin {
		r := pin[i].Result
		out[i].Result = r
		if w, ok := held[r.ResultID]; ok {
			h0, ok := heldRes[r.ResultID]
			if !ok {
				if hr, err := decodeRow(&w); err == nil {
					h0 = &hr
				} else {
					// The stored copy is damaged; the kiosk still holds the
					// original: put it back in the same row.
					h.damaged(Damage{RxSeq: uint64(w.rx), ResultID: w.resultID, KioskID: w.kioskID, Seq: uint64(max(w.seq, 0)), Problem: err.Error() + "; repaired from the kiosk's resend", Repaired: true})
					fixed := r
					fixed.RxSeq = uint64(w.rx)
					t := now
					fixed.ReceivedAt = &t
					nr, err := encodeRow(&fixed)
					if err != nil {
						return nil, err
					}
					repairs = append(repairs, nr)
					h0 = &fixed
				}
				heldRes[r.ResultID] = h0
			}
			if h0.Fingerprint() == r.Fingerprint() {
				out[i].Outcome, out[i].Result = Duplicate, *h0
			} else {
				out[i].Outcome = Conflict
			}
			continue
		}
		if j, ok := batch[r.ResultID]; ok {
			if out[j].Result.Fingerprint() == r.Fingerprint() {
				out[i].Outcome, out[i].Result = Duplicate, out[j].Result
			} else {
				out[i].Outcome = Conflict
			}
			continue
		}
		content := pin[i].content
		if ks := h.kiosks[r.KioskID]; r.FromKiosk() && ks != nil && ks.has(r.Seq) {
			out[i].SeqRegression = true
			r.Flags = appendFlag(r.Flags, wire.FlagSeqRegression)
			content = nil // encoded again, with the flag
		}
		rx++
		r.RxSeq = rx
		t := now
		r.ReceivedAt = &t
		w, err := encodeRowWith(&r, content, recv)
		if err != nil {
			return nil, err
		}
		rows = append(rows, w)
		out[i].Result, out[i].Outcome = r, Stored
		batch[r.ResultID] = i
	}
	for i := range out {
		if out[i].Outcome == Stored {
			stored = append(stored, &out[i].Result)
		}
	}
	p, err := h.stage(ctx, tx, rows, stored)
	if err != nil {
		return nil, err
	}
	for _, w := range repairs {
		if err := h.replace(ctx, tx, w); err != nil {
			return nil, err
		}
	}
	if err := h.commit(tx); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range out {
		if out[i].Outcome != Stored {
			continue
		}
		r := &out[i].Result
		before := h.latest[r.StallID]
		h.applyOne(r)
		if r.StallID != "" && h.latest[r.StallID].state.ResultID == r.ResultID && before.state.ResultID != r.ResultID {
			out[i].StallChanged = true
		}
	}
	h.apply(p)
	return out, nil
}

// applyOne advances the stall's latest by one result, in group order, so
// that StallChanged says whether this result became the latest when it
// was stored. Caller holds mu.
func (h *db) applyOne(r *wire.Result) {
	if r.StallID == "" {
		return
	}
	cur, ok := h.latest[r.StallID]
	if !ok || !r.MeasuredAt.Before(cur.state.MeasuredAt) {
		h.latest[r.StallID] = latestAt{state: StallStateOf(r), rx: r.RxSeq}
	}
}

// commit commits tx; a failure (or the Fault seam's) puts the history in
// the failed state.
func (h *db) commit(tx *sql.Tx) error {
	var err error
	if h.opts.Fault != nil {
		err = h.opts.Fault("commit")
	}
	if err == nil {
		err = tx.Commit()
		h.commits.Add(1)
	} else {
		tx.Rollback()
	}
	if err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.failed = fmt.Errorf("%w: committing to %s failed (%v); nothing more is acknowledged until the service is restarted", ErrStorageFailed, h.desc, err)
		h.opts.Log.Error("history: commit failed; refusing further commits", "err", err)
		return h.failed
	}
	return nil
}

// replace rewrites a damaged row in place (same rx_seq).
func (h *db) replace(ctx context.Context, tx *sql.Tx, w row) error {
	_, err := tx.ExecContext(ctx, h.d.rebind(`UPDATE results SET result_id = ?, kiosk_id = ?, seq = ?, stall_id = ?, event_id = ?,
		analyte = ?, lot = ?, verdict = ?, measured_at = ?, received_at = ?, body = ?, sum = ?, tier = ?, source = ? WHERE rx_seq = ?`),
		w.resultID, w.kioskID, w.seq, w.stallID, w.eventID, w.analyte, w.lot, w.verdict, w.measuredAt, w.receivedAt, w.body, w.sum, w.tier, w.source, w.rx)
	return err
}

func appendFlag(flags []string, f string) []string {
	for _, x := range flags {
		if x == f {
			return flags
		}
	}
	return append(flags, f)
}

// Import stores results of an earlier version's data directory.
func (h *db) Import(in []wire.Result) (ImportReport, error) {
	ctx := context.Background()
	var rep ImportReport
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.failed != nil {
		return rep, h.failed
	}
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback()
	if h.cluster {
		rs := make([]*wire.Result, len(in))
		for i := range in {
			rs[i] = &in[i]
		}
		if err := h.syncCluster(ctx, tx, rs); err != nil {
			return rep, fmt.Errorf("history: import: %w", err)
		}
	}
	ids := make([]string, len(in))
	for i := range in {
		ids[i] = in[i].ResultID
	}
	held, err := h.d.held(ctx, tx, ids)
	if err != nil {
		return rep, err
	}
	taken := map[uint64]bool{}
	var want []any
	for i := range in {
		if in[i].RxSeq > 0 {
			want = append(want, int64(in[i].RxSeq))
		}
	}
	if len(want) > 0 {
		rows, err := tx.QueryContext(ctx, h.d.rebind(`SELECT rx_seq FROM results WHERE rx_seq IN (`+marks(len(want))+`)`), want...)
		if err != nil {
			return rep, err
		}
		for rows.Next() {
			var x int64
			rows.Scan(&x)
			taken[uint64(x)] = true
		}
		if err := rows.Close(); err != nil {
			return rep, err
		}
	}
	var rows []row
	var stored []*wire.Result
	inGroup := map[string]bool{}
	next := h.rxSeq
	for _, r := range in {
		if r.RxSeq > next {
			next = r.RxSeq
		}
	}
	for i := range in {
		r := in[i]
		if w, ok := held[r.ResultID]; ok || inGroup[r.ResultID] {
			if ok {
				if hr, err := decodeRow(&w); err == nil && hr.Fingerprint() == r.Fingerprint() {
					rep.Present++
					continue
				}
			}
			rep.Conflicts = append(rep.Conflicts, r.ResultID)
			continue
		}
		if r.RxSeq == 0 || taken[r.RxSeq] {
			next++
			r.RxSeq = next
			rep.Renumbered++
		}
		taken[r.RxSeq] = true
		if r.ReceivedAt == nil {
			t := r.MeasuredAt
			r.ReceivedAt = &t
		}
		w, err := encodeRow(&r)
		if err != nil {
			return rep, err
		}
		rows = append(rows, w)
		rr := r
		stored = append(stored, &rr)
		inGroup[r.ResultID] = true
	}
	p, err := h.stage(ctx, tx, rows, stored)
	if err != nil {
		return rep, err
	}
	if err := h.commit(tx); err != nil {
		return rep, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range stored {
		h.applyOne(r)
	}
	h.apply(p)
	rep.Imported = len(rows)
	return rep, nil
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ---- reads ----

// HighWater returns the kiosk's contiguous and highest stored seq.
func (h *db) HighWater(kioskID string) (contiguous, highest uint64) {
	if h.cluster {
		// Another instance may have stored this kiosk's results: ask the
		// database (a kiosk that moved gets its true acked_up_to).
		got, err := h.readMarks(context.Background(), h.r, []string{kioskID})
		if err != nil {
			// Nothing acked then: the kiosk resends, and the resends are
			// deduped on result_id.
			h.opts.Log.Warn("history: read a kiosk's marks", "kiosk", kioskID, "err", err)
			return 0, 0
		}
		if ks := got[kioskID]; ks != nil {
			return ks.hw, ks.max()
		}
		return 0, 0
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	ks := h.kiosks[kioskID]
	if ks == nil {
		return 0, 0
	}
	return ks.hw, ks.max()
}

// Snapshot writes a consistent copy of the history to path.
func (h *db) Snapshot(path string) (int, error) {
	if h.d.name != "sqlite" {
		return 0, ErrNoSnapshot
	}
	return h.snapshotSQLite(path)
}

// Err returns the failed state, if any.
func (h *db) Err() error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.failed
}

// Count returns how many results are stored.
func (h *db) Count() int {
	if h.cluster {
		var n int64
		if err := h.r.QueryRowContext(context.Background(), `SELECT v FROM meta WHERE k = 'results'`).Scan(&n); err == nil {
			return int(n)
		} else {
			h.opts.Log.Warn("history: read the result count; answering the last known", "err", err)
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.count
}

// StallStates returns the latest verdict at every site, ordered by id.
func (h *db) StallStates() []wire.StallState {
	latest := h.latest
	if h.cluster {
		got, err := h.readLatest(context.Background(), h.r, nil)
		if err == nil {
			latest = got
		} else {
			h.opts.Log.Warn("history: read the stalls' latest; answering the last known", "err", err)
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]wire.StallState, 0, len(latest))
	for _, l := range latest {
		out = append(out, l.state)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StallID < out[j].StallID })
	return out
}

// StallState returns the latest verdict at one site.
func (h *db) StallState(id string) (wire.StallState, bool) {
	if h.cluster {
		got, err := h.readLatest(context.Background(), h.r, []string{id})
		if err == nil {
			l, ok := got[id]
			return l.state, ok
		}
		h.opts.Log.Warn("history: read a stall's latest; answering the last known", "stall", id, "err", err)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	l, ok := h.latest[id]
	return l.state, ok
}

// Result returns one stored result.
func (h *db) Result(id string) (wire.Result, error) {
	var w row
	err := h.r.QueryRowContext(context.Background(), h.d.rebind(`SELECT `+rowColumns+` FROM results WHERE result_id = ?`), id).Scan(w.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Result{}, fmt.Errorf("result %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return wire.Result{}, fmt.Errorf("history: read result %s: %w", id, err)
	}
	r, err := decodeRow(&w)
	if err != nil {
		h.damaged(Damage{RxSeq: uint64(w.rx), ResultID: w.resultID, KioskID: w.kioskID, Seq: uint64(max(w.seq, 0)), Problem: err.Error()})
		return wire.Result{}, fmt.Errorf("result %q (rx_seq %d): %w: %v", id, w.rx, ErrDamaged, err)
	}
	return r, nil
}

// where builds the WHERE clause of a filter.
func (f *Filter) where() (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			conds, args = append(conds, col+" = ?"), append(args, v)
		}
	}
	eq("stall_id", f.StallID)
	eq("kiosk_id", f.KioskID)
	eq("verdict", f.Verdict)
	eq("analyte", f.Analyte)
	eq("event_id", f.EventID)
	eq("lot", f.Lot)
	eq("tier", string(f.Tier))
	eq("source", f.Source)
	in := func(col string, vs []string) {
		conds = append(conds, col+" IN ("+marks(len(vs))+")")
		for _, v := range vs {
			args = append(args, v)
		}
	}
	if len(f.Verdicts) > 0 {
		in("verdict", f.Verdicts)
	}
	// The verdict index (results_flagged) holds the non-negative results
	// only; a query for those says so in the index's own words, which is
	// how SQLite's planner (and PostgreSQL's, with bound parameters)
	// knows that the partial index covers it.
	if (f.Verdict != "" && f.Verdict != negative) || (len(f.Verdicts) > 0 && !slices.Contains(f.Verdicts, negative)) {
		conds = append(conds, "verdict <> '"+negative+"'")
	}
	if len(f.Events) > 0 {
		in("event_id", f.Events)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "measured_at >= ?"), append(args, unixNano(f.Since))
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "measured_at < ?"), append(args, unixNano(f.Until))
	}
	if !f.ReceivedSince.IsZero() {
		conds, args = append(conds, "received_at >= ?"), append(args, unixNano(f.ReceivedSince))
	}
	if f.BeforeRx > 0 {
		conds, args = append(conds, "rx_seq < ?"), append(args, int64(f.BeforeRx))
	}
	if f.AfterRx > 0 {
		conds, args = append(conds, "rx_seq > ?"), append(args, int64(f.AfterRx))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// page reads up to limit rows matching f in rx order and calls fn with
// each whole one; damaged rows are reported and skipped. It returns the
// last rx_seq read and how many rows were read.
func (h *db) page(ctx context.Context, f Filter, desc bool, limit int, fn func(*wire.Result) bool) (last uint64, n int, stop bool, err error) {
	where, args := f.where()
	order := " ORDER BY rx_seq"
	if desc {
		order += " DESC"
	}
	q := h.d.rebind(`SELECT ` + rowColumns + ` FROM results` + where + order + fmt.Sprintf(" LIMIT %d", limit))
	rows, err := h.r.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, 0, false, fmt.Errorf("history: query results: %w", err)
	}
	defer rows.Close()
	var batch []wire.Result
	for rows.Next() {
		var w row
		if err := rows.Scan(w.dest()...); err != nil {
			return 0, 0, false, err
		}
		n++
		last = uint64(w.rx)
		r, err := decodeRow(&w)
		if err != nil {
			h.damaged(Damage{RxSeq: uint64(w.rx), ResultID: w.resultID, KioskID: w.kioskID, Seq: uint64(max(w.seq, 0)), Problem: err.Error()})
			continue
		}
		batch = append(batch, r)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, false, err
	}
	rows.Close()
	// fn runs after the page's read has ended: a slow consumer holds no
	// read transaction open.
	for i := range batch {
		if !fn(&batch[i]) {
			return last, n, true, nil
		}
	}
	return last, n, false, nil
}

// Results returns results matching f, newest received first.
func (h *db) Results(f Filter) ([]wire.Result, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 10000 {
		f.Limit = 10000
	}
	var out []wire.Result
	err := h.Each(f, true, func(r *wire.Result) bool {
		out = append(out, *r)
		return len(out) < f.Limit
	})
	return out, err
}

const pageSize = 500

// Each calls fn for every result matching f in ingest order.
func (h *db) Each(f Filter, desc bool, fn func(*wire.Result) bool) error {
	ctx := context.Background()
	for {
		last, n, stop, err := h.page(ctx, f, desc, pageSize, fn)
		if err != nil || stop || n < pageSize {
			return err
		}
		if desc {
			f.BeforeRx = last
		} else {
			f.AfterRx = last
		}
	}
}

// Tally counts tests by verdict in one dimension.
func (h *db) Tally(q TallyQuery) ([]Tally, error) {
	col := map[Dim]string{ByTotal: "", ByEvent: "event_id", ByDay: "day", ByStall: "stall_id", ByAnalyte: "analyte", ByTier: "tier"}[q.By]
	if col == "" && q.By != ByTotal {
		return nil, fmt.Errorf("history: tally by %q: want event, day, stall, analyte or tier", q.By)
	}
	sel, group := "'' AS k", "verdict"
	if col != "" {
		sel, group = col, col+", verdict"
	}
	var conds []string
	var args []any
	if q.EventID != "" {
		conds, args = append(conds, "event_id = ?"), append(args, q.EventID)
	}
	if q.Tier != "" {
		conds, args = append(conds, "tier = ?"), append(args, string(q.Tier))
	}
	if q.SkipRepeats {
		conds = append(conds, "is_repeat = 0")
	}
	if len(q.Events) > 0 {
		conds = append(conds, "event_id IN ("+marks(len(q.Events))+")")
		for _, e := range q.Events {
			args = append(args, e)
		}
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := h.r.Query(h.d.rebind(`SELECT `+sel+`, verdict, CAST(SUM(n) AS BIGINT) FROM tally`+where+` GROUP BY `+group+` ORDER BY 1, 2`), args...)
	if err != nil {
		return nil, fmt.Errorf("history: tally: %w", err)
	}
	defer rows.Close()
	var out []Tally
	for rows.Next() {
		var t Tally
		var key any
		var n int64
		if err := rows.Scan(&key, &t.Verdict, &n); err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case int64:
			t.Key = dayKey(k)
		case string:
			t.Key = k
		case []byte:
			t.Key = string(k)
		}
		t.N = int(n)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Verify checks every row and the working-set tables.
func (h *db) Verify() (VerifyReport, error) {
	ctx := context.Background()
	var rep VerifyReport
	kiosks := map[string]*kioskSeqs{}
	latest := map[string]latestAt{}
	var after int64
	for {
		rows, err := h.r.QueryContext(ctx, h.d.rebind(`SELECT `+rowColumns+` FROM results WHERE rx_seq > ? ORDER BY rx_seq LIMIT 2000`), after)
		if err != nil {
			return rep, err
		}
		n := 0
		for rows.Next() {
			var w row
			if err := rows.Scan(w.dest()...); err != nil {
				rows.Close()
				return rep, err
			}
			n++
			after = w.rx
			rep.Rows++
			r, err := decodeRow(&w)
			if err != nil {
				d := Damage{RxSeq: uint64(w.rx), ResultID: w.resultID, KioskID: w.kioskID, Seq: uint64(max(w.seq, 0)), Problem: err.Error()}
				rep.Damaged = append(rep.Damaged, d)
				h.damaged(d)
				// Count it where its columns say, as the tables did.
				r = wire.Result{KioskID: w.kioskID, Seq: uint64(w.seq), StallID: w.stallID, RxSeq: uint64(w.rx)}
				if w.source != wire.SourceKiosk {
					r.Source = w.source
				}
			}
			if r.FromKiosk() {
				ks := kiosks[r.KioskID]
				if ks == nil {
					ks = &kioskSeqs{}
					kiosks[r.KioskID] = ks
				}
				ks.add(r.Seq)
			}
			if r.StallID != "" && err == nil {
				if cur, ok := latest[r.StallID]; !ok || !r.MeasuredAt.Before(cur.state.MeasuredAt) {
					latest[r.StallID] = latestAt{state: StallStateOf(&r), rx: r.RxSeq}
				}
			}
		}
		if err := rows.Close(); err != nil {
			return rep, err
		}
		if n < 2000 {
			break
		}
	}
	// The tables, as stored (not as this process holds them).
	var count int64
	if err := h.r.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'results'`).Scan(&count); err != nil {
		return rep, err
	}
	if int(count) != rep.Rows {
		rep.Tables = append(rep.Tables, fmt.Sprintf("meta: result count %d, %d rows stored", count, rep.Rows))
	}
	rows, err := h.r.QueryContext(ctx, `SELECT kiosk_id, contiguous, above FROM kiosk_marks`)
	if err != nil {
		return rep, err
	}
	seenK := map[string]bool{}
	for rows.Next() {
		var id, above string
		var hw int64
		if err := rows.Scan(&id, &hw, &above); err != nil {
			rows.Close()
			return rep, err
		}
		seenK[id] = true
		want := kiosks[id]
		if want == nil {
			want = &kioskSeqs{}
		}
		if got, err := decodeMarks(hw, above); err != nil || got.hw != want.hw || got.encodeAbove() != want.encodeAbove() {
			rep.Tables = append(rep.Tables, fmt.Sprintf("kiosk_marks: kiosk %s holds %d/%q, the results say %d/%q", id, hw, above, want.hw, want.encodeAbove()))
		}
	}
	rows.Close()
	for id := range kiosks {
		if !seenK[id] {
			rep.Tables = append(rep.Tables, fmt.Sprintf("kiosk_marks: kiosk %s has results and no marks", id))
		}
	}
	rows, err = h.r.QueryContext(ctx, `SELECT stall_id, rx_seq FROM stall_latest`)
	if err != nil {
		return rep, err
	}
	seenS := map[string]bool{}
	for rows.Next() {
		var id string
		var rx int64
		if err := rows.Scan(&id, &rx); err != nil {
			rows.Close()
			return rep, err
		}
		seenS[id] = true
		if want, ok := latest[id]; ok && uint64(rx) != want.rx {
			// Ties in measured_at may resolve either way; only a
			// strictly newer result counts as a disagreement.
			rep.Tables = append(rep.Tables, h.latestDisagrees(ctx, id, rx, want))
		}
	}
	rows.Close()
	for id := range latest {
		if !seenS[id] {
			rep.Tables = append(rep.Tables, fmt.Sprintf("stall_latest: stall %s has results and no latest", id))
		}
	}
	rep.Tables = compactStrings(rep.Tables)
	var diff int64
	recount := `SELECT event_id, ` + h.daySQL("measured_at") + `, stall_id, analyte, tier, verdict, ` + h.repeatSQL() + `, COUNT(*) FROM results GROUP BY 1, 2, 3, 4, 5, 6, 7`
	stored := `SELECT event_id, day, stall_id, analyte, tier, verdict, is_repeat, n FROM tally`
	q := `SELECT (SELECT COUNT(*) FROM (` + recount + ` EXCEPT ` + stored + `) a) + (SELECT COUNT(*) FROM (` + stored + ` EXCEPT ` + recount + `) b)`
	if err := h.r.QueryRowContext(ctx, q).Scan(&diff); err != nil {
		return rep, fmt.Errorf("history: verify the tally: %w", err)
	}
	if diff > 0 {
		rep.Tables = append(rep.Tables, fmt.Sprintf("tally: %d groups disagree with the results", diff))
	}
	return rep, nil
}

func (h *db) latestDisagrees(ctx context.Context, stall string, rx int64, want latestAt) string {
	var w row
	err := h.r.QueryRowContext(ctx, h.d.rebind(`SELECT `+rowColumns+` FROM results WHERE rx_seq = ?`), rx).Scan(w.dest()...)
	if err == nil {
		if r, err := decodeRow(&w); err == nil && r.StallID == stall && r.MeasuredAt.Equal(want.state.MeasuredAt) {
			return "" // a tie: as good
		}
	}
	return fmt.Sprintf("stall_latest: stall %s points at rx_seq %d, its latest result is rx_seq %d", stall, rx, want.rx)
}

func compactStrings(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
