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
package live

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync/atomic"

	"github.com/shianfood/shian/protocols/wire"
)

// SnapshotFunc builds the live state. It is called from the hub goroutine
// with the sequence of the last published delta; it must not call back
// into the hub.
type SnapshotFunc func(seq uint64) wire.Snapshot

// Options configures a Hub.
type Options struct {
	// Ring is how many recent deltas are kept for resync (default 4096).
	Ring int
	// SendBuffer is each browser's queue length (default 256).
	SendBuffer int
	Log        *slog.Logger
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
	ack  chan uint64
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
	ack := make(chan uint64, 1)
	select {
	case h.publish <- published{kind: kind, data: b, ack: ack}:
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
	ring := make([][]byte, h.opts.Ring) // encoded deltas by seq % Ring
	var seq uint64

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
		snap := h.snapshot(seq)
		snap.Seq, snap.Stream = seq, h.stream
		b, err := wire.Encode(&snap)
		if err != nil {
			h.opts.Log.Error("live: cannot encode snapshot", "err", err)
			return
		}
		send(c, b)
	}
	// replay sends the deltas after since from the ring, when they are of
	// this stream and all still there; it reports whether it did.
	replay := func(c *client, since uint64, stream string) bool {
		if since == 0 || stream != h.stream || since > seq || seq-since >= uint64(len(ring)) {
			return false
		}
		for s := since + 1; s <= seq; s++ {
			if !send(c, ring[s%uint64(len(ring))]) {
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
			seq++
			d := &wire.Delta{Stream: h.stream, Seq: seq, Kind: p.kind, Data: p.data}
			b, err := wire.Encode(d)
			if err != nil {
				h.opts.Log.Error("live: cannot encode delta", "err", err)
				p.ack <- seq
				continue
			}
			ring[seq%uint64(len(ring))] = b
			for c := range clients {
				send(c, b)
			}
			p.ack <- seq
		case sc := <-h.stats:
			sc <- Stats{Clients: len(clients), Seq: seq, Dropped: h.dropped.Load()}
		}
	}
}

// newStreamID returns a random id for one run of the hub.
func newStreamID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Stream returns the hub's stream id.
func (h *Hub) Stream() string { return h.stream }
