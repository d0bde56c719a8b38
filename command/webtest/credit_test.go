package webtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// hostileStall is a stall in zone A whose name would run script if a page
// put it into the DOM as HTML.
const hostileStall = "S-A-99"

// TestCreditLedger: a rapid-test positive moves stall S-A-04 from grade C
// to D. On a 1366×768 desktop a commander opens the stall's popup, then
// its credit record: the grade history says C级 → D级 at the result's
// time (YYYY-MM-DD HH:mm, Beijing time) by the rule 快检阳性 from a
// 快检结果, the ledger line says the same with its points, and its incident
// opens from it; the list of accounts has the worst grades first. On a
// 390×844 phone an inspector finds a stall with a hostile name in the
// list and records 列入严重失信名单 with a hostile note: the stall moves to
// D by that rule, recorded by hand by the inspector's name, and the name
// and note show as text.
func TestCreditLedger(t *testing.T) {
	requireAssets(t)
	b := browsertest.Start(t)
	v := makeVenue()
	hostileName := browsertest.Hostile("李记凉皮")
	v.sites.Features = append(v.sites.Features, geo.Feature{ID: hostileStall, Kind: geo.KindStall, Name: hostileName,
		Geometry:   orb.Point{venueLon - 0.0030 + 0.0013, venueLat + 0.0008 + 0.0006},
		Properties: map[string]any{"zone": "Z-A", "category": "小吃", "grade": "B"}})
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	token := seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)
	k := startKiosk(t, cmd.addr, "K-T-01", token)

	// S-A-04 is registered C (opening score 82); a positive costs 10.
	pos := k.measure(t, "S-A-04", "菠菜", dAPositive)
	waitStored(t, cmd.svc, pos)
	var acct engine.Credit
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := cmd.svc.Assure().Vendor("S-A-04")
		if err == nil && c.Grade == assurance.GradeD {
			acct = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("S-A-04's account: %+v, %v; want grade D after the positive", c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	moved := acct.History[len(acct.History)-1]
	if moved.From != assurance.GradeC || moved.Reason != assurance.CreditPositive {
		t.Fatalf("S-A-04's last grade change %+v", moved)
	}
	when := moved.At.In(assurance.ChinaStandardTime).Format("2006-01-02 15:04")
	// A patrol finding on the same stall: 严重问题 −10, from 巡查发现的问题.
	if _, err := cmd.svc.Assure().RecordVisit(engine.PatrolVisit{TargetID: "S-A-04", TeamID: nearTeam,
		Findings: []assurance.Finding{{Text: "冷藏柜温度12°C", Severity: assurance.FindingMajor}},
		Act:      assurance.Act{Actor: assurance.Actor{UserID: inspectorUser, Role: assurance.RoleInspector, TeamID: nearTeam}}}); err != nil {
		t.Fatalf("patrol visit: %v", err)
	}

	// An event, for its reports in the export dialog.
	day := assurance.DateOf(time.Now().In(assurance.ChinaStandardTime))
	ev, err := cmd.svc.Assure().FileEvent("", assurance.EventFiling{Name: "2026江海国际美食博览会", Organiser: assurance.Organiser{Name: "南通市商务局"},
		FirstDay: day.AddDays(-1), LastDay: day.AddDays(1), Headcount: 3000, Mode: assurance.SupervisionFull, NotifiedOn: day.AddDays(-40),
		Venues:   []assurance.Venue{{ID: "V-NTEC", Name: "南通国际会展中心"}},
		Caterers: []assurance.Caterer{{ID: "C-1", Name: "南通江海餐饮管理有限公司"}},
		Kitchens: []assurance.Kitchen{{ID: mainKitchen, Name: "主供餐点（中央厨房）", CatererID: "C-1", VenueID: "V-NTEC"}}},
		assurance.Act{Actor: assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}

	p := b.NewPage(t)
	p.Do(chromedp.EmulateViewport(1366, 768))
	w := p.WatchInjection()
	login(p, cmd.url(), commanderUser, peoplePassword)
	p.WaitFor("the map", `document.body.dataset.state === 'app' && document.querySelector('#app').dataset.ready === '1'`, 10*time.Second)

	// From the popup: the account's line, then its record.
	p.WaitFor("the accounts loaded", `shian.app.credit.list && shian.app.credit.account('S-A-04')`, stepWait)
	browsertest.Eval[bool](p, `shian.app.openStall('S-A-04'), true`)
	p.WaitFor("the popup's credit line", `document.querySelector('.leaflet-popup .popup[data-stall-id="S-A-04"] .credit-line[data-grade="D"]')`, stepWait)
	// The map and the popup draw the account's grade (D), not the register's (C).
	if g := browsertest.Eval[string](p, `shian.app.map.stall('S-A-04').marker.options.grade`); g != "D" {
		t.Errorf("S-A-04 drawn with grade %q, want D", g)
	}
	// The popup's grade is the account's (D), not the register's (C).
	if pop := browsertest.Eval[string](p, `document.querySelector('.leaflet-popup .popup').innerText`); !strings.Contains(pop, "D级") || strings.Contains(pop, "C级") || !strings.Contains(pop, "信用积分 62 分") {
		t.Errorf("popup %q, want D级 and 信用积分 62 分", pop)
	}
	browsertest.Eval[bool](p, `document.querySelector('.leaflet-popup .popup button.credit-link').click(), true`)
	p.WaitFor("the credit record", `!document.querySelector('#tab-credit').hidden && document.querySelector('#tab-credit .credit-now[data-grade="D"]')`, stepWait)
	change := `#tab-credit li.grade-change[data-from="C"][data-to="D"][data-reason="positive_result"]`
	p.WaitFor("the grade change", `document.querySelector('`+change+`')`, stepWait)
	text := browsertest.Eval[string](p, `document.querySelector('`+change+`').innerText`)
	for _, want := range []string{when, "C级 → D级（风险最高）", "依据：快检阳性", "来源：快检结果", "积分 72"} {
		if !strings.Contains(text, want) {
			t.Errorf("grade change %q lacks %q", text, want)
		}
	}
	line := `#tab-credit li.ledger-line[data-reason="positive_result"]`
	text = browsertest.Eval[string](p, `document.querySelector('`+line+`').innerText`)
	for _, want := range []string{when, "-10", "快检阳性", "来源：快检结果", "变动后 72 分"} {
		if !strings.Contains(text, want) {
			t.Errorf("ledger line %q lacks %q", text, want)
		}
	}
	finding := `#tab-credit li.ledger-line[data-reason="major_finding"]`
	text = browsertest.Eval[string](p, `document.querySelector('`+finding+`').innerText`)
	for _, want := range []string{"-10", "严重问题", "来源：巡查发现的问题", "变动后 62 分", "冷藏柜温度12°C"} {
		if !strings.Contains(text, want) {
			t.Errorf("finding's line %q lacks %q", text, want)
		}
	}
	if first := browsertest.Eval[string](p, `document.querySelector('#tab-credit li.ledger-line').dataset.reason`); first != "major_finding" {
		t.Errorf("the ledger starts with %q, want the newest (major_finding)", first)
	}
	if got := browsertest.Eval[string](p, `document.querySelector('`+line+` time').textContent`); !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$`).MatchString(got) {
		t.Errorf("ledger time %q, want YYYY-MM-DD HH:mm", got)
	}
	if n := browsertest.Eval[int](p, `document.querySelectorAll('#tab-credit li.grade-change').length`); n != 2 {
		t.Errorf("%d grade history entries, want 2 (opening C, then D)", n)
	}
	p.Screenshot("credit-desk-ledger")
	// In English: the rule and source by their English labels.
	browsertest.Eval[bool](p, `document.querySelector('#lang').click(), true`)
	p.WaitFor("the record in English", `document.querySelector('`+line+` .rule').textContent === 'Rapid-test positive'`, stepWait)
	if src := browsertest.Eval[string](p, `document.querySelector('`+line+` .source').textContent`); src != "Source: Rapid-test result" {
		t.Errorf("English source %q", src)
	}
	p.Screenshot("credit-desk-ledger-en")
	browsertest.Eval[bool](p, `document.querySelector('#lang').click(), true`)
	p.WaitFor("the record in Chinese", `document.querySelector('`+line+` .rule').textContent === '快检阳性'`, stepWait)
	// The ledger line opens the result's incident.
	browsertest.Eval[bool](p, `document.querySelector('`+line+` button.credit-incident').click(), true`)
	p.WaitFor("the incident from the ledger", `!document.querySelector('#incident-detail').hidden && document.querySelector('#incident-detail').dataset.state`, stepWait)

	// The list: worst grade first, filtered by grade.
	openTab(p, "credit")
	browsertest.Eval[bool](p, `document.querySelector('#tab-credit .credit-back') && document.querySelector('#tab-credit .credit-back').click(), true`)
	p.WaitFor("the list of accounts", `document.querySelector('#tab-credit li.credit-row')`, stepWait)
	if first := browsertest.Eval[string](p, `document.querySelector('#tab-credit li.credit-row').dataset.grade`); first != "D" {
		t.Errorf("first account of grade %q, want D first", first)
	}
	browsertest.Eval[bool](p, `document.querySelector('#tab-credit .credit-grades button[data-grade="D"]').click(), true`)
	p.WaitFor("only grade D", `[...document.querySelectorAll('#tab-credit li.credit-row')].every((li) => li.dataset.grade === 'D') && document.querySelector('#tab-credit li.credit-row[data-business="S-A-04"]')`, stepWait)
	p.Screenshot("credit-desk-list")

	// Exports: the dialog lists what a commander may take, and a click
	// downloads the file.
	dir := t.TempDir()
	if _, err := chromedp.Call(p.Context(), browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	browsertest.Eval[bool](p, `document.querySelector('#to-exports').click(), true`)
	p.WaitFor("the export dialog", `document.querySelector('dialog.exports[open] li.ex-row[data-table="results"]')`, stepWait)
	tables := browsertest.Eval[[]string](p, `[...document.querySelectorAll('dialog.exports li.ex-row[data-table]')].map((li) => li.dataset.table)`)
	if strings.Join(tables, " ") != "results incidents banquets credit" {
		t.Errorf("a commander's exports %v, want results incidents banquets credit (no audit log)", tables)
	}
	p.Screenshot("exports-desk")
	p.Do(chromedp.Click(chromedp.CSS(`dialog.exports a[data-export="incidents"][data-format="csv"]`)))
	file := waitDownload(t, dir, "incidents-", ".csv")
	if head := firstLine(t, file); !strings.HasPrefix(head, "\ufeff事件编号 id,状态 state,") {
		t.Errorf("downloaded %s starts %q", filepath.Base(file), head)
	}
	// Each link answers its file (the header row), the XLSX as a workbook.
	for _, x := range []string{"results", "credit"} {
		got := browsertest.EvalAsync[string](p, fmt.Sprintf(`fetch(document.querySelector('dialog.exports a[data-export=%q][data-format="csv"]').href).then(async (r) => r.headers.get('content-disposition') + '\n' + (await r.text()))`, x))
		// (fetch's text() drops the byte-order mark the file starts with)
		want := map[string]string{"results": "结果编号 result_id,快检终端 kiosk_id,", "credit": "经营者 business_id,名称 name,"}[x]
		if lines := strings.SplitN(got, "\n", 3); len(lines) < 2 || !strings.HasPrefix(lines[0], "attachment;") || !strings.HasPrefix(lines[1], want) {
			t.Errorf("%s.csv answered %.200q", x, got)
		}
	}
	if ct := browsertest.EvalAsync[string](p, `fetch(document.querySelector('dialog.exports a[data-export="results"][data-format="xlsx"]').href).then((r) => r.status + ' ' + r.headers.get('content-type'))`); ct != "200 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Errorf("results.xlsx answered %q", ct)
	}
	// A date range narrows the results' link.
	browsertest.Eval[bool](p, `(() => { const i = document.querySelector('dialog.exports input.ex-from'); i.value = '2026-12-01'; i.dispatchEvent(new Event('change')); return true; })()`)
	if href := browsertest.Eval[string](p, `document.querySelector('dialog.exports a[data-export="results"][data-format="csv"]').getAttribute('href')`); !strings.Contains(href, "since=2026-12-01T00%3A00%3A00%2B08%3A00") {
		t.Errorf("results link with a start date: %q", href)
	}
	// An event chosen: the incidents' link takes it, and its reports appear.
	browsertest.Eval[bool](p, fmt.Sprintf(`(() => { const s = document.querySelector('dialog.exports select.ex-event'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, ev.ID))
	p.WaitFor("the event's reports", `document.querySelector('dialog.exports li.ex-row[data-report="daily"]') && document.querySelector('dialog.exports li.ex-row[data-report="final"]')`, stepWait)
	if href := browsertest.Eval[string](p, `document.querySelector('dialog.exports a[data-export="incidents"][data-format="xlsx"]').getAttribute('href')`); href != "/api/v1/export/incidents.xlsx?event="+ev.ID {
		t.Errorf("incidents link for the event: %q", href)
	}
	if got := browsertest.EvalAsync[string](p, `fetch(document.querySelector('dialog.exports li[data-report="daily"] a[data-export="report"]').href).then((r) => r.status + ' ' + r.headers.get('content-type'))`); got != "200 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Errorf("the daily report's workbook answered %q", got)
	}
	if href := browsertest.Eval[string](p, `document.querySelector('dialog.exports li[data-report="daily"] a[target=_blank]').getAttribute('href')`); href != "report.html?event="+ev.ID+"&date="+day.String() {
		t.Errorf("the daily report's page link %q", href)
	}
	p.Screenshot("exports-desk-event")
	w.Check()

	// The inspector's phone: a stall with a hostile name, listed as D.
	q := browsertest.Start(t).NewPage(t) // a browser of its own: its own session
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	wq := q.WatchInjection()
	login(q, cmd.url(), inspectorUser, peoplePassword)
	openTab(q, "credit")
	q.WaitFor("the list", `document.querySelector('#tab-credit li.credit-row')`, stepWait)
	q.Screenshot("credit-phone-list")
	// No account yet: the stall is found from its popup.
	browsertest.Eval[bool](q, `shian.app.openStall('`+hostileStall+`'), true`)
	q.WaitFor("the hostile stall's popup", `document.querySelector('.leaflet-popup .popup[data-stall-id="`+hostileStall+`"] button.credit-link')`, stepWait)
	browsertest.Eval[bool](q, `document.querySelector('.leaflet-popup .popup button.credit-link').click(), true`)
	q.WaitFor("no account yet, and the form", `document.querySelector('#tab-credit .credit-missing') && document.querySelector('#tab-credit form.credit-form')`, stepWait)
	if h := browsertest.Eval[string](q, `document.querySelector('#tab-credit h3').firstChild.textContent`); h != hostileName {
		t.Errorf("record titled %q, want the name as text", h)
	}
	note := browsertest.Hostile("列入名单")
	browsertest.Eval[bool](q, fmt.Sprintf(`(() => {
		const f = document.querySelector('#tab-credit form.credit-form');
		const s = f.querySelector('select.credit-reason'); s.value = 'seriously_dishonest'; s.dispatchEvent(new Event('change'));
		const n = f.querySelector('input.credit-note'); n.value = %q; n.dispatchEvent(new Event('input'));
		f.querySelector('button[type=submit]').click();
		return true;
	})()`, note))
	q.WaitFor("the listing booked", `document.querySelector('#tab-credit .credit-now[data-grade="D"]') && document.querySelector('#tab-credit li.grade-change[data-to="D"][data-reason="seriously_dishonest"]')`, stepWait)
	text = browsertest.Eval[string](q, `document.querySelector('#tab-credit li.ledger-line[data-reason="seriously_dishonest"]').innerText`)
	for _, want := range []string{"列入严重失信名单", "来源：人工登记", "登记人：李监督", note} {
		if !strings.Contains(text, want) {
			t.Errorf("the inspector's line %q lacks %q", text, want)
		}
	}
	q.WaitFor("the map redrawn with grade D", `shian.app.map.stall('`+hostileStall+`').marker.options.grade === 'D'`, stepWait)
	c, err := cmd.svc.Assure().Vendor(hostileStall)
	if err != nil || c.Grade != assurance.GradeD || c.Ledger[len(c.Ledger)-1].By != inspectorUser || c.Ledger[len(c.Ledger)-1].Note != note {
		t.Errorf("the stored account %+v, %v", c, err)
	}
	if n := browsertest.Eval[int](q, `document.querySelectorAll('#tab-credit img, #tab-credit svg, #tab-credit script').length`); n != 0 {
		t.Errorf("%d elements made from the names", n)
	}
	if over := browsertest.Eval[bool](q, `document.documentElement.scrollWidth > window.innerWidth`); over {
		t.Error("the credit record is wider than the phone")
	}
	browsertest.Eval[bool](q, `document.querySelector('#tab-credit').scrollIntoView(), true`)
	q.Screenshot("credit-phone-ledger")
	browsertest.Eval[bool](q, `document.querySelector('#to-exports').click(), true`)
	q.WaitFor("the export dialog", `document.querySelector('dialog.exports[open] li.ex-row[data-table="credit"]')`, stepWait)
	if browsertest.Eval[bool](q, `!!document.querySelector('dialog.exports li.ex-row[data-table="audit"]')`) {
		t.Error("an inspector is offered the audit log")
	}
	if over := browsertest.Eval[bool](q, `(() => { const d = document.querySelector('dialog.exports'); return d.scrollWidth > d.clientWidth + 1 || d.getBoundingClientRect().right > window.innerWidth; })()`); over {
		t.Error("the export dialog is wider than the phone")
	}
	q.Screenshot("exports-phone")
	wq.Check()
	w.Check()
}

// waitDownload waits for a finished download named prefix…suffix in dir.
func waitDownload(t *testing.T, dir, prefix, suffix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(dir, e.Name())
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("no download %s*%s in %s (have %v)", prefix, suffix, dir, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func firstLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(b), "\n")
	return head
}
