package geo

import (
	"errors"

	"github.com/paulmach/orb"
)

// Candidate is a team (or anyone dispatchable) for [NearestAvailable].
type Candidate struct {
	ID        string
	Point     orb.Point
	Available bool
}

// ErrNoneAvailable is returned by NearestAvailable when no candidate is
// available with a valid position.
var ErrNoneAvailable = errors.New("geo: no available candidate with a valid position; free a team or widen the search")

// NearestAvailable returns the available candidate nearest to target and
// its distance in metres; equal distances go to the smaller ID. Candidates
// with an invalid position are skipped (they cannot be sent anywhere). It
// returns an *Error for an invalid target and [ErrNoneAvailable] when no
// candidate qualifies.
func NearestAvailable(target orb.Point, cands []Candidate) (Candidate, float64, error) {
	if err := ValidatePoint(target); err != nil {
		return Candidate{}, 0, err
	}
	best, bestD, found := Candidate{}, 0.0, false
	for _, c := range cands {
		if !c.Available || !validPoint(c.Point) {
			continue
		}
		d := Distance(target, c.Point)
		if !found || d < bestD || (d == bestD && c.ID < best.ID) {
			best, bestD, found = c, d, true
		}
	}
	if !found {
		return Candidate{}, 0, ErrNoneAvailable
	}
	return best, bestD, nil
}
