// Package live pushes the command centre's live state to browsers over
// websockets: a snapshot on connect, then numbered deltas.
//
// # Shape
//
// The [Hub] is one goroutine that owns the set of subscribers, a ring of
// the most recent deltas and the delta sequence; everything reaches it
// through channels, so it needs no locks (the gorilla chat example's hub).
// Each connection has exactly one reader and one writer goroutine
// (readPump and writePump); the writer also sends the pings. A browser
// that cannot keep up — its send buffer is full — is dropped, never waited
// for; it reconnects and resubscribes from its last sequence.
//
// # Resync
//
// A browser reconnecting with subscribe{since: N} gets the deltas after N
// from the ring when they are all still there, or else a fresh snapshot.
// A snapshot is built inside the hub goroutine, so its sequence number
// covers exactly the deltas published before it.
//
// # Event scope
//
// A user scoped to events (store.User.Events) sees only their records,
// on the live map as in the REST API. Every delta has an [Audience]
// (Options.Audience says it: everyone, the users of one event, or only
// unscoped users), and the hub keeps one view per distinct scope in use:
// its own stream id, sequence and ring, holding only the deltas that
// scope may see, numbered without gaps. A scoped browser therefore never
// receives another event's delta — not even as a gap in its numbering —
// and its snapshot (SnapshotFunc with its scope) holds only its events.
// Views are never dropped while the hub runs, so a stream id always
// means the same scope and numbering.
package live

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/shianfood/shian/protocols/wire"
)

// SnapshotFunc builds the live state that a user scoped to scope (nil:
// every event) may see. It is called from the hub goroutine with the
// sequence of the last delta of that scope's view; it must not call back
// into the hub.
type SnapshotFunc func(seq uint64, scope []string) wire.Snapshot

// Audience is who may see a delta: everyone (Everyone), the users whose
// scope holds Event, and always the users of no scope. The zero Audience
// is for unscoped users only.
type Audience struct {
	Everyone bool
	Event    string
}

// Sees reports whether a user scoped to scope (empty: every event) may
// see a delta for a.
func (a Audience) Sees(scope []string) bool {
	return len(scope) == 0 || a.Everyone || (a.Event != "" && slices.Contains(scope, a.Event))
}

// Options configures a Hub.
type Options struct {
	// Ring is how many recent deltas are kept for resync (default 4096).
	Ring int
	// SendBuffer is each browser's queue length (default 256).
	SendBuffer int
	Log        *slog.Logger
	// Audience says who may see a delta; it is called by Publish, in the
	// publisher's goroutine. Nil: everyone sees everything.
	Audience func(kind string, data any) Audience
	// ScopeOf returns the event scope of an authenticated browser's
	// request (nil: every event). Nil: every browser is unscoped.
	ScopeOf func(r *http.Request) []string
}

// Hub fans live updates out to browsers.
type Hub struct {
	opts     Options
	snapshot SnapshotFunc
	stream   string

	register   chan registration
	unregister chan *client
	publish    chan published
	resync     chan resyncReq
	stats      chan chan Stats
	quit       chan struct{}
	done       chan struct{}

	dropped atomic.Uint64
}

type published struct {
	kind string
	data json.RawMessage
	aud  Audience
	ack  chan uint64
}

// view is what the browsers of one scope see: their own numbering of the
// deltas they may see, and the ring to resync from.
type view struct {
	scope  []string
	stream string
	seq    uint64
	ring   [][]byte // encoded deltas by seq % len(ring)
}

type resyncReq struct {
	c      *client
	since  uint64
	stream string
}

// registration adds a client; a client resuming after a reconnect names
// the last delta it applied, and gets the missed deltas instead of a
// snapshot when they are still in the ring.
type registration struct {
	c      *client
	since  uint64
	stream string
	scope  []string
}

// Stats describes the hub for metrics and tests.
type Stats struct {
	Clients int
	Seq     uint64
	Dropped uint64 // browsers dropped for being too slow
}

