// Package ingest is the command service's end of the kiosk result stream:
// the /ws/kiosk websocket endpoint and the group committer behind it.
//
// # From frame to ack
//
//	kiosk ──results──▶ readPump ──submission──▶ committer ──Sink.Commit (one fsync for the group)──▶
//	      ◀──ack/reject── writePump ◀─────────────────────┘
//
// A connection's reader validates each batch and hands it to the single
// committer goroutine, which gathers what arrives within a few
// milliseconds from all kiosks into one durable write, then queues the
// acks. Acks therefore leave strictly after the data is stored, and in the
// order the batches arrived. If the write fails, no ack is sent and the
// connection is closed: the kiosk resends, and dedupe on result_id makes
// that harmless.
//
// # Asking a kiosk again
//
// The welcome's acked_up_to is the history's contiguous mark for the
// kiosk, and the kiosk sends everything it still holds above it, acked or
// not: a history restored from an older backup gets its results back. For a
// result the history holds damaged, [Server.RequestResend] sends the kiosk
// a wire.Resend for its seq — at once, or when it next connects — but only
// to a kiosk whose hello listed wire.FeatureResend, since an older kiosk
// drops the link on a message type it does not know. The resend puts the
// row back whole (command/history's Commit).
//
// # The sink
//
// The committer writes through the small [Sink] interface: the result
// history (command/history, SQLite or PostgreSQL), which dedupes on
// result_id in the database. The planned scale-out path (NATS JetStream as
// the ingest log between stateless gateways and command replicas) is
// another Sink, not a rewrite.
package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/rulebook"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// Sink stores results durably and dedupes them on result_id.
type Sink interface {
	// CommitPrepared stores a group of results (encoded ahead by
	// history.Prepare on the connections' goroutines); when it returns
	// nil, every result it reports as Stored is durable and may be
	// acknowledged.
	CommitPrepared(in []history.Incoming) ([]history.Committed, error)
	// HighWater reports the kiosk's contiguous and highest stored seq.
	HighWater(kioskID string) (contiguous, highest uint64)
}

// Kiosks authenticates kiosks and records their alarms.
type Kiosks interface {
	KioskByToken(token string) (store.Kiosk, error)
	RaiseAlarm(a store.Alarm) (store.Alarm, error)
}

// RuleBooks is the command's rule book (command/rulebook.Keeper): the
// current version, sent to kiosks, and the judge of every result.
type RuleBooks interface {
	Current() assay.Book
	Judge(r *wire.Result) rulebook.Judgement
}

var (
	_ Sink      = history.History(nil)
	_ Kiosks    = (*store.Store)(nil)
	_ RuleBooks = (*rulebook.Keeper)(nil)
)

// Flags the ingest adds besides the wire ones.
const (
	// FlagVerdictUnchecked: the command could not re-derive the verdict
	// (a method or raw value it does not know).
	FlagVerdictUnchecked = rulebook.FlagVerdictUnchecked
)

// MaxSkew is the kiosk clock offset above which results are flagged.
const MaxSkew = 5 * time.Minute

// Config configures a Server.
type Config struct {
	Sink   Sink
	Kiosks Kiosks
	// Books re-derives every verdict and gives kiosks the current rule
	// book; nil judges with assay.DefaultRules() and sends no book.
	Books RuleBooks
	Now   func() time.Time
	Log   *slog.Logger

	// Callbacks, all optional, called from the committer or connection
	// goroutines; they must not block for long.
	OnCommitted func([]history.Committed)
	OnAlarm     func(store.Alarm)
	OnKiosk     func(wire.KioskState)

	// GroupWindow is how long the committer may wait for more after the
	// first submission of a group (default 0: it takes what is already
	// queued and commits at once); GroupMax the most results in one group
	// (default 4096: one fsync and one set of working-table upserts for
	// the batches of up to 64 links).
	GroupWindow time.Duration
	GroupMax    int
	// MaxInFlight is announced to kiosks in welcome (default 256).
	MaxInFlight int
	PongWait    time.Duration // default 60 s
	WriteWait   time.Duration // default 10 s
}

// Server serves /ws/kiosk.
type Server struct {
	cfg  Config
	subs chan *submission

	mu    sync.Mutex
	conns map[string]*conn            // kiosk id → current connection
	state map[string]*wire.KioskState // kiosk id → last known state
	queue map[string][]wire.Notice    // notices waiting for a connection
	asks  map[string][]wire.Resend    // resend requests waiting for a kiosk that takes them
	names map[string]store.Kiosk      // registration, cached at connect
	// regressed is, per kiosk, the stored seq its last regression alarm
	// was about (so that a restored kiosk's reconnects alarm once).
	regressed map[string]uint64
}

type submission struct {
	c       *conn
	results []wire.Result
	// prepared is results encoded for the history (history.Prepare), on
	// the connection's goroutine: the committer is serial, the readers
	// are not.
	prepared []history.Incoming
}

