package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/shianfood/shian/simulator/serialsim"
)

// stamps records when each tagged report frame was first written to its
// pty.
type stamps struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *stamps) put(tag string, t time.Time) {
	s.mu.Lock()
	if _, ok := s.at[tag]; !ok {
		s.at[tag] = t
	}
	s.mu.Unlock()
}

func (s *stamps) get(tag string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[tag]
	return t, ok
}

// stamped serves a tester and notes the moment each report frame is
// written, before the bytes go to the pty.
type stamped struct {
	fw *enzyme.Firmware
	st *stamps
}

func (d stamped) Serve(ctx context.Context, uart io.ReadWriter) error {
	return d.fw.Serve(ctx, stampUART{uart, d.st})
}

type stampUART struct {
	io.ReadWriter
	st *stamps
}

func (u stampUART) Write(p []byte) (int, error) {
	now := time.Now()
	if f, _, err := dyframe.ParseFrame(p); err == nil {
		if m, err := dyframe.Decode(f); err == nil {
			if r, ok := m.(dyframe.Report); ok {
				u.st.put(r.SampleName, now)
			}
		}
	}
	return u.ReadWriter.Write(p)
}

// e2eKiosk is one shian-kiosk process with its tester.
type e2eKiosk struct {
	id, dir string
	fw      *enzyme.Firmware
	port    *serialsim.Port
	p       *proc
	ui      string // the operator screen's address, from its stdout
	uiMu    sync.Mutex
}

// startE2EKiosk plugs a tester in on a pty and starts shian-kiosk on it.
func (b *Bench) startE2EKiosk(ctx context.Context, run, id, token, url string, i int, st *stamps, backoff string) (*e2eKiosk, error) {
	k := &e2eKiosk{id: id, dir: filepath.Join(run, "kiosks", id)}
	if err := os.MkdirAll(k.dir, 0o755); err != nil {
		return nil, err
	}
	sim := enzyme.NewSim(enzyme.SimConfig{Mix: enzyme.Mix{Negative: 1}, Seed: uint64(i + 1)})
	k.fw = enzyme.New(enzyme.Config{Model: "DY-3000E", Serial: fmt.Sprintf("DY3E-B%04d", i+1),
		Lead: 100 * time.Millisecond, Interval: 500 * time.Millisecond}, sim, enzyme.SystemClock{})
	link := filepath.Join(k.dir, "ttyENZ0")
	port, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal for %s: %w", id, err)
	}
	k.port = port
	go port.Serve(ctx, stamped{k.fw, st})
	cfg := fmt.Sprintf(`# Written by shian-sim bench.
kiosk_id: %s
name: 基准测试终端 %d
data: %s
command:
  url: %s
  token: %s
%soperator: op-bench
ui:
  listen: 127.0.0.1:0
devices:
  - id: enzyme-1
    protocol: dy-enzyme
    model: DY-3000E
    port: %s
    baud: 9600
`, id, i+1, filepath.Join(k.dir, "data"), url, token, backoff, link)
	cfgPath := filepath.Join(k.dir, "kiosk.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		port.Close()
		return nil, err
	}
	p, err := start("shian-kiosk "+id, b.bins.Kiosk, []string{"--config", cfgPath, "--log-level", "warn"}, filepath.Join(k.dir, "kiosk.log"), nil,
		func(line string) {
			// "operator screen / 操作界面: http://127.0.0.1:PORT/ (metrics: …)"
			if _, rest, ok := strings.Cut(line, "操作界面: http://"); ok {
				addr, _, _ := strings.Cut(rest, "/")
				k.uiMu.Lock()
				k.ui = addr
				k.uiMu.Unlock()
			}
		})
	if err != nil {
		port.Close()
		return nil, err
	}
	k.p = p
	return k, nil
}

func (k *e2eKiosk) stop() {
	if k.p != nil {
		k.p.stop(10 * time.Second)
	}
	if k.port != nil {
		k.port.Close()
	}
}

// liveClient is a map's websocket on /ws/live.
type liveClient struct {
	ws *websocket.Conn

	mu     sync.Mutex
	online map[string]bool
	onRes  func(r wire.Result, at time.Time)
	err    error
	done   chan struct{}
}

func dialLive(ctx context.Context, addr, token string, onRes func(wire.Result, time.Time)) (*liveClient, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	ws, _, err := d.DialContext(ctx, "ws://"+addr+"/ws/live", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return nil, fmt.Errorf("/ws/live: %w", err)
	}
	lc := &liveClient{ws: ws, online: map[string]bool{}, onRes: onRes, done: make(chan struct{})}
	go lc.read()
	return lc, nil
}

func (lc *liveClient) read() {
	defer close(lc.done)
	for {
		_, b, err := lc.ws.ReadMessage()
		at := time.Now()
		if err != nil {
			lc.mu.Lock()
			lc.err = err
			lc.mu.Unlock()
			return
		}
		m, err := wire.Decode(b, 0)
		if err != nil {
			continue
		}
		switch m := m.(type) {
		case *wire.Snapshot:
			lc.mu.Lock()
			for _, k := range m.Kiosks {
				lc.online[k.KioskID] = k.Online
			}
			lc.mu.Unlock()
		case *wire.Delta:
			switch m.Kind {
			case wire.KindKiosk:
				var k wire.KioskState
				if json.Unmarshal(m.Data, &k) == nil {
					lc.mu.Lock()
					lc.online[k.KioskID] = k.Online
					lc.mu.Unlock()
				}
			case wire.KindResult:
				var r wire.Result
				if json.Unmarshal(m.Data, &r) == nil && lc.onRes != nil {
					lc.onRes(r, at)
				}
			}
		}
	}
}

