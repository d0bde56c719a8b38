package geo

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/paulmach/orb"
)

// Event is one positive (or suspicious) result for cluster detection: where
// and when the sample was taken and what was found.
type Event struct {
	ID      string
	Point   orb.Point
	Time    time.Time
	Analyte string // e.g. "organophosphate", "clenbuterol"; compared exactly
}

// ClusterParams sets what counts as a cluster (聚集性预警). Zero fields take
// the defaults: MinEvents 3, Radius 500 m, Window 24 h.
type ClusterParams struct {
	MinEvents int           // k: events needed around a core event, itself included
	Radius    float64       // r: metres
	Window    time.Duration // t: largest time difference between neighbours
}

// DefaultClusterParams are k = 3, r = 500 m, t = 24 h.
var DefaultClusterParams = ClusterParams{MinEvents: 3, Radius: 500, Window: 24 * time.Hour}

func (p ClusterParams) withDefaults() ClusterParams {
	if p.MinEvents <= 0 {
		p.MinEvents = DefaultClusterParams.MinEvents
	}
	if p.Radius <= 0 {
		p.Radius = DefaultClusterParams.Radius
	}
	if p.Window <= 0 {
		p.Window = DefaultClusterParams.Window
	}
	return p
}

// Cluster is a group of events of one analyte close in space and time.
type Cluster struct {
	Analyte string
	// Members are sorted by time, then id. An event next to two clusters'
	// cores is a member of both.
	Members []Event
	// Core are the ids of members that have at least MinEvents neighbours
	// (themselves included), sorted.
	Core []string
	// Centroid is the spherical mean of the members' positions.
	Centroid orb.Point
	// Start and End are the earliest and latest member times.
	Start, End time.Time
	// Radius is the largest distance from Centroid to a member, in metres.
	Radius float64
}

// FindClusters groups events into clusters by a space–time DBSCAN: two
// events of the same analyte are neighbours when they are at most
// p.Radius metres and p.Window apart; an event with at least p.MinEvents
// neighbours (itself included) is a core event; core events that are
// neighbours join one cluster, and each cluster also takes every neighbour
// of its core events. So every cluster has at least MinEvents members, all
// within Radius and Window of some core event. The result is independent of
// the input order: clusters are sorted by analyte, start time, then first
// member id.
//
// Events with an invalid position or an empty id are rejected with an
// *Error naming the event's index; ids must be unique.
func FindClusters(events []Event, p ClusterParams) ([]Cluster, error) {
	p = p.withDefaults()
	if err := checkEvents(events); err != nil {
		return nil, err
	}
	byAnalyte := map[string][]int{}
	for i, e := range events {
		byAnalyte[e.Analyte] = append(byAnalyte[e.Analyte], i)
	}
	var out []Cluster
	for _, analyte := range slices.Sorted(maps.Keys(byAnalyte)) {
		idx := byAnalyte[analyte]
		items := make([]Item, len(idx))
		for j, i := range idx {
			items[j] = Item{ID: events[i].ID, Point: events[i].Point}
		}
		ix, err := NewIndex(items)
		if err != nil {
			return nil, err
		}
		pos := make(map[string]int, len(idx)) // id → position in idx
		for j, i := range idx {
			pos[events[i].ID] = j
		}
		nbrs := make([][]int, len(idx))
		for j, i := range idx {
			hits, err := ix.Within(events[i].Point, p.Radius)
			if err != nil {
				return nil, err
			}
			for _, h := range hits {
				k := pos[h.ID]
				if absDur(events[idx[k]].Time.Sub(events[i].Time)) <= p.Window {
					nbrs[j] = append(nbrs[j], k)
				}
			}
		}
		sub := make([]Event, len(idx))
		for j, i := range idx {
			sub[j] = events[i]
		}
		out = append(out, assemble(sub, nbrs, p.MinEvents)...)
	}
	sortClusters(out)
	return out, nil
}

func checkEvents(events []Event) error {
	seen := make(map[string]int, len(events))
	for i, e := range events {
		if e.ID == "" {
			return errorf(CodeProperty, i, "", "id", "event has an empty id")
		}
		if err := checkPosition(e.Point); err != nil {
			return err.at(i, e.ID, "")
		}
		if j, dup := seen[e.ID]; dup {
			return errorf(CodeDuplicateID, i, e.ID, "id", "event id %q is also event %d's; ids must be unique", e.ID, j)
		}
		seen[e.ID] = i
	}
	return nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// assemble turns a neighbour graph (nbrs[j] includes j) into clusters.
func assemble(ev []Event, nbrs [][]int, k int) []Cluster {
	n := len(ev)
	core := make([]bool, n)
	for j := range n {
		core[j] = len(nbrs[j]) >= k
	}
	// Union-find over core–core neighbour edges.
	parent := make([]int, n)
	for j := range parent {
		parent[j] = j
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for j := range n {
		if !core[j] {
			continue
		}
		for _, m := range nbrs[j] {
			if core[m] {
				a, b := find(j), find(m)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			}
		}
	}
	members := map[int]map[int]struct{}{}
	cores := map[int][]string{}
	for j := range n {
		if !core[j] {
			continue
		}
		r := find(j)
		if members[r] == nil {
			members[r] = map[int]struct{}{}
		}
		cores[r] = append(cores[r], ev[j].ID)
		for _, m := range nbrs[j] {
			members[r][m] = struct{}{}
		}
	}
	var out []Cluster
	for r, set := range members {
		c := Cluster{Analyte: ev[r].Analyte}
		for m := range set {
			c.Members = append(c.Members, ev[m])
		}
		slices.SortFunc(c.Members, func(a, b Event) int {
			if c := a.Time.Compare(b.Time); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		c.Core = cores[r]
		slices.Sort(c.Core)
		c.Start = c.Members[0].Time
		c.End = c.Members[0].Time
		pts := make([]orb.Point, len(c.Members))
		for i, m := range c.Members {
			pts[i] = m.Point
			if m.Time.After(c.End) {
				c.End = m.Time
			}
		}
		c.Centroid = SphericalCentroid(pts)
		for _, q := range pts {
			c.Radius = math.Max(c.Radius, Distance(c.Centroid, q))
		}
		out = append(out, c)
	}
	return out
}

func sortClusters(cs []Cluster) {
	slices.SortFunc(cs, func(a, b Cluster) int {
		if c := cmp.Compare(a.Analyte, b.Analyte); c != 0 {
			return c
		}
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Members[0].ID, b.Members[0].ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Core[0], b.Core[0]) // cores belong to one cluster only
	})
}

// SphericalCentroid returns the normalised mean of the points' unit
// vectors: the centre of a group of points on the sphere, correct across
// the antimeridian. For no points, or points that cancel out (antipodes),
// it returns the first point (or the zero point).
func SphericalCentroid(pts []orb.Point) orb.Point {
	if len(pts) == 0 {
		return orb.Point{}
	}
	var s [3]float64
	for _, p := range pts {
		v := unit(p)
		s[0] += v[0]
		s[1] += v[1]
		s[2] += v[2]
	}
	n := math.Sqrt(s[0]*s[0] + s[1]*s[1] + s[2]*s[2])
	if n < 1e-12 {
		return pts[0]
	}
	lat := math.Asin(math.Max(-1, math.Min(1, s[2]/n))) * 180 / math.Pi
	lon := math.Atan2(s[1], s[0]) * 180 / math.Pi
	if len(pts) == 1 {
		return pts[0]
	}
	return orb.Point{lon, lat}
}
