package geo

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// FuzzDecodeFeatureCollection: the decoder never panics; it either returns
// an *Error or a valid collection, and a valid collection survives
// Encode → Decode → Encode unchanged (export is idempotent).
func FuzzDecodeFeatureCollection(f *testing.F) {
	f.Add([]byte(fc(zoneJSON("Z-01", square), stallJSON)))
	f.Add([]byte(fc(zoneJSON("Z-04", `[[[0,0],[4,0],[4,4],[2,0],[0,4],[0,0]]]`))))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"properties":{"kind":"kitchen","name":"k"},"geometry":{"type":"Point","coordinates":[1e400,0]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxBytes: 1 << 16, MaxRingPositions: 256}
		got, err := DecodeFeatureCollection(bytes.NewReader(data), lim)
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("error %v (%T) is not a *geo.Error", err, err)
			}
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("decoded collection does not validate: %v", err)
		}
		var a bytes.Buffer
		if err := got.Encode(&a); err != nil {
			t.Fatalf("decoded collection does not encode: %v", err)
		}
		again, err := DecodeFeatureCollection(bytes.NewReader(a.Bytes()), Limits{})
		if err != nil {
			t.Fatalf("exported collection does not re-import: %v\n%s", err, a.Bytes())
		}
		var b bytes.Buffer
		if err := again.Encode(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("export is not idempotent:\n%s\n%s", a.Bytes(), b.Bytes())
		}
	})
}

// FuzzRectFromJSON: the rect function runs inside buntdb's Open, so it
// never panics, and whatever it returns is either (nil, nil) or a valid
// finite rectangle; stored JSON values yield only valid WGS-84 points.
func FuzzRectFromJSON(f *testing.F) {
	f.Add(`{"loc":[120.9,31.98]}`)
	f.Add(`{"loc":[120.9,31.98],"id":"r1"}`)
	f.Add(`[120.9 31.98],[121 32]`)
	f.Fuzz(func(t *testing.T, value string) {
		min, max := RectFromJSON(value)
		if (min == nil) != (max == nil) {
			t.Fatalf("half a rect: %v %v", min, max)
		}
		if min == nil {
			return
		}
		if len(min) != 2 || len(max) != 2 {
			t.Fatalf("rect has %d/%d dims, want 2", len(min), len(max))
		}
		for d := range 2 {
			if math.IsNaN(min[d]) || math.IsInf(min[d], 0) || math.IsNaN(max[d]) || math.IsInf(max[d], 0) || min[d] > max[d] {
				t.Fatalf("bad rect %v %v", min, max)
			}
		}
		if len(value) > 0 && value[0] == '{' {
			if min[0] != max[0] || min[1] != max[1] || min[0] < -180 || min[0] > 180 || min[1] < -90 || min[1] > 90 {
				t.Fatalf("stored value %q gave %v %v, want a valid point", value, min, max)
			}
		}
	})
}

// FuzzDecodeAll: the collecting decoder never panics, every problem names
// a feature of the file, the valid features validate as a collection, and
// with no problems it agrees with DecodeFeatureCollection.
func FuzzDecodeAll(f *testing.F) {
	f.Add([]byte(fc(zoneJSON("Z-01", square), stallJSON)), "", "", "")
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"fid":1,"NAME":"A"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},{"type":"Feature","properties":{"fid":1,"NAME":"B"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}]}`), "fid", "NAME", "zone")
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"x","properties":{"name":"n"},"geometry":null}]}`), "", "", "kitchen")
	f.Fuzz(func(t *testing.T, data []byte, id, name, kind string) {
		lim := Limits{MaxBytes: 1 << 16, MaxRingPositions: 256}
		d, err := DecodeAll(bytes.NewReader(data), lim, Mapping{ID: id, Name: name, Kind: Kind(kind)})
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("error %v (%T) is not a *geo.Error", err, err)
			}
			return
		}
		if d.Total != len(d.Features)+len(d.Problems) {
			t.Fatalf("total %d ≠ %d features + %d problems", d.Total, len(d.Features), len(d.Problems))
		}
		seen := map[int]bool{}
		for _, p := range d.Problems {
			if p.Feature < 0 || p.Feature >= d.Total || seen[p.Feature] {
				t.Fatalf("problem at feature %d of %d (twice: %v): %v", p.Feature, d.Total, seen[p.Feature], p)
			}
			seen[p.Feature] = true
		}
		if err := d.FeatureCollection.Validate(); err != nil {
			t.Fatalf("the valid features do not validate: %v", err)
		}
		if id == "" && name == "" && kind == "" && len(d.Problems) == 0 {
			if _, err := DecodeFeatureCollection(bytes.NewReader(data), lim); err != nil {
				t.Fatalf("no problems collected, but the strict decoder refuses: %v", err)
			}
		}
	})
}