func (lc *liveClient) countOnline(ids []string) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	n := 0
	for _, id := range ids {
		if lc.online[id] {
			n++
		}
	}
	return n
}

func (lc *liveClient) close() {
	lc.ws.Close()
	<-lc.done
}

// e2ePart measures instrument → map latency with E2EKiosks kiosks, one
// test each about every second.
func (b *Bench) e2ePart(ctx context.Context) error {
	run, err := b.dir("e2e")
	if err != nil {
		return err
	}
	n := b.sz.E2EKiosks
	ids := kioskIDs("E", n)
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		return err
	}
	prep, err := prepare(sqlite, run, ids, 0, enc, time.Now())
	if err != nil {
		return err
	}
	c := &command{b: b, bk: sqlite, run: run, tokens: prep.tokens, api: prep.api}
	if err := b.startCommand(ctx, c); err != nil {
		return err
	}
	defer c.stop()

	st := &stamps{at: map[string]time.Time{}}
	var mu sync.Mutex
	var lat []time.Duration
	lc, err := dialLive(ctx, c.addr, c.api, func(r wire.Result, at time.Time) {
		if t, ok := st.get(r.Sample.Name); ok {
			mu.Lock()
			lat = append(lat, at.Sub(t))
			mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	defer lc.close()

	kctx, stopKiosks := context.WithCancel(ctx)
	defer stopKiosks()
	var ks []*e2eKiosk
	defer func() {
		var wg sync.WaitGroup
		for _, k := range ks {
			wg.Add(1)
			go func() { defer wg.Done(); k.stop() }()
		}
		wg.Wait()
	}()
	for i, id := range ids {
		k, err := b.startE2EKiosk(kctx, run, id, c.tokens[id], "ws://"+c.addr+"/ws/kiosk", i, st, "")
		if err != nil {
			return err
		}
		ks = append(ks, k)
	}
	deadline := time.Now().Add(time.Duration(n)*200*time.Millisecond + 30*time.Second)
	for lc.countOnline(ids) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d kiosks online after %v", lc.countOnline(ids), n, time.Until(deadline))
		}
		for _, k := range ks {
			if k.p.exited() {
				return fmt.Errorf("%s exited: %v\n%s", k.id, k.p.err, k.p.tail())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(b.sz.Settle)
	idle := kioskRSS(ks)

	// One operator per kiosk: a test about every second.
	opCtx, stopOps := context.WithTimeout(ctx, b.sz.E2EDuration)
	var wg sync.WaitGroup
	var started sync.Map
	for i, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 9))
			time.Sleep(time.Duration(rnd.IntN(1000)) * time.Millisecond)
			for t := 1; opCtx.Err() == nil; t++ {
				next := time.Now().Add(time.Duration(800+rnd.IntN(400)) * time.Millisecond)
				if !k.fw.Measuring() && k.fw.Pending() == 0 {
					tag := fmt.Sprintf("E%03d-%05d", i+1, t)
					if _, err := k.fw.Start(1, stallID(i*13+t, 2000), tag); err == nil {
						started.Store(tag, true)
					}
				}
				select {
				case <-opCtx.Done():
				case <-time.After(time.Until(next)):
				}
			}
		}()
	}
	wg.Wait()
	stopOps()
	loaded := kioskRSS(ks)
	// Let the last tests arrive.
	tests := 0
	started.Range(func(any, any) bool { tests++; return true })
	for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		if got >= tests {
			break
		}
	}
	mu.Lock()
	got := append([]time.Duration(nil), lat...)
	mu.Unlock()
	if len(got) == 0 {
		return fmt.Errorf("no result reached /ws/live (%d tests started)", tests)
	}
	echo50, echo99, err := echoBaseline()
	if err != nil {
		return err
	}
	p50, p99 := percentile(got, 50), percentile(got, 99)
	rate := float64(len(got)) / b.sz.E2EDuration.Seconds()
	b.rep.add(Row{Part: "end to end", Measure: fmt.Sprintf("pty frame → /ws/live delta, %d kiosks × ~1 result/s (%.0f results/s, %d of %d tests seen)", n, rate, len(got), tests),
		Value:    fmt.Sprintf("p50 %s, p99 %s", ms(p50), ms(p99)),
		Baseline: fmt.Sprintf("loopback websocket echo p50 %s, p99 %s", ms(echo50), ms(echo99)), Goal: "p99 < 50 ms", Status: status(float64(p99.Microseconds())/1000, 50, false)})
	b.rep.add(Row{Part: "kiosk", Measure: fmt.Sprintf("shian-kiosk RSS, median / max of %d: idle, then testing", n),
		Value: fmt.Sprintf("%s / %s, then %s / %s", mb(idle.median), mb(idle.max), mb(loaded.median), mb(loaded.max))})
	b.say("e2e: %d results, p50 %v p99 %v", len(got), p50, p99)
	return nil
}

type rssStat struct{ median, max int64 }

func kioskRSS(ks []*e2eKiosk) rssStat {
	var rs []int64
	for _, k := range ks {
		if r := rss(k.p.pid()); r > 0 {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return rssStat{}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return rssStat{median: rs[len(rs)/2], max: rs[len(rs)-1]}
}

// echoBaseline is the round trip of a 1 KB websocket message to an echo
// server on loopback, 1000 times.
func echoBaseline() (p50, p99 time.Duration, err error) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			t, b, err := c.ReadMessage()
			if err != nil || c.WriteMessage(t, b) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	msg := []byte(strings.Repeat("x", 1024))
	var ds []time.Duration
	for range 1000 {
		t := time.Now()
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			return 0, 0, err
		}
		if _, _, err := c.ReadMessage(); err != nil {
			return 0, 0, err
		}
		ds = append(ds, time.Since(t))
	}
	return percentile(ds, 50), percentile(ds, 99), nil
}
