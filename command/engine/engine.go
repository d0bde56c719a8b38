package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Config holds the engine's tunables. Zero fields take the defaults.
type Config struct {
	// Protocol is the assurance protocol's configuration (deadlines,
	// re-test window, rule tables); zero means assurance.DefaultConfig().
	Protocol *assurance.Config
	// Tick is how often the background loop looks for passed deadlines
	// and undispatched incidents (default 5 s).
	Tick time.Duration
	// Cluster is what counts as a cluster of positives (default k 3,
	// r 500 m, t 24 h).
	Cluster geo.ClusterParams
	// RecoverWindow is how far back Run looks, at start, for stored
	// positives that have no incident yet (a crash between storing and
	// opening): default 48 h.
	RecoverWindow time.Duration
	// MaxEvidence is the largest evidence upload in bytes (default 10 MiB).
	MaxEvidence int64
	// MealResultsBefore is how long before a meal's service a kitchen's
	// rapid-test results count as the meal's (default 6 h, [ASSUMPTION]:
	// the morning's tests of the ingredients).
	MealResultsBefore time.Duration
	// Queue is the length of the queue between the ingest committer and
	// the engine (default 4096). A full queue slows the committer down
	// rather than losing work.
	Queue int
}

func (c *Config) defaults() {
	if c.Protocol == nil {
		p := assurance.DefaultConfig()
		c.Protocol = &p
	}
	if c.Tick <= 0 {
		c.Tick = 5 * time.Second
	}
	if c.Cluster == (geo.ClusterParams{}) {
		c.Cluster = geo.DefaultClusterParams
	}
	if c.RecoverWindow <= 0 {
		c.RecoverWindow = 48 * time.Hour
	}
	if c.MaxEvidence <= 0 {
		c.MaxEvidence = 10 << 20
	}
	if c.Queue <= 0 {
		c.Queue = 4096
	}
	if c.MealResultsBefore <= 0 {
		c.MealResultsBefore = 6 * time.Hour
	}
}

// Results is what the engine reads of the result history
// (history.History): positives to recover incidents for, and the tallies
// and positives the KPIs are computed from.
type Results interface {
	Each(f history.Filter, desc bool, fn func(*wire.Result) bool) error
	Tally(q history.TallyQuery) ([]history.Tally, error)
}

// Deps are the engine's connections to the rest of the service. Store and
// Results are required; the functions are optional (nil: not wired).
type Deps struct {
	Store   *store.Store
	Results Results
	// DataDir is the command's data directory; evidence files go under
	// DataDir/evidence unless EvidenceDir names another directory.
	DataDir string
	// EvidenceDir is where evidence files go (--evidence): in cluster
	// mode a directory every instance shares (the files are named by
	// their SHA-256 and written by rename, so two instances storing the
	// same file at once write the same name).
	EvidenceDir string
	Now         func() time.Time
	Log         *slog.Logger
	// Publish sends a live delta to browsers (live.Hub.Publish).
	Publish func(kind string, data any) uint64
	// Notify sends a notice to a kiosk now or when it reconnects
	// (ingest.Server.Notify).
	Notify func(kioskID string, n wire.Notice)
	// KioskStates returns the live state of the kiosks
	// (ingest.Server.KioskStates).
	KioskStates func() []wire.KioskState
}

// Engine runs the assurance protocol over the store. It is safe for
// concurrent use: the API's handlers, the ingest callback and the
// background loop all call into it.
type Engine struct {
	cfg  Config
	pc   assurance.Config
	st   *store.Store
	res  Results
	deps Deps
	log  *slog.Logger
	dir  string // evidence directory

	queue   chan []history.Committed
	stopped chan struct{} // closed when Run returns (a new one for each Run; under runMu)
	quit    chan struct{} // closed by Close
	quitted sync.Once
	runMu   sync.Mutex
	closed  bool
	runDone chan struct{} // closed when the running Run returns

	// mu serialises every change to incidents, teams and the records the
	// engine derives from them, so that dispatch sees a consistent set of
	// busy teams. Deltas are published after it is released (the hub's
	// snapshot reads the store, never this lock).
	mu       sync.Mutex
	byResult map[string]string              // result_id → incident id
	open     map[string]*assurance.Incident // incidents not closed (audit dropped)
	marks    map[string][]EscalationMark    // incident id → escalations raised
	daySeq   map[string]int                 // "20261128" → highest incident number seen (a hint: the number is taken in the database)
	waits    map[string]RepeatWait          // open incidents whose repeats hold dispatch

	// holds are the open incidents by site, for OpenAt: kept by index
	// under a lock of their own, so that reading them never waits for mu.
	holdMu sync.Mutex
	holds  map[string]map[string]hold

	emMu sync.Mutex // numbering of emergencies

	clusterMu sync.Mutex       // cluster detection and its records
	recent    []recentPositive // positives within twice the cluster window
}

