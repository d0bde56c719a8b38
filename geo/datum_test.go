package geo

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
	"pgregory.net/rapid"
)

func near(a, b orb.Point, tol float64) bool {
	return math.Abs(a[0]-b[0]) <= tol && math.Abs(a[1]-b[1]) <= tol
}

// Reference pairs published with the eviltransform and coordtransform
// libraries (points in [lon, lat]).
func TestDatumReferencePairs(t *testing.T) {
	wgsGCJ := []struct{ wgs, gcj orb.Point }{
		{orb.Point{121.5272106, 31.1774276}, orb.Point{121.531541859215, 31.17530398364597}}, // Shanghai
		{orb.Point{113.912316, 22.543847}, orb.Point{113.9171764808363, 22.540796131694766}}, // Shenzhen
		{orb.Point{116.377817, 39.911954}, orb.Point{116.38404722455657, 39.91334545536069}}, // Beijing
		{orb.Point{116.404, 39.915}, orb.Point{116.41024449916938, 39.91640428150164}},       // coordtransform
	}
	for _, c := range wgsGCJ {
		if got := WGS84ToGCJ02(c.wgs); !near(got, c.gcj, 1e-9) {
			t.Errorf("WGS84ToGCJ02(%v) = %v, want %v", c.wgs, got, c.gcj)
		}
		if got := GCJ02ToWGS84(c.gcj); !near(got, c.wgs, 1e-8) {
			t.Errorf("GCJ02ToWGS84(%v) = %v, want %v", c.gcj, got, c.wgs)
		}
	}
	// GCJ-02 → BD-09 is a closed form: exact agreement.
	if got := GCJ02ToBD09(orb.Point{116.404, 39.915}); !near(got, orb.Point{116.41036949371029, 39.92133699351021}, 1e-12) {
		t.Errorf("GCJ02ToBD09 = %v", got)
	}
	// The published BD-09 → GCJ-02 is a one-step approximation; ours
	// iterates, so agreement is to the approximation's error (~1e-5°).
	if got := BD09ToGCJ02(orb.Point{116.404, 39.915}); !near(got, orb.Point{116.39762729119315, 39.90865673957631}, 2e-5) {
		t.Errorf("BD09ToGCJ02 = %v", got)
	}
	// geocraft's WGS-84 ↔ BD-09 pair: forward is closed-form (exact),
	// its inverse used one-step approximations (within ~1e-5°).
	if got := WGS84ToBD09(orb.Point{116.404, 39.915}); !near(got, orb.Point{116.41662724378733, 39.922699552216216}, 1e-9) {
		t.Errorf("WGS84ToBD09 = %v", got)
	}
	if got := BD09ToWGS84(orb.Point{116.404, 39.915}); !near(got, orb.Point{116.3913836995125, 39.907253214522164}, 2e-5) {
		t.Errorf("BD09ToWGS84 = %v", got)
	}
}

func TestDatumOutsideChinaUnchanged(t *testing.T) {
	for _, p := range []orb.Point{{-104.9903, 39.7392}, {153.0251, -27.4698}, {-43.1729, -22.9068}, {2.35, 48.85}, {180, 0}, {0, -90}} {
		for _, f := range []func(orb.Point) orb.Point{WGS84ToGCJ02, GCJ02ToWGS84, GCJ02ToBD09, BD09ToGCJ02, WGS84ToBD09, BD09ToWGS84} {
			if got := f(p); got != p {
				t.Errorf("%v moved to %v outside China", p, got)
			}
		}
	}
}

func TestDatumRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Stay a little inside the box so the offset point is in it too.
		p := orb.Point{rapid.Float64Range(73, 135).Draw(t, "lon"), rapid.Float64Range(1, 55).Draw(t, "lat")}
		g := WGS84ToGCJ02(p)
		if d := Distance(p, g); d > 2000 {
			t.Fatalf("GCJ-02 offset at %v is %.0f m, expected hundreds", p, d)
		}
		if back := GCJ02ToWGS84(g); !near(back, p, 1e-6) {
			t.Fatalf("GCJ02ToWGS84(WGS84ToGCJ02(%v)) = %v", p, back)
		}
		if back := BD09ToWGS84(WGS84ToBD09(p)); !near(back, p, 1e-6) {
			t.Fatalf("BD09ToWGS84(WGS84ToBD09(%v)) = %v", p, back)
		}
		if back := GCJ02ToBD09(BD09ToGCJ02(g)); !near(back, g, 1e-6) {
			t.Fatalf("GCJ02ToBD09(BD09ToGCJ02(%v)) = %v", g, back)
		}
		for _, from := range []Datum{WGS84, GCJ02, BD09} {
			for _, to := range []Datum{WGS84, GCJ02, BD09} {
				q, err := Convert(p, from, to)
				if err != nil {
					t.Fatal(err)
				}
				r, _ := Convert(q, to, from)
				if !near(r, p, 1e-6) {
					t.Fatalf("Convert %v→%v→%v: %v → %v → %v", from, to, from, p, q, r)
				}
			}
		}
	})
}

func TestConvertGeometry(t *testing.T) {
	poly := orb.Polygon{{{120.9, 31.98}, {120.91, 31.98}, {120.91, 31.99}, {120.9, 31.98}}}
	g, err := ConvertGeometry(poly, WGS84, GCJ02)
	if err != nil {
		t.Fatal(err)
	}
	got := g.(orb.Polygon)
	if got[0][1] != WGS84ToGCJ02(orb.Point{120.91, 31.98}) || poly[0][1] != (orb.Point{120.91, 31.98}) {
		t.Fatalf("converted %v (input now %v)", got, poly)
	}
	if _, err := ConvertGeometry(poly, Datum(9), WGS84); ErrorCode(err) != CodeInvalidArgument {
		t.Fatalf("unknown datum: %v", err)
	}
	if WGS84.String() != "WGS-84" || GCJ02.String() != "GCJ-02" || BD09.String() != "BD-09" {
		t.Fatal("Datum.String")
	}
}
