// Package live pushes the command centre's live state to browsers over
// websockets: a snapshot on connect, then numbered deltas.
//
// # Shape
//
// The [Hub] is one goroutine that owns the set of subscribers, a ring of
// the most recent deltas and what each browser has been sent; subscribers
// reach it through channels, so its state needs no locks (the gorilla chat
// example's hub). Each connection has exactly one reader and one writer
// goroutine (readPump and writePump); the writer also sends the pings. A
// browser that cannot keep up — its send buffer is full — is dropped,
// never waited for; it reconnects and resubscribes from its last sequence.
//
// # Publishing never waits
//
// The ingest committer's results, the kiosks' states and the engine's
// incidents reach browsers through [Hub.Publish], and none of them may be
// held up by a browser or by the hub. Publish encodes the delta on the
// caller's goroutine, numbers it and appends it to a queue under a short
// lock, and wakes the hub: it never blocks on a channel. While a delta
// waits in the queue, a newer one about the same thing (the latest state
// of one stall, of one kiosk) takes its place and its number instead of
// queueing behind it: what a browser is sent is the latest state, not
// every state in between. If the hub fell so far behind that the queue
// reached Options.MaxPending, the oldest deltas are dropped (counted in
// Stats.Lost); a browser then finds the gap and resyncs from a snapshot.
//
// # Snapshots, off the hub
//
// A snapshot reads the history and the store, which takes long enough to
// matter; it is built on a goroutine of its own, one at a time, and every
// browser waiting meanwhile gets the same one. Its sequence number is that
// of the last delta the hub had numbered into its ring when the build
// began: the state it reads includes every delta up to that number, and
// perhaps some after it. The hub sends the snapshot, then the deltas after
// its number from the ring, so that a browser may apply a delta whose
// effect the snapshot already has. That is harmless because every delta
// is idempotent: a stall, kiosk, incident, team, event or banquet delta is
// that thing's whole latest state, an alert is upserted by its number and
// a result by its result_id.
//
// # Resync
//
// A browser reconnecting with subscribe{since: N} gets the deltas after N
// from the ring when they are all still there, or else a fresh snapshot.
//
// # Event scope: one view per scope
//
// A user scoped to events (store.User.Events) sees only their records on
// the live map, as in the REST API. Publish asks Options.Audience, on the
// publisher's goroutine, who may see a delta ([Audience]: everyone, the
// users of one event, or unscoped users only) and queues it with it;
// coalescing is unchanged (a newer state of one stall or kiosk has the
// same audience). The hub keeps one view per distinct scope in use: its
// own stream id, numbering and ring, holding only the deltas that scope
// may see, numbered without gaps, and its own snapshot (SnapshotFunc with
// the scope) built one at a time per view. A scoped browser therefore
// never receives another event's delta — not even as a hole in its
// numbering — and its snapshot, deltas and resync agree with each other
// exactly as an unscoped browser's do. The unscoped view's numbers are
// the queue's (those Publish returns). A delta lost to a full queue
// leaves a hole in every view's numbering, so every browser resyncs.
// Views are never dropped while the hub runs, so a stream id always means
// the same scope and numbering.
package live

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shianfood/shian/protocols/wire"
)

// SnapshotFunc builds the live state that a user scoped to scope (nil:
// every event) may see. It is called on a goroutine of its own (never the
// hub's, nor a publisher's), one call at a time per scope, with the
// sequence of the last delta the hub has numbered in that scope's view;
// it must not call back into the hub.
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
	// MaxPending is how many published deltas may wait for the hub
	// (default 16384); beyond it the oldest are dropped.
	MaxPending int
	Log        *slog.Logger
	// Owner names who a connection belongs to, from its (authenticated)
	// handshake request; nil: every connection is anonymous's.
	Owner func(r *http.Request) Owner
	// MaxPerUser and MaxTotal cap the connections of one user and of the
	// whole hub (defaults 20 and 2000). A connection over a cap is
	// closed at once with wire.CloseTooMany.
	MaxPerUser, MaxTotal int
	// Audience says who may see a delta; it is called by Publish, on the
	// publisher's goroutine, and must be quick. Nil: everyone sees every
	// delta.
	Audience func(kind string, data any) Audience
	// ScopeOf returns the event scope of an authenticated browser's
	// handshake request (nil: every event). Nil: every browser is
	// unscoped.
	ScopeOf func(r *http.Request) []string
}

