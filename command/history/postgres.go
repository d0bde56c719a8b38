package history

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgLockKey is the advisory lock the writing shian-command holds on its
// database: a second single-writer command service on the same database
// would number results twice. Cluster instances hold it shared.
const pgLockKey = 0x5368_6961_6e48 // "ShianH"

// pgCommitKey is the transaction-scoped advisory lock a cluster-mode
// commit holds from before it reads the working set until its COMMIT:
// commits of all instances are serialised, so rx_seq is numbered in
// commit order (decision 0025).
const pgCommitKey = 0x5368_6961_6e43 // "ShianC"

// OpenPostgres opens the history in a PostgreSQL database (a pgx
// connection string: postgres://user:password@host:5432/dbname?sslmode=…),
// creating its tables on first use.
//
// A commit returns after PostgreSQL's own COMMIT, which with the default
// synchronous_commit=on has flushed the WAL to disk. A group is written
// with one statement per table (unnest of arrays), so a commit is a
// handful of round trips whatever its size. The writing connection holds
// an advisory lock: a second command service on the same database is
// refused, unless every instance opens with Options.Cluster (decision
// 0025).
func OpenPostgres(dsn string, opts Options) (History, error) {
	opts.defaults()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("history: --db %s: %w", redact(dsn), err)
	}
	desc := fmt.Sprintf("postgres %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	w := stdlib.OpenDB(*cfg.Copy(), stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		// A predecessor's connection may still be closing (a restart):
		// wait a little for its lock before refusing. A single writer holds
		// the lock alone; cluster instances hold it shared, so the two
		// modes never write one database at once.
		lock, held := `SELECT pg_try_advisory_lock($1)`, "another shian-command is writing to %s (it holds advisory lock %d); stop it first, or run every instance in cluster mode"
		if opts.Cluster {
			lock, held = `SELECT pg_try_advisory_lock_shared($1)`, "a single-writer shian-command is writing to %s (it holds advisory lock %d); stop it and start it in cluster mode"
		}
		for wait := 10 * time.Millisecond; ; wait *= 2 {
			var ok bool
			if err := c.QueryRow(ctx, lock, int64(pgLockKey)).Scan(&ok); err != nil {
				return err
			}
			if ok {
				break
			}
			if wait > 5*time.Second {
				return fmt.Errorf("history: "+held, desc, pgLockKey)
			}
			time.Sleep(wait)
		}
		if opts.NoSync {
			if _, err := c.Exec(ctx, `SET synchronous_commit = off`); err != nil {
				return err
			}
		}
		return nil
	}))
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	ctx := context.Background()
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("history: connect to %s: %w", desc, err)
	}
	r := stdlib.OpenDB(*cfg.Copy())
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	h := &db{opts: opts, desc: desc, w: w, r: r, d: pgDialect(), cluster: opts.Cluster}
	if err := h.load(ctx); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func pgDialect() dialect {
	return dialect{name: "postgres", intType: "BIGINT", blobType: "BYTEA", bodyText: "convert_from(body, 'UTF8')", rebind: pgRebind,
		held: pgHeld, insert: pgInsert, upsertMarks: pgMarks, upsertLatest: pgLatest, addTally: pgTally}
}

// pgRebind numbers the ?-placeholders: $1, $2, …
func pgRebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pgHeld(ctx context.Context, tx *sql.Tx, ids []string) (map[string]row, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+rowColumns+` FROM results WHERE result_id = ANY($1)`, ids)
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

func pgInsert(ctx context.Context, tx *sql.Tx, rows []row) error {
	n := len(rows)
	rx, seq, mt, rt, sum := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	id, kiosk, stall, event, analyte, lot, verdict := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	tier, source := make([]string, n), make([]string, n)
	body := make([][]byte, n)
	for i, w := range rows {
		rx[i], id[i], kiosk[i], seq[i], stall[i], event[i], analyte[i], lot[i], verdict[i] = w.rx, w.resultID, w.kioskID, w.seq, w.stallID, w.eventID, w.analyte, w.lot, w.verdict
		mt[i], rt[i], body[i], sum[i], tier[i], source[i] = w.measuredAt, w.receivedAt, w.body, w.sum, w.tier, w.source
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO results (`+rowColumns+`)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::bigint[], $11::bigint[], $12::bytea[], $13::bigint[], $14::text[], $15::text[])`,
		rx, id, kiosk, seq, stall, event, analyte, lot, verdict, mt, rt, body, sum, tier, source)
	return err
}

func pgMarks(ctx context.Context, tx *sql.Tx, kiosks []string, marks []*kioskSeqs) error {
	hw, above := make([]int64, len(marks)), make([]string, len(marks))
	for i, m := range marks {
		hw[i], above[i] = int64(m.hw), m.encodeAbove()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO kiosk_marks (kiosk_id, contiguous, above)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
		ON CONFLICT (kiosk_id) DO UPDATE SET contiguous = excluded.contiguous, above = excluded.above`, kiosks, hw, above)
	return err
}

func pgLatest(ctx context.Context, tx *sql.Tx, stalls []string, rx []int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stall_latest (stall_id, rx_seq) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (stall_id) DO UPDATE SET rx_seq = excluded.rx_seq`, stalls, rx)
	return err
}

func pgTally(ctx context.Context, tx *sql.Tx, keys []tallyKey, n []int64) error {
	ev, st, an, ti, vd := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	day, rep := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		ev[i], day[i], st[i], an[i], ti[i], vd[i], rep[i] = k.event, k.day, k.stall, k.analyte, k.tier, k.verdict, k.repeat
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tally (event_id, day, stall_id, analyte, tier, verdict, is_repeat, n)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
		ON CONFLICT (event_id, day, stall_id, analyte, tier, verdict, is_repeat) DO UPDATE SET n = tally.n + excluded.n`, ev, day, st, an, ti, vd, rep, n)
	return err
}
