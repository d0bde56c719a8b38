package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// serve puts the hub on a real loopback websocket endpoint.
func serve(t *testing.T, h *Hub) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(h.ServeWS))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// browser is a websocket client of the hub that reads in the background.
type browser struct {
	c    *websocket.Conn
	msgs chan wire.Message
	err  chan error
}

func dial(t *testing.T, url string) *browser {
	t.Helper()
	return dialWith(t, url, nil)
}

// dialWith dials with request headers (a scope, for the scoped views).
func dialWith(t *testing.T, url string, hdr http.Header) *browser {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := &browser{c: c, msgs: make(chan wire.Message, 1<<16), err: make(chan error, 1)}
	go func() {
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				b.err <- err
				close(b.msgs)
				return
			}
			m, err := wire.Decode(data, 0)
			if err != nil {
				b.err <- err
				close(b.msgs)
				return
			}
			b.msgs <- m
		}
	}()
	return b
}

// next returns the next message, failing after a generous wait (a hang,
// not a timing assertion).
func (b *browser) next(t *testing.T) wire.Message {
	t.Helper()
	select {
	case m, ok := <-b.msgs:
		if !ok {
			t.Fatalf("connection ended: %v", <-b.err)
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func (b *browser) snapshot(t *testing.T) *wire.Snapshot {
	t.Helper()
	s, ok := b.next(t).(*wire.Snapshot)
	if !ok {
		t.Fatal("the first message is not a snapshot")
	}
	return s
}

// deltasUpTo reads deltas until seq last, checking that they follow each
// other without a gap from after.
func (b *browser) deltasUpTo(t *testing.T, after, last uint64) []*wire.Delta {
	t.Helper()
	var out []*wire.Delta
	for after < last {
		d, ok := b.next(t).(*wire.Delta)
		if !ok {
			t.Fatal("expected a delta")
		}
		if d.Seq != after+1 {
			t.Fatalf("delta %d after %d", d.Seq, after)
		}
		after = d.Seq
		out = append(out, d)
	}
	return out
}

func result(i int) wire.Result { return bigResult(i, 40) }

// bigResult is a result of about 12×size bytes of JSON.
func bigResult(i, size int) wire.Result {
	return wire.Result{ResultID: fmt.Sprintf("R-%06d", i), KioskID: "K-1", Seq: uint64(i), StallID: "S-1",
		Verdict: assay.Negative, Item: strings.Repeat("农药残留", size)}
}

// publishAll publishes n result deltas on another goroutine and fails if
// it does not come back: Publish must never wait for a browser or for
// the hub.
func publishAll(t *testing.T, h *Hub, from, n int, size ...int) uint64 {
	t.Helper()
	sz := 40
	if len(size) > 0 {
		sz = size[0]
	}
	done := make(chan uint64, 1)
	go func() {
		var last uint64
		for i := from; i < from+n; i++ {
			last = h.Publish(wire.KindResult, bigResult(i, sz))
		}
		done <- last
	}()
	select {
	case last := <-done:
		return last
	case <-time.After(60 * time.Second):
		t.Fatal("Publish waited")
	}
	return 0
}

// TestSlowBrowserIsDropped: a browser that stops reading is dropped once
// its queue is full, while publishing goes on without waiting and a
// browser that reads gets every delta in order.
func TestSlowBrowserIsDropped(t *testing.T) {
	h := NewHub(func(uint64, []string) wire.Snapshot { return wire.Snapshot{} }, Options{Log: quiet})
	defer h.Close()
	url := serve(t, h)
	// The slow one: a raw connection that reads its snapshot and nothing more.
	slow, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, _, err := slow.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	fast := dial(t, url)
	fast.snapshot(t)
	// Enough to fill the slow one's socket buffers and then its queue, in
	// steps the reading browser keeps up with.
	const n, step = 3000, 100
	for i := 0; i < n; i += step {
		last := publishAll(t, h, i+1, step, 400)
		if last != uint64(i+step) {
			t.Fatalf("last seq %d", last)
		}
		fast.deltasUpTo(t, uint64(i), last)
	}
	if st := h.Stats(); st.Dropped != 1 || st.Clients != 1 {
		t.Fatalf("stats %+v: want the slow browser dropped and the fast one kept", st)
	}
	// The dropped browser's connection ends after what was already in
	// flight: with 1001 when the close frame gets through, else cut when
	// the hub's writer gives up on a socket nobody reads.
	slow.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the dropped browser's link stayed open")
			}
			break
		}
	}
}

