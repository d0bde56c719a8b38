package command_test

// End-to-end reliability tests: real outboxes and uplinks, the real
// command service, and internal/faultproxy between them (docs/reliability.md
// tests 14, 16, 18 and 12). CI-sized by default; SHIAN_RELIABILITY=full
// runs the full sizes.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/faultproxy"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
	"go.uber.org/goleak"
)

func full() bool { return os.Getenv("SHIAN_RELIABILITY") == "full" }

// rig is a command service behind a fault proxy, with kiosks.
type rig struct {
	t      *testing.T
	svc    *command.Service
	srv    *httptest.Server
	proxy  *faultproxy.Proxy
	cancel context.CancelFunc
	ran    chan struct{}
	token  string
	live   *liveWatch
	kiosks []*kioskRig
}

type kioskRig struct {
	id, token, dir string
	now            func() time.Time
	ob             *outbox.Outbox
	cancel         context.CancelFunc
	done           chan struct{}
	up             *uplink.Uplink
	mu             sync.Mutex
	saved          []wire.Result
}

func newRig(t *testing.T) *rig {
	t.Helper()
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { svc.Run(ctx); close(ran) }()
	srv := httptest.NewServer(svc.Handler())
	if err := svc.Auth().CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, _ := svc.Auth().NewAPIToken("admin", "test")
	p, err := faultproxy.New(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p.Seed(42)
	return &rig{t: t, svc: svc, srv: srv, proxy: p, cancel: cancel, ran: ran, token: tok}
}

// close stops the kiosks, the proxy and the service, in that order.
func (r *rig) close() {
	for _, k := range r.kiosks {
		k.stop()
		k.ob.Close()
	}
	if r.live != nil {
		r.live.close()
	}
	r.proxy.Close()
	r.srv.CloseClientConnections()
	r.srv.Close()
	r.cancel()
	<-r.ran
	r.svc.Close()
}

// addKiosk registers a kiosk and opens its outbox (the uplink starts with
// startLink).
func (r *rig) addKiosk(id string, now func() time.Time) *kioskRig {
	r.t.Helper()
	tok, err := r.svc.Store().RegisterKiosk(store.Kiosk{ID: id})
	if err != nil {
		r.t.Fatal(err)
	}
	if now == nil {
		now = time.Now
	}
	k := &kioskRig{id: id, token: tok, dir: r.t.TempDir(), now: now}
	k.open(r.t)
	r.kiosks = append(r.kiosks, k)
	return k
}

func (k *kioskRig) open(t *testing.T) {
	t.Helper()
	ob, err := outbox.Open(k.dir, outbox.Options{KioskID: k.id, Now: k.now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	k.ob = ob
}

// startLink starts the kiosk's uplink through the proxy, with short
// timings so that faults are noticed quickly.
func (r *rig) startLink(k *kioskRig, maxInFlight int) {
	u, err := uplink.New(uplink.Config{URL: "ws://" + r.proxy.Addr() + "/ws/kiosk", KioskID: k.id, Token: k.token,
		Source: k.ob, Log: quiet, Now: k.now, PongWait: time.Second, WriteWait: time.Second, HandshakeLimit: 2 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 400 * time.Millisecond, MaxInFlight: maxInFlight})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.up, k.cancel, k.done = u, cancel, make(chan struct{})
	go func() { u.Run(ctx); close(k.done) }()
}

func (k *kioskRig) stop() {
	if k.cancel != nil {
		k.cancel()
		<-k.done
		k.cancel = nil
	}
}

func (k *kioskRig) save(t *testing.T, stall string, c, s measure.Absorbance) wire.Result {
	t.Helper()
	res := enzymeResult(stall, c, s)
	res.MeasuredAt = k.now()
	saved, err := k.ob.Save(res)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.saved = append(k.saved, saved)
	k.mu.Unlock()
	return saved
}

// waitDrained waits until every kiosk's outbox is empty and the store
// holds want results.
func (r *rig) waitDrained(want int, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		pending := 0
		for _, k := range r.kiosks {
			pending += k.ob.Stats().Pending
		}
		if pending == 0 && r.svc.History().Count() >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range r.kiosks {
		r.t.Logf("%s: %+v, link %+v", k.id, k.ob.Stats(), k.up.State())
	}
	r.t.Fatalf("not drained within %v: store holds %d of %d", within, r.svc.History().Count(), want)
}

// checkExactlyOnce: every saved result is stored, with its content, and
// nothing else is.
func (r *rig) checkExactlyOnce() int {
	r.t.Helper()
	total := 0
	for _, k := range r.kiosks {
		for _, s := range k.saved {
			got, err := r.svc.History().Result(s.ResultID)
			if err != nil {
				r.t.Fatalf("%s seq %d (%s) lost: %v", k.id, s.Seq, s.ResultID, err)
			}
			if got.Fingerprint() != s.Fingerprint() {
				r.t.Fatalf("%s seq %d stored with other content", k.id, s.Seq)
			}
			total++
		}
	}
	if n := r.svc.History().Count(); n != total {
		r.t.Fatalf("store holds %d results, kiosks saved %d", n, total)
	}
	return total
}

// liveWatch is a browser on /ws/live, counting the deltas per result.
type liveWatch struct {
	mu      sync.Mutex
	results map[string]int // result_id → result deltas
	stalls  []wire.StallState
	gap     bool // a resync came as a snapshot: deltas were missed
	conn    *websocket.Conn
	done    chan struct{}
	stop    chan struct{}
}

func (r *rig) watchLive() *liveWatch {
	r.t.Helper()
	w := &liveWatch{results: map[string]int{}, done: make(chan struct{}), stop: make(chan struct{})}
	go w.run(r)
	r.live = w
	return w
}

func (w *liveWatch) run(r *rig) {
	defer close(w.done)
	var last uint64
	var stream string
	for {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+r.token)
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.srv.URL, "http")+"/ws/live", h)
		if err != nil {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		w.mu.Lock()
		w.conn = c
		w.mu.Unlock()
		if last > 0 {
			b, _ := wire.Encode(&wire.Subscribe{Since: last, Stream: stream})
			c.WriteMessage(websocket.TextMessage, b)
		}
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				break
			}
			m, err := wire.Decode(b, 0)
			if err != nil {
				continue
			}
			switch m := m.(type) {
			case *wire.Snapshot:
				if last > 0 && m.Seq > last && m.Stream == stream {
					w.mu.Lock()
					w.gap = true
					w.mu.Unlock()
				}
				if last == 0 || m.Stream != stream {
					last, stream = m.Seq, m.Stream
				}
			case *wire.Delta:
				if m.Seq <= last {
					continue
				}
				last = m.Seq
				w.mu.Lock()
				switch m.Kind {
				case wire.KindResult:
					var res wire.Result
					json.Unmarshal(m.Data, &res)
					w.results[res.ResultID]++
				case wire.KindStall:
					var st wire.StallState
					json.Unmarshal(m.Data, &st)
					w.stalls = append(w.stalls, st)
				}
				w.mu.Unlock()
			}
		}
		c.Close()
		select {
		case <-w.stop:
			return
		default:
		}
	}
}

