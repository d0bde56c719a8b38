package geo_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/geo"
)

// Decode an uploaded zone file; a bad feature yields a *geo.Error naming
// it, which an HTTP handler returns as 400.
func ExampleDecodeFeatureCollection() {
	doc := `{"type":"FeatureCollection","features":[
	  {"type":"Feature","id":"Z-01","properties":{"kind":"zone","name":"美食广场","name_en":"Food plaza"},
	   "geometry":{"type":"Polygon","coordinates":[[[120.90,31.98],[120.91,31.98],[120.91,31.99],[120.90,31.99],[120.90,31.98]]]}},
	  {"type":"Feature","id":"Z-02","properties":{"kind":"zone","name":"夜市"},
	   "geometry":{"type":"Polygon","coordinates":[[[120.92,31.98],[120.93,31.98],[120.93,31.99],[120.92,31.99]]]}}]}`
	_, err := geo.DecodeFeatureCollection(strings.NewReader(doc), geo.Limits{})
	var ge *geo.Error
	if errors.As(err, &ge) {
		fmt.Println(ge.Code, ge.Feature, ge.ID)
		fmt.Println(ge)
	}
	// Output:
	// ring_unclosed 1 Z-02
	// geo: feature 1 (id "Z-02") at geometry.coordinates[0]: ring_unclosed: ring is not closed: first position [120.92, 31.98] differs from last [120.92, 31.99]; repeat the first position at the end
}

// Which zone is a stall in?
func ExampleZoneIndex_Locate() {
	zones := []geo.Feature{{
		ID: "Z-01", Kind: geo.KindZone, Name: "美食广场",
		Geometry: orb.Polygon{{{120.90, 31.98}, {120.91, 31.98}, {120.91, 31.99}, {120.90, 31.99}, {120.90, 31.98}}},
	}}
	zi, err := geo.NewZoneIndex(zones)
	if err != nil {
		panic(err)
	}
	ids, _ := zi.Locate(orb.Point{120.905, 31.985})
	fmt.Println(ids)
	// Output: [Z-01]
}

// The nearest stalls to a positive result, and all stalls within 500 m.
func ExampleIndex() {
	ix, err := geo.NewIndex([]geo.Item{
		{ID: "S-001", Point: orb.Point{120.9050, 31.9850}},
		{ID: "S-002", Point: orb.Point{120.9060, 31.9850}},
		{ID: "S-003", Point: orb.Point{120.9300, 31.9850}},
	})
	if err != nil {
		panic(err)
	}
	near, _ := ix.Nearest(orb.Point{120.9052, 31.9850}, 2)
	for _, h := range near {
		fmt.Printf("%s %.0f m\n", h.ID, h.Metres)
	}
	within, _ := ix.Within(orb.Point{120.9052, 31.9850}, 500)
	fmt.Println(len(within), "within 500 m")
	// Output:
	// S-001 19 m
	// S-002 76 m
	// 2 within 500 m
}

// Convert a stored WGS-84 position for an AutoNavi (GCJ-02) or Baidu
// (BD-09) base map.
func ExampleWGS84ToGCJ02() {
	p := orb.Point{120.905, 31.985} // WGS-84, as stored
	g := geo.WGS84ToGCJ02(p)
	b := geo.WGS84ToBD09(p)
	fmt.Printf("GCJ-02 %.6f %.6f\n", g[0], g[1])
	fmt.Printf("BD-09  %.6f %.6f\n", b[0], b[1])
	back := geo.GCJ02ToWGS84(g)
	fmt.Printf("back   %.6f %.6f\n", back[0], back[1])
	// Output:
	// GCJ-02 120.909216 31.982828
	// BD-09  120.915798 31.988506
	// back   120.905000 31.985000
}

// Three organophosphate positives within 500 m and 24 h raise a cluster
// warning (聚集性预警).
func ExampleFindClusters() {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	ev := []geo.Event{
		{ID: "r1", Point: orb.Point{120.9050, 31.9850}, Time: t0, Analyte: "organophosphate"},
		{ID: "r2", Point: orb.Point{120.9060, 31.9855}, Time: t0.Add(2 * time.Hour), Analyte: "organophosphate"},
		{ID: "r3", Point: orb.Point{120.9045, 31.9860}, Time: t0.Add(5 * time.Hour), Analyte: "organophosphate"},
		{ID: "r4", Point: orb.Point{120.9050, 31.9850}, Time: t0, Analyte: "clenbuterol"},
	}
	cs, _ := geo.FindClusters(ev, geo.DefaultClusterParams)
	for _, c := range cs {
		fmt.Println(c.Analyte, len(c.Members), c.End.Sub(c.Start))
	}
	// Output: organophosphate 3 5h0m0s
}

// Send the nearest free team.
func ExampleNearestAvailable() {
	teams := []geo.Candidate{
		{ID: "T-01", Point: orb.Point{120.900, 31.980}, Available: false},
		{ID: "T-02", Point: orb.Point{120.910, 31.990}, Available: true},
		{ID: "T-03", Point: orb.Point{120.950, 32.000}, Available: true},
	}
	t, m, err := geo.NearestAvailable(orb.Point{120.905, 31.985}, teams)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %.0f m\n", t.ID, m)
	// Output: T-02 730 m
}

// Order a patrol's stops.
func ExamplePlanPatrol() {
	stops := []orb.Point{{120.93, 31.99}, {120.91, 31.99}, {120.92, 31.99}}
	r, _ := geo.PlanPatrol(orb.Point{120.90, 31.99}, stops, geo.PatrolOptions{})
	fmt.Println(r.Order, fmt.Sprintf("%.0f m", r.Metres))
	// Output: [1 2 0] 2832 m
}

// A buntdb spatial index over stored JSON values with "loc": [lon, lat].
func ExampleRectFromJSON() {
	min, max := geo.RectFromJSON(`{"id":"r1","loc":[120.905,31.985]}`)
	fmt.Println(min, max)
	min, _ = geo.RectFromJSON(`{"id":"r2","loc":[120.905]}`) // malformed: not indexed
	fmt.Println(min == nil)
	// Output:
	// [120.905 31.985] [120.905 31.985]
	// true
}
