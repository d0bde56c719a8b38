package geo

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// fc wraps feature JSON snippets into a FeatureCollection document.
func fc(features ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
}

func zoneJSON(id, coords string) string {
	return fmt.Sprintf(`{"type":"Feature","id":%q,"properties":{"kind":"zone","name":"美食区"},"geometry":{"type":"Polygon","coordinates":%s}}`, id, coords)
}

const square = `[[[120.90,31.98],[120.91,31.98],[120.91,31.99],[120.90,31.99],[120.90,31.98]]]`

const stallJSON = `{"type":"Feature","id":"S-001","properties":{"kind":"stall","name":"张记烧烤","zone":"Z-01","grade":"B"},"geometry":{"type":"Point","coordinates":[120.905,31.985]}}`

func decode(s string) (FeatureCollection, error) {
	return DecodeFeatureCollection(strings.NewReader(s), Limits{})
}

func TestDecodeValid(t *testing.T) {
	withHole := `[[[120.90,31.98],[120.91,31.98],[120.91,31.99],[120.90,31.99],[120.90,31.98]],` +
		`[[120.903,31.983],[120.903,31.986],[120.906,31.986],[120.906,31.983],[120.903,31.983]]]`
	multi := `{"type":"Feature","id":7,"properties":{"kind":"zone","name":"夜市","name_en":"Night market"},"geometry":{"type":"MultiPolygon","coordinates":[` +
		square + `,[[[120.92,31.98],[120.93,31.98],[120.93,31.99,4.5],[120.92,31.98]]]]}}`
	got, err := decode(fc(zoneJSON("Z-01", withHole), stallJSON, multi))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Features) != 3 {
		t.Fatalf("got %d features", len(got.Features))
	}
	z := got.Features[0]
	if z.ID != "Z-01" || z.Kind != KindZone || z.Name != "美食区" || len(z.Geometry.(orb.Polygon)) != 2 {
		t.Fatalf("zone decoded as %+v", z)
	}
	s := got.Features[1]
	if p, ok := s.Point(); !ok || p != (orb.Point{120.905, 31.985}) || s.Prop("zone") != "Z-01" || s.Prop("grade") != "B" {
		t.Fatalf("stall decoded as %+v", s)
	}
	if _, ok := s.Properties["kind"]; ok {
		t.Fatal("kind must move to Feature.Kind, not stay in Properties")
	}
	m := got.Features[2]
	if m.ID != "7" || m.NameEN != "Night market" || len(m.Geometry.(orb.MultiPolygon)) != 2 {
		t.Fatalf("multipolygon decoded as %+v", m)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		code    Code
		feature int
		id      string
		msg     string // substring of the message
	}{
		{"not json", `{"type":`, CodeSyntax, -1, "", "malformed"},
		{"not an object", `[1,2]`, CodeWrongType, -1, "", "FeatureCollection"},
		{"wrong top type", `{"type":"Feature","features":[]}`, CodeWrongType, -1, "", "FeatureCollection"},
		{"no features", `{"type":"FeatureCollection"}`, CodeSyntax, -1, "", "features"},
		{"trailing data", fc() + `{}`, CodeSyntax, -1, "", "exactly one"},
		{"feature wrong type", fc(`{"type":"Point","id":"x","properties":{"kind":"stall","name":"a","zone":"z"},"geometry":{"type":"Point","coordinates":[1,2]}}`), CodeWrongType, 0, "x", "Feature"},
		{"unclosed ring", fc(stallJSON, zoneJSON("Z-09", `[[[120.90,31.98],[120.91,31.98],[120.91,31.99],[120.90,31.99]]]`)), CodeRingUnclosed, 1, "Z-09", "not closed"},
		{"too few positions", fc(zoneJSON("Z-02", `[[[120.90,31.98],[120.91,31.98],[120.90,31.98]]]`)), CodeRingTooShort, 0, "Z-02", "at least 4"},
		{"repeated vertices only", fc(zoneJSON("Z-02", `[[[120.90,31.98],[120.91,31.98],[120.91,31.98],[120.90,31.98]]]`)), CodeRingTooShort, 0, "Z-02", "distinct"},
		{"collinear", fc(zoneJSON("Z-02", `[[[120.90,31.98],[120.91,31.98],[120.92,31.98],[120.90,31.98]]]`)), CodeRingDegenerate, 0, "Z-02", "no area"},
		{"lon out of range", fc(zoneJSON("Z-03", `[[[190,31.98],[120.91,31.98],[120.91,31.99],[190,31.98]]]`)), CodeOutOfRange, 0, "Z-03", "longitude"},
		{"lat out of range", fc(`{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"a","zone":"z"},"geometry":{"type":"Point","coordinates":[31.98,120.9]}}`), CodeOutOfRange, 0, "S-1", "latitude"},
		{"overflow to inf", fc(`{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"a","zone":"z"},"geometry":{"type":"Point","coordinates":[1e999,1]}}`), CodeNotFinite, 0, "S-1", "overflows"},
		{"string coordinate", fc(`{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"a","zone":"z"},"geometry":{"type":"Point","coordinates":["1",1]}}`), CodeSyntax, 0, "S-1", "not a JSON number"},
		{"one-number position", fc(`{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"a","zone":"z"},"geometry":{"type":"Point","coordinates":[1]}}`), CodeBadPosition, 0, "S-1", "[lon, lat]"},
		{"bow tie", fc(zoneJSON("Z-04", `[[[120.90,31.98],[120.91,31.99],[120.91,31.98],[120.90,31.99],[120.90,31.98]]]`)), CodeSelfIntersection, 0, "Z-04", "intersect"},
		{"spike", fc(zoneJSON("Z-04", `[[[120.90,31.98],[120.91,31.98],[120.91,31.99],[120.91,31.97],[120.90,31.99],[120.90,31.98]]]`)), CodeSelfIntersection, 0, "Z-04", "intersect"},
		{"touching vertex", fc(zoneJSON("Z-04", `[[[0,0],[4,0],[4,4],[2,0],[0,4],[0,0]]]`)), CodeSelfIntersection, 0, "Z-04", "intersect"},
		{"hole outside", fc(zoneJSON("Z-05", `[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[5,5],[6,5],[6,6],[5,6],[5,5]]]`)), CodeHoleOutside, 0, "Z-05", "outside its shell"},
		{"hole crossing", fc(zoneJSON("Z-05", `[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[3,1],[5,1],[5,2],[3,2],[3,1]]]`)), CodeHoleOutside, 0, "Z-05", "crosses"},
		{"point as zone", fc(`{"type":"Feature","id":"Z-06","properties":{"kind":"zone","name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeWrongType, 0, "Z-06", "Polygon"},
		{"polygon as stall", fc(`{"type":"Feature","id":"S-7","properties":{"kind":"stall","name":"a","zone":"z"},"geometry":{"type":"Polygon","coordinates":` + square + `}}`), CodeWrongType, 0, "S-7", "Point"},
		{"line string", fc(`{"type":"Feature","id":"L","properties":{"kind":"zone","name":"a"},"geometry":{"type":"LineString","coordinates":[[1,1],[2,2]]}}`), CodeWrongType, 0, "L", "not supported"},
		{"null geometry", fc(`{"type":"Feature","id":"K-1","properties":{"kind":"kitchen","name":"a"},"geometry":null}`), CodeEmpty, 0, "K-1", "no geometry"},
		{"no properties", fc(`{"type":"Feature","id":"K-1","geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "K-1", "properties"},
		{"no kind", fc(`{"type":"Feature","id":"K-1","properties":{"name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "K-1", "kind"},
		{"unknown kind", fc(`{"type":"Feature","id":"K-1","properties":{"kind":"shop","name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "K-1", "not known"},
		{"no name", fc(`{"type":"Feature","id":"K-1","properties":{"kind":"kitchen"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "K-1", "name"},
		{"name not string", fc(`{"type":"Feature","id":"K-1","properties":{"kind":"kitchen","name":3},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "K-1", "name"},
		{"stall without zone", fc(`{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "S-1", "zone"},
		{"no id", fc(`{"type":"Feature","properties":{"kind":"kitchen","name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "", "id"},
		{"object id", fc(`{"type":"Feature","id":{},"properties":{"kind":"kitchen","name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}}`), CodeProperty, 0, "", "string or a number"},
		{"duplicate id", fc(stallJSON, stallJSON), CodeDuplicateID, 1, "S-001", "already used by feature 0"},
		{"wrong nesting", fc(zoneJSON("Z-08", `[[120.9,31.98],[120.91,31.98]]`)), CodeSyntax, 0, "Z-08", "array of rings"},
		{"empty multipolygon", fc(`{"type":"Feature","id":"M","properties":{"kind":"zone","name":"a"},"geometry":{"type":"MultiPolygon","coordinates":[]}}`), CodeEmpty, 0, "M", "no polygons"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decode(c.doc)
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("got %v, want a *geo.Error", err)
			}
			if ge.Code != c.code || ge.Feature != c.feature || ge.ID != c.id || !strings.Contains(ge.Error(), c.msg) {
				t.Fatalf("got code=%s feature=%d id=%q msg=%q\nwant code=%s feature=%d id=%q containing %q",
					ge.Code, ge.Feature, ge.ID, ge.Error(), c.code, c.feature, c.id, c.msg)
			}
			if c.feature >= 0 && !strings.Contains(ge.Error(), fmt.Sprintf("feature %d", c.feature)) {
				t.Fatalf("message %q does not name the feature index", ge.Error())
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	big := fc(strings.Repeat(stallJSON+",", 10) + stallJSON)
	_, err := DecodeFeatureCollection(strings.NewReader(big), Limits{MaxBytes: 200})
	if ErrorCode(err) != CodeTooLarge {
		t.Fatalf("over MaxBytes: got %v", err)
	}
	var many []string
	for i := range 5 {
		many = append(many, strings.Replace(stallJSON, "S-001", fmt.Sprintf("S-%03d", i), 1))
	}
	_, err = DecodeFeatureCollection(strings.NewReader(fc(many...)), Limits{MaxFeatures: 4})
	var ge *Error
	if !errors.As(err, &ge) || ge.Code != CodeTooLarge || ge.Feature != 4 {
		t.Fatalf("over MaxFeatures: got %v", err)
	}
	_, err = DecodeFeatureCollection(strings.NewReader(fc(zoneJSON("Z", square))), Limits{MaxRingPositions: 4})
	if ErrorCode(err) != CodeTooLarge {
		t.Fatalf("over MaxRingPositions: got %v", err)
	}
	_, err = DecodeFeatureCollection(strings.NewReader(fc(zoneJSON("Z", square), stallJSON)), Limits{MaxPositions: 5})
	if !errors.As(err, &ge) || ge.Code != CodeTooLarge || ge.Feature != 1 {
		t.Fatalf("over MaxPositions: got %v", err)
	}
}

func TestEncodeRightHandRule(t *testing.T) {
	cw := orb.Ring{{0, 0}, {0, 4}, {4, 4}, {4, 0}, {0, 0}}
	ccwHole := orb.Ring{{1, 1}, {2, 1}, {2, 2}, {1, 2}, {1, 1}}
	in := FeatureCollection{Features: []Feature{{
		ID: "Z-01", Kind: KindZone, Name: "区", Geometry: orb.Polygon{cw, ccwHole},
		Properties: map[string]any{"capacity": 12.0},
	}}}
	var buf bytes.Buffer
	if err := in.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := DecodeFeatureCollection(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Features[0].Geometry.(orb.Polygon)
	if p[0].Orientation() != orb.CCW || p[1].Orientation() != orb.CW {
		t.Fatalf("exported orientation: shell %v, hole %v; want CCW, CW", p[0].Orientation(), p[1].Orientation())
	}
	if cw[1] != (orb.Point{0, 4}) {
		t.Fatal("Encode modified its input")
	}
	if out.Features[0].Properties["capacity"] != 12.0 || out.Features[0].Name != "区" {
		t.Fatalf("properties lost: %+v", out.Features[0])
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	var buf bytes.Buffer
	bad := FeatureCollection{Features: []Feature{
		{ID: "K-1", Kind: KindKitchen, Name: "a", Geometry: orb.Point{1, 1}},
		{ID: "K-2", Kind: KindKitchen, Name: "b", Geometry: orb.Point{math.NaN(), 1}},
	}}
	err := bad.Encode(&buf)
	var ge *Error
	if !errors.As(err, &ge) || ge.Code != CodeNotFinite || ge.Feature != 1 || ge.ID != "K-2" {
		t.Fatalf("got %v", err)
	}
	if buf.Len() != 0 {
		t.Fatal("Encode wrote output for an invalid collection")
	}
	bad.Features[1].Geometry = orb.Point{1, 1}
	bad.Features[1].Properties = map[string]any{"c": make(chan int)}
	if err := bad.Encode(&buf); err == nil || buf.Len() != 0 {
		t.Fatalf("unencodable property: got %v", err)
	}
}

func TestZoneIndex(t *testing.T) {
	doc := fc(
		zoneJSON("Z-01", `[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,2],[2,2],[2,1],[1,1]]]`),
		zoneJSON("Z-02", `[[[3,3],[6,3],[6,6],[3,6],[3,3]]]`),
		stallJSON,
	)
	got, err := decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	zi, err := NewZoneIndex(got.Features)
	if err != nil {
		t.Fatal(err)
	}
	if zi.Len() != 2 {
		t.Fatalf("indexed %d zones, want 2 (points are ignored)", zi.Len())
	}
	for _, c := range []struct {
		p    orb.Point
		want string
	}{
		{orb.Point{0.5, 0.5}, "Z-01"},
		{orb.Point{1.5, 1.5}, ""}, // in the hole
		{orb.Point{3.5, 3.5}, "Z-01,Z-02"},
		{orb.Point{5, 5}, "Z-02"},
		{orb.Point{0, 2}, "Z-01"}, // outer boundary counts in
		{orb.Point{1, 1.5}, ""},   // hole boundary counts out
		{orb.Point{7, 7}, ""},
	} {
		ids, err := zi.Locate(c.p)
		if err != nil || strings.Join(ids, ",") != c.want {
			t.Errorf("Locate(%v) = %v, %v; want %q", c.p, ids, err, c.want)
		}
	}
	if _, err := zi.Locate(orb.Point{math.Inf(1), 0}); ErrorCode(err) != CodeNotFinite {
		t.Fatalf("Locate(+Inf) error %v", err)
	}
	if !zi.Contains("Z-02", orb.Point{5, 5}) || zi.Contains("Z-01", orb.Point{5, 5}) || zi.Contains("nope", orb.Point{5, 5}) {
		t.Fatal("Contains is wrong")
	}
	if _, ok := zi.Zone("Z-02"); !ok {
		t.Fatal("Zone(Z-02) not found")
	}
}
