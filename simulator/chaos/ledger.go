package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/shianfood/shian/internal/durable"
	kioskpkg "github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/protocols/wire"
)

// Ledger is the outcome of a run.
type Ledger struct {
	Tests        int // tests the testers finished (reports the kiosks acknowledged)
	Produced     int
	Stored       int
	Lost         int
	Duplicated   int
	KioskKills   int
	CommandKills int
	FaultSteps   int
	Elapsed      time.Duration
	// Drained is the time from the network healing (or the last test,
	// without faults) until every result was stored.
	Drained time.Duration
	// Alarms counts the command's alarms by code.
	Alarms map[string]int
	// Repeats counts instrument reports a restarted kiosk recognised as
	// already saved; Repairs counts outbox files repaired at a kiosk start.
	Repeats, Repairs int
	// MaxKioskRSS is the largest resident set of a kiosk process seen
	// (sampled twice a second; 0 where /proc is missing).
	MaxKioskRSS int64
	// Problems lists the lost and duplicated tests (at most 20).
	Problems []string
	// With Options.Disks (power cuts): AckedChecked sums, over the cuts of
	// the command, the results the kiosks held as acknowledged at the cut;
	// AckedLost counts those the command's history did not hold when it
	// came back.
	AckedChecked, AckedLost int
	// CutsAtStart counts kiosk cuts that came within 400 ms of the
	// kiosk's restart after the cut before; Compactions the outbox files
	// the kiosks compacted at a start.
	CutsAtStart, Compactions int

	// Cluster mode (Options.Cluster; see the package doc). Instances is
	// the number of command instances; CommandKills counts their kills,
	// LeaderKills those that struck the instance leading at the time.
	Instances, LeaderKills, PGRestarts int
	// AckedAtOutage sums, over the PostgreSQL outages, the results the
	// kiosks held as acknowledged at the outage's end; AckedWhileDown
	// counts those the database did not hold then: acknowledged while it
	// was down.
	AckedAtOutage, AckedWhileDown int
	// PGDown is the longest outage; Resumed the longest time from
	// PostgreSQL coming back to the first result stored after it;
	// NotResumed counts outages after which none was stored.
	PGDown, Resumed time.Duration
	NotResumed      int
	// LeaderSamples counts the rounds of asking every instance whether
	// it leads (GET /readyz); TwoLeaders the rounds in which more than one
	// said so.
	LeaderSamples, TwoLeaders int
	// LongestGap is the longest time no instance led outside the
	// PostgreSQL outages, LeaderAfterPG the longest from PostgreSQL
	// coming back to a leader; both must stay within FailoverBound.
	LongestGap, LeaderAfterPG, FailoverBound time.Duration
	// Takeover is the longest time from a leader's SIGKILL to another
	// instance leading (the killed one stays dead until then).
	Takeover time.Duration
	// Incidents counts the incidents opened from these kiosks' results;
	// DuplicateIncidents those beyond one per result; DuplicateAlerts the
	// incident_warned alarms beyond one per incident; DuplicateEscalations
	// the escalations raised again (same incident, state and level).
	Incidents, DuplicateIncidents, DuplicateAlerts, DuplicateEscalations int
}

// Line is the ledger's last line.
func (l Ledger) Line() string {
	return fmt.Sprintf("ledger: produced=%d stored=%d lost=%d duplicated=%d", l.Produced, l.Stored, l.Lost, l.Duplicated)
}

// EngineLine is the cluster run's second line: one engine at a time.
func (l Ledger) EngineLine() string {
	return fmt.Sprintf("engine: rounds=%d two_leaders=%d takeover=%v longest_gap=%v leader_after_pg=%v bound=%v incidents=%d duplicate_incidents=%d duplicate_alerts=%d duplicate_escalations=%d",
		l.LeaderSamples, l.TwoLeaders, l.Takeover.Round(time.Millisecond), l.LongestGap.Round(time.Millisecond), l.LeaderAfterPG.Round(time.Millisecond), l.FailoverBound,
		l.Incidents, l.DuplicateIncidents, l.DuplicateAlerts, l.DuplicateEscalations)
}

// OK reports whether nothing was lost or duplicated — and, for a
// cluster, that nothing was acknowledged while PostgreSQL was down,
// ingest resumed after it, one engine ran at a time within the failover
// bound, and no incident, alert or escalation was raised twice.
func (l Ledger) OK() bool {
	return l.Lost == 0 && l.Duplicated == 0 && l.Produced == l.Stored && l.AckedLost == 0 && l.EngineOK()
}

