// Package uplink streams a kiosk's saved results to the command service
// over a websocket, and resumes after every disconnect without losing or
// repeating anything the command has stored.
//
// # Protocol
//
// The link speaks protocols/wire: hello → welcome → results → acks. The
// outbox is the only source of truth: the uplink keeps no result of its
// own, so a crash at any moment loses nothing; after a restart it resends
// whatever the outbox still holds as pending, and the command's dedupe on
// result_id makes the resend harmless.
//
// # What an ack covers
//
// The command acks every results message, in the order it received them,
// after storing it; an ack's up_to_seq is the highest seq of that message.
// The uplink keeps the messages it sent on the connection in a queue and
// marks as acknowledged exactly the results of the acked message and of
// every message sent before it — never a result it has not sent on this
// connection. In particular the welcome's acked_up_to (the command's
// high-water mark) never marks anything acknowledged: a kiosk restored from
// an old backup reuses sequence numbers, and a high-water mark on seq alone
// would mark its new results as delivered without sending them
// (docs/reliability.md B2, docs/decisions/0002). The cost is resending at
// most the window that was in flight when a link died.
//
// # What the command lost
//
// acked_up_to is used the other way round: everything the outbox still
// holds above it is sent again, acknowledged or not. A command restored
// from an older backup, or one whose history lost rows to damage, answers
// with a lower mark than the acks this kiosk saw, and gets those results
// back; where it did not lose them, its dedupe on result_id acks them as
// duplicates. The command may also ask for a range (wire.Resend, sent only
// because the hello lists wire.FeatureResend); the uplink sends what the
// outbox holds of it after the backlog. What was pruned after the outbox's
// history window cannot be sent again.
//
// # Live results first
//
// Results saved while the link is up go ahead of the backlog that was
// pending when it came up: after a day offline the map shows the newest
// test at once instead of after the replay (the Traccar client's lag,
// docs/design.md, spine rule 3). The backlog follows in seq order.
//
// # Connection discipline
//
// One goroutine reads and one writes each connection (gorilla/websocket
// allows no more); pings go through the writer. Every write has a
// deadline, every read is bounded by the pong wait, and any error ends the
// connection. Reconnects back off exponentially with ±50 % jitter and a
// cap, so a fleet of kiosks does not reconnect in lockstep after a network
// cut.
//
// # Several command instances
//
// Config.URLs may list the kiosk endpoints of several command instances
// of one cluster (docs/decisions/0027). The uplink starts with the first;
// whenever a dial fails or a link drops it moves to the next (after the
// last, the first again) and waits the same backoff, which starts again
// from the minimum after a link that got as far as a welcome. Nothing
// else changes: the new instance's welcome says what the cluster's
// database holds (acked_up_to), the kiosk resends from there, and the
// dedupe on result_id in the database keeps a resend from being stored
// twice. LinkState.URL says which URL the link uses (or last tried).
package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// Source is what the uplink needs of the outbox.
type Source interface {
	BootEpoch() uint64
	LastSeq() uint64
	PendingAfter(after uint64, max int) ([]wire.Result, error)
	// HeldAfter returns up to max results with seq > after, in seq order:
	// every pending one, and every acknowledged one with seq > ackedAbove
	// (never a rejected one).
	HeldAfter(after, ackedAbove uint64, max int) ([]wire.Result, error)
	// AckSeqs marks exactly these results acknowledged.
	AckSeqs(seqs []uint64) (int, error)
	Reject(rj wire.Reject) error
	Changed() <-chan struct{}
}

