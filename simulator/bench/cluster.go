package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// clusterKiosks is how many load kiosks the cluster part spreads over its
// instances, whatever their number.
const clusterKiosks = 100

// clusterPart measures ingest into 1, 2 and 3 command instances in cluster
// mode on one PostgreSQL server (issue 17), the same 100 load kiosks
// spread round robin over them. The baseline is the one-instance figure of
// the same run; every instance, PostgreSQL and the load kiosks share this
// machine's cores, which is what the ratios say about it.
func (b *Bench) clusterPart(ctx context.Context) error {
	if pgBin() == "" {
		b.rep.Notes = append(b.rep.Notes, "cluster not measured: "+errNoPostgres.Error())
		return nil
	}
	pg, err := startPostgres(ctx, filepath.Join(b.o.Work, "postgres-cluster"))
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer pg.stop()
	bk := backend{name: "PostgreSQL", pg: pg}
	var base float64
	for n := 1; n <= 3; n++ {
		run, err := b.dir(fmt.Sprintf("cluster-%d", n))
		if err != nil {
			return err
		}
		ids := kioskIDs(fmt.Sprintf("C%d", n), clusterKiosks)
		enc, err := NewEncoder(benchEvent)
		if err != nil {
			return err
		}
		prep, err := prepare(bk, run, ids, 0, enc, time.Now())
		if err != nil {
			return err
		}
		cs := make([]*command, n)
		for i := range cs {
			data := filepath.Join(run, fmt.Sprintf("instance-%d", i+1))
			if err := os.MkdirAll(data, 0o755); err != nil {
				return err
			}
			cs[i] = &command{b: b, bk: bk, run: run, data: data, tokens: prep.tokens, api: prep.api}
			if err := b.startCommand(ctx, cs[i]); err != nil {
				stopAll(cs)
				return fmt.Errorf("instance %d of %d: %w", i+1, n, err)
			}
		}
		profile := ""
		if b.o.Profile != "" {
			profile = filepath.Join(b.o.Profile, fmt.Sprintf("cluster-%d", n))
		}
		f, err := b.measureIngestOn(ctx, cs, ids, b.sz.IngestWindow, profile)
		stopAll(cs)
		if err != nil {
			return fmt.Errorf("ingest into %d instances: %w", n, err)
		}
		row := Row{Part: "cluster", Measure: fmt.Sprintf("%d instance(s) on one PostgreSQL, %d kiosks, 64/message", n, clusterKiosks),
			Value: fmt.Sprintf("%s results/s (commands %.2f cores together; load kiosks %.2f cores)", num(f.PerS), f.CmdCores, f.LoadCores)}
		if n == 1 {
			base = f.PerS
			row.Baseline = "this row"
		} else {
			row.Baseline = fmt.Sprintf("%s results/s, 1 instance, this run", num(base))
			row.Ratio = fmt.Sprintf("%.2f×", f.PerS/base)
		}
		b.rep.add(row)
		b.say("cluster %d instance(s): %.0f results/s, commands %.2f cores, first ack after %v",
			n, f.PerS, f.CmdCores, f.FirstAck.Round(time.Millisecond))
	}
	return nil
}

func stopAll(cs []*command) {
	for _, c := range cs {
		if c != nil {
			c.stop()
		}
	}
}
