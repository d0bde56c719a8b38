package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/shianfood/shian/command/history"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// do sends a JSON body (nil for none) and decodes a 2xx answer into out.
func (e *env) do(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// cityBook is a rule book with a table for every kind of per-model and
// per-lot rule: ATP limits per luminometer, gold tables per reader (one
// with its own scale), gold lots with cut-offs on the default scale and on
// a reader's scale, an enzyme lot, and stricter city temperatures.
func cityBook() (assay.Rules, []assay.Lot) {
	r := assay.DefaultRules()
	r.ATP.Models["Lumitester PD-30"] = assay.ATPLimits{PassMax: 200, FailAbove: 500}
	r.ATP.Models["SHIAN-ATP1"] = assay.ATPLimits{PassMax: 15, FailAbove: 45}
	r.Gold.Models = map[string]assay.GoldTable{
		"LY-GR20": {Default: assay.GoldThresholds{CThr: 50000, TA: 300000, TB: 500000, CTA: 600000, CTB: 900000},
			Items: map[string]assay.GoldThresholds{"clenbuterol": {CThr: 40000, TA: 350000, TB: 450000, CTA: 700000, CTB: 850000}}},
		"SHIAN-GC1": {Default: assay.DefaultGoldThresholds(), Items: map[string]assay.GoldThresholds{
			"ractopamine": {CThr: 12000, TA: 18000, TB: 28000, CTA: 750000, CTB: 950000}}},
	}
	r.Gold.Items["malachite_green"] = assay.GoldThresholds{CThr: 8000, TA: 12000, TB: 22000, CTA: 650000, CTB: 880000}
	r.Temperature.ColdMax = 6 * measure.Celsius
	r.Enzyme.SuspiciousAt = 35 * measure.PercentUnit
	lots := []assay.Lot{
		{ID: "GC2611A", Name: "克伦特罗胶体金检测卡", Analyte: "clenbuterol", Methods: []assay.Method{assay.GoldLine, assay.GoldRatio}, Expires: "2099-03-31",
			Gold:       &assay.GoldThresholds{CThr: 9000, TA: 20000, TB: 30000, CTA: 700000, CTB: 900000},
			GoldModels: map[string]assay.GoldThresholds{"LY-GR20": {CThr: 45000, TA: 380000, TB: 480000, CTA: 650000, CTB: 800000}}},
		{ID: "RC-77", Name: "莱克多巴胺检测卡", Analyte: "ractopamine", Expires: "2099-01-01",
			GoldModels: map[string]assay.GoldThresholds{"SHIAN-GC1": {CThr: 11000, TA: 16000, TB: 26000, CTA: 780000, CTB: 990000}}},
		{ID: "EZ-2611", Name: "农残速测酶试剂", Methods: []assay.Method{assay.EnzymeInhibition}, Expires: "2099-12-31",
			Enzyme: &assay.EnzymeRule{PositiveAt: 45 * measure.PercentUnit, SuspiciousAt: 30 * measure.PercentUnit, RepeatsOnPositive: 2}},
		{ID: "SW-9", Name: "ATP 拭子", Methods: []assay.Method{assay.ATP}, Expires: "2099-12-31"},
	}
	return r, lots
}

// probe is one reading to decide: every rule's thresholds, one unit
// either side, for every model and lot of the book.
type probe struct {
	method     assay.Method
	item       string
	model, lot string
	raw        assay.Raw
}

// probes builds readings at every threshold of every rule of b, for every
// instrument model and every kit lot it names (and none).
func probes(b assay.Book) []probe {
	models := []string{"", "unlisted-model"}
	for m := range b.Rules.ATP.Models {
		models = append(models, m)
	}
	for m := range b.Rules.Gold.Models {
		models = append(models, m)
	}
	lots := []string{""}
	for _, l := range b.Lots {
		lots = append(lots, l.ID)
		for m := range l.GoldModels {
			models = append(models, m)
		}
	}
	slices.Sort(models)
	models = slices.Compact(models)
	// An item without a table, one by its Chinese name, one by its key,
	// and one that has a table only in the default scale's items.
	items := []string{"", "克伦特罗", "ractopamine", "孔雀石绿"}
	around := func(v int64) []int64 { return []int64{v - 1, v, v + 1} }
	var out []probe
	for _, model := range models {
		for _, lot := range lots {
			r := b.For(model, lot)
			add := func(m assay.Method, item string, raw assay.Raw) {
				out = append(out, probe{method: m, item: item, model: model, lot: lot, raw: raw})
			}
			// Enzyme: the inhibition at each edge, ΔA0 = 1 A.
			c := measure.AU
			for _, at := range []measure.Percent{r.Enzyme.PositiveAt, r.Enzyme.SuspiciousAt} {
				s := int64(c) - int64(at)*int64(c)/int64(measure.Whole)
				for _, x := range around(s) {
					add(assay.EnzymeInhibition, "有机磷和氨基甲酸酯类农药", assay.Raw{ControlDeltaA: assay.Ptr(c), SampleDeltaA: assay.Ptr(measure.Absorbance(x))})
				}
			}
			add(assay.EnzymeInhibition, "", assay.Raw{ControlDeltaA: assay.Ptr(measure.Absorbance(0)), SampleDeltaA: assay.Ptr(c)})
			// Gold, both modes, every item's thresholds.
			for _, item := range items {
				th := r.Gold.For(item)
				cc := max(th.CThr*3, 60*measure.IntensityUnit)
				for _, x := range around(int64(th.CThr)) {
					add(assay.GoldLine, item, assay.Raw{C: assay.Ptr(measure.Intensity(x)), T: assay.Ptr(th.TB + 1)})
				}
				for _, edge := range []measure.Intensity{th.TA, th.TB} {
					for _, x := range around(int64(edge)) {
						add(assay.GoldLine, item, assay.Raw{C: assay.Ptr(cc), T: assay.Ptr(measure.Intensity(x))})
					}
				}
				for _, edge := range []measure.Ratio{th.CTA, th.CTB} {
					t := measure.Intensity(int64(edge) * int64(cc) / int64(measure.RatioOne))
					for _, x := range around(int64(t)) {
						add(assay.GoldRatio, item, assay.Raw{C: assay.Ptr(cc), T: assay.Ptr(measure.Intensity(x))})
					}
				}
			}
			// ATP.
			for _, edge := range []measure.RLU{r.ATP.Default.PassMax, r.ATP.Default.FailAbove} {
				for _, x := range around(int64(edge)) {
					add(assay.ATP, "ATP表面洁净度", assay.Raw{RLU: assay.Ptr(measure.RLU(max(x, 0)))})
				}
			}
			if model != "" || lot != "" {
				continue // the rest does not depend on the model or the lot
			}
			tr := r.Temperature
			for _, k := range []struct {
				m    assay.Method
				edge measure.Temperature
			}{{assay.CoreTemperature, tr.CoreMin}, {assay.HotHolding, tr.HotAbove}, {assay.ColdHolding, tr.ColdMax},
				{assay.ColdHolding, tr.ColdMin}, {assay.Frozen, tr.FrozenMax}} {
				for _, x := range around(int64(k.edge)) {
					add(k.m, "", assay.Raw{CoreTemp: assay.Ptr(measure.Temperature(x))})
				}
			}
			add(assay.SurfaceTemperature, "", assay.Raw{SurfaceTemp: assay.Ptr(80 * measure.Celsius)})
			for _, x := range around(int64(r.FryingOil.MaxTPC)) {
				add(assay.FryingOil, "", assay.Raw{TPC: assay.Ptr(measure.Percent(x))})
			}
			for _, x := range around(int64(r.FryingOil.MaxAcidValue)) {
				add(assay.FryingOil, "", assay.Raw{AcidValue: assay.Ptr(measure.AcidValue(x))})
			}
			for _, x := range around(int64(r.Retention.MinMass)) {
				add(assay.Retention, "", assay.Raw{Mass: assay.Ptr(measure.Mass(x))})
			}
		}
	}
	return out
}

// kioskConfig is a kiosk with no instrument (readings are recorded through
// Record, as the screen's manual entry does) and no screen.
func kioskConfig(t *testing.T, dir, url, token string) *kiosk.Config {
	t.Helper()
	cfg, err := kiosk.ParseConfig("kiosk.yaml", fmt.Appendf(nil, `kiosk_id: K-RB-01
data: %s
command:
  url: %s
  token: %s
site: {stall_id: S-001}
ui: {listen: "off"}
`, filepath.Join(dir, "data"), url, token))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runKiosk runs k until the returned stop is called.
func runKiosk(k *kiosk.Kiosk) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	return func() { cancel(); <-done; k.Close() }
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func record(k *kiosk.Kiosk, i int, p probe) kiosk.Saved {
	k.SetSession(ui.Session{StallID: fmt.Sprintf("S-%04d", i), Sample: wire.Sample{Name: "样品"}, Lot: p.lot})
	return k.Record(device.Reading{DeviceID: "manual", Model: p.model, Method: p.method, Item: p.item, Raw: p.raw})
}

// TestKioskAndCommandAgreeOnEveryRule: a rule book with per-model ATP and
// gold tables and kit lots with cut-offs of their own is issued through
// the API; a real kiosk receives it at welcome and decides a reading at
// every threshold of every rule, for every model and every lot of the
// book; the command re-derives each one and agrees with every verdict.
// The readings are chosen so that the model and lot tables matter: many
// of them get another verdict from the default rules, and the command
// must not judge those by the defaults.
func TestKioskAndCommandAgreeOnEveryRule(t *testing.T) {
	e := start(t)
	tok, _ := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-RB-01"})
	rules, lots := cityBook()
	var issued assay.Book
	if code := e.do(t, "PUT", "/api/v1/rules", map[string]any{"base_version": 1, "rules": rules, "lots": lots, "note": "城市规则书"}, &issued); code != 201 || issued.Version != 2 {
		t.Fatalf("issue: %d %+v", code, issued.Version)
	}
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk"
	k, err := kiosk.Open(kioskConfig(t, t.TempDir(), url, tok), kiosk.Options{Log: quiet, UplinkBackoffMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runKiosk(k)
	defer stop()
	waitUntil(t, "the kiosk holds version 2", func() bool { return k.Book().Version == 2 })

	ps := probes(issued)
	differ := 0
	for i, p := range ps {
		s := record(k, i, p)
		if s.Err != "" {
			t.Fatalf("probe %d not saved: %s", i, s.Err)
		}
		plain, err := assay.DefaultRules().Decide(p.method, p.item, p.raw)
		if err == nil && plain.Verdict != s.Result.Verdict {
			differ++
		}
		if s.Result.RulesVersion != 2 || s.Result.Lot != p.lot {
			t.Fatalf("probe %d: result names version %d lot %q", i, s.Result.RulesVersion, s.Result.Lot)
		}
	}
	waitUntil(t, "every result stored", func() bool { return k.Outbox().Stats().Pending == 0 })
	rs, err := e.svc.History().Results(history.Filter{Limit: 10000})
	if err != nil || len(rs) != len(ps) {
		t.Fatalf("stored %d of %d: %v", len(rs), len(ps), err)
	}
	for _, r := range rs {
		if r.Derived != nil || len(r.Flags) > 0 {
			t.Errorf("%s %s model %q lot %q raw %+v: kiosk %s, command %+v, flags %v", r.Method, r.Item, r.Model, r.Lot, r.Raw, r.Verdict, r.Derived, r.Flags)
		}
		if r.EffectiveVerdict() != r.Verdict {
			t.Errorf("the map shows %s for a kiosk %s", r.EffectiveVerdict(), r.Verdict)
		}
	}
	t.Logf("%d readings at every threshold of version 2; %d of them get another verdict from the default rules", len(ps), differ)
	if differ < len(ps)/10 {
		t.Errorf("only %d of %d readings depend on the book's model and lot tables: the test proves little", differ, len(ps))
	}

	// By result: the lot finds its results in one query.
	var byLot []wire.Result
	if code := e.get(t, "/api/v1/results?lot=GC2611A&limit=10000", e.token, &byLot); code != 200 || len(byLot) == 0 {
		t.Fatalf("results by lot: %d %d", code, len(byLot))
	}
	for _, r := range byLot {
		if r.Lot != "GC2611A" {
			t.Errorf("lot query returned lot %q", r.Lot)
		}
	}
}

// TestOfflineKioskOnAnOlderBookIsFlagged: a kiosk that was offline when
// the book changed decides with the version it kept (across a restart),
// and the command, when the result arrives, flags it rules_outdated and
// puts the verdict of the book in force on the map instead of the
// kiosk's.
func TestOfflineKioskOnAnOlderBookIsFlagged(t *testing.T) {
	e := start(t)
	tok, _ := e.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-RB-01"})
	dir := t.TempDir()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/kiosk"
	rules := assay.DefaultRules()
	rules.ATP.Models["SHIAN-ATP1"] = assay.ATPLimits{PassMax: 20, FailAbove: 60}
	var v2 assay.Book
	if code := e.do(t, "PUT", "/api/v1/rules", map[string]any{"base_version": 1, "rules": rules, "note": "ATP1 limits"}, &v2); code != 201 {
		t.Fatalf("issue v2: %d", code)
	}

	// Online: the kiosk takes version 2 and keeps it.
	k, err := kiosk.Open(kioskConfig(t, dir, url, tok), kiosk.Options{Log: quiet, UplinkBackoffMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runKiosk(k)
	waitUntil(t, "the kiosk holds version 2", func() bool { return k.Book().Version == 2 })
	stop()

	// The command tightens the limits while the kiosk is away.
	rules.ATP.Models["SHIAN-ATP1"] = assay.ATPLimits{PassMax: 10, FailAbove: 30}
	var v3 assay.Book
	if code := e.do(t, "PUT", "/api/v1/rules", map[string]any{"base_version": 2, "rules": rules, "note": "ATP1 back to the maker's limits"}, &v3); code != 201 || v3.Version != 3 {
		t.Fatalf("issue v3: %d %d", code, v3.Version)
	}
	// A stale edit is refused.
	if code := e.do(t, "PUT", "/api/v1/rules", map[string]any{"base_version": 2, "rules": rules}, nil); code != 409 {
		t.Errorf("edit of version 2 after 3: %d", code)
	}

	// Offline (nothing listens at its command URL), after a restart: the
	// kiosk decides with the version 2 it kept: RLU 18 on a SHIAN-ATP1 is a
	// pass by version 2 (≤ 20) and a caution by version 3 (11…30).
	dead := "ws://127.0.0.1:1/ws/kiosk"
	k, err = kiosk.Open(kioskConfig(t, dir, dead, tok), kiosk.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if v := k.Book().Version; v != 2 {
		t.Fatalf("after a restart offline the kiosk decides with version %d, want the kept 2", v)
	}
	stop = runKiosk(k)
	k.SetSession(ui.Session{StallID: "S-OLD", Sample: wire.Sample{Name: "砧板"}})
	s := k.Record(device.Reading{DeviceID: "atp-1", Model: "SHIAN-ATP1", Method: assay.ATP, Item: "ATP表面洁净度", Raw: assay.Raw{RLU: assay.Ptr(measure.RLU(18))}})
	if s.Err != "" || s.Result.Verdict != assay.Pass || s.Result.RulesVersion != 2 {
		t.Fatalf("offline result: %+v %s", s.Result, s.Err)
	}
	stop()

	// Back online: the result arrives, is flagged and not trusted.
	k, err = kiosk.Open(kioskConfig(t, dir, url, tok), kiosk.Options{Log: quiet, UplinkBackoffMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop = runKiosk(k)
	defer stop()
	waitUntil(t, "the result uploaded and version 3 taken", func() bool { return k.Outbox().Stats().Pending == 0 && k.Book().Version == 3 })
	got, err := e.svc.History().Result(s.Result.ResultID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got.Flags, wire.FlagRulesOutdated) || slices.Contains(got.Flags, wire.FlagVerdictMismatch) {
		t.Errorf("flags %v: want rules_outdated (and no mismatch: the kiosk applied version 2 correctly)", got.Flags)
	}
	if got.Derived == nil || got.Derived.Verdict != assay.Caution || got.EffectiveVerdict() != assay.Caution {
		t.Errorf("the command stands by %v, want version 3's caution", got.Derived)
	}
	if st, ok := e.svc.History().StallState("S-OLD"); !ok || st.Verdict != assay.Caution {
		t.Errorf("the map shows %+v, want caution", st)
	}
	// And the next result, decided with version 3, is trusted.
	k.SetSession(ui.Session{StallID: "S-NEW", Sample: wire.Sample{Name: "砧板"}})
	s = k.Record(device.Reading{DeviceID: "atp-1", Model: "SHIAN-ATP1", Method: assay.ATP, Item: "ATP表面洁净度", Raw: assay.Raw{RLU: assay.Ptr(measure.RLU(18))}})
	if s.Result.Verdict != assay.Caution || s.Result.RulesVersion != 3 {
		t.Fatalf("online result: %s v%d", s.Result.Verdict, s.Result.RulesVersion)
	}
	waitUntil(t, "uploaded", func() bool { return k.Outbox().Stats().Pending == 0 })
	got, _ = e.svc.History().Result(s.Result.ResultID)
	if len(got.Flags) != 0 || got.Derived != nil {
		t.Errorf("a result on the current book: flags %v derived %v", got.Flags, got.Derived)
	}
}

// TestRuleBookAPI: an admin edits the book in the units people write
// (YAML: "45%", "30 RLU"), adds and removes a lot, and is refused — with
// what to do — an edit of an outdated version, a book that makes no sense,
// and a viewer's edit; every version stays readable.
func TestRuleBookAPI(t *testing.T) {
	e := start(t)
	put := func(path, ctype, body string) (int, string) {
		req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	code, body := put("/api/v1/rules", "application/yaml", `base_version: 1
note: 城市农残阈值
rules:
  enzyme: {suspicious_at: 35%}
  atp:
    models:
      SHIAN-ATP1: {pass_max: 15 RLU, fail_above: 45 RLU}
`)
	if code != 201 {
		t.Fatalf("YAML edit: %d %s", code, body)
	}
	var cur assay.Book
	e.get(t, "/api/v1/rules", e.token, &cur)
	if cur.Version != 2 || cur.Rules.Enzyme.SuspiciousAt != 35*measure.PercentUnit || cur.Rules.Enzyme.PositiveAt != 50*measure.PercentUnit ||
		cur.Rules.ATP.Models["SHIAN-ATP1"].FailAbove != 45 || cur.Rules.ATP.Models["EnSURE"].PassMax != 10 || cur.IssuedBy != "admin" {
		t.Errorf("after the YAML edit: %+v", cur)
	}
	if code, body := put("/api/v1/rules/lots/GC2611A", "application/yaml", "lot: {name: 克伦特罗检测卡, analyte: clenbuterol, expires: 2027-03-31, gold: {c_thr: 9, t_a: 20, t_b: 30, ct_a: 0.7, ct_b: 0.9}}\n"); code != 201 {
		t.Fatalf("add a lot: %d %s", code, body)
	}
	e.get(t, "/api/v1/rules", e.token, &cur)
	if l, ok := cur.Lot("GC2611A"); cur.Version != 3 || !ok || l.Gold.TA != 20000 || !strings.Contains(cur.Note, "GC2611A") {
		t.Errorf("the lot: %+v", cur)
	}
	if code, body := put("/api/v1/rules", "application/json", `{"base_version":2,"rules":{}}`); code != 409 || !strings.Contains(body, "第 3 版") {
		t.Errorf("an edit of version 2 after 3: %d %s", code, body)
	}
	if code, body := put("/api/v1/rules", "application/yaml", "base_version: 3\nrules: {atp: {default: {pass_max: 40 RLU, fail_above: 30 RLU}}}\n"); code != 400 || !strings.Contains(body, "atp.default.fail_above") {
		t.Errorf("a fail limit below the pass limit: %d %s", code, body)
	}
	if code, body := put("/api/v1/rules/lots/BAD", "application/yaml", "lot: {expires: 2027-02-30}\n"); code != 400 || !strings.Contains(body, "lots[1].expires") {
		t.Errorf("a lot with no such day: %d %s", code, body)
	}
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/api/v1/rules/lots/GC2611A", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("remove the lot: %v %v", err, resp.Status)
	}
	var vs []struct {
		Version uint64 `json:"version"`
		By      string `json:"issued_by"`
	}
	e.get(t, "/api/v1/rules/versions", e.token, &vs)
	if len(vs) != 4 || vs[0].Version != 4 || vs[3].By != "system" {
		t.Errorf("versions %+v", vs)
	}
	var v2 assay.Book
	if code := e.get(t, "/api/v1/rules/versions/2", e.token, &v2); code != 200 || len(v2.Lots) != 0 || v2.Version != 2 {
		t.Errorf("version 2: %d %+v", code, v2.Version)
	}
	// A viewer reads the book and may not edit it.
	if err := e.svc.Auth().CreateUser("viewer", "", assurance.RoleViewer, "correct horse"); err != nil {
		t.Fatal(err)
	}
	vtok, _ := e.svc.Auth().NewAPIToken("viewer", "test")
	if code := e.get(t, "/api/v1/rules", vtok, nil); code != 200 {
		t.Errorf("a viewer reads the book: %d", code)
	}
	req, _ = http.NewRequest("PUT", e.srv.URL+"/api/v1/rules", strings.NewReader(`{"base_version":4,"rules":{}}`))
	req.Header.Set("Authorization", "Bearer "+vtok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("a viewer's edit: %v %v", err, resp.Status)
	}
}
