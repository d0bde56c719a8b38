package webtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/command/web"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// Test users.
const (
	adminUser     = "admin"
	adminPassword = "correct-horse-42"
)

// testLog returns a logger writing to t until the test ends (goroutines
// of the service may log after that; those lines are dropped).
func testLog(t testing.TB) *slog.Logger {
	w := &tlogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

var _ io.Writer = (*tlogWriter)(nil)

// requireAssets skips the test when the binary under test was built
// without `make web` (no Leaflet embedded), or fails it when the browser
// tests are required (SHIAN_REQUIRE_BROWSER=1).
func requireAssets(t testing.TB) {
	t.Helper()
	if web.Built() {
		return
	}
	msg := "command/web/static/lib is not built; run `make web` (npm ci + node command/web/build.mjs) before these tests"
	if browsertest.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// commandProc is a command service serving on a real TCP port, which can
// be stopped and started again on the same data directory and address
// (a restart, as after a crash or an upgrade).
type commandProc struct {
	svc    *command.Service
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startCommand opens the service on dir and serves it on addr
// ("127.0.0.1:0" for any port). web, when not nil, replaces the page.
func startCommand(t testing.TB, dir, addr string, cfg command.Config) *commandProc {
	t.Helper()
	cfg.DataDir = dir
	if cfg.Log == nil {
		cfg.Log = testLog(t)
	}
	svc, err := command.Open(cfg)
	if err != nil {
		t.Fatalf("open command service: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	c := &commandProc{svc: svc, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- svc.ListenAndServe(ctx, addr, ready) }()
	select {
	case c.addr = <-ready:
	case err := <-c.done:
		svc.Close()
		t.Fatalf("serve command service on %s: %v", addr, err)
	}
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop shuts the service down and closes its store; it may be called
// more than once.
func (c *commandProc) stop(t testing.TB) {
	t.Helper()
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	start := time.Now()
	defer func() {
		if d := time.Since(start); d > time.Second {
			t.Logf("command service took %s to stop", d.Round(time.Millisecond))
		}
	}()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Errorf("command service did not stop within 10 s")
	}
	if err := c.svc.Close(); err != nil {
		t.Errorf("close command service: %v", err)
	}
}

func (c *commandProc) url() string { return "http://" + c.addr + "/" }

// The venue: a convention centre in Nantong (WGS-84) with three vendor
// zones of ten stalls each and one kitchen.
const (
	venueLon = 120.8950
	venueLat = 31.9800
)

type venue struct {
	zones  geo.FeatureCollection
	sites  geo.FeatureCollection
	stalls []string // every site id
}

func rect(lon0, lat0, lon1, lat1 float64) orb.Polygon {
	return orb.Polygon{{{lon0, lat0}, {lon1, lat0}, {lon1, lat1}, {lon0, lat1}, {lon0, lat0}}}
}

func makeVenue() venue {
	var v venue
	v.zones.Features = append(v.zones.Features, geo.Feature{ID: "V-NTEC", Kind: geo.KindVenue,
		Name: "南通国际会展中心", NameEN: "Nantong International Convention Centre",
		Geometry: rect(venueLon-0.0045, venueLat-0.0028, venueLon+0.0045, venueLat+0.0028)})
	type zoneDef struct {
		id, name, nameEN, category string
		lon, lat                   float64
	}
	zs := []zoneDef{
		{"Z-A", "A区 小吃摊贩集中区", "Zone A snacks", "小吃", venueLon - 0.0030, venueLat + 0.0008},
		{"Z-B", "B区 烧烤摊贩集中区", "Zone B barbecue", "烧烤", venueLon + 0.0002, venueLat + 0.0008},
		{"Z-C", "C区 饮品甜点集中区", "Zone C drinks and desserts", "饮品", venueLon - 0.0014, venueLat - 0.0018},
	}
	grades := []string{"A", "B", "B", "C", "A", "D", "B", "A", "C", "B"}
	for _, z := range zs {
		w, h := 0.0026, 0.0012
		v.zones.Features = append(v.zones.Features, geo.Feature{ID: z.id, Kind: geo.KindZone, Name: z.name, NameEN: z.nameEN,
			Geometry: rect(z.lon, z.lat, z.lon+w, z.lat+h)})
		letter := z.id[len(z.id)-1:]
		for i := 0; i < 10; i++ {
			col, row := i%5, i/5
			id := fmt.Sprintf("S-%s-%02d", letter, i+1)
			p := orb.Point{z.lon + 0.0003 + float64(col)*0.0005, z.lat + 0.0003 + float64(row)*0.0006}
			v.sites.Features = append(v.sites.Features, geo.Feature{ID: id, Kind: geo.KindStall,
				Name: fmt.Sprintf("%s区%02d号摊位", letter, i+1), NameEN: fmt.Sprintf("Stall %s-%02d", letter, i+1),
				Geometry: p, Properties: map[string]any{"zone": z.id, "category": z.category, "grade": grades[i]}})
			v.stalls = append(v.stalls, id)
		}
	}
	v.sites.Features = append(v.sites.Features, geo.Feature{ID: "K-MAIN", Kind: geo.KindKitchen,
		Name: "主供餐点（中央厨房）", NameEN: "Main kitchen", Geometry: orb.Point{venueLon + 0.0033, venueLat - 0.0012},
		Properties: map[string]any{"category": "集体用餐配送", "grade": "C"}})
	v.stalls = append(v.stalls, "K-MAIN")
	return v
}

// seed creates the admin user, imports the venue and registers a kiosk;
// it returns the kiosk's token.
func seed(t testing.TB, svc *command.Service, v venue) (kioskToken string) {
	t.Helper()
	if err := svc.Auth().CreateUser(adminUser, "值班指挥员", assurance.RoleAdmin, adminPassword); err != nil {
		t.Fatalf("create admin: %v", err)
	}
	if _, err := api.ImportZones(svc.Store(), v.zones); err != nil {
		t.Fatalf("import zones: %v", err)
	}
	res, err := api.ImportSites(svc.Store(), v.sites)
	if err != nil {
		t.Fatalf("import stalls: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Fatalf("import warnings (the fixture puts a stall outside its zone): %v", res.Warnings)
	}
	tok, err := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-T-01", Name: "A区快检终端", SiteID: "S-A-01",
		Loc: []float64{venueLon - 0.0032, venueLat + 0.0004}})
	if err != nil {
		t.Fatalf("register kiosk: %v", err)
	}
	// A second kiosk that never connects: the map must show it offline.
	if _, err := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-T-02", Name: "C区快检终端", SiteID: "S-C-01",
		Loc: []float64{venueLon - 0.0016, venueLat - 0.0021}}); err != nil {
		t.Fatalf("register kiosk: %v", err)
	}
	return tok
}

// testKiosk is a real kiosk's storage and uplink: results are saved to a
// buntdb outbox and streamed to /ws/kiosk like on a Raspberry Pi.
type testKiosk struct {
	id     string
	conns  *connTracker
	ob     *outbox.Outbox
	up     *uplink.Uplink
	cancel context.CancelFunc
	done   chan struct{}
}

func startKiosk(t testing.TB, addr, id, token string) *testKiosk {
	t.Helper()
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "kiosk"), outbox.Options{KioskID: id, Log: testLog(t)})
	if err != nil {
		t.Fatalf("open outbox: %v", err)
	}
	tr := &connTracker{}
	up, err := uplink.New(uplink.Config{
		URL: "ws://" + addr + "/ws/kiosk", KioskID: id, Token: token, Source: ob,
		Dialer:   &websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: tr.dial},
		Software: "webtest", Log: testLog(t),
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second,
		Status: func() wire.Status {
			st := ob.Stats()
			return wire.Status{Pending: st.Pending, Storage: "ok", KioskTime: time.Now(),
				Instruments: []wire.InstrumentStatus{{ID: "enzyme-1", Model: "DY-3000E", State: "ready"}}}
		},
	})
	if err != nil {
		t.Fatalf("uplink: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &testKiosk{id: id, conns: tr, ob: ob, up: up, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		up.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-k.done
		ob.Close()
	})
	return k
}