// TestSnapshotIsBuiltOffTheHub: while a snapshot takes long to build,
// the hub goes on fanning deltas out and Publish returns at once; the
// browsers that connected meanwhile share that one snapshot and then get
// every delta after its sequence, without a gap.
func TestSnapshotIsBuiltOffTheHub(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	h := NewHub(func(seq uint64, _ []string) wire.Snapshot {
		if calls.Add(1) > 1 {
			once.Do(func() { close(started) })
			<-release
		}
		return wire.Snapshot{Results: []wire.Result{result(0)}}
	}, Options{Log: quiet})
	defer h.Close()
	url := serve(t, h)
	first := dial(t, url)
	if s := first.snapshot(t); s.Seq != 0 || len(s.Results) != 1 {
		t.Fatalf("first snapshot %+v", s)
	}
	publishAll(t, h, 1, 10)
	first.deltasUpTo(t, 0, 10)
	// Two browsers connect; their snapshot is held.
	second, third := dial(t, url), dial(t, url)
	<-started
	last := publishAll(t, h, 11, 100)
	first.deltasUpTo(t, 10, last) // the hub was not held up by the build
	close(release)
	for _, b := range []*browser{second, third} {
		s := b.snapshot(t)
		if s.Seq < 10 || s.Seq > last || s.Stream != h.Stream() {
			t.Fatalf("shared snapshot at seq %d (stream %q), published up to %d", s.Seq, s.Stream, last)
		}
		b.deltasUpTo(t, s.Seq, last)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("the snapshot was built %d times, want 2 (one for the first browser, one shared)", n)
	}
}

// TestQueuedDeltasCoalesce: while deltas wait for the hub, a newer state
// of the same stall or kiosk replaces the queued one in its place and
// number; results and other kinds are never merged. A queue at its limit
// drops its oldest half, and a browser resuming across the loss gets a
// snapshot instead of a replay with a hole.
func TestQueuedDeltasCoalesce(t *testing.T) {
	h := newHub(func(seq uint64, _ []string) wire.Snapshot { return wire.Snapshot{} }, Options{Log: quiet, MaxPending: 8})
	s1 := func(v assay.Verdict) wire.StallState { return wire.StallState{StallID: "S-1", Verdict: v} }
	seqs := []uint64{
		h.Publish(wire.KindStall, s1(assay.Negative)),
		h.Publish(wire.KindResult, result(1)),
		h.Publish(wire.KindStall, s1(assay.Suspicious)),
		h.Publish(wire.KindKiosk, wire.KioskState{KioskID: "K-1", Online: true}),
		h.Publish(wire.KindStall, &wire.StallState{StallID: "S-2"}),
		h.Publish(wire.KindStall, s1(assay.Positive)),
		h.Publish(wire.KindKiosk, &wire.KioskState{KioskID: "K-1", Online: false}),
		h.Publish(wire.KindResult, result(2)),
	}
	if fmt.Sprint(seqs) != "[1 2 1 3 4 1 3 5]" {
		t.Fatalf("sequence numbers %v", seqs)
	}
	q := h.take()
	var got []string
	for _, p := range q {
		got = append(got, fmt.Sprintf("%d %s %s", p.seq, p.kind, p.data))
	}
	want := []string{
		`1 stall {"stall_id":"S-1","result_id":"","verdict":"positive",`,
		`2 result`, `3 kiosk {"kiosk_id":"K-1","online":false,`, `4 stall`, `5 result`,
	}
	if len(got) != len(want) {
		t.Fatalf("queue:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("queued %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
	if c := h.coalesced.Load(); c != 3 {
		t.Fatalf("coalesced %d, want 3", c)
	}
	// Eleven more into a queue of eight: the oldest are dropped, the
	// queue stays bounded, the numbers go on.
	for i := 0; i < 11; i++ {
		h.Publish(wire.KindResult, result(10+i))
	}
	h.mu.Lock()
	n, last := len(h.pending), h.last
	h.mu.Unlock()
	if n > 8 || last != 16 || h.lost.Load() == 0 {
		t.Fatalf("after overflow: %d queued, last seq %d, lost %d", n, last, h.lost.Load())
	}
	go h.run()
	defer h.Close()
	url := serve(t, h)
	// Resuming from seq 5 would need 6, which was lost: a snapshot comes.
	b := dial(t, fmt.Sprintf("%s?since=5&stream=%s", url, h.Stream()))
	s := b.snapshot(t)
	if s.Seq != 16 {
		t.Fatalf("snapshot at %d, want 16", s.Seq)
	}
	if st := h.Stats(); st.Lost == 0 || st.Coalesced != 3 || st.Seq != 16 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDeltaEncoding: the hub's own delta encoder writes what wire.Encode
// writes.
func TestDeltaEncoding(t *testing.T) {
	for _, data := range []any{result(3), wire.StallState{StallID: "S-<1>&\"x\""}, nil, map[string]string{"名": "\u2028"}} {
		b, _ := json.Marshal(data)
		for _, stream := range []string{"", "0a1b2c3d"} {
			want, err := wire.Encode(&wire.Delta{Stream: stream, Seq: 42, Kind: wire.KindStall, Data: b})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendDelta(nil, stream, 42, wire.KindStall, b); string(got) != string(want) {
				t.Fatalf("appendDelta\n got %s\nwant %s", got, want)
			}
		}
	}
}