// Config configures an Uplink. URL, KioskID, Token and Source are
// required.
type Config struct {
	URL string // ws://host:port/ws/kiosk
	// URLs, instead of URL, are several command instances' endpoints,
	// tried in turn (see the package doc).
	URLs    []string
	KioskID string
	Token   string
	Source  Source
	// Status, when set, is called for the periodic status report.
	Status func() wire.Status
	// OnNotice receives notices from the command (incident numbers).
	OnNotice func(wire.Notice)
	// OnRules receives the command's rule book: from welcome, and from a
	// rules message whenever an admin changes it. It is called from the
	// link's reader before anything else is read.
	OnRules func(assay.Book)
	// OnSites receives the sites the command sent in welcome (only when
	// it sent a list: an older command sends none).
	OnSites  func([]wire.SiteInfo)
	Software string
	Now      func() time.Time
	Log      *slog.Logger
	Dialer   *websocket.Dialer

	// Timing; zero values take the defaults below.
	WriteWait      time.Duration // default 10 s
	PongWait       time.Duration // default 60 s; pings every 9/10 of it
	StatusPeriod   time.Duration // default 30 s
	BackoffMin     time.Duration // default 1 s
	BackoffMax     time.Duration // default 60 s: no delay is ever longer
	MaxInFlight    int           // default: what welcome says, else 256
	HandshakeLimit time.Duration // default 15 s for dial + hello/welcome
	// Rand is the jitter source, uniform in [0, 1) (default math/rand/v2).
	Rand func() float64
}

// LinkState is the link as the operator's screen shows it.
type LinkState struct {
	Online    bool       `json:"online"`
	LastSync  *time.Time `json:"last_sync,omitempty"` // last ack received
	LastError string     `json:"last_error,omitempty"`
	Attempts  int        `json:"attempts"` // failed attempts since the last success
	// URL is the command URL the link uses (online) or tried last;
	// URLs how many the kiosk has to choose from.
	URL  string `json:"url,omitempty"`
	URLs int    `json:"urls,omitempty"`
}

// Uplink is the kiosk's link to the command.
type Uplink struct {
	cfg Config

	mu     sync.Mutex
	state  LinkState
	alarms []wire.Alarm
	kick   chan struct{}
}

// ErrRefused means the command refused the kiosk's token; the uplink keeps
// retrying (slowly) in case the token is fixed on the command's side.
var ErrRefused = errors.New("uplink: command refused this kiosk's token")

