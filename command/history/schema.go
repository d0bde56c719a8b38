package history

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are the schema's versions, in order. Each runs in one
// transaction with the version bump, so a crash leaves the schema at one
// version or the next. {int} and {blob} are the dialect's 64-bit integer
// and byte-string types. Never edit a released migration: add the next.
var migrations = []string{
	// 1: the results, their indexes and the working-set tables.
	`CREATE TABLE results (
		rx_seq      {int} PRIMARY KEY,
		result_id   TEXT NOT NULL UNIQUE,
		kiosk_id    TEXT NOT NULL,
		seq         {int} NOT NULL,
		stall_id    TEXT NOT NULL,
		event_id    TEXT NOT NULL,
		analyte     TEXT NOT NULL,
		lot         TEXT NOT NULL,
		verdict     TEXT NOT NULL,
		measured_at {int} NOT NULL,
		received_at {int} NOT NULL,
		body        {blob} NOT NULL,
		sum         {int} NOT NULL
	);
	CREATE INDEX results_kiosk ON results (kiosk_id, rx_seq);
	CREATE INDEX results_stall ON results (stall_id, rx_seq);
	CREATE INDEX results_event ON results (event_id, rx_seq);
	CREATE INDEX results_verdict ON results (verdict, rx_seq);
	CREATE INDEX results_analyte ON results (analyte, rx_seq);
	CREATE INDEX results_lot ON results (lot, rx_seq);
	CREATE INDEX results_measured ON results (measured_at);
	CREATE TABLE kiosk_marks (
		kiosk_id   TEXT PRIMARY KEY,
		contiguous {int} NOT NULL,
		above      TEXT NOT NULL
	);
	CREATE TABLE stall_latest (
		stall_id TEXT PRIMARY KEY,
		rx_seq   {int} NOT NULL
	);
	CREATE TABLE tally (
		event_id TEXT NOT NULL,
		day      {int} NOT NULL,
		stall_id TEXT NOT NULL,
		analyte  TEXT NOT NULL,
		verdict  TEXT NOT NULL,
		n        {int} NOT NULL,
		PRIMARY KEY (event_id, day, stall_id, analyte, verdict)
	);
	CREATE TABLE meta (
		k TEXT PRIMARY KEY,
		v {int} NOT NULL
	);
	INSERT INTO meta (k, v) VALUES ('results', 0);`,
	// 2: every result's testing tier (四位一体) and source (a kiosk, a
	// market's system, a lab); the results stored before were kiosks'
	// regulator rapid tests. The tally counts by tier too.
	`ALTER TABLE results ADD COLUMN tier TEXT NOT NULL DEFAULT 'regulator_rapid';
	ALTER TABLE results ADD COLUMN source TEXT NOT NULL DEFAULT 'kiosk';
	CREATE INDEX results_tier ON results (tier, rx_seq);
	CREATE INDEX results_source ON results (source, rx_seq);
	CREATE TABLE tally_v2 (
		event_id TEXT NOT NULL,
		day      {int} NOT NULL,
		stall_id TEXT NOT NULL,
		analyte  TEXT NOT NULL,
		tier     TEXT NOT NULL,
		verdict  TEXT NOT NULL,
		n        {int} NOT NULL,
		PRIMARY KEY (event_id, day, stall_id, analyte, tier, verdict)
	);
	INSERT INTO tally_v2 (event_id, day, stall_id, analyte, tier, verdict, n)
		SELECT event_id, day, stall_id, analyte, 'regulator_rapid', verdict, n FROM tally;
	DROP TABLE tally;
	ALTER TABLE tally_v2 RENAME TO tally;`,
	// 3: the verdict index holds only the results that are not negative
	// (the few a verdict filter looks for), so that the many negatives
	// cost no index insert at ingest. Filter.where adds the index's own
	// condition to a query for other verdicts, so that the planner uses it;
	// a query for negatives reads in rx_seq order, where nearly every
	// row matches.
	`DROP INDEX results_verdict;
	CREATE INDEX results_flagged ON results (verdict, rx_seq) WHERE verdict <> 'negative';`,
	// 4: the tally keeps repeats (复测: a result whose repeat_of names an
	// earlier result of the same sample) apart, so that the KPIs count a
	// test once however often its sample was repeated. The groups are
	// recounted from the results when the database is next opened (the
	// day_offset mark is dropped; see checkDayOffset and repeatSQL).
	`CREATE TABLE tally_v4 (
		event_id TEXT NOT NULL,
		day      {int} NOT NULL,
		stall_id TEXT NOT NULL,
		analyte  TEXT NOT NULL,
		tier     TEXT NOT NULL,
		verdict  TEXT NOT NULL,
		is_repeat {int} NOT NULL,
		n        {int} NOT NULL,
		PRIMARY KEY (event_id, day, stall_id, analyte, tier, verdict, is_repeat)
	);
	DROP TABLE tally;
	ALTER TABLE tally_v4 RENAME TO tally;
	DELETE FROM meta WHERE k = 'day_offset';`,
}

// migrate brings the schema to the latest version.
func (h *db) migrate(ctx context.Context) error {
	if _, err := h.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS history_schema (version `+h.d.intType+` NOT NULL)`); err != nil {
		return fmt.Errorf("history: create the schema table: %w", err)
	}
	for {
		var v int
		err := h.w.QueryRowContext(ctx, `SELECT version FROM history_schema`).Scan(&v)
		if err == sql.ErrNoRows {
			if _, err := h.w.ExecContext(ctx, `INSERT INTO history_schema (version) VALUES (0)`); err != nil {
				return fmt.Errorf("history: initialise the schema table: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("history: read the schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("history: the database is at schema version %d, this program knows up to %d: run the newer shian-command it was written by", v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
		if err := h.step(ctx, v); err != nil {
			return err
		}
		h.opts.Log.Info("history: schema upgraded", "version", v+1)
	}
}

// step applies migration v+1.
func (h *db) step(ctx context.Context, v int) error {
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ddl := strings.NewReplacer("{int}", h.d.intType, "{blob}", h.d.blobType).Replace(migrations[v])
	for _, stmt := range strings.Split(ddl, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("history: schema version %d: %w", v+1, err)
		}
	}
	res, err := tx.ExecContext(ctx, h.d.rebind(`UPDATE history_schema SET version = ? WHERE version = ?`), v+1, v)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("history: schema version changed under us while upgrading from %d", v)
	}
	return tx.Commit()
}
