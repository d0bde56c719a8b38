package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// EarthRadius is the sphere radius in metres used for every distance in
// this package; it is orb's (the WGS-84 equatorial radius), so distances
// agree with github.com/paulmach/orb/geo.
const EarthRadius = orb.EarthRadius

// ValidatePoint checks that p is a usable WGS-84 position: both numbers
// finite, longitude in [-180, 180] and latitude in [-90, 90]. It returns an
// *Error with code [CodeNotFinite] or [CodeOutOfRange] (Feature -1).
func ValidatePoint(p orb.Point) error {
	if err := checkPosition(p); err != nil {
		return err
	}
	return nil
}

func checkPosition(p orb.Point) *Error {
	lon, lat := p[0], p[1]
	if math.IsNaN(lon) || math.IsInf(lon, 0) || math.IsNaN(lat) || math.IsInf(lat, 0) {
		return errorf(CodeNotFinite, -1, "", "", "position [%v, %v] is not a finite number pair; send [lon, lat] in decimal degrees", lon, lat)
	}
	if lon < -180 || lon > 180 {
		return errorf(CodeOutOfRange, -1, "", "", "longitude %v is outside [-180, 180]; positions are [lon, lat], check the order", lon)
	}
	if lat < -90 || lat > 90 {
		return errorf(CodeOutOfRange, -1, "", "", "latitude %v is outside [-90, 90]; positions are [lon, lat], check the order", lat)
	}
	return nil
}

// validPoint is the cheap boolean form of ValidatePoint.
func validPoint(p orb.Point) bool {
	return p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90 // false for NaN
}

// Distance returns the great-circle distance between a and b in metres,
// computed with orb's haversine formula ([orbgeo.DistanceHaversine]) on a
// sphere of radius [EarthRadius]. For invalid positions the result is NaN;
// validate first.
func Distance(a, b orb.Point) float64 {
	d := orbgeo.DistanceHaversine(a, b)
	if math.IsNaN(d) && validPoint(a) && validPoint(b) {
		// Rounding can push the haversine term a hair above 1 for
		// antipodal points; the answer is then half the circumference.
		return math.Pi * EarthRadius
	}
	return d
}

// SearchBounds returns the lon/lat boxes that together cover every point
// within metres of p, for a bounding-box index such as buntdb's IndexRect.
// Near the antimeridian the cover is split in two boxes; near a pole it is
// one box spanning all longitudes. The boxes are padded slightly, so
// candidates must be re-checked with [Distance] (they are a superset).
func SearchBounds(p orb.Point, metres float64) ([]orb.Bound, error) {
	if err := ValidatePoint(p); err != nil {
		return nil, err
	}
	if !(metres >= 0) || math.IsInf(metres, 0) {
		return nil, errorf(CodeInvalidArgument, -1, "", "", "radius %v m must be a finite number ≥ 0", metres)
	}
	ang := metres/EarthRadius*(1+1e-9) + 1e-12 // radians, padded
	latR := p[1] * math.Pi / 180
	minLat := (latR - ang) * 180 / math.Pi
	maxLat := (latR + ang) * 180 / math.Pi
	if ang >= math.Pi/2 || minLat <= -90 || maxLat >= 90 {
		return []orb.Bound{{Min: orb.Point{-180, math.Max(minLat, -90)}, Max: orb.Point{180, math.Min(maxLat, 90)}}}, nil
	}
	// Widest longitude offset over the cap (tangent meridians).
	s := math.Sin(ang) / math.Cos(latR)
	if s >= 1 {
		return []orb.Bound{{Min: orb.Point{-180, minLat}, Max: orb.Point{180, maxLat}}}, nil
	}
	dLon := math.Asin(s) * 180 / math.Pi
	minLon, maxLon := p[0]-dLon, p[0]+dLon
	switch {
	case minLon < -180:
		return []orb.Bound{
			{Min: orb.Point{-180, minLat}, Max: orb.Point{maxLon, maxLat}},
			{Min: orb.Point{minLon + 360, minLat}, Max: orb.Point{180, maxLat}},
		}, nil
	case maxLon > 180:
		return []orb.Bound{
			{Min: orb.Point{minLon, minLat}, Max: orb.Point{180, maxLat}},
			{Min: orb.Point{-180, minLat}, Max: orb.Point{maxLon - 360, maxLat}},
		}, nil
	}
	return []orb.Bound{{Min: orb.Point{minLon, minLat}, Max: orb.Point{maxLon, maxLat}}}, nil
}

// RectString formats b the way buntdb's rect syntax expects it:
// "[minLon minLat],[maxLon maxLat]" (for tx.Intersects).
func RectString(b orb.Bound) string {
	return fmt.Sprintf("[%s %s],[%s %s]", fnum(b.Min[0]), fnum(b.Min[1]), fnum(b.Max[0]), fnum(b.Max[1]))
}

// PointString formats p as buntdb's point syntax "[lon lat]" (for
// tx.Nearby).
func PointString(p orb.Point) string {
	return fmt.Sprintf("[%s %s]", fnum(p[0]), fnum(p[1]))
}

func fnum(f float64) string { return fmt.Sprintf("%g", f) }

// unit returns p as a unit vector in Earth-centred coordinates.
func unit(p orb.Point) [3]float64 {
	lon := p[0] * math.Pi / 180
	lat := p[1] * math.Pi / 180
	cl := math.Cos(lat)
	return [3]float64{cl * math.Cos(lon), cl * math.Sin(lon), math.Sin(lat)}
}

// chordFor returns the 3-D chord length (on the unit sphere) of a
// great-circle distance in metres, padded a little so that index pruning
// never drops a point that Distance would accept.
func chordFor(metres float64) float64 {
	ang := metres / EarthRadius
	if ang >= math.Pi {
		return 2.0000001
	}
	return 2*math.Sin(ang/2)*(1+1e-9) + 1e-12
}
