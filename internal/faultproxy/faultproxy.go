// Package faultproxy is an in-process TCP proxy that breaks the link
// between a kiosk and the command service on purpose, for tests and for
// `shian-sim chaos`: the toxics of Toxiproxy, without a dependency.
//
// # Faults
//
// A [Proxy] forwards every connection to its target. [Faults] says how it
// misbehaves; [Proxy.Set] replaces the faults at any moment, and they apply
// to open connections as well as new ones:
//
//   - Latency ± Jitter before every forwarded chunk;
//   - Bandwidth: bytes per second per direction;
//   - Fragment: forward in pieces of at most N bytes (1 = byte by byte)
//     with a pause between pieces;
//   - LimitBytes: cut a connection after N more bytes, mid-frame;
//   - Blackhole: stop forwarding and reading, close nothing — a half-open
//     link, which only keepalives can notice;
//   - Refuse: a partition: open connections are reset, new ones are reset
//     as soon as they are accepted;
//   - DropAcks: drop websocket "ack" messages from the server with a
//     probability (see below).
//
// [Proxy.Cut] closes every open connection (FIN) and [Proxy.Reset] resets
// them (RST) once, without changing the faults.
//
// # Dropping acks
//
// A lost ack is not a lost TCP segment: TCP would retransmit it. It is an
// ack the server wrote just before the link died, or one a broken middlebox
// swallowed. To drop whole messages the proxy parses the websocket stream
// from the server: it passes the HTTP upgrade response through, then reads
// frame headers (RFC 6455 §5.2; frames from a server are not masked),
// holds each frame until it is complete, and drops a final text frame whose
// JSON "type" is "ack". Fragmented messages and control frames pass
// untouched. The client never notices anything but missing acks, exactly
// the case a resend and the command's dedupe must cover.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Faults is how the proxy misbehaves. The zero value forwards faithfully.
type Faults struct {
	// Refuse resets open connections and every new one (a partition).
	Refuse bool
	// Blackhole stops forwarding in both directions without closing
	// anything (a half-open link).
	Blackhole bool
	// Latency (± Jitter, uniformly) is added before every chunk.
	Latency, Jitter time.Duration
	// Bandwidth limits each direction to this many bytes per second
	// (0: unlimited).
	Bandwidth int
	// Fragment forwards in pieces of at most this many bytes (0: whole
	// chunks), waiting FragmentPause between pieces.
	Fragment      int
	FragmentPause time.Duration
	// LimitBytes cuts each connection once it has forwarded this many
	// more bytes in one direction, counted from when the fault was set
	// (0: no limit).
	LimitBytes int64
	// DropAcks is the probability, 0 to 1, that a websocket ack message
	// from the server is dropped.
	DropAcks float64
}

// String describes the faults for logs.
func (f Faults) String() string {
	if f == (Faults{}) {
		return "none"
	}
	s := ""
	add := func(format string, a ...any) {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf(format, a...)
	}
	if f.Refuse {
		add("refuse")
	}
	if f.Blackhole {
		add("blackhole")
	}
	if f.Latency > 0 || f.Jitter > 0 {
		add("latency=%v±%v", f.Latency, f.Jitter)
	}
	if f.Bandwidth > 0 {
		add("bandwidth=%dB/s", f.Bandwidth)
	}
	if f.Fragment > 0 {
		add("fragment=%d/%v", f.Fragment, f.FragmentPause)
	}
	if f.LimitBytes > 0 {
		add("limit=%dB", f.LimitBytes)
	}
	if f.DropAcks > 0 {
		add("drop-acks=%.0f%%", f.DropAcks*100)
	}
	return s
}

// Stats counts what the proxy did.
type Stats struct {
	Accepted, Refused   int64
	BytesUp, BytesDown  int64 // client→server, server→client
	AcksSeen, AcksDrops int64
	Cuts                int64 // connections closed by a fault (limit, refuse, Cut, Reset)
}

// Proxy is a running fault proxy.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	faults Faults
	gen    uint64 // bumped by every Set, so that LimitBytes restarts
	conns  map[*link]struct{}
	rnd    *rand.Rand
	wake   chan struct{} // closed and replaced on every Set
	closed bool

	st struct {
		accepted, refused, up, down, acks, drops, cuts atomic.Int64
	}
	wg sync.WaitGroup
}

// New listens on 127.0.0.1 (a free port) and forwards to target
// ("host:port").
func New(target string) (*Proxy, error) {
	return Listen("127.0.0.1:0", target)
}

// Listen is New on a chosen address.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", addr, err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*link]struct{}{},
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)), wake: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address ("127.0.0.1:port").
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Seed makes the proxy's random choices (jitter, dropped acks) repeatable.
func (p *Proxy) Seed(seed uint64) {
	p.mu.Lock()
	p.rnd = rand.New(rand.NewPCG(seed, 0x5eed))
	p.mu.Unlock()
}

// Set replaces the faults. Refuse resets the open connections at once.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.gen++
	close(p.wake)
	p.wake = make(chan struct{})
	var victims []*link
	if f.Refuse {
		for l := range p.conns {
			victims = append(victims, l)
		}
	}
	p.mu.Unlock()
	for _, l := range victims {
		p.st.cuts.Add(1)
		l.close(true)
	}
}

