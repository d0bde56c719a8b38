package webtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/browsertest"
)

// TestCoordTransforms checks the page's datum transforms (js/coords.js)
// against geo's Go ones on a grid over China and beyond its box, both
// ways: the browser must put a marker where the Go side would.
func TestCoordTransforms(t *testing.T) {
	b := browsertest.Start(t)
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
	p := b.NewPage(t)
	p.Do(chromedp.Navigate(cmd.url() + "healthz"))
	var pts [][2]float64
	for lon := 70.0; lon <= 140; lon += 3.7 {
		for lat := 0.0; lat <= 56; lat += 2.9 {
			pts = append(pts, [2]float64{lon, lat})
		}
	}
	pts = append(pts, [2]float64{venueLon, venueLat}, [2]float64{116.391, 39.907}, [2]float64{121.4737, 31.2304}, [2]float64{2.35, 48.85}, [2]float64{-0.1, 51.5})
	in, _ := json.Marshal(pts)
	got := browsertest.EvalAsync[[][6][2]float64](p, fmt.Sprintf(`import('/js/coords.js').then((c) => %s.map(([x, y]) => [
		c.wgs84ToGcj02(x, y), c.gcj02ToWgs84(x, y), c.wgs84ToBd09(x, y), c.bd09ToWgs84(x, y), c.gcj02ToBd09(x, y), c.bd09ToGcj02(x, y)]))`, in))
	fns := []struct {
		name string
		f    func(orb.Point) orb.Point
	}{
		{"WGS84ToGCJ02", geo.WGS84ToGCJ02}, {"GCJ02ToWGS84", geo.GCJ02ToWGS84}, {"WGS84ToBD09", geo.WGS84ToBD09},
		{"BD09ToWGS84", geo.BD09ToWGS84}, {"GCJ02ToBD09", geo.GCJ02ToBD09}, {"BD09ToGCJ02", geo.BD09ToGCJ02},
	}
	worst := 0.0
	for i, pt := range pts {
		for j, fn := range fns {
			want := fn.f(orb.Point{pt[0], pt[1]})
			d := math.Max(math.Abs(got[i][j][0]-want[0]), math.Abs(got[i][j][1]-want[1]))
			worst = math.Max(worst, d)
			if d > 1e-9 { // 0.1 mm
				t.Errorf("%s(%v): browser %v, Go %v (off by %.3g°)", fn.name, pt, got[i][j], want, d)
			}
		}
	}
	t.Logf("%d points × %d transforms: largest difference between the browser and Go %.3g°", len(pts), len(fns), worst)
	// The offset is real where it matters: a few hundred metres in Nantong.
	g := geo.WGS84ToGCJ02(orb.Point{venueLon, venueLat})
	t.Logf("Nantong: GCJ-02 offset %.0f m", geo.Distance(orb.Point{venueLon, venueLat}, g))
}

// tileServer is a stand-in for a street map's tile server: it answers
// every tile with a plain PNG and records the requests.
type tileServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func newTileServer(t *testing.T) *tileServer {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			c := color.RGBA{226, 232, 224, 255}
			if x < 2 || y < 2 {
				c = color.RGBA{150, 160, 170, 255} // tile edges, visible in the screenshot
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	ts := &tileServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.hits = append(ts.hits, r.URL.RequestURI())
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		w.Write(buf.Bytes())
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tileServer) requests() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.hits...)
}

// putUIConfig saves the page's settings as an admin would.
func putUIConfig(t *testing.T, cmd *commandProc, set api.UISettings) {
	t.Helper()
	tok, err := cmd.svc.Auth().NewAPIToken(adminUser, "test")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(set)
	req, _ := http.NewRequest("PUT", cmd.url()+"api/v1/ui-config", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e map[string]any
		json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("PUT /api/v1/ui-config: %d %v", resp.StatusCode, e)
	}
}

