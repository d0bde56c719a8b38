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
	"net/http"
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
	// Owner names who a connection belongs to, from its (authenticated)
	// handshake request; nil: every connection is anonymous's.
	Owner func(r *http.Request) Owner
	// MaxPerUser and MaxTotal cap the connections of one user and of the
	// whole hub (defaults 20 and 2000). A connection over a cap is
	// closed at once with wire.CloseTooMany.
	MaxPerUser, MaxTotal int
}

// Owner is who a connection belongs to: the user, and the credential it
// was opened with (a session or an API token; see command/auth), so that
// logging out, revoking a token or disabling a user can close exactly
// what was opened with it ([Hub.Disconnect]).
type Owner struct {
	User string
	Cred string
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
	disconnect chan disconnectReq
	owners     chan chan []Owner
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

type disconnectReq struct {
	match  func(Owner) bool
	code   int
	reason string
	n      chan int
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
	Refused uint64 // connections closed for being over a cap
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
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = 20
	}
	if opts.MaxTotal <= 0 {
		opts.MaxTotal = 2000
	}
	h := &Hub{opts: opts, snapshot: snapshot, stream: newStreamID(),
		register: make(chan registration), unregister: make(chan *client), publish: make(chan published, 1024),
		resync: make(chan resyncReq), disconnect: make(chan disconnectReq), owners: make(chan chan []Owner),
		stats: make(chan chan Stats), quit: make(chan struct{}), done: make(chan struct{})}
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

// Disconnect closes every connection whose owner matches with the given
// close code and reason (at most 120 bytes), and returns how many it
// closed: wire.CloseLoggedOut for an ended session, a revoked token or a
// disabled user. match runs in the hub's goroutine: it must be quick and
// must not call the hub.
func (h *Hub) Disconnect(match func(Owner) bool, code int, reason string) int {
	n := make(chan int, 1)
	select {
	case h.disconnect <- disconnectReq{match: match, code: code, reason: trim(reason), n: n}:
		return <-n
	case <-h.done:
		return 0
	}
}

// Owners returns the distinct owners of the open connections.
func (h *Hub) Owners() []Owner {
	c := make(chan []Owner, 1)
	select {
	case h.owners <- c:
		return <-c
	case <-h.done:
		return nil
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
	perUser := map[string]int{}
	ring := make([][]byte, h.opts.Ring) // encoded deltas by seq % Ring
	var seq uint64
	var refused uint64

	// remove takes c out and ends its writer, which sends the close frame
	// (code 0: going away).
	remove := func(c *client, code int, reason string) {
		delete(clients, c)
		if perUser[c.owner.User]--; perUser[c.owner.User] <= 0 {
			delete(perUser, c.owner.User)
		}
		c.closeCode, c.closeReason = code, reason
		close(c.send)
	}

	send := func(c *client, msg []byte) bool {
		select {
		case c.send <- msg:
			return true
		default:
			// Too slow: drop it; it will resubscribe.
			remove(c, 0, "")
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
			u := r.c.owner.User
			if len(clients) >= h.opts.MaxTotal || perUser[u] >= h.opts.MaxPerUser {
				// Over a cap: close it at once, with a code that says so.
				refused++
				r.c.closeCode, r.c.closeReason = wire.CloseTooMany, "too many live connections"
				if perUser[u] >= h.opts.MaxPerUser {
					r.c.closeReason = "too many live connections for this user; close another tab"
				}
				close(r.c.send)
				continue
			}
			clients[r.c] = true
			perUser[u]++
			if !replay(r.c, r.since, r.stream) {
				sendSnapshot(r.c)
			}
		case c := <-h.unregister:
			if clients[c] {
				remove(c, 0, "")
			}
		case d := <-h.disconnect:
			n := 0
			for c := range clients {
				if d.match(c.owner) {
					remove(c, d.code, d.reason)
					n++
				}
			}
			d.n <- n
		case oc := <-h.owners:
			seen := map[Owner]bool{}
			var out []Owner
			for c := range clients {
				if !seen[c.owner] {
					seen[c.owner] = true
					out = append(out, c.owner)
				}
			}
			oc <- out
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
			sc <- Stats{Clients: len(clients), Seq: seq, Dropped: h.dropped.Load(), Refused: refused}
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
