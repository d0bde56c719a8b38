package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shianfood/shian/protocols/wire"
)

// Shared is the small state the instances of a cluster keep in PostgreSQL
// besides the records and the history (decision 0030):
//
//   - kiosk_presence: which kiosk is linked to which instance, and when
//     each was last seen, so that any instance says whether a kiosk is
//     online (the event readiness gate, the kiosk list, the map). An
//     instance writes a kiosk's row when its link comes up or goes down
//     ([Shared.NotePresence]) and, for every kiosk linked to it, at most
//     every PresenceEvery ([Shared.RunPresence]); a row whose writer has
//     not refreshed it for PresenceStale (the instance died without
//     saying so) reads as offline, last seen at its last write.
//   - login_failures: the login throttle's counts, per (user, address)
//     and per address ([Shared.Failures], [Shared.Fail], [Shared.Clear]),
//     so that guesses spread over the instances count together.
//
// Times are the instances' clocks (the injected Now), not the database's.
type Shared struct {
	pool   *pgxpool.Pool
	origin string
	opts   SharedOptions

	mu      sync.Mutex
	pending map[string]wire.KioskState // transitions not written yet
	noted   map[string]bool            // the Online each kiosk was last noted with
	wake    chan struct{}
}

// SharedOptions configures OpenShared; zero values take the defaults.
type SharedOptions struct {
	// Origin names this instance in the presence rows (the Bus origin:
	// unique per process).
	Origin string
	Now    func() time.Time
	Log    *slog.Logger
	// PresenceEvery is how often the rows of the kiosks linked here are
	// refreshed (default 5 s); PresenceStale is how old a row of an online
	// kiosk may be before it reads as offline (default 3 × PresenceEvery).
	PresenceEvery, PresenceStale time.Duration
	// OnPresence is called, from RunPresence's goroutine, with the kiosks
	// whose link came up or went down here once their rows are written
	// (the service tells the other instances).
	OnPresence func(ids []string)
}

const sharedSchema = `
CREATE TABLE IF NOT EXISTS kiosk_presence (
	kiosk_id text COLLATE "C" PRIMARY KEY,
	origin   text NOT NULL,
	online   boolean NOT NULL,
	seen     timestamptz NOT NULL,
	state    jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
	key  text COLLATE "C" PRIMARY KEY,
	n    integer NOT NULL,
	last timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_last ON login_failures (last);
`

// sharedSchemaLock serialises the creation of Shared's tables when
// several instances start at once.
const sharedSchemaLock int64 = 0x5368_6961_6e53_6832 // "ShianSh2"

