package webtest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/internal/browsertest"
)

// overlapsJS counts the pairs of map symbols and labels whose boxes
// (getBoundingClientRect) overlap inside the map: zone names, team tags,
// incident tags, kitchens and their readiness badges, banquets, kiosks and
// their queue badges, and — against those — the stalls' dots drawn on the
// canvas. Parts of one marker (a kitchen and its own badge) are one
// symbol; a hidden label (display: none, a zero box) is not on screen.
const overlapsJS = `(() => {
  if (!shian.mapIdle()) return null; // a live change is being placed: ask again
  const m = shian.app.map.map;
  const mr = m.getContainer().getBoundingClientRect();
  const inMap = (r) => r.width > 0 && r.height > 0 && r.right > mr.left && r.left < mr.right && r.bottom > mr.top && r.top < mr.bottom;
  const boxes = [];
  const sel = '.leaflet-tooltip.zone-label, .team-icon .team, .incident-icon .inc, .kitchen-icon .sq, .kitchen-icon .rd, .banquet-icon .bq, .kiosk-marker, .site-icon .sym';
  for (const e of m.getContainer().querySelectorAll(sel)) {
    if (getComputedStyle(e).visibility === 'hidden' || getComputedStyle(e).opacity === '0') continue;
    const r = e.getBoundingClientRect();
    if (!inMap(r)) continue;
    const root = e.closest('.leaflet-marker-icon, .leaflet-tooltip') || e;
    const what = e.classList.contains('zone-label') ? 'zone ' + e.textContent : (e.className || '') + ' ' + (e.textContent || '').trim();
    boxes.push({ r, root, what, dom: true });
  }
  for (const s of shian.app.map.stalls.values()) {
    if (!s.shown || s.kind !== 'stall' || !s.marker._point) continue;
    const p = m.latLngToContainerPoint(s.marker.getLatLng());
    const rad = s.marker.getRadius();
    const r = { left: mr.left + p.x - rad, right: mr.left + p.x + rad, top: mr.top + p.y - rad, bottom: mr.top + p.y + rad, width: 2 * rad, height: 2 * rad };
    if (inMap(r)) boxes.push({ r, root: s, what: 'stall ' + s.id, dom: false });
  }
  const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const pairs = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.root === b.root || (!a.dom && !b.dom)) continue;
      if (hit(a.r, b.r)) pairs.push(a.what + ' × ' + b.what);
    }
  return { n: pairs.length, labels: boxes.filter((b) => b.dom).length, pairs: pairs.slice(0, 12), placement: shian.declutter() };
})()`

// openLayers opens the map's layer list (closed by default below a wall
// screen's width) so that its inputs can be clicked.
func openLayers(p *browsertest.Page) {
	p.Do(chromedp.Click(chromedp.CSS(`.layers-switch.layers-closed .layers-toggle`)))
}

type overlapReport struct {
	N      int      `json:"n"`
	Labels int      `json:"labels"`
	Pairs  []string `json:"pairs"`
	// Placement is what the map's label placement did (null before it existed).
	Placement map[string]int `json:"placement"`
}

