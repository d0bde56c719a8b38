// Package dyframetest holds the test vectors of protocols/device/dyframe, shared by
// the codec's tests and by every other package's tests that must agree
// with it (the firmware, the kiosk's driver): docs/reliability.md test 4.
package dyframetest

import (
	"bytes"
	_ "embed"
)

//go:embed vectors.json
var vectors []byte

// Vectors returns the shared test vectors of dyframe (vectors.json beside this
// file, JSON): the codec's own tests and the tests of everything that
// speaks its format read the same bytes, so the two sides cannot drift
// (docs/reliability.md test 4).
func Vectors() []byte { return bytes.Clone(vectors) }
