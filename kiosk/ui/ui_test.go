package ui

import (
	"fmt"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/jsdom"
	"github.com/shianfood/shian/internal/jswhen"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
	"github.com/shianfood/shian/protocols/wire"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// fakeKiosk is a Backend over a real outbox in a temporary directory.
type fakeKiosk struct {
	out *outbox.Outbox

	mu       sync.Mutex
	session  Session
	insts    []device.Status
	link     uplink.LinkState
	triggers []string
	trigErr  error
}

func (f *fakeKiosk) Instruments() []device.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]device.Status(nil), f.insts...)
}
func (f *fakeKiosk) Link() uplink.LinkState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.link
}
func (f *fakeKiosk) Stats() outbox.Stats                   { return f.out.Stats() }
func (f *fakeKiosk) Recent(n int) ([]outbox.Record, error) { return f.out.Recent(n) }
func (f *fakeKiosk) SetSession(s Session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.session = s
}
func (f *fakeKiosk) CurrentSession() Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.session
}
func (f *fakeKiosk) Trigger(id, item string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "enzyme-1" {
		return ErrNoTrigger
	}
	f.triggers = append(f.triggers, id+"/"+item)
	return f.trigErr
}

// record does what kiosk.Record does: decide with the session, save, and
// tell the screen.
func (f *fakeKiosk) record(t *testing.T, s *Server, c, smp measure.Absorbance) wire.Result {
	t.Helper()
	sess := f.CurrentSession()
	raw := assay.Raw{ControlDeltaA: assay.Ptr(c), SampleDeltaA: assay.Ptr(smp)}
	out := assay.DefaultRules().Enzyme.Decide(c, smp)
	r := wire.Result{DeviceID: "enzyme-1", Model: "DY-3000E", StallID: sess.StallID, Sample: sess.Sample, RepeatOf: sess.RepeatOf,
		Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药", Raw: raw, Value: out.Value, Unit: out.Unit,
		Verdict: out.Verdict, Reason: out.Reason, RepeatsRequired: out.RepeatsRequired, MeasuredAt: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	saved, err := f.out.Save(r)
	if err != nil {
		s.OnSaved(Saved{Result: saved, Err: err.Error()})
		return saved
	}
	s.OnSaved(Saved{Result: saved})
	return saved
}

type env struct {
	k    *fakeKiosk
	s    *Server
	h    http.Handler
	led  *gpiotest.Pin
	buzz *gpiotest.Pin
}

func newEnv(t *testing.T) *env {
	t.Helper()
	out, err := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-T-01"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	k := &fakeKiosk{out: out, insts: []device.Status{
		{ID: "enzyme-1", Model: "DY-3000E", State: device.StateReady},
		{ID: "strip-1", Model: "SHIAN-SR1", State: device.StateReady},
		{ID: "strip-2", Model: "SHIAN-SR1", State: device.StateDown, LastErr: "no answer"},
	}}
	led := &gpiotest.Pin{N: "GPIO17"}
	buzz := &gpiotest.Pin{N: "GPIO27"}
	a, err := alarm.Open(alarm.Config{LED: "GPIO17", Buzzer: "GPIO27"}, alarm.Pins{"GPIO17": led, "GPIO27": buzz}, alarm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{KioskID: "K-T-01", Name: "测试终端", Operator: "op-1", Backend: k, Alarm: a, Rules: assay.DefaultRules(),
		Log:    slog.New(slog.DiscardHandler),
		Stalls: []Stall{{ID: "S-001", Name: "1号 王记凉菜"}},
		Devices: []Device{{ID: "enzyme-1", Model: "DY-3000E", Items: []string{"有机磷和氨基甲酸酯类农药"}},
			{ID: "strip-1", Triggerable: true, Items: []string{"克伦特罗"}}, {ID: "strip-2", Triggerable: true}}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{k: k, s: s, h: s.Handler(), led: led, buzz: buzz}
}

func (e *env) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Host = "127.0.0.1:8090"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (e *env) state(t *testing.T) State {
	t.Helper()
	code, b := e.do(t, "GET", "/api/state", nil)
	if code != 200 {
		t.Fatalf("state: %d %s", code, b)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var ae APIError
	json.Unmarshal(b, &ae)
	return ae.Code
}

var spinach = wire.Sample{Name: "菠菜", Category: "蔬菜", Batch: "20261128-1", Supplier: "如皋蔬菜基地"}

func TestPositiveFlow(t *testing.T) {
	e := newEnv(t)
	code, b := e.do(t, "POST", "/api/start", StartRequest{Session: Session{StallID: "S-001", Sample: spinach}, DeviceID: "enzyme-1"})
	if code != 200 {
		t.Fatalf("start: %d %s", code, b)
	}
	st := e.state(t)
	if st.Waiting == nil || st.Waiting.Mode != ModePressStart || st.Waiting.DeviceID != "enzyme-1" {
		t.Fatalf("waiting %+v: the enzyme tester is started on the instrument", st.Waiting)
	}
	if got := e.k.CurrentSession(); got.StallID != "S-001" || got.Sample != spinach || got.Operator != "op-1" {
		t.Fatalf("the screen's selection is the kiosk's session: %+v", got)
	}

	first := e.k.record(t, e.s, 303*measure.MilliAU, 100*measure.MilliAU) // 67 % → positive
	st = e.state(t)
	if st.Waiting != nil || st.Latest == nil || st.Latest.Result.ResultID != first.ResultID || !st.Latest.Saved {
		t.Fatalf("latest after a reading: %+v waiting %+v", st.Latest, st.Waiting)
	}
	if e.k.CurrentSession() != (Session{}) {
		t.Fatal("one selection is one reading: the session must be used up")
	}
	lv := st.Latest
	if lv.Result.Verdict != assay.Positive || lv.Main == nil || lv.Main.Value != "67.00" || lv.StallName != "1号 王记凉菜" {
		t.Fatalf("view %+v main %+v", lv.Result, lv.Main)
	}
	wantFields := map[string]string{"control_delta_a": "0.303", "sample_delta_a": "0.100", "inhibition_rate": "67.00"}
	for _, f := range lv.Fields {
		if w, ok := wantFields[f.Key]; ok && f.Value != w {
			t.Errorf("field %s = %s, want %s", f.Key, f.Value, w)
		}
		delete(wantFields, f.Key)
	}
	if len(wantFields) > 0 {
		t.Errorf("fields missing: %v", wantFields)
	}
	if lv.Series == nil || lv.Series.Required != 2 || lv.Series.Retest == nil || lv.Series.Retest.State != assay.RetestRepeatRequired {
		t.Fatalf("series %+v", lv.Series)
	}
	if lv.RetestBy == nil || !lv.RetestBy.Equal(first.MeasuredAt.Add(4*time.Hour)) {
		t.Fatalf("4-hour re-test window: %v", lv.RetestBy)
	}
	if !st.Alarm.Active || st.Alarm.Reason != first.ResultID || e.led.Read() != gpio.High || e.buzz.Read() != gpio.High {
		t.Fatalf("a positive raises the alarm: %+v", st.Alarm)
	}
	if st.AlarmResult == nil || st.AlarmResult.StallID != "S-001" {
		t.Fatalf("alarm result %+v", st.AlarmResult)
	}
	if st.Queue.Pending != 1 || !st.Storage.OK {
		t.Fatalf("queue %+v storage %+v", st.Queue, st.Storage)
	}
	if len(st.RecentStalls) != 1 || st.RecentStalls[0] != "S-001" || !st.Stalls[0].Recent {
		t.Fatalf("recent stalls %v %+v", st.RecentStalls, st.Stalls)
	}

	// The command's incident number arrives.
	e.s.OnNotice(wire.Notice{ResultID: first.ResultID, IncidentNo: "SA-20261128-001"})
	if got := e.state(t).Latest.IncidentNo; got != "SA-20261128-001" {
		t.Fatalf("incident %q", got)
	}

	// Acknowledge the alarm.
	if code, b := e.do(t, "POST", "/api/alarm/ack", struct{}{}); code != 200 {
		t.Fatalf("ack: %d %s", code, b)
	}
	if e.led.Read() != gpio.Low || e.buzz.Read() != gpio.Low || e.state(t).Alarm.Active {
		t.Fatal("acknowledged: LED and buzzer off")
	}

	// Two repeats, both positive: the positive stands.
	for i := 1; i <= 2; i++ {
		code, b := e.do(t, "POST", "/api/start", StartRequest{Session: Session{StallID: "S-001", Sample: spinach, RepeatOf: first.ResultID}, DeviceID: "enzyme-1"})
		if code != 200 {
			t.Fatalf("repeat start: %d %s", code, b)
		}
		rp := e.k.record(t, e.s, 300*measure.MilliAU, 90*measure.MilliAU)
		if rp.RepeatOf != first.ResultID {
			t.Fatal("repeat_of not applied")
		}
		lv = e.state(t).Latest
		if lv.IncidentNo != "SA-20261128-001" {
			t.Errorf("a repeat shows the incident of the result it repeats: %q", lv.IncidentNo)
		}
		if lv.Series == nil || len(lv.Series.Repeats) != i || lv.Series.Original == nil || lv.Series.Original.ResultID != first.ResultID {
			t.Fatalf("repeat %d series %+v", i, lv.Series)
		}
	}
	if rs := lv.Series.Retest; rs.State != assay.RetestConfirmationPending || !rs.Stands {
		t.Fatalf("after two positive repeats: %+v", rs)
	}
}

func TestTriggerAndCancel(t *testing.T) {
	e := newEnv(t)
	sess := Session{StallID: "S-9", Sample: wire.Sample{Name: "猪肉"}}
	code, b := e.do(t, "POST", "/api/start", StartRequest{Session: sess, DeviceID: "strip-1", Item: "克伦特罗"})
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	st := e.state(t)
	if st.Waiting == nil || st.Waiting.Mode != ModeTriggered || len(e.k.triggers) != 1 || e.k.triggers[0] != "strip-1/克伦特罗" {
		t.Fatalf("trigger: %+v %v", st.Waiting, e.k.triggers)
	}
	if code, _ := e.do(t, "POST", "/api/cancel", struct{}{}); code != 200 || e.state(t).Waiting != nil || e.k.CurrentSession() != (Session{}) {
		t.Fatal("cancel must forget the waiting test and the session")
	}
	e.k.trigErr = errors.New("strip reader not connected")
	code, b = e.do(t, "POST", "/api/start", StartRequest{Session: sess, DeviceID: "strip-1"})
	if code != http.StatusConflict || errCode(t, b) != "trigger_failed" || e.state(t).Waiting != nil {
		t.Fatalf("failed trigger: %d %s", code, b)
	}
}

func TestStartRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		req  StartRequest
		code string
	}{
		{"no stall", StartRequest{Session: Session{Sample: spinach}, DeviceID: "enzyme-1"}, "no_stall"},
		{"stall with spaces", StartRequest{Session: Session{StallID: "S 1", Sample: spinach}, DeviceID: "enzyme-1"}, "bad_stall"},
		{"stall in Chinese", StartRequest{Session: Session{StallID: "摊位1", Sample: spinach}, DeviceID: "enzyme-1"}, "bad_stall"},
		{"no sample", StartRequest{Session: Session{StallID: "S-1"}, DeviceID: "enzyme-1"}, "no_sample"},
		{"long batch", StartRequest{Session: Session{StallID: "S-1", Sample: wire.Sample{Name: "x", Batch: strings.Repeat("批", 100)}}, DeviceID: "enzyme-1"}, "too_long"},
		{"no device", StartRequest{Session: Session{StallID: "S-1", Sample: spinach}, DeviceID: "nope"}, "no_device"},
		{"device down", StartRequest{Session: Session{StallID: "S-1", Sample: spinach}, DeviceID: "strip-2"}, "device_down"},
	}
	for _, c := range cases {
		code, b := e.do(t, "POST", "/api/start", c.req)
		if code/100 != 4 || errCode(t, b) != c.code {
			t.Errorf("%s: %d %s, want code %s", c.name, code, b, c.code)
		}
	}
	if e.state(t).Waiting != nil || e.k.CurrentSession() != (Session{}) {
		t.Fatal("a refused start must not arm anything")
	}
	// Not JSON (a form post from another page).
	req := httptest.NewRequest("POST", "/api/alarm/ack", strings.NewReader("x=1"))
	req.Host = "localhost:8090"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %d", rec.Code)
	}
}

