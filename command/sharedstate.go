package command

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/cluster"
	"github.com/shianfood/shian/command/ingest"
	"github.com/shianfood/shian/protocols/wire"
)

// openShared gives a cluster-mode service the state its instances keep
// together in PostgreSQL besides the records and the history
// (cluster.Shared, decision 0030): the login throttle's counts (guesses
// spread over the instances behind a balancer count together, as they
// would on one instance) and the kiosks' presence (kioskStates). A single
// instance keeps both in memory as before.
func (s *Service) openShared() error {
	if !ClusterMode(s.cfg.DB) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sh, err := cluster.OpenShared(ctx, s.cfg.DB, cluster.SharedOptions{Origin: s.cfg.Instance, Now: s.cfg.Now, Log: s.cfg.Log})
	if err != nil {
		return err
	}
	s.shared = sh
	s.auth.Failures = sharedFailures{sh}
	return nil
}

// sharedFailures is auth.FailureCounts on cluster.Shared's table. The
// throttle's keys join the user and the address with a NUL byte, which a
// PostgreSQL text column cannot hold: each key is stored quoted
// (strconv.Quote, one-to-one and NUL-free).
type sharedFailures struct{ sh *cluster.Shared }

func quoteKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strconv.Quote(k)
	}
	return out
}

func (f sharedFailures) Failures(keys []string) (map[string]auth.Failure, error) {
	got, err := f.sh.Failures(quoteKeys(keys))
	if err != nil {
		return nil, err
	}
	out := make(map[string]auth.Failure, len(got))
	for _, k := range keys {
		if v, ok := got[strconv.Quote(k)]; ok {
			out[k] = auth.Failure{N: v.N, Last: v.Last}
		}
	}
	return out, nil
}

func (f sharedFailures) Fail(keys []string, now time.Time, forget time.Duration) error {
	return f.sh.Fail(quoteKeys(keys), now, forget)
}

func (f sharedFailures) Clear(key string) error { return f.sh.Clear(strconv.Quote(key)) }

// kioskStates is every kiosk's live state as this service answers it: the
// links on this instance and, in cluster mode, the presence rows the
// other instances write (cluster.Shared), so that the readiness gate, the
// kiosk list and the map's snapshot on A count a kiosk linked to B as
// online. A link here wins; otherwise an online row, otherwise the latest
// seen. If the database does not answer, the local links are the answer
// (logged).
func (s *Service) kioskStates() []wire.KioskState {
	local := s.ingest.KioskStates()
	if s.shared == nil {
		return local
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := s.shared.Presence(ctx)
	if err != nil {
		s.cfg.Log.Warn("kiosk presence: the other instances' kiosks are not counted", "err", err)
		return local
	}
	by := make(map[string]wire.KioskState, len(local)+len(rows))
	for _, k := range rows {
		by[k.KioskID] = k
	}
	for _, k := range local {
		if o, ok := by[k.KioskID]; ok && !k.Online && (o.Online || later(o.LastSeen, k.LastSeen)) {
			continue
		}
		by[k.KioskID] = k
	}
	out := make([]wire.KioskState, 0, len(by))
	for _, k := range by {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b wire.KioskState) int { return strings.Compare(a.KioskID, b.KioskID) })
	return out
}

// later reports whether a is a later time than b (nil is never).
func later(a, b *time.Time) bool { return a != nil && (b == nil || a.After(*b)) }

// kioskLinks is the ingest as the API sees it, with the cluster's presence
// in its kiosk states.
type kioskLinks struct {
	*ingest.Server
	s *Service
}

func (k kioskLinks) KioskStates() []wire.KioskState { return k.s.kioskStates() }
