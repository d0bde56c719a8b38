package webtest

import (
	"fmt"
	"image/color"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// fill types into a field of the banquet filing form.
func fill(p *browsertest.Page, name, value string) {
	p.Do(chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(`#tab-banquets form.banquet-filing input[name=%q]`, name)), value))
}

// TestBanquetFilingToRectified: a rural wedding banquet from filing to
// closed, on a 390 px phone, every step from the screen. The inspector of
// patrol team T-01 files it with the phone's position (80 diners: guidance
// is required and goes to the nearest patrol team, T-01), records the
// on-site check with a finding — the four items in place (四到位) show
// rectification missing —, starts the rectification, closes the item with
// a photo of the fix, and all four items are in place; then closes the
// banquet with nobody taken ill. The commander's desktop shows it.
func TestBanquetFilingToRectified(t *testing.T) {
	requireAssets(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addTeams(t, cmd.svc)

	q := browsertest.Start(t).NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	q.Do(atPosition(strings.TrimSuffix(cmd.url(), "/"), venueLon-0.0012, venueLat-0.0026))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	openTab(q, "banquets")
	q.WaitFor("the banquet list", `document.querySelector('#tab-banquets button.new-banquet')`, stepWait)
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.new-banquet`)))
	q.WaitFor("the filing form", `document.querySelector('#tab-banquets form.banquet-filing')`, stepWait)
	fill(q, "town", "石港镇")
	fill(q, "village", "渔湾村")
	fill(q, "host", "陈建国")
	fill(q, "phone", "13912345678")
	fill(q, "place", "陈家院内")
	fill(q, "headcount", "80")
	q.Do(chromedp.SendKeys(chromedp.CSS(`#tab-banquets .cook-row[data-i="0"] input[name=cook]`), "张师傅"))
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.use-position`)))
	q.WaitFor("the place positioned", `document.querySelector('#tab-banquets .positioned')`, stepWait)
	q.Screenshot("banquet-filing")
	noSidewaysOverflow(t, q, "the banquet filing form")
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.file-banquet`)))
	q.WaitFor("filed, guidance assigned to T-01", fmt.Sprintf(`(() => { const c = document.querySelector('#tab-banquets .banquet-card');
		return c && c.dataset.state === 'guidance_assigned' && c.querySelector('.facts').textContent.includes(%q); })()`, nearTeamName), stepWait)
	id := browsertest.Eval[string](q, `document.querySelector('#tab-banquets .banquet-card').dataset.banquet`)
	sits := browsertest.Eval[string](q, `document.querySelector('#tab-banquets .banquet-card .sittings').textContent`)
	if ok, _ := regexpMatch(`^\d{4}-\d{2}-\d{2} 午餐$`, sits); !ok {
		t.Errorf("sittings shown as %q, want YYYY-MM-DD 午餐", sits)
	}
	pillar := func(p string) string {
		return browsertest.Eval[string](q, fmt.Sprintf(`document.querySelector('#tab-banquets ul.four li[data-pillar=%q]').dataset.done`, p))
	}
	if pillar("guidance") != "0" || pillar("filing") != "1" || pillar("personnel_management") != "1" {
		t.Errorf("four in place after filing: guidance %s filing %s personnel %s, want 0 1 1", pillar("guidance"), pillar("filing"), pillar("personnel_management"))
	}

	// The on-site check with one finding.
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.start-check`)))
	q.Do(chromedp.SendKeys(chromedp.CSS(`#tab-banquets .check-form .finding[data-i="0"] input.finding-text`), "凉菜未设专间，生熟案板混用"))
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.save-check`)))
	q.WaitFor("checked, one rectification item open", `(() => { const c = document.querySelector('#tab-banquets .banquet-card');
		return c && c.dataset.state === 'on_site_checked' && c.querySelector('ul.rects li[data-open="1"]') && c.querySelector('ul.four li[data-pillar=rectification][data-done="0"]') && c.querySelector('ul.four li[data-pillar=guidance][data-done="1"]'); })()`, stepWait)
	q.Screenshot("banquet-checked")
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.to-rectify`)))
	q.WaitFor("rectifying", `document.querySelector('#tab-banquets .banquet-card').dataset.state === 'rectifying' && document.querySelector('#tab-banquets input.rect-photo')`, stepWait)
	q.Do(chromedp.SetUploadFiles(chromedp.CSS(`#tab-banquets input.rect-photo`), []string{photo(t, "fixed.png", color.RGBA{30, 160, 90, 255})}))
	q.Do(chromedp.SendKeys(chromedp.CSS(`#tab-banquets input.rect-note`), "已分设生熟案板，凉菜改为热菜"))
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.close-rect`)))
	q.WaitFor("rectified: all four in place", `(() => { const c = document.querySelector('#tab-banquets .banquet-card');
		return c && c.querySelector('ul.rects li[data-open="0"]') && c.querySelectorAll('ul.four li[data-done="1"]').length === 4; })()`, stepWait)
	q.Screenshot("banquet-rectified")
	noSidewaysOverflow(t, q, "the rectified banquet")
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.start-close`)))
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.save-close`)))
	q.WaitFor("closed", `document.querySelector('#tab-banquets .banquet-card').dataset.state === 'closed'`, stepWait)

	b, err := cmd.svc.Assure().Banquet(id)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != assurance.BanquetClosed || b.TeamID != nearTeam || len(b.Rectifications) != 1 || b.Rectifications[0].Open || len(b.Evidence) != 1 || b.IllnessCount != 0 {
		t.Errorf("banquet %s team %s rects %+v evidence %d", b.State, b.TeamID, b.Rectifications, len(b.Evidence))
	}
	for _, p := range b.FourInPlace {
		if !p.InPlace {
			t.Errorf("%s not in place on the server: %+v", p.Pillar, p.Details)
		}
	}

	// The commander's desktop.
	p := browsertest.Start(t).NewPage(t)
	p.Do(chromedp.EmulateViewport(deskW, deskH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	openTab(p, "banquets")
	p.WaitFor("the banquet in the list", fmt.Sprintf(`document.querySelector('#tab-banquets li.banquet-row[data-banquet=%q][data-state=closed]')`, id), stepWait)
	p.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tab-banquets li.banquet-row[data-banquet=%q] button.open-banquet`, id))))
	p.WaitFor("its card with the four items", `document.querySelectorAll('#tab-banquets ul.four li[data-done="1"]').length === 4`, stepWait)
	p.Screenshot("banquet-desktop")
}

func regexpMatch(pattern, s string) (bool, error) { return regexp.MatchString(pattern, s) }
