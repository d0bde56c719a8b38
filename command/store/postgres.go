package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/shianfood/shian/geo"
)

// The schema. One row per record, kind and id apart so that a kind is a
// range of the primary key; ids compare bytewise (COLLATE "C"), as
// buntdb's keys do. lon and lat are the location of a site record, set
// by the store from its "loc" at every write (NULL for other kinds and
// for a site without a valid location), for SitesIn.
const pgSchema = `
CREATE TABLE IF NOT EXISTS records (
	kind text COLLATE "C" NOT NULL,
	id   text COLLATE "C" NOT NULL,
	val  text NOT NULL,
	lon  double precision,
	lat  double precision,
	PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS records_site_loc ON records (lon, lat) WHERE kind = 'site' AND lon IS NOT NULL;
CREATE SEQUENCE IF NOT EXISTS records_alarm_seq;
CREATE SEQUENCE IF NOT EXISTS records_audit_seq;
`

// pgSchemaLock is the advisory lock (transaction scope) that serialises
// the schema's creation when several instances start at once.
const pgSchemaLock = 0x5368_6961_6e53_7431 // "ShianSt1"

type pgBackend struct {
	pool *pgxpool.Pool
	desc string
}

// OpenPostgres opens the store on a PostgreSQL database (a pgx connection
// string, the one --db gives the history), creating its table and
// sequences on first use: cluster mode, where several command services
// share the records. See the package doc, "Cluster mode".
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: --db: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	desc := fmt.Sprintf("postgres %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", desc, err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgSchemaLock)); err != nil {
			return err
		}
		for _, stmt := range strings.Split(pgSchema, ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		// Records brought in from elsewhere (a restored dump) must not
		// be numbered over: move each sequence past its highest record.
		for _, k := range []string{"alarm", "audit"} {
			_, err := tx.Exec(ctx, `SELECT setval('records_`+k+`_seq', m) FROM (SELECT max(id::bigint) AS m FROM records WHERE kind = '`+k+`') x
				WHERE m IS NOT NULL AND m > (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM records_`+k+`_seq)`)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %s: create the records table: %w (is the database reachable and the user allowed to create tables?)", desc, err)
	}
	s := &Store{opts: opts, pg: &pgBackend{pool: pool, desc: desc}}
	if err := s.rebuild(); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %s: %w", desc, err)
	}
	opts.Log.Info("store opened", "path", desc, "legacy_results", s.legacy)
	return s, nil
}

func (p *pgBackend) close() { p.pool.Close() }

// maxAttempts bounds the re-runs of an Update the database aborted.
const maxAttempts = 8

// retryable reports a deadlock or serialization failure: the transaction
// was rolled back and may be run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

func (p *pgBackend) update(s *Store, fn func(tx *Tx) error) ([]string, error) {
	ctx := context.Background()
	for attempt := 1; ; attempt++ {
		var t *Tx
		err := pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(ptx pgx.Tx) error {
			t = &Tx{kv: &pgKV{ctx: ctx, tx: ptx, lock: true}, s: s}
			return fn(t)
		})
		if err == nil {
			return t.keys, nil
		}
		if !retryable(err) || attempt == maxAttempts {
			return nil, err
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
}

func (p *pgBackend) view(fn func(kv) error) error {
	ctx := context.Background()
	return pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(ptx pgx.Tx) error {
		return fn(&pgKV{ctx: ctx, tx: ptx})
	})
}

func (p *pgBackend) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	if err := p.pool.QueryRow(ctx, `SELECT 1 FROM records LIMIT 1`).Scan(&n); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", p.desc, err)
	}
	return nil
}

// pgKV is kv over one PostgreSQL transaction. In an Update (lock) get
// locks the row it reads.
type pgKV struct {
	ctx  context.Context
	tx   pgx.Tx
	lock bool
}

// pageSize is how many rows ascend and descend read per query: fn is
// called between queries, never with a result set open, so it may use
// the transaction.
const pageSize = 500

