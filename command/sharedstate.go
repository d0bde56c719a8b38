package command

import (
	"context"
	"strconv"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/cluster"
)

// openShared gives a cluster-mode service the state its instances keep
// together in PostgreSQL besides the records and the history
// (cluster.Shared, decision 0030). Today that is the login throttle's
// counts: guesses spread over the instances behind a balancer count
// together, as they would on one instance. A single instance keeps them in
// memory as before.
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
