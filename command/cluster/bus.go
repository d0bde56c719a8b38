package cluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// BusOptions configures a Bus; zero values take the defaults.
type BusOptions struct {
	// Instance names this instance in the origin of its notices (a
	// random suffix keeps two Buses of one name apart).
	Instance string
	Log      *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnects
	// (default 100 ms doubling to 5 s).
	MinBackoff, MaxBackoff time.Duration
}

// Bus publishes and receives notices over PostgreSQL LISTEN/NOTIFY (see
// the package doc). Subscribe and OnGap before Run.
type Bus struct {
	dsn    string
	origin string
	opts   BusOptions

	mu     sync.Mutex
	subs   map[string][]func(ids []string) // by topic
	gaps   []func()
	pub    *pgx.Conn // the publishing connection, opened on first use
	pubMu  sync.Mutex
	listen atomic.Bool
	conns  atomic.Int64 // connections the listener has made
}

var topicRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// NewBus returns a Bus on the database dsn (postgres://…). It connects
// when it first publishes and when Run starts.
func NewBus(dsn string, opts BusOptions) *Bus {
	opts.Log = cmp.Or(opts.Log, slog.Default())
	opts.MinBackoff = cmp.Or(opts.MinBackoff, 100*time.Millisecond)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 5*time.Second)
	var r [4]byte
	rand.Read(r[:])
	inst := cmp.Or(opts.Instance, "shian-command")
	if len(inst) > 150 {
		inst = inst[:150]
	}
	return &Bus{dsn: dsn, opts: opts, origin: inst + "/" + hex.EncodeToString(r[:]), subs: map[string][]func([]string){}}
}

// Origin is the origin field of this Bus's notices.
func (b *Bus) Origin() string { return b.origin }

func channel(topic string) (string, error) {
	if !topicRE.MatchString(topic) {
		return "", fmt.Errorf("cluster: topic %q: use lower-case letters, digits and _ (a NOTIFY channel name)", topic)
	}
	return "shian_" + topic, nil
}

// Subscribe calls fn, on the listener's goroutine, with the ids of every
// notice on topic from another instance. Call it before Run.
func (b *Bus) Subscribe(topic string, fn func(ids []string)) error {
	if _, err := channel(topic); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[topic] = append(b.subs[topic], fn)
	return nil
}

// OnGap calls fn, on the listener's goroutine, each time the listener is
// listening again after it lost its connection (or could not read a
// notice): notices may have been missed, so resync from the rows.
func (b *Bus) OnGap(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gaps = append(b.gaps, fn)
}

// Listening reports whether the listener is connected and listening.
func (b *Bus) Listening() bool { return b.listen.Load() }

// Publish notifies the other instances of ids on topic, in as many
// notices as the payload limit needs. Call it after the rows are
// committed. On a broken connection it reconnects once and retries.
func (b *Bus) Publish(ctx context.Context, topic string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ch, err := channel(topic)
	if err != nil {
		return err
	}
	payloads, err := encodePayloads(b.origin, ids, MaxPayload)
	if err != nil {
		return err
	}
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	for attempt := 0; ; attempt++ {
		err = b.publish(ctx, ch, payloads)
		if err == nil || attempt == 1 || ctx.Err() != nil {
			break
		}
		if b.pub != nil {
			b.pub.Close(context.Background())
			b.pub = nil
		}
	}
	if err != nil {
		return fmt.Errorf("cluster: notify %s (%d ids): %w", topic, len(ids), err)
	}
	return nil
}

func (b *Bus) publish(ctx context.Context, ch string, payloads []string) error {
	if b.pub == nil || b.pub.IsClosed() {
		c, err := pgx.Connect(ctx, b.dsn)
		if err != nil {
			return err
		}
		b.pub = c
	}
	// One transaction: the notices are delivered together, in order.
	tx, err := b.pub.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	for _, p := range payloads {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ch, p); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// Run listens until ctx ends, calling the subscribers and, after every
// reconnect, the gap handlers. It returns ctx's error.
func (b *Bus) Run(ctx context.Context) error {
	defer func() {
		b.pubMu.Lock()
		if b.pub != nil {
			b.pub.Close(context.Background())
			b.pub = nil
		}
		b.pubMu.Unlock()
	}()
	wait := b.opts.MinBackoff
	for first := true; ; first = false {
		err := b.listenOnce(ctx, !first, func() { wait = b.opts.MinBackoff })
		b.listen.Store(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.opts.Log.Warn("cluster: the notice listener lost its connection; reconnecting (the consumers resync once it is back)", "err", err, "wait", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, b.opts.MaxBackoff)
	}
}

// listenOnce connects, LISTENs on every subscribed topic, reports a gap
// when asked to, and delivers notices until the connection fails.
func (b *Bus) listenOnce(ctx context.Context, gap bool, connected func()) error {
	c, err := pgx.Connect(ctx, b.dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	b.mu.Lock()
	topics := map[string][]func([]string){}
	for t, fs := range b.subs {
		topics[t] = fs
	}
	gaps := b.gaps
	b.mu.Unlock()
	byChannel := map[string][]func([]string){}
	for t, fs := range topics {
		ch, _ := channel(t)
		if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
		byChannel[ch] = fs
	}
	b.conns.Add(1)
	b.listen.Store(true)
	connected()
	if gap {
		for _, g := range gaps {
			g()
		}
	}
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fs := byChannel[n.Channel]
		if fs == nil {
			continue
		}
		notice, err := DecodePayload([]byte(n.Payload))
		if err != nil {
			b.opts.Log.Error("cluster: dropped a notice that cannot be read; resyncing", "channel", n.Channel, "from_pid", n.PID, "err", err)
			for _, g := range gaps {
				g()
			}
			continue
		}
		if notice.Origin == b.origin {
			continue
		}
		for _, f := range fs {
			f(notice.IDs)
		}
	}
}
