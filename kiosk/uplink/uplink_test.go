package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/protocols/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// memSource is an in-memory outbox.
type memSource struct {
	mu      sync.Mutex
	last    uint64
	pending map[uint64]bool
	acked   map[uint64]int // seq → times acked
	changed chan struct{}
}

func newMem() *memSource {
	return &memSource{pending: map[uint64]bool{}, acked: map[uint64]int{}, changed: make(chan struct{}, 1)}
}

func (m *memSource) save(n int) {
	m.mu.Lock()
	for i := 0; i < n; i++ {
		m.last++
		m.pending[m.last] = true
	}
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *memSource) BootEpoch() uint64 { return 1 }
func (m *memSource) LastSeq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
func (m *memSource) PendingAfter(after uint64, max int) ([]wire.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var seqs []uint64
	for s := range m.pending {
		if s > after {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var out []wire.Result
	for _, s := range seqs {
		if len(out) == max {
			break
		}
		out = append(out, wire.Result{Seq: s, ResultID: fmt.Sprint(s), KioskID: "K-1"})
	}
	return out, nil
}
func (m *memSource) HeldAfter(after, ackedAbove uint64, max int) ([]wire.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire.Result
	for s := after + 1; s <= m.last && len(out) < max; s++ {
		if m.pending[s] || s > ackedAbove && m.acked[s] > 0 {
			out = append(out, wire.Result{Seq: s, ResultID: fmt.Sprint(s), KioskID: "K-1"})
		}
	}
	return out, nil
}
func (m *memSource) AckSeqs(seqs []uint64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range seqs {
		m.acked[s]++
		if m.pending[s] {
			delete(m.pending, s)
			n++
		}
	}
	return n, nil
}
func (m *memSource) Reject(wire.Reject) error { return nil }
func (m *memSource) Changed() <-chan struct{} { return m.changed }

func seqs(rs []wire.Result) []uint64 {
	if rs == nil {
		return nil
	}
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

// TestSenderLiveFirstAndAcks: the backlog goes in seq order within the
// window, a result saved meanwhile jumps the queue, and an ack covers its
// own message and the ones before it — never one sent after it.
func TestSenderLiveFirstAndAcks(t *testing.T) {
	src := newMem()
	src.save(200) // the backlog at connect
	s := NewSender(src, src.LastSeq(), 0, 100)
	var sent [][]uint64
	next := func() []uint64 {
		rs, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rs != nil {
			sent = append(sent, seqs(rs))
		}
		return seqs(rs)
	}
	if b := next(); len(b) != 64 || b[0] != 1 || b[63] != 64 {
		t.Fatalf("first message %v", b)
	}
	if b := next(); len(b) != 36 || b[0] != 65 {
		t.Fatalf("second message fills the window: %v", b)
	}
	if b := next(); b != nil {
		t.Fatalf("sent past the window: %v", b)
	}
	src.save(1) // seq 201, measured while the link is up
	// The ack of the second message covers the first too.
	covered := s.Acked(100)
	src.AckSeqs(covered)
	if len(covered) != 100 || s.InFlight() != 0 {
		t.Fatalf("ack covered %d, in flight %d", len(covered), s.InFlight())
	}
	if b := next(); len(b) != 1 || b[0] != 201 {
		t.Fatalf("the live result does not go first: %v", b)
	}
	if b := next(); len(b) != 64 || b[0] != 101 {
		t.Fatalf("backlog resumes: %v", b)
	}
	// The ack of the live message covers only it, not the backlog
	// message sent after it (whose seqs are lower).
	covered = s.Acked(201)
	if fmt.Sprint(covered) != "[201]" {
		t.Fatalf("ack 201 covered %v", covered)
	}
	src.AckSeqs(covered)
	for b := next(); b != nil; b = next() {
	}
	if s.InFlight() != 100 {
		t.Fatalf("in flight %d", s.InFlight())
	}
	// An ack that matches no message (a command acking cumulatively)
	// covers only leading messages wholly at or below it.
	if c := s.Acked(150); len(c) != 0 {
		t.Fatalf("cumulative 150 covered %v (the message 101–164 is not wholly below)", c)
	}
	c := s.Acked(200)
	if len(c) != 100 {
		t.Fatalf("ack 200 covered %d", len(c))
	}
	src.AckSeqs(c)
	for sq, n := range src.acked {
		if n != 1 {
			t.Fatalf("seq %d acked %d times", sq, n)
		}
	}
	if len(src.pending) != 0 {
		t.Fatalf("pending %v", src.pending)
	}
}

// TestSenderResendsWhatTheCommandLost: a command whose welcome says it
// holds less than this kiosk saw acked (restored from an older backup) is
// sent everything held above its mark, acked or not, in seq order with
// what is still pending below it; a range it asks for follows, and a range
// the outbox no longer holds sends nothing.
func TestSenderResendsWhatTheCommandLost(t *testing.T) {
	src := newMem()
	src.save(60)
	var all []uint64
	for s := uint64(1); s <= 60; s++ {
		if s != 10 { // seq 10's ack was lost
			all = append(all, s)
		}
	}
	src.AckSeqs(all)
	s := NewSender(src, src.LastSeq(), 38, 100)
	rs, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{10}
	for q := uint64(39); q <= 60; q++ {
		want = append(want, q)
	}
	if fmt.Sprint(seqs(rs)) != fmt.Sprint(want) {
		t.Fatalf("after welcome{acked_up_to: 38} sent %v, want %v", seqs(rs), want)
	}
	if rs, _ := s.Next(); rs != nil {
		t.Fatalf("sent more: %v", seqs(rs))
	}
	s.Ask(5, 7)
	s.Ask(7, 8) // overlaps: one range 5–8
	s.Ask(1000, 2000)
	s.Ask(20, 20)
	var got [][]uint64
	for rs, _ := s.Next(); rs != nil; rs, _ = s.Next() {
		got = append(got, seqs(rs))
	}
	if fmt.Sprint(got) != "[[5 6 7 8] [20]]" {
		t.Fatalf("asked ranges sent as %v", got)
	}
	if c := s.Acked(20); len(c) != 1+22+4+1 {
		t.Fatalf("ack covered %v", c)
	}
	// A kiosk whose acks the command still holds resends nothing acked.
	s = NewSender(src, src.LastSeq(), 60, 100)
	if rs, _ := s.Next(); fmt.Sprint(seqs(rs)) != "[10]" {
		t.Fatalf("with the command holding all, sent %v", seqs(rs))
	}
}

// TestBackoffNeverAboveTheCap: every delay lies in [min/2, max], for any
// attempt and any draw.
func TestBackoffNeverAboveTheCap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 100; n++ {
		for _, r := range []float64{0, 0.5, 0.999999, rnd.Float64()} {
			d := Backoff(n, time.Second, 60*time.Second, func() float64 { return r })
			if d < 500*time.Millisecond || d > 60*time.Second {
				t.Fatalf("attempt %d, draw %v: %v", n, r, d)
			}
		}
	}
	if d := Backoff(1, time.Second, time.Minute, func() float64 { return 0 }); d != 500*time.Millisecond {
		t.Fatal(d)
	}
}

// refusingDialer fails every dial at once and records when, in the
// bubble's time.
type refusingDialer struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

func (d *refusingDialer) dialer(id string) *websocket.Dialer {
	return &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.mu.Lock()
		d.times[id] = append(d.times[id], time.Now())
		d.mu.Unlock()
		return nil, errors.New("connection refused")
	}}
}

