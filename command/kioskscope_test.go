package command_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// twoEvents registers the sites of two events: S-A1, S-A2 of EV-A and
// S-B1 of EV-B, and S-R1 of no event (a rural banquet site).
func twoEvents(t *testing.T, e *env) {
	t.Helper()
	for _, s := range []store.Site{
		{ID: "S-A1", Kind: "stall", Name: "甲1", ZoneID: "Z-A", EventID: "EV-A", Loc: []float64{120.95, 31.98}},
		{ID: "S-A2", Kind: "stall", Name: "甲2", ZoneID: "Z-A", EventID: "EV-A", Loc: []float64{120.951, 31.981}},
		{ID: "S-B1", Kind: "stall", Name: "乙1", ZoneID: "Z-B", EventID: "EV-B", Loc: []float64{121.5, 31.2}},
		{ID: "S-R1", Kind: "banquet", Name: "村宴", Loc: []float64{120.7, 32.0}},
	} {
		if err := e.svc.Store().Put("site", s.ID, s); err != nil {
			t.Fatal(err)
		}
	}
}

// registerKiosk registers a kiosk through the API and returns its token.
func (e *env) registerKiosk(t *testing.T, body map[string]any) string {
	t.Helper()
	var out map[string]string
	if code := e.do(t, "POST", "/api/v1/kiosks", body, &out); code != http.StatusCreated {
		t.Fatalf("register %v: %d", body, code)
	}
	return out["token"]
}

// kioskLink is a kiosk's websocket spoken by hand.
type kioskLink struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialKiosk(t *testing.T, e *env, id, token string) (*kioskLink, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/kiosk", h)
	if err != nil {
		return nil, resp, err
	}
	l := &kioskLink{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	l.send(&wire.Hello{KioskID: id, SentAt: time.Now()})
	if _, ok := l.read().(*wire.Welcome); !ok {
		t.Fatal("no welcome")
	}
	return l, resp, nil
}

func (l *kioskLink) send(m wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		l.t.Fatal(err)
	}
	return l.ws.WriteMessage(websocket.TextMessage, b)
}

func (l *kioskLink) read() wire.Message {
	l.t.Helper()
	m, err := l.next(10 * time.Second)
	if err != nil {
		l.t.Fatal(err)
	}
	return m
}

// next reads the next message that is not a status echo, or the error
// that ended the link.
func (l *kioskLink) next(within time.Duration) (wire.Message, error) {
	l.ws.SetReadDeadline(time.Now().Add(within))
	_, b, err := l.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return wire.Decode(b, 0)
}

func result(kiosk string, seq uint64, stall, event string) wire.Result {
	r := enzymeResult(stall, 300*measure.MilliAU, 290*measure.MilliAU)
	r.ResultID, r.KioskID, r.Seq, r.EventID, r.MeasuredAt = uuid.Must(uuid.NewV7()).String(), kiosk, seq, event, time.Now()
	return r
}

