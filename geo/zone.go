package geo

import (
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// ZoneIndex answers "which zone is this point in?" for a set of area
// features (vendor zones, venues). It is immutable and safe for concurrent
// use.
//
// Containment is planar in degrees, which is exact enough for zones a few
// kilometres across. A point on a zone's outer boundary is inside it; a
// point on a hole's boundary is outside. Zones must not cross the
// antimeridian (RFC 7946 §3.1.9 says to cut such a polygon in two).
type ZoneIndex struct {
	zones []Feature
	byID  map[string]int
	tree  rtree
}

// NewZoneIndex indexes the area features in features (kinds zone and venue;
// other features are ignored). It validates each area and rejects duplicate
// ids, with an *Error whose Feature is the position in features.
func NewZoneIndex(features []Feature) (*ZoneIndex, error) {
	zi := &ZoneIndex{byID: map[string]int{}}
	var boxes []box
	for i, f := range features {
		if rule, ok := kindRules[f.Kind]; !ok || !rule.area {
			continue
		}
		if e := f.validate(DefaultLimits); e != nil {
			return nil, e.at(i, f.ID, "")
		}
		if _, dup := zi.byID[f.ID]; dup {
			return nil, errorf(CodeDuplicateID, i, f.ID, "id", "zone id %q is used twice; ids must be unique", f.ID)
		}
		zi.byID[f.ID] = len(zi.zones)
		zi.zones = append(zi.zones, f)
		b := f.Geometry.Bound()
		boxes = append(boxes, box{min: [3]float64{b.Min[0], b.Min[1], 0}, max: [3]float64{b.Max[0], b.Max[1], 0}})
	}
	zi.tree = buildRTree(boxes)
	return zi, nil
}

// Len returns the number of indexed zones.
func (zi *ZoneIndex) Len() int { return len(zi.zones) }

// Zone returns the zone with the given id.
func (zi *ZoneIndex) Zone(id string) (Feature, bool) {
	i, ok := zi.byID[id]
	if !ok {
		return Feature{}, false
	}
	return zi.zones[i], true
}

// Locate returns the ids of every zone containing p, sorted (zones may
// overlap). It returns nil for a point in no zone, and an *Error for an
// invalid point.
func (zi *ZoneIndex) Locate(p orb.Point) ([]string, error) {
	if err := ValidatePoint(p); err != nil {
		return nil, err
	}
	var ids []string
	q := box{min: [3]float64{p[0], p[1], 0}, max: [3]float64{p[0], p[1], 0}}
	zi.tree.searchBox(q, func(e int) bool {
		if geometryContains(zi.zones[e].Geometry, p) {
			ids = append(ids, zi.zones[e].ID)
		}
		return true
	})
	slices.Sort(ids)
	return ids, nil
}

// Contains reports whether zone id contains p; false for an unknown zone or
// an invalid point.
func (zi *ZoneIndex) Contains(id string, p orb.Point) bool {
	i, ok := zi.byID[id]
	if !ok || !validPoint(p) {
		return false
	}
	return geometryContains(zi.zones[i].Geometry, p)
}

// GeometryContains reports whether an area geometry (orb.Polygon or
// orb.MultiPolygon) contains p, with the boundary rules of [ZoneIndex].
func GeometryContains(g orb.Geometry, p orb.Point) bool {
	if !validPoint(p) {
		return false
	}
	return geometryContains(g, p)
}

func geometryContains(g orb.Geometry, p orb.Point) bool {
	switch g := g.(type) {
	case orb.Polygon:
		return planar.PolygonContains(g, p)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(g, p)
	}
	return false
}
