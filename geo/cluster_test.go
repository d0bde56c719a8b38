package geo

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 5, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))

// bruteClusters is an independent O(n²) statement of the definition in
// FindClusters' doc, returning each cluster as "analyte|cores|members".
func bruteClusters(ev []Event, p ClusterParams) []string {
	p = p.withDefaults()
	nb := func(a, b Event) bool {
		return a.Analyte == b.Analyte && Distance(a.Point, b.Point) <= p.Radius && absDur(a.Time.Sub(b.Time)) <= p.Window
	}
	n := len(ev)
	core := make([]bool, n)
	for i := range n {
		c := 0
		for j := range n {
			if nb(ev[i], ev[j]) {
				c++
			}
		}
		core[i] = c >= p.MinEvents
	}
	seen := make([]bool, n)
	var out []string
	for i := range n {
		if !core[i] || seen[i] {
			continue
		}
		// Flood the core component from i.
		comp := []int{i}
		seen[i] = true
		for q := 0; q < len(comp); q++ {
			for j := range n {
				if core[j] && !seen[j] && nb(ev[comp[q]], ev[j]) {
					seen[j] = true
					comp = append(comp, j)
				}
			}
		}
		var cores, members []string
		for _, c := range comp {
			cores = append(cores, ev[c].ID)
		}
		for j := range n {
			for _, c := range comp {
				if nb(ev[c], ev[j]) {
					members = append(members, ev[j].ID)
					break
				}
			}
		}
		slices.Sort(cores)
		slices.Sort(members)
		out = append(out, ev[i].Analyte+"|"+strings.Join(cores, ",")+"|"+strings.Join(members, ","))
	}
	slices.Sort(out)
	return out
}

func canon(cs []Cluster) []string {
	var out []string
	for _, c := range cs {
		var m []string
		for _, e := range c.Members {
			m = append(m, e.ID)
		}
		slices.Sort(m)
		out = append(out, c.Analyte+"|"+strings.Join(c.Core, ",")+"|"+strings.Join(m, ","))
	}
	slices.Sort(out)
	return out
}

func TestClustersMatchBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 60).Draw(t, "n")
		// A small area so that clusters actually form, sometimes astride
		// the antimeridian.
		centre := rapid.SampledFrom([]orb.Point{{120.9, 31.98}, {179.999, -16.5}, {0, 89.99}}).Draw(t, "centre")
		ev := make([]Event, n)
		for i := range ev {
			lon := centre[0] + rapid.Float64Range(-0.01, 0.01).Draw(t, "dlon")
			if lon > 180 {
				lon -= 360
			}
			lat := min(90, centre[1]+rapid.Float64Range(-0.01, 0.01).Draw(t, "dlat"))
			ev[i] = Event{
				ID:      fmt.Sprintf("e%02d", i),
				Point:   orb.Point{lon, lat},
				Time:    t0.Add(time.Duration(rapid.IntRange(0, 72).Draw(t, "h")) * time.Hour),
				Analyte: rapid.SampledFrom([]string{"organophosphate", "clenbuterol"}).Draw(t, "analyte"),
			}
		}
		p := ClusterParams{
			MinEvents: rapid.IntRange(1, 5).Draw(t, "k"),
			Radius:    rapid.Float64Range(50, 1500).Draw(t, "r"),
			Window:    time.Duration(rapid.IntRange(1, 48).Draw(t, "t")) * time.Hour,
		}
		got, err := FindClusters(ev, p)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := canon(got), bruteClusters(ev, p); !slices.Equal(g, w) {
			t.Fatalf("clusters differ from brute force\n got %v\nwant %v", g, w)
		}
		for _, c := range got {
			if len(c.Members) < p.MinEvents {
				t.Fatalf("cluster with %d members < k = %d", len(c.Members), p.MinEvents)
			}
			if c.Start.After(c.End) || !c.Start.Equal(c.Members[0].Time) {
				t.Fatalf("time span %v–%v, first member %v", c.Start, c.End, c.Members[0].Time)
			}
			for _, m := range c.Members {
				if d := Distance(c.Centroid, m.Point); d > c.Radius+1e-6 {
					t.Fatalf("member %s is %.1f m from the centroid, radius %.1f", m.ID, d, c.Radius)
				}
			}
		}
		// Order of the input does not matter.
		rev := slices.Clone(ev)
		slices.Reverse(rev)
		again, _ := FindClusters(rev, p)
		if !slices.Equal(canon(again), canon(got)) {
			t.Fatal("result depends on input order")
		}
	})
}

func TestClustersDefaults(t *testing.T) {
	at := func(id string, dx, dy float64, h int, a string) Event {
		return Event{ID: id, Point: orb.Point{120.9 + dx, 31.98 + dy}, Time: t0.Add(time.Duration(h) * time.Hour), Analyte: a}
	}
	ev := []Event{
		at("a", 0, 0, 0, "OP"), at("b", 0.001, 0, 2, "OP"), at("c", 0, 0.001, 5, "OP"), // 3 within ~110 m, 5 h
		at("d", 0.002, 0, 1, "clen"), // other analyte
		at("e", 0.05, 0, 1, "OP"),    // 5 km away
		at("f", 0, 0, 40, "OP"),      // too late
	}
	cs, err := FindClusters(ev, ClusterParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || canon(cs)[0] != "OP|a,b,c|a,b,c" {
		t.Fatalf("got %v", canon(cs))
	}
	c := cs[0]
	if !c.Start.Equal(t0) || !c.End.Equal(t0.Add(5*time.Hour)) || c.Radius > 200 {
		t.Fatalf("cluster %+v", c)
	}
	if _, err := FindClusters([]Event{{ID: "x", Point: orb.Point{0, 91}}}, ClusterParams{}); ErrorCode(err) != CodeOutOfRange {
		t.Fatalf("invalid event: %v", err)
	}
	if _, err := FindClusters([]Event{at("x", 0, 0, 0, "a"), at("x", 0, 0, 0, "a")}, ClusterParams{}); ErrorCode(err) != CodeDuplicateID {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestSphericalCentroidAntimeridian(t *testing.T) {
	c := SphericalCentroid([]orb.Point{{179.9, 0}, {-179.9, 0}})
	if !(c[0] > 179.99 || c[0] < -179.99) || c[1] > 1e-9 || c[1] < -1e-9 {
		t.Fatalf("centroid across the antimeridian = %v, want lon ±180", c)
	}
}
