package command

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/shianfood/shian/command/cluster"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/protocols/wire"
)

// In cluster mode (a postgres:// DB) several services share one database
// (docs/decisions/0026-cluster-bus-and-leader.md):
//
//   - results: after the ingest commits a group, the service publishes the
//     stored results' ids on the Bus topic "results"; a service that
//     receives ids from another instance reads those rows from its history
//     and feeds its live hub exactly as its own commits are fed
//     (toHub), so a browser on B sees a result that arrived on A. After
//     the Bus reconnects (notices may have been missed) the service
//     republishes the latest RecentResults results and every stall's state:
//     the deltas are idempotent (a result is upserted by its result_id, a
//     stall is its whole latest state), so a browser that already had them
//     loses nothing and one that missed them catches up.
//   - the engine: its loop (Recover, the queue, Tick) runs only on the
//     instance holding the cluster.EngineLock advisory lock; the leader
//     also hands the results it hears of from other instances to the
//     engine. Each term starts with engine.Reload (the indexes read
//     again: another instance led in between) and Recover, which picks
//     up what was committed while no one led. Whether an incident,
//     escalation or cluster warning is new is decided in the database
//     (decision 0029), so an old leader still running for a moment after
//     it lost the lock duplicates nothing.

// resultsTopic is the Bus topic of committed result ids.
const resultsTopic = "results"

// openCluster makes the Bus and the Leader of a cluster-mode service.
func (s *Service) openCluster() {
	if !ClusterMode(s.cfg.DB) {
		return
	}
	s.bus = cluster.NewBus(s.cfg.DB, cluster.BusOptions{Instance: s.cfg.Instance, Log: s.cfg.Log})
	s.bus.Subscribe(resultsTopic, s.remoteResults)
	s.bus.OnGap(s.resyncResults)
	s.openRecords() // the store's changed records (clusterstate.go)
	s.leader = cluster.NewLeader(s.cfg.DB, cluster.EngineLock, cluster.LeaderOptions{Log: s.cfg.Log})
}

// engineHere reports whether this instance's engine takes results now:
// always on a single instance, on the leader in a cluster.
func (s *Service) engineHere() bool { return s.leader == nil || s.leader.Leading() }

// runEngine runs the engine's loop: on the leader only, in a cluster.
func (s *Service) runEngine(ctx context.Context) {
	if s.leader == nil {
		s.engine.Run(ctx)
		return
	}
	done := make(chan struct{})
	go func() { s.bus.Run(ctx); close(done) }()
	s.leader.Run(ctx, func(ctx context.Context) {
		// Another instance may have led since this one's indexes were
		// built: read them again before Recover (decision 0029).
		if err := s.engine.Reload(); err != nil {
			s.cfg.Log.Error("assure: cannot reload the engine's indexes at the start of the term; running on the old ones (the database still refuses duplicates)", "err", err)
		}
		s.engine.Run(ctx)
	})
	<-done
}

// announce publishes the ids of the results stored in cs to the other
// instances.
func (s *Service) announce(cs []history.Committed) {
	if s.bus == nil {
		return
	}
	var ids []string
	for _, c := range cs {
		if c.Outcome == history.Stored {
			ids = append(ids, c.Result.ResultID)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.life, 5*time.Second)
	defer cancel()
	if err := s.bus.Publish(ctx, resultsTopic, ids); err != nil {
		s.cfg.Log.Warn("cannot tell the other instances of new results (their maps catch up at their next resync)", "results", len(ids), "err", err)
	}
}

// remoteResults feeds results another instance committed to the live
// hub, and to the engine when this instance leads.
func (s *Service) remoteResults(ids []string) {
	var cs []history.Committed
	for _, id := range ids {
		r, err := s.history.Result(id)
		if err != nil {
			if !errors.Is(err, history.ErrNotFound) {
				s.cfg.Log.Warn("cannot read a result another instance committed", "result", id, "err", err)
			} else {
				s.cfg.Log.Warn("a result another instance announced is not in the history", "result", id)
			}
			continue
		}
		cs = append(cs, history.Committed{Result: r, Outcome: history.Stored, StallChanged: true})
	}
	if len(cs) == 0 {
		return
	}
	// A stall's state is read once per group, after its results.
	seen := map[string]bool{}
	for i := len(cs) - 1; i >= 0; i-- {
		id := cs[i].Result.StallID
		cs[i].StallChanged = !seen[id]
		seen[id] = true
	}
	s.toHub(cs)
	if s.engineHere() {
		s.engine.OnCommitted(cs)
	}
}

// resyncResults republishes the latest results and every stall's state
// after the Bus may have missed notices.
func (s *Service) resyncResults() {
	rs, err := s.history.Results(history.Filter{Limit: s.cfg.RecentResults})
	if err != nil {
		s.cfg.Log.Warn("cannot resync the live map from the history after a notice gap", "err", err)
		return
	}
	slices.Reverse(rs) // oldest first, as they were committed
	for _, r := range rs {
		s.hub.Publish(wire.KindResult, r)
	}
	held := s.engine.OpenAtAll()
	for _, st := range s.history.StallStates() {
		st.OpenIncident = held[st.StallID]
		s.hub.Publish(wire.KindStall, st)
	}
}
