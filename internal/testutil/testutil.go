// Package testutil holds the small helpers many packages' tests share, so
// that each exists once. Only tests import it.
//
// A test that needs a logger that says nothing uses the standard library's
// slog.New(slog.DiscardHandler); golden data a codec's tests share with
// other packages' tests lives in that codec's xxxtest package (for
// example dyframetest.Vectors).
package testutil

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Unhex decodes hex written the way the specifications print frames —
// "01 03 00 00 00 01", spaces optional — and fails the test on bad input.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("testutil.Unhex(%q): %v", s, err)
	}
	return b
}