// Owner is who a connection belongs to: the user, and the credential it
// was opened with (a session or an API token; see command/auth), so that
// logging out, revoking a token or disabling a user can close exactly
// what was opened with it ([Hub.Disconnect]).
type Owner struct {
	User string
	Cred string
	// Grant is what the connection was opened with of its user's rights
	// (role, event scope, team; the service's choice of fingerprint):
	// another instance's change of the user closes only the connections
	// whose grant it changed.
	Grant string
}

// Hub fans live updates out to browsers.
type Hub struct {
	opts     Options
	snapshot SnapshotFunc
	stream   string

	register   chan registration
	unregister chan *client
	resync     chan resyncReq
	disconnect chan disconnectReq
	owners     chan chan []Owner
	stats      chan chan Stats
	built      chan builtSnapshot
	wake       chan struct{} // a delta was queued (capacity 1)
	quit       chan struct{}
	done       chan struct{}
	builders   sync.WaitGroup

	// The queue between Publish and the hub.
	mu      sync.Mutex
	pending []pendingDelta
	keyed   map[coalesceKey]int // index in pending of the delta queued for a key
	last    uint64              // the last sequence number given out
	closed  bool

	dropped   atomic.Uint64
	coalesced atomic.Uint64
	lost      atomic.Uint64
}

type pendingDelta struct {
	seq  uint64
	kind string
	data json.RawMessage
	aud  Audience
}

// view is what the browsers of one scope see: their own numbering of the
// deltas they may see, the ring to resync from, and their snapshot.
type view struct {
	scope    []string
	stream   string
	seq      uint64 // the last delta numbered in this view
	ring     []slot // encoded deltas by seq % len(ring)
	building bool   // a snapshot of this view is being built
}

type slot struct {
	seq uint64
	msg []byte
}

// coalesceKey names what a delta is the latest state of.
type coalesceKey struct{ kind, id string }

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
	scope  []string
}

type builtSnapshot struct {
	v   *view
	seq uint64
	msg []byte // nil when it could not be encoded
}

// Stats describes the hub for metrics and tests.
type Stats struct {
	Clients   int
	Seq       uint64 // the last delta numbered
	Dropped   uint64 // browsers dropped for being too slow
	Coalesced uint64 // deltas replaced in the queue by a newer state of the same thing
	Lost      uint64 // deltas dropped from a queue that reached MaxPending
	Refused   uint64 // connections closed for being over a cap
}

// NewHub starts a hub. Stop it with Close.
func NewHub(snapshot SnapshotFunc, opts Options) *Hub {
	h := newHub(snapshot, opts)
	go h.run()
	return h
}

// newHub is a hub whose goroutine is not started yet (tests start it).
func newHub(snapshot SnapshotFunc, opts Options) *Hub {
	if opts.Ring <= 0 {
		opts.Ring = 4096
	}
	if opts.SendBuffer <= 0 {
		opts.SendBuffer = 256
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 16384
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
		register: make(chan registration), unregister: make(chan *client), resync: make(chan resyncReq),
		disconnect: make(chan disconnectReq), owners: make(chan chan []Owner),
		stats: make(chan chan Stats), built: make(chan builtSnapshot), wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), keyed: map[coalesceKey]int{}}
	return h
}

// keyOf returns what a delta is the latest state of, for the kinds that
// carry one whole state per thing (a stall's latest verdict, a kiosk's
// link); other deltas are never coalesced.
func keyOf(kind string, data any) (coalesceKey, bool) {
	switch kind {
	case wire.KindStall:
		switch s := data.(type) {
		case wire.StallState:
			return coalesceKey{kind, s.StallID}, s.StallID != ""
		case *wire.StallState:
			return coalesceKey{kind, s.StallID}, s != nil && s.StallID != ""
		}
	case wire.KindKiosk:
		switch k := data.(type) {
		case wire.KioskState:
			return coalesceKey{kind, k.KioskID}, k.KioskID != ""
		case *wire.KioskState:
			return coalesceKey{kind, k.KioskID}, k != nil && k.KioskID != ""
		}
	}
	return coalesceKey{}, false
}

