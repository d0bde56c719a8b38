package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// PatrolOptions tune [PlanPatrol].
type PatrolOptions struct {
	// ReturnToStart closes the route: the patrol ends where it began.
	ReturnToStart bool
}

// Route is a visiting order over a patrol's stops.
type Route struct {
	// Order lists indexes into the stops slice, each exactly once, in
	// visiting order.
	Order []int
	// Metres is the total great-circle length from the start through every
	// stop (and back, with ReturnToStart).
	Metres float64
}

// exactStops is the largest stop count solved exactly (Held–Karp dynamic
// programming, O(2ⁿ·n²): about 0.6 M steps at 12).
const exactStops = 12

// MaxPatrolStops bounds PlanPatrol's input: the heuristic keeps an n×n
// distance table and 2-opt is O(n²) per pass.
const MaxPatrolStops = 5000

// PlanPatrol orders stops for a patrol that leaves from start. Up to 12
// stops the order is optimal; beyond that it is nearest-neighbour improved
// by 2-opt, which is never longer than nearest-neighbour alone. The result
// is deterministic: ties go to the lower stop index. Invalid positions are
// rejected with an *Error naming the stop's index.
func PlanPatrol(start orb.Point, stops []orb.Point, opt PatrolOptions) (Route, error) {
	if err := ValidatePoint(start); err != nil {
		return Route{}, err
	}
	for i, s := range stops {
		if e := checkPosition(s); e != nil {
			return Route{}, e.at(i, "", "")
		}
	}
	if len(stops) > MaxPatrolStops {
		return Route{}, errorf(CodeTooLarge, -1, "", "", "%d stops is over the limit of %d; split the patrol", len(stops), MaxPatrolStops)
	}
	if len(stops) == 0 {
		return Route{Order: []int{}}, nil
	}
	m := newDistMatrix(start, stops)
	var order []int
	if len(stops) <= exactStops {
		order = m.heldKarp(opt.ReturnToStart)
	} else {
		order = m.nearestNeighbour()
		m.twoOpt(order, opt.ReturnToStart)
	}
	return Route{Order: order, Metres: m.length(order, opt.ReturnToStart)}, nil
}

// distMatrix holds distances between node 0 (the start) and nodes 1..n
// (stop i is node i+1).
type distMatrix struct {
	n int // stops
	d []float64
}

func newDistMatrix(start orb.Point, stops []orb.Point) *distMatrix {
	pts := append([]orb.Point{start}, stops...)
	n := len(pts)
	m := &distMatrix{n: len(stops), d: make([]float64, n*n)}
	for i := range n {
		for j := i + 1; j < n; j++ {
			v := Distance(pts[i], pts[j])
			m.d[i*n+j], m.d[j*n+i] = v, v
		}
	}
	return m
}

// at returns the distance between nodes a and b.
func (m *distMatrix) at(a, b int) float64 { return m.d[a*(m.n+1)+b] }

// length of a route given as stop indexes.
func (m *distMatrix) length(order []int, closed bool) float64 {
	total, prev := 0.0, 0
	for _, s := range order {
		total += m.at(prev, s+1)
		prev = s + 1
	}
	if closed {
		total += m.at(prev, 0)
	}
	return total
}

func (m *distMatrix) nearestNeighbour() []int {
	used := make([]bool, m.n)
	order := make([]int, 0, m.n)
	cur := 0
	for range m.n {
		best, bestD := -1, math.Inf(1)
		for s := range m.n {
			if !used[s] && m.at(cur, s+1) < bestD {
				best, bestD = s, m.at(cur, s+1)
			}
		}
		used[best] = true
		order = append(order, best)
		cur = best + 1
	}
	return order
}

// twoOpt improves order in place by reversing segments while that
// shortens the route (first improvement, strictly shorter by > 1 mm).
func (m *distMatrix) twoOpt(order []int, closed bool) {
	n := len(order)
	node := func(i int) int { // position i in the path: -1 is the start, n the end
		if i < 0 {
			return 0
		}
		if i >= n {
			return -1
		}
		return order[i] + 1
	}
	edge := func(a, b int) float64 {
		if b == -1 {
			if closed {
				return m.at(a, 0)
			}
			return 0
		}
		return m.at(a, b)
	}
	for improved := true; improved; {
		improved = false
		for i := 0; i < n-1; i++ {
			for j := i + 1; j < n; j++ {
				a, b, c, d := node(i-1), node(i), node(j), node(j+1)
				delta := m.at(a, c) + edge(b, d) - m.at(a, b) - edge(c, d)
				if delta < -1e-3 {
					for l, r := i, j; l < r; l, r = l+1, r-1 {
						order[l], order[r] = order[r], order[l]
					}
					improved = true
				}
			}
		}
	}
}

// heldKarp returns an optimal order (ties: the lexicographically first
// found by increasing indexes).
func (m *distMatrix) heldKarp(closed bool) []int {
	n := m.n
	full := 1<<n - 1
	dp := make([]float64, (full+1)*n)
	from := make([]int8, (full+1)*n)
	for i := range dp {
		dp[i] = math.Inf(1)
	}
	for j := range n {
		dp[(1<<j)*n+j] = m.at(0, j+1)
		from[(1<<j)*n+j] = -1
	}
	for mask := 1; mask <= full; mask++ {
		for j := range n {
			cur := dp[mask*n+j]
			if mask&(1<<j) == 0 || math.IsInf(cur, 1) {
				continue
			}
			for k := range n {
				if mask&(1<<k) != 0 {
					continue
				}
				nm := mask | 1<<k
				if v := cur + m.at(j+1, k+1); v < dp[nm*n+k] {
					dp[nm*n+k] = v
					from[nm*n+k] = int8(j)
				}
			}
		}
	}
	best, bestD := 0, math.Inf(1)
	for j := range n {
		v := dp[full*n+j]
		if closed {
			v += m.at(j+1, 0)
		}
		if v < bestD {
			best, bestD = j, v
		}
	}
	order := make([]int, n)
	mask, j := full, best
	for i := n - 1; i >= 0; i-- {
		order[i] = j
		pj := int(from[mask*n+j])
		mask &^= 1 << j
		j = pj
	}
	return order
}