func TestStorageErrorIsNeverSaved(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/api/start", StartRequest{Session: Session{StallID: "S-001", Sample: spinach}, DeviceID: "enzyme-1"})
	e.k.out.Close() // every write now fails
	e.k.record(t, e.s, 303*measure.MilliAU, 250*measure.MilliAU)
	st := e.state(t)
	if st.Latest == nil || st.Latest.Saved || st.Latest.Error == "" || st.Latest.State != "" || !strings.HasPrefix(st.Latest.Key, "unsaved-") {
		t.Fatalf("an unsaved result: %+v", st.Latest)
	}
	if st.Storage.OK {
		t.Fatal("storage must show the failure")
	}
	if len(st.Latest.Fields) == 0 {
		t.Fatal("the raw values of an unsaved result are shown so the operator can note them")
	}
	e.do(t, "POST", "/api/storage/ack", struct{}{})
	if st = e.state(t); !st.Latest.ErrorNoted || st.Storage.OK {
		t.Fatalf("noted, but storage still failed: %+v %+v", st.Latest, st.Storage)
	}
}

func TestHostCheck(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String() + "/api/state"
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = "evil.example:8090"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign Host on a loopback screen: %d", resp.StatusCode)
	}
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("127.0.0.1: %d", resp.StatusCode)
	}
}

