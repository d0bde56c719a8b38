package bench

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// The load kiosks send what a DY-3000E enzyme tester's results look like
// on the wire (protocols/wire/README.md), with the verdict the rules give
// for their raw values, so that the command re-derives the same verdict
// and flags nothing. Encoding them with encoding/json would cost the
// client more CPU than the command spends storing them, on the same two
// cores, so the messages are spliced from a template made once by
// encoding/json (TestEncoderMatchesJSON holds the two equal).

// resultKind is one template: a verdict and the raw values that give it.
type resultKind struct {
	verdict assay.Verdict
	control int64 // ΔA0 in µAU
	sample  int64 // ΔAt in µAU
}

// kinds are the templates, by what the prefill mixes in: mostly negatives,
// some suspicious and positive results (the ingest runs send negatives
// only; see ingestResult).
var kinds = []resultKind{
	{assay.Negative, 303000, 280000},
	{assay.Suspicious, 303000, 170000},
	{assay.Positive, 303000, 131000},
}

// sentinels the template is split at.
const (
	sentID    = "ffffffff-ffff-7fff-bfff-ffffffffffff"
	sentKiosk = "K-SENTINEL-KIOSK"
	sentStall = "S-SENTINEL-STALL"
	sentTag   = "SENTINEL-TAG"
	sentSeq   = 987654321987
)

var sentTime = time.Date(2001, 2, 3, 4, 5, 6, 789000000, time.UTC)

// template is one result kind's JSON cut at the variable fields.
type template struct {
	parts [][]byte // literal pieces between the fields
	order []field  // which field follows each piece
}

type field int

const (
	fID field = iota
	fKiosk
	fSeq
	fStall
	fTag
	fTime
)

// Encoder writes results messages for load kiosks.
type Encoder struct {
	eventID string
	tmpl    []template
}

// NewEncoder returns an encoder of results for event eventID ("" for
// none).
func NewEncoder(eventID string) (*Encoder, error) {
	e := &Encoder{eventID: eventID}
	rules := assay.DefaultRules()
	for _, k := range kinds {
		r := sampleResult(k, eventID)
		out, err := rules.Decide(r.Method, r.Item, r.Raw)
		if err != nil || out.Verdict != k.verdict {
			return nil, fmt.Errorf("bench: template %s decides %v (%v)", k.verdict, out.Verdict, err)
		}
		r.Value, r.Unit, r.Verdict, r.RepeatsRequired = out.Value, out.Unit, out.Verdict, out.RepeatsRequired
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		t, err := cut(b)
		if err != nil {
			return nil, err
		}
		e.tmpl = append(e.tmpl, t)
	}
	return e, nil
}

func sampleResult(k resultKind, eventID string) wire.Result {
	return wire.Result{ResultID: sentID, KioskID: sentKiosk, Seq: sentSeq, BootEpoch: 1,
		DeviceID: "enzyme-1", Model: "DY-3000E", Serial: "DY3E-BENCH",
		StallID: sentStall, EventID: eventID, Operator: "op-bench",
		Sample: wire.Sample{Code: sentStall, Name: sentTag, Category: "蔬菜", Batch: "20261128-03"},
		Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药", Analyte: "organophosphate_carbamate",
		Raw:        assay.Raw{ControlDeltaA: assay.Ptr(measure.Absorbance(k.control)), SampleDeltaA: assay.Ptr(measure.Absorbance(k.sample))},
		MeasuredAt: sentTime}
}

// cut splits encoded JSON at the sentinels, in the order they appear.
func cut(b []byte) (template, error) {
	marks := map[field][]byte{
		fID: []byte(`"` + sentID + `"`), fKiosk: []byte(`"` + sentKiosk + `"`),
		fSeq: []byte(strconv.FormatUint(sentSeq, 10)), fStall: []byte(`"` + sentStall + `"`),
		fTag: []byte(`"` + sentTag + `"`), fTime: []byte(`"` + sentTime.Format(time.RFC3339Nano) + `"`),
	}
	var t template
	for len(b) > 0 {
		at, which, n := -1, field(0), 0
		for f, m := range marks {
			if i := bytes.Index(b, m); i >= 0 && (at < 0 || i < at) {
				at, which, n = i, f, len(m)
			}
		}
		if at < 0 {
			t.parts = append(t.parts, b)
			break
		}
		t.parts = append(t.parts, b[:at])
		t.order = append(t.order, which)
		b = b[at+n:]
	}
	if len(t.order) != 7 { // the stall appears twice (stall_id, sample.code)
		return t, fmt.Errorf("bench: result template has %d variable fields, want 7", len(t.order))
	}
	return t, nil
}

// Spec is one result to encode.
type Spec struct {
	Kind       int // index into kinds: 0 negative, 1 suspicious, 2 positive
	KioskID    string
	Seq        uint64
	StallID    string
	Tag        string // the sample name
	MeasuredAt time.Time
}

// ResultID is the result_id a spec gets: a UUIDv7 layout with the
// measurement time in its first 48 bits, 34 bits of a hash of the kiosk id
// and 40 bits of the seq after the version and variant, so that ids are
// unique across kiosks and runs without a random source.
func (s *Spec) ResultID() string {
	var u [16]byte
	ms := uint64(s.MeasuredAt.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	h := fnv64(s.KioskID)
	u[6] = 0x70 | byte(h>>60)&0x0f
	u[7] = byte(h >> 52)
	u[8] = 0x80 | byte(h>>46)&0x3f
	u[9] = byte(h >> 38)
	u[10] = byte(h >> 30)
	for i := 0; i < 5; i++ {
		u[11+i] = byte(s.Seq >> (32 - 8*i))
	}
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// AppendResult appends one result's JSON.
func (e *Encoder) AppendResult(dst []byte, s *Spec) []byte {
	t := &e.tmpl[s.Kind]
	for i, p := range t.parts {
		dst = append(dst, p...)
		if i >= len(t.order) {
			break
		}
		switch t.order[i] {
		case fID:
			dst = append(dst, '"')
			dst = append(dst, s.ResultID()...)
			dst = append(dst, '"')
		case fKiosk:
			dst = strconv.AppendQuote(dst, s.KioskID)
		case fSeq:
			dst = strconv.AppendUint(dst, s.Seq, 10)
		case fStall:
			dst = strconv.AppendQuote(dst, s.StallID)
		case fTag:
			dst = strconv.AppendQuote(dst, s.Tag)
		case fTime:
			dst = append(dst, '"')
			dst = s.MeasuredAt.UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		}
	}
	return dst
}

// AppendMessage appends a results message holding specs.
func (e *Encoder) AppendMessage(dst []byte, specs []Spec) []byte {
	dst = append(dst, `{"v":1,"type":"results","results":[`...)
	for i := range specs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.AppendResult(dst, &specs[i])
	}
	return append(dst, "]}"...)
}

// Result returns the wire.Result a spec encodes (for the prefill, which
// stores results through the store's own path, and for tests).
func (e *Encoder) Result(s *Spec) (wire.Result, error) {
	var r wire.Result
	err := json.Unmarshal(e.AppendResult(nil, s), &r)
	return r, err
}
