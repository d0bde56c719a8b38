// coords: the coordinate systems of Chinese street maps, for display only.
//
// Shian stores WGS-84 (GPS). AMap (高德) and Tencent draw their tiles in
// GCJ-02, Baidu in BD-09; a marker placed at its WGS-84 position on such a
// map lands a few hundred metres off, on the wrong street. The page
// converts every position it draws (sites, zones, kiosks, teams) into the
// datum of the configured tile layer, and converts back what the user
// points at. These are the public algorithms, the same as geo/datum.go in
// Go (the browser tests compare the two on a grid of points):
//
//   - WGS-84 → GCJ-02: the published offset polynomial on the Krasovsky
//     1940 ellipsoid, applied inside the rough mainland box only;
//   - GCJ-02 → BD-09: Baidu's published rotation and shift;
//   - the inverses by fixed-point iteration to 1e-12° (the closed-form
//     BD-09 inverse often quoted is off by up to 1e-6°).
//
// Baidu's tiles also use their own tiling: a Mercator projection on the
// Clarke 1866 ellipsoid, 1 m per pixel at zoom 18, tile (0, 0) at the
// origin with y growing northwards. baiduCRS() builds that for Leaflet
// (the ellipsoid is the approximation Proj4Leaflet configurations use;
// Baidu's own polynomial projection differs from it by a few metres).

export const WGS84 = "wgs84";
export const GCJ02 = "gcj02";
export const BD09 = "bd09";

const A = 6378245.0;
const EE = 0.00669342162296594323;
const X_PI = (Math.PI * 3000.0) / 180.0;
const ITERATIONS = 30;

/** Reports whether [lon, lat] is inside the box where GCJ-02 applies. */
export function inChina(lon, lat) {
  return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
}

function transformLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return r;
}

function transformLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return r;
}

/** WGS-84 [lon, lat] → GCJ-02 [lon, lat]; unchanged outside China. */
export function wgs84ToGcj02(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  let dLat = transformLat(lon - 105.0, lat - 35.0);
  let dLon = transformLon(lon - 105.0, lat - 35.0);
  const radLat = (lat / 180.0) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

/** GCJ-02 [lon, lat] → BD-09 [lon, lat]; unchanged outside China. */
export function gcj02ToBd09(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
}

/** Solves fwd(x) = target near target by fixed-point iteration. */
function invert(lon, lat, fwd) {
  const [yl, ya] = fwd(lon, lat);
  let x = [lon - (yl - lon), lat - (ya - lat)];
  for (let i = 0; i < ITERATIONS; i++) {
    const [fl, fa] = fwd(x[0], x[1]);
    const dx = fl - lon;
    const dy = fa - lat;
    x = [x[0] - dx, x[1] - dy];
    if (Math.abs(dx) < 1e-12 && Math.abs(dy) < 1e-12) break;
  }
  return x;
}

/** GCJ-02 → WGS-84 (iterative inverse). */
export function gcj02ToWgs84(lon, lat) {
  return inChina(lon, lat) ? invert(lon, lat, wgs84ToGcj02) : [lon, lat];
}

/** BD-09 → GCJ-02 (iterative inverse). */
export function bd09ToGcj02(lon, lat) {
  return inChina(lon, lat) ? invert(lon, lat, gcj02ToBd09) : [lon, lat];
}

export const wgs84ToBd09 = (lon, lat) => gcj02ToBd09(...wgs84ToGcj02(lon, lat));
export const bd09ToWgs84 = (lon, lat) => gcj02ToWgs84(...bd09ToGcj02(lon, lat));

/** Converts [lon, lat] between datums ("wgs84", "gcj02", "bd09"). */
export function convert(lon, lat, from, to) {
  if (from === to) return [lon, lat];
  let w;
  if (from === WGS84) w = [lon, lat];
  else if (from === GCJ02) w = gcj02ToWgs84(lon, lat);
  else if (from === BD09) w = bd09ToWgs84(lon, lat);
  else throw new Error(`unknown datum ${from}`);
  if (to === WGS84) return w;
  if (to === GCJ02) return wgs84ToGcj02(w[0], w[1]);
  if (to === BD09) return wgs84ToBd09(w[0], w[1]);
  throw new Error(`unknown datum ${to}`);
}

/**
 * A display datum: toMap(lon, lat) gives the L.LatLng to draw a stored
 * WGS-84 position at; toWGS(latlng) the WGS-84 [lon, lat] of a map point.
 */
export function displayDatum(datum) {
  const d = datum === GCJ02 || datum === BD09 ? datum : WGS84;
  return {
    datum: d,
    toMap(lon, lat) {
      const [x, y] = d === WGS84 ? [lon, lat] : convert(lon, lat, WGS84, d);
      return L.latLng(y, x);
    },
    toWGS(ll) {
      return d === WGS84 ? [ll.lng, ll.lat] : convert(ll.lng, ll.lat, d, WGS84);
    },
    /** Converts every position of a GeoJSON geometry (a copy). */
    geometry(g) {
      if (d === WGS84 || !g) return g;
      const conv = (c) => (typeof c[0] === "number" ? convert(c[0], c[1], WGS84, d) : c.map(conv));
      return { ...g, coordinates: conv(g.coordinates) };
    },
  };
}

/**
 * Baidu's tiling as a Leaflet CRS: Mercator on Clarke 1866, 2^(z-18)
 * pixels per metre, origin at (0, 0) with y up.
 */
export function baiduCRS() {
  const projection = L.extend({}, L.Projection.Mercator, {
    R: 6378206,
    R_MINOR: 6356584.314245179,
    bounds: L.bounds([-20037726.37, -12474104.17], [20037726.37, 12474104.17]),
  });
  return L.extend({}, L.CRS.Earth, {
    code: "BD09MC",
    projection,
    transformation: new L.Transformation(1, 0, -1, 0),
    scale: (zoom) => Math.pow(2, zoom - 18),
    zoom: (scale) => Math.log(scale) / Math.LN2 + 18,
    infinite: true,
  });
}

/** Baidu numbers tiles with y up from the equator: Leaflet's y is -y-1. */
export function baiduTileLayer(url, options) {
  const Layer = L.TileLayer.extend({
    getTileUrl(coords) {
      const data = { s: this._getSubdomain(coords), x: coords.x, y: -coords.y - 1, z: this._getZoomForUrl() };
      return L.Util.template(this._url, L.Util.extend(data, this.options));
    },
  });
  return new Layer(url, options);
}