func alarmsOf(t *testing.T, e *env, code string) []store.Alarm {
	t.Helper()
	all, err := e.svc.Store().Alarms(1000, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Alarm
	for _, a := range all {
		if a.Code == code {
			out = append(out, a)
		}
	}
	return out
}

// TestKioskBoundToItsEvent (issue 11, finding 2): a kiosk registered to
// event EV-A reports through a real outbox and uplink: its result for an
// EV-A stall is stored; those for EV-B's stall, for a stall the command
// does not know, for a site of no event and for its own stall naming
// another event are refused with out_of_scope, raise one alarm each, are
// kept on the kiosk as rejected with the reason, and are not resent after
// the link comes up again. Nothing refused is in the history.
func TestKioskBoundToItsEvent(t *testing.T) {
	e := start(t)
	twoEvents(t, e)
	tok := e.registerKiosk(t, map[string]any{"id": "K-A", "name": "甲终端", "event_id": "EV-A"})
	ob, err := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-A", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	save := func(stall, event string) wire.Result {
		r := enzymeResult(stall, 300*measure.MilliAU, 290*measure.MilliAU)
		r.EventID = event
		saved, err := ob.Save(r)
		if err != nil {
			t.Fatal(err)
		}
		return saved
	}
	ok := save("S-A1", "EV-A")
	okNoEvent := save("S-A2", "")
	refused := []wire.Result{save("S-B1", "EV-B"), save("S-B1", "EV-A"), save("S-X9", ""), save("S-R1", ""), save("S-A1", "EV-B")}

	run := func() (stop func()) {
		up, err := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk",
			KioskID: "K-A", Token: tok, Source: ob, Log: quiet, BackoffMin: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { up.Run(ctx); close(done) }()
		waitUntil(t, "the link", func() bool { return up.State().Online })
		return func() { cancel(); <-done }
	}
	stop := run()
	waitUntil(t, "every result settled", func() bool { st := ob.Stats(); return st.Pending == 0 && st.Rejected == len(refused) })
	stop()

	for _, r := range []wire.Result{ok, okNoEvent} {
		if _, err := e.svc.History().Result(r.ResultID); err != nil {
			t.Errorf("in-scope result for %s not stored: %v", r.StallID, err)
		}
	}
	for _, r := range refused {
		if _, err := e.svc.History().Result(r.ResultID); err == nil {
			t.Errorf("out-of-scope result for %s (event %q) was stored", r.StallID, r.EventID)
		}
		rec, found := ob.Get(r.ResultID)
		if !found || rec.State != outbox.StateRejected || rec.Reject == nil || rec.Reject.Code != wire.RejectOutOfScope ||
			!strings.Contains(rec.Reject.Message, r.StallID) && !strings.Contains(rec.Reject.Message, r.EventID) {
			t.Errorf("kiosk record of %s: %+v", r.StallID, rec)
		}
	}
	if n := e.svc.History().Count(); n != 2 {
		t.Errorf("history holds %d results, want 2", n)
	}
	alarms := alarmsOf(t, e, "result_out_of_scope")
	if len(alarms) != len(refused) {
		t.Fatalf("%d out-of-scope alarms, want %d: %+v", len(alarms), len(refused), alarms)
	}
	for _, a := range alarms {
		if a.KioskID != "K-A" || a.EventID != "EV-A" || a.ResultID == "" {
			t.Errorf("alarm %+v", a)
		}
	}

	// The link comes up again: nothing refused is resent, nothing new is
	// stored or alarmed.
	stop = run()
	time.Sleep(300 * time.Millisecond)
	stop()
	if st := ob.Stats(); st.Pending != 0 || st.Rejected != len(refused) {
		t.Errorf("after a reconnect the kiosk holds %+v", st)
	}
	if n, a := e.svc.History().Count(), len(alarmsOf(t, e, "result_out_of_scope")); n != 2 || a != len(refused) {
		t.Errorf("after a reconnect: %d stored, %d alarms", n, a)
	}
}