// New checks cfg and returns an Uplink; call Run to start it.
func New(cfg Config) (*Uplink, error) {
	if len(cfg.URLs) == 0 && cfg.URL != "" {
		cfg.URLs = []string{cfg.URL}
	}
	for _, u := range cfg.URLs {
		if u == "" {
			return nil, errors.New("uplink: an empty command URL in the list")
		}
	}
	switch {
	case len(cfg.URLs) == 0:
		return nil, errors.New("uplink: command URL is required")
	case cfg.KioskID == "":
		return nil, errors.New("uplink: kiosk id is required")
	case cfg.Token == "":
		return nil, errors.New("uplink: kiosk token is required")
	case cfg.Source == nil:
		return nil, errors.New("uplink: source (outbox) is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.WriteWait, 10*time.Second)
	def(&cfg.PongWait, 60*time.Second)
	def(&cfg.StatusPeriod, 30*time.Second)
	def(&cfg.BackoffMin, time.Second)
	def(&cfg.BackoffMax, 60*time.Second)
	def(&cfg.HandshakeLimit, 15*time.Second)
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	up := &Uplink{cfg: cfg, kick: make(chan struct{}, 1)}
	up.state.URL, up.state.URLs = cfg.URLs[0], len(cfg.URLs)
	return up, nil
}

// State returns the link state.
func (u *Uplink) State() LinkState {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// Alarm queues an alarm for the command; it is sent on the current or next
// connection. At most 100 are kept; older ones are dropped first.
func (u *Uplink) Alarm(a wire.Alarm) {
	u.mu.Lock()
	if a.At.IsZero() {
		a.At = u.cfg.Now()
	}
	u.alarms = append(u.alarms, a)
	if len(u.alarms) > 100 {
		u.alarms = u.alarms[len(u.alarms)-100:]
	}
	u.mu.Unlock()
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Backoff returns the delay before reconnect attempt n (1-based): min
// doubled per attempt, scaled by a random factor in [0.5, 1.5), and never
// more than max. rnd returns a uniform value in [0, 1).
func Backoff(n int, min, max time.Duration, rnd func() float64) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.5 + rnd()))
	if d > max {
		d = max
	}
	return d
}

// Run keeps the link up until ctx ends. It returns ctx.Err().
func (u *Uplink) Run(ctx context.Context) error {
	attempt, at := 0, 0
	for {
		url := u.cfg.URLs[at]
		u.mu.Lock()
		u.state.URL = url
		u.mu.Unlock()
		healthy, err := u.session(ctx, url)
		if ctx.Err() != nil {
			u.setOffline(nil)
			return ctx.Err()
		}
		if healthy {
			attempt = 0
		}
		attempt++
		u.setOffline(err)
		d := Backoff(attempt, u.cfg.BackoffMin, u.cfg.BackoffMax, u.cfg.Rand)
		if errors.Is(err, ErrRefused) && d < 10*time.Second {
			d = min(10*time.Second, u.cfg.BackoffMax)
		}
		at = (at + 1) % len(u.cfg.URLs)
		if len(u.cfg.URLs) > 1 {
			u.cfg.Log.Warn("command link down; trying the next command instance", "err", err, "url", url, "next_url", u.cfg.URLs[at], "in", d.Round(time.Millisecond), "attempt", attempt)
		} else {
			u.cfg.Log.Warn("command link down; reconnecting", "err", err, "url", url, "in", d.Round(time.Millisecond), "attempt", attempt)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			u.setOffline(nil)
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (u *Uplink) setOffline(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.state.Online = false
	if err != nil {
		u.state.LastError = err.Error()
		u.state.Attempts++
	}
}

// session runs one connection. healthy reports whether it got as far as a
// welcome (so the backoff starts again from the minimum).
func (u *Uplink) session(ctx context.Context, url string) (healthy bool, err error) {
	hctx, cancel := context.WithTimeout(ctx, u.cfg.HandshakeLimit)
	defer cancel()
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+u.cfg.Token)
	conn, resp, err := u.cfg.Dialer.DialContext(hctx, url, hdr)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return false, fmt.Errorf("%w (HTTP %d); check the token in the kiosk config", ErrRefused, resp.StatusCode)
		}
		return false, fmt.Errorf("dial %s: %w", url, err)
	}
	defer conn.Close()
	conn.SetReadLimit(wire.MaxKioskMessage)

	src := u.cfg.Source
	lastSeq := src.LastSeq()
	hello := &wire.Hello{KioskID: u.cfg.KioskID, BootEpoch: src.BootEpoch(), LastSeq: lastSeq,
		Software: u.cfg.Software, SentAt: u.cfg.Now(), Features: []string{wire.FeatureResend}}
	if err := u.write(conn, hello); err != nil {
		return false, fmt.Errorf("send hello: %w", err)
	}
	deadline, _ := hctx.Deadline()
	conn.SetReadDeadline(deadline)
	welcome, err := readWelcome(conn)
	if err != nil {
		return false, err
	}
	if welcome.Rules != nil && u.cfg.OnRules != nil {
		u.cfg.OnRules(*welcome.Rules)
	}
	if welcome.Sites != nil && u.cfg.OnSites != nil {
		u.cfg.OnSites(welcome.Sites)
	}
	maxInFlight := u.cfg.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = welcome.MaxInFlight
	}
	if maxInFlight <= 0 {
		maxInFlight = 256
	}
	u.mu.Lock()
	u.state.Online, u.state.LastError, u.state.Attempts = true, "", 0
	u.mu.Unlock()
	u.cfg.Log.Info("command link up", "url", url, "command_holds_up_to", welcome.AckedUpTo, "last_seq", lastSeq)
	if welcome.AckedUpTo < lastSeq {
		u.cfg.Log.Info("sending again what this kiosk holds above the command's mark, acknowledged or not",
			"from_seq", welcome.AckedUpTo+1, "to_seq", lastSeq)
	}
	return true, u.pump(ctx, conn, newSender(src, lastSeq, welcome.AckedUpTo, maxInFlight))
}

