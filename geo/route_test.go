package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"pgregory.net/rapid"
)

func nantongStops(t *rapid.T, n int) []orb.Point {
	stops := make([]orb.Point, n)
	for i := range stops {
		stops[i] = orb.Point{rapid.Float64Range(120.85, 121.0).Draw(t, "lon"), rapid.Float64Range(31.95, 32.05).Draw(t, "lat")}
	}
	return stops
}

func permutations(n int, fn func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(int)
	rec = func(k int) {
		if k == n {
			fn(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

func isPermutation(order []int, n int) bool {
	s := slices.Clone(order)
	slices.Sort(s)
	for i := range s {
		if s[i] != i {
			return false
		}
	}
	return len(s) == n
}

func TestPatrolOptimalSmall(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 7).Draw(t, "n")
		start := orb.Point{120.92, 31.99}
		stops := nantongStops(t, n)
		closed := rapid.Bool().Draw(t, "closed")
		r, err := PlanPatrol(start, stops, PatrolOptions{ReturnToStart: closed})
		if err != nil {
			t.Fatal(err)
		}
		if !isPermutation(r.Order, n) {
			t.Fatalf("order %v does not visit each of %d stops once", r.Order, n)
		}
		m := newDistMatrix(start, stops)
		best := math.Inf(1)
		permutations(n, func(p []int) { best = math.Min(best, m.length(p, closed)) })
		if n == 0 {
			best = 0
		}
		if math.Abs(r.Metres-best) > 1e-6 {
			t.Fatalf("route %.3f m, brute-force optimum %.3f m", r.Metres, best)
		}
		again, _ := PlanPatrol(start, stops, PatrolOptions{ReturnToStart: closed})
		if !slices.Equal(again.Order, r.Order) {
			t.Fatal("not deterministic")
		}
	})
}

func TestPatrolTwoOptNeverWorse(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 60).Draw(t, "n")
		start := orb.Point{120.92, 31.99}
		stops := nantongStops(t, n)
		closed := rapid.Bool().Draw(t, "closed")
		m := newDistMatrix(start, stops)
		nn := m.nearestNeighbour()
		opt := slices.Clone(nn)
		m.twoOpt(opt, closed)
		if !isPermutation(opt, n) {
			t.Fatalf("2-opt order %v is not a permutation", opt)
		}
		if m.length(opt, closed) > m.length(nn, closed)+1e-9 {
			t.Fatalf("2-opt %.3f m longer than nearest-neighbour %.3f m", m.length(opt, closed), m.length(nn, closed))
		}
	})
}

func TestPatrolLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	stops := make([]orb.Point, 200)
	for i := range stops {
		stops[i] = orb.Point{120.85 + rng.Float64()*0.15, 31.95 + rng.Float64()*0.1}
	}
	start := orb.Point{120.92, 31.99}
	r, err := PlanPatrol(start, stops, PatrolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !isPermutation(r.Order, len(stops)) {
		t.Fatal("not a permutation")
	}
	m := newDistMatrix(start, stops)
	if r.Metres > m.length(m.nearestNeighbour(), false) {
		t.Fatal("longer than nearest-neighbour")
	}
	again, _ := PlanPatrol(start, stops, PatrolOptions{})
	if !slices.Equal(again.Order, r.Order) || again.Metres != r.Metres {
		t.Fatal("not deterministic")
	}
}

func TestPatrolRejects(t *testing.T) {
	if _, err := PlanPatrol(orb.Point{math.NaN(), 0}, nil, PatrolOptions{}); ErrorCode(err) != CodeNotFinite {
		t.Fatalf("NaN start: %v", err)
	}
	_, err := PlanPatrol(orb.Point{0, 0}, []orb.Point{{1, 1}, {1, 100}}, PatrolOptions{})
	var ge *Error
	if ErrorCode(err) != CodeOutOfRange || !asError(err, &ge) || ge.Feature != 1 {
		t.Fatalf("bad stop: %v", err)
	}
	r, err := PlanPatrol(orb.Point{0, 0}, nil, PatrolOptions{})
	if err != nil || len(r.Order) != 0 || r.Metres != 0 {
		t.Fatalf("no stops: %v %v", r, err)
	}
}

func TestNearestAvailable(t *testing.T) {
	target := orb.Point{120.9, 31.98}
	cands := []Candidate{
		{ID: "T-03", Point: orb.Point{120.9, 31.99}, Available: true},
		{ID: "T-02", Point: orb.Point{120.9, 31.99}, Available: true}, // same place as T-03
		{ID: "T-01", Point: orb.Point{120.9, 31.9801}, Available: false},
		{ID: "T-00", Point: orb.Point{math.NaN(), 31.98}, Available: true},
		{ID: "T-04", Point: orb.Point{121.2, 31.98}, Available: true},
	}
	c, d, err := NearestAvailable(target, cands)
	if err != nil || c.ID != "T-02" || math.Abs(d-Distance(target, cands[1].Point)) > 0 {
		t.Fatalf("got %v %.1f %v; want T-02 (tie with T-03 broken by id)", c.ID, d, err)
	}
	if _, _, err := NearestAvailable(target, cands[2:3]); err != ErrNoneAvailable {
		t.Fatalf("none available: %v", err)
	}
	if _, _, err := NearestAvailable(orb.Point{200, 0}, cands); ErrorCode(err) != CodeOutOfRange {
		t.Fatalf("bad target: %v", err)
	}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 30).Draw(t, "n")
		cs := make([]Candidate, n)
		for i := range cs {
			cs[i] = Candidate{ID: rapid.StringMatching(`T-[0-9]{2}`).Draw(t, "id"), Point: awkwardPoint().Draw(t, "p"), Available: rapid.Bool().Draw(t, "a")}
		}
		q := awkwardPoint().Draw(t, "q")
		got, gd, err := NearestAvailable(q, cs)
		var want *Candidate
		wd := 0.0
		for i := range cs {
			c := &cs[i]
			if !c.Available {
				continue
			}
			d := Distance(q, c.Point)
			if want == nil || d < wd || (d == wd && c.ID < want.ID) {
				want, wd = c, d
			}
		}
		if want == nil {
			if err != ErrNoneAvailable {
				t.Fatalf("want ErrNoneAvailable, got %v", err)
			}
			return
		}
		if err != nil || got.ID != want.ID || gd != wd {
			t.Fatalf("got %s %.3f %v; want %s %.3f", got.ID, gd, err, want.ID, wd)
		}
	})
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