// TestKioskScopeOnTheWire: a message mixing an in-scope and an
// out-of-scope result gets the reject before the ack that covers the
// message; a message of refused results only is acked too (the ack order
// stays the message order); a reject lost on the way (the kiosk resends
// the same result) is refused again with one alarm in all. A kiosk
// registered to a list of sites may report only for those, and one
// registered to no event not for an event's sites.
func TestKioskScopeOnTheWire(t *testing.T) {
	e := start(t)
	twoEvents(t, e)
	tok := e.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"})
	l, _, err := dialKiosk(t, e, "K-A", tok)
	if err != nil {
		t.Fatal(err)
	}
	in, out := result("K-A", 1, "S-A1", ""), result("K-A", 2, "S-B1", "EV-B")
	l.send(&wire.Results{Results: []wire.Result{in, out}})
	if rj, ok := l.read().(*wire.Reject); !ok || rj.ResultID != out.ResultID || rj.Seq != 2 || rj.Code != wire.RejectOutOfScope {
		t.Fatalf("want the reject of seq 2 first, got %+v", rj)
	}
	if ack, ok := l.read().(*wire.Ack); !ok || ack.UpToSeq != 2 {
		t.Fatalf("want ack 2, got %+v", ack)
	}
	for i := 0; i < 2; i++ { // the same refused result twice: a lost reject
		l.send(&wire.Results{Results: []wire.Result{out}})
		if rj, ok := l.read().(*wire.Reject); !ok || rj.ResultID != out.ResultID {
			t.Fatalf("resend %d: want a reject, got %+v", i, rj)
		}
		if ack, ok := l.read().(*wire.Ack); !ok || ack.UpToSeq != 2 {
			t.Fatalf("resend %d: want ack 2, got %+v", i, ack)
		}
	}
	if a := alarmsOf(t, e, "result_out_of_scope"); len(a) != 1 || a[0].ResultID != out.ResultID {
		t.Errorf("alarms %+v", a)
	}
	if n := e.svc.History().Count(); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}

	// A list of sites, and no event at all.
	cases := []struct {
		reg      map[string]any
		ok, deny []string
	}{
		{map[string]any{"id": "K-L", "sites": []string{"S-A2", "S-R1"}}, []string{"S-A2", "S-R1"}, []string{"S-A1", "S-B1", "S-X9"}},
		{map[string]any{"id": "K-N"}, []string{"S-R1", "S-X9"}, []string{"S-A1", "S-B1"}},
	}
	for _, c := range cases {
		id := c.reg["id"].(string)
		l, _, err := dialKiosk(t, e, id, e.registerKiosk(t, c.reg))
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(0)
		for _, stall := range append(append([]string{}, c.ok...), c.deny...) {
			seq++
			l.send(&wire.Results{Results: []wire.Result{result(id, seq, stall, "")}})
			m := l.read()
			_, refused := m.(*wire.Reject)
			if want := !contains(c.ok, stall); refused != want {
				t.Errorf("kiosk %s, site %s: refused %v, want %v", id, stall, refused, want)
			}
			if refused {
				m = l.read()
			}
			if ack, ok := m.(*wire.Ack); !ok || ack.UpToSeq != seq {
				t.Errorf("kiosk %s, site %s: want ack %d, got %+v", id, stall, seq, m)
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// expectRevoked reads until the link ends and checks that it ended with
// a 1008 close and that no ack came first.
func expectRevoked(t *testing.T, l *kioskLink, what string) {
	t.Helper()
	for {
		m, err := l.next(5 * time.Second)
		if err != nil {
			if !websocket.IsCloseError(err, wire.ClosePolicy) {
				t.Fatalf("%s: the old link ended with %v, want close 1008", what, err)
			}
			return
		}
		switch m := m.(type) {
		case *wire.Ack:
			t.Fatalf("%s: the old link was acked %+v", what, m)
		case *wire.Error:
			if m.Code != "revoked" {
				t.Errorf("%s: error %+v", what, m)
			}
		}
	}
}

// TestKioskRevocationClosesTheLink (issue 11, finding 2): re-registering
// a kiosk (through the API and straight through the store), disabling it
// and deleting it each close the link open on its old token at once with
// 1008; a result sent on it afterwards is neither acked nor stored; the
// old token's handshake is then refused (401, or 403 for a disabled
// kiosk), and an enabled kiosk connects again.
func TestKioskRevocationClosesTheLink(t *testing.T) {
	e := start(t)
	twoEvents(t, e)
	tok := e.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"})
	seq := uint64(0)
	open := func(tok string) *kioskLink {
		t.Helper()
		l, _, err := dialKiosk(t, e, "K-A", tok)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		l.send(&wire.Results{Results: []wire.Result{result("K-A", seq, "S-A1", "EV-A")}})
		if ack, ok := l.read().(*wire.Ack); !ok || ack.UpToSeq != seq {
			t.Fatalf("want ack %d, got %+v", seq, ack)
		}
		return l
	}
	handshake := func(tok string) int {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws/kiosk", h)
		if err == nil {
			c.Close()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	// afterwards sends a result on the revoked link; it must not be stored.
	afterwards := func(l *kioskLink) {
		seq++
		r := result("K-A", seq, "S-A1", "EV-A")
		l.send(&wire.Results{Results: []wire.Result{r}}) // may fail: the link is closing
		time.Sleep(200 * time.Millisecond)
		if _, err := e.svc.History().Result(r.ResultID); err == nil {
			t.Errorf("a result sent on a revoked link was stored")
		}
	}
	steps := []struct {
		what    string
		change  func() string // returns the token that works afterwards ("" none)
		oldCode int
	}{
		{"re-registered through the API", func() string {
			return e.registerKiosk(t, map[string]any{"id": "K-A", "event_id": "EV-A"})
		}, http.StatusUnauthorized},
		{"re-registered in the store", func() string {
			tok, err := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-A", EventID: "EV-A"})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, http.StatusUnauthorized},
		{"disabled", func() string {
			if code := e.do(t, "POST", "/api/v1/kiosks/K-A/disable", nil, nil); code != 200 {
				t.Fatalf("disable: %d", code)
			}
			return ""
		}, http.StatusForbidden},
		{"deleted", func() string {
			if code := e.do(t, "DELETE", "/api/v1/kiosks/K-A", nil, nil); code != 200 {
				t.Fatalf("delete: %d", code)
			}
			return ""
		}, http.StatusUnauthorized},
	}
	for _, st := range steps {
		l := open(tok)
		next := st.change()
		expectRevoked(t, l, st.what)
		afterwards(l)
		if code := handshake(tok); code != st.oldCode {
			t.Errorf("%s: the old token's handshake: %d, want %d", st.what, code, st.oldCode)
		}
		switch {
		case next != "":
			tok = next
		case st.what == "disabled":
			if code := e.do(t, "POST", "/api/v1/kiosks/K-A/enable", nil, nil); code != 200 {
				t.Fatalf("enable: %d", code)
			}
			if code := handshake(tok); code != http.StatusSwitchingProtocols {
				t.Fatalf("enabled kiosk's handshake: %d", code)
			}
		}
	}
	var ks []map[string]any
	if e.get(t, "/api/v1/kiosks", e.token, &ks); len(ks) != 0 {
		t.Errorf("a deleted kiosk is still listed: %v", ks)
	}
	if code := e.do(t, "DELETE", "/api/v1/kiosks/K-A", nil, nil); code != http.StatusNotFound {
		t.Errorf("deleting an unknown kiosk: %d", code)
	}
}