// New returns a Server; start its committer with Run.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Books == nil {
		cfg.Books = rulebook.Fixed(assay.DefaultRules())
	}
	if cfg.GroupMax <= 0 {
		cfg.GroupMax = 4096
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = 60 * time.Second
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = 10 * time.Second
	}
	return &Server{cfg: cfg, subs: make(chan *submission, 256), conns: map[string]*conn{},
		state: map[string]*wire.KioskState{}, queue: map[string][]wire.Notice{}, asks: map[string][]wire.Resend{}, names: map[string]store.Kiosk{},
		regressed: map[string]uint64{}}
}

// Run is the committer loop; it returns when ctx ends.
func (s *Server) Run(ctx context.Context) {
	// OnCommitted (the live map's deltas, the assurance engine's queue)
	// runs on a goroutine of its own, in commit order, so that encoding a
	// group's deltas overlaps the next group's commit instead of delaying
	// it. Run returns after it has seen every committed group.
	pub := make(chan []history.Committed, 64)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for out := range pub {
			if s.cfg.OnCommitted != nil {
				s.cfg.OnCommitted(out)
			}
		}
	}()
	defer func() { close(pub); <-pubDone }()
	for {
		var group []*submission
		select {
		case <-ctx.Done():
			return
		case sub := <-s.subs:
			group = append(group, sub)
		}
		n := len(group[0].results)
		// The group is what is already waiting — what arrived during the
		// last commit — and, with a GroupWindow, what comes within it.
		// Without one, a lone result is stored at once (no added
		// latency), and under load the groups grow by themselves.
		var timer *time.Timer
		var window <-chan time.Time
		if s.cfg.GroupWindow > 0 {
			timer = time.NewTimer(s.cfg.GroupWindow)
			window = timer.C
		}
	gather:
		for n < s.cfg.GroupMax {
			select {
			case sub := <-s.subs:
				group = append(group, sub)
				n += len(sub.results)
			default:
				if window == nil {
					break gather
				}
				select {
				case sub := <-s.subs:
					group = append(group, sub)
					n += len(sub.results)
				case <-window:
					break gather
				}
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if out := s.commit(group); out != nil {
			pub <- out
		}
	}
}

// commit stores a group, answers its kiosks, and returns what was
// committed (nil when the store failed).
func (s *Server) commit(group []*submission) []history.Committed {
	var all []history.Incoming
	for _, sub := range group {
		all = append(all, sub.prepared...)
	}
	out, err := s.cfg.Sink.CommitPrepared(all)
	if err != nil {
		s.cfg.Log.Error("storing results failed; closing their links so the kiosks resend", "results", len(all), "err", err)
		for _, sub := range group {
			sub.c.closeWith(wire.CloseServerError, "storage error; resend later")
		}
		return nil
	}
	i := 0
	for _, sub := range group {
		part := out[i : i+len(sub.results)]
		i += len(sub.results)
		dups := 0
		for _, c := range part {
			switch c.Outcome {
			case history.Duplicate:
				dups++
			case history.Conflict:
				sub.c.send(&wire.Reject{ResultID: c.Result.ResultID, Seq: c.Result.Seq, Code: wire.RejectConflict,
					Message: "result_id already stored with other content; kept aside, not counted"})
				s.alarm(store.Alarm{Code: "result_conflict", KioskID: c.Result.KioskID, ResultID: c.Result.ResultID,
					Message: fmt.Sprintf("快检终端 %s 重发的结果 %s（序号 %d）与已存结果内容不一致，已拒收 / kiosk resent result %s (seq %d) with different content; refused",
						c.Result.KioskID, c.Result.ResultID, c.Result.Seq, c.Result.ResultID, c.Result.Seq)})
			case history.Stored:
				// One alarm per connection: a restored kiosk reuses a whole
				// run of numbers.
				if c.SeqRegression && sub.c.regressed.CompareAndSwap(false, true) {
					s.alarm(store.Alarm{Code: "seq_regression", KioskID: c.Result.KioskID, ResultID: c.Result.ResultID,
						Message: fmt.Sprintf("快检终端 %s 序号倒退（%d 已被其他结果使用），新结果已保存 / seq regression for kiosk %s: seq %d reused by a new result; stored, not dropped",
							c.Result.KioskID, c.Result.Seq, c.Result.KioskID, c.Result.Seq)})
				}
			}
		}
		sub.c.send(&wire.Ack{UpToSeq: sub.results[len(sub.results)-1].Seq, Duplicates: dups})
	}
	return out
}

func (s *Server) alarm(a store.Alarm) {
	stored, err := s.cfg.Kiosks.RaiseAlarm(a)
	if err != nil {
		s.cfg.Log.Error("cannot store alarm", "code", a.Code, "err", err)
		stored = a
	}
	s.cfg.Log.Warn("alarm", "code", a.Code, "kiosk", a.KioskID, "message", a.Message)
	if s.cfg.OnAlarm != nil {
		s.cfg.OnAlarm(stored)
	}
}

// Notify sends a notice to a kiosk now, or when it next connects.
func (s *Server) Notify(kioskID string, n wire.Notice) {
	s.mu.Lock()
	c := s.conns[kioskID]
	if c == nil {
		q := append(s.queue[kioskID], n)
		if len(q) > 100 {
			q = q[len(q)-100:]
		}
		s.queue[kioskID] = q
	}
	s.mu.Unlock()
	if c != nil {
		c.send(&n)
	}
}

// maxAsks bounds the resend requests kept for one kiosk while it is away;
// beyond it the newest is widened to cover the rest.
const maxAsks = 100

// RequestResend asks a kiosk to send again what it still holds of seqs
// from..to (wire.Resend): the history misses them or holds them damaged.
// A connected kiosk that listed wire.FeatureResend in its hello is asked
// at once; otherwise the request waits for its next link that does (an
// older kiosk would drop the link on a message type it does not know, so
// it is never sent one). It reports whether the request went out now.
func (s *Server) RequestResend(kioskID string, from, to uint64, reason string) bool {
	if kioskID == "" || from == 0 || to < from {
		return false
	}
	m := wire.Resend{FromSeq: from, ToSeq: to, Reason: reason}
	s.mu.Lock()
	c := s.conns[kioskID]
	if c == nil || !c.resend {
		q := s.asks[kioskID]
		if n := len(q); n >= maxAsks {
			q[n-1].FromSeq, q[n-1].ToSeq = min(q[n-1].FromSeq, from), max(q[n-1].ToSeq, to)
		} else {
			q = append(q, m)
		}
		s.asks[kioskID] = q
		s.mu.Unlock()
		s.cfg.Log.Info("resend request kept until the kiosk connects with the resend feature", "kiosk", kioskID, "from_seq", from, "to_seq", to, "reason", reason)
		return false
	}
	s.mu.Unlock()
	s.cfg.Log.Info("asking a kiosk to send results again", "kiosk", kioskID, "from_seq", from, "to_seq", to, "reason", reason)
	c.send(&m)
	return true
}

// PushRules sends a new rule book to every connected kiosk (kiosks that
// are offline get it in their next welcome).
func (s *Server) PushRules(b assay.Book) {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.send(&wire.RuleBook{Book: b})
	}
}

