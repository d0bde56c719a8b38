package ingest_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/ingest"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/wire"
)

// memKiosks and memSink are the store's roles in memory.
type memKiosks struct{}

func (memKiosks) KioskByToken(tok string) (store.Kiosk, error) {
	if tok != "kt_1" {
		return store.Kiosk{}, store.ErrNotFound
	}
	return store.Kiosk{ID: "K-1"}, nil
}
func (memKiosks) RaiseAlarm(a store.Alarm) (store.Alarm, error) { return a, nil }

type memSink struct{}

func (memSink) CommitPrepared(in []history.Incoming) ([]history.Committed, error) {
	out := make([]history.Committed, len(in))
	for i, r := range in {
		out[i] = history.Committed{Result: r.Result, Outcome: history.Stored}
	}
	return out, nil
}
func (memSink) HighWater(string) (uint64, uint64) { return 0, 0 }

// pipeListener hands net.Pipe connections to an http.Server.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
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

// TestHalfOpenKioskDropped is docs/reliability.md test 15 on the command's side,
// in virtual time: a kiosk says hello and then goes silent behind a black
// hole (it neither reads nor answers pings). The command drops the link
// and marks the kiosk offline within pong wait + ping period (114 s).
func TestHalfOpenKioskDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ingest.New(ingest.Config{Sink: memSink{}, Kiosks: memKiosks{}})
		ctx, cancel := context.WithCancel(context.Background())
		committed := make(chan struct{})
		go func() { srv.Run(ctx); close(committed) }()
		ln := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
		hs := &http.Server{Handler: srv}
		go hs.Serve(ln)
		defer func() {
			hs.Close()
			ln.Close()
			cancel()
			<-committed
		}()

		d := websocket.Dialer{NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			a, b := net.Pipe()
			ln.conns <- b
			return a, nil
		}}
		h := http.Header{}
		h.Set("Authorization", "Bearer kt_1")
		ws, _, err := d.Dial("ws://command/ws/kiosk", h)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		b, _ := wire.Encode(&wire.Hello{KioskID: "K-1", SentAt: time.Now()})
		ws.WriteMessage(websocket.TextMessage, b)
		if _, _, err := ws.ReadMessage(); err != nil { // welcome
			t.Fatal(err)
		}
		synctest.Wait()
		online := func() bool {
			for _, k := range srv.KioskStates() {
				if k.KioskID == "K-1" {
					return k.Online
				}
			}
			return false
		}
		if !online() {
			t.Fatal("kiosk not online after hello")
		}
		start := time.Now()
		for online() { // the kiosk now reads nothing and sends nothing
			time.Sleep(time.Second)
		}
		down := time.Since(start)
		if down > 114*time.Second {
			t.Fatalf("half-open kiosk link dropped after %v", down)
		}
		t.Logf("half-open kiosk link dropped after %v (virtual)", down)
	})
}
