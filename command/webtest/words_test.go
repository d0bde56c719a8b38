package webtest

import (
	"fmt"
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

// latinAllowed are the Latin words a zh-CN screen may show: standards,
// methods and units that are written this way in Chinese too, the
// language switch, and the coordinate systems' names.
var latinAllowed = []string{
	"ATP", "GB", "GC", "MS", "LC", "KJ", "RLU", "HACCP", "GMP", "PDF", "QR", "WGS", "GCJ", "BD", "English",
	"T", "C", "mg", "kg", "g", "KOH", "pH", "AMap", "Baidu", "Tencent", "ID",
	"CSV", "Excel", // file formats, named so in Chinese too (like PDF)
}

// scanWords is the page-side scan: every visible text node, the title,
// aria-label, placeholder and alt of every visible element, and the
// document title. Record numbers made for people (INC-20261202-0001,
// S-A-02, K-T-01, T-01) are not words. It returns "where: word in text".
const scanWords = `((allowed) => {
	const allow = new Set(allowed);
	const bad = [];
	const check = (where, s) => {
		if (!s) return;
		const cleaned = s.replace(/\b[A-Z]{1,4}(-[A-Z0-9]+)+\b/g, ' ').replace(/GB\/T/g, ' ').replace(/\b\d+(\.\d+)?\s*(°C|%)/g, ' ');
		for (const m of cleaned.matchAll(/[A-Za-z][A-Za-z0-9_.]*/g)) {
			const w = m[0].replace(/\.$/, '');
			if (allow.has(w) || /^[A-Z]\d?$/.test(w)) continue; // A区, B级, A4: a letter is not a word
			bad.push(where + ': ' + JSON.stringify(w) + ' in ' + JSON.stringify(s.trim().slice(0, 90)));
		}
	};
	const visible = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
	const name = (el) => el.id ? '#' + el.id : el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		const p = n.parentElement;
		if (!p || p.closest('script,style,noscript') || !visible(p)) continue;
		check(name(p), n.textContent);
	}
	for (const el of document.querySelectorAll('[title],[aria-label],[placeholder],[alt]')) {
		if (!visible(el)) continue;
		for (const a of ['title', 'aria-label', 'placeholder', 'alt']) check(name(el) + '[' + a + ']', el.getAttribute(a));
	}
	check('document.title', document.title);
	return [...new Set(bad)];
})`

// collectWords runs the scan in the page's current state.
func collectWords(p *browsertest.Page, where string, allowed []string) []string {
	list := "['" + strings.Join(allowed, "','") + "']"
	var out []string
	for _, b := range browsertest.Eval[[]string](p, scanWords+"("+list+")") {
		out = append(out, where+" → "+b)
	}
	return out
}

// TestWordsZH walks the command centre in zh-CN as a commander with
// incidents in every waiting state (待复测, repeat overdue, no team free,
// escalated), opening every tab (an event's card with its readiness
// checklists, the menu editor, the banquet filing form, the team editor
// and the chef filing form included), an incident, a stall popup and its
// detail, and the English switch back, and fails on any untranslated code
// (snake_case identifiers, Go durations such as "100ms") or English
// fragment on the screen: in visible text, titles, aria-labels and
// placeholders. It then checks the string tables themselves: every zh
// string of the page's table and every zh label the server sends, and the
// zh halves of the engine's and the API's message templates (alarms,
// alerts, incidents, refusals; templates_test.go).
func TestWordsZH(t *testing.T) {
	requireAssets(t)
	b := browsertest.Start(t)
	v := makeVenue()
	pc := assurance.DefaultConfig()
	pc.Incident.Deadlines[assurance.IncidentWarned] = time.Second
	pc.Incident.RepeatFirst.Within = time.Second
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Protocol: &pc, Tick: 200 * time.Millisecond}})
	token := seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam) // a team member, shown by name
	addTeams(t, cmd.svc)                                                         // off duty: nobody can be sent
	k := startKiosk(t, cmd.addr, "K-T-01", token)
	ev := fileChefsAndEvent(t, cmd.svc)

	p := b.NewPage(t)
	p.Do(chromedp.EmulateViewport(deskW, deskH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	p.WaitFor("the map", `document.body.dataset.state === 'app' && shian.linkState() === 'online'`, 10*time.Second)
	pos := k.measure(t, "S-B-03", "菠菜", dAPositive)
	k.measure(t, "S-A-02", "生菜", dASuspicious)
	k.measure(t, "S-C-05", "黄瓜", dANegative)
	waitStored(t, cmd.svc, pos)
	// Repeats overdue (1 s), no team free, then the warned deadline passes.
	p.WaitFor("the overdue and escalation alerts", `document.querySelector('#alerts li.alert[data-code="repeat_overdue"]') && document.querySelector('#alerts li.alert[data-code="incident_overdue"]')`, 15*time.Second)

	// Teams come on duty: the incidents are dispatched and stop escalating
	// (with a 1 s deadline they would raise a level every second).
	for _, id := range []string{nearTeam, farTeam} {
		if _, err := cmd.svc.Assure().SetDuty(id, true, assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	p.WaitFor("the incidents dispatched", `[...shian.app.panels.incidents.values()].every((i) => i.state === 'assigned')`, 10*time.Second)

	allowed := append([]string{commanderUser}, latinAllowed...)
	// Operator ids as the kiosk sends them ("op-wang"): shown in a
	// stall's history until the command knows its operators' names.
	allowed = append(allowed, "op", "wang")
	var bad []string
	for _, tab := range []string{"triage", "events", "menus", "banquets", "teams", "chefs", "credit", "results", "alerts", "incidents", "kiosks"} {
		openTab(p, tab)
		switch tab {
		case "events":
			p.WaitFor("the event list", fmt.Sprintf(`document.querySelector('#tab-events li.event-row[data-event=%q] button.open-event')`, ev.ID), stepWait)
			bad = append(bad, collectWords(p, tab, allowed)...)
			p.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tab-events li.event-row[data-event=%q] button.open-event`, ev.ID))))
			p.WaitFor("the event's card and checklist", `document.querySelector('#tab-events .event-card') && document.querySelector('#tab-events details.checklist')`, stepWait)
			browsertest.Eval[bool](p, `(document.querySelectorAll('#tab-events details').forEach((d) => (d.open = true)), true)`)
			p.Screenshot("words-events")
		case "menus":
			p.WaitFor("the kitchen's menu editor", `document.querySelector('#tab-menus .dish-row')`, stepWait)
		case "banquets":
			p.WaitFor("the banquet list", `document.querySelector('#tab-banquets button.new-banquet')`, stepWait)
			bad = append(bad, collectWords(p, tab, allowed)...)
			p.Do(chromedp.Click(chromedp.CSS(`#tab-banquets button.new-banquet`)))
			p.WaitFor("the filing form", `document.querySelector('#tab-banquets form.banquet-filing')`, stepWait)
		case "teams":
			p.WaitFor("the team cards with their load", `document.querySelector('#tab-teams li.team-card .load')`, stepWait)
			bad = append(bad, collectWords(p, tab, allowed)...)
			p.Do(chromedp.Click(chromedp.CSS(`#tab-teams li.team-card button.edit-team`)))
			p.WaitFor("the team form", `document.querySelector('#tab-teams form.team-form')`, stepWait)
		case "chefs":
			p.WaitFor("the chef register", `document.querySelector('#tab-chefs li.chef-row')`, stepWait)
			bad = append(bad, collectWords(p, tab, allowed)...)
			p.Do(chromedp.Click(chromedp.CSS(`#tab-chefs button.new-chef`)))
			p.WaitFor("the chef filing form", `document.querySelector('#tab-chefs form.chef-filing')`, stepWait)
		case "credit":
			// The list, then the record of the stall the positive moved.
			p.WaitFor("the credit accounts", `document.querySelector('#tab-credit li.credit-row[data-business="S-B-03"]')`, stepWait)
			bad = append(bad, collectWords(p, tab, allowed)...)
			browsertest.Eval[bool](p, `document.querySelector('#tab-credit li.credit-row[data-business="S-B-03"] button').click(), true`)
			p.WaitFor("the stall's ledger", `document.querySelector('#tab-credit li.ledger-line') && document.querySelector('#tab-credit form.credit-form')`, stepWait)
		}
		bad = append(bad, collectWords(p, tab, allowed)...)
	}
	p.Do(chromedp.Click(chromedp.CSS(`.map-legend button.legend-toggle`)))
	p.WaitFor("the legend open", `document.querySelector('.map-legend .legend-body')`, stepWait)
	bad = append(bad, collectWords(p, "legend", allowed)...)
	browsertest.Eval[bool](p, `document.querySelector('#to-exports').click(), true`)
	p.WaitFor("the export dialog", `document.querySelector('dialog.exports[open] li.ex-row')`, stepWait)
	bad = append(bad, collectWords(p, "exports", allowed)...)
	browsertest.Eval[bool](p, `document.querySelector('dialog.exports').close(), true`)
	p.Screenshot("words-alerts")
	// An incident, from its card.
	openTab(p, "triage")
	p.WaitFor("an incident card", `document.querySelector('#tab-triage li.triage-card[data-incident] button.open-incident')`, stepWait)
	p.Do(chromedp.Click(chromedp.CSS(`#tab-triage li.triage-card[data-incident] button.open-incident`)))
	p.WaitFor("the incident", `document.querySelector('#incident-detail').dataset.state`, stepWait)
	bad = append(bad, collectWords(p, "incident", allowed)...)
	p.Screenshot("words-incident")
	// A stall's popup and its detail with the history.
	browsertest.Eval[bool](p, `shian.app.openStall('S-B-03'), true`)
	p.WaitFor("the popup", `document.querySelector('.leaflet-popup .popup[data-stall-id="S-B-03"]')`, stepWait)
	bad = append(bad, collectWords(p, "popup", allowed)...)
	// The popup is rebuilt as the incident's escalations arrive (every
	// second here): the button's own click, not a click at coordinates.
	browsertest.Eval[bool](p, `document.querySelector('.leaflet-popup .popup button.history-link').click(), true`)
	p.WaitFor("the stall's history", `document.querySelector('#stall-detail table.history tbody tr')`, stepWait)
	bad = append(bad, collectWords(p, "stall detail", allowed)...)
	p.Screenshot("words-stall")

	// The string tables: every zh string of the page, every server label.
	tables := browsertest.EvalAsync[map[string]string](p, `import('/js/i18n.js').then((m) => {
		const out = {};
		for (const [k, v] of Object.entries(m.allStrings())) out['page ' + k] = v.zh;
		for (const [k, v] of Object.entries(m.allServerLabels())) out['label ' + k] = v.zh;
		return out;
	})`)
	if len(tables) < 300 {
		t.Fatalf("only %d strings in the tables; did the page load its tables?", len(tables))
	}
	word := regexp.MustCompile(`[A-Za-z][A-Za-z0-9_.]*`)
	placeholder := regexp.MustCompile(`\{\w+\}`)
	oneLetter := regexp.MustCompile(`^[A-Z]\d?$`) // A区, B级, A4
	allow := zhAllowed()
	record := regexp.MustCompile(`\b[A-Z]{1,4}(-[A-Z0-9]+)+\b|GB/T|/api/v1/\w+|shian-command`)
	for key, zh := range tables {
		if key == "page lang.switch" { // the button that switches to English says so in English
			continue
		}
		s := record.ReplaceAllString(placeholder.ReplaceAllString(zh, " "), " ")
		for _, w := range word.FindAllString(s, -1) {
			if !allow[strings.TrimSuffix(w, ".")] && !oneLetter.MatchString(w) {
				bad = append(bad, fmt.Sprintf("table %s: %q in %q", key, w, zh))
			}
		}
	}
	// The engine's and the API's message templates (alarms, alerts,
	// incidents, refusals): their zh halves.
	bad = append(bad, templateWords(t, allow)...)
	t.Logf("scanned %d table strings and 12 screens", len(tables))
	for _, b := range bad {
		t.Error(b)
	}
}

// zhAllowed is the Latin a zh-CN string table entry or message template
// may hold: latinAllowed, the map's base layer names and the instructions
// to an operator of the service, written this way in Chinese as well.
func zhAllowed() map[string]bool {
	allow := map[string]bool{}
	for _, w := range latinAllowed {
		allow[w] = true
	}
	for _, w := range []string{"make", "web", "build", "shian", "command", "POST", "api", "v1", "zones", "stalls", "JavaScript", "GC-MS", "HTTP"} {
		allow[w] = true
	}
	return allow
}

// fileChefsAndEvent files the chef register (an expired and a valid
// certificate) and an event in 30 days with its readiness checklist: what
// the events and chefs tabs show beyond the venue's own records.
func fileChefsAndEvent(t *testing.T, svc *command.Service) engine.EventView {
	t.Helper()
	for _, c := range []assurance.VillageChef{
		{ID: "VC-1", Name: "陈大厨", Phone: "13900001111", ServiceArea: "石港镇", Trainings: 1, Cert: assurance.HealthCertificate{Number: "JK-1", ValidUntil: assurance.DateOf(time.Now().AddDate(1, 0, 0))}},
		{ID: "VC-2", Name: "李师傅", Cert: assurance.HealthCertificate{Number: "JK-2", ValidUntil: assurance.DateOf(time.Now().AddDate(-1, 0, 0))}},
	} {
		if _, err := svc.Assure().PutChef(c, assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	// An event with its readiness checklist, for the events tab.
	first := assurance.DateOf(time.Now()).AddDays(30)
	ev, err := svc.Assure().FileEvent("", assurance.EventFiling{Name: "江海国际美食博览会", Organiser: assurance.Organiser{Name: "南通市商务局"},
		FirstDay: first, LastDay: first.AddDays(2), Headcount: 5000, Mode: assurance.SupervisionFull, NotifiedOn: first.AddDays(-40),
		Venues:   []assurance.Venue{{ID: "V-1", Name: "南通国际会展中心"}},
		Caterers: []assurance.Caterer{{ID: "C-1", Name: "南通江海餐饮管理有限公司"}},
		Kitchens: []assurance.Kitchen{{ID: "K-MAIN", Name: "主供餐点（中央厨房）", CatererID: "C-1", VenueID: "V-1"}}},
		assurance.Act{Actor: assurance.Actor{UserID: commanderUser, Role: assurance.RoleCommander}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