// overlaps measures overlapsJS on a still map (retrying while a live change
// is being placed).
func overlaps(t *testing.T, p *browsertest.Page, within time.Duration) overlapReport {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); {
		if ov := browsertest.Eval[*overlapReport](p, overlapsJS); ov != nil {
			return *ov
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the map never stood still for the overlap count")
	return overlapReport{}
}

// TestDemoMapLegible opens the demo's map at a desktop (1366×768), a
// laptop (1280×800) and a phone (390×844) size, at the zoom the map opens
// with, and checks that it reads: no label or badge overlaps another, the
// layer control does not cover the map on small screens (collapsed, and
// its state remembered), the header's verdict counts stay on one or two
// lines, and the KPI strip shows each rate against its target.
func TestDemoMapLegible(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole demo: skipped with -short")
	}
	info, slow := startDemo(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	p.Do(chromedp.EmulateViewport(1366, 768))
	p.Do(chromedp.Navigate(info.LoginURL))
	p.WaitFor("the map after the one-time login link", `document.body.dataset.state === 'app' && shian.linkState() === 'online' && shian.stallCount() > 0 && shian.mapIdle()`, slow*15*time.Second)
	p.WaitFor("tested sites coloured", `Object.entries(shian.app.map.counts()).some(([v, n]) => v !== 'none' && n > 0)`, slow*20*time.Second)
	p.WaitFor("teams on the map", `document.querySelectorAll('#map .team').length > 0`, slow*10*time.Second)

	// The layer list: closed below a wall screen's width, opened by its
	// button, the choice remembered across a reload.
	layers := func() (closed bool, w float64) {
		st := browsertest.Eval[struct {
			Closed bool    `json:"closed"`
			W      float64 `json:"w"`
		}](p, `(() => { const b = document.querySelector('.leaflet-control-layers'); return { closed: b.classList.contains('layers-closed'), w: b.getBoundingClientRect().width * b.getBoundingClientRect().height }; })()`)
		return st.Closed, st.W
	}
	if closed, area := layers(); !closed || area > 160*45 {
		t.Errorf("at 1366×768 the layer list is open by default (closed %v, %.0f px²)", closed, area)
	}
	p.Do(chromedp.Click(chromedp.CSS(".layers-toggle")))
	if closed, _ := layers(); closed {
		t.Errorf("the layer button did not open the list")
	}
	p.Do(chromedp.Reload())
	p.WaitFor("the map after a reload", `document.body.dataset.state === 'app' && shian.stallCount() > 0 && !!document.querySelector('.layers-switch')`, slow*30*time.Second)
	if closed, _ := layers(); closed {
		t.Errorf("the layer list's open state was not remembered across a reload")
	}
	p.Do(chromedp.Click(chromedp.CSS(".layers-toggle")))
	if closed, _ := layers(); !closed {
		t.Errorf("the layer button did not close the list")
	}
	p.WaitFor("teams on the map", `shian.mapIdle() && document.querySelectorAll('#map .team').length > 0 && document.querySelector('#kpis').dataset.loaded`, slow*10*time.Second)

	// The legend: one symbol per kind of site, and no lone grade letter
	// for a banquet.
	p.Do(chromedp.Click(chromedp.CSS(".legend-toggle")))
	syms := browsertest.Eval[[]string](p, `[...document.querySelectorAll('.map-legend [data-sym]')].map((e) => e.dataset.sym)`)
	for _, k := range []string{"stall", "kitchen", "banquet", "zone", "kiosk", "team", "incident", "patrol"} {
		if !slices.Contains(syms, k) {
			t.Errorf("the legend has no symbol for %s (has %v)", k, syms)
		}
	}
	for _, g := range browsertest.Eval[[]string](p, `[...document.querySelectorAll('#map .bq, .map-legend .sym.banquet')].map((e) => e.textContent.trim())`) {
		if len(g) == 1 && g >= "A" && g <= "D" {
			t.Errorf("a banquet is drawn with %q, which reads as a risk grade", g)
		}
	}
	p.Screenshot("legible-legend")
	p.Do(chromedp.Click(chromedp.CSS(".legend-toggle")))

	// The KPI strip: the disposal rate and readiness are coloured by their
	// configured target and show it.
	kp := browsertest.Eval[map[string][2]string](p, `Object.fromEntries([...document.querySelectorAll('#kpis .kpi')].map((e) => [e.dataset.kpi, [e.dataset.status || '', (e.querySelector('small') || {}).textContent || '']]))`)
	t.Logf("KPIs (status, sub-line): %v", kp)
	for _, k := range []string{"disposal", "readiness"} {
		if kp[k][0] == "" || !strings.Contains(kp[k][1], "目标") {
			t.Errorf("KPI %s: status %q, %q: want a colour by the target and the target shown", k, kp[k][0], kp[k][1])
		}
	}
	if !strings.Contains(kp["tests"][1], "摊位") {
		t.Errorf("the tests KPI does not say how many stalls they cover: %q", kp["tests"][1])
	}

	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1366, 768}, {"laptop", 1280, 800}, {"phone", 390, 844}, {"kiosk-800", 800, 480}, {"kiosk-1024", 1024, 600}} {
		t.Run(vp.name, func(t *testing.T) {
			p.Do(chromedp.EmulateViewport(vp.w, vp.h))
			// The zoom the map opens with at this size: fit the venue again.
			browsertest.Eval[bool](p, `(shian.app.map.fitted = false, shian.app.map.map.invalidateSize({ pan: false }), shian.app.map.fit(), true)`)
			p.WaitFor("a still map", `shian.mapIdle()`, slow*5*time.Second)
			ov := overlaps(t, p, slow*10*time.Second)
			zoom := browsertest.Eval[float64](p, `shian.app.map.map.getZoom()`)
			t.Logf("%s %d×%d at zoom %.2f: %d overlapping pairs among %d labels and symbols shown %v; placement %v", vp.name, vp.w, vp.h, zoom, ov.N, ov.Labels, ov.Pairs, ov.Placement)
			p.Screenshot("legible-" + vp.name)
			if ov.N != 0 {
				t.Errorf("%d overlapping label/symbol pairs at the opening zoom, e.g.:\n%s", ov.N, strings.Join(ov.Pairs, "\n"))
			}
			if vp.w < 1280 {
				return // the header wraps further on a kiosk or a phone (a column of its own on a phone)
			}
			// The header with a long event name (set on the chip, as the
			// header would show it): two clean lines, the verdict counts on
			// one of them.
			browsertest.Eval[bool](p, `(() => { const l = document.querySelector('#event-line'); l.hidden = false; document.querySelector('#event-phase').textContent = '2026 江海国际美食博览会暨长三角城市餐饮文化周 · 全程保障'; return true; })()`)
			hd := browsertest.Eval[struct {
				Rows   int     `json:"rows"`
				Height float64 `json:"height"`
				Over   bool    `json:"over"`
			}](p, `(() => { const bar = document.querySelector('.bar'); const tops = new Set([...document.querySelectorAll('#counts .count')].map((e) => Math.round(e.getBoundingClientRect().top))); return { rows: tops.size, height: bar.getBoundingClientRect().height, over: bar.scrollWidth > bar.clientWidth + 1 }; })()`)
			p.Screenshot("legible-header-" + vp.name)
			t.Logf("header at %d px with a long event name: %.0f px high, counts on %d line(s), overflowing %v", vp.w, hd.Height, hd.Rows, hd.Over)
			if hd.Rows != 1 || hd.Height > 100 || hd.Over {
				t.Errorf("header at %d px: counts on %d lines, %.0f px high, overflowing %v: want the counts on one line and the header on two", vp.w, hd.Rows, hd.Height, hd.Over)
			}
		})
	}
	// In English: the same placement, the banquet glyph never a lone letter.
	p.Do(chromedp.EmulateViewport(1366, 768))
	p.Do(chromedp.Click(chromedp.CSS("#lang")))
	p.WaitFor("English labels", `document.documentElement.lang === 'en' && shian.mapIdle()`, slow*15*time.Second)
	if ov := overlaps(t, p, slow*10*time.Second); ov.N != 0 {
		t.Errorf("in English: %d overlapping pairs: %v", ov.N, ov.Pairs)
	}
	p.Do(chromedp.Click(chromedp.CSS(".legend-toggle")))
	p.Screenshot("legible-en")
	p.Do(chromedp.Click(chromedp.CSS("#lang")))
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
	}
}
