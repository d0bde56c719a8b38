package webtest

import (
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/imports"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestPublicStallPageAndComplaint is issue 16's browser test on a 390 px
// phone: a scanned label opens the stall's public page with its grade and
// latest results (a kiosk's and a market's self-test, each with its tier;
// never an operator or a kiosk); a complaint with a photo is filed
// anonymously, appears in the command centre's incident queue, is answered
// there, and the follow-up code shows the answer on the phone. Server
// strings with markup reach both screens as text.
func TestPublicStallPageAndComplaint(t *testing.T) {
	requireAssets(t)
	phoneB := browsertest.Start(t)
	wall := browsertest.Start(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	token := seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	const stall = "S-A-03" // grade B in the fixture
	// A business name with markup: it must show as text.
	store.Modify(cmd.svc.Store(), "site", stall, func(s *store.Site) error { s.Business = `<b>张记</b>蔬菜经营部`; return nil })

	k := startKiosk(t, cmd.addr, "K-T-01", token)
	r := k.measure(t, stall, "小白菜", dANegative)
	waitStored(t, cmd.svc, r)
	l, err := imports.Load(strings.NewReader("记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果\nM-1,"+
		time.Now().Add(-time.Hour).In(time.FixedZone("", 8*3600)).Format("2006-01-02 15:04")+","+stall+",豇豆,农药残留,阴性\n"),
		imports.Config{Source: "market:NT-01"})
	if err != nil || len(l.Rows) != 1 {
		t.Fatalf("market row: %+v %v", l, err)
	}
	if _, err := cmd.svc.History().Commit(l.Rows); err != nil {
		t.Fatal(err)
	}

	// --- a diner scans the label ---
	p := phoneB.NewPage(t)
	p.Do(chromedp.EmulateViewport(phoneW, phoneH))
	label := api.LabelContent("http://"+cmd.addr, stall)
	p.Do(chromedp.Navigate(label))
	p.WaitFor("the stall's public page", `document.body.dataset.state === 'ready' && document.querySelectorAll('#results li[data-verdict]').length === 2`, 10*time.Second)
	name := browsertest.Eval[string](p, `document.querySelector('#stall-name').textContent`)
	grade := browsertest.Eval[string](p, `document.querySelector('#grade').dataset.grade + '|' + document.querySelector('#grade').innerText`)
	if name != "A区03号摊位" || !strings.HasPrefix(grade, "B|") || !strings.Contains(grade, "每年检查 1–2 次") {
		t.Errorf("stall %q, grade %q", name, grade)
	}
	results := browsertest.Eval[string](p, `document.querySelector('#results').innerText`)
	for _, want := range []string{"小白菜", "阴性", "监管部门联动快检", "豇豆", "农贸市场自检", "酶抑制率法"} {
		if !strings.Contains(results, want) {
			t.Errorf("results lack %q:\n%s", want, results)
		}
	}
	if first := browsertest.Eval[string](p, `document.querySelector('#results li').innerText`); !strings.Contains(first, "小白菜") {
		t.Errorf("the newest measured result is not first: %q", first)
	}
	page := browsertest.Eval[string](p, `document.body.innerText`)
	for _, never := range []string{"op-wang", "K-T-01", r.ResultID, "DY3E"} {
		if strings.Contains(page, never) {
			t.Errorf("the public page shows %q", never)
		}
	}
	if got := browsertest.Eval[string](p, `[...document.querySelectorAll('#stall-facts dd')].map(d => d.textContent).join('|') + '|' + document.querySelectorAll('#stall-facts b').length`); !strings.Contains(got, "<b>张记</b>蔬菜经营部") || !strings.HasSuffix(got, "|0") {
		t.Errorf("the business name was not shown as text: %s", got)
	}
	noSidewaysOverflow(t, p, "the public page on a phone")
	p.Screenshot("public-stall-phone")

	// --- an anonymous complaint with a photo ---
	desc := `吃了凉拌菜后腹痛 <img src=x onerror="document.title='pwned'">`
	p.Do(chromedp.SendKeys(chromedp.CSS("#c-description"), desc),
		chromedp.SetUploadFiles(chromedp.CSS("#c-photo"), []string{photo(t, "dish.png", color.RGBA{180, 120, 40, 255})}))
	if anon := browsertest.Eval[bool](p, `document.querySelector('#c-anonymous').checked && document.querySelector('#c-contact-label').hidden`); !anon {
		t.Error("anonymous is not the default, or the contact field shows")
	}
	p.Do(chromedp.Click(chromedp.CSS("#c-submit")))
	p.WaitFor("the follow-up code", `!document.querySelector('#c-done').hidden && document.querySelector('#c-code').textContent.length === 14`, 10*time.Second)
	code := browsertest.Eval[string](p, `document.querySelector('#c-code').textContent`)
	p.Screenshot("public-complaint-filed")
	cs, err := cmd.svc.Assure().Complaints()
	if err != nil || len(cs) != 1 || cs[0].Contact != "" || !cs[0].Whistleblower || cs[0].SubjectID != stall {
		t.Fatalf("stored complaint: %+v %v", cs, err)
	}
	incID := cs[0].IncidentID
	inc, _ := cmd.svc.Assure().Incident(incID)
	if len(inc.Evidence) != 1 || inc.Evidence[0].ContentType != "image/png" || inc.Trigger.Kind != assurance.TriggerComplaint {
		t.Fatalf("the complaint's incident: %+v", inc)
	}
	t.Logf("complaint %s → incident %s, code %s", cs[0].ID, incID, code)

	// --- the command centre answers it ---
	w := wall.NewPage(t)
	w.Do(chromedp.EmulateViewport(1280, 800))
	login(w, cmd.url(), commanderUser, peoplePassword)
	w.WaitFor("the map", `document.body.dataset.state === 'app' && shian.linkState() === 'online'`, 10*time.Second)
	// The KPI bar shows each tier separately (the kiosk's and the
	// market's test) and together (2).
	w.WaitFor("the KPIs by tier", `document.querySelector('.kpi[data-kpi=tests] .v').textContent === '2' && document.querySelector('.kpi.tiers .tier[data-tier=market_self_test]').dataset.tests === '1' && document.querySelector('.kpi.tiers .tier[data-tier=regulator_rapid]').dataset.tests === '1' && document.querySelectorAll('.kpi.tiers .tier').length === 4`, 10*time.Second)
	if title := browsertest.Eval[string](w, `document.querySelector('.kpi[data-kpi=tests]').title`); !strings.Contains(title, "农贸自检 1") || !strings.Contains(title, "监管快检 1") {
		t.Errorf("the tests figure's tooltip lacks the tiers: %q", title)
	}
	w.Do(chromedp.Click(chromedp.CSS(`[role=tab][data-tab=incidents]`)))
	sel := fmt.Sprintf(`#incidents li.incident[data-incident=%q]`, incID)
	w.WaitFor("the complaint in the incident queue", fmt.Sprintf(`document.querySelector(%q)`, sel), stepWait)
	w.Do(chromedp.Click(chromedp.CSS(sel)))
	w.WaitFor("the complaint in the panel", fmt.Sprintf(`document.querySelector('#incident-detail').dataset.incident === %q && document.querySelector('#incident-detail .inc-complaint .complaint-text')`, incID), stepWait)
	if got := browsertest.Eval[string](w, `document.title + '|' + document.querySelectorAll('#incident-detail img[src="x"]').length + '|' + document.querySelector('#incident-detail .inc-info').innerText`); !strings.Contains(got, `<img src=x onerror=`) || strings.HasPrefix(got, "pwned") || !strings.Contains(got, "|0|") {
		t.Errorf("the complaint's text was not shown as text: %s", got)
	}
	reply := "经核查，该摊位凉拌菜已停售，已责令整改。感谢您的监督。"
	w.Do(chromedp.SendKeys(chromedp.CSS("#incident-detail .complaint-text"), reply), chromedp.Click(chromedp.CSS("#incident-detail .complaint-send")))
	w.WaitFor("the reply recorded", `document.querySelector('#incident-detail blockquote.complaint-reply')`, stepWait)
	w.Screenshot("complaint-answered-desktop")

	// --- the follow-up code shows the answer on the phone ---
	p.Do(chromedp.Click(chromedp.CSS("#f-submit")))
	p.WaitFor("the answer", `document.querySelector('#f-result blockquote.reply')`, stepWait)
	if got := browsertest.Eval[string](p, `document.querySelector('#f-result').innerText`); !strings.Contains(got, reply) || !strings.Contains(got, "已受理") {
		t.Errorf("the follow-up shows:\n%s", got)
	}
	p.Do(chromedp.ScrollIntoView(chromedp.CSS("#follow")))
	p.Screenshot("public-follow-up-phone")

	// The general complaint page and a desktop view of the stall.
	q := phoneB.NewPage(t)
	q.Do(chromedp.EmulateViewport(1280, 800))
	q.Do(chromedp.Navigate(label))
	q.WaitFor("the public page on a desktop", `document.body.dataset.state === 'ready'`, 10*time.Second)
	q.Screenshot("public-stall-desktop")
	for _, pg := range []*browsertest.Page{p, w, q} {
		if ex := pg.Exceptions(); len(ex) > 0 {
			t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
		}
	}
}
