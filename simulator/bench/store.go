package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/tidwall/buntdb"
)

// Everything the bench knows about where the command keeps its data is in
// this file: the operational records in DATA/command.db (buntdb: kiosks,
// users, tokens), and the result history behind --db (SQLite by default,
// PostgreSQL where installed), filled through its own bulk path.

// backend is one result history the command can run on.
type backend struct {
	name string    // "SQLite", "PostgreSQL"
	pg   *postgres // the server, for PostgreSQL
}

// spec is the --db value of a run directory on this backend.
func (bk backend) spec(run string) string {
	if bk.pg != nil {
		return bk.pg.dsnFor(dbName(run))
	}
	return "sqlite:" + filepath.Join(dataDir(run), "history.db")
}

// describe names the backend for the report.
func (bk backend) describe() string {
	if bk.pg != nil {
		return "PostgreSQL " + bk.pg.version + " (command/history; fsync and synchronous_commit on; the server on the same machine)"
	}
	return "SQLite (command/history, modernc.org/sqlite: WAL, synchronous=FULL)"
}

// sqlite is the default backend.
var sqlite = backend{name: "SQLite"}

// dataDir is the command's --data for a run directory.
func dataDir(run string) string { return filepath.Join(run, "command") }

// commandArgs are the command-line flags that point shian-command at a
// run's data.
func (bk backend) commandArgs(run string) []string {
	return []string{"--data", dataDir(run), "--db", bk.spec(run)}
}

// dbName is the PostgreSQL database of a run directory.
func dbName(run string) string {
	return "bench_" + strings.NewReplacer("-", "_", ".", "_").Replace(filepath.Base(run))
}

// fillKiosks is how many kiosks the fill spreads results over.
const fillKiosks = 500

// prepared is what prepare did.
type prepared struct {
	tokens map[string]string // kiosk id → token
	api    string            // an admin's API token
	added  int               // results added by the fill
	took   time.Duration     // the fill's time
	total  int               // results stored after it
}

// prepare works on a stopped command's data directory: it registers the
// kiosks ids, creates an admin with an API token, and fills the result
// history until it holds fillTo, in groups of 4096 through
// history.Import (one transaction per group: the bulk path by which an
// earlier data directory's results are carried over), each received two
// seconds after it was measured: results of fillKiosks kiosks F-0001…,
// over 2,000 stalls and the year before start, 90 % negative, 7 %
// suspicious, 3 % positive (none in the last fillQuiet), all of enc's
// event. The fill is
// not what is measured: it runs with the history's NoSync (no fsync per
// transaction); the command then opens the history with its durability
// on.
func prepare(bk backend, run string, ids []string, fillTo int, enc *Encoder, start time.Time) (prepared, error) {
	var p prepared
	// Registrations are not what is measured: without a fill, no fsync
	// per kiosk (the file is read back by the command from the page
	// cache). A fill keeps the store's durable path, one fsync per group.
	opts := store.Options{Log: quiet()}
	if fillTo == 0 {
		never := buntdb.Never
		opts.Sync = &never
	}
	// On PostgreSQL the command runs in cluster mode: its records are in
	// the database beside the history, not in DATA/command.db.
	if bk.pg != nil {
		if err := bk.pg.createDB(dbName(run)); err != nil {
			return p, err
		}
	}
	var st *store.Store
	var err error
	if bk.pg != nil {
		st, err = store.OpenPostgres(context.Background(), bk.spec(run), opts)
	} else {
		st, err = store.Open(dataDir(run), opts)
	}
	if err != nil {
		return p, err
	}
	defer st.Close()
	p.tokens = make(map[string]string, len(ids))
	for _, id := range ids {
		tok, err := st.RegisterKiosk(store.Kiosk{ID: id, Name: "基准测试终端 " + id})
		if err != nil {
			return p, err
		}
		p.tokens[id] = tok
	}
	a := auth.New(st, time.Now)
	if err := a.CreateUser("bench", "基准测试", assurance.RoleAdmin, "bench-password-not-secret"); err != nil && !errors.Is(err, store.ErrConflict) {
		return p, err
	}
	if p.api, err = a.NewAPIToken("bench", "bench"); err != nil {
		return p, err
	}
	hist, err := history.Open(bk.spec(run), history.Options{Log: quiet(), NoSync: true})
	if err != nil {
		return p, err
	}
	defer hist.Close()
	have := hist.Count()
	t0 := time.Now()
	const group = 4096
	batch := make([]wire.Result, 0, group)
	for i := have; i < fillTo; i++ {
		s := fillSpec(i, fillTo, start)
		r, err := enc.Result(&s)
		if err != nil {
			return p, err
		}
		at := r.MeasuredAt.Add(2 * time.Second)
		r.ReceivedAt = &at
		batch = append(batch, r)
		if len(batch) == group || i == fillTo-1 {
			if _, err := hist.Import(batch); err != nil {
				return p, err
			}
			batch = batch[:0]
		}
	}
	p.added, p.took, p.total = max(0, fillTo-have), time.Since(t0), hist.Count()
	return p, nil
}

// fillSpan is how far back the fill goes: a year of a city's results.
const fillSpan = 365 * 24 * time.Hour

// fillQuiet is the time before start in which the fill has negatives
// only: the assurance engine opens an incident at start for a positive
// received within its RecoverWindow (48 h) that has none, and the fill's
// results, stored without the engine, have none.
const fillQuiet = 72 * time.Hour

// fillSpec is the i-th of total prefilled results: kiosk i mod fillKiosks,
// measured at an even spacing over fillSpan before start.
func fillSpec(i, total int, start time.Time) Spec {
	at := start.Add(-fillSpan + time.Duration(i)*(fillSpan/time.Duration(max(total, 1))))
	kind := 0
	switch x := (i * 7919) % 100; {
	case start.Sub(at) < fillQuiet:
	case x < 3:
		kind = 2
	case x < 10:
		kind = 1
	}
	return Spec{Kind: kind, KioskID: fmt.Sprintf("F-%04d", i%fillKiosks+1), Seq: uint64(i/fillKiosks + 1),
		StallID: stallID(i*31, 2000), Tag: "样品", MeasuredAt: at}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
