package live

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/protocols/wire"
)

// scopedHub is a hub whose deltas belong to the event their result or
// stall names (EV-A or EV-B; a kiosk delta is for unscoped users only),
// whose browsers are scoped by the test's X-Scope header, and whose
// snapshot lists the results published so far that the scope may see.
func scopedHub(t *testing.T) (*Hub, func(kind string, event string, i int) uint64) {
	t.Helper()
	var mu sync.Mutex
	var published []wire.Result
	h := NewHub(func(seq uint64, scope []string) wire.Snapshot {
		mu.Lock()
		defer mu.Unlock()
		snap := wire.Snapshot{Results: []wire.Result{}}
		for _, r := range published {
			if (Audience{Event: r.EventID}).Sees(scope) {
				snap.Results = append(snap.Results, r)
			}
		}
		return snap
	}, Options{Log: quiet,
		Audience: func(kind string, data any) Audience {
			switch d := data.(type) {
			case wire.Result:
				return Audience{Event: d.EventID}
			case wire.StallState:
				return Audience{Event: strings.Split(d.StallID, "/")[0]}
			case wire.KioskState:
				return Audience{}
			}
			return Audience{Everyone: true}
		},
		ScopeOf: func(r *http.Request) []string {
			if s := r.Header.Get("X-Scope"); s != "" {
				return strings.Split(s, ",")
			}
			return nil
		}})
	t.Cleanup(h.Close)
	pub := func(kind, event string, i int) uint64 {
		switch kind {
		case wire.KindResult:
			r := result(i)
			r.EventID, r.StallID = event, event+"/S"
			mu.Lock()
			published = append(published, r)
			mu.Unlock()
			return h.Publish(kind, r)
		case wire.KindStall:
			return h.Publish(kind, wire.StallState{StallID: event + "/S", ResultID: result(i).ResultID})
		case wire.KindKiosk:
			return h.Publish(kind, wire.KioskState{KioskID: "K-" + event})
		}
		return h.Publish(kind, map[string]int{"n": i})
	}
	return h, pub
}

func dialScoped(t *testing.T, url, scope string) *browser {
	t.Helper()
	hdr := http.Header{}
	if scope != "" {
		hdr.Set("X-Scope", scope)
	}
	return dialWith(t, url, hdr)
}

// foreign names what in a delta is not of event ev ("" when all is).
func foreign(d *wire.Delta, ev string) string {
	var x struct {
		Event string `json:"event_id"`
		Stall string `json:"stall_id"`
		Kiosk string `json:"kiosk_id"`
	}
	json.Unmarshal(d.Data, &x)
	switch {
	case d.Kind == wire.KindKiosk:
		return "kiosk " + x.Kiosk
	case d.Kind == wire.KindResult && x.Event != ev:
		return "result of " + x.Event
	case d.Kind == wire.KindStall && !strings.HasPrefix(x.Stall, ev+"/"):
		return "stall " + x.Stall
	}
	return ""
}

