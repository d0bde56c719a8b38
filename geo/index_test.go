package geo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"pgregory.net/rapid"
)

// awkwardPoint draws a valid position, biased towards the places where
// planar lon/lat indexes go wrong: the antimeridian, the poles, the exact
// edges of the coordinate range, and repeated positions.
func awkwardPoint() *rapid.Generator[orb.Point] {
	return rapid.Custom(func(t *rapid.T) orb.Point {
		switch rapid.IntRange(0, 6).Draw(t, "where") {
		case 0: // anywhere, uniform on the sphere
			lon := rapid.Float64Range(-180, 180).Draw(t, "lon")
			z := rapid.Float64Range(-1, 1).Draw(t, "z")
			return orb.Point{lon, math.Asin(z) * 180 / math.Pi}
		case 1: // near the antimeridian
			lon := 180 - rapid.Float64Range(0, 0.05).Draw(t, "dlon")
			if rapid.Bool().Draw(t, "west") {
				lon = -lon
			}
			return orb.Point{lon, rapid.Float64Range(-60, 60).Draw(t, "lat")}
		case 2: // near a pole
			lat := 90 - rapid.Float64Range(0, 0.05).Draw(t, "dlat")
			if rapid.Bool().Draw(t, "south") {
				lat = -lat
			}
			return orb.Point{rapid.Float64Range(-180, 180).Draw(t, "lon"), lat}
		case 3: // exact range edges
			return rapid.SampledFrom([]orb.Point{{180, 0}, {-180, 0}, {0, 90}, {0, -90}, {180, 90}, {-180, -90}, {0, 0}}).Draw(t, "edge")
		default: // Nantong, where the demo runs
			return orb.Point{rapid.Float64Range(120.8, 121.0).Draw(t, "lon"), rapid.Float64Range(31.9, 32.1).Draw(t, "lat")}
		}
	})
}

func invalidPoint() *rapid.Generator[orb.Point] {
	return rapid.SampledFrom([]orb.Point{
		{math.NaN(), 0}, {0, math.NaN()}, {math.Inf(1), 0}, {math.Inf(-1), 10}, {0, math.Inf(1)},
		{0, 90.0000001}, {0, -90.5}, {180.000001, 0}, {-181, 0}, {10, 91},
	})
}

func bruteWithin(items []Item, p orb.Point, r float64) []Hit {
	var hits []Hit
	for _, it := range items {
		if d := Distance(p, it.Point); d <= r {
			hits = append(hits, Hit{Item: it, Metres: d})
		}
	}
	sortHits(hits)
	return hits
}

func bruteNearest(items []Item, p orb.Point, k int) []Hit {
	hits := make([]Hit, 0, len(items))
	for _, it := range items {
		hits = append(hits, Hit{Item: it, Metres: Distance(p, it.Point)})
	}
	sortHits(hits)
	if len(hits) > k {
		hits = hits[:k]
	}
	if len(hits) == 0 {
		return nil
	}
	return hits
}

func sameHits(t interface{ Fatalf(string, ...any) }, what string, got, want []Hit) {
	if len(got) != len(want) {
		t.Fatalf("%s: got %d hits, brute force %d\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Metres != want[i].Metres {
			t.Fatalf("%s: hit %d is %v, brute force %v", what, i, got[i], want[i])
		}
	}
}

func TestIndexMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 300).Draw(t, "n")
		var b IndexBuilder
		var valid []Item
		for i := range n {
			var p orb.Point
			bad := rapid.IntRange(0, 9).Draw(t, "bad") == 0
			if bad {
				p = invalidPoint().Draw(t, "invalid")
			} else {
				p = awkwardPoint().Draw(t, "p")
			}
			it := Item{ID: fmt.Sprintf("r%04d", i), Point: p}
			err := b.Add(it)
			if bad {
				c := ErrorCode(err)
				if c != CodeNotFinite && c != CodeOutOfRange {
					t.Fatalf("invalid point %v: got error %v, want not_finite or out_of_range", p, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("valid point %v rejected: %v", p, err)
			}
			valid = append(valid, it)
		}
		ix := b.Build()
		if ix.Len() != len(valid) {
			t.Fatalf("index holds %d items, want %d (invalid ones must never be indexed)", ix.Len(), len(valid))
		}
		for q := range 5 {
			c := awkwardPoint().Draw(t, fmt.Sprintf("q%d", q))
			r := math.Pow(10, rapid.Float64Range(0, 7.4).Draw(t, "log10r"))
			got, err := ix.Within(c, r)
			if err != nil {
				t.Fatal(err)
			}
			sameHits(t, fmt.Sprintf("Within(%v, %g)", c, r), got, bruteWithin(valid, c, r))
			k := rapid.IntRange(1, 20).Draw(t, "k")
			got, err = ix.Nearest(c, k)
			if err != nil {
				t.Fatal(err)
			}
			sameHits(t, fmt.Sprintf("Nearest(%v, %d)", c, k), got, bruteNearest(valid, c, k))
		}
	})
}