// TestEvents reads the event stream: the state at once, then a new state
// after a result is saved.
func TestEvents(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // only to fail a hung test
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	next := func() State {
		t.Helper()
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("event stream: %v", err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var st State
				if err := json.Unmarshal([]byte(data), &st); err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
	}
	if st := next(); st.Kiosk.ID != "K-T-01" || st.Latest != nil {
		t.Fatalf("first event %+v", st.Kiosk)
	}
	e.k.SetSession(Session{StallID: "S-001", Sample: spinach})
	r := e.k.record(t, e.s, 303*measure.MilliAU, 290*measure.MilliAU)
	for {
		st := next()
		if st.Latest != nil {
			if st.Latest.Result.ResultID != r.ResultID || st.Latest.Result.Verdict != assay.Negative {
				t.Fatalf("event latest %+v", st.Latest.Result)
			}
			break
		}
	}
}

func TestRawFields(t *testing.T) {
	r := wire.Result{Method: assay.GoldRatio, Raw: assay.Raw{C: assay.Ptr(50 * measure.IntensityUnit), T: assay.Ptr(30 * measure.IntensityUnit)}}
	got := map[string]string{}
	for _, f := range rawFields(r) {
		got[f.Key] = f.Value
	}
	if got["c"] != "50.000" || got["t"] != "30.000" || got["tc"] != "0.600" {
		t.Fatalf("gold fields %v", got)
	}
	r = wire.Result{Raw: assay.Raw{ControlDeltaA: assay.Ptr(measure.Absorbance(0)), SampleDeltaA: assay.Ptr(10 * measure.MilliAU)}}
	for _, f := range rawFields(r) {
		if f.Key == "inhibition_rate" && f.Value != "—" {
			t.Fatalf("no rate without a control change: %v", f)
		}
	}
	// The worked example of DOMAIN §1.1.
	r = wire.Result{Raw: assay.Raw{ControlDeltaA: assay.Ptr(303 * measure.MilliAU), SampleDeltaA: assay.Ptr(131 * measure.MilliAU)}}
	for _, f := range rawFields(r) {
		if f.Key == "inhibition_rate" && f.Value != "56.77" {
			t.Fatalf("ΔA0 0.303, ΔAt 0.131: %v, want 56.77", f)
		}
	}
}

func TestPageIsServed(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script type="module" src="js/app.js">`},
		{"/app.css", "text/css", "--bad"},
		{"/js/app.js", "text/javascript", "EventSource"},
		{"/js/scan.js", "text/javascript", "parseStallCode"},
		{"/js/vocab.js", "text/javascript", `"positive": {`},
		{"/js/dom.js", "text/javascript", "export function el("},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.Host = "localhost"
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.ctype) || !strings.Contains(rec.Body.String(), c.contains) {
			t.Errorf("GET %s: %d %q", c.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

// TestWordsZH is the kiosk's side of the rule that the zh-CN screen shows
// no raw code or English fragment: every zh-CN string of the page's table
// and every sample name the screen offers is Chinese, apart from the
// placeholders ({id}), the language switch's own label, the instrument's
// START key as printed on it, and the method's symbols (ATP, ΔA0, ΔAt).
func TestWordsZH(t *testing.T) {
	tableSrc, err := fs.ReadFile(FS(), "js/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	zh := regexp.MustCompile(`zh:\s*"([^"]*)"`).FindAllStringSubmatch(string(tableSrc), -1)
	if len(zh) < 100 {
		t.Fatalf("parsed only %d zh-CN strings", len(zh))
	}
	allowed := regexp.MustCompile(`\{[a-z_]+\}|\bEnglish\b|\bSTART\b|\bATP\b|Δ[A-Za-z0-9]+|°C|%`)
	latin := regexp.MustCompile(`[A-Za-z_]{2,}`)
	check := func(where, s string) {
		if w := latin.FindString(allowed.ReplaceAllString(s, "")); w != "" {
			t.Errorf("%s: %q shows %q in zh-CN", where, s, w)
		}
	}
	for _, m := range zh {
		check("i18n.js", m[1])
	}
	for cat, l := range stallsamples.Default() {
		check("stall category", cat)
		for _, sg := range l {
			check("sample of "+cat, sg.Name)
			check("sample category of "+sg.Name, sg.Category)
		}
	}
}

