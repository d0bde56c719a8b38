package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/kiosk/outbox"
)

// FailoverBound is the longest a cluster may go without a leader: a
// follower tries the engine's lock every 2 s (cluster.LeaderOptions.Retry)
// and a leader whose connection died without its process notices within
// its 1 s check (Check), plus 1 s for connecting and for the run's
// sampling (every 150 ms) on a loaded machine. A SIGKILLed leader's
// session ends with its socket, so its lock is free at once.
const FailoverBound = 4 * time.Second

// sampleEvery is how often the run asks every instance whether it leads.
const sampleEvery = 150 * time.Millisecond

// clusterWatch is what a cluster run keeps beside the ledger.
type clusterWatch struct {
	pg     *pgtest.Server
	dbName string
	// roundMu keeps a sampling round and a kill apart, so that a round
	// never sees the killed leader and its successor both leading.
	roundMu sync.Mutex
	// disruptMu keeps an instance's kill and restart and a PostgreSQL
	// restart apart: an instance cannot start while the database is down.
	disruptMu sync.Mutex

	mu      sync.Mutex
	samples []leaderSample
	outages []outage
	resumes []chan struct{} // closed when the resume after an outage is measured
	notes   []note          // what happened when: kills, outages, leader changes
	// lastRound is the leaders the last round found.
	lastRound []string
}

type note struct {
	at   time.Time
	what string
}

// note records what happened, for the problems' account of a gap.
func (r *run) note(what string) {
	r.cl.mu.Lock()
	r.cl.notes = append(r.cl.notes, note{at: time.Now(), what: what})
	r.cl.mu.Unlock()
	r.o.Log.Info(what)
}

type leaderSample struct {
	at      time.Time
	leaders []string
	// partial: not a round but a killer's sight of a leader (before a
	// kill, at a take-over); it closes a gap, it does not count leaders.
	partial bool
}

// saw records a killer's sight of a leader.
func (r *run) saw(in *instance, at time.Time) {
	r.cl.mu.Lock()
	r.cl.samples = append(r.cl.samples, leaderSample{at: at, leaders: []string{in.name}, partial: true})
	r.cl.mu.Unlock()
}

type outage struct{ down, up time.Time }

// database starts PostgreSQL for the run (unless Options.Postgres gives
// one) and makes the run's database on it.
func (r *run) database(ctx context.Context) (stop func(), err error) {
	pg, own := r.o.Postgres, false
	if pg == nil {
		fmt.Fprintln(r.o.Out, "chaos: starting PostgreSQL (initdb in a temporary directory)")
		if pg, err = pgtest.Start(); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		own = true
	}
	stop = func() {
		if own {
			pg.Stop()
		}
	}
	r.cl.pg, r.cl.dbName = pg, fmt.Sprintf("chaos_%d", time.Now().UnixNano())
	if r.dsn, err = pg.CreateDB(ctx, r.cl.dbName); err != nil {
		stop()
		return nil, fmt.Errorf("chaos: %w", err)
	}
	r.ledger.Instances, r.ledger.FailoverBound = r.o.Cluster, FailoverBound
	return stop, nil
}

// askClient asks the instances whether they lead. An instance that is
// dead refuses at once; the timeout is for a live one slowed by a loaded
// machine, which must not look leaderless too soon.
var askClient = &http.Client{Timeout: time.Second}

