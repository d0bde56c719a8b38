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

// The screenshot sizes of the issue: a commander's desktop and an
// inspector's phone.
const wideW, wideH = 1366, 768

// Hostile names: markup typed into a name field must come back as text.
const (
	hostileTeam      = `<b id="pwn-team">第三驻点组</b>`
	hostileInspector = `<img src=x id="pwn-user" onerror="window.pwned=1">赵监督`
	hostileChef      = `<script>window.pwned=1</script>张师傅`
)

// setValue sets a form field the way typing does (date inputs take their
// value in the browser's locale when typed; the value property is ISO).
func setValue(p *browsertest.Page, css, value string) {
	browsertest.Eval[bool](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, css, value))
}

// TestTeamsAndTheirLoad: the commander's teams screen at 1366×768 shows
// each team's members by name (never the user id), creates a stationed team
// from the form with a hostile name and a hostile-named inspector (both
// shown as text), and a team's load follows an incident assigned to it
// (live); the incident opened from the team's card names the least loaded
// team that may go. The inspector's phone (390×844) shows their own team
// first with the same load.
func TestTeamsAndTheirLoad(t *testing.T) {
	requireAssets(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addUser(t, cmd.svc, "zhao", hostileInspector, assurance.RoleInspector, "")
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addTeams(t, cmd.svc)
	admin := assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}
	for _, id := range []string{nearTeam, farTeam} {
		if _, err := cmd.svc.Assure().SetDuty(id, true, admin); err != nil {
			t.Fatal(err)
		}
	}

	p := browsertest.Start(t).NewPage(t)
	p.Do(chromedp.EmulateViewport(wideW, wideH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	openTab(p, "teams")
	card := func(id string) string { return fmt.Sprintf(`#tab-teams li.team-card[data-team=%q]`, id) }
	p.WaitFor("the team cards", fmt.Sprintf(`document.querySelector('%s') && document.querySelector('%s')`, card(nearTeam), card(farTeam)), stepWait)
	members := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s .members').textContent`, card(nearTeam)))
	if !strings.Contains(members, "李监督") || strings.Contains(members, inspectorUser) {
		t.Errorf("T-01's members read %q: want the display name 李监督, not the user id %s", members, inspectorUser)
	}
	if n := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s .load .incidents').dataset.n`, card(nearTeam))); n != "0" {
		t.Errorf("T-01 starts with %s open incidents, want 0", n)
	}

	// A new stationed team at the main kitchen, from the form.
	p.Do(chromedp.Click(chromedp.CSS(`#tab-teams button.new-team`)))
	p.WaitFor("the team form", `document.querySelector('#tab-teams form.team-form')`, stepWait)
	p.Do(chromedp.SendKeys(chromedp.CSS(`#tab-teams form.team-form input[name=id]`), "T-03"))
	p.Do(chromedp.SendKeys(chromedp.CSS(`#tab-teams form.team-form input[name=name]`), hostileTeam))
	p.Do(chromedp.SendKeys(chromedp.CSS(`#tab-teams form.team-form input[name=name_en]`), "Stationed team 3"))
	p.Do(chromedp.SetValue(chromedp.CSS(`#tab-teams form.team-form select[name=mode]`), "stationed"))
	browsertest.Eval[bool](p, `document.querySelector('#tab-teams form.team-form select[name=mode]').dispatchEvent(new Event('change')), true`)
	p.WaitFor("the kitchen picker", `document.querySelector('#tab-teams form.team-form select[name=kitchen_id] option[value="K-MAIN"]')`, stepWait)
	p.Do(chromedp.SetValue(chromedp.CSS(`#tab-teams form.team-form select[name=kitchen_id]`), "K-MAIN"))
	browsertest.Eval[bool](p, `document.querySelector('#tab-teams form.team-form select[name=kitchen_id]').dispatchEvent(new Event('change')), true`)
	p.Do(chromedp.Click(chromedp.CSS(`#tab-teams form.team-form label.member-pick[data-user="zhao"] input`)))
	p.Screenshot("teams-form-desktop")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-teams button.save-team`)))
	p.WaitFor("the new team's card", fmt.Sprintf(`document.querySelector('%s')`, card("T-03")), stepWait)
	if got := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s .team-name').textContent`, card("T-03"))); got != hostileTeam {
		t.Errorf("the new team's name reads %q, want the typed text %q", got, hostileTeam)
	}
	if browsertest.Eval[bool](p, `!!document.querySelector('#pwn-team, #pwn-user') || !!window.pwned`) {
		t.Error("a hostile name became markup")
	}
	if got := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s .members').textContent`, card("T-03"))); !strings.Contains(got, hostileInspector) {
		t.Errorf("T-03's members read %q, want the display name as text", got)
	}
	tm, err := cmd.svc.Assure().Team("T-03")
	if err != nil {
		t.Fatal(err)
	}
	if tm.Mode != engine.ModeStationed || tm.KitchenID != "K-MAIN" || len(tm.Members) != 1 || tm.Members[0] != "zhao" || tm.Home == nil || !tm.OnDuty {
		t.Errorf("T-03 saved as %+v", tm)
	}

	// A complaint about a stall is dispatched to the nearest free team:
	// that team's load shows it without a reload.
	inc, err := cmd.svc.Assure().OpenIncident(assurance.Trigger{Kind: assurance.TriggerComplaint, SubjectID: "S-C-03", Description: "投诉：凉菜异味"},
		assurance.Act{Actor: assurance.Actor{UserID: commanderUser, Role: assurance.RoleCommander}})
	if err != nil {
		t.Fatal(err)
	}
	if inc.TeamID == "" {
		t.Fatalf("the complaint was not dispatched (state %s)", inc.State)
	}
	other := farTeam
	if inc.TeamID == farTeam {
		other = nearTeam
	}
	p.WaitFor("the assigned team's load", fmt.Sprintf(`(() => { const c = document.querySelector('%s');
		return c && c.dataset.status === 'busy' && c.querySelector('.load .incidents').dataset.n === '1' && c.querySelector('button.open-incident[data-incident=%q]'); })()`, card(inc.TeamID), inc.ID), stepWait)
	p.Screenshot("teams-load-desktop")
	noSidewaysOverflow(t, p, "the teams screen")
	p.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`%s button.open-incident`, card(inc.TeamID)))))
	p.WaitFor("the incident with the least loaded team", fmt.Sprintf(`(() => { const h = document.querySelector('#incident-detail .least-loaded'); return h && h.dataset.team === %q; })()`, other), stepWait)
	p.Screenshot("teams-incident-least-loaded")

	// The inspector's phone: their team first, with its load.
	q := browsertest.Start(t).NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	openTab(q, "teams")
	q.WaitFor("my team first", `document.querySelector('#tab-teams ul.team-list.mine li.team-card[data-team="T-01"]')`, stepWait)
	want := "0"
	if inc.TeamID == nearTeam {
		want = "1"
	}
	if n := browsertest.Eval[string](q, `document.querySelector('#tab-teams ul.team-list.mine .load .incidents').dataset.n`); n != want {
		t.Errorf("the inspector's team shows %s open incidents, want %s", n, want)
	}
	if browsertest.Eval[bool](q, `!!document.querySelector('#tab-teams button.new-team, #tab-teams button.edit-team')`) {
		t.Error("an inspector is offered to create or edit teams")
	}
	if !browsertest.Eval[bool](q, `!!document.querySelector('#tab-teams ul.team-list.mine button.duty-team')`) {
		t.Error("the inspector cannot put their own team off duty")
	}
	q.Screenshot("teams-phone")
	noSidewaysOverflow(t, q, "the inspector's teams screen")
}

