package webtest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestPatrolRoute: an inspector of patrol team T-01 opens today's route on
// a 390 px phone: the stops in visiting order, the route drawn on the map
// with numbered stops. At the first stop the phone's position checks the
// team in (the team's position on the server moves there); the inspector
// records a major finding; the stall's credit points and grade before and
// after, and the rule that moved them, appear under the stop, which is
// marked visited on the list and the map. The same route on the desktop.
func TestPatrolRoute(t *testing.T) {
	requireAssets(t)
	b := browsertest.Start(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)
	for _, id := range []string{nearTeam, farTeam} {
		if _, err := cmd.svc.Assure().SetDuty(id, true, assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := cmd.svc.Assure().PlanPatrol(nearTeam, assurance.DateOf(time.Now().In(assurance.ChinaStandardTime)), engine.MaxPlanStops)
	if err != nil || len(plan.Stops) < 2 {
		t.Fatalf("plan of %s: %d stops, %v", nearTeam, len(plan.Stops), err)
	}
	first := plan.Stops[0]

	q := b.NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	q.Do(atPosition(strings.TrimSuffix(cmd.url(), "/"), first.Point.Lon+0.00002, first.Point.Lat+0.00001))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	q.WaitFor("the patrol tab for a team member", `document.body.dataset.state === 'app' && !document.querySelector('[role=tab][data-tab=patrol]').hidden`, 10*time.Second)
	openTab(q, "patrol")
	q.WaitFor("today's stops in order", fmt.Sprintf(`document.querySelectorAll('#tab-patrol li.patrol-stop-row').length === %d && document.querySelector('#tab-patrol li.patrol-stop-row').dataset.target === %q`, len(plan.Stops), first.TargetID), stepWait)
	q.WaitFor("the route on the map", fmt.Sprintf(`document.querySelectorAll('.patrol-stop[data-seq]').length === %d && shian.app.patrol.layer`, len(plan.Stops)), stepWait)
	head := browsertest.Eval[string](q, `document.querySelector('#tab-patrol .patrol-head').innerText`)
	if !strings.Contains(head, fmt.Sprintf("%d 个点位", len(plan.Stops))) || !(strings.Contains(head, "米") || strings.Contains(head, "公里")) {
		t.Errorf("route summary %q", head)
	}
	row := fmt.Sprintf(`#tab-patrol li.patrol-stop-row[data-target=%q]`, first.TargetID)
	name := browsertest.Eval[string](q, `document.querySelector('`+row+` .name').textContent`)
	if strings.HasPrefix(name, "S-") || name == "" {
		t.Errorf("stop named %q, want the stall's name", name)
	}
	q.Screenshot("patrol-phone-route")
	noSidewaysOverflow(t, q, "the patrol route on the phone")

	// Check in at the first stop with the phone's position.
	q.Do(chromedp.Click(chromedp.CSS(row + ` button.check-in`)))
	q.WaitFor("checked in with a position", fmt.Sprintf(`document.querySelector('%s .visit-form .where').textContent.startsWith('已签到：')`, row), stepWait)
	tm, err := cmd.svc.Assure().Team(nearTeam)
	if err != nil || tm.Position == nil || abs(tm.Position.Lon-first.Point.Lon) > 0.0001 || abs(tm.Position.Lat-first.Point.Lat) > 0.0001 {
		t.Fatalf("team position after the check-in: %+v %v, want near %+v", tm.Position, err, first.Point)
	}
	// A major finding.
	q.Do(chromedp.Click(chromedp.CSS(row + ` button.add-finding`)))
	q.Do(chromedp.SendKeys(chromedp.CSS(row+` .finding input.finding-text`), "生熟食品混放，未做标识"))
	q.Do(chromedp.SetValue(chromedp.CSS(row+` .finding select.finding-severity`), "major_finding"))
	browsertest.Eval[bool](q, `document.querySelector('`+row+` .finding select.finding-severity').dispatchEvent(new Event('change')) || true`)
	q.Screenshot("patrol-phone-finding")
	q.Do(chromedp.Click(chromedp.CSS(row + ` button.save`)))
	q.WaitFor("the credit change under the stop", fmt.Sprintf(`document.querySelector('%s .credit-change') && document.querySelector('%s').dataset.visited === '1'`, row, row), stepWait)
	before, _ := strconv.Atoi(browsertest.Eval[string](q, `document.querySelector('`+row+` .credit-change').dataset.before`))
	after, _ := strconv.Atoi(browsertest.Eval[string](q, `document.querySelector('`+row+` .credit-change').dataset.after`))
	text := browsertest.Eval[string](q, `document.querySelector('`+row+` .credit-change').innerText`)
	if after != before-10 || !strings.Contains(text, "严重问题 -10 分") || !strings.Contains(text, fmt.Sprintf("信用积分 %d → %d", before, after)) {
		t.Errorf("credit box %q (%d → %d), want −10 for a major finding", text, before, after)
	}
	c, err := cmd.svc.Assure().Vendor(first.TargetID)
	if err != nil || c.Score != after {
		t.Errorf("server credit of %s: %+v %v, want %d", first.TargetID, c.Score, err, after)
	}
	q.WaitFor("the stop marked visited on the map", fmt.Sprintf(`document.querySelector('.patrol-stop.done[data-target=%q]')`, first.TargetID), stepWait)
	vs, _ := cmd.svc.Assure().Visits(first.TargetID, 10)
	if len(vs) != 1 || len(vs[0].Findings) != 1 || vs[0].Findings[0].Severity != assurance.FindingMajor || vs[0].Where == nil || vs[0].TeamID != nearTeam {
		t.Errorf("visits %+v", vs)
	}
	t.Logf("stop 1 %s (%s): %s", first.TargetID, name, strings.ReplaceAll(text, "\n", " | "))
	q.Screenshot("patrol-phone-credit")
	noSidewaysOverflow(t, q, "the patrol credit on the phone")

	if got := browsertest.Eval[string](q, `(document.querySelector('`+row+` .grade-moved') || {}).textContent || ''`); c.Grade != assurance.GradeA && !strings.Contains(got, "风险等级由") {
		t.Errorf("the grade moved to %s but the screen says %q", c.Grade, got)
	}

	// The same route on a desktop screen.
	p := browsertest.Start(t).NewPage(t)
	p.Do(chromedp.EmulateViewport(deskW, deskH))
	login(p, cmd.url(), inspectorUser, peoplePassword)
	p.WaitFor("the app", `document.body.dataset.state === 'app'`, 10*time.Second)
	openTab(p, "patrol")
	p.WaitFor("the route with the first stop visited", fmt.Sprintf(`document.querySelector('#tab-patrol li.patrol-stop-row[data-target=%q][data-visited="1"]') && document.querySelector('.patrol-stop.done')`, first.TargetID), stepWait)
	p.Screenshot("patrol-desktop")
}

// openTab selects a tab of the side panel and waits until it shows. The
// tab strip scrolls sideways on a phone, where a click at coordinates can
// land on the neighbouring tab while the strip scrolls; the button's own
// click() is what a tap on it does.
func openTab(p *browsertest.Page, tab string) {
	p.WaitFor("the page set up for the user", `document.querySelector('#app').dataset.ready === '1'`, 10*time.Second)
	browsertest.Eval[bool](p, fmt.Sprintf(`document.querySelector('[role=tab][data-tab=%q]').click(), true`, tab))
	p.WaitFor("the "+tab+" tab", fmt.Sprintf(`document.querySelector('[role=tab][data-tab=%q]').getAttribute('aria-selected') === 'true' && !document.querySelector('#tab-%s').hidden`, tab, tab), stepWait)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
