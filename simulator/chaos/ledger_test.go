package chaos

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/shianfood/shian/internal/durable"
	kioskpkg "github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/protocols/wire"
)

// TestEventsFromJSONLogs: the events are read from the JSON lines the
// kiosk's logger writes (the same slog JSON handler shian-kiosk uses with
// --log-format json), whatever the message says; other lines count for
// nothing.
func TestEventsFromJSONLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("result saved", "event", kioskpkg.EventResultSaved, "seq", 1, "result_id", "r-1")
	log.Info("a reworded message", "event", kioskpkg.EventResultSaved, "seq", 2, "result_id", "r-2")
	log.Info("result already saved; the instrument repeated its report", "event", kioskpkg.EventResultRepeat, "result_id", "r-2")
	log.Warn("outbox file repaired before opening", "event", durable.EventRepaired, "action", "truncated")
	log.Info("result saved", "seq", 3, "result_id", "r-3") // no event attribute: not counted
	buf.WriteString("panic: runtime error: index out of range\n")
	buf.WriteString(`msg="result saved" result_id=r-4` + "\n")        // a text line is not an event
	buf.WriteString(`{"event": "result_saved", "result_id": ` + "\n") // torn JSON
	var e events
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		e.line("K-1", []byte(l))
	}
	if len(e.saved) != 2 || e.saved["r-1"] != "K-1" || e.saved["r-2"] != "K-1" {
		t.Errorf("saved %v, want r-1 and r-2 of K-1", e.saved)
	}
	if e.repeats != 1 || e.repairs != 1 {
		t.Errorf("repeats %d repairs %d, want 1 and 1", e.repeats, e.repairs)
	}
}

// TestTally: the arithmetic of the books — a result logged as saved but
// missing from its outbox is lost, a saved result not stored is lost, a
// finished test never saved is lost, a test stored twice is one duplicate,
// and a clean run balances.
func TestTally(t *testing.T) {
	res := func(id, kiosk string, seq uint64, tg string) wire.Result {
		return wire.Result{ResultID: id, KioskID: kiosk, Seq: seq, Sample: wire.Sample{Name: tg}}
	}
	clean := tally{
		produced: map[string]wire.Result{"a": res("a", "K-1", 1, tag(1, 1)), "b": res("b", "K-1", 2, tag(1, 2))},
		saved:    map[string]string{"a": "K-1", "b": "K-1"},
		stored:   map[string]bool{"a": true, "b": true},
		byTag:    map[string][]string{tag(1, 1): {"a"}, tag(1, 2): {"b"}},
		started:  []testers{{kioskID: "K-1", index: 1, tests: 2}},
	}
	var l Ledger
	if p := clean.count(&l); len(p) != 0 || !l.OK() || l.Produced != 2 || l.Stored != 2 {
		t.Fatalf("clean run: %+v %v", l, p)
	}

	bad := tally{
		produced: map[string]wire.Result{
			"a": res("a", "K-1", 1, tag(1, 1)),
			"b": res("b", "K-1", 2, tag(1, 2)), // saved, never stored
			"c": res("c", "K-1", 3, tag(1, 3)),
			"d": res("d", "K-1", 4, tag(1, 3)), // test 3 stored twice
		},
		saved:   map[string]string{"a": "K-1", "gone": "K-1"}, // "gone" logged, not in the outbox
		stored:  map[string]bool{"a": true, "c": true, "d": true},
		byTag:   map[string][]string{tag(1, 1): {"a"}, tag(1, 3): {"c", "d"}},
		started: []testers{{kioskID: "K-1", index: 1, tests: 4}}, // test 4 finished, never saved
	}
	l = Ledger{}
	p := bad.count(&l)
	if l.Lost != 3 || l.Duplicated != 1 || l.OK() {
		t.Errorf("lost %d duplicated %d (want 3 and 1): %v", l.Lost, l.Duplicated, p)
	}
	for _, want := range []string{"gone as saved; it is not in its outbox", "(b, test C01-00002) saved, not stored",
		"test C01-00004 finished on the tester, never saved", "test C01-00003 stored 2 times"} {
		if !strings.Contains(strings.Join(p, "\n"), want) {
			t.Errorf("problems lack %q:\n%s", want, strings.Join(p, "\n"))
		}
	}
}