// EngineOK is OK's cluster part (true for one command).
func (l Ledger) EngineOK() bool {
	if l.Instances == 0 {
		return true
	}
	return l.AckedWhileDown == 0 && l.NotResumed == 0 && l.LeaderSamples > 0 && l.TwoLeaders == 0 &&
		l.LongestGap <= l.FailoverBound && l.LeaderAfterPG <= l.FailoverBound && l.Takeover <= l.FailoverBound &&
		l.DuplicateIncidents == 0 && l.DuplicateAlerts == 0 && l.DuplicateEscalations == 0
}

// outboxState reads a kiosk's outbox file (without its lock: the file is
// append-only, and the salvage reader tolerates a write in progress).
func outboxState(path string) (map[string]outbox.Record, error) {
	data, err := os.ReadFile(path)
	// A kiosk compacting its file at start renames a new one over it; on a
	// path-based FUSE file system (LazyFS) a reader can see the name
	// missing for a moment. A file that stays missing is an error.
	for i := 0; i < 100 && errors.Is(err, fs.ErrNotExist); i++ {
		time.Sleep(20 * time.Millisecond)
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	recs, _ := aofsalvage.Salvage(data)
	out := map[string]outbox.Record{}
	for _, kv := range recs {
		if !strings.HasPrefix(kv.Key, "result:") {
			continue
		}
		var rec outbox.Record
		if err := json.Unmarshal([]byte(kv.Value), &rec); err == nil {
			out[rec.Result.ResultID] = rec
		}
	}
	return out, nil
}

// events is what the run learns from the kiosks' logs, which they write as
// JSON (--log-format json, one object a line): the lines that carry an
// "event" attribute (kiosk.EventResultSaved, kiosk.EventResultRepeat,
// durable.EventRepaired). The message text is for people and may change;
// the events may not. Safe for concurrent use.
type events struct {
	mu      sync.Mutex
	saved   map[string]string // result_id → kiosk id
	repeats int               // reports a restarted kiosk recognised as saved
	repairs int               // outbox files repaired at a kiosk's start
	compact int               // outbox files compacted at a kiosk's start
}

// line takes one line of kiosk kioskID's log. A line that is not a JSON
// object (a panic's trace, a Go runtime message) carries no event.
func (e *events) line(kioskID string, b []byte) {
	var ev struct {
		Event    string `json:"event"`
		ResultID string `json:"result_id"`
	}
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &ev) != nil || ev.Event == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev.Event {
	case kioskpkg.EventResultSaved:
		if e.saved == nil {
			e.saved = map[string]string{}
		}
		if ev.ResultID != "" {
			e.saved[ev.ResultID] = kioskID
		}
	case kioskpkg.EventResultRepeat:
		e.repeats++
	case durable.EventRepaired:
		e.repairs++
	case durable.EventCompacted:
		e.compact++
	}
}

// tally is the ledger's arithmetic over what the books found, apart from
// reading the files.
type tally struct {
	produced map[string]wire.Result // result_id → result, in the outboxes at the end
	saved    map[string]string      // result_id → kiosk id, logged as saved (events)
	stored   map[string]bool        // result_ids of these kiosks in the command's history
	byTag    map[string][]string    // test tag → stored result_ids
	started  []testers              // the tests each tester finished
}

type testers struct {
	kioskID string
	index   int // the kiosk's number in the tags
	tests   int
}

