package history

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/shianfood/shian/protocols/wire"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC-32C a row's JSON is stored with.
func checksum(body []byte) int64 { return int64(crc32.Checksum(body, castagnoli)) }

// row is one results row, as stored.
type row struct {
	rx         int64
	resultID   string
	kioskID    string
	seq        int64
	stallID    string
	eventID    string
	analyte    string
	lot        string // kit lot (批号)
	verdict    string
	measuredAt int64 // unix ns
	receivedAt int64 // unix ns
	body       []byte
	sum        int64
	tier       string // the effective testing tier (schema 2)
	source     string // "kiosk", "market:<id>", "lab:<id>" (schema 2)
}

// rowColumns is the column list every read selects, in row order.
const rowColumns = "rx_seq, result_id, kiosk_id, seq, stall_id, event_id, analyte, lot, verdict, measured_at, received_at, body, sum, tier, source"

// rowParams is the placeholders of one row.
const rowParams = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// rowArity is the number of columns of a row.
const rowArity = 15

func (r *row) dest() []any {
	return []any{&r.rx, &r.resultID, &r.kioskID, &r.seq, &r.stallID, &r.eventID, &r.analyte, &r.lot, &r.verdict,
		&r.measuredAt, &r.receivedAt, &r.body, &r.sum, &r.tier, &r.source}
}

func (r *row) args() []any {
	return []any{r.rx, r.resultID, r.kioskID, r.seq, r.stallID, r.eventID, r.analyte, r.lot, r.verdict,
		r.measuredAt, r.receivedAt, r.body, r.sum, r.tier, r.source}
}

// unixNano is t in ns since the epoch; times outside int64's range (years
// before 1678 or after 2262, which Validate lets through) are clamped.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

// Incoming is a result on its way into the history, its JSON already
// encoded by [Prepare]. The ingest prepares each result on the kiosk
// connection's own goroutine, so that the committer, which is serial and
// the limit of ingest, spends its time in the database and not in
// encoding/json.
type Incoming struct {
	Result wire.Result
	// content is Result's JSON without the fields the history sets at
	// commit (rx_seq, received_at): an object that [encodeRowWith] closes
	// with them.
	content []byte
}

// Prepare encodes r for CommitPrepared. It may be called from any
// goroutine; r's RxSeq and ReceivedAt are ignored (the history sets them).
func Prepare(r wire.Result) Incoming {
	c, err := contentJSON(&r)
	if err != nil {
		// Left to the committer, which reports the error for the group.
		c = nil
	}
	return Incoming{Result: r, content: c}
}

// contentJSON is r's JSON without rx_seq and received_at (both omitempty).
func contentJSON(r *wire.Result) ([]byte, error) {
	c := *r
	c.RxSeq, c.ReceivedAt = 0, nil
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("history: encode result %s: %w", r.ResultID, err)
	}
	return b, nil
}

// encodeRow makes the row that stores r (whose RxSeq and ReceivedAt are
// set).
func encodeRow(r *wire.Result) (row, error) { return encodeRowWith(r, nil, nil) }

// encodeRowWith is encodeRow from r's content JSON (contentJSON, nil to
// encode it here) and its received_at as JSON (nil to encode it here): the
// body is the content with "received_at" and "rx_seq" added at its end, the
// same object json.Marshal(r) gives, its keys in another order.
func encodeRowWith(r *wire.Result, content, recv []byte) (row, error) {
	if content == nil {
		var err error
		if content, err = contentJSON(r); err != nil {
			return row{}, err
		}
	}
	var rx int64
	if r.ReceivedAt != nil {
		rx = unixNano(*r.ReceivedAt)
		if recv == nil {
			var err error
			if recv, err = r.ReceivedAt.MarshalJSON(); err != nil {
				return row{}, fmt.Errorf("history: encode result %s: received_at: %w", r.ResultID, err)
			}
		}
	}
	if len(content) < 2 || content[len(content)-1] != '}' {
		return row{}, fmt.Errorf("history: encode result %s: its JSON is not an object", r.ResultID)
	}
	body := make([]byte, 0, len(content)+len(recv)+40)
	body = append(body, content[:len(content)-1]...)
	sep := func() {
		if len(body) > 1 {
			body = append(body, ',')
		}
	}
	if r.ReceivedAt != nil {
		sep()
		body = append(append(body, `"received_at":`...), recv...)
	}
	if r.RxSeq != 0 {
		sep()
		body = strconv.AppendUint(append(body, `"rx_seq":`...), r.RxSeq, 10)
	}
	body = append(body, '}')
	return row{rx: int64(r.RxSeq), resultID: r.ResultID, kioskID: r.KioskID, seq: int64(r.Seq), stallID: r.StallID,
		eventID: r.EventID, analyte: r.Analyte, lot: r.Lot, verdict: string(r.EffectiveVerdict()),
		measuredAt: unixNano(r.MeasuredAt), receivedAt: rx, body: body, sum: checksum(body),
		tier: string(r.EffectiveTier()), source: r.EffectiveSource()}, nil
}

// decodeRow checks a stored row and returns its result: the checksum must
// match the JSON, and the JSON must agree with every column (a flipped
// byte in either is caught, so a result is never served with, say, an
// empty kiosk).
func decodeRow(w *row) (wire.Result, error) {
	var r wire.Result
	if checksum(w.body) != w.sum {
		return r, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", uint32(w.sum), uint32(checksum(w.body)))
	}
	if err := json.Unmarshal(w.body, &r); err != nil {
		return wire.Result{}, fmt.Errorf("unreadable JSON: %v", err)
	}
	var rx int64
	if r.ReceivedAt != nil {
		rx = unixNano(*r.ReceivedAt)
	}
	switch {
	case int64(r.RxSeq) != w.rx || w.rx <= 0:
		return wire.Result{}, fmt.Errorf("rx_seq %d in the JSON, %d in the row", r.RxSeq, w.rx)
	case r.ResultID != w.resultID:
		return wire.Result{}, fmt.Errorf("result_id %q in the JSON, %q in the row", r.ResultID, w.resultID)
	case r.KioskID != w.kioskID || int64(r.Seq) != w.seq:
		return wire.Result{}, fmt.Errorf("kiosk %q seq %d in the JSON, %q seq %d in the row", r.KioskID, r.Seq, w.kioskID, w.seq)
	case r.StallID != w.stallID || r.EventID != w.eventID || r.Analyte != w.analyte || r.Lot != w.lot:
		return wire.Result{}, fmt.Errorf("stall/event/analyte %q/%q/%q in the JSON, %q/%q/%q in the row",
			r.StallID, r.EventID, r.Analyte, w.stallID, w.eventID, w.analyte)
	case string(r.EffectiveVerdict()) != w.verdict:
		return wire.Result{}, fmt.Errorf("verdict %q in the JSON, %q in the row", r.EffectiveVerdict(), w.verdict)
	case string(r.EffectiveTier()) != w.tier || r.EffectiveSource() != w.source:
		return wire.Result{}, fmt.Errorf("tier/source %q/%q in the JSON, %q/%q in the row", r.EffectiveTier(), r.EffectiveSource(), w.tier, w.source)
	case unixNano(r.MeasuredAt) != w.measuredAt || rx != w.receivedAt:
		return wire.Result{}, fmt.Errorf("measured/received time in the JSON differ from the row's")
	}
	return r, nil
}