// Faults returns the current faults.
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Heal removes every fault (Set(Faults{})).
func (p *Proxy) Heal() { p.Set(Faults{}) }

// Cut closes every open connection (FIN to both sides).
func (p *Proxy) Cut() { p.closeAll(false) }

// Reset resets every open connection (RST to both sides).
func (p *Proxy) Reset() { p.closeAll(true) }

func (p *Proxy) closeAll(rst bool) {
	p.mu.Lock()
	var all []*link
	for l := range p.conns {
		all = append(all, l)
	}
	p.mu.Unlock()
	for _, l := range all {
		p.st.cuts.Add(1)
		l.close(rst)
	}
}

// Conns returns the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{Accepted: p.st.accepted.Load(), Refused: p.st.refused.Load(),
		BytesUp: p.st.up.Load(), BytesDown: p.st.down.Load(),
		AcksSeen: p.st.acks.Load(), AcksDrops: p.st.drops.Load(), Cuts: p.st.cuts.Load()}
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
	err := p.ln.Close()
	p.closeAll(false)
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		refuse := p.faults.Refuse || p.closed
		p.mu.Unlock()
		if refuse {
			p.st.refused.Add(1)
			reset(c)
			continue
		}
		p.st.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// link is one proxied connection.
type link struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
	sent           [2]atomic.Int64 // bytes forwarded up, down since the limit generation
	gen            [2]atomic.Uint64
}

func (l *link) close(rst bool) {
	l.once.Do(func() {
		close(l.done)
		if rst {
			reset(l.client)
			reset(l.server)
			return
		}
		l.client.Close()
		l.server.Close()
	})
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(client)
		return
	}
	l := &link{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.close(false)
		return
	}
	p.conns[l] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(l, client, server, false) }()
	go func() { defer wg.Done(); p.pump(l, server, client, true) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, l)
	p.mu.Unlock()
}

// current returns the faults, their generation, and a channel closed at
// the next Set.
func (p *Proxy) current() (Faults, uint64, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults, p.gen, p.wake
}

func (p *Proxy) float() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rnd.Float64()
}

// pump copies src to dst with the faults applied; down is server→client.
func (p *Proxy) pump(l *link, src, dst net.Conn, down bool) {
	defer l.close(false)
	var ws *wsFilter
	if down {
		ws = &wsFilter{}
	}
	buf := make([]byte, 32<<10)
	for {
		// A black hole neither reads nor writes until it is lifted.
		if !p.waitOpen(l) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if ws != nil {
				chunk = ws.filter(chunk, func() bool {
					p.st.acks.Add(1)
					f, _, _ := p.current()
					if f.DropAcks > 0 && p.float() < f.DropAcks {
						p.st.drops.Add(1)
						return true
					}
					return false
				})
			}
			if !p.forward(l, dst, chunk, down) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitOpen blocks while the proxy is a black hole; false when the link
// closed meanwhile.
func (p *Proxy) waitOpen(l *link) bool {
	for {
		f, _, wake := p.current()
		if !f.Blackhole {
			return true
		}
		select {
		case <-l.done:
			return false
		case <-wake:
		}
	}
}

// sleep waits d, or returns false if the link closes first.
func sleep(l *link, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.done:
		return false
	case <-t.C:
		return true
	}
}

// forward writes chunk to dst under the current faults.
func (p *Proxy) forward(l *link, dst net.Conn, chunk []byte, down bool) bool {
	for len(chunk) > 0 {
		if !p.waitOpen(l) {
			return false
		}
		f, gen, _ := p.current()
		dir := 0
		if down {
			dir = 1
		}
		if l.gen[dir].Swap(gen) != gen {
			l.sent[dir].Store(0)
		}
		if f.Latency > 0 || f.Jitter > 0 {
			d := f.Latency
			if f.Jitter > 0 {
				d += time.Duration((p.float()*2 - 1) * float64(f.Jitter))
			}
			if !sleep(l, d) {
				return false
			}
		}
		piece := chunk
		if f.Fragment > 0 && len(piece) > f.Fragment {
			piece = piece[:f.Fragment]
		}
		cut := false
		if f.LimitBytes > 0 {
			room := f.LimitBytes - l.sent[dir].Load()
			if room <= 0 {
				p.st.cuts.Add(1)
				l.close(false)
				return false
			}
			if int64(len(piece)) >= room {
				piece, cut = piece[:room], true
			}
		}
		if _, err := dst.Write(piece); err != nil {
			return false
		}
		l.sent[dir].Add(int64(len(piece)))
		if down {
			p.st.down.Add(int64(len(piece)))
		} else {
			p.st.up.Add(int64(len(piece)))
		}
		if cut {
			p.st.cuts.Add(1)
			l.close(false)
			return false
		}
		chunk = chunk[len(piece):]
		if f.Bandwidth > 0 && !sleep(l, time.Duration(len(piece))*time.Second/time.Duration(f.Bandwidth)) {
			return false
		}
		if len(chunk) > 0 && f.FragmentPause > 0 && !sleep(l, f.FragmentPause) {
			return false
		}
	}
	return true
}

var _ io.Closer = (*Proxy)(nil)