// OpenShared connects to the database dsn and creates the tables on
// first use.
func OpenShared(ctx context.Context, dsn string, opts SharedOptions) (*Shared, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Log = cmp.Or(opts.Log, slog.Default())
	opts.PresenceEvery = cmp.Or(opts.PresenceEvery, 5*time.Second)
	opts.PresenceStale = cmp.Or(opts.PresenceStale, 3*opts.PresenceEvery)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("cluster: --db: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: shared state: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, sharedSchemaLock); err != nil {
			return err
		}
		for _, stmt := range strings.Split(sharedSchema, ";") {
			if strings.TrimSpace(stmt) != "" {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: create the shared-state tables: %w (is the database reachable and the user allowed to create tables?)", err)
	}
	return &Shared{pool: pool, origin: opts.Origin, opts: opts, pending: map[string]wire.KioskState{},
		noted: map[string]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Close closes the connections.
func (s *Shared) Close() { s.pool.Close() }

// NotePresence takes a kiosk's state as its link here sees it (the
// ingest's OnKiosk). A link that came up or went down is written at once
// (by RunPresence's goroutine: the caller does not wait for the
// database); other changes go with the next refresh.
func (s *Shared) NotePresence(st wire.KioskState) {
	s.mu.Lock()
	was, ok := s.noted[st.KioskID]
	s.noted[st.KioskID] = st.Online
	if ok && was == st.Online {
		s.mu.Unlock()
		return
	}
	s.pending[st.KioskID] = st
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunPresence writes the noted transitions as they come and, every
// PresenceEvery, the rows of the kiosks local says are linked here,
// until ctx ends.
func (s *Shared) RunPresence(ctx context.Context, local func() []wire.KioskState) {
	t := time.NewTicker(s.opts.PresenceEvery)
	defer t.Stop()
	for {
		var batch []wire.KioskState
		changed := false
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.mu.Lock()
			for _, st := range s.pending {
				batch = append(batch, st)
			}
			clear(s.pending)
			s.mu.Unlock()
			changed = true
		case <-t.C:
			for _, st := range local() {
				if st.Online {
					batch = append(batch, st)
				}
			}
		}
		if len(batch) == 0 {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.writePresence(wctx, batch)
		cancel()
		if err != nil {
			s.opts.Log.Warn("cannot write the kiosks' presence to the database; other instances see them as last written", "kiosks", len(batch), "err", err)
			if changed { // try the transitions again at the next wake or tick
				s.mu.Lock()
				for _, st := range batch {
					if _, ok := s.pending[st.KioskID]; !ok {
						s.pending[st.KioskID] = st
					}
				}
				s.mu.Unlock()
			}
			continue
		}
		if changed && s.opts.OnPresence != nil {
			ids := make([]string, len(batch))
			for i, st := range batch {
				ids[i] = st.KioskID
			}
			s.opts.OnPresence(ids)
		}
	}
}

// writePresence upserts the rows of batch. A link coming up (or being
// refreshed) takes the row whoever wrote it last; a link going down
// writes only a row this instance wrote (the kiosk may have moved to
// another instance meanwhile).
func (s *Shared) writePresence(ctx context.Context, batch []wire.KioskState) error {
	now := s.opts.Now().UTC()
	b := &pgx.Batch{}
	for _, st := range batch {
		raw, err := json.Marshal(st)
		if err != nil {
			return err
		}
		seen := now
		if !st.Online && st.LastSeen != nil {
			seen = st.LastSeen.UTC()
		}
		b.Queue(`INSERT INTO kiosk_presence (kiosk_id, origin, online, seen, state) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (kiosk_id) DO UPDATE SET origin = excluded.origin, online = excluded.online, seen = excluded.seen, state = excluded.state
			WHERE excluded.online OR kiosk_presence.origin = excluded.origin OR NOT kiosk_presence.online`,
			st.KioskID, s.origin, st.Online, seen, raw)
	}
	return s.pool.SendBatch(ctx, b).Close()
}

// ForgetPresence deletes a kiosk's row (the kiosk was deleted).
func (s *Shared) ForgetPresence(ctx context.Context, kioskID string) error {
	s.mu.Lock()
	delete(s.noted, kioskID)
	delete(s.pending, kioskID)
	s.mu.Unlock()
	_, err := s.pool.Exec(ctx, `DELETE FROM kiosk_presence WHERE kiosk_id = $1`, kioskID)
	return err
}

// Presence returns every kiosk's presence as last written by any
// instance: a row of an online kiosk older than PresenceStale reads as
// offline, last seen when it was written.
func (s *Shared) Presence(ctx context.Context) ([]wire.KioskState, error) {
	rows, err := s.pool.Query(ctx, `SELECT online, seen, state FROM kiosk_presence`)
	if err != nil {
		return nil, fmt.Errorf("cluster: read the kiosks' presence: %w", err)
	}
	now := s.opts.Now()
	var out []wire.KioskState
	for rows.Next() {
		var online bool
		var seen time.Time
		var raw []byte
		if err := rows.Scan(&online, &seen, &raw); err != nil {
			return nil, err
		}
		var st wire.KioskState
		if json.Unmarshal(raw, &st) != nil || st.KioskID == "" {
			continue
		}
		st.Online = online && now.Sub(seen) <= s.opts.PresenceStale
		if !st.Online {
			st.LastSeen = &seen
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Failure is one login throttle count: how many failures, the last when.
type Failure struct {
	N    int
	Last time.Time
}

// Failures returns the counts of keys (a key without failures is absent).
func (s *Shared) Failures(keys []string) (map[string]Failure, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT key, n, last FROM login_failures WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("cluster: read the login throttle: %w", err)
	}
	out := map[string]Failure{}
	for rows.Next() {
		var k string
		var f Failure
		if err := rows.Scan(&k, &f.N, &f.Last); err != nil {
			return nil, err
		}
		out[k] = f
	}
	return out, rows.Err()
}

// Fail counts one failure at now for each key; a count whose last
// failure is older than forget starts again. Counts forgotten for twice
// forget are deleted on the way.
func (s *Shared) Fail(keys []string, now time.Time, forget time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := &pgx.Batch{}
	for _, k := range keys {
		b.Queue(`INSERT INTO login_failures (key, n, last) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET n = CASE WHEN login_failures.last < $3 THEN 1 ELSE login_failures.n + 1 END,
				last = GREATEST(login_failures.last, excluded.last)`, k, now.UTC(), now.Add(-forget).UTC())
	}
	b.Queue(`DELETE FROM login_failures WHERE last < $1`, now.Add(-2*forget).UTC())
	return s.pool.SendBatch(ctx, b).Close()
}

// Clear forgets key's failures.
func (s *Shared) Clear(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key)
	return err
}
