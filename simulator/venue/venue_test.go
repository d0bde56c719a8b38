package venue

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shianfood/shian/geo"
)

func mustGenerate(t *testing.T, cfg Config) *Venue {
	t.Helper()
	v, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func zoneIndex(t *testing.T, v *Venue) *geo.ZoneIndex {
	t.Helper()
	zi, err := geo.NewZoneIndex(v.ZonesGeoJSON().Features)
	if err != nil {
		t.Fatal(err)
	}
	return zi
}

func checkVenue(t *testing.T, v *Venue) {
	t.Helper()
	if n := len(v.Zones); n < 4 || n > 6 {
		t.Fatalf("%d zones, want 4–6", n)
	}
	if n := len(v.Kitchens); n < 3 || n > 5 {
		t.Fatalf("%d kitchens, want 3–5", n)
	}
	zi := zoneIndex(t, v)
	ids := map[string]bool{}
	unique := func(id string) {
		if id == "" || ids[id] {
			t.Fatalf("id %q empty or repeated", id)
		}
		ids[id] = true
	}
	for _, z := range v.Zones {
		unique(z.ID)
	}
	for _, s := range v.Stalls {
		unique(s.ID)
		got, err := zi.Locate(s.Point)
		if err != nil {
			t.Fatal(err)
		}
		// Exactly its own zone (and the venue grounds).
		if len(got) != 2 || !(got[0] == s.ZoneID || got[1] == s.ZoneID) || !zi.Contains(v.ID, s.Point) {
			t.Fatalf("stall %s at %v is in %v, want its zone %s and the venue", s.ID, s.Point, got, s.ZoneID)
		}
		if s.Name == "" || s.Category == "" || s.Grade < GradeA || s.Grade > GradeD {
			t.Fatalf("stall %+v incomplete", s)
		}
	}
	for _, k := range v.Kitchens {
		unique(k.ID)
		if got, _ := zi.Locate(k.Point); len(got) != 1 || got[0] != v.ID {
			t.Fatalf("kitchen %s at %v is in %v, want only the venue grounds", k.ID, k.Point, got)
		}
	}
	for _, b := range v.Banquets {
		unique(b.ID)
		if d := geo.Distance(Centre, b.Point); d > MaxBanquetKm*1000 || d < 3000 {
			t.Fatalf("banquet %s is %.0f m from the venue, want 3–20 km", b.ID, d)
		}
		if b.Start.Before(v.Start) || !b.End.After(b.Start) || b.Start.After(v.End) || b.Headcount < 50 {
			t.Fatalf("banquet %+v has a bad window or headcount", b)
		}
	}
	for _, tm := range v.Teams {
		unique(tm.ID)
		if err := geo.ValidatePoint(tm.Home); err != nil || !zi.Contains(v.ID, tm.Home) {
			t.Fatalf("team %s home %v not in the grounds (%v)", tm.ID, tm.Home, err)
		}
	}
	// Re-import every collection through the geo decoder.
	for name, fc := range map[string]geo.FeatureCollection{
		"zones": v.ZonesGeoJSON(), "stalls": v.StallsGeoJSON(), "sites": v.SitesGeoJSON(), "all": v.GeoJSON(),
	} {
		var buf bytes.Buffer
		if err := fc.Encode(&buf); err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		back, err := geo.DecodeFeatureCollection(&buf, geo.Limits{})
		if err != nil {
			t.Fatalf("%s: re-import: %v", name, err)
		}
		if len(back.Features) != len(fc.Features) {
			t.Fatalf("%s: %d features back, %d out", name, len(back.Features), len(fc.Features))
		}
	}
}

func TestDefaultVenue(t *testing.T) {
	v := mustGenerate(t, Config{Seed: 1})
	if len(v.Stalls) != 48 || len(v.Banquets) != 4 || len(v.Teams) != 5 {
		t.Fatalf("defaults: %d stalls, %d banquets, %d teams", len(v.Stalls), len(v.Banquets), len(v.Teams))
	}
	if v.Stalls[0].ID != "S-001" || v.Kitchens[0].ID != "K-01" || v.Banquets[0].ID != "B-01" {
		t.Fatalf("ids: %s %s %s", v.Stalls[0].ID, v.Kitchens[0].ID, v.Banquets[0].ID)
	}
	if c := v.Centre; c[0] < 120.85 || c[0] > 121.0 || c[1] < 31.95 || c[1] > 32.05 {
		t.Fatalf("centre %v is not near Nantong", c)
	}
	holes := 0
	for _, z := range v.Zones {
		holes += len(z.Area) - 1
	}
	if holes == 0 {
		t.Fatal("no zone has a hole")
	}
	checkVenue(t, v)
}

func TestSeeds(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkVenue(t, mustGenerate(t, Config{Seed: seed, Stalls: 60, Banquets: 5, Teams: 6}))
		})
	}
}

func TestScalesTo10000(t *testing.T) {
	v := mustGenerate(t, Config{Seed: 7, Stalls: 10_000})
	if len(v.Stalls) != 10_000 || v.Stalls[9999].ID != "S-10000" {
		t.Fatalf("%d stalls, last %s", len(v.Stalls), v.Stalls[len(v.Stalls)-1].ID)
	}
	checkVenue(t, v)
}

func TestDeterministic(t *testing.T) {
	enc := func(v *Venue) []byte {
		var buf bytes.Buffer
		if err := v.GeoJSON().Encode(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a := enc(mustGenerate(t, Config{Seed: 42}))
	b := enc(mustGenerate(t, Config{Seed: 42}))
	c := enc(mustGenerate(t, Config{Seed: 43}))
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different venue")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same venue")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Stalls: -1}, {Stalls: MaxStalls + 1}, {Teams: 3}, {Teams: 7}, {Banquets: 13}, {Days: 31}} {
		if _, err := Generate(c); err == nil {
			t.Errorf("Generate(%+v) accepted", c)
		}
	}
}
