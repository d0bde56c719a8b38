package geo

import (
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// validateGeometry checks g for the rules of RFC 7946 plus the simple
// feature rules we rely on (rings closed, not self-intersecting, holes
// inside their shell). lim caps ring sizes. Paths in errors are relative to
// "geometry.coordinates".
func validateGeometry(g orb.Geometry, lim Limits) *Error {
	switch g := g.(type) {
	case orb.Point:
		if e := checkPosition(g); e != nil {
			e.Path = "geometry.coordinates"
			return e
		}
		return nil
	case orb.Polygon:
		return validatePolygon(g, lim, "geometry.coordinates")
	case orb.MultiPolygon:
		if len(g) == 0 {
			return errorf(CodeEmpty, -1, "", "geometry.coordinates", "MultiPolygon has no polygons; send at least one")
		}
		for i, p := range g {
			if e := validatePolygon(p, lim, fmt.Sprintf("geometry.coordinates[%d]", i)); e != nil {
				return e
			}
		}
		return nil
	case nil:
		return errorf(CodeEmpty, -1, "", "geometry", "feature has no geometry; every feature needs one")
	default:
		return errorf(CodeWrongType, -1, "", "geometry.type", "geometry type %s is not supported; use Point, Polygon or MultiPolygon", g.GeoJSONType())
	}
}

func validatePolygon(p orb.Polygon, lim Limits, path string) *Error {
	if len(p) == 0 {
		return errorf(CodeEmpty, -1, "", path, "Polygon has no rings; the first ring is the outer boundary")
	}
	for i, r := range p {
		if e := validateRing(r, lim, fmt.Sprintf("%s[%d]", path, i)); e != nil {
			return e
		}
	}
	shell := p[0]
	for h := 1; h < len(p); h++ {
		hole := p[h]
		hp := fmt.Sprintf("%s[%d]", path, h)
		if a, b, ok := ringsCross(shell, hole); ok {
			return errorf(CodeHoleOutside, -1, "", hp,
				"hole %d edge %d crosses shell edge %d; a hole must lie inside the outer ring", h, b, a)
		}
		// With no proper crossings the hole is inside or outside the shell
		// (up to touching at shell vertices): the first vertex not on the
		// shell's boundary decides. Small rings get every vertex checked.
		all := len(hole)*len(shell) <= 1<<22
		for j, v := range hole {
			if onRing(shell, v) {
				continue
			}
			if !planar.RingContains(shell, v) {
				return errorf(CodeHoleOutside, -1, "", fmt.Sprintf("%s[%d]", hp, j),
					"hole %d has vertex [%v, %v] outside its shell (ring 0); a hole must lie inside the outer ring", h, v[0], v[1])
			}
			if !all {
				break
			}
		}
	}
	return nil
}

func validateRing(r orb.Ring, lim Limits, path string) *Error {
	if lim.MaxRingPositions > 0 && len(r) > lim.MaxRingPositions {
		return errorf(CodeTooLarge, -1, "", path, "ring has %d positions, over the limit of %d; simplify the boundary", len(r), lim.MaxRingPositions)
	}
	for j, v := range r {
		if e := checkPosition(v); e != nil {
			e.Path = fmt.Sprintf("%s[%d]", path, j)
			return e
		}
	}
	if len(r) < 4 {
		return errorf(CodeRingTooShort, -1, "", path, "ring has %d positions; a linear ring needs at least 4 (3 corners and the first repeated at the end)", len(r))
	}
	if r[0] != r[len(r)-1] {
		return errorf(CodeRingUnclosed, -1, "", path, "ring is not closed: first position [%v, %v] differs from last [%v, %v]; repeat the first position at the end",
			r[0][0], r[0][1], r[len(r)-1][0], r[len(r)-1][1])
	}
	v := distinctVertices(r)
	if len(v) < 3 {
		return errorf(CodeRingTooShort, -1, "", path, "ring has %d distinct vertices; it needs at least 3", len(v))
	}
	if collinear(v) {
		return errorf(CodeRingDegenerate, -1, "", path, "ring encloses no area (its vertices are collinear)")
	}
	if i, j, ok := selfIntersection(v); ok {
		return errorf(CodeSelfIntersection, -1, "", path, "ring edges %d and %d intersect; a ring must not cross or touch itself (reorder the vertices or split the zone)", i, j)
	}
	return nil
}

// distinctVertices returns the ring's vertices without the closing position
// and without consecutive repeats.
func distinctVertices(r orb.Ring) []orb.Point {
	v := make([]orb.Point, 0, len(r))
	for _, p := range r[:len(r)-1] {
		if len(v) == 0 || v[len(v)-1] != p {
			v = append(v, p)
		}
	}
	for len(v) > 1 && v[len(v)-1] == v[0] {
		v = v[:len(v)-1]
	}
	return v
}

// collinear reports whether all vertices lie on one line (v[0] != v[1]).
func collinear(v []orb.Point) bool {
	for i := 2; i < len(v); i++ {
		if orient(v[0], v[1], v[i]) != 0 {
			return false
		}
	}
	return true
}

func orient(a, b, c orb.Point) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// onRing reports whether p lies on an edge of r.
func onRing(r orb.Ring, p orb.Point) bool {
	for i := 0; i+1 < len(r); i++ {
		if orient(r[i], r[i+1], p) == 0 && onSegment(r[i], r[i+1], p) {
			return true
		}
	}
	return false
}

func onSegment(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

// segmentsIntersect reports whether closed segments ab and cd share a point.
func segmentsIntersect(a, b, c, d orb.Point) bool {
	o1, o2 := sign(orient(a, b, c)), sign(orient(a, b, d))
	o3, o4 := sign(orient(c, d, a)), sign(orient(c, d, b))
	if o1 != o2 && o3 != o4 && o1 != 0 && o2 != 0 && o3 != 0 && o4 != 0 {
		return true
	}
	return (o1 == 0 && onSegment(a, b, c)) || (o2 == 0 && onSegment(a, b, d)) ||
		(o3 == 0 && onSegment(c, d, a)) || (o4 == 0 && onSegment(c, d, b))
}

// segmentsCross reports whether ab and cd cross at a point interior to
// both (touching at an endpoint does not count).
func segmentsCross(a, b, c, d orb.Point) bool {
	o1, o2 := sign(orient(a, b, c)), sign(orient(a, b, d))
	o3, o4 := sign(orient(c, d, a)), sign(orient(c, d, b))
	return o1*o2 < 0 && o3*o4 < 0
}

type edge struct {
	i          int
	a, b       orb.Point
	minX, maxX float64
}

func edgesOf(v []orb.Point) []edge {
	n := len(v)
	es := make([]edge, n)
	for i := range n {
		a, b := v[i], v[(i+1)%n]
		es[i] = edge{i: i, a: a, b: b, minX: math.Min(a[0], b[0]), maxX: math.Max(a[0], b[0])}
	}
	slices.SortFunc(es, func(x, y edge) int {
		if x.minX != y.minX {
			if x.minX < y.minX {
				return -1
			}
			return 1
		}
		return x.i - y.i
	})
	return es
}

// selfIntersection finds two edges of the closed cycle v that intersect
// where they should not: non-adjacent edges sharing any point, or adjacent
// edges folding back over each other. It sweeps edges by x, so typical
// rings cost O(n log n).
func selfIntersection(v []orb.Point) (int, int, bool) {
	n := len(v)
	// Adjacent edges that fold back (a spike) overlap along a segment.
	for i := range n {
		a, b, c := v[i], v[(i+1)%n], v[(i+2)%n]
		if orient(a, b, c) == 0 && (b[0]-a[0])*(c[0]-b[0])+(b[1]-a[1])*(c[1]-b[1]) < 0 {
			return i, (i + 1) % n, true
		}
	}
	if n <= 3 {
		return 0, 0, false
	}
	es := edgesOf(v)
	for x := range es {
		for y := x + 1; y < len(es) && es[y].minX <= es[x].maxX; y++ {
			i, j := es[x].i, es[y].i
			if d := (i - j + n) % n; d == 1 || d == n-1 {
				continue
			}
			if segmentsIntersect(es[x].a, es[x].b, es[y].a, es[y].b) {
				return min(i, j), max(i, j), true
			}
		}
	}
	return 0, 0, false
}

// ringsCross reports an edge of r that properly crosses an edge of s.
func ringsCross(r, s orb.Ring) (int, int, bool) {
	type tagged struct {
		edge
		ring int
	}
	var all []tagged
	for k, ring := range []orb.Ring{r, s} {
		for i := 0; i+1 < len(ring); i++ {
			a, b := ring[i], ring[i+1]
			all = append(all, tagged{edge{i: i, a: a, b: b, minX: math.Min(a[0], b[0]), maxX: math.Max(a[0], b[0])}, k})
		}
	}
	slices.SortFunc(all, func(x, y tagged) int {
		if x.minX < y.minX {
			return -1
		} else if x.minX > y.minX {
			return 1
		}
		return 0
	})
	for x := range all {
		for y := x + 1; y < len(all) && all[y].minX <= all[x].maxX; y++ {
			if all[x].ring == all[y].ring {
				continue
			}
			if segmentsCross(all[x].a, all[x].b, all[y].a, all[y].b) {
				if all[x].ring == 0 {
					return all[x].i, all[y].i, true
				}
				return all[y].i, all[x].i, true
			}
		}
	}
	return 0, 0, false
}

// orientForExport returns a copy of p with the outer ring counterclockwise
// and holes clockwise (RFC 7946 §3.1.6, the right-hand rule).
func orientForExport(p orb.Polygon) orb.Polygon {
	out := make(orb.Polygon, len(p))
	for i, r := range p {
		c := slices.Clone(r)
		want := orb.CCW
		if i > 0 {
			want = orb.CW
		}
		if o := c.Orientation(); o != 0 && o != want {
			c.Reverse()
		}
		out[i] = c
	}
	return out
}
