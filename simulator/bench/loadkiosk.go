package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/protocols/wire"
)

// A load kiosk speaks the kiosk link (protocols/wire/README.md) as fast as
// the command acknowledges: hello, then results messages of Batch results,
// at most max_in_flight unacknowledged, each one counted when its ack
// arrives. It keeps nothing on disk: it measures the command, not a kiosk.

// loadKiosk is one registered kiosk to drive.
type loadKiosk struct {
	ID, Token string
}

// loadRun drives many load kiosks against one command.
type loadRun struct {
	URL     string // ws://host:port/ws/kiosk
	Kiosks  []loadKiosk
	Batch   int // results per message (the wire allows 1–64)
	Enc     *Encoder
	Stalls  int // results go to S-0001 … S-<Stalls>
	StartAt time.Time

	acked    atomic.Int64 // results acknowledged, all kiosks
	rejected atomic.Int64
	failed   atomic.Int64 // links that ended in an error before the run did
	errMu    sync.Mutex
	firstErr error
}

// connect dials every kiosk (at most 64 handshakes at a time) and returns
// the links; an error when any cannot connect.
func (lr *loadRun) connect(ctx context.Context) ([]*loadLink, error) {
	links := make([]*loadLink, len(lr.Kiosks))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i, k := range lr.Kiosks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			l, err := lr.dial(ctx, k, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("load kiosk %s: %w", k.ID, err)
			}
			links[i] = l
		}()
	}
	wg.Wait()
	if first != nil {
		for _, l := range links {
			if l != nil {
				l.ws.Close()
			}
		}
		return nil, first
	}
	return links, nil
}

// loadLink is one connected load kiosk.
type loadLink struct {
	lr       *loadRun
	k        loadKiosk
	n        int // the kiosk's index, for its stalls
	ws       *websocket.Conn
	inFlight int
}

func (lr *loadRun) dial(ctx context.Context, k loadKiosk, n int) (*loadLink, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4 << 10, WriteBufferSize: 64 << 10}
	h := http.Header{"Authorization": {"Bearer " + k.Token}}
	ws, _, err := d.DialContext(ctx, lr.URL, h)
	if err != nil {
		return nil, err
	}
	b, _ := wire.Encode(&wire.Hello{KioskID: k.ID, BootEpoch: 1, Software: "shian-bench load kiosk", SentAt: time.Now()})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		ws.Close()
		return nil, err
	}
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, b, err = ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("wait for welcome: %w", err)
	}
	m, err := wire.Decode(b, wire.MaxKioskMessage)
	if err != nil {
		ws.Close()
		return nil, err
	}
	w, ok := m.(*wire.Welcome)
	if !ok {
		ws.Close()
		return nil, fmt.Errorf("got %s, want welcome", m.MessageType())
	}
	ws.SetReadDeadline(time.Time{})
	l := &loadLink{lr: lr, k: k, n: n, ws: ws, inFlight: w.MaxInFlight}
	if l.inFlight <= 0 {
		l.inFlight = 256
	}
	return l, nil
}

func (lr *loadRun) fail(err error) {
	lr.failed.Add(1)
	lr.errMu.Lock()
	if lr.firstErr == nil {
		lr.firstErr = err
	}
	lr.errMu.Unlock()
}

// run sends and counts until ctx ends: one writer and one reader
// goroutine per link, the writer waiting for room in the in-flight window.
func (l *loadLink) run(ctx context.Context) {
	window := make(chan int, l.inFlight/l.lr.Batch+1) // batch sizes sent, not yet acked
	slots := make(chan struct{}, max(1, l.inFlight/l.lr.Batch))
	for range cap(slots) {
		slots <- struct{}{}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := l.ws.ReadMessage()
			if err != nil {
				if ctx.Err() == nil {
					l.lr.fail(fmt.Errorf("%s: read: %w", l.k.ID, err))
				}
				return
			}
			m, err := wire.Decode(b, wire.MaxKioskMessage)
			if err != nil {
				l.lr.fail(fmt.Errorf("%s: %w", l.k.ID, err))
				return
			}
			switch m := m.(type) {
			case *wire.Ack:
				n := <-window
				l.lr.acked.Add(int64(n))
				slots <- struct{}{}
			case *wire.Reject:
				l.lr.rejected.Add(1)
			case *wire.Error:
				l.lr.fail(fmt.Errorf("%s: command error %s: %s", l.k.ID, m.Code, m.Message))
				return
			}
		}
	}()
	specs := make([]Spec, l.lr.Batch)
	var buf []byte
	seq := uint64(0)
	at := l.lr.StartAt
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-done:
			return
		case <-slots:
			for i := range specs {
				seq++
				at = at.Add(time.Millisecond)
				specs[i] = Spec{Kind: 0, KioskID: l.k.ID, Seq: seq, StallID: stallID(l.n*7+int(seq)%l.lr.Stalls, l.lr.Stalls),
					Tag: "菠菜", MeasuredAt: at}
			}
			buf = l.lr.Enc.AppendMessage(buf[:0], specs)
			window <- len(specs)
			if err := l.ws.WriteMessage(websocket.TextMessage, buf); err != nil {
				if ctx.Err() == nil {
					l.lr.fail(fmt.Errorf("%s: write: %w", l.k.ID, err))
				}
				l.ws.Close()
				<-done
				return
			}
		}
	}
	l.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
	l.ws.Close()
	<-done
}

func stallID(i, n int) string { return fmt.Sprintf("S-%04d", 1+i%n) }

// errNoAcks is returned when the links never saw an acknowledgement.
var errNoAcks = errors.New("no result was acknowledged")