func (w *liveWatch) close() {
	close(w.stop)
	w.mu.Lock()
	if w.conn != nil {
		w.conn.Close()
	}
	w.mu.Unlock()
	<-w.done
}

// checkOnce: the map got each stored result at most once.
func (w *liveWatch) checkOnce(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		n := len(w.results)
		w.mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, n := range w.results {
		if n != 1 {
			t.Fatalf("the map got result %s %d times", id, n)
		}
	}
	if !w.gap && len(w.results) != want {
		t.Fatalf("the map got %d results, want %d", len(w.results), want)
	}
}

// nemesis applies faults until stop is closed, then heals: every fault
// of the menu in turn, in a random order each round, held for a random
// time, sometimes with a healthy pause between.
func nemesis(p *faultproxy.Proxy, seed uint64, stop <-chan struct{}, log func(string)) {
	rnd := rand.New(rand.NewPCG(seed, 99))
	menu := []func() faultproxy.Faults{
		func() faultproxy.Faults {
			return faultproxy.Faults{Latency: 30 * time.Millisecond, Jitter: 20 * time.Millisecond}
		},
		func() faultproxy.Faults { return faultproxy.Faults{Bandwidth: 20 << 10} },
		func() faultproxy.Faults { return faultproxy.Faults{Fragment: 1, FragmentPause: 50 * time.Microsecond} },
		func() faultproxy.Faults { return faultproxy.Faults{LimitBytes: int64(200 + rnd.IntN(4000))} },
		func() faultproxy.Faults { return faultproxy.Faults{Refuse: true} },
		func() faultproxy.Faults { return faultproxy.Faults{Blackhole: true} },
		func() faultproxy.Faults { return faultproxy.Faults{DropAcks: 0.5} },
		func() faultproxy.Faults { return faultproxy.Faults{DropAcks: 0.5, Fragment: 7} },
		func() faultproxy.Faults { p.Reset(); return faultproxy.Faults{} },
		func() faultproxy.Faults { p.Cut(); return faultproxy.Faults{} },
	}
	for {
		for _, i := range rnd.Perm(len(menu)) {
			f := menu[i]()
			p.Set(f)
			if log != nil {
				log(f.String())
			}
			select {
			case <-stop:
				p.Heal()
				return
			case <-time.After(time.Duration(100+rnd.IntN(400)) * time.Millisecond):
			}
			if rnd.IntN(3) == 0 {
				p.Heal()
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(rnd.IntN(200)) * time.Millisecond):
				}
			}
		}
	}
}

