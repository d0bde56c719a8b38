// Package history is the command service's result history: every test
// result a kiosk ever delivered, and every result imported from a market's
// self-test system or a laboratory, on a real database — SQLite (embedded, the
// default) or PostgreSQL (city deployments) — behind one interface,
// [History].
//
// # What it holds
//
// One row per stored result in table results: the result as JSON (the
// wire.Result the API serves, with received_at, rx_seq, flags and the
// derived verdict), the columns the queries filter on (kiosk, stall, event,
// analyte, kit lot, effective verdict, testing tier, source, measured and
// received time, each indexed with the ingest order rx_seq), and a CRC-32C of the JSON. Beside it, in
// the same transaction as the results they describe, three small tables
// make the working set cheap to load at start:
//
//	kiosk_marks   per kiosk: the contiguous high-water mark and the stored seqs above it
//	stall_latest  per stall or kitchen: the rx_seq of its latest result (the map's colour)
//	tally         per event, day, stall, analyte, tier, verdict and repeat flag (复测, schema 4): how many tests (the KPIs)
//	meta          the result count and the day offset the tally uses
//
// [Open] reads those (O(kiosks + stalls)), never the results themselves:
// start-up time and memory do not grow with the history.
//
// # Commit
//
// [History.Commit] stores a group of results in one transaction (the
// ingest committer's group commit): dedupe on result_id happens in the
// database (an identical resend is a Duplicate and returns the stored copy,
// the same id with other content is a Conflict and is refused), each new
// result gets received_at and the next rx_seq, and a result that reuses a
// seq the kiosk already used for another result is stored and flagged
// seq_regression. An imported result (wire.Result.Source set: a market's
// system, a lab) has no kiosk seq and no kiosk mark; its result_id is
// derived from its source row, so a second import is a Duplicate. When
// Commit returns nil every Stored result is durable:
// SQLite runs in WAL mode with synchronous=FULL (the WAL is fsynced before
// COMMIT returns), PostgreSQL commits with its own fsync (synchronous_commit
// on). A failed COMMIT leaves what is on disk unknown: from then on every
// Commit returns [ErrStorageFailed] until the service is restarted, so
// nothing is acknowledged that may not be on disk, and a resend is never
// acked as a duplicate of it.
//
// # Damage
//
// Every read checks the row's CRC-32C and that the JSON agrees with the
// row's columns. A row that fails is never served: queries skip it, Result
// returns [ErrDamaged], and Options.OnDamage is told (the service raises a
// storage_damaged_result alarm, once per row). [History.Verify] (the
// `shian-command verify` command) checks every row, and the working-set
// tables against the results.
//
// # Schema
//
// The schema is versioned (table history_schema) and upgraded at Open, in
// one transaction per version; a database newer than this program is
// refused with a message saying so.
package history

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// History is the result history as the command's parts use it. The ingest
// committer needs CommitPrepared and HighWater (its Sink); the live map StallStates
// and Results; the API Results, Result and Each; the assurance engine Each
// (to recover incidents) and Tally (KPIs).
type History interface {
	// Commit stores a group of results in one durable transaction.
	Commit(rs []wire.Result) ([]Committed, error)
	// CommitPrepared is Commit for results encoded ahead by Prepare (on
	// any goroutine), so that the serial committer does not encode them.
	CommitPrepared(in []Incoming) ([]Committed, error)
	// HighWater reports the highest seq up to which every result of the
	// kiosk is stored, and the highest seq stored at all.
	HighWater(kioskID string) (contiguous, highest uint64)
	// Result returns one stored result (ErrNotFound, ErrDamaged).
	Result(id string) (wire.Result, error)
	// Results returns up to f.Limit results matching f, newest received
	// first; page on with f.BeforeRx = the last one's RxSeq.
	Results(f Filter) ([]wire.Result, error)
	// Each calls fn for every result matching f, oldest received first
	// (newest first when desc), until fn returns false. It reads in pages,
	// holding no transaction between them: exports of any size run in
	// bounded memory and never hold up the committer.
	Each(f Filter, desc bool, fn func(*wire.Result) bool) error
	// Count returns how many results are stored.
	Count() int
	// StallState returns the latest verdict at one site; StallStates at
	// every site, ordered by site id.
	StallState(id string) (wire.StallState, bool)
	StallStates() []wire.StallState
	// Tally counts tests by verdict, grouped by one dimension, from the
	// tally table (KPIs without reading results).
	Tally(q TallyQuery) ([]Tally, error)
	// Import stores results that already carry their rx_seq and
	// received_at (a data directory of an earlier version): each once,
	// keeping its rx_seq where it is free. It is idempotent.
	Import(rs []wire.Result) (ImportReport, error)
	// Verify checks every stored row and the working-set tables.
	Verify() (VerifyReport, error)
	// Snapshot writes a consistent copy of the whole history, as one
	// SQLite file, to path (which must not exist) and returns how many
	// results it holds; ErrNoSnapshot for PostgreSQL (back it up with
	// pg_dump).
	Snapshot(path string) (int, error)
	// Err returns nil while the history takes commits, and the
	// ErrStorageFailed error once a commit failed (health checks report it).
	Err() error
	// Close closes the database.
	Close() error
}

// Errors.
var (
	// ErrNotFound: no result with that id is stored.
	ErrNotFound = errors.New("not found")
	// ErrDamaged: the stored row failed its checksum or does not agree
	// with its columns; it is not served.
	ErrDamaged = errors.New("stored result is damaged")
	// ErrStorageFailed: a commit failed and what is on disk is unknown;
	// nothing more is stored or acknowledged until the service restarts.
	ErrStorageFailed = errors.New("history: storage failure")
	// ErrNoSnapshot: the history lives in PostgreSQL; back it up with
	// PostgreSQL's own tools (pg_dump, base backups).
	ErrNoSnapshot = errors.New("history: a PostgreSQL history is backed up with pg_dump, not by shian-command")
)

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