// connTracker remembers the kiosk's TCP connections so that a test can
// cut them, as the death of the command's process would.
//
// Workaround: Service.ListenAndServe's shutdown closes the browsers'
// websockets (hub.Close) but not the kiosks' (hijacked connections that
// http.Server.Shutdown does not track), so after an in-process stop the
// kiosk keeps talking to the stopped service's connection goroutines and
// its new results are neither stored nor acknowledged until a pong
// timeout. A real process exit closes those sockets; dropLinks does the
// same here.
type connTracker struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}
	return conn, err
}

// dropLinks closes every connection the kiosk opened so far.
func (k *testKiosk) dropLinks() {
	k.conns.mu.Lock()
	defer k.conns.mu.Unlock()
	for _, c := range k.conns.conns {
		c.Close()
	}
	k.conns.conns = nil
}

// measure saves an enzyme-inhibition result (GB/T 5009.199) for a stall:
// control ΔA0 = 0.303 A and the given sample ΔAt in µAU; the verdict and
// value come from the assay rules, as on the kiosk.
func (k *testKiosk) measure(t testing.TB, stall, sample string, sampleDeltaA int64) wire.Result {
	t.Helper()
	raw := assay.Raw{ControlDeltaA: assay.Ptr(measure.Absorbance(303000)), SampleDeltaA: assay.Ptr(measure.Absorbance(sampleDeltaA))}
	out, err := assay.DefaultRules().Decide(assay.EnzymeInhibition, "", raw)
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	r, err := k.ob.Save(wire.Result{
		DeviceID: "enzyme-1", Model: "DY-3000E", Serial: "DY3E-220117", StallID: stall, Operator: "op-wang",
		Sample: wire.Sample{Name: sample, Category: "蔬菜", Batch: "20261128-03"},
		Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药", Analyte: "organophosphate_carbamate",
		Value: out.Value, Unit: out.Unit, Verdict: out.Verdict, RepeatsRequired: out.RepeatsRequired, Raw: raw,
		MeasuredAt: time.Now(),
	})
	if err != nil {
		t.Fatalf("kiosk save: %v", err)
	}
	return r
}

// Sample absorbance changes giving each verdict with ΔA0 = 303000 µAU.
const (
	dANegative   = 290000 // 4.29 %
	dASuspicious = 170000 // 43.89 %
	dAPositive   = 131000 // 56.77 %
)

// waitStored waits until the command holds result r (it went through the
// real ingest path).
func waitStored(t testing.TB, svc *command.Service, r wire.Result) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := svc.History().Result(r.ResultID); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("result %s (stall %s) not stored by the command within 10 s", r.ResultID, r.StallID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
