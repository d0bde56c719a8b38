package outbox

import (
	"testing"

	"go.uber.org/goleak"
)

// buntdb's background goroutine notices Close at its next 1 s tick.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/tidwall/buntdb.(*DB).backgroundManager"))
}
