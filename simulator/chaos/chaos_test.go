package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestChaos is docs/reliability.md tests 7 and 17 at CI size, with the real
// binaries: 2 kiosks × 250 tests, 20 kiosk kills, 5 command kills, and the
// fault schedule; every test is stored exactly once. SHIAN_RELIABILITY=full
// runs 10 kiosks × 1,000 tests with 200 kiosk kills and 50 command kills.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool to build the binaries")
	}
	o := Options{Kiosks: 2, Results: 250, KillKiosk: 20, KillCommand: 5, Faults: true, MaxHold: 500 * time.Millisecond, Seed: 7}
	if os.Getenv("SHIAN_RELIABILITY") == "full" {
		o.Kiosks, o.Results, o.KillKiosk, o.KillCommand = 10, 1000, 200, 50
	}
	o.DataDir = filepath.Join(t.TempDir(), "chaos")
	o.Out = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := Run(ctx, o)
	for _, p := range l.Problems {
		t.Log("problem:", p)
	}
	t.Logf("tests %d, kiosk kills %d, command kills %d, fault steps %d, drained %v, took %v, alarms %v, repeats %d, repairs %d",
		l.Tests, l.KioskKills, l.CommandKills, l.FaultSteps, l.Drained, l.Elapsed, l.Alarms, l.Repeats, l.Repairs)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(l.Line())
	if !l.OK() || l.Produced != o.Kiosks*o.Results || l.KioskKills != o.KillKiosk || l.CommandKills != o.KillCommand {
		t.Fatalf("%s (tests %d)", l.Line(), l.Tests)
	}
}