func (k *pgKV) get(kind, id string) (string, bool, error) {
	q := `SELECT val FROM records WHERE kind = $1 AND id = $2`
	if k.lock {
		q += ` FOR UPDATE`
	}
	var v string
	err := k.tx.QueryRow(k.ctx, q, kind, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// siteLoc is the location columns of a record: a site's [lon, lat], or
// NULLs.
func siteLoc(kind, val string) (lon, lat *float64) {
	if kind != "site" {
		return nil, nil
	}
	mn, _ := geo.RectFromJSON(val)
	if len(mn) < 2 {
		return nil, nil
	}
	return &mn[0], &mn[1]
}

func (k *pgKV) set(kind, id, val string) error {
	lon, lat := siteLoc(kind, val)
	_, err := k.tx.Exec(k.ctx, `INSERT INTO records (kind, id, val, lon, lat) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (kind, id) DO UPDATE SET val = EXCLUDED.val, lon = EXCLUDED.lon, lat = EXCLUDED.lat`, kind, id, val, lon, lat)
	return err
}

func (k *pgKV) create(kind, id, val string) (bool, error) {
	lon, lat := siteLoc(kind, val)
	tag, err := k.tx.Exec(k.ctx, `INSERT INTO records (kind, id, val, lon, lat) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (kind, id) DO NOTHING`, kind, id, val, lon, lat)
	return err == nil && tag.RowsAffected() == 1, err
}

func (k *pgKV) del(kind, id string) (bool, error) {
	tag, err := k.tx.Exec(k.ctx, `DELETE FROM records WHERE kind = $1 AND id = $2`, kind, id)
	return err == nil && tag.RowsAffected() == 1, err
}

type idVal struct{ id, val string }

func (k *pgKV) page(q string, args ...any) ([]idVal, error) {
	rows, err := k.tx.Query(k.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (idVal, error) {
		var x idVal
		err := r.Scan(&x.id, &x.val)
		return x, err
	})
}

func (k *pgKV) ascend(kind, from string, fn func(id, val string) bool) error {
	rows, err := k.page(`SELECT id, val FROM records WHERE kind = $1 AND id >= $2 ORDER BY id LIMIT $3`, kind, from, pageSize)
	for err == nil && len(rows) > 0 {
		for _, r := range rows {
			if !fn(r.id, r.val) {
				return nil
			}
		}
		if len(rows) < pageSize {
			return nil
		}
		rows, err = k.page(`SELECT id, val FROM records WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3`, kind, rows[len(rows)-1].id, pageSize)
	}
	return err
}

func (k *pgKV) descend(kind, upto string, all bool, fn func(id, val string) bool) error {
	var rows []idVal
	var err error
	if all {
		rows, err = k.page(`SELECT id, val FROM records WHERE kind = $1 ORDER BY id DESC LIMIT $2`, kind, pageSize)
	} else {
		rows, err = k.page(`SELECT id, val FROM records WHERE kind = $1 AND id <= $2 ORDER BY id DESC LIMIT $3`, kind, upto, pageSize)
	}
	for err == nil && len(rows) > 0 {
		for _, r := range rows {
			if !fn(r.id, r.val) {
				return nil
			}
		}
		if len(rows) < pageSize {
			return nil
		}
		rows, err = k.page(`SELECT id, val FROM records WHERE kind = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, kind, rows[len(rows)-1].id, pageSize)
	}
	return err
}

func (k *pgKV) sitesIn(b orb.Bound, fn func(val string) bool) error {
	rows, err := k.page(`SELECT id, val FROM records WHERE kind = 'site' AND lon IS NOT NULL
		AND lon BETWEEN $1 AND $3 AND lat BETWEEN $2 AND $4 ORDER BY id`, b.Min[0], b.Min[1], b.Max[0], b.Max[1])
	if err != nil {
		return err
	}
	for _, r := range rows {
		if !fn(r.val) {
			break
		}
	}
	return nil
}

func (k *pgKV) nextSeq(name string) (uint64, error) {
	var n int64
	if err := k.tx.QueryRow(k.ctx, `SELECT nextval('records_`+name+`_seq')`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: next %s number: %w", name, err)
	}
	return uint64(n), nil
}

// all calls fn with every record, in key order (for Backup).
func (k *pgKV) all(fn func(kind, id, val string) error) error {
	rows, err := k.tx.Query(k.ctx, `SELECT kind, id, val FROM records ORDER BY kind, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, id, val string
		if err := rows.Scan(&kind, &id, &val); err != nil {
			return err
		}
		if err := fn(kind, id, val); err != nil {
			return err
		}
	}
	return rows.Err()
}
