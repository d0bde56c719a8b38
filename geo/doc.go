// Package geo is Shian's geometry: zones and GeoJSON, point-in-zone and
// nearest queries, distances, map datums, clusters of positives, patrol
// routes and dispatch. It is plain Go on top of github.com/paulmach/orb,
// with no I/O beyond the io.Reader and io.Writer of the GeoJSON codec, so
// the kiosk, the command service and the simulator can all use it.
//
// # Coordinates
//
// Every position is an [orb.Point] in WGS-84 decimal degrees, ordered
// [lon, lat] as in GeoJSON. That is what Shian stores. A position is valid
// when both numbers are finite, lon is in [-180, 180] and lat in [-90, 90];
// [ValidatePoint] checks it, and every function that takes positions from
// outside refuses an invalid one with an [*Error] instead of indexing or
// measuring it.
//
// Distances are metres along a great circle of a sphere of radius
// [EarthRadius], by orb's haversine formula ([Distance]). At event scale
// (metres to tens of kilometres) the sphere is within 0.5 % of the
// ellipsoid, far below GPS error.
//
// # Zones and GeoJSON
//
// Areas and places travel as RFC 7946 FeatureCollections. Each [Feature]
// has an id, a [Kind] ("zone", "stall", "kitchen", "banquet", "team",
// "kiosk", "venue") in its properties, a zh-CN "name" and optional
// "name_en". Areas (zone, venue) are Polygon or MultiPolygon; everything
// else is a Point. A stall must say which zone it belongs to ("zone").
//
// [DecodeFeatureCollection] refuses, with an [*Error] naming the feature's
// index and id, the path inside it and what to do: malformed JSON, wrong
// types, coordinates that are not finite or out of range, positions that
// are not [lon, lat], rings that are unclosed, shorter than 4 positions,
// collinear or self-intersecting (crossing or touching), holes outside
// their shell, missing properties, duplicate ids, and documents over the
// [Limits] (bytes, features, positions). Rings may be wound either way on
// import; [FeatureCollection.Encode] writes outer rings counterclockwise
// and holes clockwise (the right-hand rule of RFC 7946 §3.1.6).
//
// An HTTP handler needs one branch:
//
//	fc, err := geo.DecodeFeatureCollection(r.Body, geo.Limits{})
//	var ge *geo.Error
//	if errors.As(err, &ge) {
//		http.Error(w, ge.Error(), http.StatusBadRequest) // names the feature and the fix
//		return
//	}
//
// # Indexes
//
// [Index] answers "the k nearest" and "everything within r metres" over a
// fixed set of points; [ZoneIndex] answers "which zone contains this
// point". Both are immutable and safe for concurrent readers; rebuild to
// change them. The point index is an R-tree over unit vectors on the
// sphere, so it has no seam at the antimeridian and no trouble at the
// poles, and every candidate is re-measured with [Distance]: results equal
// a brute-force scan, sorted by distance then id
// (docs/decisions/0001-geo-index.md says why).
//
// # Storing positions in buntdb
//
// Stored records carry their position as "loc": [lon, lat].
// [RectFromJSON] is the rect function for db.CreateSpatialIndex; it never
// panics and skips malformed values ([RectStats] counts them), because
// buntdb runs it while replaying the file in Open. buntdb indexes are not
// persisted, so create them at every open. For a circle query use
// [SearchBounds] (one box, or two across the antimeridian) with
// tx.Intersects and [RectString], then keep the candidates whose
// [Distance] is within the radius.
//
// # Chinese map datums
//
// Base maps in China are not WGS-84: AutoNavi and Tencent draw GCJ-02,
// Baidu draws BD-09, a few hundred metres away. Convert only for display,
// with [WGS84ToGCJ02], [WGS84ToBD09], [Convert] or [ConvertGeometry], and
// convert clicks back with the inverses, which iterate to within 1e-9°.
// Outside China's box ([InChina]) every transform is the identity.
//
// # Clusters, patrols and dispatch
//
// [FindClusters] raises 聚集性预警: groups of events of one analyte where
// some event has at least k events (itself included) within r metres and t
// hours (default 3, 500 m, 24 h), found by a space–time DBSCAN that does
// not depend on input order.
// [PlanPatrol] orders a patrol's stops (optimal up to 12 stops,
// nearest-neighbour plus 2-opt beyond). [NearestAvailable] picks the free
// team closest to a positive, ties by id.
package geo