// TestBaseMapTiles configures a street tile layer in GCJ-02 (AMap's) and
// in BD-09 (Baidu's, with its own tiling), switches to it from the layer
// control, and checks that tiles are requested with the configured URL
// template around the stalls' converted positions, and that the markers
// are drawn at the Go side's GCJ-02 / BD-09 positions. No real tiles: a
// local server answers every tile.
func TestBaseMapTiles(t *testing.T) {
	requireAssets(t)
	b := browsertest.Start(t)
	v := makeVenue()
	tiles := newTileServer(t)
	const probe = "S-A-01"
	var stored orb.Point
	for _, f := range v.sites.Features {
		if f.ID == probe {
			stored, _ = f.Point()
		}
	}
	cases := []struct {
		datum, path string
		conv        func(orb.Point) orb.Point
		tile        func(p orb.Point, z int) (x, y int)
	}{
		{api.DatumGCJ02, "/amap/appmaptile?x={x}&y={y}&z={z}", geo.WGS84ToGCJ02, webMercatorTile},
		{api.DatumBD09, "/baidu/tile/?qt=vtile&x={x}&y={y}&z={z}", geo.WGS84ToBD09, baiduTile},
	}
	for _, c := range cases {
		t.Run(c.datum, func(t *testing.T) {
			cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
			seed(t, cmd.svc, v)
			putUIConfig(t, cmd, api.UISettings{Tiles: &api.TileConfig{URL: tiles.URL + c.path, Datum: c.datum, Name: "街道图 / Streets", MaxZoom: 19}})
			p := b.NewPage(t)
			login(p, cmd.url(), adminUser, adminPassword)
			p.WaitFor("the map on the venue plan", `document.body.dataset.state === 'app' && shian.stallCount() === 31 && shian.mapIdle()`, 10*time.Second)
			before := len(tiles.requests())
			if before != 0 {
				t.Logf("%d tiles requested before the street map was chosen", before)
			}
			// The marker sits at the converted position (display only).
			got := browsertest.Eval[[2]float64](p, fmt.Sprintf(`shian.stallDisplayed(%q)`, probe))
			want := c.conv(stored)
			if d := math.Max(math.Abs(got[0]-want[0]), math.Abs(got[1]-want[1])); d > 1e-9 {
				t.Errorf("%s drawn at %v, want %s %v (stored WGS-84 %v)", probe, got, c.datum, want, stored)
			}
			t.Logf("%s: stored %v, drawn %v (%.0f m apart)", probe, stored, got, geo.Distance(stored, orb.Point{got[0], got[1]}))

			openLayers(p)
			p.Do(chromedp.Click(chromedp.CSS(`.leaflet-control-layers input[data-layer="base-tiles"]`)))
			p.WaitFor("tiles loaded", `document.querySelectorAll('.leaflet-tile-loaded').length > 0 && shian.mapIdle()`, 10*time.Second)
			z := browsertest.Eval[float64](p, `shian.app.map.map.getZoom()`)
			zi := int(math.Round(z))
			x, y := c.tile(want, zi)
			re := regexp.MustCompile(`x=(-?\d+)&y=(-?\d+)&z=(\d+)`)
			found := false
			reqs := tiles.requests()
			for _, r := range reqs {
				if !strings.HasPrefix(r, strings.SplitN(c.path, "?", 2)[0]) {
					t.Errorf("tile request %q does not follow the template %s", r, c.path)
				}
				m := re.FindStringSubmatch(r)
				if m == nil {
					continue
				}
				tx, _ := strconv.Atoi(m[1])
				ty, _ := strconv.Atoi(m[2])
				tz, _ := strconv.Atoi(m[3])
				if tx == x && ty == y && tz == zi {
					found = true
				}
			}
			if !found {
				t.Errorf("no request for the tile under %s (z %d x %d y %d) among %d: %v", probe, zi, x, y, len(reqs), reqs)
			}
			t.Logf("zoom %.2f: %d tile requests, e.g. %s", z, len(reqs), reqs[0])
			p.Screenshot("streets-" + c.datum)
			tiles.mu.Lock()
			tiles.hits = nil
			tiles.mu.Unlock()
		})
	}
}

// webMercatorTile is the XYZ tile holding p at zoom z (AMap, OSM).
func webMercatorTile(p orb.Point, z int) (int, int) {
	n := math.Exp2(float64(z))
	lat := p[1] * math.Pi / 180
	x := int(math.Floor((p[0] + 180) / 360 * n))
	y := int(math.Floor((1 - math.Log(math.Tan(lat)+1/math.Cos(lat))/math.Pi) / 2 * n))
	return x, y
}

// baiduTile is Baidu's tile holding BD-09 point p at zoom z: Mercator on
// the Clarke 1866 ellipsoid in metres, 2^(18-z) m per pixel, 256-pixel
// tiles numbered from the origin with y growing north.
func baiduTile(p orb.Point, z int) (int, int) {
	const a, b = 6378206.0, 6356584.314245179
	e := math.Sqrt(1 - (b/a)*(b/a))
	lat := p[1] * math.Pi / 180
	con := e * math.Sin(lat)
	ts := math.Tan(math.Pi/4-lat/2) / math.Pow((1-con)/(1+con), e/2)
	xm, ym := a*p[0]*math.Pi/180, -a*math.Log(math.Max(ts, 1e-10))
	scale := math.Exp2(float64(z-18)) / 256
	return int(math.Floor(xm * scale)), int(math.Floor(ym * scale))
}