type recentPositive struct {
	geo.Event
	subject string
	item    string // the analyte as people read it (Incident.ItemName)
}

// New builds an engine and rebuilds its indexes from the store.
func New(d Deps, cfg Config) (*Engine, error) {
	if d.Store == nil || d.Results == nil {
		return nil, errors.New("assure: a store and a result history are required")
	}
	cfg.defaults()
	if err := cfg.Protocol.Validate(); err != nil {
		return nil, fmt.Errorf("assure: protocol configuration: %w", err)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	e := &Engine{cfg: cfg, pc: *cfg.Protocol, st: d.Store, res: d.Results, deps: d, log: d.Log,
		queue: make(chan []history.Committed, cfg.Queue), stopped: make(chan struct{}), quit: make(chan struct{}),
		byResult: map[string]string{}, open: map[string]*assurance.Incident{},
		marks: map[string][]EscalationMark{}, daySeq: map[string]int{}, waits: map[string]RepeatWait{}, holds: map[string]map[string]hold{}}
	if d.DataDir != "" || d.EvidenceDir != "" {
		e.dir = d.EvidenceDir
		if e.dir == "" {
			e.dir = filepath.Join(d.DataDir, "evidence")
		}
		if err := os.MkdirAll(e.dir, 0o755); err != nil {
			return nil, fmt.Errorf("assure: evidence directory: %w", err)
		}
	}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload rebuilds the engine's in-memory indexes — result → incident, the
// open incidents and their escalation marks, the repeat waits, the sites'
// holds, the day's highest incident number, the recent positives of the
// cluster search — from the store, and gives every stored incident its
// result claim if it has none (records of a version before the claims).
// New calls it; in a cluster the service calls it at the start of each
// term as leader, before Run, because another instance led in between
// and the indexes are as old as this instance's last term. The indexes
// only speed things up: whether an incident, an escalation or a cluster
// warning is new is decided in the database (once.go), so an engine with
// stale indexes still opens and raises nothing twice.
func (e *Engine) Reload() error {
	fresh := &Engine{byResult: map[string]string{}, open: map[string]*assurance.Incident{},
		marks: map[string][]EscalationMark{}, daySeq: map[string]int{}, waits: map[string]RepeatWait{}, holds: map[string]map[string]hold{}}
	type claim struct{ result, id string }
	var claims []claim
	var recent []recentPositive
	cut := e.deps.Now().Add(-2 * e.cfg.Cluster.Window)
	// Under mu: no change of this engine's own can be indexed between the
	// read and the swap (and then lost to the older copy read here).
	e.mu.Lock()
	err := store.List(e.st, kindIncident, func(_ string, inc Incident) bool {
		fresh.index(&inc)
		if r := inc.Trigger.ResultID; r != "" {
			claims = append(claims, claim{r, inc.ID})
		}
		if p, ok := recentOf(&inc, cut); ok {
			recent = append(recent, p)
		}
		return true
	})
	if err != nil {
		e.mu.Unlock()
		return err
	}
	e.byResult, e.open, e.marks, e.daySeq, e.waits = fresh.byResult, fresh.open, fresh.marks, fresh.daySeq, fresh.waits
	e.holdMu.Lock()
	e.holds = fresh.holds
	e.holdMu.Unlock()
	e.mu.Unlock()
	e.clusterMu.Lock()
	e.recent = recent
	e.clusterMu.Unlock()

	// Claims for incidents stored without one.
	have := map[string]bool{}
	if err := store.List(e.st, kindResultClaim, func(id string, _ resultClaim) bool { have[id] = true; return true }); err != nil {
		return err
	}
	claims = slices.DeleteFunc(claims, func(c claim) bool { return have[c.result] })
	for len(claims) > 0 {
		n := min(len(claims), 500)
		err := e.st.Update(func(tx *store.Tx) error {
			for _, c := range claims[:n] {
				if err := tx.Create(kindResultClaim, c.result, resultClaim{Incident: c.id}); err != nil && !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("assure: claiming the stored incidents' results: %w", err)
		}
		claims = claims[n:]
	}
	return nil
}

// Changed takes the kind:id keys of records another instance committed
// (its store's change notices, carried by the cluster bus) and reads the
// incidents among them again into the indexes, so that this instance's
// map holds, its dispatch counts busy teams and, when it leads, its
// deadline loop sees incidents moved on elsewhere. Other keys are
// ignored. It only refreshes a view: what is decided stays decided in
// the database (once.go).
func (e *Engine) Changed(keys []string) {
	cut := e.deps.Now().Add(-2 * e.cfg.Cluster.Window)
	for _, k := range keys {
		id, ok := strings.CutPrefix(k, kindIncident+":")
		if !ok {
			continue
		}
		e.mu.Lock()
		var rec Incident
		err := e.st.Get(kindIncident, id, &rec)
		if err == nil {
			e.index(&rec)
		}
		e.mu.Unlock()
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				e.log.Warn("assure: cannot read an incident another instance changed", "incident", id, "err", err)
			}
			continue
		}
		if p, ok := recentOf(&rec, cut); ok {
			e.clusterMu.Lock()
			if !slices.ContainsFunc(e.recent, func(r recentPositive) bool { return r.ID == p.ID }) {
				e.recent = append(e.recent, p)
			}
			e.clusterMu.Unlock()
		}
	}
}

// Running reports whether Run's loop is running (for /readyz).
func (e *Engine) Running() bool {
	e.runMu.Lock()
	done := e.runDone
	closed := e.closed
	e.runMu.Unlock()
	if done == nil || closed {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// OpenByState counts the incidents not closed, by state (for /metrics).
func (e *Engine) OpenByState() map[assurance.IncidentState]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[assurance.IncidentState]int{}
	for _, inc := range e.open {
		out[inc.State]++
	}
	return out
}

// Protocol returns the protocol configuration in force.
func (e *Engine) Protocol() assurance.Config { return e.pc }

// MaxEvidence returns the largest evidence upload accepted, in bytes.
func (e *Engine) MaxEvidence() int64 { return e.cfg.MaxEvidence }

// Now returns the engine's clock.
func (e *Engine) Now() time.Time { return e.deps.Now() }

// index updates the in-memory view of one incident. Caller holds mu (or
// is rebuilding).
func (e *Engine) index(inc *Incident) {
	if r := inc.Trigger.ResultID; r != "" {
		e.byResult[r] = inc.ID
	}
	if day, n, ok := parseIncidentID(inc.ID); ok && n > e.daySeq[day] {
		e.daySeq[day] = n
	}
	e.setHold(inc)
	if inc.Repeat.holdsDispatch() && inc.State == assurance.IncidentWarned {
		e.waits[inc.ID] = *inc.Repeat
	} else {
		delete(e.waits, inc.ID)
	}
	if inc.State == assurance.IncidentClosed {
		delete(e.open, inc.ID)
		delete(e.marks, inc.ID)
		return
	}
	light := inc.Incident
	light.Audit = nil
	e.open[inc.ID] = &light
	e.marks[inc.ID] = slices.Clone(inc.Escalations)
}

func parseIncidentID(id string) (day string, n int, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) != 3 || parts[0] != "INC" || len(parts[1]) != 8 {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[2])
	return parts[1], n, err == nil
}

func (e *Engine) zone() *time.Location {
	return time.FixedZone("", int(e.pc.KPI.UTCOffset/time.Second))
}

// publish sends a delta if a hub is wired.
func (e *Engine) publish(kind string, data any) {
	if e.deps.Publish != nil {
		e.deps.Publish(kind, data)
	}
}

// OnCommitted is the ingest callback: it queues newly committed results
// that call for an incident, and repeats of earlier results, for the
// engine's loop and returns at once (it blocks only when the queue
// is full, which slows the committer instead of losing work).
func (e *Engine) OnCommitted(cs []history.Committed) {
	var keep []history.Committed
	for _, c := range cs {
		if c.Outcome == history.Conflict {
			continue
		}
		// A repeat (复测) may decide a waiting incident whatever its verdict.
		if _, ok := triggerOf(&c.Result); ok || c.Result.RepeatOf != "" {
			keep = append(keep, c)
		}
	}
	if len(keep) > 0 {
		e.runMu.Lock()
		stopped := e.stopped
		e.runMu.Unlock()
		select {
		case e.queue <- keep:
		case <-stopped: // shutting down: Recover picks these up at the next start
		case <-e.quit:
		}
	}
}

// Run recovers positives stored without an incident, then processes the
// queue and runs the deadline loop until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	e.runMu.Lock()
	// Run may run again after it returned (a cluster's engine runs while
	// its instance leads): each run has its own stopped channel.
	select {
	case <-e.stopped:
		e.stopped = make(chan struct{})
	default:
	}
	stopped := e.stopped
	defer close(stopped)
	if e.closed {
		e.runMu.Unlock()
		return nil
	}
	done := make(chan struct{})
	e.runDone = done
	e.runMu.Unlock()
	defer close(done)
	if err := e.Recover(); err != nil {
		e.log.Error("assure: recovering incidents failed", "err", err)
	}
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.quit:
			return nil
		case cs := <-e.queue:
			e.Process(cs)
		case <-t.C:
			e.Tick()
		}
	}
}

