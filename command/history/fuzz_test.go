package history

import (
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// FuzzDecodeRow: a stored row of any bytes and columns is either returned
// whole (its checksum and every column agree with its JSON) or refused
// with an error; it never panics.
func FuzzDecodeRow(f *testing.F) {
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	r := wire.Result{ResultID: "0193a1b2-7c4d-7e5f-8a6b-000000000001", KioskID: "K-1", Seq: 1, StallID: "S-1",
		EventID: "EV-1", Method: assay.EnzymeInhibition, Analyte: "organophosphate_carbamate", Verdict: assay.Negative,
		MeasuredAt: at, ReceivedAt: &at, RxSeq: 7}
	w, err := encodeRow(&r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(w.body, w.sum, w.rx, w.kioskID, w.seq)
	f.Add([]byte(`{"rx_seq":1}`), checksum([]byte(`{"rx_seq":1}`)), int64(1), "", int64(0))
	f.Add([]byte(`null`), checksum([]byte(`null`)), int64(0), "", int64(0))
	f.Fuzz(func(t *testing.T, body []byte, sum, rx int64, kiosk string, seq int64) {
		in := w
		in.body, in.sum, in.rx, in.kioskID, in.seq = body, sum, rx, kiosk, seq
		got, err := decodeRow(&in)
		if err != nil {
			return
		}
		if checksum(body) != sum || int64(got.RxSeq) != rx || got.KioskID != kiosk || int64(got.Seq) != seq || got.ResultID != in.resultID {
			t.Fatalf("accepted a row that disagrees with its JSON: %+v", got)
		}
		back, err := encodeRow(&got)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRow(&back); err != nil {
			t.Fatalf("a whole row does not survive re-encoding: %v", err)
		}
	})
}

// FuzzDecodeMarks: a kiosk_marks row decodes to a set that encodes back
// the same way, or is refused.
func FuzzDecodeMarks(f *testing.F) {
	f.Add(int64(5), "")
	f.Add(int64(5), "7,9,12")
	f.Add(int64(0), "1")
	f.Add(int64(3), "2")
	f.Add(int64(-1), "x")
	f.Fuzz(func(t *testing.T, hw int64, above string) {
		k, err := decodeMarks(hw, above)
		if err != nil {
			return
		}
		again, err := decodeMarks(int64(k.hw), k.encodeAbove())
		if err != nil || again.hw != k.hw || again.encodeAbove() != k.encodeAbove() {
			t.Fatalf("marks %d/%q do not round-trip: %v", hw, above, err)
		}
		for s := range k.above {
			if s <= k.hw || !k.has(s) {
				t.Fatalf("seq %d above hw %d", s, k.hw)
			}
		}
	})
}
