package webtest

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// screenSizes are the screens the command's pages are opened on: the
// command centre's desktop, an inspector's phone, and the two kiosk-sized
// panels (800×480, 1024×600) an event kitchen mounts on the wall.
var screenSizes = []struct {
	name string
	w, h int64
}{{"desktop", deskW, deskH}, {"phone", phoneW, phoneH}, {"kiosk-800", 800, 480}, {"kiosk-1024", 1024, 600}}

// TestEveryScreenAtEverySize opens every tab of the command centre (as a
// commander, and as an inspector for the phone's own tabs) and every other
// page (admin, daily report, emergency log, a stall's public page) at each
// of screenSizes, saves a screenshot of each as a CI artifact, and fails
// when a page is wider than its screen or a tab opens empty. It is the
// walk the screenshots in a closing note come from: a new tab is in it
// without a line here, since it asks the page for its tabs.
func TestEveryScreenAtEverySize(t *testing.T) {
	requireAssets(t)
	b := browsertest.Start(t)
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
	token := seed(t, cmd.svc, makeVenue())
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)
	k := startKiosk(t, cmd.addr, "K-T-01", token)
	ev := fileChefsAndEvent(t, cmd.svc)
	waitStored(t, cmd.svc, k.measure(t, "S-B-03", "菠菜", dAPositive))
	k.measure(t, "S-C-05", "黄瓜", dANegative)
	day := ev.Filing.FirstDay.String() // the report and the duty log are of an event's day

	// The tabs a user's page offers, in its order.
	const tabsJS = `[...document.querySelectorAll('[role=tab][data-tab]')].filter((b) => !b.hidden && b.getClientRects().length > 0 && b.dataset.tab !== 'stall').map((b) => b.dataset.tab)`
	shots := 0
	walk := func(user, password string, sizes []string) {
		p := b.NewPage(t)
		p.Do(chromedp.EmulateViewport(deskW, deskH))
		login(p, cmd.url(), user, password)
		defer logout(p)
		p.WaitFor("the map", `document.body.dataset.state === 'app'`, 10*time.Second)
		for _, sz := range screenSizes {
			if !slices.Contains(sizes, sz.name) {
				continue
			}
			p.Do(chromedp.EmulateViewport(sz.w, sz.h))
			p.Do(chromedp.Navigate(cmd.url()))
			p.WaitFor("the map at "+sz.name, `document.body.dataset.state === 'app' && document.querySelector('#app').dataset.ready === '1'`, 10*time.Second)
			tabs := browsertest.Eval[[]string](p, tabsJS)
			if len(tabs) < 3 {
				t.Fatalf("%s at %s: only the tabs %v", user, sz.name, tabs)
			}
			p.Screenshot(fmt.Sprintf("%s-%s-map", user, sz.name))
			shots++
			noSidewaysOverflow(t, p, user+" map at "+sz.name)
			if sz.h <= 620 {
				// A short screen folds the filters behind their button:
				// open, they fit on the screen over the map, and the map
				// keeps most of the height.
				if h := browsertest.Eval[float64](p, `document.querySelector('.leaflet-container').getBoundingClientRect().height`); h < float64(sz.h)*0.6 {
					t.Errorf("%s at %s: the map is %.0f px of %d", user, sz.name, h, sz.h)
				}
				browsertest.Eval[bool](p, `document.querySelector('.filters-toggle').click(), true`)
				p.WaitFor("the filters open", `(() => { const r = document.querySelector('.filter-fields').getBoundingClientRect(); return r.height > 0 && r.left >= 0 && r.right <= innerWidth && r.bottom <= innerHeight; })()`, stepWait)
				p.Screenshot(fmt.Sprintf("%s-%s-filters", user, sz.name))
				shots++
				browsertest.Eval[bool](p, `document.querySelector('.filters-toggle').click(), true`)
			}
			for _, tab := range tabs {
				openTab(p, tab)
				// The panel shows some text (its rows, or its empty-state
				// line) before it is judged.
				p.WaitFor("the "+tab+" tab drawn", fmt.Sprintf(`(() => { const el = document.querySelector('#tab-%s'); return el && el.getBoundingClientRect().height > 0 && el.textContent.trim().length > 0; })()`, tab), stepWait)
				// On a phone the panel is under the map: scroll to it, as
				// its user would, so the screenshot shows the tab.
				browsertest.Eval[bool](p, fmt.Sprintf(`document.querySelector('#tab-%s').scrollIntoView({block: 'start'}), true`, tab))
				p.Screenshot(fmt.Sprintf("%s-%s-%s", user, sz.name, tab))
				shots++
				noSidewaysOverflow(t, p, fmt.Sprintf("%s %s tab at %s", user, tab, sz.name))
			}
			// A stall's popup and its detail.
			browsertest.Eval[bool](p, `(scrollTo(0, 0), true)`)
			browsertest.Eval[bool](p, `shian.app.openStall('S-B-03'), true`)
			p.WaitFor("the popup, faded in", `(() => { const el = document.querySelector('.leaflet-popup .popup[data-stall-id="S-B-03"]'); return el && getComputedStyle(el.closest('.leaflet-popup')).opacity === '1'; })()`, stepWait)
			p.Screenshot(fmt.Sprintf("%s-%s-popup", user, sz.name))
			shots++
		}
	}
	all := []string{"desktop", "phone", "kiosk-800", "kiosk-1024"}
	walk(commanderUser, peoplePassword, all)
	walk(inspectorUser, peoplePassword, []string{"desktop", "phone"})

	// The pages beside the command centre, as the admin.
	p := b.NewPage(t)
	login(p, cmd.url(), adminUser, adminPassword)
	p.WaitFor("the map", `document.body.dataset.state === 'app'`, 10*time.Second)
	pages := []struct{ name, path, ready string }{
		{"admin", "admin.html", `document.body.dataset.state === 'ready' && document.querySelector('#users tbody tr')`},
		{"report", fmt.Sprintf("report.html?event=%s&date=%s", ev.ID, day), `document.body.dataset.state === 'ready'`},
		{"emergency", fmt.Sprintf("emergency.html?event=%s&date=%s", ev.ID, day), `document.body.dataset.state === 'ready'`},
	}
	label, err := url.Parse(api.LabelContent("http://"+cmd.addr, "S-B-03"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, struct{ name, path, ready string }{"public", label.RequestURI()[1:], `document.body.dataset.state === 'ready'`})
	for _, sz := range screenSizes {
		p.Do(chromedp.EmulateViewport(sz.w, sz.h))
		for _, pg := range pages {
			p.Do(chromedp.Navigate(cmd.url() + pg.path))
			p.WaitFor("the "+pg.name+" page at "+sz.name, pg.ready, 10*time.Second)
			p.Screenshot(fmt.Sprintf("page-%s-%s", pg.name, sz.name))
			shots++
			noSidewaysOverflow(t, p, pg.name+" page at "+sz.name)
		}
	}
	logout(p)
	t.Logf("%d screenshots", shots)
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %v", ex)
	}
}

// logout ends the page's session: the browser's pages share one cookie
// jar, so the next user's login starts from the form.
func logout(p *browsertest.Page) {
	browsertest.EvalAsync[bool](p, `fetch('/api/v1/logout', {method: 'POST', headers: {'Content-Type': 'application/json'}}).then(() => true)`)
}
