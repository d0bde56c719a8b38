package api_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/live"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/tidwall/buntdb"
)

type noHub struct{}

func (noHub) ServeWS(http.ResponseWriter, *http.Request)        {}
func (noHub) Publish(string, any) uint64                        { return 0 }
func (noHub) Disconnect(func(live.Owner) bool, int, string) int { return 0 }

type noKiosks struct{ http.Handler }

func (noKiosks) KioskStates() []wire.KioskState { return nil }

// sink is a ResponseWriter that counts and drops the body, so that the
// measurement sees the export's memory, not a buffered copy of its output.
type sink struct {
	h      http.Header
	status int
	n      int64
}

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) WriteHeader(code int)        { s.status = code }
func (s *sink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }

// TestExportStreamsInBoundedMemory stores 50,000 results (20,000 under
// -race) and exports them as CSV and as XLSX while sampling the heap. The
// export must not hold the rows: the live heap grows by a bound that does
// not depend on the number of rows. Set SHIAN_EXPORT_N to try other sizes.
func TestExportStreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 50,000 results")
	}
	n := 50_000
	if raceOn {
		n = 20_000
	}
	if v, err := strconv.Atoi(os.Getenv("SHIAN_EXPORT_N")); err == nil && v > 0 {
		n = v
	}
	log := slog.New(slog.DiscardHandler)
	never := buntdb.Never
	st, err := store.Open(t.TempDir(), store.Options{Log: log, Sync: &never})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hist, err := history.Open("sqlite:"+filepath.Join(t.TempDir(), "history.db"), history.Options{Log: log, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	au := auth.New(st, nil)
	if err := au.CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, _ := au.NewAPIToken("admin", "test")
	eng, err := engine.New(engine.Deps{Store: st, Results: hist, DataDir: t.TempDir(), Log: log}, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Store: st, History: hist, Auth: au, Hub: noHub{}, Kiosks: noKiosks{http.NotFoundHandler()}, Log: log}
	h := srv.Routes()
	api.RegisterAssurance(srv, eng)

	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	verdicts := []assay.Verdict{assay.Negative, assay.Negative, assay.Negative, assay.Suspicious, assay.Positive}
	batch := make([]wire.Result, 0, 1000)
	for i := range n {
		batch = append(batch, wire.Result{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: fmt.Sprintf("K-%02d", i%40), Seq: uint64(i/40 + 1),
			DeviceID: "enzyme-1", Model: "DY-3000E", StallID: fmt.Sprintf("S-%04d", i%2000), EventID: "EV-1", Operator: "op-07",
			Sample: wire.Sample{Name: "菠菜", Category: "蔬菜", Batch: "B-20261128", Supplier: "南通农副产品物流中心"},
			Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药", Analyte: "organophosphate_carbamate",
			Value: float64(i%9000) / 100, Unit: "%", Verdict: verdicts[i%len(verdicts)], MeasuredAt: t0.Add(time.Duration(i) * time.Second)})
		if len(batch) == cap(batch) {
			if _, err := hist.Commit(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// Collect garbage often, so that the heap's size follows what is live
	// rather than the collector's pacing, and sample both the heap
	// (runtime.ReadMemStats) and the live heap the last collection found.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for _, file := range []string{"results.csv", "results.xlsx"} {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		metrics.Read(live)
		liveBase := live[0].Value.Uint64()
		peak, livePeak := base, liveBase
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			var m runtime.MemStats
			s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					runtime.ReadMemStats(&m)
					metrics.Read(s)
					peak, livePeak = max(peak, m.HeapAlloc), max(livePeak, s[0].Value.Uint64())
				}
			}
		}()
		req, _ := http.NewRequest("GET", "/api/v1/export/"+file, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := &sink{h: http.Header{}, status: 200}
		start := time.Now()
		h.ServeHTTP(w, req)
		took := time.Since(start)
		close(stop)
		wg.Wait()
		if w.status != 200 {
			t.Fatalf("%s: status %d", file, w.status)
		}
		grow, liveGrow := peak-base, livePeak-liveBase
		mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
		t.Logf("%s: %d rows, %.1f MiB written in %s; heap before %.1f MiB (the store's %d results); during the export: heap peak +%.1f MiB, live heap peak +%.1f MiB",
			file, n, float64(w.n)/(1<<20), took.Round(time.Millisecond), mib(base), n, mib(grow), mib(liveGrow))
		// Holding the rows would keep about the store's size again. CSV
		// keeps a row at a time; XLSX keeps excelize's stream chunk (up to
		// 16 MiB of sheet XML in a bytes.Buffer) before it spills to a
		// temporary file — the same at 10,000 rows as at 200,000.
		limit := uint64(8 << 20)
		if strings.HasSuffix(file, ".xlsx") {
			// 16 MiB of buffered XML, and while the buffer grows past
			// it, the old 16 and the new 32 MiB array at once.
			limit = 64 << 20
		}
		if liveGrow > limit {
			t.Errorf("%s: live heap grew by %.1f MiB during the export, over %d MiB", file, mib(liveGrow), limit>>20)
		}
	}
}
