package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shianfood/shian/command/rulebook"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// The steps of the ingest path outside the store, per 64-result message,
// as Go benchmarks. Each also reports cpu-ns/op, the process's CPU time
// per operation: on a shared machine the wall-clock ns/op measures the
// other users as much as the code, the CPU time much less so.
//
//	go test -run '^$' -bench IngestPath -count 6 -cpu 1 ./simulator/bench | benchstat -

// cpuPerOp reports the process's CPU time per operation of the loop that
// follows (call it before the loop, defer the result).
func cpuPerOp(b *testing.B) func() {
	start := selfCPU()
	return func() { b.ReportMetric(float64(selfCPU()-start)/float64(b.N), "cpu-ns/op") }
}

func benchMessage(b *testing.B) []byte {
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		b.Fatal(err)
	}
	specs := make([]Spec, wire.MaxBatch)
	at := time.Now()
	for i := range specs {
		specs[i] = Spec{KioskID: "K-BENCH-01", Seq: uint64(i + 1), StallID: stallID(i, 2000), Tag: "菠菜", MeasuredAt: at.Add(time.Duration(i) * time.Millisecond)}
	}
	return enc.AppendMessage(nil, specs)
}

// Decoding and validating one results message (wire.Decode).
func BenchmarkIngestPathDecode(b *testing.B) {
	msg := benchMessage(b)
	b.SetBytes(int64(len(msg)))
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := wire.Decode(msg, wire.MaxKioskMessage); err != nil {
			b.Fatal(err)
		}
	}
}

// Re-deriving the verdicts of one message (rulebook.Keeper.Judge).
func BenchmarkIngestPathJudge(b *testing.B) {
	m, err := wire.Decode(benchMessage(b), wire.MaxKioskMessage)
	if err != nil {
		b.Fatal(err)
	}
	rs := m.(*wire.Results).Results
	k := rulebook.Fixed(assay.DefaultRules())
	defer cpuPerOp(b)()
	for b.Loop() {
		for i := range rs {
			if j := k.Judge(&rs[i]); j.Derived != nil {
				b.Fatal("a verdict differs")
			}
		}
	}
}

// Encoding one message's results as the live map's deltas (json.Marshal
// of each, then the delta frame around it).
func BenchmarkIngestPathDeltas(b *testing.B) {
	m, err := wire.Decode(benchMessage(b), wire.MaxKioskMessage)
	if err != nil {
		b.Fatal(err)
	}
	rs := m.(*wire.Results).Results
	defer cpuPerOp(b)()
	for b.Loop() {
		for i := range rs {
			data, err := json.Marshal(rs[i])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := wire.Encode(&wire.Delta{Stream: "a41f09c2", Seq: uint64(i), Kind: wire.KindResult, Data: data}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
