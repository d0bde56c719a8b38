package wire

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func sampleResult() Result {
	return Result{
		ResultID: "0193a1b2-7c4d-7e5f-8a6b-1c2d3e4f5a6b", KioskID: "K-NT-01", Seq: 7, BootEpoch: 2,
		DeviceID: "enzyme-1", Model: "DY-3000E", StallID: "S-012",
		Sample: Sample{Code: "S-012", Name: "菠菜"},
		Method: assay.EnzymeInhibition, Item: "农药残留", Analyte: "organophosphate_carbamate",
		Value: 56.77, Unit: "%", Verdict: assay.Positive, RepeatsRequired: 2,
		Raw:        assay.Raw{ControlDeltaA: assay.Ptr(303 * measure.MilliAU), SampleDeltaA: assay.Ptr(131 * measure.MilliAU)},
		MeasuredAt: time.Date(2026, 11, 28, 9, 31, 12, 0, time.FixedZone("CST", 8*3600)),
	}
}

func TestRoundTrip(t *testing.T) {
	r := sampleResult()
	msgs := []Message{
		&Hello{KioskID: "K-NT-01", BootEpoch: 3, LastSeq: 9, SentAt: r.MeasuredAt},
		&Welcome{KioskID: "K-NT-01", AckedUpTo: 9, MaxInFlight: 256},
		&Results{Results: []Result{r}},
		&Ack{UpToSeq: 7},
		&Reject{ResultID: r.ResultID, Seq: 7, Code: RejectConflict, Message: "x"},
		&Status{Pending: 1, Storage: "ok"},
		&Alarm{Code: "clock_jump", Message: "x"},
		&Notice{ResultID: r.ResultID, IncidentNo: "INC-1"},
		&Error{Code: "auth", Message: "x"},
		&Subscribe{Since: 4},
		&Snapshot{Seq: 3, Results: []Result{r}},
		&Delta{Seq: 4, Kind: KindResult, Data: []byte(`{"a":1}`)},
	}
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		got, err := Decode(b, 0)
		if err != nil {
			t.Fatalf("%T: decode %s: %v", m, b, err)
		}
		if got.MessageType() != m.MessageType() {
			t.Fatalf("%T decoded as %T", m, got)
		}
		b2, _ := Encode(got)
		if string(b) != string(b2) {
			t.Errorf("%T: re-encode differs:\n%s\n%s", m, b, b2)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{`not json`, ErrMalformed},
		{`{"type":"ack"}`, ErrMalformed},
		{`{"v":1}`, ErrMalformed},
		{`{"v":2,"type":"ack"}`, ErrVersion},
		{`{"v":1,"type":"launch"}`, ErrUnknownType},
		{`{"v":1,"type":"ack","up_to_seq":"x"}`, ErrMalformed},
		{`{"v":1,"type":"results","results":[]}`, ErrInvalid},
		{`{"v":1,"type":"hello"}`, ErrInvalid},
		{`{"v":1,"type":"results","results":[{"result_id":"nope","kiosk_id":"K","seq":1}]}`, ErrInvalid},
		{`{"v":1,"type":"delta","seq":1}`, ErrInvalid},
	}
	for _, c := range cases {
		_, err := Decode([]byte(c.in), 0)
		if !errors.Is(err, c.want) {
			t.Errorf("Decode(%s) = %v, want %v", c.in, err, c.want)
		}
	}
	if _, err := Decode(make([]byte, 100), 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if CloseCodeFor(ErrVersion) != CloseVersion || CloseCodeFor(ErrTooLarge) != CloseTooBig || CloseCodeFor(ErrMalformed) != CloseProtocol {
		t.Error("close codes")
	}
}

func TestResultValidate(t *testing.T) {
	mut := map[string]func(r *Result){
		"bad uuid":        func(r *Result) { r.ResultID = "0193a1b2" },
		"nil uuid":        func(r *Result) { r.ResultID = "00000000-0000-0000-0000-000000000000" },
		"no kiosk":        func(r *Result) { r.KioskID = "" },
		"kiosk charset":   func(r *Result) { r.KioskID = "K 1" },
		"seq zero":        func(r *Result) { r.Seq = 0 },
		"no method":       func(r *Result) { r.Method = "" },
		"bad verdict":     func(r *Result) { r.Verdict = "maybe" },
		"no time":         func(r *Result) { r.MeasuredAt = time.Time{} },
		"long sample":     func(r *Result) { r.Sample.Name = strings.Repeat("菜", 100) },
		"bad utf8":        func(r *Result) { r.Item = "\xff" },
		"bad repeat_of":   func(r *Result) { r.RepeatOf = "x" },
		"stall too long":  func(r *Result) { r.StallID = strings.Repeat("s", 65) },
		"event bad chars": func(r *Result) { r.EventID = "a/b" },
		"unknown tier":    func(r *Result) { r.Tier = "street" },
		"kiosk source":    func(r *Result) { r.Source = "market:M-1" },
		"kiosk row id":    func(r *Result) { r.SourceRow = "17" },
	}
	good := sampleResult()
	if err := good.Validate(); err != nil {
		t.Fatalf("good result: %v", err)
	}
	wholesale := sampleResult()
	wholesale.Tier = assay.TierWholesale
	if err := wholesale.Validate(); err != nil || wholesale.EffectiveTier() != assay.TierWholesale || good.EffectiveTier() != assay.TierRegulator || good.EffectiveSource() != SourceKiosk {
		t.Fatalf("a kiosk at a wholesale market: %v", err)
	}
	for name, f := range mut {
		r := sampleResult()
		f(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestResultsBatchOrder(t *testing.T) {
	a, b := sampleResult(), sampleResult()
	b.ResultID = "0193a1b2-7c4d-7e5f-8a6b-1c2d3e4f5a6c"
	b.Seq = a.Seq
	if err := (&Results{Results: []Result{a, b}}).Validate(); err == nil {
		t.Error("equal seqs accepted")
	}
	b.Seq = a.Seq + 1
	b.KioskID = "K-OTHER"
	if err := (&Results{Results: []Result{a, b}}).Validate(); err == nil {
		t.Error("mixed kiosks accepted")
	}
}

func TestFingerprint(t *testing.T) {
	a := sampleResult()
	b := sampleResult()
	now := time.Now()
	b.ReceivedAt, b.RxSeq, b.Flags = &now, 99, []string{FlagClockSkew}
	b.MeasuredAt = b.MeasuredAt.UTC() // same instant, other zone
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("server-set fields or zone changed the fingerprint")
	}
	b.Value = 56.78
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("content change kept the fingerprint")
	}
}

// TestReadmeExamples decodes every JSON example in README.md, so the
// documentation cannot drift from the code.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 12 {
		t.Fatalf("found %d JSON examples, want one per message type", len(blocks))
	}
	seen := map[string]bool{}
	for _, m := range blocks {
		msg, err := Decode([]byte(m[1]), 0)
		if err != nil {
			t.Errorf("README example does not decode: %v\n%s", err, m[1])
			continue
		}
		seen[msg.MessageType()] = true
	}
	for _, typ := range []string{TypeHello, TypeWelcome, TypeRules, TypeResults, TypeAck, TypeReject, TypeStatus, TypeAlarm, TypeNotice, TypeResend, TypeError, TypeSubscribe, TypeSnapshot, TypeDelta} {
		if !seen[typ] {
			t.Errorf("README has no example of %q", typ)
		}
	}
}