// TestReconnectsSpreadAndCapped runs 20 kiosks against a command that
// refuses them all, in a synctest bubble (virtual time): one kiosk's 20
// reconnects spread over more than a second, no delay exceeds the cap,
// and the fleet's first reconnects do not come in one burst.
func TestReconnectsSpreadAndCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &refusingDialer{times: map[string][]time.Time{}}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			id := fmt.Sprintf("K-%02d", i)
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			u, err := New(Config{URL: "ws://command.invalid/ws/kiosk", KioskID: id, Token: "t", Source: newMem(),
				Dialer: d.dialer(id), Log: quiet, BackoffMin: time.Second, BackoffMax: 8 * time.Second, Rand: rnd.Float64})
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); u.Run(ctx) }()
		}
		time.Sleep(3 * time.Minute)
		cancel()
		wg.Wait()
		var firsts []time.Time
		for id, ts := range d.times {
			if len(ts) < 21 {
				t.Fatalf("%s dialled %d times in 3 minutes", id, len(ts))
			}
			for i := 1; i < len(ts); i++ {
				gap := ts[i].Sub(ts[i-1])
				if gap < 500*time.Millisecond || gap > 8*time.Second {
					t.Fatalf("%s: gap %d is %v", id, i, gap)
				}
			}
			if span := ts[20].Sub(ts[0]); span < time.Second {
				t.Fatalf("%s: 20 reconnects within %v", id, span)
			}
			firsts = append(firsts, ts[1])
		}
		sort.Slice(firsts, func(i, j int) bool { return firsts[i].Before(firsts[j]) })
		if spread := firsts[len(firsts)-1].Sub(firsts[0]); spread < 500*time.Millisecond {
			t.Fatalf("the fleet's first reconnects span only %v", spread)
		}
	})
}

