package command_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/imports"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// A market's self-test file: four good rows and three bad ones.
const marketFile = "记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果,检测方法,检测值,单位,检测员\n" +
	"M1-0001,2026-11-28 08:10,S-001,菠菜,农药残留,阴性,酶抑制率法,12.5,%,市场检测员\n" +
	"M1-0002,2026-11-28 08:20,S-001,韭菜,农药残留,阳性,酶抑制率法,61.0,%,市场检测员\n" +
	"M1-0003,2026-11-28 08:30,S-404,芹菜,农药残留,阴性,,,,\n" +
	"M1-0004,2026-11-28 08:40,S-001,猪肉,克伦特罗,阴性,胶体金,,,\n" +
	"M1-0005,下午三点,S-001,生菜,农药残留,阴性,,,,\n" +
	"M1-0006,2026-11-28 08:50,S-001,豇豆,农药残留,不确定,,,,\n" +
	"M1-0007,2026-11-28 09:00,S-001,白菜,农药残留,合格,,,,\n"

type importReport struct {
	Source     string     `json:"source"`
	Tier       assay.Tier `json:"tier"`
	Total      int        `json:"total"`
	Stored     int        `json:"stored"`
	Duplicates int        `json:"duplicates"`
	Problems   []struct {
		Line    int    `json:"line"`
		RowID   string `json:"row_id"`
		Column  string `json:"column"`
		Message string `json:"message"`
	} `json:"problems"`
}

func (e *assureEnv) importFile(t *testing.T, source, user string, data []byte) (int, importReport) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "self-test.csv")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sources/"+source+"/import", &buf)
	req.Header.Set("Authorization", "Bearer "+e.tok[user])
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rep importReport
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}
	return resp.StatusCode, rep
}

