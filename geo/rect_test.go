package geo

import (
	"math"
	"sync"
	"testing"
)

func TestRectFromJSON(t *testing.T) {
	pt := func(lon, lat float64) []float64 { return []float64{lon, lat} }
	for _, c := range []struct {
		in       string
		min, max []float64
	}{
		{`{"loc":[120.9,31.98]}`, pt(120.9, 31.98), pt(120.9, 31.98)},
		{`{"id":"r1","loc":[ -180 , 90 ],"v":{"loc":[0,0]}}`, pt(-180, 90), pt(-180, 90)},
		{`{"loc":[1e2,-3.5e1]}`, pt(100, -35), pt(100, -35)},
		{`[120.9 31.98]`, pt(120.9, 31.98), pt(120.9, 31.98)},
		{`[121 32],[120.9 31.98]`, pt(120.9, 31.98), pt(121, 32)},
		{`[179.99 -10],[180 10]`, pt(179.99, -10), pt(180, 10)},
		// Not indexed:
		{`{"loc":[120.9,31.98]`, nil, nil},      // truncated
		{`{"loc":[120.9]}`, nil, nil},           // one number
		{`{"loc":[120.9,31.98,5]}`, nil, nil},   // three numbers
		{`{"loc":["120.9","31.98"]}`, nil, nil}, // strings
		{`{"loc":{"lon":1,"lat":2}}`, nil, nil}, // object
		{`{"loc":[181,0]}`, nil, nil},           // lon out of range
		{`{"loc":[0,-90.5]}`, nil, nil},         // lat out of range
		{`{"loc":[1e999,0]}`, nil, nil},         // overflows to +Inf
		{`{"lon":120.9,"lat":31.98}`, nil, nil}, // the other convention: not ours
		{`{"loc":null}`, nil, nil},
		{``, nil, nil},
		{`null`, nil, nil},
		{`[1,2]`, nil, nil},
		{`[1 2 3]`, nil, nil},
		{`[NaN 1]`, nil, nil},
		{`[Inf 1]`, nil, nil},
		{`[1 2],[3 4],[5 6]`, nil, nil},
		{"\x00\xff{", nil, nil},
	} {
		min, max := RectFromJSON(c.in)
		if !floatsEq(min, c.min) || !floatsEq(max, c.max) {
			t.Errorf("RectFromJSON(%q) = %v, %v; want %v, %v", c.in, min, max, c.min, c.max)
		}
	}
}

func floatsEq(a, b []float64) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

func TestRectStats(t *testing.T) {
	var s RectStats
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Rect(`{"loc":[1,2]}`)
			s.Rect(`{"loc":"x"}`)
			s.Rect(`[1 2]`) // a query's bounds: not counted
		}()
	}
	wg.Wait()
	if s.Indexed() != 4 || s.Skipped() != 4 {
		t.Fatalf("indexed %d skipped %d, want 4 and 4", s.Indexed(), s.Skipped())
	}
}