// TestChaosThroughFaultProxy is docs/reliability.md test 14 (CI-sized): kiosks
// measure while the link suffers latency, 1-byte fragments, mid-frame
// cuts, resets, partitions, black holes and lost acks. After healing every
// result is stored exactly once, the map got each once, every outbox
// drains, and no goroutine is left behind.
func TestChaosThroughFaultProxy(t *testing.T) {
	// buntdb's background goroutine notices Close at its next 1 s tick.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/tidwall/buntdb.(*DB).backgroundManager"))
	// About 6 s of faults in CI (4 × 60 results, one every ~80 ms); the
	// full size is 20 × 500 results over about 50 s.
	kiosks, per, pace := 4, 60, 80
	if full() {
		kiosks, per, pace = 20, 500, 100
	}
	r := newRig(t)
	defer r.close()
	r.watchLive()
	for i := 0; i < kiosks; i++ {
		k := r.addKiosk(fmt.Sprintf("K-%02d", i+1), nil)
		r.startLink(k, 16)
	}
	stop := make(chan struct{})
	nemDone := make(chan struct{})
	go func() { nemesis(r.proxy, 7, stop, nil); close(nemDone) }()
	var wg sync.WaitGroup
	for i, k := range r.kiosks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 1))
			for j := 0; j < per; j++ {
				k.save(t, fmt.Sprintf("S-%03d", rnd.IntN(40)), 300*measure.MilliAU, measure.Absorbance(rnd.IntN(300))*measure.MilliAU)
				time.Sleep(time.Duration(rnd.IntN(2*pace)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	time.Sleep(time.Second) // faults go on after the last test
	close(stop)
	<-nemDone
	healed := time.Now()
	r.waitDrained(kiosks*per, 60*time.Second)
	t.Logf("%d kiosks × %d results stored once, %v after the network healed; proxy %+v",
		kiosks, per, time.Since(healed).Round(time.Millisecond), r.proxy.Stats())
	n := r.checkExactlyOnce()
	r.live.checkOnce(t, n)
	if st := r.proxy.Stats(); st.Cuts == 0 || st.AcksDrops == 0 {
		t.Fatalf("the faults did not happen: %+v", st)
	}
}

// TestLostAcksAndReplays is docs/reliability.md test 16: with half the acks
// dropped on the way back, the kiosk's whole outbox is sent three times
// over (restored each time as it was before the first send); the store
// counts each result once, the map shows each once, and the outbox drains
// every time.
func TestLostAcksAndReplays(t *testing.T) {
	r := newRig(t)
	defer r.close()
	r.watchLive()
	k := r.addKiosk("K-01", nil)
	for i := 0; i < 50; i++ {
		k.save(t, fmt.Sprintf("S-%03d", i%9), 300*measure.MilliAU, 100*measure.MilliAU)
	}
	k.ob.Close()
	unsent, err := os.ReadFile(filepath.Join(k.dir, "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	r.proxy.Set(faultproxy.Faults{DropAcks: 0.5})
	for round := 0; round < 3; round++ {
		os.WriteFile(filepath.Join(k.dir, "outbox.db"), unsent, 0o644)
		k.open(t)
		r.startLink(k, 8)
		// A dropped ack is covered by the next one; when the last one of
		// a link is dropped, only a new link (a resend) settles it.
		deadline := time.Now().Add(30 * time.Second)
		for k.ob.Stats().Pending > 0 && time.Now().Before(deadline) {
			time.Sleep(150 * time.Millisecond)
			if k.ob.Stats().Pending > 0 {
				r.proxy.Cut()
			}
		}
		if p := k.ob.Stats().Pending; p != 0 {
			t.Fatalf("round %d: %d still pending", round, p)
		}
		k.stop()
		k.ob.Close()
	}
	k.open(t)
	st := r.proxy.Stats()
	t.Logf("proxy %+v", st)
	if st.AcksDrops == 0 {
		t.Fatalf("no ack was dropped: %+v", st)
	}
	n := r.checkExactlyOnce()
	r.live.checkOnce(t, n)
}

// TestConflictingResendThroughProxy: an identical resend is acked and
// ignored; the same result_id with other content is refused, alarmed, kept
// aside on the kiosk and never resent — through fragmenting faults.
func TestConflictingResendThroughProxy(t *testing.T) {
	r := newRig(t)
	defer r.close()
	k := r.addKiosk("K-01", nil)
	first := k.save(t, "S-001", 300*measure.MilliAU, 100*measure.MilliAU)
	r.proxy.Set(faultproxy.Faults{Fragment: 3, Latency: time.Millisecond})
	r.startLink(k, 8)
	r.waitDrained(1, 20*time.Second)
	k.stop()
	// A second kiosk process (a bug, a restored image) sends the same id
	// with another value.
	other := enzymeResult("S-001", 300*measure.MilliAU, 250*measure.MilliAU)
	other.ResultID = first.ResultID
	k.ob.Close()
	k.dir = t.TempDir()
	k.open(t)
	if _, err := k.ob.Save(other); err != nil {
		t.Fatal(err)
	}
	r.startLink(k, 8)
	deadline := time.Now().Add(20 * time.Second)
	for k.ob.Stats().Rejected == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := k.ob.Stats(); st.Rejected != 1 || st.Pending != 0 {
		t.Fatalf("kiosk %+v", st)
	}
	if got, _ := r.svc.History().Result(first.ResultID); got.Fingerprint() != first.Fingerprint() || r.svc.History().Count() != 1 {
		t.Fatal("the conflicting resend replaced the stored result")
	}
	alarms, _ := r.svc.Store().Alarms(10, false)
	if len(alarms) == 0 || alarms[0].Code != "result_conflict" {
		t.Fatalf("alarms %+v", alarms)
	}
}

// TestSeqRegressionStoresNewResults is docs/reliability.md test 18: a kiosk
// restored from an old backup reuses sequence numbers with new result ids
// — measured offline, so its hello already claims numbers the command
// holds. Every new result is stored (flagged), none is dropped, and an
// alarm names the kiosk.
func TestSeqRegressionStoresNewResults(t *testing.T) {
	r := newRig(t)
	defer r.close()
	k := r.addKiosk("K-07", nil)
	for i := 0; i < 5; i++ {
		k.save(t, "S-001", 300*measure.MilliAU, 100*measure.MilliAU)
	}
	k.ob.Close()
	backup, err := os.ReadFile(filepath.Join(k.dir, "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	k.open(t)
	for i := 0; i < 10; i++ {
		k.save(t, "S-002", 300*measure.MilliAU, 100*measure.MilliAU)
	}
	r.startLink(k, 64)
	r.waitDrained(15, 20*time.Second)
	k.stop()
	// The SD card dies; the kiosk is restored from the backup taken at
	// seq 5 and measures three results before it gets a link.
	k.ob.Close()
	os.WriteFile(filepath.Join(k.dir, "outbox.db"), backup, 0o644)
	k.open(t)
	var fresh []wire.Result
	for i := 0; i < 3; i++ {
		fresh = append(fresh, k.save(t, "S-003", 300*measure.MilliAU, 200*measure.MilliAU))
	}
	if fresh[0].Seq != 6 {
		t.Fatalf("restored kiosk saved seq %d", fresh[0].Seq)
	}
	r.startLink(k, 64)
	r.waitDrained(18, 20*time.Second)
	for _, f := range fresh {
		got, err := r.svc.History().Result(f.ResultID)
		if err != nil {
			t.Fatalf("new result with reused seq %d dropped: %v", f.Seq, err)
		}
		flagged := false
		for _, fl := range got.Flags {
			flagged = flagged || fl == wire.FlagSeqRegression
		}
		if !flagged {
			t.Fatalf("seq %d not flagged: %v", f.Seq, got.Flags)
		}
	}
	alarms, _ := r.svc.Store().Alarms(20, false)
	n := 0
	for _, a := range alarms {
		if a.Code == "seq_regression" && a.KioskID == "K-07" && strings.Contains(a.Message, "seq regression for kiosk K-07") ||
			a.Code == "seq_regression" && strings.Contains(a.Message, "K-07") {
			n++
		}
	}
	if n == 0 || n > 2 {
		t.Fatalf("%d seq regression alarms: %+v", n, alarms)
	}
	r.checkExactlyOnce()
}

// TestLiveMapLeadsTheBacklog: a kiosk back from a day offline replays its
// backlog over a slow link; a result measured meanwhile reaches the map
// before the backlog is through, and the backlog's older results never
// take the stall back.
func TestLiveMapLeadsTheBacklog(t *testing.T) {
	r := newRig(t)
	defer r.close()
	live := r.watchLive()
	yesterday := time.Now().Add(-24 * time.Hour)
	clk := struct {
		sync.Mutex
		t time.Time
	}{t: yesterday}
	now := func() time.Time { clk.Lock(); defer clk.Unlock(); return clk.t }
	k := r.addKiosk("K-01", now)
	for i := 0; i < 300; i++ {
		clk.Lock()
		clk.t = clk.t.Add(time.Minute)
		clk.Unlock()
		k.save(t, "S-001", 300*measure.MilliAU, 290*measure.MilliAU) // negative
	}
	clk.Lock()
	clk.t = time.Now()
	clk.Unlock()
	r.proxy.Set(faultproxy.Faults{Latency: 20 * time.Millisecond})
	r.startLink(k, 16)
	for r.svc.History().Count() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	pos := k.save(t, "S-001", 303*measure.MilliAU, 131*measure.MilliAU) // positive, now
	var when int
	for {
		if st, ok := r.svc.History().StallState("S-001"); ok && st.ResultID == pos.ResultID {
			when = r.svc.History().Count()
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.proxy.Heal()
	r.waitDrained(301, 30*time.Second)
	t.Logf("the new positive reached the map after %d of 301 results", when)
	if when > 100 {
		t.Fatalf("the new result waited behind the backlog (%d of 301 stored first)", when)
	}
	if st, _ := r.svc.History().StallState("S-001"); st.ResultID != pos.ResultID {
		t.Fatalf("the backlog took the stall back: %+v", st)
	}
	live.checkOnce(t, 301)
	live.mu.Lock()
	defer live.mu.Unlock()
	if n := len(live.stalls); n == 0 || live.stalls[n-1].ResultID != pos.ResultID {
		t.Fatalf("last stall delta is not the new positive")
	}
}

// TestClockJumpsAreFlagged is docs/reliability.md test 12 at the command: a kiosk
// whose clock jumped a year ahead, and one fifty years back, still deliver
// everything; their results carry the kiosk time and the receive time and
// are flagged clock_skew, with an alarm.
func TestClockJumpsAreFlagged(t *testing.T) {
	r := newRig(t)
	defer r.close()
	for _, jump := range []time.Duration{365 * 24 * time.Hour, -50 * 365 * 24 * time.Hour} {
		k := r.addKiosk(fmt.Sprintf("K-%d", len(r.kiosks)+1), func() time.Time { return time.Now().Add(jump) })
		k.save(t, "S-001", 300*measure.MilliAU, 100*measure.MilliAU)
		r.startLink(k, 8)
	}
	r.waitDrained(2, 20*time.Second)
	for _, k := range r.kiosks {
		got, err := r.svc.History().Result(k.saved[0].ResultID)
		if err != nil {
			t.Fatal(err)
		}
		skew := false
		for _, f := range got.Flags {
			skew = skew || f == wire.FlagClockSkew
		}
		if !skew || got.ReceivedAt == nil || got.MeasuredAt.Sub(*got.ReceivedAt).Abs() < 300*24*time.Hour {
			t.Fatalf("%s: %+v", k.id, got)
		}
	}
	alarms, _ := r.svc.Store().Alarms(10, false)
	n := 0
	for _, a := range alarms {
		if a.Code == "clock_skew" {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("alarms %+v", alarms)
	}
	r.checkExactlyOnce()
}
