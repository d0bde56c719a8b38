package webtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// dishSel is a dish of the assessment.
func dishSel(name string) string {
	return fmt.Sprintf(`#tab-menus li.dish-assess[data-dish=%q]`, name)
}

// typeDish fills the i-th dish row of the menu editor.
func typeDish(p *browsertest.Page, i int, name, category string) {
	row := fmt.Sprintf(`#tab-menus .dish-row[data-i="%d"]`, i)
	p.Do(chromedp.SendKeys(chromedp.CSS(row+" input.dish-name"), name))
	p.Do(chromedp.SetValue(chromedp.CSS(row+" select.dish-category"), category))
	browsertest.Eval[bool](p, `document.querySelector('`+row+` select.dish-category').dispatchEvent(new Event('change')) || true`)
}

// TestMenuAssessment: the main kitchen's menu entered and assessed from
// the screen. On the desktop an inspector enters three dishes and submits
// them; the screening flags the cold dish (restricted) and the puffer-fish
// soup (forbidden) with why; the inspector requires the rule's controls
// for the cold dish and rejects the puffer fish; the round concludes 不通过;
// on a 390 px phone the same inspector revises it, removes the rejected
// dish, resubmits (round 2), requires controls again and concludes
// 有条件通过. The server holds both rounds' decisions.
func TestMenuAssessment(t *testing.T) {
	requireAssets(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)

	p := browsertest.Start(t).NewPage(t)
	p.Do(chromedp.EmulateViewport(deskW, deskH))
	login(p, cmd.url(), inspectorUser, peoplePassword)
	openTab(p, "menus")
	p.WaitFor("the kitchen picked and an empty menu", `document.querySelector('#tab-menus select.kitchen-pick').value === 'K-MAIN' && document.querySelector('#tab-menus .menu-state').dataset.state === 'none' && document.querySelector('#tab-menus .dish-row')`, stepWait)
	typeDish(p, 0, "凉拌黄瓜", "cold_dish")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.add-dish`)))
	typeDish(p, 1, "红烧肉", "hot_dish")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.add-dish`)))
	typeDish(p, 2, "河豚汤", "soup")
	p.Screenshot("menu-entry")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.submit-menu`)))
	p.WaitFor("the screening of round 1", fmt.Sprintf(`document.querySelector('#tab-menus .menu-state').dataset.state === 'submitted' && document.querySelector('%s .flag[data-reason=cold_dish][data-severity=restrict]') && document.querySelector('%s .flag[data-reason=puffer_fish][data-severity=forbid]') && document.querySelector('%s .no-flag')`, dishSel("凉拌黄瓜"), dishSel("河豚汤"), dishSel("红烧肉")), stepWait)
	if got := browsertest.Eval[string](p, `document.querySelector('#tab-menus p.undecided').textContent`); got != "还有 2 道高风险菜品未决定" {
		t.Errorf("undecided line %q", got)
	}
	controls := browsertest.Eval[string](p, `document.querySelector('`+dishSel("凉拌黄瓜")+` textarea.controls').value`)
	if !strings.Contains(controls, "专间") {
		t.Errorf("the cold dish's controls offered: %q, want the rule's (专间…)", controls)
	}
	p.Do(chromedp.Click(chromedp.CSS(dishSel("凉拌黄瓜") + ` button.decide-require_controls`)))
	p.WaitFor("controls required for the cold dish", fmt.Sprintf(`document.querySelector(%q).dataset.outcome === 'require_controls'`, dishSel("凉拌黄瓜")), stepWait)
	p.Do(chromedp.Click(chromedp.CSS(dishSel("河豚汤") + ` button.decide-reject`)))
	p.WaitFor("the puffer fish rejected, the round concludes 不通过", fmt.Sprintf(`document.querySelector(%q).dataset.outcome === 'reject' && document.querySelector('#tab-menus button.conclude[data-outcome=rejected]')`, dishSel("河豚汤")), stepWait)
	p.Screenshot("menu-assessment")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.conclude`)))
	p.WaitFor("round 1 rejected", `document.querySelector('#tab-menus .menu-state').dataset.state === 'rejected' && document.querySelector('#tab-menus .menu-state').textContent === '第 1 轮 · 不通过'`, stepWait)

	// On the phone: revise, drop the rejected dish, resubmit, conclude.
	q := browsertest.Start(t).NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	openTab(q, "menus")
	q.WaitFor("the rejected menu", `document.querySelector('#tab-menus .menu-state').dataset.state === 'rejected' && document.querySelector('#tab-menus button.revise')`, stepWait)
	q.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.revise`)))
	q.WaitFor("a draft of round 2", `document.querySelector('#tab-menus .menu-state').dataset.state === 'draft' && document.querySelectorAll('#tab-menus .dish-row').length === 3`, stepWait)
	i := browsertest.Eval[int](q, `[...document.querySelectorAll('#tab-menus .dish-row input.dish-name')].findIndex((x) => x.value === '河豚汤')`)
	q.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tab-menus .dish-row[data-i="%d"] button.remove`, i))))
	q.WaitFor("two dishes left", `document.querySelectorAll('#tab-menus .dish-row').length === 2`, stepWait)
	q.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.submit-menu`)))
	q.WaitFor("round 2 screened", `document.querySelector('#tab-menus .menu-state').dataset.state === 'submitted' && document.querySelector('#tab-menus .menu-state').dataset.round === '2'`, stepWait)
	q.Do(chromedp.Click(chromedp.CSS(dishSel("凉拌黄瓜") + ` button.decide-require_controls`)))
	q.WaitFor("the round can conclude with controls", `document.querySelector('#tab-menus button.conclude[data-outcome=approved_with_controls]')`, stepWait)
	q.Screenshot("menu-phone-round2")
	noSidewaysOverflow(t, q, "the menu assessment on the phone")
	q.Do(chromedp.Click(chromedp.CSS(`#tab-menus button.conclude`)))
	q.WaitFor("approved with controls", `document.querySelector('#tab-menus .menu-state').textContent === '第 2 轮 · 有条件通过'`, stepWait)
	q.Screenshot("menu-phone-approved")

	ms, err := cmd.svc.Assure().Menus("K-MAIN")
	if err != nil || len(ms) != 1 {
		t.Fatalf("menus %v %v", ms, err)
	}
	m := ms[0]
	if m.State != assurance.MenuApprovedWithControls || m.Round != 2 || len(m.Dishes) != 2 || len(m.Decisions) != 3 {
		t.Errorf("menu %s round %d dishes %d decisions %+v", m.State, m.Round, len(m.Dishes), m.Decisions)
	}
	for _, d := range m.Decisions {
		if d.Outcome == assurance.DishRequireControls && !strings.Contains(d.Controls, "专间") {
			t.Errorf("decision %+v without the controls", d)
		}
	}
}
