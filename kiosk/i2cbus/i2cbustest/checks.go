package i2cbustest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// NewFunc builds the driver under test on an environment.
type NewFunc func(env device.Env) (*i2cbus.Poller, error)

// Replay runs the driver over the trace until every op is consumed (or
// maxCycles pass) and returns its readings, the poller and the result of
// Playback.Close().
func Replay(t testing.TB, newP NewFunc, tr Trace, maxCycles int) ([]device.Reading, *i2cbus.Poller, error) {
	t.Helper()
	pb := tr.Playback()
	p, err := newP(device.Env{I2C: &Opener{Bus: pb}})
	if err != nil {
		t.Fatal(err)
	}
	out := Run(t, p, func() bool { return Drained(pb) }, maxCycles)
	return out, p, pb.Close()
}

// Mutation is one deviation applied to a golden trace.
type Mutation struct {
	Name  string
	Trace Trace
	Fail  int // op index where it takes effect
	// Want is the error class every such run must report: "EINVALID",
	// "EDEVICE", or "" for either.
	Want string
	// Transient: the device may recover on a retry (a NACK), so the run
	// may still produce every reading.
	Transient bool
	bus       func(Trace) *FailBus
}

// Decided is a reading with the outcome the default rules give it: what
// a driver's golden session file holds.
type Decided struct {
	device.Reading
	Outcome assay.Outcome `json:"outcome"`
}

// GoldenSession replays testdata/session.json through the driver (100
// cycles at most), decides every reading with assay.DefaultRules, and
// compares them with testdata/session.golden.json (rewritten when
// update). A Playback.Close error or a reading the rules cannot decide
// fails the test. It returns the decided readings and the poller.
func GoldenSession(t testing.TB, newP NewFunc, update bool) ([]Decided, *i2cbus.Poller) {
	t.Helper()
	tr, err := Load("testdata/session.json")
	if err != nil {
		t.Fatal(err)
	}
	return GoldenSessionOf(t, newP, tr, update)
}

// GoldenSessionOf is GoldenSession for a trace kept elsewhere (a fixture
// package's embedded session, shared with the firmware's tests).
func GoldenSessionOf(t testing.TB, newP NewFunc, tr Trace, update bool) ([]Decided, *i2cbus.Poller) {
	t.Helper()
	got, p, closeErr := Replay(t, newP, tr, 100)
	if closeErr != nil {
		t.Fatalf("Playback.Close: %v", closeErr)
	}
	out := Decide(t, got)
	Golden(t, "testdata/session.golden.json", out, update)
	return out, p
}

// Decide decides every reading with assay.DefaultRules; a reading the
// rules cannot decide fails the test.
func Decide(t testing.TB, rs []device.Reading) []Decided {
	t.Helper()
	var out []Decided
	for _, r := range rs {
		o, err := assay.DefaultRules().Decide(r.Method, r.Item, r.Raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Decided{r, o})
	}
	return out
}

// Mutations lists, for every read op of tr: a flipped bit in each byte
// that checked(op, byte) says is integrity-checked (want EINVALID), a
// short read and a NACK (want EDEVICE); and for every op, the trace with
// that op dropped.
func Mutations(tr Trace, checked func(op, i int) bool) []Mutation {
	var ms []Mutation
	for _, n := range tr.Reads() {
		for i := range tr.Ops[n].R {
			if checked(n, i) {
				ms = append(ms, Mutation{Name: fmt.Sprintf("flip op %d byte %d", n, i), Trace: tr.Flip(n, i, 0x10), Fail: n, Want: i2cbus.ErrInvalid.Error()})
			}
		}
		ms = append(ms, Mutation{Name: fmt.Sprintf("short read op %d", n), Trace: tr.Short(n), Fail: n, Want: i2cbus.ErrDevice.Error()})
	}
	for n := range tr.Ops {
		ms = append(ms, Mutation{Name: fmt.Sprintf("NACK op %d", n), Trace: tr, Fail: n, Want: i2cbus.ErrDevice.Error(), Transient: true,
			bus: func(t Trace) *FailBus { return &FailBus{Bus: t.Playback(), At: n} }})
		ms = append(ms, Mutation{Name: fmt.Sprintf("drop op %d", n), Trace: tr.Drop(n), Fail: n})
	}
	return ms
}

// CheckMutations replays every mutation and requires: no panic, a typed
// error of the wanted class first, fewer readings than the good run
// (unless the fault is transient and a retry recovers), and no reading
// that the good run did not produce (nothing made from bytes that failed
// a check).
func CheckMutations(t *testing.T, newP NewFunc, ms []Mutation, good []device.Reading) {
	t.Helper()
	goodSet := map[string]bool{}
	for _, r := range good {
		goodSet[key(r)] = true
	}
	for _, m := range ms {
		t.Run(m.Name, func(t *testing.T) {
			var opener *Opener
			if m.bus != nil {
				opener = &Opener{Bus: m.bus(m.Trace)}
			} else {
				opener = &Opener{Bus: m.Trace.Playback()}
			}
			p, err := newP(device.Env{I2C: opener})
			if err != nil {
				t.Fatal(err)
			}
			got := Run(t, p, func() bool { return false }, len(m.Trace.Ops)+8)
			st := p.Status()
			if st.LastErr == "" {
				t.Fatalf("no error reported; status %+v", st)
			}
			first := p.FirstErr()
			if m.Want != "" && !strings.HasPrefix(first, m.Want) {
				t.Errorf("first error %q, want %s", first, m.Want)
			}
			for _, e := range []string{first, st.LastErr} {
				if !strings.HasPrefix(e, "EINVALID") && !strings.HasPrefix(e, "EDEVICE") {
					t.Errorf("untyped error %q", e)
				}
			}
			if !m.Transient && len(got) >= len(good) {
				t.Errorf("%d readings from a damaged trace, the good one gives %d", len(got), len(good))
			}
			for _, r := range got {
				if !goodSet[key(r)] {
					t.Errorf("invented reading %s", key(r))
				}
			}
		})
	}
}

func key(r device.Reading) string {
	b, _ := json.Marshal(r)
	return string(b)
}
