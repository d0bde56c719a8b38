package geo

import (
	"math"
	"slices"
)

// This file is a small static R-tree over 3-D boxes, bulk-loaded with the
// Sort-Tile-Recursive (STR) algorithm. Points are indexed as unit vectors on
// the sphere (see Index), so Euclidean distance in the tree is the chord
// length, which is monotonic with great-circle distance and has no seam at
// the antimeridian and no singularity at the poles. Zones are indexed as
// their lon/lat bounding boxes with z = 0. See
// docs/decisions/0001-geo-index.md for why.

const rtreeFanout = 16

type box struct{ min, max [3]float64 }

func pointBox(v [3]float64) box { return box{min: v, max: v} }

func (b *box) extend(o box) {
	for d := 0; d < 3; d++ {
		b.min[d] = math.Min(b.min[d], o.min[d])
		b.max[d] = math.Max(b.max[d], o.max[d])
	}
}

func (b box) center(d int) float64 { return (b.min[d] + b.max[d]) / 2 }

// dist2 is the squared Euclidean distance from v to the nearest point of b
// (0 when v is inside).
func (b box) dist2(v [3]float64) float64 {
	s := 0.0
	for d := 0; d < 3; d++ {
		if v[d] < b.min[d] {
			x := b.min[d] - v[d]
			s += x * x
		} else if v[d] > b.max[d] {
			x := v[d] - b.max[d]
			s += x * x
		}
	}
	return s
}

func (b box) intersects(o box) bool {
	for d := 0; d < 3; d++ {
		if b.min[d] > o.max[d] || b.max[d] < o.min[d] {
			return false
		}
	}
	return true
}

type rnode struct {
	b    box
	leaf bool // children are entry indexes, not node indexes
	kids []int32
}

// rtree is immutable after build and safe for concurrent readers.
type rtree struct {
	nodes []rnode
	boxes []box // entry boxes, by entry index
	root  int32 // -1 when empty
}

type rentry struct {
	b  box
	id int32 // entry index (leaf level) or node index (upper levels)
}

func buildRTree(boxes []box) rtree {
	t := rtree{boxes: boxes, root: -1}
	if len(boxes) == 0 {
		return t
	}
	level := make([]rentry, len(boxes))
	for i, b := range boxes {
		level[i] = rentry{b: b, id: int32(i)}
	}
	leaf := true
	for {
		groups := strGroups(level)
		next := make([]rentry, 0, len(groups))
		for _, g := range groups {
			n := rnode{b: g[0].b, leaf: leaf, kids: make([]int32, len(g))}
			for i, e := range g {
				n.b.extend(e.b)
				n.kids[i] = e.id
			}
			t.nodes = append(t.nodes, n)
			next = append(next, rentry{b: n.b, id: int32(len(t.nodes) - 1)})
		}
		leaf = false
		if len(next) == 1 {
			t.root = next[0].id
			return t
		}
		level = next
	}
}

// strGroups tiles entries into groups of at most rtreeFanout: sort by x,
// cut into slabs, sort each slab by y, cut into strips, sort each strip by
// z, cut into runs.
func strGroups(es []rentry) [][]rentry {
	n := len(es)
	pages := (n + rtreeFanout - 1) / rtreeFanout
	s := int(math.Ceil(math.Cbrt(float64(pages))))
	var out [][]rentry
	byDim := func(d int) func(a, b rentry) int {
		return func(a, b rentry) int {
			ca, cb := a.b.center(d), b.b.center(d)
			switch {
			case ca < cb:
				return -1
			case ca > cb:
				return 1
			}
			return int(a.id - b.id)
		}
	}
	slices.SortFunc(es, byDim(0))
	slab := ceilDiv(n, s)
	for i := 0; i < n; i += slab {
		x := es[i:min(i+slab, n)]
		slices.SortFunc(x, byDim(1))
		strip := ceilDiv(len(x), s)
		for j := 0; j < len(x); j += strip {
			y := x[j:min(j+strip, len(x))]
			slices.SortFunc(y, byDim(2))
			for k := 0; k < len(y); k += rtreeFanout {
				out = append(out, y[k:min(k+rtreeFanout, len(y))])
			}
		}
	}
	return out
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}

// searchBox calls fn for every entry whose box intersects q, until fn
// returns false.
func (t *rtree) searchBox(q box, fn func(entry int) bool) {
	if t.root < 0 {
		return
	}
	stack := []int32{t.root}
	for len(stack) > 0 {
		n := &t.nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if !n.b.intersects(q) {
			continue
		}
		for _, k := range n.kids {
			if n.leaf {
				if t.boxes[k].intersects(q) && !fn(int(k)) {
					return
				}
			} else {
				stack = append(stack, k)
			}
		}
	}
}

// within calls fn for every entry whose box lies within Euclidean distance
// r of v.
func (t *rtree) within(v [3]float64, r float64, fn func(entry int, d2 float64)) {
	if t.root < 0 {
		return
	}
	r2 := r * r
	stack := []int32{t.root}
	for len(stack) > 0 {
		n := &t.nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if n.b.dist2(v) > r2 {
			continue
		}
		for _, k := range n.kids {
			if n.leaf {
				if d2 := t.boxes[k].dist2(v); d2 <= r2 {
					fn(int(k), d2)
				}
			} else {
				stack = append(stack, k)
			}
		}
	}
}

// nearest yields entries in increasing Euclidean distance from v (best-first
// search), until fn returns false.
func (t *rtree) nearest(v [3]float64, fn func(entry int, d2 float64) bool) {
	if t.root < 0 {
		return
	}
	var q pq
	q.push(pqItem{d2: t.nodes[t.root].b.dist2(v), id: t.root, node: true})
	for q.len() > 0 {
		it := q.pop()
		if !it.node {
			if !fn(int(it.id), it.d2) {
				return
			}
			continue
		}
		n := &t.nodes[it.id]
		for _, k := range n.kids {
			if n.leaf {
				q.push(pqItem{d2: t.boxes[k].dist2(v), id: k})
			} else {
				q.push(pqItem{d2: t.nodes[k].b.dist2(v), id: k, node: true})
			}
		}
	}
}

type pqItem struct {
	d2   float64
	id   int32
	node bool
}

// pq is a binary min-heap on d2; entries come before nodes at equal
// distance, then lower ids first, so iteration order is deterministic.
type pq struct{ a []pqItem }

func (q *pq) len() int { return len(q.a) }

func (q *pq) less(i, j int) bool {
	a, b := q.a[i], q.a[j]
	if a.d2 != b.d2 {
		return a.d2 < b.d2
	}
	if a.node != b.node {
		return !a.node
	}
	return a.id < b.id
}

func (q *pq) push(it pqItem) {
	q.a = append(q.a, it)
	i := len(q.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.a[i], q.a[p] = q.a[p], q.a[i]
		i = p
	}
}

func (q *pq) pop() pqItem {
	top := q.a[0]
	last := len(q.a) - 1
	q.a[0] = q.a[last]
	q.a = q.a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && q.less(l, m) {
			m = l
		}
		if r < last && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.a[i], q.a[m] = q.a[m], q.a[i]
		i = m
	}
	return top
}
