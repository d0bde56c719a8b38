package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/tidwall/buntdb"
)

// TestBuntDBSpatialIndex drives RectFromJSON the way the command store
// does: a real buntdb file, a spatial index over "loc", circle queries as
// Intersects on SearchBounds re-ranked with Distance (docs/reliability.md test
// 21), malformed records skipped and counted (test 22), and identical
// answers after close and reopen (test 23).
func TestBuntDBSpatialIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	rng := rand.New(rand.NewPCG(23, 23))
	var pts []Item
	open := func() (*buntdb.DB, *RectStats) {
		db, err := buntdb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var stats RectStats
		if err := db.CreateSpatialIndex("pos", "result:*", stats.Rect); err != nil {
			t.Fatal(err)
		}
		return db, &stats
	}
	db, stats := open()
	err := db.Update(func(tx *buntdb.Tx) error {
		for i := range 2000 {
			p := randomAwkward(rng)
			if i%3 == 0 {
				p = orb.Point{120.85 + rng.Float64()*0.15, 31.95 + rng.Float64()*0.1}
			}
			id := fmt.Sprintf("result:%05d", i)
			pts = append(pts, Item{ID: id, Point: p})
			if _, _, err := tx.Set(id, fmt.Sprintf(`{"id":%q,"loc":[%v,%v]}`, id, p[0], p[1]), nil); err != nil {
				return err
			}
		}
		for i, bad := range []string{`{"loc":[1,2]`, `{"loc":[0,95]}`, `garbage`, `{"loc":"x"}`} {
			if _, _, err := tx.Set(fmt.Sprintf("result:bad%d", i), bad, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type query struct {
		c orb.Point
		r float64
	}
	var queries []query
	for range 60 {
		c := randomAwkward(rng)
		if rng.IntN(2) == 0 {
			c = orb.Point{120.85 + rng.Float64()*0.15, 31.95 + rng.Float64()*0.1}
		}
		queries = append(queries, query{c, math.Pow(10, 1+rng.Float64()*5.5)})
	}
	run := func(db *buntdb.DB) (circles [][]string, nearby []string) {
		err := db.View(func(tx *buntdb.Tx) error {
			for _, q := range queries {
				bounds, err := SearchBounds(q.c, q.r)
				if err != nil {
					return err
				}
				var ids []string
				for _, b := range bounds {
					err := tx.Intersects("pos", RectString(b), func(key, val string) bool {
						min, _ := RectFromJSON(val)
						if Distance(q.c, orb.Point{min[0], min[1]}) <= q.r && !slices.Contains(ids, key) {
							ids = append(ids, key)
						}
						return true
					})
					if err != nil {
						return err
					}
				}
				slices.Sort(ids)
				circles = append(circles, ids)
			}
			n := 0
			return tx.Nearby("pos", PointString(orb.Point{120.9, 31.98}), func(key, _ string, _ float64) bool {
				nearby = append(nearby, key)
				n++
				return n < 25
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return circles, nearby
	}
	circles, nearby := run(db)
	for i, q := range queries {
		var want []string
		for _, h := range bruteWithin(pts, q.c, q.r) {
			want = append(want, h.ID)
		}
		slices.Sort(want)
		if !slices.Equal(circles[i], want) {
			t.Fatalf("circle %v r=%g: buntdb+SearchBounds found %d, brute force %d", q.c, q.r, len(circles[i]), len(want))
		}
	}
	if len(nearby) != 25 {
		t.Fatalf("Nearby returned %d keys", len(nearby))
	}
	if stats.Skipped() != 4 || stats.Indexed() != 2000 {
		t.Fatalf("indexed %d, skipped %d; want 2000 and 4", stats.Indexed(), stats.Skipped())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, stats = open()
	defer db.Close()
	c2, n2 := run(db)
	if !slices.EqualFunc(circles, c2, slices.Equal) || !slices.Equal(nearby, n2) {
		t.Fatal("answers differ after reopen: the index was not rebuilt")
	}
	if stats.Skipped() != 4 {
		t.Fatalf("after reopen skipped %d, want 4", stats.Skipped())
	}
}