// Filter selects results. Zero fields do not filter.
type Filter struct {
	Limit    int // Results: default 100, at most 10000
	StallID  string
	KioskID  string
	Verdict  string   // effective verdict
	Verdicts []string // any of these effective verdicts
	Analyte  string
	EventID  string
	Lot      string     // kit lot (批号): every result that used it
	Tier     assay.Tier // testing tier (四位一体)
	Source   string     // "kiosk", "market:<id>", "lab:<id>"
	// Events, when not empty, keeps only results of these events (a
	// user's scope: results outside any event are then left out too).
	Events        []string
	Since         time.Time // measured at or after
	Until         time.Time // measured before
	ReceivedSince time.Time // received at or after
	BeforeRx      uint64    // only rx_seq below this (paging newest first)
	AfterRx       uint64    // only rx_seq above this
}

// Dim is what a Tally groups by.
type Dim string

// Dimensions.
const (
	ByTotal   Dim = ""
	ByEvent   Dim = "event"
	ByDay     Dim = "day"
	ByStall   Dim = "stall"
	ByAnalyte Dim = "analyte"
	ByTier    Dim = "tier"
)

// TallyQuery selects the tests a Tally counts.
type TallyQuery struct {
	By      Dim
	EventID string     // only this event
	Tier    assay.Tier // only this testing tier
	Events  []string   // only these events (scope; empty: all)
	// SkipRepeats leaves out the repeats of a sample (复测, repeat_of
	// set), so that a test is counted once (the KPIs' tests).
	SkipRepeats bool
}

// Tally is the number of tests with one effective verdict in one group.
// Key is the event id, the day (YYYY-MM-DD in Options.DayOffset), the
// stall id, the analyte or the tier, "" for ByTotal.
type Tally struct {
	Key     string `json:"key"`
	Verdict string `json:"verdict"`
	N       int    `json:"n"`
}

// Damage is one stored row that failed a check.
type Damage struct {
	RxSeq    uint64 `json:"rx_seq"`
	ResultID string `json:"result_id,omitempty"`
	// KioskID and Seq are the row's columns (the JSON may be what is
	// damaged): the kiosk that can send the result again, if it still
	// holds it.
	KioskID string `json:"kiosk_id,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Problem string `json:"problem"`
	// Repaired: found while a resend of the result put it back whole.
	Repaired bool `json:"repaired,omitempty"`
}

func (d Damage) String() string {
	return fmt.Sprintf("rx_seq %d (result %s): %s", d.RxSeq, d.ResultID, d.Problem)
}

// ImportReport says what Import did.
type ImportReport struct {
	Imported   int      // new rows
	Present    int      // already stored, identical
	Renumbered int      // stored under a new rx_seq (theirs was taken)
	Conflicts  []string // result ids stored with other content: kept as stored
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Rows    int      `json:"rows"`
	Damaged []Damage `json:"damaged"`
	// Tables lists disagreements between the working-set tables (marks,
	// latest, tally, count) and the results.
	Tables []string `json:"tables"`
}

// OK reports whether nothing was found.
func (v VerifyReport) OK() bool { return len(v.Damaged) == 0 && len(v.Tables) == 0 }

// Options configures Open.
type Options struct {
	Now func() time.Time
	Log *slog.Logger
	// DayOffset is the offset from UTC of the civil days the tally counts
	// in (default +8 h, China Standard Time; the KPIs' day). Opening with
	// another offset than the database was counted in recounts the tally.
	DayOffset *time.Duration
	// OnDamage is called (from the reading goroutine) once per damaged
	// row found by a read.
	OnDamage func(Damage)
	// NoSync trades durability for speed (SQLite synchronous=OFF,
	// PostgreSQL synchronous_commit=off): only for tests that do not test
	// durability.
	NoSync bool
	// Fault is a test seam: called before every COMMIT of Commit (op
	// "commit"); a non-nil error is taken as the COMMIT failing.
	Fault func(op string) error
	// Cluster lets several shian-command instances write one PostgreSQL
	// history at once (decision 0025): no single-writer lock; each commit
	// numbers its rows under a transaction-scoped advisory lock, so rx_seq
	// order is commit order and a reader paging by rx_seq never skips a
	// row; dedupe, the kiosks' marks, the count and the stalls' latest are
	// read from the database inside that lock and at every HighWater. Off
	// (the default) is the single-writer mode, as fast as before. SQLite
	// refuses it.
	Cluster bool
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.DayOffset == nil {
		d := 8 * time.Hour
		o.DayOffset = &d
	}
}

// Open opens (creating and upgrading as needed) the history named by spec:
//
//	sqlite:PATH              an SQLite file (created with its directory)
//	postgres://… postgresql://…   a PostgreSQL database (pgx connection string)
func Open(spec string, opts Options) (History, error) {
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		if opts.Cluster {
			return nil, fmt.Errorf("history: cluster mode needs a PostgreSQL history (--db postgres://…), not %s", spec)
		}
		return OpenSQLite(strings.TrimPrefix(spec, "sqlite:"), opts)
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return OpenPostgres(spec, opts)
	}
	return nil, fmt.Errorf("history: --db %q: want sqlite:PATH (e.g. sqlite:/var/lib/shian-command/history.db) or postgres://user@host/dbname", redact(spec))
}

// redact hides a password in a connection string for messages.
func redact(spec string) string {
	if i := strings.Index(spec, "://"); i >= 0 {
		rest := spec[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return spec[:i+3] + rest[:c] + ":***" + rest[at:]
			}
		}
	}
	return spec
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