// Close stops Run and waits until it has returned, so that the store can
// be closed after it. Results queued and not processed yet are picked up
// by Recover at the next start.
func (e *Engine) Close() {
	e.quitted.Do(func() { close(e.quit) })
	e.runMu.Lock()
	e.closed = true
	done := e.runDone
	e.runMu.Unlock()
	if done != nil {
		<-done
	}
}

// Process opens an incident for every result in cs that calls for one
// (positive, suspicious, temperature breach) and has none yet. It is
// idempotent per result_id: a result seen twice (a duplicate resend, a
// replay after a restart) opens one incident.
func (e *Engine) Process(cs []history.Committed) {
	for _, c := range cs {
		if c.Outcome == history.Conflict {
			continue
		}
		if _, err := e.OpenFromResult(c.Result); err != nil && !errors.Is(err, ErrNoTrigger) {
			e.log.Error("assure: opening an incident failed", "result", c.Result.ResultID, "err", err)
		}
	}
}

// Recover opens incidents for stored results received within
// RecoverWindow that call for one and have none. It reads the history by
// its verdict index, newest first, and stops at the window's start: the
// cost is the window's positives, not the history's size.
func (e *Engine) Recover() error {
	cut := e.deps.Now().Add(-e.cfg.RecoverWindow)
	// Collect first: nothing may wait on the engine's lock, or write,
	// while a read of the history is going on.
	var found []wire.Result
	for _, v := range []assay.Verdict{assay.Positive, assay.Suspicious, assay.Fail} {
		err := e.res.Each(history.Filter{Verdict: string(v)}, true, func(r *wire.Result) bool {
			if r.ReceivedAt != nil && r.ReceivedAt.Before(cut) {
				return false
			}
			if _, ok := triggerOf(r); ok {
				found = append(found, *r)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	// Newest first, as one list.
	sort.Slice(found, func(i, j int) bool { return found[i].RxSeq > found[j].RxSeq })
	e.mu.Lock()
	todo := slices.DeleteFunc(found, func(r wire.Result) bool { _, done := e.byResult[r.ResultID]; return done })
	e.mu.Unlock()
	// Oldest first, so that incident numbers follow the results' order.
	for i := len(todo) - 1; i >= 0; i-- {
		if _, err := e.OpenFromResult(todo[i]); err != nil && !errors.Is(err, ErrNoTrigger) {
			e.log.Error("assure: recovering an incident failed", "result", todo[i].ResultID, "err", err)
		}
	}
	if len(todo) > 0 {
		e.log.Info("assure: opened incidents for stored results that had none", "n", len(todo))
	}
	return nil
}

// Tick raises escalations for passed deadlines and dispatches incidents
// still waiting for a team. The background loop calls it every Tick;
// tests call it with an injected clock.
func (e *Engine) Tick() {
	e.repeatsOverdue()
	e.escalate()
	e.redispatch()
	e.checkDuty()
}

// actorSystem is who the engine acts as when it opens and dispatches an
// incident by itself.
func actorSystem(role assurance.Role) assurance.Actor {
	return assurance.Actor{UserID: "system", Role: role}
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
