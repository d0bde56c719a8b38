package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is a TCP echo server.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func proxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	p.Seed(1)
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("got %q, want %q", got, msg)
	}
}

func TestForwardAndSlowFaults(t *testing.T) {
	p := proxy(t, echo(t))
	c := dial(t, p)
	roundTrip(t, c, "hello")
	p.Set(Faults{Latency: 2 * time.Millisecond, Jitter: time.Millisecond, Fragment: 1, FragmentPause: time.Millisecond, Bandwidth: 100000})
	roundTrip(t, c, "byte by byte, late and slow")
	p.Heal()
	roundTrip(t, c, strings.Repeat("x", 100000))
	// The proxy counts a chunk after writing it, so the echo can reach the
	// client a moment before BytesDown catches up.
	st := p.Stats()
	for end := time.Now().Add(5 * time.Second); st.BytesDown != st.BytesUp && time.Now().Before(end); st = p.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.Accepted != 1 || st.BytesUp != st.BytesDown || st.BytesUp < 100000 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCutAndReset(t *testing.T) {
	p := proxy(t, echo(t))
	c := dial(t, p)
	roundTrip(t, c, "a")
	p.Cut()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after Cut: %v", err)
	}
	c = dial(t, p)
	roundTrip(t, c, "b")
	p.Reset()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestRefuseIsAPartition(t *testing.T) {
	p := proxy(t, echo(t))
	open := dial(t, p)
	roundTrip(t, open, "a")
	p.Set(Faults{Refuse: true})
	open.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Fatal("open connection survived the partition")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil { // the reset may come before or after connect returns
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("x"))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("new connection got through the partition")
		}
		c.Close()
	}
	p.Heal()
	roundTrip(t, dial(t, p), "healed")
	if st := p.Stats(); st.Refused == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBlackholeHoldsThenDelivers(t *testing.T) {
	p := proxy(t, echo(t))
	c := dial(t, p)
	roundTrip(t, c, "a")
	p.Set(Faults{Blackhole: true})
	c.Write([]byte("lost in the hole"))
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 16)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a black hole forwarded: %d %v", n, err)
	}
	p.Heal()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 16)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "lost in the hole" {
		t.Fatalf("after healing: %q %v", got, err)
	}
}

func TestLimitCutsMidStream(t *testing.T) {
	p := proxy(t, echo(t))
	c := dial(t, p)
	p.Set(Faults{LimitBytes: 10})
	c.Write([]byte("0123456789abcdef")) // 16 up: only 10 pass
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(c) // the echo of what passed may or may not beat the cut
	if len(got) > 10 {
		t.Fatalf("read %q past the limit", got)
	}
	if st := p.Stats(); st.BytesUp != 10 || st.Cuts < 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDropAcks(t *testing.T) {
	msgs := []string{
		`{"v":1,"type":"welcome","acked_up_to":3}`,
		`{"v":1,"type":"ack","up_to_seq":4}`,
		`{"v":1,"type":"notice","message":"ack"}`,
		`{"v":1,"type":"ack","up_to_seq":5}`,
		`{"v":1,"type":"notice","message":"` + strings.Repeat("长", 30000) + `"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{WriteBufferSize: 1024}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for _, m := range msgs {
			ws.WriteMessage(websocket.TextMessage, []byte(m))
		}
		ws.ReadMessage() // until the client goes
	}))
	defer srv.Close()
	p := proxy(t, strings.TrimPrefix(srv.URL, "http://"))
	p.Set(Faults{DropAcks: 1, Fragment: 7})
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.Addr()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for _, want := range []int{0, 2, 4} {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, []byte(msgs[want])) {
			t.Fatalf("got %.60s…, want message %d", b, want)
		}
	}
	if st := p.Stats(); st.AcksSeen != 2 || st.AcksDrops != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultsString(t *testing.T) {
	if s := (Faults{}).String(); s != "none" {
		t.Fatal(s)
	}
	s := Faults{Refuse: true, Latency: time.Second, Bandwidth: 1024, Fragment: 1, LimitBytes: 5, DropAcks: 0.5, Blackhole: true}.String()
	for _, w := range []string{"refuse", "blackhole", "latency=1s", "bandwidth=1024B/s", "fragment=1", "limit=5B", "drop-acks=50%"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
}
