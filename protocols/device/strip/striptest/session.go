package striptest

import (
	"bytes"
	_ "embed"
	"path/filepath"
	"runtime"
)

//go:embed session.json
var session []byte

// Session returns the golden I²C session of this fixture: the kiosk's
// direct driver (kiosk/device/tcs34725) reading an empty slot, a negative
// strip and a positive one, recorded from a [Fixture] (an i2cbustest
// trace, JSON). The driver's tests replay it, and so do the firmware's,
// which must issue exactly the same transactions.
func Session() []byte { return bytes.Clone(session) }

// SessionFile is the path of session.json in the source tree, for the
// driver's test that re-records it (-update).
func SessionFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "session.json")
}