// Publish sends a delta of the given kind to every browser and returns its
// sequence number (0 once the hub is closed). data is marshalled to JSON
// on the caller's goroutine; Publish never waits for the hub or a browser.
func (h *Hub) Publish(kind string, data any) uint64 {
	b, err := json.Marshal(data)
	if err != nil {
		h.opts.Log.Error("live: cannot encode delta", "kind", kind, "err", err)
		return 0
	}
	key, coalesce := keyOf(kind, data)
	aud := Audience{Everyone: true}
	if h.opts.Audience != nil {
		aud = h.opts.Audience(kind, data)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0
	}
	if coalesce {
		if i, ok := h.keyed[key]; ok {
			// A newer state of the same thing, still queued: it takes the
			// older one's place (and number).
			h.pending[i].data, h.pending[i].aud = b, aud
			seq := h.pending[i].seq
			h.mu.Unlock()
			h.coalesced.Add(1)
			return seq
		}
	}
	if len(h.pending) >= h.opts.MaxPending {
		h.shed()
	}
	h.last++
	seq := h.last
	h.pending = append(h.pending, pendingDelta{seq: seq, kind: kind, data: b, aud: aud})
	if coalesce {
		h.keyed[key] = len(h.pending) - 1
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default: // the hub is already woken
	}
	return seq
}

// shed drops the older half of a full queue. Caller holds mu.
func (h *Hub) shed() {
	n := len(h.pending) / 2
	h.lost.Add(uint64(n))
	h.pending = append(h.pending[:0], h.pending[n:]...)
	clear(h.keyed)
	for i, p := range h.pending {
		if k, ok := keyOfQueued(p.kind, p.data); ok {
			h.keyed[k] = i
		}
	}
	h.opts.Log.Warn("live: the hub fell behind; dropped the oldest queued deltas (browsers resync from a snapshot)", "dropped", n)
}

// keyOfQueued is keyOf for a delta already encoded (only after shed).
func keyOfQueued(kind string, data json.RawMessage) (coalesceKey, bool) {
	var id struct {
		Stall string `json:"stall_id"`
		Kiosk string `json:"kiosk_id"`
	}
	switch kind {
	case wire.KindStall, wire.KindKiosk:
		if json.Unmarshal(data, &id) != nil {
			return coalesceKey{}, false
		}
	default:
		return coalesceKey{}, false
	}
	if kind == wire.KindStall {
		return coalesceKey{kind, id.Stall}, id.Stall != ""
	}
	return coalesceKey{kind, id.Kiosk}, id.Kiosk != ""
}

// take empties the queue.
func (h *Hub) take() []pendingDelta {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pending
	h.pending = nil
	clear(h.keyed)
	return p
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

// Close stops the hub and closes every browser connection; deltas still
// queued are not sent. It returns once a snapshot being built is done.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	select {
	case <-h.quit:
	default:
		close(h.quit)
	}
	<-h.done
	h.builders.Wait()
}

// appendDelta encodes a delta as wire.Encode(&wire.Delta{…}) does, without
// encoding/json: data is already compact JSON (json.Marshal's).
func appendDelta(dst []byte, stream string, seq uint64, kind string, data json.RawMessage) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(wire.Version), 10)
	dst = append(dst, `,"type":"delta"`...)
	if stream != "" {
		dst = append(dst, `,"stream":`...)
		dst = appendString(dst, stream)
	}
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, kind)
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	return append(dst, '}')
}

// appendString appends s as encoding/json writes a string.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// sub is the hub's record of one browser.
type sub struct {
	// syncing: waiting for a snapshot; live deltas are not sent to it
	// until then (the ring replays them after the snapshot).
	syncing bool
	view    *view
}