func readWelcome(conn *websocket.Conn) (*wire.Welcome, error) {
	_, b, err := conn.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("wait for welcome: %w", err)
	}
	m, err := wire.Decode(b, wire.MaxKioskMessage)
	if err != nil {
		return nil, fmt.Errorf("welcome: %w", err)
	}
	switch m := m.(type) {
	case *wire.Welcome:
		return m, nil
	case *wire.Error:
		if m.Code == "auth" || m.Code == "forbidden" {
			return nil, fmt.Errorf("%w: %s", ErrRefused, m.Message)
		}
		return nil, fmt.Errorf("command said %s: %s", m.Code, m.Message)
	}
	return nil, fmt.Errorf("expected welcome, got %s", m.MessageType())
}

// write sends one message with a write deadline. Only the goroutine that
// owns the connection's writes calls it.
func (u *Uplink) write(conn *websocket.Conn, m wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	conn.SetWriteDeadline(time.Now().Add(u.cfg.WriteWait))
	return conn.WriteMessage(websocket.TextMessage, b)
}

// Sender is the send and acknowledgement bookkeeping of one connection,
// without the I/O: which results go next (live ones first, then the
// backlog in seq order, then the ranges the command asked for, within the
// window) and which ones an ack covers. The uplink drives one per
// connection; tests drive it directly. It is safe for one writer and one
// reader goroutine.
type Sender struct {
	src        Source
	max        int
	backlogEnd uint64 // results up to here were held at connect: the backlog
	floor      uint64 // the welcome's acked_up_to: acked results above it are in the backlog
	backlog    uint64 // highest backlog seq sent
	live       uint64 // highest live seq sent (starts at backlogEnd)

	mu       sync.Mutex
	sent     [][]uint64 // messages sent and not acknowledged, in order
	inflight int
	asked    []seqRange // ranges the command asked for (wire.Resend), in order
	freed    chan struct{}
}

// seqRange is what is left to send of a range the command asked for.
type seqRange struct{ next, to uint64 }

// maxAsked bounds the ranges a Sender keeps; a command that asks for more
// gets the last one widened to cover them.
const maxAsked = 64

// NewSender starts the bookkeeping of a connection that came up when the
// outbox's last seq was lastSeq and the command's welcome said it holds
// every result up to ackedUpTo, with at most maxInFlight unacknowledged
// results. The backlog is every pending result up to lastSeq and every
// acknowledged one above ackedUpTo.
func NewSender(src Source, lastSeq, ackedUpTo uint64, maxInFlight int) *Sender {
	return newSender(src, lastSeq, ackedUpTo, maxInFlight)
}

func newSender(src Source, lastSeq, ackedUpTo uint64, maxInFlight int) *Sender {
	return &Sender{src: src, max: max(maxInFlight, 1), backlogEnd: lastSeq, floor: min(ackedUpTo, lastSeq),
		live: lastSeq, freed: make(chan struct{}, 1)}
}

// Ask queues a range the command asked for (wire.Resend): what the outbox
// holds of it, acknowledged or not, is sent after the backlog.
func (s *Sender) Ask(from, to uint64) {
	if from == 0 || to < from {
		return
	}
	s.mu.Lock()
	switch n := len(s.asked); {
	case n > 0 && from <= s.asked[n-1].to+1 && to+1 >= s.asked[n-1].next:
		s.asked[n-1].next = min(s.asked[n-1].next, from)
		s.asked[n-1].to = max(s.asked[n-1].to, to)
	case n >= maxAsked:
		s.asked[n-1].next = min(s.asked[n-1].next, from)
		s.asked[n-1].to = max(s.asked[n-1].to, to)
	default:
		s.asked = append(s.asked, seqRange{next: from, to: to})
	}
	s.mu.Unlock()
	select {
	case s.freed <- struct{}{}:
	default:
	}
}