// KioskStates returns what is known of every kiosk that has connected
// since the service started.
func (s *Server) KioskStates() []wire.KioskState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]wire.KioskState, 0, len(s.state))
	for _, st := range s.state {
		out = append(out, *st)
	}
	return out
}

func (s *Server) updateState(id string, fn func(*wire.KioskState)) {
	s.mu.Lock()
	st := s.state[id]
	if st == nil {
		st = &wire.KioskState{KioskID: id}
		if k, ok := s.names[id]; ok {
			st.Name, st.SiteID = k.Name, k.SiteID
			if len(k.Loc) == 2 {
				st.Lon, st.Lat = k.Loc[0], k.Loc[1]
			}
		}
		s.state[id] = st
	}
	fn(st)
	cp := *st
	s.mu.Unlock()
	if s.cfg.OnKiosk != nil {
		s.cfg.OnKiosk(cp)
	}
}

// CheckAnswer is the answer to a GET of /ws/kiosk that is not a websocket
// handshake: the kiosk the token belongs to and the command's clock.
type CheckAnswer struct {
	KioskID    string    `json:"kiosk_id"`
	Name       string    `json:"name,omitempty"`
	ServerTime time.Time `json:"server_time"`
}

// ServeHTTP authenticates a kiosk by its bearer token and serves its link.
// A request that is not a websocket handshake, with a valid token, is
// answered with a [CheckAnswer] and changes nothing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		http.Error(w, "kiosk token required: Authorization: Bearer <kiosk token>", http.StatusUnauthorized)
		return
	}
	k, err := s.cfg.Kiosks.KioskByToken(strings.TrimSpace(tok))
	if err != nil {
		http.Error(w, "kiosk token refused; check the token in kiosk.yaml against the command's kiosk registry", http.StatusUnauthorized)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		// A plain GET with the kiosk's token is `shian-kiosk doctor`
		// checking its way here (proxy, TLS, token, clock) without
		// opening a link.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(CheckAnswer{KioskID: k.ID, Name: k.Name, ServerTime: s.cfg.Now().UTC()})
		return
	}
	up := websocket.Upgrader{ReadBufferSize: 16 << 10, WriteBufferSize: 4 << 10}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.names[k.ID] = k
	s.mu.Unlock()
	c := &conn{srv: s, ws: ws, kiosk: k.ID, out: make(chan wire.Message, s.cfg.MaxInFlight+64), done: make(chan struct{})}
	go c.writePump()
	c.serve()
}