// TestI18nKeys checks that every key the markup and the code name is in
// the one string table with both languages, and that the verdict and
// instrument-state labels are the Go packages' labels.
func TestI18nKeys(t *testing.T) {
	tableSrc, err := fs.ReadFile(FS(), "js/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`(?m)^\s*"([^"]+)":\s*\{\s*zh:\s*"([^"]+)",\s*en:\s*"([^"]+)"`)
	keys := map[string][2]string{}
	for _, m := range entry.FindAllStringSubmatch(string(tableSrc), -1) {
		keys[m[1]] = [2]string{m[2], m[3]}
	}
	// Multi-line entries: key on one line, zh and en on the next two.
	multi := regexp.MustCompile(`(?m)^\s*"([^"]+)":\s*\{\s*\n\s*zh:\s*"([^"]+)",\s*\n\s*en:\s*"([^"]+)"`)
	for _, m := range multi.FindAllStringSubmatch(string(tableSrc), -1) {
		keys[m[1]] = [2]string{m[2], m[3]}
	}
	if len(keys) < 100 {
		t.Fatalf("parsed only %d keys from i18n.js", len(keys))
	}
	var used []string
	html, _ := fs.ReadFile(FS(), "index.html")
	for _, m := range regexp.MustCompile(`data-i18n(?:-placeholder|-aria-label)?="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		used = append(used, m[1])
	}
	app, _ := fs.ReadFile(FS(), "js/app.js")
	for _, m := range regexp.MustCompile(`\bt\("([a-zA-Z0-9_.%/°]+)"\s*[,)]`).FindAllStringSubmatch(string(app), -1) {
		used = append(used, m[1])
	}
	for _, k := range used {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %q is used but not in i18n.js", k)
		}
	}
	// The verdicts' labels have one home, assay: the page imports them
	// from the generated vocab.js and keeps no copy.
	if !strings.Contains(string(tableSrc), `import { verdicts } from "./vocab.js";`) {
		t.Error("i18n.js does not import the verdicts' labels from vocab.js")
	}
	req := httptest.NewRequest("GET", "/js/vocab.js", nil)
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	newEnv(t).h.ServeHTTP(rec, req)
	for _, v := range assay.Verdicts() {
		zh, en := v.Label()
		if _, copied := keys["verdict."+string(v)]; copied {
			t.Errorf("i18n.js keeps its own copy of verdict.%s", v)
		}
		if want := fmt.Sprintf(`%q: {
    "zh": %q,
    "en": %q
  }`, v, zh, en); !strings.Contains(rec.Body.String(), want) {
			t.Errorf("vocab.js lacks %s = %s / %s:\n%s", v, zh, en, rec.Body.String())
		}
	}
	for _, s := range []device.State{device.StateReady, device.StateMeasuring, device.StateDown} {
		zh, en := s.Label()
		if got := keys["inst."+s.String()]; got != [2]string{zh, en} {
			t.Errorf("inst.%s = %v, want the device label %s / %s", s, got, zh, en)
		}
	}
	for _, code := range []string{assay.ReasonControlNotPositive, assay.ReasonControlTooWeak, assay.ReasonInhibitionOver100, assay.ReasonNoControlLine} {
		if _, ok := keys["why."+code]; !ok {
			t.Errorf("invalid reason %s has no explanation (why.%s)", code, code)
		}
		if _, ok := keys["how."+code]; !ok {
			t.Errorf("invalid reason %s has no redo instruction (how.%s)", code, code)
		}
	}
}

// TestNoHTMLFromStrings: no script of the kiosk's screen turns a string
// into markup or script, and none keeps its own el/escapeHTML (they come
// from dom.js, internal/jsdom; internal/jsdom.Audit lists the patterns).
func TestNoHTMLFromStrings(t *testing.T) {
	for _, p := range jsdom.Audit(FS()) {
		t.Error(p)
	}
}

// TestScreenGuard: every answer of the screen carries the strict CSP
// (script-src 'self', frame-ancestors 'none') and the other security
// headers; a POST from another origin — a page on another port of the
// same machine, another site, a sandboxed frame — is refused with 403
// cross_origin and acknowledges nothing, while the screen's own
// (Sec-Fetch-Site: same-origin) goes through.
func TestScreenGuard(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/js/app.js", "/js/dom.js", "/api/state", "/api/nothing"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "127.0.0.1:8090"
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self';", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: CSP %q lacks %s", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, h.Get(k), v)
			}
		}
	}
	post := func(hdr map[string]string) (int, []byte) {
		req := httptest.NewRequest("POST", "/api/cancel", strings.NewReader("{}"))
		req.Host = "127.0.0.1:8090"
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	for name, hdr := range map[string]map[string]string{
		"another port":     {"Origin": "http://127.0.0.1:9999"},
		"another site":     {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"same site":        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:9999"},
		"sandboxed iframe": {"Origin": "null"},
	} {
		if code, b := post(hdr); code != http.StatusForbidden || errCode(t, b) != "cross_origin" {
			t.Errorf("%s: %d %s, want 403 cross_origin", name, code, b)
		}
	}
	for name, hdr := range map[string]map[string]string{
		"the screen":   {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8090"},
		"older engine": {"Origin": "http://127.0.0.1:8090"},
		"a script":     {},
	} {
		if code, b := post(hdr); code != http.StatusOK {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
}

// TestOneClock: the screen formats every time with when.js
// (internal/jswhen): Beijing time whatever the system's zone.
func TestOneClock(t *testing.T) {
	for _, p := range jswhen.Audit(FS()) {
		t.Errorf("%s: format it with ./when.js", p)
	}
}