// Next returns the next message to send (1 to wire.MaxBatch results in
// ascending seq), or nil when there is nothing to send or no room in the
// window. The caller must send it before calling Next again.
func (s *Sender) Next() ([]wire.Result, error) {
	s.mu.Lock()
	room := s.max - s.inflight
	s.mu.Unlock()
	if room <= 0 {
		return nil, nil
	}
	n := min(room, wire.MaxBatch)
	rs, err := s.src.PendingAfter(s.live, n)
	if err != nil {
		return nil, err
	}
	if len(rs) > 0 {
		s.live = rs[len(rs)-1].Seq
		s.record(rs)
		return rs, nil
	}
	if s.backlog < s.backlogEnd {
		rs, err = s.src.HeldAfter(s.backlog, s.floor, n)
		if err != nil {
			return nil, err
		}
		for len(rs) > 0 && rs[len(rs)-1].Seq > s.backlogEnd {
			rs = rs[:len(rs)-1]
		}
		if len(rs) > 0 {
			s.backlog = rs[len(rs)-1].Seq
			s.record(rs)
			return rs, nil
		}
		s.backlog = s.backlogEnd
	}
	return s.nextAsked(n)
}

// nextAsked returns the next batch of the ranges the command asked for.
func (s *Sender) nextAsked(n int) ([]wire.Result, error) {
	for {
		s.mu.Lock()
		if len(s.asked) == 0 {
			s.mu.Unlock()
			return nil, nil
		}
		r := s.asked[0]
		s.mu.Unlock()
		rs, err := s.src.HeldAfter(r.next-1, 0, n)
		if err != nil {
			return nil, err
		}
		for len(rs) > 0 && rs[len(rs)-1].Seq > r.to {
			rs = rs[:len(rs)-1]
		}
		adv := r.to + 1 // nothing (more) is held in the range
		if len(rs) > 0 {
			adv = rs[len(rs)-1].Seq + 1
		}
		s.mu.Lock()
		// Ask may have widened the head meanwhile: advance it only if it
		// did not start again lower, and drop it once it is through.
		if len(s.asked) > 0 {
			h := &s.asked[0]
			if h.next >= r.next {
				h.next = max(h.next, adv)
			}
			if h.next > h.to {
				s.asked = s.asked[1:]
			}
		}
		s.mu.Unlock()
		if len(rs) > 0 {
			s.record(rs)
			return rs, nil
		}
	}
}

func (s *Sender) record(rs []wire.Result) {
	seqs := make([]uint64, len(rs))
	for i, r := range rs {
		seqs[i] = r.Seq
	}
	s.mu.Lock()
	s.sent = append(s.sent, seqs)
	s.inflight += len(seqs)
	s.mu.Unlock()
}

// Acked takes an ack and returns the seqs it covers: those of the message
// whose highest seq is upTo and of every message sent before it. An ack
// that matches no message (a command that acks cumulatively over
// interleaved messages) covers the leading messages wholly at or below
// upTo.
func (s *Sender) Acked(upTo uint64) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := -1
	for i, m := range s.sent {
		if m[len(m)-1] == upTo {
			end = i
			break
		}
	}
	if end < 0 {
		for end+1 < len(s.sent) && s.sent[end+1][len(s.sent[end+1])-1] <= upTo {
			end++
		}
	}
	var out []uint64
	for _, m := range s.sent[:end+1] {
		out = append(out, m...)
	}
	s.sent = s.sent[end+1:]
	s.inflight -= len(out)
	if len(out) > 0 {
		select {
		case s.freed <- struct{}{}:
		default:
		}
	}
	return out
}

// InFlight returns how many results are sent and not acknowledged.
func (s *Sender) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

