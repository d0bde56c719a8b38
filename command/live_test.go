package command_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

func dialLive(t *testing.T, e *env, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+e.token)
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/live", h)
}

func readMsg(t *testing.T, c *websocket.Conn) wire.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLiveRefusesForeignOriginAndAnonymous(t *testing.T) {
	e := start(t)
	if _, resp, err := dialLive(t, e, "https://evil.example"); err == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/live", nil)
	if err == nil || resp.StatusCode != 401 {
		t.Fatalf("anonymous: %v %v", err, resp)
	}
}

// TestLiveSnapshotDeltasResync: a browser gets a snapshot, then a stall
// and a result delta for a new result, and after reconnecting with
// subscribe{since} only what it missed.
func TestLiveSnapshotDeltasResync(t *testing.T) {
	e := start(t)
	tok, _ := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-1"})
	c, _, err := dialLive(t, e, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snap, ok := readMsg(t, c).(*wire.Snapshot)
	if !ok {
		t.Fatal("first message is not a snapshot")
	}
	ob, _ := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-1", Log: quiet})
	defer ob.Close()
	up, _ := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk",
		KioskID: "K-1", Token: tok, Source: ob, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ob.Save(enzymeResult("S-007", 303*measure.MilliAU, 131*measure.MilliAU))

	var stall *wire.StallState
	var result *wire.Result
	last := snap.Seq
	for stall == nil || result == nil {
		d, ok := readMsg(t, c).(*wire.Delta)
		if !ok {
			t.Fatal("expected a delta")
		}
		if d.Seq != last+1 {
			t.Fatalf("delta seq %d after %d", d.Seq, last)
		}
		last = d.Seq
		switch d.Kind {
		case wire.KindStall:
			stall = new(wire.StallState)
			json.Unmarshal(d.Data, stall)
		case wire.KindResult:
			result = new(wire.Result)
			json.Unmarshal(d.Data, result)
		}
	}
	if stall.StallID != "S-007" || stall.Verdict != assay.Positive || stall.Value != 56.77 {
		t.Fatalf("stall delta %+v", stall)
	}
	if result.Raw.ControlDeltaA == nil || *result.Raw.ControlDeltaA != 303*measure.MilliAU {
		t.Fatalf("result delta %+v", result)
	}
	// Reconnect and resubscribe from an earlier seq: the missed deltas come again.
	c2, _, err := dialLive(t, e, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, ok := readMsg(t, c2).(*wire.Snapshot); !ok {
		t.Fatal("no snapshot on reconnect")
	}
	b, _ := wire.Encode(&wire.Subscribe{Since: snap.Seq + 1, Stream: snap.Stream})
	c2.WriteMessage(websocket.TextMessage, b)
	// Live deltas published meanwhile may come first; the replay follows.
	for i := 0; ; i++ {
		d, ok := readMsg(t, c2).(*wire.Delta)
		if ok && d.Seq == snap.Seq+2 {
			break
		}
		if i > 20 {
			t.Fatal("no replay of the missed deltas")
		}
	}
	// A subscribe from another stream (a restarted server) gets a snapshot.
	b, _ = wire.Encode(&wire.Subscribe{Since: snap.Seq + 1, Stream: "other"})
	c2.WriteMessage(websocket.TextMessage, b)
	for {
		m := readMsg(t, c2)
		if _, ok := m.(*wire.Snapshot); ok {
			break
		}
	}
	// Resuming at connect time: the missed deltas come instead of a snapshot.
	h := http.Header{}
	h.Set("Authorization", "Bearer "+e.token)
	c3, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws%s/ws/live?since=%d&stream=%s",
		strings.TrimPrefix(e.srv.URL, "http"), snap.Seq+1, snap.Stream), h)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if d, ok := readMsg(t, c3).(*wire.Delta); !ok || d.Seq != snap.Seq+2 || d.Stream != snap.Stream {
		t.Fatalf("resume at connect: %v", d)
	}
	// An oversized browser message closes with 1009.
	c2.WriteMessage(websocket.TextMessage, make([]byte, wire.MaxBrowserMessage+1))
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c2.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("oversized: %v", err)
			}
			break
		}
	}
}
