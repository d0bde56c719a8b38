package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/shianfood/shian/simulator/demo"
	"github.com/xuri/excelize/v2"
)

// apiGet reads a JSON route of the demo with its API token.
func apiGet(t *testing.T, base, token, path string, out any) {
	t.Helper()
	body := apiRaw(t, base, token, path)
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %.200s", path, err, body)
	}
}

func apiRaw(t *testing.T, base, token, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", strings.TrimRight(base, "/")+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, body)
	}
	return body
}

// TestDemoDutyLogsDrillAndDailyReport runs the demo in process: its
// stationed teams fill the duty logs of every kitchen's lunch (one kitchen
// misses a retained sample, and the retention alarm shows on the map and
// on the duty-log page), the command centre runs one drill to its
// conclusion, and the day's report renders as a printed A4 page (a
// screenshot under print media) and as an XLSX workbook that excelize
// opens, with totals that add up and agree with the API.
func TestDemoDutyLogsDrillAndDailyReport(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole demo: skipped with -short")
	}
	requireAssets(t)
	slow := time.Duration(1)
	if raceDetector {
		slow = 8
	}
	b := browsertest.Start(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{Addr: "127.0.0.1:0", Kiosks: 3, DataDir: dir, Every: 700 * time.Millisecond, Measure: 200 * time.Millisecond, Out: out})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(slow * time.Minute):
			t.Errorf("the demo did not stop within a minute")
		}
	})
	var info demo.Info
	deadline := time.Now().Add(slow * 2 * time.Minute)
	for {
		raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
		if err == nil && json.Unmarshal(raw, &info) == nil && info.LoginURL != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo.json:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	base, tok := info.URL, info.APIToken
	var events []engine.EventView
	for deadline := time.Now().Add(slow * 2 * time.Minute); ; {
		apiGet(t, base, tok, "/api/v1/events", &events)
		if len(events) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events:\n%s", len(events), out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	ev := events[0]
	day := assurance.DateOf(time.Now().In(assurance.ChinaStandardTime)).String()

	// The drill closed and every kitchen's lunch logged.
	var ems []engine.Emergency
	for deadline := time.Now().Add(slow * 3 * time.Minute); ; {
		apiGet(t, base, tok, "/api/v1/emergencies?event="+ev.ID, &ems)
		if len(ems) == 1 && ems[0].State == assurance.EmergencyClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no closed drill; emergencies %+v\n%s", ems, out.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !ems[0].Drill || ems[0].Conclusion == nil || ems[0].Conclusion.Cause != assurance.CauseDrillDone {
		t.Errorf("the demo's emergency %+v is not a completed drill", ems[0])
	}
	retention := func() []string {
		var alarms []store.Alarm
		apiGet(t, base, tok, "/api/v1/alarms?limit=500", &alarms)
		var out []string
		for _, a := range alarms {
			if a.Code == engine.AlarmRetention {
				out = append(out, a.Message)
			}
		}
		return out
	}
	for deadline := time.Now().Add(slow * 40 * time.Second); len(retention()) == 0; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no retention alarm 40 s into the lunch")
		}
	}
	time.Sleep(2 * time.Second) // the engine ticks every second: one alarm, not one per tick
	if got := retention(); len(got) != 1 {
		t.Errorf("retention alarms %v, want one", got)
	} else {
		t.Logf("retention alarm: %s", got[0])
	}

	var meals []engine.MealView
	apiGet(t, base, tok, "/api/v1/meals?event="+ev.ID+"&date="+day, &meals)
	if len(meals) != len(ev.Filing.Kitchens) {
		t.Fatalf("%d meals for %d kitchens", len(meals), len(ev.Filing.Kitchens))
	}
	missing, diners := map[string]string{}, 0
	for _, m := range meals {
		diners += m.Diners
		if len(m.Log.Morning) == 0 || len(m.Log.Checks) != 3 {
			t.Errorf("meal %s: %d morning checks, %d process checks", m.ID, len(m.Log.Morning), len(m.Log.Checks))
		}
		for _, g := range m.Gaps {
			if g.Kind == assurance.GapRetentionMissing {
				missing[m.ID] = g.Ref
			}
		}
	}
	if len(missing) != 1 {
		t.Fatalf("meals missing a retained sample: %v, want exactly one kitchen", missing)
	}
	// The alarm on the map, and on the duty-log page.
	p := b.NewPage(t)
	p.Do(chromedp.EmulateViewport(desktopW, desktopH))
	p.Do(chromedp.Navigate(info.LoginURL))
	p.WaitFor("the map", `document.body.dataset.state === 'app' && shian.linkState() === 'online'`, slow*15*time.Second)
	p.WaitFor("the retention alarm among the alerts", `document.querySelector('#alerts li.alert[data-code="retention_missing"]')`, slow*10*time.Second)
	p.Do(chromedp.Click(chromedp.CSS(`[role=tab][data-tab=alerts]`)))
	p.Screenshot("demo-map-retention-alarm")
	var missedMeal string
	for id := range missing {
		missedMeal = id
	}
	p.Do(chromedp.Navigate(fmt.Sprintf("%semergency.html?event=%s&date=%s&meal=%s", base, ev.ID, day, url.QueryEscape(missedMeal))))
	p.WaitFor("the duty-log page with the alarmed meal", fmt.Sprintf(`document.body.dataset.state === 'ready' && document.querySelector('#meals li.meal.alarm[data-meal=%q]') && document.querySelector('#detail li.gap.alarm[data-kind="retention_missing"]') && document.querySelector('#samples li.dish.missing')`, missedMeal), slow*10*time.Second)
	if n := browsertest.Eval[int](p, `document.querySelectorAll('#meals li.meal.alarm').length`); n != 1 {
		t.Errorf("%d meals marked with an alarm, want 1", n)
	}
	p.Screenshot("demo-duty-log-missing-sample")

	// The daily report: the page, then printed.
	p.Do(chromedp.Navigate(fmt.Sprintf("%sreport.html?event=%s&date=%s", base, ev.ID, day)))
	p.WaitFor("the daily report", `document.body.dataset.state === 'ready' && document.querySelector('#sec-tests table') && document.querySelector('#sec-emergencies tbody tr')`, slow*15*time.Second)
	if got := browsertest.Eval[string](p, `document.querySelector('h1').textContent`); got != "重大活动食品安全保障日报" {
		t.Errorf("report title %q", got)
	}
	p.Screenshot("demo-report-screen")
	printShot(t, p, "demo-report-printed")
	secs := browsertest.Eval[[]string](p, `[...document.querySelectorAll('section[data-section]')].map(s => s.dataset.section + ':' + s.dataset.rows)`)
	t.Logf("report sections: %v", secs)

	// The XLSX: opened by excelize; the totals add up and agree with the API.
	var before []wire.Result
	apiGet(t, base, tok, "/api/v1/results?limit=10000&event="+ev.ID+"&since="+day, &before)
	xlsx := apiRaw(t, base, tok, "/api/v1/events/"+ev.ID+"/report.xlsx?date="+day)
	var after []wire.Result
	apiGet(t, base, tok, "/api/v1/results?limit=10000&event="+ev.ID+"&since="+day, &after)
	path := filepath.Join(browsertest.ArtifactsDir(t), "demo-daily-report.xlsx")
	os.WriteFile(path, xlsx, 0o644)
	f, err := excelize.OpenReader(strings.NewReader(string(xlsx)))
	if err != nil {
		t.Fatalf("excelize cannot open the report: %v", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	t.Logf("sheets: %v (%s)", sheets, path)
	want := []string{"概况 Summary", "供餐情况", "快速检测（按方法和结论）", "四位一体：按检测层级", "风险处置事件", "巡查督查覆盖", "驻点保障工作日志缺项", "应急处置与演练", "培训指导"}
	if strings.Join(sheets, "|") != strings.Join(want, "|") {
		t.Fatalf("sheets %v, want %v", sheets, want)
	}
	rows := func(sheet string) [][]string {
		r, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("%q is not a number", s)
		}
		return n
	}
	// Tests: each row's total is the sum of its verdicts; the totals row is
	// the sum of the rows; the total lies between the API's counts before
	// and after the download (the kiosks keep testing).
	tests := rows("快速检测（按方法和结论）")
	var data [][]string
	var totals []string
	for _, r := range tests[1:] {
		if len(r) > 0 && strings.HasPrefix(r[0], "合计") {
			totals = r
			break
		}
		data = append(data, r)
	}
	if totals == nil || len(data) == 0 {
		t.Fatalf("tests sheet without rows or totals: %v", tests)
	}
	sum := make([]int, len(totals))
	for _, r := range data {
		n := 0
		for c := 2; c < len(r); c++ {
			n += atoi(r[c])
			sum[c] += atoi(r[c])
		}
		if atoi(r[1]) != n {
			t.Errorf("tests row %v: total %s, verdicts add to %d", r, r[1], n)
		}
		sum[1] += atoi(r[1])
	}
	for c := 1; c < len(totals); c++ {
		if atoi(totals[c]) != sum[c] {
			t.Errorf("tests totals column %d (%s) = %s, rows add to %d", c, tests[0][c], totals[c], sum[c])
		}
	}
	if total := atoi(totals[1]); total < len(before) || total > len(after) || total == 0 {
		t.Errorf("tests total %d, API counted %d before and %d after", total, len(before), len(after))
	}
	t.Logf("tests: %v; totals %v (API: %d before, %d after)", data, totals, len(before), len(after))
	// Meals: one row per kitchen, diners as the API says.
	ms := rows("供餐情况")
	if len(ms) != len(meals)+2 || atoi(ms[len(ms)-1][3]) != diners {
		t.Errorf("meals sheet %v, want %d meals and %d diners", ms, len(meals), diners)
	}
	// Gaps: the missing sample is listed.
	gaps := rows("驻点保障工作日志缺项")
	if !strings.Contains(fmt.Sprint(gaps), "未留样") {
		t.Errorf("gaps sheet does not list the missing sample: %v", gaps)
	}
	// Emergencies: the drill, closed.
	emr := rows("应急处置与演练")
	if len(emr) != 3 || emr[1][1] != "应急演练" || emr[1][6] != "已关闭" {
		t.Errorf("emergencies sheet %v, want the closed drill", emr)
	}
	sum0 := rows("概况 Summary")
	t.Logf("summary sheet: %v", sum0)
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
	}
}
