package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver ("sqlite")
)

// OpenSQLite opens (or creates) the history in the SQLite file at path.
//
// The file is in WAL mode with synchronous=FULL: COMMIT returns after the
// WAL is fsynced, so a result acknowledged after Commit survives a power
// cut; a torn WAL tail (a write cut short) is discarded by SQLite's frame
// checksums at the next open. One connection writes; up to four read
// (WAL readers never block the writer, nor it them).
func OpenSQLite(path string, opts Options) (History, error) {
	opts.defaults()
	if path == "" {
		return nil, fmt.Errorf("history: sqlite: a file path is required (sqlite:DIR/history.db)")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("history: create the directory of %s: %w", path, err)
	}
	sync := "FULL"
	if opts.NoSync {
		sync = "OFF"
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "cache_size(-16000)")
		// Checkpoints run in the background (checkpointer), never inside
		// a commit the kiosks wait for.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		for _, p := range extra {
			q.Add("_pragma", p)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	ctx := context.Background()
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	if mode != "wal" {
		w.Close()
		return nil, fmt.Errorf("history: %s: journal mode is %q, not wal (is the file on a file system without shared memory?)", path, mode)
	}
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	h := &db{opts: opts, desc: path, w: w, r: r, snapDSN: dsn()}
	h.d = sqliteDialect(h)
	if err := h.load(ctx); err != nil {
		h.Close()
		return nil, err
	}
	st := &sqliteStmts{}
	if err := st.prepare(ctx, w); err != nil {
		h.Close()
		return nil, err
	}
	ck, err := sql.Open("sqlite", dsn())
	if err != nil {
		h.Close()
		return nil, err
	}
	ck.SetMaxOpenConns(1)
	stop := checkpointer(ck, opts, h.commits.Load)
	h.closeExtra = func() error { stop(); ck.Close(); return st.close() }
	h.d = sqliteDialect(h)
	h.d.held, h.d.insert, h.d.upsertMarks, h.d.upsertLatest, h.d.addTally = st.held, st.insert, st.upsertMarks, st.upsertLatest, st.addTally
	return h, nil
}

// snapshotSQLite copies the database with VACUUM INTO (one read
// transaction: a consistent instant, while commits go on) and counts the
// results in the copy.
func (h *db) snapshotSQLite(path string) (int, error) {
	if _, err := os.Stat(path); err == nil {
		return 0, fmt.Errorf("history: snapshot: %s exists", path)
	}
	// Its own connection: VACUUM INTO reads in one transaction (WAL: the
	// writer goes on meanwhile) and writes only the new file.
	src, err := sql.Open("sqlite", h.snapDSN)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	if _, err := src.Exec(`VACUUM INTO ?`, path); err != nil {
		return 0, fmt.Errorf("history: snapshot to %s: %w", path, err)
	}
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=query_only(1)")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var n int64
	if err := c.QueryRow(`SELECT v FROM meta WHERE k = 'results'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("history: the snapshot %s does not read back: %w", path, err)
	}
	return int(n), nil
}

func sqliteDialect(*db) dialect {
	return dialect{name: "sqlite", intType: "INTEGER", blobType: "BLOB", bodyText: "CAST(body AS TEXT)", rebind: func(q string) string { return q }}
}

// sqliteStmts are the writer's prepared statements: SQLite runs in
// process, so one statement per row costs a function call, not a round
// trip. The inserts are INSERT OR ROLLBACK: a constraint failure (which
// the dedupe before them makes a bug) ends the whole transaction, so that
// SQLite keeps no statement journal to undo one multi-row statement.
type sqliteStmts struct {
	qHeld, qInsert, qInsertN, qMarks, qLatest, qTally, qTallyN *sql.Stmt
}

func (s *sqliteStmts) prepare(ctx context.Context, w *sql.DB) error {
	var err error
	p := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = w.PrepareContext(ctx, q)
		return st
	}
	s.qHeld = p(`SELECT ` + rowColumns + ` FROM results WHERE result_id IN (SELECT value FROM json_each(?))`)
	s.qInsert = p(`INSERT OR ROLLBACK INTO results (` + rowColumns + `) VALUES ` + rowParams)
	s.qInsertN = p(`INSERT OR ROLLBACK INTO results (` + rowColumns + `) VALUES ` + strings.TrimSuffix(strings.Repeat(rowParams+", ", insertRows), ", "))
	s.qMarks = p(`INSERT INTO kiosk_marks (kiosk_id, contiguous, above) VALUES (?, ?, ?)
		ON CONFLICT (kiosk_id) DO UPDATE SET contiguous = excluded.contiguous, above = excluded.above`)
	s.qLatest = p(`INSERT INTO stall_latest (stall_id, rx_seq) VALUES (?, ?)
		ON CONFLICT (stall_id) DO UPDATE SET rx_seq = excluded.rx_seq`)
	s.qTally = p(`INSERT INTO tally (event_id, day, stall_id, analyte, tier, verdict, is_repeat, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?)` + tallyUpsert)
	s.qTallyN = p(`INSERT INTO tally (event_id, day, stall_id, analyte, tier, verdict, is_repeat, n) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", insertRows), ", ") + tallyUpsert)
	if err != nil {
		s.close()
		return fmt.Errorf("history: prepare statements: %w", err)
	}
	return nil
}

func (s *sqliteStmts) close() error {
	for _, st := range []*sql.Stmt{s.qHeld, s.qInsert, s.qInsertN, s.qMarks, s.qLatest, s.qTally, s.qTallyN} {
		if st != nil {
			st.Close()
		}
	}
	return nil
}

// held looks all ids up in one statement (the ids as a JSON array): one
// call however large the group, where a query per id cost more than the
// insert.
func (s *sqliteStmts) held(ctx context.Context, tx *sql.Tx, ids []string) (map[string]row, error) {
	arr, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, s.qHeld).QueryContext(ctx, string(arr))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		var w row
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, err
		}
		out[w.resultID] = w
	}
	return out, rows.Err()
}