// leads asks an instance whether it leads (GET /readyz, "leader"). One
// that does not answer does not lead.
func leads(in *instance) bool {
	resp, err := askClient.Get("http://" + in.addr + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b struct {
		Leader bool `json:"leader"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&b)
	return b.Leader
}

// sampleLeaders asks every instance whether it leads, every sampleEvery,
// until ctx ends.
func (r *run) sampleLeaders(ctx context.Context) {
	for {
		r.cl.roundMu.Lock()
		at := time.Now()
		var mu sync.Mutex
		var leaders []string
		var wg sync.WaitGroup
		for _, in := range r.insts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if leads(in) {
					mu.Lock()
					leaders = append(leaders, in.name)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		r.cl.roundMu.Unlock()
		sort.Strings(leaders)
		r.cl.mu.Lock()
		r.cl.samples = append(r.cl.samples, leaderSample{at: at, leaders: leaders})
		changed := !slices.Equal(r.cl.lastRound, leaders) || len(r.cl.samples) == 1
		r.cl.lastRound = leaders
		r.cl.mu.Unlock()
		if changed {
			r.note(fmt.Sprintf("leaders now %v", leaders))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sampleEvery):
		}
	}
}

// killInstance SIGKILLs an instance — the one leading when leader is set
// and one leads, else one at random — and starts it again.
func (r *run) killInstance(ctx context.Context, leader bool) error {
	r.cl.disruptMu.Lock()
	defer r.cl.disruptMu.Unlock()
	if leader {
		// Just after a take-over or a PostgreSQL restart there may be no
		// leader for a moment: wait for one.
		for deadline := time.Now().Add(FailoverBound); time.Now().Before(deadline) && r.leader() == nil; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	r.cl.roundMu.Lock()
	var target *instance
	wasLeader := false
	if leader {
		target = r.leader()
		wasLeader = target != nil
	}
	if target == nil {
		target = r.insts[r.intn(len(r.insts))]
		wasLeader = leads(target)
	}
	if wasLeader {
		r.saw(target, time.Now())
	}
	target.running().kill()
	killed := time.Now()
	r.cl.roundMu.Unlock()
	r.note(fmt.Sprintf("killed instance %s (leader %v)", target.name, wasLeader))
	r.ledger.CommandKills++
	if wasLeader {
		r.ledger.LeaderKills++
	}
	if wasLeader && len(r.insts) > 1 {
		// It stays dead until another instance leads: restarted at once
		// it would often take the lock back before the others try again,
		// and the take-over would go untested.
		if err := r.waitTakeover(ctx, target, killed); err != nil {
			return err
		}
	}
	if err := r.startInstance(ctx, target); err != nil {
		return err
	}
	r.note(fmt.Sprintf("instance %s serves again", target.name))
	return nil
}

// leader is an instance that says it leads, or nil.
func (r *run) leader() *instance {
	for _, in := range r.insts {
		if leads(in) {
			return in
		}
	}
	return nil
}

// waitTakeover waits until an instance other than dead leads, at most
// FailoverBound and a second, and keeps the longest wait in the ledger.
func (r *run) waitTakeover(ctx context.Context, dead *instance, killed time.Time) error {
	for time.Since(killed) < FailoverBound+time.Second {
		for _, in := range r.insts {
			if in != dead && leads(in) {
				r.saw(in, time.Now())
				r.ledger.Takeover = max(r.ledger.Takeover, time.Since(killed))
				r.note(fmt.Sprintf("instance %s took over in %v", in.name, time.Since(killed).Round(time.Millisecond)))
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.ledger.Takeover = max(r.ledger.Takeover, time.Since(killed))
	r.addProblem(fmt.Sprintf("no instance took over from the killed leader %s within %v", dead.name, FailoverBound+time.Second))
	return nil
}

// restartPostgres shuts PostgreSQL down PGRestarts times, spread over the
// middle of the run, and starts it again after PGHold.
func (r *run) restartPostgres(ctx context.Context, expect time.Duration) error {
	start := time.Now()
	for i := 1; i <= r.o.PGRestarts; i++ {
		// At 1/3 of the tests for one restart (1/5 and 3/5 for two…),
		// while the testers still run, and 0–10 % later.
		at := expect * time.Duration(2*i-1) / time.Duration(2*r.o.PGRestarts+1)
		at += time.Duration(r.intn(int(expect/time.Millisecond)/10+1)) * time.Millisecond
		if err := r.waitMoment(ctx, start, at, expect); err != nil {
			return err
		}
		before, err := r.pgOutage(ctx)
		if err != nil {
			return err
		}
		done := make(chan struct{})
		r.cl.mu.Lock()
		r.cl.resumes = append(r.cl.resumes, done)
		up := r.cl.outages[len(r.cl.outages)-1].up
		r.cl.mu.Unlock()
		go func() { defer close(done); r.waitResumed(ctx, up, before) }()
	}
	return nil
}

// pgOutage is one PostgreSQL restart. While the server is down the
// instances must refuse to acknowledge: before they can reach it again,
// the run starts it aside (on a socket they do not know), reads which
// results it holds, and checks every result the kiosks hold as
// acknowledged against them — an acknowledged result the database lacks
// was acknowledged while it was down. It returns how many results the
// database held.
func (r *run) pgOutage(ctx context.Context) (int, error) {
	r.cl.disruptMu.Lock()
	defer r.cl.disruptMu.Unlock()
	pg := r.cl.pg
	down := time.Now()
	pg.Down()
	r.note("PostgreSQL is down")
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(r.o.PGHold):
	}
	url, err := pg.UpAside()
	if err != nil {
		return 0, fmt.Errorf("chaos: start PostgreSQL aside after its shutdown: %w", err)
	}
	stored, err := storedIDs(ctx, url(r.cl.dbName))
	if err != nil {
		pg.Down()
		return 0, fmt.Errorf("chaos: read the results PostgreSQL held at its restart: %w", err)
	}
	acked := map[string]string{}
	for _, k := range r.kiosks {
		recs, err := outboxState(k.outboxPath())
		if err != nil {
			pg.Down()
			return 0, err
		}
		for id, rec := range recs {
			if rec.State == outbox.StateAcked {
				acked[id] = fmt.Sprintf("%s seq %d (%s, test %s)", k.id, rec.Result.Seq, id, rec.Result.Sample.Name)
			}
		}
	}
	bad := 0
	for _, id := range sortedKeys(acked) {
		if !stored[id] {
			bad++
			r.addProblem(fmt.Sprintf("PostgreSQL restart %d: %s was acknowledged while the database was down (it does not hold it)", r.ledger.PGRestarts+1, acked[id]))
		}
	}
	pg.Down()
	if err := pg.Up(); err != nil {
		return 0, fmt.Errorf("chaos: start PostgreSQL again: %w", err)
	}
	up := time.Now()
	r.note(fmt.Sprintf("PostgreSQL is up again after %v; the kiosks held %d results as acknowledged, %d of them not in the database", up.Sub(down).Round(time.Millisecond), len(acked), bad))
	r.ledgerMu.Lock()
	r.ledger.PGRestarts++
	r.ledger.AckedAtOutage += len(acked)
	r.ledger.AckedWhileDown += bad
	r.ledger.PGDown = max(r.ledger.PGDown, up.Sub(down))
	r.ledgerMu.Unlock()
	r.cl.mu.Lock()
	r.cl.outages = append(r.cl.outages, outage{down: down, up: up})
	r.cl.mu.Unlock()
	return len(stored), nil
}

// waitResumed waits for the first result stored after PostgreSQL came
// back at up (the database held before results then).
func (r *run) waitResumed(ctx context.Context, up time.Time, before int) {
	deadline := up.Add(r.o.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if n, err := countStored(ctx, r.dsn); err == nil && n > before {
			r.ledgerMu.Lock()
			r.ledger.Resumed = max(r.ledger.Resumed, time.Since(up))
			r.ledgerMu.Unlock()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.ledgerMu.Lock()
	r.ledger.NotResumed++
	r.ledgerMu.Unlock()
	r.addProblem(fmt.Sprintf("no result was stored in the %v after PostgreSQL came back", r.o.Drain))
}

func storedIDs(ctx context.Context, dsn string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, `SELECT result_id FROM results`)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

func countStored(ctx context.Context, dsn string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var n int
	err = c.QueryRow(ctx, `SELECT count(*) FROM results`).Scan(&n)
	return n, err
}

// waitResumes waits for every outage's resume to be measured.
func (r *run) waitResumes() {
	r.cl.mu.Lock()
	rs := append([]chan struct{}(nil), r.cl.resumes...)
	r.cl.mu.Unlock()
	for _, c := range rs {
		<-c
	}
}

// engineBooks counts the engine's records in the cluster's store: the
// incidents opened from results, and the alarms they raised.
func (r *run) engineBooks(st *store.Store, alarms []store.Alarm) ([]string, error) {
	l := &r.ledger
	var problems []string
	byResult := map[string][]string{}
	// "incident" is the engine's record kind (command/engine/records.go).
	err := store.List(st, "incident", func(id string, inc engine.Incident) bool {
		if rid := inc.Trigger.ResultID; rid != "" {
			byResult[rid] = append(byResult[rid], id)
		}
		seen := map[string]bool{}
		for _, m := range inc.Escalations {
			key := fmt.Sprintf("%s/%s/%d", m.State, m.Since.Format(time.RFC3339Nano), m.Level)
			if seen[key] {
				l.DuplicateEscalations++
				problems = append(problems, fmt.Sprintf("incident %s escalated twice: %s", id, key))
			}
			seen[key] = true
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: read the engine's incidents: %w", err)
	}
	for _, rid := range sortedKeys(byResult) {
		ids := byResult[rid]
		l.Incidents++
		if len(ids) > 1 {
			l.DuplicateIncidents += len(ids) - 1
			problems = append(problems, fmt.Sprintf("result %s opened %d incidents: %v", rid, len(ids), ids))
		}
	}
	warned, overdue := map[string]int{}, map[string]int{}
	for _, a := range alarms {
		switch a.Code {
		case "incident_warned":
			warned[a.IncidentID]++
		case "incident_overdue":
			// The state is the one named between 「」 in the message.
			state := a.Message
			if _, after, ok := strings.Cut(state, "「"); ok {
				state, _, _ = strings.Cut(after, "」")
			}
			overdue[fmt.Sprintf("%s level %d in %s", a.IncidentID, a.Level, state)]++
		}
	}
	for _, id := range sortedKeys(warned) {
		if n := warned[id]; n > 1 {
			l.DuplicateAlerts += n - 1
			problems = append(problems, fmt.Sprintf("incident %s was warned of %d times", id, n))
		}
	}
	for _, k := range sortedKeys(overdue) {
		if n := overdue[k]; n > 1 {
			l.DuplicateEscalations += n - 1
			problems = append(problems, fmt.Sprintf("escalation %s raised %d times", k, n))
		}
	}
	return problems, nil
}

// leaderBooks reads the leadership samples: rounds in which two
// instances led, and the gaps without a leader.
func (r *run) leaderBooks() []string {
	r.cl.mu.Lock()
	samples := slices.Clone(r.cl.samples)
	outages, notes := r.cl.outages, r.cl.notes
	r.cl.mu.Unlock()
	sort.SliceStable(samples, func(i, j int) bool { return samples[i].at.Before(samples[j].at) })
	l := &r.ledger
	for _, s := range samples {
		if !s.partial {
			l.LeaderSamples++
		}
	}
	if l.LeaderSamples == 0 {
		return []string{"no leadership samples were taken"}
	}
	t0 := samples[0].at
	rel := func(t time.Time) string { return t.Sub(t0).Round(time.Millisecond).String() }
	var problems []string
	// between is what happened from a to b (and in the second before).
	between := func(a, b time.Time) string {
		var out []string
		for _, n := range notes {
			if n.at.After(a.Add(-time.Second)) && !n.at.After(b) {
				out = append(out, rel(n.at)+" "+n.what)
			}
		}
		return strings.Join(out, "; ")
	}
	var last time.Time // the last round with a leader
	gap := func(end time.Time) {
		if last.IsZero() || !end.After(last.Add(sampleEvery+sampleEvery/2)) {
			return
		}
		for _, o := range outages {
			if o.down.Before(end) && o.up.After(last) {
				after := end.Sub(o.up)
				l.LeaderAfterPG = max(l.LeaderAfterPG, after)
				if after > FailoverBound {
					problems = append(problems, fmt.Sprintf("no leader for %v after PostgreSQL came back (at %s; bound %v): %s", after.Round(time.Millisecond), rel(o.up), FailoverBound, between(o.up, end)))
				}
				return
			}
		}
		d := end.Sub(last)
		l.LongestGap = max(l.LongestGap, d)
		if d > FailoverBound {
			problems = append(problems, fmt.Sprintf("no leader from %s to %s: %v (bound %v): %s", rel(last), rel(end), d.Round(time.Millisecond), FailoverBound, between(last, end)))
		}
	}
	for _, s := range samples {
		if len(s.leaders) > 1 && !s.partial {
			l.TwoLeaders++
			if l.TwoLeaders <= 5 {
				problems = append(problems, fmt.Sprintf("at %s instances %v all said they lead", rel(s.at), s.leaders))
			}
		}
		if len(s.leaders) > 0 {
			gap(s.at)
			last = s.at
		}
	}
	gap(samples[len(samples)-1].at)
	return problems
}
