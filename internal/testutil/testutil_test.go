package testutil

import (
	"bytes"
	"testing"
)

func TestUnhex(t *testing.T) {
	if got := Unhex(t, "01 03 00 0a"); !bytes.Equal(got, []byte{1, 3, 0, 10}) {
		t.Errorf("Unhex: % x", got)
	}
	if got := Unhex(t, "FF00"); !bytes.Equal(got, []byte{0xff, 0}) {
		t.Errorf("Unhex: % x", got)
	}
}