// pump runs the reader goroutine and, in this goroutine, the writer.
func (u *Uplink) pump(ctx context.Context, conn *websocket.Conn, snd *Sender) error {
	readErr := make(chan error, 1)

	conn.SetReadDeadline(time.Now().Add(u.cfg.PongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(u.cfg.PongWait))
	})
	go func() { readErr <- u.readLoop(conn, snd) }()

	pingPeriod := u.cfg.PongWait * 9 / 10
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	status := time.NewTicker(u.cfg.StatusPeriod)
	defer status.Stop()

	sendStatus := u.cfg.Status != nil
	fail := func(err error) error {
		conn.Close()
		<-readErr
		return err
	}
	for {
		// Send what fits in the window.
		for {
			batch, err := snd.Next()
			if err != nil {
				return fail(fmt.Errorf("read outbox: %w", err))
			}
			if batch == nil {
				break
			}
			if err := u.write(conn, &wire.Results{Results: batch}); err != nil {
				return fail(fmt.Errorf("send results: %w", err))
			}
		}
		if sendStatus {
			sendStatus = false
			st := u.cfg.Status()
			if err := u.write(conn, &st); err != nil {
				return fail(fmt.Errorf("send status: %w", err))
			}
		}
		for _, a := range u.takeAlarms() {
			if err := u.write(conn, &a); err != nil {
				u.requeue(a)
				return fail(fmt.Errorf("send alarm: %w", err))
			}
		}

		select {
		case <-ctx.Done():
			conn.SetWriteDeadline(time.Now().Add(u.cfg.WriteWait))
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "kiosk stopping"))
			return fail(ctx.Err())
		case err := <-readErr:
			conn.Close()
			return err
		case <-u.cfg.Source.Changed():
		case <-snd.freed:
		case <-u.kick:
		case <-status.C:
			sendStatus = u.cfg.Status != nil
		case <-ping.C:
			conn.SetWriteDeadline(time.Now().Add(u.cfg.WriteWait))
			if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return fail(fmt.Errorf("ping: %w", err))
			}
		}
	}
}

func (u *Uplink) takeAlarms() []wire.Alarm {
	u.mu.Lock()
	defer u.mu.Unlock()
	a := u.alarms
	u.alarms = nil
	return a
}

func (u *Uplink) requeue(a wire.Alarm) {
	u.mu.Lock()
	u.alarms = append([]wire.Alarm{a}, u.alarms...)
	u.mu.Unlock()
}

// readLoop handles acks, rejects and notices until the first error.
func (u *Uplink) readLoop(conn *websocket.Conn, snd *Sender) error {
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		conn.SetReadDeadline(time.Now().Add(u.cfg.PongWait))
		m, err := wire.Decode(b, wire.MaxKioskMessage)
		if err != nil {
			return fmt.Errorf("from command: %w", err)
		}
		switch m := m.(type) {
		case *wire.Ack:
			if seqs := snd.Acked(m.UpToSeq); len(seqs) > 0 {
				if _, err := u.cfg.Source.AckSeqs(seqs); err != nil {
					return fmt.Errorf("record ack: %w", err)
				}
			}
			now := u.cfg.Now()
			u.mu.Lock()
			u.state.LastSync = &now
			u.mu.Unlock()
		case *wire.Reject:
			why := "kept aside, not resent"
			if m.Code == wire.RejectOutOfScope {
				why = "outside this kiosk's registration (its event or sites at the command): kept aside, not resent; check the site chosen, or the kiosk's registration"
			}
			u.cfg.Log.Error("command rejected a result; "+why, "result_id", m.ResultID, "seq", m.Seq, "code", m.Code, "message", m.Message)
			if err := u.cfg.Source.Reject(*m); err != nil {
				return fmt.Errorf("record reject: %w", err)
			}
		case *wire.Notice:
			if u.cfg.OnNotice != nil {
				u.cfg.OnNotice(*m)
			}
		case *wire.RuleBook:
			if u.cfg.OnRules != nil {
				u.cfg.OnRules(m.Book)
			}
		case *wire.Resend:
			u.cfg.Log.Info("command asked for results again; sending what this kiosk still holds",
				"from_seq", m.FromSeq, "to_seq", m.ToSeq, "reason", m.Reason)
			snd.Ask(m.FromSeq, m.ToSeq)
		case *wire.Error:
			return fmt.Errorf("command closed the link: %s: %s", m.Code, m.Message)
		default:
			u.cfg.Log.Debug("ignoring message", "type", m.MessageType())
		}
	}
}
