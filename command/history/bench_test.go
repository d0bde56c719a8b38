package history_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/history/historytest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// groups makes n groups of size results from 100 kiosks, as the ingest
// committer hands them over.
func groups(n, size int) [][]wire.Result {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	seq := map[string]uint64{}
	out := make([][]wire.Result, n)
	for g := range out {
		for i := 0; i < size; i++ {
			k := fmt.Sprintf("K-%03d", (g*size+i)%100)
			seq[k]++
			r := historytest.Result(k, seq[k], fmt.Sprintf("S-%04d", (g*size+i)%1000), assay.Negative, t0.Add(time.Duration(g*size+i)*time.Second))
			r.EventID = "EV-1"
			out[g] = append(out[g], r)
		}
	}
	return out
}

// BenchmarkCommit is the history's write path at the ingest committer's
// group size: 64 results from 100 kiosks per Commit, fsynced (SQLite
// synchronous=FULL) in the benchmark's temporary directory. The baseline,
// measured in the same run, appends the same JSON in the same groups to a
// file fsynced after each group: results_per_s and ratio are reported.
func BenchmarkCommit(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("group=%d", size), func(b *testing.B) {
			dir := b.TempDir()
			gs := groups(b.N, size)
			h, err := history.Open("sqlite:"+filepath.Join(dir, "history.db"), history.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			b.ResetTimer()
			start := time.Now()
			for _, g := range gs {
				if _, err := h.Commit(g); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			b.StopTimer()
			rate := float64(b.N*size) / el.Seconds()
			base := appendBaseline(b, dir, gs)
			b.ReportMetric(rate, "results/s")
			b.ReportMetric(base, "baseline_results/s")
			b.ReportMetric(rate/base, "ratio")
		})
	}
}

func appendBaseline(b *testing.B, dir string, gs [][]wire.Result) float64 {
	f, err := os.Create(filepath.Join(dir, "append.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := 0
	start := time.Now()
	for _, g := range gs {
		var buf []byte
		for i := range g {
			j, _ := json.Marshal(&g[i])
			buf = append(append(buf, j...), '\n')
		}
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		n += len(g)
	}
	return float64(n) / time.Since(start).Seconds()
}