// TestChefRegister: a village chef is filed from the register's form with
// an expired health certificate and a hostile name (shown as text, flagged
// expired, unfit today), appears in the list and is found by the search;
// a chef named by a banquet's filing links to it, and the link opens the
// banquet's card. Desktop 1366×768 and phone 390×844.
func TestChefRegister(t *testing.T) {
	requireAssets(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)
	a := cmd.svc.Assure()
	commander := assurance.Actor{UserID: commanderUser, Role: assurance.RoleCommander}
	if _, err := a.PutChef(assurance.VillageChef{ID: "VC-0001", Name: "陈大厨", Phone: "13900001111", ServiceArea: "石港镇 渔湾村",
		Cert: assurance.HealthCertificate{Number: "JK-2026-0001", ValidUntil: assurance.DateOf(time.Now().AddDate(1, 0, 0))}, Trainings: 2,
		LastTrained: assurance.DateOf(time.Now().AddDate(0, -1, 0))}, commander); err != nil {
		t.Fatal(err)
	}
	day := assurance.DateOf(time.Now().AddDate(0, 0, 5))
	bq, _, err := a.FileBanquet("BQ-T-1", assurance.BanquetFiling{Town: "石港镇", Village: "渔湾村", Host: assurance.Host{Name: "陈建国", Phone: "13912345678"},
		Type: "wedding", Place: "陈家院内", Sittings: []assurance.Sitting{{Date: day, Meal: assurance.MealLunch}}, Headcount: 30, ChefSource: "hired_chef",
		Cooks: []assurance.BanquetCook{{Name: "陈大厨", Role: "cook", ChefID: "VC-0001", Cert: assurance.CertValid}}}, assurance.Act{Actor: commander})
	if err != nil {
		t.Fatal(err)
	}

	p := browsertest.Start(t).NewPage(t)
	p.Do(chromedp.EmulateViewport(wideW, wideH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	openTab(p, "chefs")
	p.WaitFor("the register", `document.querySelector('#tab-chefs li.chef-row[data-chef="VC-0001"]')`, stepWait)
	p.Do(chromedp.Click(chromedp.CSS(`#tab-chefs button.new-chef`)))
	p.WaitFor("the filing form", `document.querySelector('#tab-chefs form.chef-filing')`, stepWait)
	form := `#tab-chefs form.chef-filing `
	p.Do(chromedp.SendKeys(chromedp.CSS(form+`input[name=name]`), hostileChef))
	p.Do(chromedp.SendKeys(chromedp.CSS(form+`input[name=phone]`), "138 1234 5678"))
	p.Do(chromedp.SendKeys(chromedp.CSS(form+`input[name=service_area]`), "三余镇 东灶村"))
	p.Do(chromedp.SendKeys(chromedp.CSS(form+`input[name=number]`), "JK-2019-0420"))
	setValue(p, form+`input[name=issued_on]`, "2019-03-01")
	setValue(p, form+`input[name=valid_until]`, "2020-02-29")
	p.Screenshot("chefs-form-desktop")
	p.Do(chromedp.Click(chromedp.CSS(`#tab-chefs button.save-chef`)))
	p.WaitFor("the filed chef listed", `document.querySelectorAll('#tab-chefs li.chef-row').length === 2`, stepWait)
	var id string
	for _, c := range mustChefs(t, cmd.svc) {
		if c.Name == hostileChef {
			id = c.ID
			if c.Phone != "13812345678" || c.ServiceArea != "三余镇 东灶村" || c.VillageChef.Cert.Number != "JK-2019-0420" || c.VillageChef.Cert.ValidUntil.String() != "2020-02-29" || c.CertState != assurance.CertExpired || c.FitToday {
				t.Errorf("filed as %+v", c)
			}
		}
	}
	if id == "" {
		t.Fatal("the chef filed from the screen is not in the register")
	}
	row := fmt.Sprintf(`#tab-chefs li.chef-row[data-chef=%q]`, id)
	if got := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s .chef-name').textContent`, row)); got != hostileChef {
		t.Errorf("the chef's name reads %q, want the typed text", got)
	}
	if browsertest.Eval[bool](p, `!!window.pwned || !!document.querySelector('#tab-chefs script')`) {
		t.Error("a hostile chef name became markup")
	}
	if got := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s').dataset.cert + ' ' + document.querySelector('%s .state-chip').textContent`, row, row)); got != "cert_expired 健康证明：过期" {
		t.Errorf("the expired chef's flag reads %q", got)
	}
	if got := browsertest.Eval[string](p, `document.querySelector('#tab-chefs .chef-count').textContent`); got != "共 2 人，健康证明过期或缺失 1 人" {
		t.Errorf("count line %q", got)
	}
	p.Screenshot("chefs-list-desktop")
	noSidewaysOverflow(t, p, "the chef register")

	// The search: by town, then by certificate number.
	p.Do(chromedp.SendKeys(chromedp.CSS(`#tab-chefs input.chef-search`), "石港"))
	p.WaitFor("only the 石港镇 chef", `document.querySelectorAll('#tab-chefs li.chef-row').length === 1 && document.querySelector('#tab-chefs li.chef-row[data-chef="VC-0001"]')`, stepWait)
	setValue(p, `#tab-chefs input.chef-search`, "jk-2019")
	p.WaitFor("found by certificate number", fmt.Sprintf(`document.querySelectorAll('#tab-chefs li.chef-row').length === 1 && document.querySelector('%s')`, row), stepWait)
	setValue(p, `#tab-chefs input.chef-search`, "")

	// The banquet the registered chef cooks, from the register.
	link := `#tab-chefs li.chef-row[data-chef="VC-0001"] button.open-banquet[data-banquet="BQ-T-1"]`
	p.WaitFor("the chef's banquet", fmt.Sprintf(`document.querySelector('%s')`, link), stepWait)
	if got := browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector('%s').textContent`, link)); got != day.String()+" · 陈建国 · 婚宴 · "+labelZH(t, string(bq.State)) {
		t.Errorf("the banquet link reads %q", got)
	}
	p.Do(chromedp.Click(chromedp.CSS(link)))
	p.WaitFor("the banquet's card", `!document.querySelector('#tab-banquets').hidden && document.querySelector('#tab-banquets .banquet-card[data-banquet="BQ-T-1"]')`, stepWait)

	// The inspector's phone: the register, and a training counted.
	q := browsertest.Start(t).NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	openTab(q, "chefs")
	q.WaitFor("the register", fmt.Sprintf(`document.querySelector('%s')`, row), stepWait)
	q.Do(chromedp.Click(chromedp.CSS(row + ` button.chef-training`)))
	q.WaitFor("one training counted", fmt.Sprintf(`document.querySelector('%s .trained').textContent.startsWith('培训 1 次')`, row), stepWait)
	q.Screenshot("chefs-phone")
	noSidewaysOverflow(t, q, "the chef register on a phone")

	// A banquet filed from the screen with the registered chef typed as
	// its cook is linked to the register.
	openTab(q, "banquets")
	q.WaitFor("the banquet list", `document.querySelector('#tab-banquets button.new-banquet')`, stepWait)
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.new-banquet`)))
	q.WaitFor("the filing form with the register", `document.querySelector('#tab-banquets form.banquet-filing datalist#bq-chef-names option[value="陈大厨"]')`, stepWait)
	fill(q, "town", "石港镇")
	fill(q, "village", "渔湾村")
	fill(q, "host", "陈小红")
	fill(q, "phone", "13912340000")
	fill(q, "place", "村文化礼堂")
	fill(q, "headcount", "40")
	q.Do(chromedp.SendKeys(chromedp.CSS(`#tab-banquets .cook-row[data-i="0"] input[name=cook]`), "陈大厨"))
	q.WaitFor("the cook linked to the register", `(() => { const m = document.querySelector('#tab-banquets .cook-row[data-i="0"] .registered'); return m && !m.hidden && m.dataset.chef === 'VC-0001'; })()`, stepWait)
	q.Screenshot("banquet-filing-registered-chef")
	noSidewaysOverflow(t, q, "the banquet filing form with a registered chef")
	q.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.file-banquet`)))
	q.WaitFor("filed", `document.querySelector('#tab-banquets .banquet-card')`, stepWait)
	openTab(q, "chefs")
	q.WaitFor("the chef's two banquets", `document.querySelectorAll('#tab-chefs li.chef-row[data-chef="VC-0001"] button.open-banquet').length === 2`, stepWait)
}

func mustChefs(t *testing.T, svc *command.Service) []engine.ChefView {
	t.Helper()
	cs, err := svc.Assure().Chefs()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func labelZH(t *testing.T, id string) string {
	t.Helper()
	l, ok := assurance.LabelOf(id)
	if !ok {
		t.Fatalf("no label for %s", id)
	}
	return l.ZH
}