// NewHub starts a hub. Stop it with Close.
func NewHub(snapshot SnapshotFunc, opts Options) *Hub {
	if opts.Ring <= 0 {
		opts.Ring = 4096
	}
	if opts.SendBuffer <= 0 {
		opts.SendBuffer = 256
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h := &Hub{opts: opts, snapshot: snapshot, stream: newStreamID(),
		register: make(chan registration), unregister: make(chan *client), publish: make(chan published, 1024),
		resync: make(chan resyncReq), stats: make(chan chan Stats), quit: make(chan struct{}), done: make(chan struct{})}
	go h.run()
	return h
}

// Publish sends a delta of the given kind to every browser and returns its
// sequence number. data is marshalled to JSON.
func (h *Hub) Publish(kind string, data any) uint64 {
	b, err := json.Marshal(data)
	if err != nil {
		h.opts.Log.Error("live: cannot encode delta", "kind", kind, "err", err)
		return 0
	}
	aud := Audience{Everyone: true}
	if h.opts.Audience != nil {
		aud = h.opts.Audience(kind, data)
	}
	ack := make(chan uint64, 1)
	select {
	case h.publish <- published{kind: kind, data: b, aud: aud, ack: ack}:
	case <-h.done:
		return 0
	}
	select {
	case seq := <-ack:
		return seq
	case <-h.done:
		return 0
	}
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	c := make(chan Stats, 1)
	select {
	case h.stats <- c:
		return <-c
	case <-h.done:
		return Stats{}
	}
}

// Close stops the hub and closes every browser connection.
func (h *Hub) Close() {
	select {
	case <-h.quit:
	default:
		close(h.quit)
	}
	<-h.done
}

func (h *Hub) run() {
	defer close(h.done)
	clients := map[*client]bool{}
	// views by scope key ("" is every event); the unscoped view's stream
	// is the hub's and its seq the one Publish returns.
	all := &view{stream: h.stream, ring: make([][]byte, h.opts.Ring)}
	views := map[string]*view{"": all}
	viewOf := func(scope []string) *view {
		key := scopeKey(scope)
		v := views[key]
		if v == nil {
			sum := sha256.Sum256([]byte(key))
			v = &view{scope: slices.Clone(scope), stream: h.stream + "." + hex.EncodeToString(sum[:4]), ring: make([][]byte, h.opts.Ring)}
			views[key] = v
		}
		return v
	}

	send := func(c *client, msg []byte) bool {
		select {
		case c.send <- msg:
			return true
		default:
			// Too slow: drop it; it will resubscribe.
			delete(clients, c)
			close(c.send)
			h.dropped.Add(1)
			return false
		}
	}
	sendSnapshot := func(c *client) {
		v := c.view
		snap := h.snapshot(v.seq, v.scope)
		snap.Seq, snap.Stream = v.seq, v.stream
		b, err := wire.Encode(&snap)
		if err != nil {
			h.opts.Log.Error("live: cannot encode snapshot", "err", err)
			return
		}
		send(c, b)
	}
	// replay sends the deltas after since from the client's view's ring,
	// when they are of this stream and all still there; it reports whether
	// it did.
	replay := func(c *client, since uint64, stream string) bool {
		v := c.view
		if since == 0 || stream != v.stream || since > v.seq || v.seq-since >= uint64(len(v.ring)) {
			return false
		}
		for s := since + 1; s <= v.seq; s++ {
			if !send(c, v.ring[s%uint64(len(v.ring))]) {
				break
			}
		}
		return true
	}
	for {
		select {
		case <-h.quit:
			for c := range clients {
				close(c.send)
			}
			return
		case r := <-h.register:
			r.c.view = viewOf(r.scope)
			clients[r.c] = true
			if !replay(r.c, r.since, r.stream) {
				sendSnapshot(r.c)
			}
		case c := <-h.unregister:
			if clients[c] {
				delete(clients, c)
				close(c.send)
			}
		case r := <-h.resync:
			if !clients[r.c] {
				continue
			}
			if !replay(r.c, r.since, r.stream) {
				sendSnapshot(r.c)
			}
		case p := <-h.publish:
			encoded := map[*view][]byte{}
			for _, v := range views {
				if !p.aud.Sees(v.scope) {
					continue
				}
				v.seq++
				b, err := wire.Encode(&wire.Delta{Stream: v.stream, Seq: v.seq, Kind: p.kind, Data: p.data})
				if err != nil {
					h.opts.Log.Error("live: cannot encode delta", "err", err)
					v.seq--
					continue
				}
				v.ring[v.seq%uint64(len(v.ring))] = b
				encoded[v] = b
			}
			for c := range clients {
				if b, ok := encoded[c.view]; ok {
					send(c, b)
				}
			}
			p.ack <- all.seq
		case sc := <-h.stats:
			sc <- Stats{Clients: len(clients), Seq: all.seq, Dropped: h.dropped.Load()}
		}
	}
}

// scopeKey names a scope: its events, sorted, joined by newlines ("" for
// every event).
func scopeKey(scope []string) string {
	s := slices.Clone(scope)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), "\n")
}

// newStreamID returns a random id for one run of the hub.
func newStreamID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Stream returns the hub's stream id.
func (h *Hub) Stream() string { return h.stream }
