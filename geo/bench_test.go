package geo

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// The index benchmarks and their brute-force baselines run on the same
// 10,000 points and queries, so the report is a ratio measured in one run:
//
//	go test -run XXX -bench 'Nearest|Within' ./geo

func benchPoints(n int) ([]Item, []orb.Point) {
	rng := rand.New(rand.NewPCG(10, 10))
	items := make([]Item, n)
	for i := range items {
		// A city-sized spread around Nantong: the realistic case.
		items[i] = Item{ID: fmt.Sprintf("S-%05d", i), Point: orb.Point{120.6 + rng.Float64()*0.6, 31.8 + rng.Float64()*0.4}}
	}
	qs := make([]orb.Point, 256)
	for i := range qs {
		qs[i] = orb.Point{120.6 + rng.Float64()*0.6, 31.8 + rng.Float64()*0.4}
	}
	return items, qs
}

func BenchmarkNearestIndex10k(b *testing.B) {
	items, qs := benchPoints(10_000)
	ix, _ := NewIndex(items)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Nearest(qs[i%len(qs)], 5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNearestBrute10k(b *testing.B) {
	items, qs := benchPoints(10_000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_ = scanNearest(items, qs[i%len(qs)], 5)
	}
}

// scanNearest is the fair brute-force baseline: one pass computing every
// haversine distance, keeping the k best (no full sort).
func scanNearest(items []Item, p orb.Point, k int) []Hit {
	best := make([]Hit, 0, k+1)
	for _, it := range items {
		d := Distance(p, it.Point)
		if len(best) == k && (d > best[k-1].Metres || (d == best[k-1].Metres && it.ID > best[k-1].ID)) {
			continue
		}
		j := len(best)
		best = append(best, Hit{})
		for j > 0 && (best[j-1].Metres > d || (best[j-1].Metres == d && best[j-1].ID > it.ID)) {
			best[j] = best[j-1]
			j--
		}
		best[j] = Hit{Item: it, Metres: d}
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}

func TestScanNearestBaseline(t *testing.T) {
	items, qs := benchPoints(2000)
	for _, q := range qs[:20] {
		sameHits(t, "scanNearest", scanNearest(items, q, 5), bruteNearest(items, q, 5))
	}
}

func BenchmarkWithinIndex10k(b *testing.B) {
	items, qs := benchPoints(10_000)
	ix, _ := NewIndex(items)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Within(qs[i%len(qs)], 500); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWithinBrute10k(b *testing.B) {
	items, qs := benchPoints(10_000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_ = bruteWithin(items, qs[i%len(qs)], 500)
	}
}

func BenchmarkBuildIndex10k(b *testing.B) {
	items, _ := benchPoints(10_000)
	for b.Loop() {
		if _, err := NewIndex(items); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRectFromJSON(b *testing.B) {
	v := `{"id":"01J9Z6Q1","kiosk":"K-01","seq":42,"loc":[120.9051,31.9853],"verdict":"positive"}`
	for b.Loop() {
		RectFromJSON(v)
	}
}
