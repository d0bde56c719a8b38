package webtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/browsertest"
)

// bigVenue is a city-wide market day: 20 vendor zones of 500 stalls.
func bigVenue() venue {
	var v venue
	const zonesX, zonesY, perRow, rows = 5, 4, 25, 20
	for zx := 0; zx < zonesX; zx++ {
		for zy := 0; zy < zonesY; zy++ {
			id := fmt.Sprintf("Z-%d%d", zx, zy)
			lon0, lat0 := venueLon-0.02+float64(zx)*0.008, venueLat-0.015+float64(zy)*0.0075
			v.zones.Features = append(v.zones.Features, geo.Feature{ID: id, Kind: geo.KindZone,
				Name: fmt.Sprintf("%d号摊贩集中区", zx*zonesY+zy+1), NameEN: fmt.Sprintf("Vendor zone %d", zx*zonesY+zy+1),
				Geometry: rect(lon0, lat0, lon0+0.0068, lat0+0.0062)})
			for i := 0; i < perRow*rows; i++ {
				sid := fmt.Sprintf("S-%s-%03d", id[2:], i+1)
				p := orb.Point{lon0 + 0.0002 + float64(i%perRow)*0.00026, lat0 + 0.0002 + float64(i/perRow)*0.0003}
				v.sites.Features = append(v.sites.Features, geo.Feature{ID: sid, Kind: geo.KindStall,
					Name: fmt.Sprintf("%s-%03d号摊位", id[2:], i+1), Geometry: p, Properties: map[string]any{"zone": id}})
				v.stalls = append(v.stalls, sid)
			}
		}
	}
	return v
}

// TestManyStalls loads 10,000 stalls and a burst of live results, and
// reports (without asserting on time, see docs/engineering.md) how long the
// page took and how smoothly it pans. It asserts that every stall is drawn
// and every result lands.
func TestManyStalls(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 stalls: skipped with -short")
	}
	requireAssets(t)
	b := browsertest.Start(t)
	v := bigVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
	start := time.Now()
	token := seed(t, cmd.svc, v)
	t.Logf("imported %d zones and %d stalls in %s", len(v.zones.Features), len(v.stalls), time.Since(start).Round(time.Millisecond))
	k := startKiosk(t, cmd.addr, "K-T-01", token)

	p := b.NewPage(t)
	p.Do(chromedp.Navigate(cmd.url()))
	p.WaitFor("the login form", `document.body.dataset.state === 'login'`, 10*time.Second)
	p.Do(chromedp.SendKeys(chromedp.CSS("#login-user"), adminUser), chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")))
	took := p.WaitFor("10,000 stalls on the map", fmt.Sprintf(`shian.stallCount() === %d && shian.linkState() === 'online' && shian.mapIdle()`, len(v.stalls)), 60*time.Second)
	t.Logf("login to %d markers drawn: %s", len(v.stalls), took.Round(time.Millisecond))

	// A burst of results across the city, as after a network cut heals.
	const burst = 300
	start = time.Now()
	for i := 0; i < burst; i++ {
		dA := int64(dANegative)
		if i%10 == 0 {
			dA = dAPositive
		}
		k.measure(t, v.stalls[(i*7919)%len(v.stalls)], "样品", dA)
	}
	took = p.WaitFor(fmt.Sprintf("%d stalls recoloured", burst),
		fmt.Sprintf(`(() => { const c = shian.app.map.counts(); return c.negative + c.positive === %d && c.positive === %d; })()`, burst, burst/10), 60*time.Second)
	t.Logf("%d results saved on the kiosk to all shown on the map: %s (the page saw the last %s after polling began)", burst, time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))

	probe := browsertest.Eval[map[string]float64](p, `(() => {
		const m = shian.app.map.map; const r = {};
		let t0 = performance.now(); m.panBy([400, 200], { animate: false }); r.panNoAnim = performance.now() - t0;
		t0 = performance.now(); m.setZoom(m.getZoom() + 1, { animate: false }); r.zoomNoAnim = performance.now() - t0;
		t0 = performance.now(); m.setZoom(m.getZoom() - 1, { animate: false }); r.zoomBack = performance.now() - t0;
		const c = document.querySelector('.leaflet-overlay-pane canvas'); r.canvasW = c.width; r.canvasH = c.height;
		r.zoom = m.getZoom(); r.dpr = devicePixelRatio;
		return r; })()`)
	t.Logf("probe: %v", probe)
	// Frames while panning across the venue: Leaflet redraws the canvas.
	fps := browsertest.EvalAsync[float64](p, `new Promise((resolve) => {
		const m = shian.app.map.map; let frames = 0; const t0 = performance.now();
		const tick = () => { frames++; if (performance.now() - t0 < 1000) requestAnimationFrame(tick); else resolve(frames * 1000 / (performance.now() - t0)); };
		requestAnimationFrame(tick);
		m.panBy([400, 200], { duration: 0.9 });
	})`)
	t.Logf("frames per second while panning over %d stalls (headless, software rendering): %.0f", len(v.stalls), fps)
	p.WaitFor("a still map", `shian.mapIdle()`, 20*time.Second)
	p.Do(chromedp.Click(chromedp.CSS(".home-control")))
	p.WaitFor("the whole venue in view again", `shian.mapIdle() && shian.app.map.map.getBounds().contains(shian.app.map.zoneLayer.getBounds())`, 20*time.Second)
	p.Screenshot("10k-stalls")
	// Zoomed in, the markers are full size again.
	p.Do(chromedp.Click(chromedp.CSS(".leaflet-control-zoom-in")))
	p.WaitFor("zoomed in", `shian.mapIdle()`, 20*time.Second)
	p.Do(chromedp.Click(chromedp.CSS(".leaflet-control-zoom-in")))
	p.WaitFor("zoomed in", `shian.mapIdle()`, 20*time.Second)
	p.Screenshot("10k-stalls-zoomed")
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %v", ex)
	}
}