func (h *Hub) run() {
	defer close(h.done)
	clients := map[*client]*sub{}
	perUser := map[string]int{}
	n := uint64(h.opts.Ring)
	// Views by scope key ("" is every event); the unscoped view's stream
	// is the hub's and its numbers the queue's.
	all := &view{stream: h.stream, ring: make([]slot, n)}
	views := map[string]*view{"": all}
	viewOf := func(scope []string) *view {
		key := scopeKey(scope)
		v := views[key]
		if v == nil {
			sum := sha256.Sum256([]byte(key))
			v = &view{scope: strings.Split(key, "\n"), stream: h.stream + "." + hex.EncodeToString(sum[:4]), ring: make([]slot, n)}
			views[key] = v
		}
		return v
	}
	var last uint64 // the queue's number of the last delta drained
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
	build := func(v *view) {
		v.building = true
		from := v.seq
		h.builders.Add(1)
		go func() {
			defer h.builders.Done()
			snap := h.snapshot(from, v.scope)
			snap.Seq, snap.Stream = from, v.stream
			b, err := wire.Encode(&snap)
			if err != nil {
				h.opts.Log.Error("live: cannot encode snapshot", "err", err)
				b = nil
			}
			select {
			case h.built <- builtSnapshot{v: v, seq: from, msg: b}:
			case <-h.quit:
			}
		}()
	}
	wantSnapshot := func(c *client) {
		st := clients[c]
		st.syncing = true
		// One being built will do too: the deltas after its number are
		// sent from the ring after it.
		if !st.view.building {
			build(st.view)
		}
	}
	// holds reports whether v's ring has every delta after from.
	holds := func(v *view, from uint64) bool {
		if from > v.seq || v.seq-from >= n {
			return false
		}
		for s := from + 1; s <= v.seq; s++ {
			if v.ring[s%n].seq != s {
				return false // a delta lost to a full queue
			}
		}
		return true
	}
	sendAfter := func(c *client, v *view, from uint64) {
		for s := from + 1; s <= v.seq; s++ {
			if !send(c, v.ring[s%n].msg) {
				return
			}
		}
	}
	// replay sends the deltas after since from the client's view's ring,
	// when they are of its stream and all still there; it reports whether
	// it did.
	replay := func(c *client, since uint64, stream string) bool {
		v := clients[c].view
		if since == 0 || stream != v.stream || !holds(v, since) {
			return false
		}
		sendAfter(c, v, since)
		return true
	}
	// drain moves what was published into each view that may see it (its
	// ring, under its own number) and to that view's browsers.
	drain := func() {
		for _, p := range h.take() {
			if p.seq != last+1 {
				// Deltas were lost to a full queue: a hole in every
				// scoped view's numbering too, so its browsers resync.
				for _, v := range views {
					if v != all {
						v.seq++
					}
				}
			}
			last = p.seq
			var sent map[*view][]byte
			for _, v := range views {
				if !p.aud.Sees(v.scope) {
					continue
				}
				if v == all {
					v.seq = p.seq
				} else {
					v.seq++
				}
				msg := appendDelta(nil, v.stream, v.seq, p.kind, p.data)
				v.ring[v.seq%n] = slot{seq: v.seq, msg: msg}
				if sent == nil {
					sent = make(map[*view][]byte, len(views))
				}
				sent[v] = msg
			}
			for c, st := range clients {
				if msg, ok := sent[st.view]; ok && !st.syncing {
					send(c, msg)
				}
			}
		}
	}
	for {
		select {
		case <-h.quit:
			for c := range clients {
				close(c.send)
			}
			return
		case <-h.wake:
			drain()
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
			drain()
			clients[r.c] = &sub{view: viewOf(r.scope)}
			perUser[u]++
			if !replay(r.c, r.since, r.stream) {
				wantSnapshot(r.c)
			}
		case c := <-h.unregister:
			if clients[c] != nil {
				remove(c, 0, "")
			}
		case d := <-h.disconnect:
			closed := 0
			for c := range clients {
				if d.match(c.owner) {
					remove(c, d.code, d.reason)
					closed++
				}
			}
			d.n <- closed
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
			if clients[r.c] == nil || clients[r.c].syncing {
				continue // gone, or a snapshot is on its way
			}
			drain()
			if !replay(r.c, r.since, r.stream) {
				wantSnapshot(r.c)
			}
		case b := <-h.built:
			b.v.building = false
			drain()
			again := false
			for c, st := range clients {
				switch {
				case !st.syncing || st.view != b.v:
				case b.msg == nil:
					// It cannot be encoded; building it again would not
					// help. The browser reconnects later.
					remove(c, 0, "")
				case !holds(b.v, b.seq):
					again = true // the ring moved on during the build
				default:
					st.syncing = false
					if send(c, b.msg) {
						sendAfter(c, b.v, b.seq)
					}
				}
			}
			if again {
				build(b.v)
			}
		case sc := <-h.stats:
			h.mu.Lock()
			last := h.last
			h.mu.Unlock()
			sc <- Stats{Clients: len(clients), Seq: last, Dropped: h.dropped.Load(), Coalesced: h.coalesced.Load(), Lost: h.lost.Load(), Refused: refused}
		}
	}
}

// scopeKey names a scope: its events, sorted and without repeats, joined
// by newlines ("" for every event).
func scopeKey(scope []string) string {
	s := slices.DeleteFunc(slices.Clone(scope), func(e string) bool { return e == "" })
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