// pipeListener hands net.Pipe connections to an http.Server, so a whole
// websocket link runs inside a synctest bubble.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.conns <- b:
		return a, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestHalfOpenLinkNoticed is docs/reliability.md test 15 on the kiosk side, in
// virtual time: the command answers the hello and then goes silent — it
// neither reads nor writes, as behind a black hole. The kiosk notices
// within pong wait + ping period (114 s with the defaults): by the pong
// wait when it has nothing to send, by the write deadline (10 s) of a send
// that cannot get through when it has; then it dials again.
func TestHalfOpenLinkNoticed(t *testing.T) {
	for _, pending := range []int{0, 3} {
		t.Run(fmt.Sprintf("pending=%d", pending), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { halfOpen(t, pending) })
		})
	}
}

func halfOpen(t *testing.T, pending int) {
	ln := newPipeListener()
	var mu sync.Mutex
	var welcomed []time.Time
	silent := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
		b, _ := wire.Encode(&wire.Welcome{KioskID: "K-1", MaxInFlight: 8})
		ws.WriteMessage(websocket.TextMessage, b)
		mu.Lock()
		welcomed = append(welcomed, time.Now())
		mu.Unlock()
		<-silent // a black hole: nothing read, nothing written
	})}
	go srv.Serve(ln)
	src := newMem()
	u, _ := New(Config{URL: "ws://command/ws/kiosk", KioskID: "K-1", Token: "t", Source: src, Log: quiet,
		Dialer: &websocket.Dialer{NetDialContext: ln.dial}, BackoffMin: time.Second, BackoffMax: 2 * time.Second,
		Rand: func() float64 { return 0.5 }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	defer func() {
		cancel()
		close(silent)
		<-done
		srv.Close()
		ln.Close()
	}()

	synctest.Wait()
	if !u.State().Online {
		t.Fatal("not online after the welcome")
	}
	start := time.Now()
	src.save(pending)
	for u.State().Online {
		time.Sleep(100 * time.Millisecond)
	}
	down := time.Since(start)
	const pongWait, pingPeriod, writeWait = 60 * time.Second, 54 * time.Second, 10 * time.Second
	switch {
	case down > pongWait+pingPeriod:
		t.Fatalf("half-open link noticed after %v", down)
	case pending == 0 && down < pongWait:
		t.Fatalf("an idle link dropped after %v, before the pong wait", down)
	case pending > 0 && down > writeWait+time.Second:
		t.Fatalf("a blocked send held the writer %v, more than the write deadline", down)
	}
	time.Sleep(5 * time.Second)
	mu.Lock()
	n := len(welcomed)
	mu.Unlock()
	if n < 2 {
		t.Fatalf("no reconnect after the dead link (%d welcomes)", n)
	}
}