// TestMarketSelfTestImport is issue 16's "done when": an import of a
// market self-test file with good and bad rows stores the good ones once
// (a second import of the same file stores nothing new) and lists each
// bad row with its line and problem. The stored results carry the
// market's tier and source, and the KPIs split by tier.
func TestMarketSelfTestImport(t *testing.T) {
	e := startAssure(t, command.Config{})
	code, rep := e.importFile(t, "market:M-01", "op", []byte(marketFile))
	if code != 200 {
		t.Fatalf("import: %d", code)
	}
	wantBad := map[int]string{4: "stall_id", 6: "tested_at", 7: "verdict"}
	if rep.Total != 7 || rep.Stored != 4 || rep.Duplicates != 0 || len(rep.Problems) != 3 || rep.Tier != assay.TierMarketSelfTest {
		t.Fatalf("first import: %+v", rep)
	}
	for _, p := range rep.Problems {
		if wantBad[p.Line] != p.Column || p.Message == "" {
			t.Errorf("bad row at line %d (%s): %s", p.Line, p.Column, p.Message)
		}
		t.Logf("line %d: %s", p.Line, p.Message)
	}
	if n := e.svc.History().Count(); n != 4 {
		t.Fatalf("history holds %d", n)
	}
	// The same file again: nothing new, the same bad rows.
	code, rep = e.importFile(t, "market:M-01", "op", []byte(marketFile))
	if code != 200 || rep.Stored != 0 || rep.Duplicates != 4 || len(rep.Problems) != 3 {
		t.Fatalf("second import: %d %+v", code, rep)
	}
	if n := e.svc.History().Count(); n != 4 {
		t.Fatalf("history holds %d after the second import", n)
	}
	// A row id sent again with other content is listed, not stored over.
	changed := strings.Replace(marketFile, "M1-0001,2026-11-28 08:10,S-001,菠菜,农药残留,阴性", "M1-0001,2026-11-28 08:10,S-001,菠菜,农药残留,阳性", 1)
	_, rep = e.importFile(t, "market:M-01", "op", []byte(changed))
	if rep.Stored != 0 || len(rep.Problems) != 4 || rep.Problems[0].Line != 2 || rep.Problems[0].RowID != "M1-0001" {
		t.Fatalf("changed row: %+v", rep)
	}
	// Another market's rows with the same ids are its own.
	_, rep = e.importFile(t, "market:M-02", "op", []byte(marketFile))
	if rep.Stored != 4 {
		t.Fatalf("second market: %+v", rep)
	}
	rs, err := e.svc.History().Results(history.Filter{Source: "market:M-01"})
	if err != nil || len(rs) != 4 {
		t.Fatalf("market M-01's results: %d %v", len(rs), err)
	}
	for _, r := range rs {
		if r.EffectiveTier() != assay.TierMarketSelfTest || r.KioskID != "" || r.SourceRow == "" {
			t.Fatalf("stored %+v", r)
		}
	}
	// A viewer may not import; a kiosk is not a source.
	if code, _ := e.importFile(t, "market:M-01", "viewer", []byte(marketFile)); code != 403 {
		t.Fatalf("viewer import: %d", code)
	}
	if code, _ := e.importFile(t, "kiosk:K-1", "op", []byte(marketFile)); code != 400 {
		t.Fatalf("kiosk source: %d", code)
	}
	// JSON rows from a lab's system: a lab result of the same stall.
	var lab importReport
	e.must(t, 200, "POST", "/api/v1/sources/lab:L-01/results", "op", map[string]any{"rows": []map[string]any{
		{"row_id": "LAB-77", "tested_at": "2026-11-28 15:00", "stall_id": "S-001", "sample": "韭菜", "item": "农药残留",
			"verdict": "positive", "method": "GB 23200.113 气相色谱-质谱法", "value": 0.21, "unit": "mg/kg"},
		{"row_id": "LAB-78", "tested_at": "2026-11-28 15:00", "stall_id": "S-001", "sample": "韭菜", "item": "农药残留"},
	}}, &lab)
	if lab.Stored != 1 || len(lab.Problems) != 1 || lab.Problems[0].Line != 2 || lab.Tier != assay.TierLab {
		t.Fatalf("lab rows: %+v", lab)
	}
	// The lab confirms M-01's rapid positive (M1-0002) and clears M-02's.
	e.must(t, 200, "POST", "/api/v1/sources/lab:L-01/results", "op", map[string]any{"rows": []map[string]any{
		{"row_id": "LAB-80", "tested_at": "2026-11-28 16:00", "stall_id": "S-001", "sample": "韭菜", "item": "农药残留",
			"verdict": "阳性", "confirms": imports.ResultID("market:M-01", "M1-0002")},
		{"row_id": "LAB-81", "tested_at": "2026-11-28 16:00", "stall_id": "S-001", "sample": "韭菜", "item": "农药残留",
			"verdict": "阴性", "confirms": imports.ResultID("market:M-02", "M1-0002")},
		{"row_id": "LAB-82", "tested_at": "2026-11-28 16:00", "stall_id": "S-001", "sample": "韭菜", "item": "农药残留",
			"verdict": "阴性", "confirms": "not-a-result-id"},
	}}, &lab)
	if lab.Stored != 2 || len(lab.Problems) != 1 || lab.Problems[0].Column != "confirms" {
		t.Fatalf("lab confirmations: %+v", lab)
	}
	var conf struct {
		Total    struct{ Checked, Confirmed, Cleared int } `json:"total"`
		ByMethod []struct {
			Key     string `json:"key"`
			Checked int    `json:"checked"`
			Rate    struct{ Num, Den int }
		} `json:"by_method"`
		BySource []struct {
			Key       string `json:"key"`
			Confirmed int    `json:"confirmed"`
		} `json:"by_source"`
	}
	e.must(t, 200, "GET", "/api/v1/kpis/confirmations", "viewer", nil, &conf)
	if conf.Total.Checked != 2 || conf.Total.Confirmed != 1 || conf.Total.Cleared != 1 || len(conf.ByMethod) != 1 ||
		conf.ByMethod[0].Key != "enzyme_inhibition" || conf.ByMethod[0].Rate.Num != 1 || conf.ByMethod[0].Rate.Den != 2 ||
		len(conf.BySource) != 2 || conf.BySource[0].Key != "market:M-01" || conf.BySource[0].Confirmed != 1 {
		t.Fatalf("confirmation rate: %+v", conf)
	}
	// The results API and the export filter by tier and source.
	var labRs []map[string]any
	e.must(t, 200, "GET", "/api/v1/results?tier=statutory_lab", "viewer", nil, &labRs)
	var m2 []map[string]any
	e.must(t, 200, "GET", "/api/v1/results?source=market:M-02", "viewer", nil, &m2)
	if len(labRs) != 3 || labRs[0]["source"] != "lab:L-01" || len(m2) != 4 {
		t.Fatalf("results by tier %d, by source %d", len(labRs), len(m2))
	}
	code, csvBody := e.do(t, "GET", "/api/v1/export/results.csv?tier=market_self_test", "viewer", nil)
	if code != 200 || !strings.Contains(string(csvBody), "检测层级 tier") || strings.Count(string(csvBody), "农贸市场自检") != 8 {
		t.Fatalf("export by tier: %d\n%s", code, csvBody)
	}
	// KPIs: each tier separately and together. Market M-01 and M-02: 4
	// tests each, 1 positive each (the 合格 row is a negative); the lab: 1
	// positive.
	var k struct {
		Report assurance.KPIReport `json:"report"`
	}
	e.must(t, 200, "GET", "/api/v1/kpis", "viewer", nil, &k)
	got := map[string]string{}
	tests := 0
	for _, g := range k.Report.ByTier {
		got[g.Key] = fmt.Sprintf("%d/%d", g.DetectionRate.Num, g.Tests)
		tests += g.Tests
	}
	if got["market_self_test"] != "2/8" || got["statutory_lab"] != "2/3" || got["regulator_rapid"] != "0/0" || got["wholesale_market"] != "0/0" ||
		k.Report.Total.Tests != 11 || tests != 11 {
		t.Fatalf("KPIs by tier: %v, total %d", got, k.Report.Total.Tests)
	}
	// The market's positive is on the map as the stall's latest.
	var site struct {
		Latest *struct {
			Verdict string `json:"verdict"`
		} `json:"latest"`
	}
	e.must(t, 200, "GET", "/api/v1/stalls/S-001", "viewer", nil, &site)
	if site.Latest == nil {
		t.Fatal("no latest result at S-001")
	}
}
