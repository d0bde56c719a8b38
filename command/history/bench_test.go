package history_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/history/historytest"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// groups makes n groups of size results as the ingest committer hands
// them over from 100 kiosks: each kiosk sends batches of up to batch
// consecutive results (one stall per batch), and a group is the batches
// that arrived within its window, from size/batch kiosks in turn.
func groups(n, size, batch int) [][]wire.Result {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	seq := map[int]uint64{}
	out := make([][]wire.Result, n)
	k := 0
	for g := range out {
		for len(out[g]) < size {
			k = (k + 1) % 100
			stall := fmt.Sprintf("S-%04d", k*10+int(seq[k]/uint64(batch))%10)
			for i := 0; i < batch && len(out[g]) < size; i++ {
				seq[k]++
				r := historytest.Result(fmt.Sprintf("K-%03d", k), seq[k], stall, assay.Negative, t0.Add(time.Duration(seq[k])*time.Second))
				r.EventID = "EV-1"
				out[g] = append(out[g], r)
			}
		}
	}
	return out
}

// BenchmarkCommit is the history's write path at the ingest committer's
// group size: 64 results from 100 kiosks per Commit, fsynced (SQLite
// synchronous=FULL) in the benchmark's temporary directory. The baseline,
// measured in the same run, appends the same JSON in the same groups to a
// file fsynced after each group: results_per_s and ratio are reported.
//
// The prepared variants hand the committer results already encoded by
// history.Prepare, as the ingest does on each kiosk link's goroutine: the
// time left is the committer's own.
func BenchmarkCommit(b *testing.B) {
	for _, c := range []struct {
		size, batch int
		prepared    bool
	}{{64, 64, false}, {64, 1, false}, {1024, 64, false}, {1024, 64, true}, {4096, 64, true}} {
		size := c.size
		name := fmt.Sprintf("group=%d/kiosks=%d", c.size, c.size/c.batch)
		if c.prepared {
			name += "/prepared"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			gs := groups(b.N, c.size, c.batch)
			var ps [][]history.Incoming
			if c.prepared {
				for _, g := range gs {
					p := make([]history.Incoming, len(g))
					for i := range g {
						p[i] = history.Prepare(g[i])
					}
					ps = append(ps, p)
				}
			}
			h, err := history.Open("sqlite:"+filepath.Join(dir, "history.db"), history.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			b.ResetTimer()
			w0 := writeBytes()
			c0 := cpuTime()
			start := time.Now()
			for i, g := range gs {
				if c.prepared {
					_, err = h.CommitPrepared(ps[i])
				} else {
					_, err = h.Commit(g)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			cpu := cpuTime() - c0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*size), "cpu_µs/result")
			b.ReportMetric(float64(writeBytes()-w0)/float64(b.N*size), "disk_B/result")
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

// cpuTime is the CPU time this process used so far (user and system):
// on a shared machine, CPU per result is steadier than results per second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBytes is what this process has written to storage (Linux
// /proc/self/io write_bytes; 0 where there is none).
func writeBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkCommitPostgres is the write path on PostgreSQL: the
// single-writer mode (the baseline, measured in the same run on the same
// server) against cluster mode (decision 0025) with one and with two
// instances committing at once. Groups of 64 prepared results from 16
// kiosks, synchronous_commit=on. ratio = cluster results/s ÷ single-writer
// results/s.
func BenchmarkCommitPostgres(b *testing.B) {
	run := func(b *testing.B, cluster bool, writers int) float64 {
		dsn := pgtest.DSN(b)
		hs := make([]history.History, writers)
		for i := range hs {
			h, err := history.Open(dsn, history.Options{Cluster: cluster})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			hs[i] = h
		}
		gs := groups(b.N*writers, 64, 4)
		ps := make([][]history.Incoming, len(gs))
		for i, g := range gs {
			ps[i] = make([]history.Incoming, len(g))
			for j := range g {
				ps[i][j] = history.Prepare(g[j])
			}
		}
		start := time.Now()
		var wg sync.WaitGroup
		for w, h := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(ps); i += writers {
					if _, err := h.CommitPrepared(ps[i]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(len(ps)*64) / time.Since(start).Seconds()
	}
	for _, c := range []struct {
		name    string
		writers int
	}{{"instances=1", 1}, {"instances=2", 2}} {
		b.Run(c.name, func(b *testing.B) {
			b.StopTimer()
			base := run(b, false, 1)
			b.StartTimer()
			rate := run(b, true, c.writers)
			b.StopTimer()
			b.ReportMetric(rate, "results/s")
			b.ReportMetric(base, "baseline_results/s")
			b.ReportMetric(rate/base, "ratio")
		})
	}
}