func FuzzWireMessage(f *testing.F) {
	r := sampleResult()
	for _, m := range []Message{&Hello{KioskID: "K"}, &Results{Results: []Result{r}}, &Ack{UpToSeq: 3}, &Resend{FromSeq: 2, ToSeq: 5}, &Hello{KioskID: "K", Features: []string{FeatureResend}}, &Subscribe{Since: 1}, &Delta{Seq: 1, Kind: "x", Data: []byte("{}")},
		&Welcome{KioskID: "K", Sites: []SiteInfo{{ID: "S-1", Name: "1号 奶茶", Category: "奶茶"}}}} {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"type":"results","results":[{"seq":1e400}]}`))
	f.Add([]byte(`{"v":99999999999999999999,"type":"ack"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, MaxKioskMessage)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		// Round trip: whatever decodes re-encodes and decodes to the same bytes.
		b1, err := Encode(m)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		m2, err := Decode(b1, 0)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b1, err)
		}
		b2, _ := Encode(m2)
		if string(b1) != string(b2) {
			t.Fatalf("not stable:\n%s\n%s", b1, b2)
		}
	})
}

// TestReadmeRuleBooks: the rule books in the README's examples are books
// a kiosk would use.
func TestReadmeRuleBooks(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		msg, err := Decode([]byte(m[1]), 0)
		if err != nil {
			continue
		}
		var book *assay.Book
		switch x := msg.(type) {
		case *Welcome:
			book = x.Rules
		case *RuleBook:
			book = &x.Book
		}
		if book == nil {
			continue
		}
		n++
		if err := book.Validate(); err != nil {
			t.Errorf("the rule book of the README's %s example does not validate: %v", msg.MessageType(), err)
		}
	}
	if n != 2 {
		t.Errorf("%d rule books in the README, want the welcome's and the rules message's", n)
	}
}