// insertRows is how many rows one multi-row INSERT carries: fewer
// statements, so less binding and stepping per row.
const insertRows = 32

func (s *sqliteStmts) insert(ctx context.Context, tx *sql.Tx, rows []row) error {
	many := tx.StmtContext(ctx, s.qInsertN)
	args := make([]any, 0, rowArity*insertRows)
	for len(rows) >= insertRows {
		args = args[:0]
		for i := range rows[:insertRows] {
			args = append(args, rows[i].args()...)
		}
		if _, err := many.ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[insertRows:]
	}
	one := tx.StmtContext(ctx, s.qInsert)
	for i := range rows {
		if _, err := one.ExecContext(ctx, rows[i].args()...); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStmts) upsertMarks(ctx context.Context, tx *sql.Tx, kiosks []string, marks []*kioskSeqs) error {
	st := tx.StmtContext(ctx, s.qMarks)
	for i, k := range kiosks {
		if _, err := st.ExecContext(ctx, k, int64(marks[i].hw), marks[i].encodeAbove()); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStmts) upsertLatest(ctx context.Context, tx *sql.Tx, stalls []string, rx []int64) error {
	st := tx.StmtContext(ctx, s.qLatest)
	for i, id := range stalls {
		if _, err := st.ExecContext(ctx, id, rx[i]); err != nil {
			return err
		}
	}
	return nil
}

// tallyUpsert adds to a tally row that exists (per row of a multi-row
// INSERT: keys are distinct within one group).
const tallyUpsert = `
		ON CONFLICT (event_id, day, stall_id, analyte, tier, verdict, is_repeat) DO UPDATE SET n = tally.n + excluded.n`

// addTally upserts the group's counts insertRows at a time: with many
// stalls a group has nearly as many tally keys as results, and one
// statement per key cost more than its B-tree work.
func (s *sqliteStmts) addTally(ctx context.Context, tx *sql.Tx, keys []tallyKey, n []int64) error {
	many := tx.StmtContext(ctx, s.qTallyN)
	args := make([]any, 0, 8*insertRows)
	for len(keys) >= insertRows {
		args = args[:0]
		for i, k := range keys[:insertRows] {
			args = append(args, k.event, k.day, k.stall, k.analyte, k.tier, k.verdict, k.repeat, n[i])
		}
		if _, err := many.ExecContext(ctx, args...); err != nil {
			return err
		}
		keys, n = keys[insertRows:], n[insertRows:]
	}
	st := tx.StmtContext(ctx, s.qTally)
	for i, k := range keys {
		if _, err := st.ExecContext(ctx, k.event, k.day, k.stall, k.analyte, k.tier, k.verdict, k.repeat, n[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkpointer copies the WAL into the database file every quarter
// second from its own connection (PRAGMA wal_checkpoint(PASSIVE): it
// never blocks the writer nor readers), so commits append to the WAL only
// and the WAL does not grow without bound. It does nothing while nothing
// was committed since its last run (an idle command, a Pi, costs no CPU).
// The returned func stops it.
func checkpointer(ck *sql.DB, opts Options, commits func() uint64) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		var done0 uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := commits()
				if n == done0 {
					continue
				}
				done0 = n
				if _, err := ck.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
					opts.Log.Warn("history: WAL checkpoint failed; retrying", "err", err)
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}