// count fills l's Produced, Stored, Lost and Duplicated and returns the
// problems found, in a stable order.
func (t tally) count(l *Ledger) []string {
	var problems []string
	for _, id := range sortedKeys(t.saved) {
		if _, ok := t.produced[id]; !ok {
			l.Lost++
			problems = append(problems, fmt.Sprintf("%s logged result %s as saved; it is not in its outbox", t.saved[id], id))
		}
	}
	l.Produced, l.Stored = len(t.produced), len(t.stored)
	for _, id := range sortedKeys(t.produced) {
		if res := t.produced[id]; !t.stored[id] {
			l.Lost++
			problems = append(problems, fmt.Sprintf("%s seq %d (%s, test %s) saved, not stored", res.KioskID, res.Seq, id, res.Sample.Name))
		}
	}
	// Every test the testers finished is stored once.
	for _, k := range t.started {
		for n := 1; n <= k.tests; n++ {
			ids := t.byTag[tag(k.index, n)]
			switch {
			case len(ids) == 0:
				if !anyProduced(t.produced, tag(k.index, n)) {
					l.Lost++
					problems = append(problems, fmt.Sprintf("%s test %s finished on the tester, never saved", k.kioskID, tag(k.index, n)))
				}
			case len(ids) > 1:
				l.Duplicated += len(ids) - 1
				problems = append(problems, fmt.Sprintf("%s test %s stored %d times: %v", k.kioskID, tag(k.index, n), len(ids), ids))
			}
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// books reads the outboxes and the command's result history and store and
// fills the ledger.
func (r *run) books() error {
	l := &r.ledger
	t := tally{produced: map[string]wire.Result{}, stored: map[string]bool{}, byTag: map[string][]string{}}
	var problems []string
	for _, k := range r.kiosks {
		recs, err := outboxState(filepath.Join(k.dir, "data", "outbox.db"))
		if err != nil {
			return err
		}
		for id, rec := range recs {
			t.produced[id] = rec.Result
			if rec.State == outbox.StateRejected {
				problems = append(problems, fmt.Sprintf("%s seq %d (%s) was refused by the command: %+v", k.id, rec.Result.Seq, id, rec.Reject))
			}
		}
		t.started = append(t.started, testers{kioskID: k.id, index: k.i, tests: int(k.started.Load())})
	}
	st, hist, done, err := r.openBooks()
	if err != nil {
		return err
	}
	defer done()
	ours := map[string]bool{}
	for _, k := range r.kiosks {
		ours[k.id] = true
	}
	err = hist.Each(history.Filter{}, false, func(res *wire.Result) bool {
		if ours[res.KioskID] {
			t.stored[res.ResultID] = true
			t.byTag[res.Sample.Name] = append(t.byTag[res.Sample.Name], res.ResultID)
		}
		return true
	})
	if err != nil {
		return err
	}
	r.events.mu.Lock()
	t.saved = maps.Clone(r.events.saved)
	l.Repeats, l.Repairs, l.Compactions = r.events.repeats, r.events.repairs, r.events.compact
	r.events.mu.Unlock()
	problems = append(problems, t.count(l)...)
	l.MaxKioskRSS = r.maxRSS.Load()
	l.Alarms = map[string]int{}
	alarms, _ := st.Alarms(100000, false)
	for _, a := range alarms {
		l.Alarms[a.Code]++
	}
	if r.o.Cluster > 0 {
		ps, err := r.engineBooks(st, alarms)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
		problems = append(problems, r.leaderBooks()...)
	}
	r.ledgerMu.Lock()
	problems = append(append([]string(nil), r.cutProblems...), problems...)
	r.ledgerMu.Unlock()
	if len(problems) > 20 {
		problems = problems[:20]
	}
	l.Problems = problems
	return nil
}

func anyProduced(produced map[string]wire.Result, tag string) bool {
	for _, r := range produced {
		if r.Sample.Name == tag {
			return true
		}
	}
	return false
}

// addProblem records a problem found during the run (a power cut's check).
func (r *run) addProblem(p string) {
	r.ledgerMu.Lock()
	if len(r.cutProblems) < 20 {
		r.cutProblems = append(r.cutProblems, p)
	}
	r.ledgerMu.Unlock()
}

// openBooks opens the command's store and result history to read the
// books: copies of the files of the one command, or the cluster's
// database.
func (r *run) openBooks() (*store.Store, history.History, func(), error) {
	if r.o.Cluster > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := store.OpenPostgres(ctx, r.dsn, store.Options{Log: r.o.Log})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("chaos: open the cluster's store for the books: %w", err)
		}
		h, err := history.Open(r.dsn, history.Options{Log: r.o.Log, Cluster: true})
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("chaos: open the cluster's result history for the books: %w", err)
		}
		return st, h, func() { h.Close(); st.Close() }, nil
	}
	st, err := store.Open(r.insts[0].dir, store.Options{Log: r.o.Log})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("chaos: open the command's store for the books: %w", err)
	}
	h, done, err := r.historyCopy()
	if err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("chaos: open the command's result history for the books: %w", err)
	}
	return st, h, func() { done(); st.Close() }, nil
}
