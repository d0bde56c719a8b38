package geo

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tidwall/gjson"
)

// LocField is the JSON member that [RectFromJSON] reads: a stored record
// carries its position as "loc": [lon, lat] (WGS-84 decimal degrees).
const LocField = "loc"

// RectFromJSON is a buntdb spatial-index rect function. It extracts the
// point "loc": [lon, lat] from a stored JSON object and returns it as a
// degenerate rectangle (min == max == [lon, lat]):
//
//	db.CreateSpatialIndex("results_pos", "result:*", geo.RectFromJSON)
//
// buntdb calls it for every matching key while it replays the file in Open,
// so it never panics: a value that is not a valid JSON object, has no
// "loc", or whose "loc" is not exactly two finite numbers in range returns
// (nil, nil), and buntdb leaves that record out of the index. Use
// [RectStats] to count such records.
//
// buntdb also passes the bounds string of tx.Nearby and tx.Intersects
// through the index's rect function, so a value starting with '[' is read
// as buntdb's query syntax instead: "[lon lat]" (a point, for Nearby) or
// "[minLon minLat],[maxLon maxLat]" (a box, for Intersects), as written by
// [PointString] and [RectString]. Anything else returns (nil, nil).
func RectFromJSON(value string) (min, max []float64) {
	defer func() {
		// Belt and braces: gjson is fuzzed upstream and here, but a
		// panic during Open would crash-loop the service.
		if recover() != nil {
			min, max = nil, nil
		}
	}()
	if len(value) > 0 && value[0] == '[' {
		return parseBrackets(value)
	}
	if len(value) == 0 || value[0] != '{' || !gjson.Valid(value) {
		return nil, nil
	}
	loc := gjson.Get(value, LocField)
	if !loc.IsArray() {
		return nil, nil
	}
	var xy [2]float64
	n := 0
	ok := true
	loc.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.Number || n >= 2 {
			ok = false
			return false
		}
		xy[n] = v.Num
		n++
		return true
	})
	if !ok || n != 2 {
		return nil, nil
	}
	lon, lat := xy[0], xy[1]
	if math.IsNaN(lon) || math.IsNaN(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
		return nil, nil
	}
	return []float64{lon, lat}, []float64{lon, lat}
}

// parseBrackets reads "[x y]" or "[x y],[x y]" strictly: two finite
// numbers per bracket, single spaces allowed around them.
func parseBrackets(s string) (min, max []float64) {
	a, rest, ok := parsePair(s)
	if !ok {
		return nil, nil
	}
	if rest == "" {
		return []float64{a[0], a[1]}, []float64{a[0], a[1]}
	}
	if rest[0] != ',' {
		return nil, nil
	}
	b, rest, ok := parsePair(strings.TrimLeft(rest[1:], " "))
	if !ok || rest != "" {
		return nil, nil
	}
	return []float64{math.Min(a[0], b[0]), math.Min(a[1], b[1])}, []float64{math.Max(a[0], b[0]), math.Max(a[1], b[1])}
}

func parsePair(s string) ([2]float64, string, bool) {
	var p [2]float64
	if len(s) < 2 || s[0] != '[' {
		return p, "", false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return p, "", false
	}
	f := strings.Fields(s[1:end])
	if len(f) != 2 {
		return p, "", false
	}
	for i, t := range f {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return p, "", false
		}
		p[i] = v
	}
	return p, s[end+1:], true
}

// RectStats wraps [RectFromJSON] and counts how many values were indexed
// and how many were skipped as malformed, for a metric ("a corrupt record
// can't stop the command from booting, but it is counted"). Safe for
// concurrent use; the zero value is ready.
type RectStats struct {
	indexed, skipped atomic.Uint64
}

// Rect is the rect function to hand to buntdb:
//
//	var stats geo.RectStats
//	db.CreateSpatialIndex("pos", "stall:*", stats.Rect)
func (s *RectStats) Rect(value string) (min, max []float64) {
	min, max = RectFromJSON(value)
	if len(value) > 0 && value[0] == '[' {
		return min, max // a query's bounds, not a stored record
	}
	if min == nil {
		s.skipped.Add(1)
	} else {
		s.indexed.Add(1)
	}
	return min, max
}

// Indexed returns how many values produced a rectangle.
func (s *RectStats) Indexed() uint64 { return s.indexed.Load() }

// Skipped returns how many values were malformed and not indexed.
func (s *RectStats) Skipped() uint64 { return s.skipped.Load() }
