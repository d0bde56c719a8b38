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

// The sizes the screens are judged at: a duty desk's laptop and a phone.
const screenW, screenH = 1366, 768

// fillEvent types into a field of the event filing form.
func fillEvent(p *browsertest.Page, name, value string) {
	sel := fmt.Sprintf(`#tab-events form.event-filing input[name=%q]`, name)
	browsertest.Eval[bool](p, fmt.Sprintf(`(() => { const i = document.querySelector(%q); i.value = ''; i.dispatchEvent(new Event('input')); return true; })()`, sel))
	p.Do(chromedp.SendKeys(chromedp.CSS(sel), value))
}

// setField sets an input by script (date inputs take no typed text in
// every locale) and tells the page, as typing would.
func setField(p *browsertest.Page, sel, value string) {
	browsertest.Eval[bool](p, fmt.Sprintf(`(() => { const i = document.querySelector(%q); i.value = %q; i.dispatchEvent(new Event('input')); return true; })()`, sel, value))
}

// itemSel is a checklist item of the main kitchen on the event's screen.
func itemSel(item string) string {
	return fmt.Sprintf(`#tab-events details.checklist[data-kitchen="K-MAIN"] li.item[data-item=%q]`, item)
}

// TestEventReadinessGate: a major event filed and moved through its
// phases from the screen, with the readiness gate. The commander files it
// on the desktop (the main kitchen ticked); the header shows its phase
// and today's meal; moving to 准备就绪 is refused with the protocol's
// reason — the kitchen, each open item and what is missing; the
// commander records the responsibility commitment; on a 390 px phone the
// inspector records the emergency drill and the staff's health
// certificates; back on the desktop the gate opens and the event goes to
// 准备就绪, then 全程防控, which the header shows. The server holds each
// recorded item with who recorded it.
func TestEventReadinessGate(t *testing.T) {
	requireAssets(t)
	v := makeVenue()
	pc := assurance.DefaultConfig()
	pc.Readiness.Items = []assurance.ChecklistItem{assurance.ItemCommitment, assurance.ItemEmergencyDrill, assurance.ItemHealthCertificates}
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Protocol: &pc, Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)

	p := browsertest.Start(t).NewPage(t)
	p.Do(chromedp.EmulateViewport(screenW, screenH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	openTab(p, "events")
	p.WaitFor("the event list", `document.querySelector('#tab-events button.new-event') && document.querySelector('#tab-events p.empty')`, stepWait)
	p.Do(chromedp.Click(chromedp.CSS(`#tab-events button.new-event`)))
	p.WaitFor("the filing form with the map's kitchen", `document.querySelector('#tab-events form.event-filing input[name=kitchen][value="K-MAIN"]').checked`, stepWait)
	bj := time.FixedZone("CST", 8*3600)
	today := time.Now().In(bj)
	first := today.AddDate(0, 0, 35).Format(time.DateOnly)
	last := today.AddDate(0, 0, 37).Format(time.DateOnly)
	fillEvent(p, "name", "2026 江海国际博览会")
	fillEvent(p, "organiser", "南通市贸促会")
	fillEvent(p, "phone", "13812345678")
	setField(p, `#tab-events form.event-filing input[name=first_day]`, first)
	setField(p, `#tab-events form.event-filing input[name=last_day]`, last)
	fillEvent(p, "headcount", "3000")
	fillEvent(p, "venue", "南通国际会展中心")
	fillEvent(p, "caterer", "江海餐饮管理有限公司")
	p.Screenshot("event-filing")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-events button.file-event`)))
	p.WaitFor("filed: the event's card", `(() => { const c = document.querySelector('#tab-events .event-card'); return c && c.dataset.phase === 'filed'; })()`, stepWait)
	id := browsertest.Eval[string](p, `document.querySelector('#tab-events .event-card').dataset.event`)
	if got := browsertest.Eval[string](p, `document.querySelector('#tab-events .event-card .days').textContent`); got != first+" – "+last {
		t.Errorf("days shown %q, want %s – %s", got, first, last)
	}

	// Today's lunch, entered by the duty desk: the header shows it.
	start := time.Date(today.Year(), today.Month(), today.Day(), 11, 30, 0, 0, bj)
	if _, err := cmd.svc.Assure().PutMeal(assurance.EventMeal{EventID: id, KitchenID: "K-MAIN", Meal: assurance.MealLunch, Name: "工作午餐",
		Start: start, End: start.Add(90 * time.Minute), Diners: 300, Dishes: []assurance.MealDish{{ID: "D1", Name: "红烧肉"}}},
		assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	p.Do(chromedp.Click(chromedp.CSS(`#tab-events button.phase-to[data-to="early_intervention"]`)))
	p.WaitFor("early intervention, in the header with today's lunch", `document.querySelector('#tab-events .event-card').dataset.phase === 'early_intervention' && document.querySelector('#event-line').dataset.phase === 'early_intervention' && document.querySelector('#event-meals').textContent.includes('午餐「工作午餐」 11:30–13:00')`, stepWait)
	if got := browsertest.Eval[string](p, `document.querySelector('#event-phase').textContent`); got != "2026 江海国际博览会 · 提前介入" {
		t.Errorf("header phase %q", got)
	}

	// The gate: refused with the open items.
	p.Do(chromedp.Click(chromedp.CSS(`#tab-events button.phase-to[data-to="ready"]`)))
	p.WaitFor("refused with the protocol's reason", `document.querySelector('#tab-events .refused')`, stepWait)
	head := browsertest.Eval[string](p, `document.querySelector('#tab-events .refused b').textContent`)
	lines := browsertest.Eval[[]string](p, `[...document.querySelectorAll('#tab-events .refused li')].map((l) => l.textContent)`)
	if head != "无法进入「准备就绪」：还有 3 项准备未完成" || len(lines) != 3 || !strings.HasPrefix(lines[0], "主供餐点（中央厨房） · 责任承诺书") {
		t.Errorf("refusal %q %q", head, lines)
	}
	p.Screenshot("event-refused")
	if ev, _ := cmd.svc.Assure().Event(id); ev.Phase != assurance.PhaseEarlyIntervention {
		t.Fatalf("the server moved the event to %s", ev.Phase)
	}

	// The commander records the commitment.
	openRecord(p, "responsibility_commitment")
	p.Do(chromedp.SendKeys(chromedp.CSS(itemSel("responsibility_commitment")+` input[name=ref]`), "承诺书 2026-118 号"))
	p.Do(chromedp.Click(chromedp.CSS(itemSel("responsibility_commitment") + ` button.record-item`)))
	p.WaitFor("the commitment done, recorded by the commander", fmt.Sprintf(`(() => { const li = document.querySelector(%q); return li && li.dataset.done === '1' && li.querySelector('.who') && li.querySelector('.who').textContent.startsWith('王指挥 于 '); })()`, itemSel("responsibility_commitment")), stepWait)
	p.Screenshot("event-checklist")

	// The inspector on the phone: the drill and the health certificates.
	q := browsertest.Start(t).NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	openTab(q, "events")
	q.WaitFor("the event in the list", fmt.Sprintf(`document.querySelector('#tab-events li.event-row[data-event=%q]')`, id), stepWait)
	q.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tab-events li.event-row[data-event=%q] button.open-event`, id))))
	q.WaitFor("its checklist", fmt.Sprintf(`document.querySelector(%q)`, itemSel("emergency_drill")), stepWait)
	// The commander's item by the commander's name, not the user id (GET /api/v1/users/names).
	if got := browsertest.Eval[string](q, fmt.Sprintf(`document.querySelector(%q).textContent`, itemSel("responsibility_commitment")+" .who")); !strings.HasPrefix(got, "王指挥 于 ") {
		t.Errorf("the inspector sees the commitment recorded by %q, want 王指挥 于 …", got)
	}
	if n := browsertest.Eval[int](q, `document.querySelectorAll('#tab-events button.phase-to').length`); n != 0 {
		t.Errorf("an inspector is offered %d phase buttons (only commanders move phases)", n)
	}
	openRecord(q, "emergency_drill")
	q.Do(chromedp.Click(chromedp.CSS(itemSel("emergency_drill") + ` button.record-item`)))
	q.WaitFor("the drill done", fmt.Sprintf(`document.querySelector(%q).dataset.done === '1'`, itemSel("emergency_drill")), stepWait)
	openRecord(q, "health_certificate")
	row := itemSel("health_certificate") + ` .staff-row[data-i="0"]`
	q.Do(chromedp.SendKeys(chromedp.CSS(row+` input[name=staff-name]`), "张红梅"))
	q.Do(chromedp.SendKeys(chromedp.CSS(row+` input[name=staff-post]`), "厨师"))
	setField(q, row+` input[name=staff-until]`, today.AddDate(1, 0, 0).Format(time.DateOnly))
	q.Screenshot("event-phone-certificates")
	noSidewaysOverflow(t, q, "the readiness checklist on the phone")
	q.Do(chromedp.Click(chromedp.CSS(itemSel("health_certificate") + ` button.record-item`)))
	q.WaitFor("the certificates done: 3/3", fmt.Sprintf(`document.querySelector(%q).dataset.done === '1' && document.querySelector('#tab-events details.checklist summary').textContent.endsWith('3/3')`, itemSel("health_certificate")), stepWait)
	q.Screenshot("event-phone-ready")

	// Back at the desk: the gate opens.
	p.WaitFor("the desk sees 3/3", `document.querySelector('#tab-events .readiness-bar').dataset.ready === '1'`, stepWait)
	p.Do(chromedp.Click(chromedp.CSS(`#tab-events button.phase-to[data-to="ready"]`)))
	p.WaitFor("ready", `document.querySelector('#tab-events .event-card').dataset.phase === 'ready' && !document.querySelector('#tab-events .refused')`, stepWait)
	p.Do(chromedp.Click(chromedp.CSS(`#tab-events button.phase-to[data-to="whole_process"]`)))
	p.WaitFor("whole-process control, in the header", `document.querySelector('#tab-events .event-card').dataset.phase === 'whole_process' && document.querySelector('#event-phase').textContent.endsWith('全程防控')`, stepWait)
	p.Screenshot("event-live")

	ev, err := cmd.svc.Assure().Event(id)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Phase != assurance.PhaseWholeProcess || !ev.Readiness.Ready || ev.Filing.Headcount != 3000 || len(ev.Filing.Kitchens) != 1 || ev.Filing.Kitchens[0].ID != "K-MAIN" {
		t.Errorf("event %s ready %v filing %+v", ev.Phase, ev.Readiness.Ready, ev.Filing)
	}
	recs, err := cmd.svc.Assure().KitchenRecords(id)
	if err != nil || len(recs) != 1 {
		t.Fatalf("kitchen records %+v %v", recs, err)
	}
	r := recs[0]
	if r.Commitment.Ref != "承诺书 2026-118 号" || r.DrillAt.IsZero() || len(r.Staff) != 1 || r.Staff[0].Name != "张红梅" {
		t.Errorf("kitchen record %+v", r.KitchenReadiness)
	}
	who := map[assurance.ChecklistItem]string{}
	for _, e := range r.Log {
		who[e.Item] = e.Actor.UserID
	}
	if who[assurance.ItemCommitment] != commanderUser || who[assurance.ItemEmergencyDrill] != inspectorUser || who[assurance.ItemHealthCertificates] != inspectorUser {
		t.Errorf("recorded by %v", who)
	}
}

// openRecord opens a checklist item's record form with the button's own
// click, not a click at coordinates: the button may sit at the panel's
// bottom edge while the panel is still scrolling it into view (the
// coordinates then hit something else and the form never opens; CI saw
// this once). It waits for the form.
func openRecord(p *browsertest.Page, item string) {
	browsertest.Eval[bool](p, fmt.Sprintf(`document.querySelector(%q).click(), true`, itemSel(item)+` button.record-open`))
	p.WaitFor("the record form of "+item, fmt.Sprintf(`document.querySelector(%q)`, itemSel(item)+` button.record-item`), stepWait)
}