// TestScopedViewSeesOnlyItsEvent: a browser scoped to EV-B gets a
// snapshot, deltas and a resync holding only EV-B's deltas (and those for
// everyone), numbered in a stream of its own without gaps, while an
// unscoped browser gets every delta under the numbers Publish returned.
func TestScopedViewSeesOnlyItsEvent(t *testing.T) {
	h, pub := scopedHub(t)
	url := serve(t, h)
	pub(wire.KindResult, "EV-A", 1)
	pub(wire.KindResult, "EV-B", 2)
	pub(wire.KindResult, "EV-A", 3)

	sb := dialScoped(t, url, "EV-B")
	all := dialScoped(t, url, "")
	snapB, snapAll := sb.snapshot(t), all.snapshot(t)
	if snapB.Stream == "" || snapB.Stream == h.Stream() || snapAll.Stream != h.Stream() {
		t.Fatalf("streams: scoped %q, unscoped %q, hub %q", snapB.Stream, snapAll.Stream, h.Stream())
	}
	if len(snapB.Results) != 1 || snapB.Results[0].EventID != "EV-B" || len(snapAll.Results) != 3 {
		t.Fatalf("snapshots: scoped %+v, unscoped %d results", snapB.Results, len(snapAll.Results))
	}

	// Interleaved deltas of both events, kiosks (unscoped only) and one
	// for everyone.
	var last uint64
	wantB := 0
	for i := 10; i < 70; i++ {
		ev := "EV-A"
		if i%3 == 0 {
			ev = "EV-B"
		}
		kind := wire.KindResult
		switch i % 4 {
		case 1:
			kind = wire.KindStall
		case 2:
			if i%8 == 2 {
				kind = wire.KindKiosk
			}
		}
		if kind != wire.KindKiosk && ev == "EV-B" {
			wantB++
		}
		last = pub(kind, ev, i)
	}
	pub(wire.KindRules, "", 99) // for everyone
	wantB++
	last++

	ds := all.deltasUpTo(t, snapAll.Seq, last)
	if len(ds) == 0 {
		t.Fatal("the unscoped browser got nothing")
	}
	// The scoped browser: its own numbering from its snapshot's, only
	// EV-B (queued stall states may have coalesced: at most wantB).
	var got []*wire.Delta
	seq := snapB.Seq
	for {
		d, ok := sb.next(t).(*wire.Delta)
		if !ok {
			t.Fatal("expected a delta")
		}
		if d.Stream != snapB.Stream || d.Seq != seq+1 {
			t.Fatalf("scoped delta %s/%d after %d", d.Stream, d.Seq, seq)
		}
		seq = d.Seq
		if f := foreign(d, "EV-B"); f != "" {
			t.Fatalf("the EV-B browser got a %s: %s", f, d.Data)
		}
		got = append(got, d)
		if d.Kind == wire.KindRules {
			break
		}
	}
	if len(got) > wantB || len(got) < 10 {
		t.Fatalf("the EV-B browser got %d deltas, want at most %d (and more than 10)", len(got), wantB)
	}

	// Resync from the middle of its own stream: the same deltas again,
	// still only EV-B's; from the unscoped stream's name: a snapshot.
	mid := got[len(got)/2].Seq
	if err := sb.c.WriteMessage(websocket.TextMessage, mustEncode(t, &wire.Subscribe{Since: mid, Stream: snapB.Stream})); err != nil {
		t.Fatal(err)
	}
	again := sb.deltasUpTo(t, mid, seq)
	for i, d := range again {
		if f := foreign(d, "EV-B"); f != "" || string(d.Data) != string(got[len(got)/2+1+i].Data) {
			t.Fatalf("resync delta %d: %s %s", d.Seq, f, d.Data)
		}
	}
	if err := sb.c.WriteMessage(websocket.TextMessage, mustEncode(t, &wire.Subscribe{Since: mid, Stream: h.Stream()})); err != nil {
		t.Fatal(err)
	}
	if s := sb.snapshot(t); s.Stream != snapB.Stream || s.Seq != seq {
		t.Fatalf("resync from another stream: snapshot %s/%d, want %s/%d", s.Stream, s.Seq, snapB.Stream, seq)
	}

	// A reconnect naming its stream and last delta resumes from the ring.
	pub(wire.KindResult, "EV-A", 200)
	pub(wire.KindResult, "EV-B", 201)
	hdr := http.Header{"X-Scope": {"EV-B"}}
	c, _, err := websocket.DefaultDialer.Dial(url+"?stream="+snapB.Stream+"&since="+itoa(seq), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := wire.Decode(data, 0)
	d, ok := m.(*wire.Delta)
	if !ok || d.Seq != seq+1 || foreign(d, "EV-B") != "" {
		t.Fatalf("resumed with %T %s", m, data)
	}

	// A second browser of the same scope (events in another order) shares
	// the view.
	other := dialScoped(t, url, "EV-B,EV-B")
	s := other.snapshot(t)
	if s.Stream != snapB.Stream || s.Seq != seq+1 || len(s.Results) == 0 {
		t.Fatalf("same scope: snapshot %s/%d with %d results", s.Stream, s.Seq, len(s.Results))
	}
	for _, r := range s.Results {
		if r.EventID != "EV-B" {
			t.Fatalf("the EV-B snapshot holds %s of %s", r.ResultID, r.EventID)
		}
	}
}

// TestScopedViewsHoleOnLoss: deltas lost to a full queue leave a hole in a
// scoped view's numbering too, so its browser finds the gap and resyncs
// from a snapshot instead of silently missing them.
func TestScopedViewsHoleOnLoss(t *testing.T) {
	h := NewHub(func(seq uint64, _ []string) wire.Snapshot { return wire.Snapshot{} }, Options{Log: quiet,
		Audience: func(string, any) Audience { return Audience{Event: "EV-B"} },
		ScopeOf:  func(*http.Request) []string { return []string{"EV-B"} }})
	t.Cleanup(h.Close)
	b := dial(t, serve(t, h))
	snap := b.snapshot(t)
	h.Publish(wire.KindResult, result(1))
	if d := b.next(t).(*wire.Delta); d.Seq != snap.Seq+1 {
		t.Fatalf("first delta %d after %d", d.Seq, snap.Seq)
	}
	// What shed does to a full queue: numbers given out, deltas dropped.
	h.mu.Lock()
	h.last += 5
	h.lost.Add(5)
	h.mu.Unlock()
	h.Publish(wire.KindResult, result(2))
	d := b.next(t).(*wire.Delta)
	if d.Seq == snap.Seq+2 {
		t.Fatal("5 deltas lost, yet the scoped stream has no hole")
	}
	// The browser asks from its last; the ring cannot fill the hole.
	if err := b.c.WriteMessage(websocket.TextMessage, mustEncode(t, &wire.Subscribe{Since: snap.Seq + 1, Stream: snap.Stream})); err != nil {
		t.Fatal(err)
	}
	if s := b.snapshot(t); s.Seq != d.Seq || s.Stream != snap.Stream {
		t.Fatalf("resync: snapshot %s/%d, want %s/%d", s.Stream, s.Seq, snap.Stream, d.Seq)
	}
}

func mustEncode(t *testing.T, m wire.Message) []byte {
	t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
