package cluster

import (
	"cmp"
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// EngineLock is the advisory lock key of the assurance engine's leader
// ("ShianE"; the history's single-writer lock is "ShianH").
const EngineLock int64 = 0x5368_6961_6e45

// LeaderOptions configures a Leader; zero values take the defaults.
type LeaderOptions struct {
	Log *slog.Logger
	// Check is how often the leader asks its connection whether it is
	// still there (default 1 s); Retry how often a follower tries the
	// lock (default 2 s).
	Check, Retry time.Duration
}

// Leader runs a function on one instance at a time (see the package doc).
type Leader struct {
	dsn     string
	key     int64
	opts    LeaderOptions
	leading atomic.Bool
	terms   atomic.Int64 // how many times it became the leader
}

// NewLeader returns a Leader for the advisory lock key on the database dsn.
func NewLeader(dsn string, key int64, opts LeaderOptions) *Leader {
	opts.Log = cmp.Or(opts.Log, slog.Default())
	opts.Check = cmp.Or(opts.Check, time.Second)
	opts.Retry = cmp.Or(opts.Retry, 2*time.Second)
	return &Leader{dsn: dsn, key: key, opts: opts}
}

// Leading reports whether this Leader holds the lock now.
func (l *Leader) Leading() bool { return l.leading.Load() }

// Run tries the lock every Retry until ctx ends; while it holds it, it
// runs fn with a context that is cancelled when the lock's connection is
// lost or ctx ends, and waits for fn to return before trying again. fn
// returning by itself ends the term: the lock is released. Run returns
// ctx's error.
func (l *Leader) Run(ctx context.Context, fn func(ctx context.Context)) error {
	for {
		l.term(ctx, fn)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.opts.Retry):
		}
	}
}

// term connects, takes the lock if it is free, and leads until the
// connection fails, fn returns or ctx ends.
func (l *Leader) term(ctx context.Context, fn func(ctx context.Context)) {
	c, err := pgx.Connect(ctx, l.dsn)
	if err != nil {
		if ctx.Err() == nil {
			l.opts.Log.Warn("cluster: the leader election cannot connect; trying again", "err", err, "in", l.opts.Retry)
		}
		return
	}
	defer c.Close(context.Background())
	var got bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got); err != nil || !got {
		return
	}
	l.leading.Store(true)
	l.terms.Add(1)
	l.opts.Log.Info("cluster: this instance leads (advisory lock held)", "lock", l.key)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fn(fctx) }()
	t := time.NewTicker(l.opts.Check)
	defer t.Stop()
	lost := false
	for !lost {
		select {
		case <-ctx.Done():
			lost = true
		case <-done:
			lost = true
		case <-t.C:
			cctx, ccancel := context.WithTimeout(ctx, l.opts.Check)
			_, err := c.Exec(cctx, `SELECT 1`)
			ccancel()
			if err != nil && ctx.Err() == nil {
				l.opts.Log.Warn("cluster: lost the leader's connection (and with it the lock); stopping the leader's work", "err", err)
				lost = true
			}
		}
	}
	cancel()
	<-done
	l.leading.Store(false)
	if !c.IsClosed() {
		uctx, ucancel := context.WithTimeout(context.Background(), l.opts.Check)
		c.Exec(uctx, `SELECT pg_advisory_unlock($1)`, l.key)
		ucancel()
	}
}
