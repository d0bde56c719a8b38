package chaos

import (
	"strings"
	"testing"
	"time"
)

// TestLeaderBooks: the arithmetic over the leadership samples — two
// leaders in a round count, two in a killer's partial sight do not; a gap
// is measured from the last sight of a leader (partial ones included) to
// the next, and one across a PostgreSQL outage from the database's return.
func TestLeaderBooks(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	round := func(ms int, leaders ...string) leaderSample { return leaderSample{at: at(ms), leaders: leaders} }
	sight := func(ms int, leader string) leaderSample {
		return leaderSample{at: at(ms), leaders: []string{leader}, partial: true}
	}
	r := &run{}
	r.cl.samples = []leaderSample{
		round(0, "a"), round(150, "a"),
		round(300), round(450), round(2150), // a killed at 200
		sight(2250, "b"), round(2400), // b took over, seen (between rounds) by the killer, killed
		round(4000, "a"), // 1.75 s from the sight at 2250, not 3.85 s from 150
		round(4150, "a", "b"),
		sight(4200, "a"), sight(4200, "b"), // partial: not two leaders
		round(4300, "a"),
		round(5000), round(9000), round(9500, "c"), // across the outage 5100–9000: 500 ms after its end
		round(9650), round(13000, "c"), // 3.5 s: the longest, under the 3.85 s the sight at 2250 prevents
	}
	r.cl.outages = []outage{{down: at(5100), up: at(9000)}}
	problems := r.leaderBooks()
	l := r.ledger
	if l.LeaderSamples != 14 || l.TwoLeaders != 1 {
		t.Errorf("rounds %d (want 14), two leaders %d (want 1)", l.LeaderSamples, l.TwoLeaders)
	}
	if l.LeaderAfterPG != 500*time.Millisecond {
		t.Errorf("leader after PostgreSQL %v, want 500ms", l.LeaderAfterPG)
	}
	if l.LongestGap != 3500*time.Millisecond {
		t.Errorf("longest gap %v, want 3.5s (9500 to 13000)", l.LongestGap)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "[a b]") {
		t.Errorf("problems %q: want the round with two leaders", problems)
	}
	r.ledger.Instances, r.ledger.FailoverBound = 2, FailoverBound
	if r.ledger.EngineOK() {
		t.Error("EngineOK with two leaders")
	}

	// A gap over the bound is a problem that quotes what happened in it.
	r = &run{}
	r.cl.samples = []leaderSample{round(0, "a"), round(5000, "b")}
	r.cl.notes = []note{{at: at(100), what: "killed instance a (leader true)"}}
	problems = r.leaderBooks()
	if r.ledger.LongestGap != 5*time.Second || len(problems) != 1 || !strings.Contains(problems[0], "killed instance a") {
		t.Errorf("gap %v, problems %q: want 5s, quoting the kill", r.ledger.LongestGap, problems)
	}
	r.ledger.Instances, r.ledger.FailoverBound = 2, FailoverBound
	if r.ledger.EngineOK() {
		t.Error("EngineOK with a 5 s gap")
	}
}
