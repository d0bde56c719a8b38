package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/project"
)

// Datum names a coordinate system used by maps in China. Shian stores
// WGS-84 only and converts for display (a GCJ-02 tile layer such as AutoNavi
// or Tencent, a BD-09 layer such as Baidu).
type Datum int

// Datums. The zero value is unknown.
const (
	DatumUnknown Datum = iota
	WGS84              // GPS, OpenStreetMap; what Shian stores
	GCJ02              // 国测局 "Mars" coordinates: AutoNavi (高德), Tencent
	BD09               // Baidu (百度)
)

// String returns "WGS-84", "GCJ-02" or "BD-09".
func (d Datum) String() string {
	switch d {
	case WGS84:
		return "WGS-84"
	case GCJ02:
		return "GCJ-02"
	case BD09:
		return "BD-09"
	}
	return fmt.Sprintf("Datum(%d)", int(d))
}

// Krasovsky 1940 ellipsoid, as used by the published GCJ-02 algorithm.
const (
	gcjA  = 6378245.0
	gcjEE = 0.00669342162296594323
	bdXPi = math.Pi * 3000.0 / 180.0
)

// InChina reports whether p falls in the rectangle where the GCJ-02 offset
// applies (the rough mainland box of the public algorithm:
// lon 72.004–137.8347, lat 0.8293–55.8271). Outside it every transform here
// returns the point unchanged, as Chinese map providers do abroad.
func InChina(p orb.Point) bool {
	return p[0] >= 72.004 && p[0] <= 137.8347 && p[1] >= 0.8293 && p[1] <= 55.8271
}

func gcjTransformLat(x, y float64) float64 {
	r := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	r += (160.0*math.Sin(y/12.0*math.Pi) + 320*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	return r
}

func gcjTransformLon(x, y float64) float64 {
	r := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	r += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	return r
}

// gcjDelta is the GCJ-02 offset (in degrees) at WGS-84 point p.
func gcjDelta(p orb.Point) (dLon, dLat float64) {
	lon, lat := p[0], p[1]
	dLat = gcjTransformLat(lon-105.0, lat-35.0)
	dLon = gcjTransformLon(lon-105.0, lat-35.0)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - gcjEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((gcjA * (1 - gcjEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (gcjA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dLon, dLat
}

// WGS84ToGCJ02 applies the GCJ-02 offset (a few hundred metres) to a
// WGS-84 point; points outside China are returned unchanged.
func WGS84ToGCJ02(p orb.Point) orb.Point {
	if !InChina(p) {
		return p
	}
	dLon, dLat := gcjDelta(p)
	return orb.Point{p[0] + dLon, p[1] + dLat}
}

// inverseIterations bounds the fixed-point refinement of the inverses; the
// offset field is smooth and contracting, so 3–5 rounds reach 1e-12°.
const inverseIterations = 30

// GCJ02ToWGS84 inverts [WGS84ToGCJ02] by fixed-point iteration, to within
// 1e-9° (about 0.1 mm); points outside China are returned unchanged.
func GCJ02ToWGS84(p orb.Point) orb.Point {
	if !InChina(p) {
		return p
	}
	return invert(p, WGS84ToGCJ02)
}

// GCJ02ToBD09 converts a GCJ-02 point to Baidu's BD-09; points outside China
// are returned unchanged (Baidu serves WGS-84 abroad).
func GCJ02ToBD09(p orb.Point) orb.Point {
	if !InChina(p) {
		return p
	}
	x, y := p[0], p[1]
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bdXPi)
	return orb.Point{z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006}
}

// BD09ToGCJ02 inverts [GCJ02ToBD09] by fixed-point iteration, to within
// 1e-9° (the published closed-form inverse is off by up to ~1e-6°).
func BD09ToGCJ02(p orb.Point) orb.Point {
	if !InChina(p) {
		return p
	}
	return invert(p, GCJ02ToBD09)
}

// WGS84ToBD09 is GCJ02ToBD09(WGS84ToGCJ02(p)).
func WGS84ToBD09(p orb.Point) orb.Point { return GCJ02ToBD09(WGS84ToGCJ02(p)) }

// BD09ToWGS84 is GCJ02ToWGS84(BD09ToGCJ02(p)).
func BD09ToWGS84(p orb.Point) orb.Point { return GCJ02ToWGS84(BD09ToGCJ02(p)) }

// invert solves fwd(x) = target for x near target, by fixed-point
// iteration x -= fwd(x) - target.
func invert(target orb.Point, fwd func(orb.Point) orb.Point) orb.Point {
	// Start from the target minus the offset measured at the target.
	y := fwd(target)
	x := orb.Point{target[0] - (y[0] - target[0]), target[1] - (y[1] - target[1])}
	for range inverseIterations {
		y := fwd(x)
		dx, dy := y[0]-target[0], y[1]-target[1]
		x = orb.Point{x[0] - dx, x[1] - dy}
		if math.Abs(dx) < 1e-12 && math.Abs(dy) < 1e-12 {
			break
		}
	}
	return x
}

// Convert converts p between datums; converting to the same datum returns p.
func Convert(p orb.Point, from, to Datum) (orb.Point, error) {
	if from == to && from >= WGS84 && from <= BD09 {
		return p, nil
	}
	var w orb.Point
	switch from {
	case WGS84:
		w = p
	case GCJ02:
		w = GCJ02ToWGS84(p)
	case BD09:
		w = BD09ToWGS84(p)
	default:
		return p, errorf(CodeInvalidArgument, -1, "", "", "unknown source datum %v; use WGS84, GCJ02 or BD09", from)
	}
	switch to {
	case WGS84:
		return w, nil
	case GCJ02:
		return WGS84ToGCJ02(w), nil
	case BD09:
		return WGS84ToBD09(w), nil
	}
	return p, errorf(CodeInvalidArgument, -1, "", "", "unknown target datum %v; use WGS84, GCJ02 or BD09", to)
}

// ConvertGeometry returns a copy of g with every position converted (g is
// not modified). Use it to draw WGS-84 zones on a GCJ-02 or BD-09 base map.
func ConvertGeometry(g orb.Geometry, from, to Datum) (orb.Geometry, error) {
	if _, err := Convert(orb.Point{}, from, to); err != nil {
		return nil, err
	}
	return project.Geometry(orb.Clone(g), func(p orb.Point) orb.Point {
		q, _ := Convert(p, from, to)
		return q
	}), nil
}