// TestIndex10000 is docs/reliability.md test 21 at full size: 10,000 random
// results including antimeridian and polar points and invalid coordinates.
func TestIndex10000(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	var b IndexBuilder
	var valid []Item
	rejected := 0
	for i := range 10_000 {
		p := randomAwkward(rng)
		if i%50 == 0 {
			p = []orb.Point{{math.NaN(), 1}, {1, math.Inf(-1)}, {0, 95}, {-200, 0}}[i/50%4]
		}
		it := Item{ID: fmt.Sprintf("res-%05d", i), Point: p}
		if err := b.Add(it); err != nil {
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("Add(%v) error %v is not a *geo.Error", p, err)
			}
			rejected++
			continue
		}
		valid = append(valid, it)
	}
	if rejected != 200 {
		t.Fatalf("rejected %d items, want 200", rejected)
	}
	ix := b.Build()
	for q := range 300 {
		c := randomAwkward(rng)
		r := math.Pow(10, rng.Float64()*7)
		got, _ := ix.Within(c, r)
		sameHits(t, fmt.Sprintf("query %d Within(%v, %g)", q, c, r), got, bruteWithin(valid, c, r))
		k := 1 + rng.IntN(30)
		got, _ = ix.Nearest(c, k)
		sameHits(t, fmt.Sprintf("query %d Nearest(%v, %d)", q, c, k), got, bruteNearest(valid, c, k))
	}
}

func randomAwkward(rng *rand.Rand) orb.Point {
	switch rng.IntN(4) {
	case 0:
		return orb.Point{180 - rng.Float64()*0.5, rng.Float64()*120 - 60}
	case 1:
		return orb.Point{-180 + rng.Float64()*0.5, rng.Float64()*120 - 60}
	case 2:
		return orb.Point{rng.Float64()*360 - 180, 90 - rng.Float64()*0.5}
	}
	return orb.Point{rng.Float64()*360 - 180, math.Asin(rng.Float64()*2-1) * 180 / math.Pi}
}

func TestIndexRejects(t *testing.T) {
	_, err := NewIndex([]Item{{ID: "a", Point: orb.Point{1, 1}}, {ID: "b", Point: orb.Point{1, math.NaN()}}})
	var ge *Error
	if !errors.As(err, &ge) || ge.Code != CodeNotFinite || ge.Feature != 1 || ge.ID != "b" {
		t.Fatalf("NaN item: got %#v", err)
	}
	_, err = NewIndex([]Item{{ID: "a", Point: orb.Point{1, 1}}, {ID: "a", Point: orb.Point{2, 2}}})
	if ErrorCode(err) != CodeDuplicateID {
		t.Fatalf("duplicate id: got %v", err)
	}
	_, err = NewIndex([]Item{{ID: "", Point: orb.Point{1, 1}}})
	if ErrorCode(err) != CodeProperty {
		t.Fatalf("empty id: got %v", err)
	}
	ix, _ := NewIndex(nil)
	if _, err := ix.Within(orb.Point{0, 100}, 10); ErrorCode(err) != CodeOutOfRange {
		t.Fatalf("query at lat 100: got %v", err)
	}
	if _, err := ix.Within(orb.Point{0, 0}, -1); ErrorCode(err) != CodeInvalidArgument {
		t.Fatalf("negative radius: got %v", err)
	}
	if _, err := ix.Nearest(orb.Point{0, 0}, -1); ErrorCode(err) != CodeInvalidArgument {
		t.Fatalf("negative k: got %v", err)
	}
	if h, err := ix.Nearest(orb.Point{0, 0}, 3); err != nil || h != nil {
		t.Fatalf("empty index: got %v, %v", h, err)
	}
}

func TestSearchBoundsCoverCircle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := awkwardPoint().Draw(t, "c")
		r := math.Pow(10, rapid.Float64Range(0, 7).Draw(t, "log10r"))
		p := awkwardPoint().Draw(t, "p")
		bs, err := SearchBounds(c, r)
		if err != nil {
			t.Fatal(err)
		}
		if Distance(c, p) > r {
			return
		}
		for _, b := range bs {
			if b.Contains(p) {
				return
			}
		}
		t.Fatalf("point %v at %.3f m from %v (r = %g) is in none of %v", p, Distance(c, p), c, r, bs)
	})
}

func TestSearchBoundsSplitAtAntimeridian(t *testing.T) {
	bs, err := SearchBounds(orb.Point{179.999, 0}, 1000)
	if err != nil || len(bs) != 2 {
		t.Fatalf("got %v, %v; want two boxes", bs, err)
	}
	bs, _ = SearchBounds(orb.Point{0, 89.999}, 1000)
	if len(bs) != 1 || bs[0].Min[0] != -180 || bs[0].Max[0] != 180 {
		t.Fatalf("near the pole got %v; want all longitudes", bs)
	}
	min, max := RectFromJSON(RectString(bs[0]))
	if min == nil || min[0] != -180 || max[0] != 180 || max[1] != 90 {
		t.Fatalf("RectString(%v) = %q does not read back: %v %v", bs[0], RectString(bs[0]), min, max)
	}
}

func TestDistanceAntipodal(t *testing.T) {
	d := Distance(orb.Point{0, 0}, orb.Point{180, 0})
	if math.IsNaN(d) || math.Abs(d-math.Pi*EarthRadius) > 1e-3 {
		t.Fatalf("antipodal distance %v", d)
	}
	if !math.IsNaN(Distance(orb.Point{math.NaN(), 0}, orb.Point{0, 0})) {
		t.Fatal("NaN input must give NaN")
	}
}