// The quick header path and the general one decode alike: messages with
// the header first, last, spaced, repeated, or malformed after it.
func TestDecodeHeaderPaths(t *testing.T) {
	r := sampleResult()
	canon, _ := Encode(&Results{Results: []Result{r}})
	body := string(canon[len(`{"v":1,"type":"results",`):])
	for _, c := range []struct {
		name, msg string
		want      string // the type decoded, or "" for an error
		err       error
	}{
		{"canonical", string(canon), TypeResults, nil},
		{"header last", `{` + body[:len(body)-1] + `,"v":1,"type":"results"}`, TypeResults, nil},
		{"spaces", `{ "v" : 1 , "type" : "results" , ` + body, TypeResults, nil},
		{"type again later", `{"v":1,"type":"results","type":"ack","up_to_seq":3}`, TypeAck, nil},
		{"v again later", `{"v":1,"type":"ack","up_to_seq":3,"v":2}`, "", ErrVersion},
		{"trailing garbage", string(canon) + ` x`, "", ErrMalformed},
		{"broken after the header", `{"v":1,"type":"ack","up_to_seq":}`, "", ErrMalformed},
		{"leading zero", `{"v":01,"type":"ack","up_to_seq":3}`, "", ErrMalformed},
		{"unknown type", `{"v":1,"type":"nope"}`, "", ErrUnknownType},
		{"newer", `{"v":2,"type":"ack"}`, "", ErrVersion},
		{"no type", `{"v":1}`, "", ErrMalformed},
		{"upper-case key", `{"v":1,"type":"ack","UP_TO_SEQ":4}`, TypeAck, nil},
	} {
		m, err := Decode([]byte(c.msg), 0)
		switch {
		case c.err != nil:
			if !errors.Is(err, c.err) || m != nil {
				t.Errorf("%s: got %v, %v; want %v", c.name, m, err, c.err)
			}
		case err != nil || m.MessageType() != c.want:
			t.Errorf("%s: got %v, %v; want a %s", c.name, m, err, c.want)
		}
	}
	// The fast path gives what the general one gives.
	m1, err := Decode(canon, 0)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode([]byte(`{`+body[:len(body)-1]+`,"v":1,"type":"results"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := Encode(m1)
	b2, _ := Encode(m2)
	if string(b1) != string(b2) {
		t.Fatalf("the two paths differ:\n%s\n%s", b1, b2)
	}
}

// FuzzDecodePaths: the quick header path decides every input as the
// general path does (the same message, or an error of the same kind).
func FuzzDecodePaths(f *testing.F) {
	r := sampleResult()
	for _, m := range []Message{&Hello{KioskID: "K"}, &Results{Results: []Result{r}}, &Ack{UpToSeq: 3}, &Delta{Seq: 1, Kind: "x", Data: []byte("{}")}} {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"type":"results","type":"ack","up_to_seq":3}`))
	f.Add([]byte(`{"v":1,"type":"ack","up_to_seq":3,"v":2}`))
	f.Add([]byte(`{"v":1,"type":"ack"} {}`))
	kinds := []error{ErrMalformed, ErrUnknownType, ErrVersion, ErrTooLarge, ErrInvalid}
	kindOf := func(err error) error {
		for _, k := range kinds {
			if errors.Is(err, k) {
				return k
			}
		}
		return err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m1, err1 := decode(b, MaxKioskMessage, true)
		m2, err2 := decode(b, MaxKioskMessage, false)
		if (err1 == nil) != (err2 == nil) || kindOf(err1) != kindOf(err2) {
			t.Fatalf("quick: %v; general: %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		b1, _ := Encode(m1)
		b2, _ := Encode(m2)
		if string(b1) != string(b2) {
			t.Fatalf("quick gives\n%s\ngeneral gives\n%s", b1, b2)
		}
	})
}

// TestResendRange: a resend names a range 1 ≤ from ≤ to; anything else is
// refused as invalid, and the hello's features say who may be sent one.
func TestResendRange(t *testing.T) {
	for _, tc := range []struct {
		msg string
		ok  bool
	}{
		{`{"v":1,"type":"resend","from_seq":3,"to_seq":3}`, true},
		{`{"v":1,"type":"resend","from_seq":3,"to_seq":9,"reason":"damaged"}`, true},
		{`{"v":1,"type":"resend","from_seq":0,"to_seq":9}`, false},
		{`{"v":1,"type":"resend","from_seq":9,"to_seq":3}`, false},
		{`{"v":1,"type":"resend"}`, false},
	} {
		m, err := Decode([]byte(tc.msg), 0)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err %v", tc.msg, err)
			continue
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.msg, err)
		}
		if tc.ok && m.(*Resend).ToSeq < m.(*Resend).FromSeq {
			t.Errorf("%s decoded as %+v", tc.msg, m)
		}
	}
	m, err := Decode([]byte(`{"v":1,"type":"hello","kiosk_id":"K-1","features":["resend","later"]}`), 0)
	if err != nil || !m.(*Hello).Has(FeatureResend) || m.(*Hello).Has("x") {
		t.Fatalf("hello features: %v %+v", err, m)
	}
	old, _ := Decode([]byte(`{"v":1,"type":"hello","kiosk_id":"K-1"}`), 0)
	if old.(*Hello).Has(FeatureResend) {
		t.Fatal("a hello without features lists resend")
	}
}

// TestWelcomeSites: a welcome with the kiosk's sites decodes with them; one
// from an older command, without the field, decodes with none (the kiosk
// shows its config's stalls); a malformed entry does not fail the welcome
// (the kiosk leaves it off its list).
func TestWelcomeSites(t *testing.T) {
	in := &Welcome{KioskID: "K-1", AckedUpTo: 3, MaxInFlight: 8,
		Sites: []SiteInfo{{ID: "S-030", Name: "30号 茶语奶茶", Kind: "stall", Category: "奶茶"}, {ID: ""}}}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b, MaxKioskMessage)
	if err != nil {
		t.Fatal(err)
	}
	w := m.(*Welcome)
	if len(w.Sites) != 2 || w.Sites[0] != in.Sites[0] {
		t.Errorf("sites %+v", w.Sites)
	}
	old := []byte(`{"v":1,"type":"welcome","kiosk_id":"K-1","acked_up_to":3,"server_time":"2026-11-28T01:30:00Z","max_in_flight":8}`)
	m, err = Decode(old, MaxKioskMessage)
	if err != nil {
		t.Fatal(err)
	}
	if w := m.(*Welcome); w.Sites != nil {
		t.Errorf("an older command's welcome: sites %+v", w.Sites)
	}
}
