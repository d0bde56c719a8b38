package geo

import (
	"cmp"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// Item is one point in an [Index]: an id (stall, kiosk, result, team …) and
// its WGS-84 position.
type Item struct {
	ID    string
	Point orb.Point
}

// Hit is an item found by a query, with its great-circle distance from the
// query point in metres (see [Distance]).
type Hit struct {
	Item
	Metres float64
}

// Index answers nearest and within-radius queries over a fixed set of
// points. It is immutable once built and safe for concurrent use; to change
// the set, build a new one (building 10,000 points takes milliseconds).
//
// Results are exact: the tree proposes candidates by chord distance on the
// unit sphere, and every candidate is re-measured with [Distance], so a query
// returns the same set, in the same order, as a brute-force haversine scan
// sorted by (Metres, ID).
type Index struct {
	items []Item
	vecs  [][3]float64
	tree  rtree
}

// IndexBuilder collects items for an [Index], rejecting invalid ones as they
// are added. The zero value is ready to use.
type IndexBuilder struct {
	items []Item
	ids   map[string]struct{}
}

// Add validates it and keeps it for Build. It returns an *Error with code
// [CodeNotFinite] or [CodeOutOfRange] for a bad position, [CodeProperty] for
// an empty id and [CodeDuplicateID] for an id already added; a rejected item
// is never indexed. The error's Feature is the number of items accepted so
// far.
func (b *IndexBuilder) Add(it Item) error {
	n := len(b.items)
	if it.ID == "" {
		return errorf(CodeProperty, n, "", "id", "item has an empty id; every indexed point needs one")
	}
	if err := checkPosition(it.Point); err != nil {
		return err.at(n, it.ID, "")
	}
	if b.ids == nil {
		b.ids = make(map[string]struct{})
	}
	if _, dup := b.ids[it.ID]; dup {
		return errorf(CodeDuplicateID, n, it.ID, "id", "id %q was already added; ids must be unique", it.ID)
	}
	b.ids[it.ID] = struct{}{}
	b.items = append(b.items, it)
	return nil
}

// Len returns the number of items accepted so far.
func (b *IndexBuilder) Len() int { return len(b.items) }

// Build returns an Index of the accepted items. The builder may be reused;
// later Adds do not affect the returned Index.
func (b *IndexBuilder) Build() *Index {
	items := slices.Clone(b.items)
	ix := &Index{items: items, vecs: make([][3]float64, len(items))}
	boxes := make([]box, len(items))
	for i, it := range items {
		ix.vecs[i] = unit(it.Point)
		boxes[i] = pointBox(ix.vecs[i])
	}
	ix.tree = buildRTree(boxes)
	return ix
}

// NewIndex builds an Index of items. It fails on the first invalid item,
// with an *Error whose Feature is that item's position in items; use an
// [IndexBuilder] to skip bad items instead.
func NewIndex(items []Item) (*Index, error) {
	var b IndexBuilder
	for i, it := range items {
		if err := b.Add(it); err != nil {
			e := err.(*Error)
			return nil, e.at(i, it.ID, "")
		}
	}
	return b.Build(), nil
}

// Len returns the number of indexed items.
func (ix *Index) Len() int { return len(ix.items) }

// Items returns the indexed items (shared; do not modify).
func (ix *Index) Items() []Item { return ix.items }

// Within returns every item within metres of p (inclusive), nearest first,
// ties by ID.
func (ix *Index) Within(p orb.Point, metres float64) ([]Hit, error) {
	if err := ValidatePoint(p); err != nil {
		return nil, err
	}
	if !(metres >= 0) || math.IsInf(metres, 0) {
		return nil, errorf(CodeInvalidArgument, -1, "", "", "radius %v m must be a finite number ≥ 0", metres)
	}
	var hits []Hit
	ix.tree.within(unit(p), chordFor(metres), func(e int, _ float64) {
		if d := Distance(p, ix.items[e].Point); d <= metres {
			hits = append(hits, Hit{Item: ix.items[e], Metres: d})
		}
	})
	sortHits(hits)
	return hits, nil
}

// Nearest returns the k items nearest to p, nearest first, ties by ID
// (fewer when the index holds fewer than k).
func (ix *Index) Nearest(p orb.Point, k int) ([]Hit, error) {
	if err := ValidatePoint(p); err != nil {
		return nil, err
	}
	if k < 0 {
		return nil, errorf(CodeInvalidArgument, -1, "", "", "k = %d must be ≥ 0", k)
	}
	if k == 0 || len(ix.items) == 0 {
		return nil, nil
	}
	if k >= len(ix.items) {
		// Everything is in the answer: measure all, no tree walk.
		hits := make([]Hit, len(ix.items))
		for i, it := range ix.items {
			hits[i] = Hit{Item: it, Metres: Distance(p, it.Point)}
		}
		sortHits(hits)
		return hits, nil
	}
	v := unit(p)
	var cands []Hit
	// kth tracks the k-th smallest exact distance seen; once the tree's
	// lower bound passes its chord, no later entry can enter the result.
	var worst []float64 // the k smallest distances so far, ascending
	bound2 := math.Inf(1)
	ix.tree.nearest(v, func(e int, d2 float64) bool {
		if d2 > bound2 {
			return false
		}
		d := Distance(p, ix.items[e].Point)
		cands = append(cands, Hit{Item: ix.items[e], Metres: d})
		i, _ := slices.BinarySearch(worst, d)
		if i < k {
			worst = slices.Insert(worst, i, d)
			if len(worst) > k {
				worst = worst[:k]
			}
			if len(worst) == k {
				c := chordFor(worst[k-1])
				bound2 = c * c
			}
		}
		return true
	})
	sortHits(cands)
	if len(cands) > k {
		cands = cands[:k]
	}
	return cands, nil
}

func sortHits(h []Hit) {
	slices.SortFunc(h, func(a, b Hit) int {
		if c := cmp.Compare(a.Metres, b.Metres); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
