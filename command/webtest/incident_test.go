package webtest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// More test users: a commander at the wall screen and an inspector of
// patrol team T-01 on a phone.
const (
	commanderUser   = "zhihui"
	inspectorUser   = "jiandu"
	peoplePassword  = "food-safety-2026"
	nearTeam        = "T-01"
	farTeam         = "T-02"
	nearTeamName    = "第一巡查组"
	phoneW, phoneH  = 390, 844
	stepWait        = 5 * time.Second
	evidencePNGName = "disposal.png"
)

// addUser creates a user with a role and, for an inspector, a team.
func addUser(t testing.TB, svc *command.Service, name, display string, role assurance.Role, team string) {
	t.Helper()
	if err := svc.Auth().CreateUser(name, display, role, peoplePassword); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if team != "" {
		if _, err := store.Modify(svc.Store(), "user", name, func(u *store.User) error { u.TeamID = team; return nil }); err != nil {
			t.Fatalf("team of %s: %v", name, err)
		}
	}
}

// addTeams files two patrol teams, off duty: T-01 based beside zone C,
// T-02 at the far end of the venue.
func addTeams(t testing.TB, svc *command.Service) {
	t.Helper()
	admin := assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}
	for _, tm := range []engine.Team{
		{ID: nearTeam, Name: nearTeamName, NameEN: "Patrol team 1", Mode: engine.ModePatrol, Members: []string{inspectorUser},
			Home: &assurance.Point{Lon: venueLon - 0.0010, Lat: venueLat - 0.0022}},
		{ID: farTeam, Name: "第二巡查组", NameEN: "Patrol team 2", Mode: engine.ModePatrol,
			Home: &assurance.Point{Lon: venueLon + 0.0040, Lat: venueLat + 0.0024}},
	} {
		if _, err := svc.Assure().PutTeam(tm, admin); err != nil {
			t.Fatalf("team %s: %v", tm.ID, err)
		}
	}
}

// login fills the login form.
func login(p *browsertest.Page, url, user, password string) {
	p.Do(chromedp.Navigate(url))
	p.WaitFor("the login form", `document.body.dataset.state === 'login'`, 10*time.Second)
	p.Do(chromedp.SendKeys(chromedp.CSS("#login-user"), user), chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")))
}

// photo writes a small PNG (a stand-in for a phone photo) and returns its path.
func photo(t testing.TB, name string, c color.RGBA) string {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{c.R, c.G, uint8(c.B + uint8(x)), 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// step opens a step's form in the incident panel.
func openStep(p *browsertest.Page, to string) {
	sel := fmt.Sprintf(`#incident-detail .step-buttons button[data-step=%q]`, to)
	p.WaitFor("the step "+to+" offered", fmt.Sprintf(`document.querySelector(%q)`, sel), stepWait)
	p.Do(chromedp.Click(chromedp.CSS(sel)))
	p.WaitFor("the form of "+to, fmt.Sprintf(`document.querySelector('#incident-detail form.step-form[data-step=%q]')`, to), stepWait)
}

// submitStep submits the open form and waits for the incident to reach state.
func submitStep(p *browsertest.Page, to, state string) {
	p.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#incident-detail form.step-form[data-step=%q] button[type=submit]`, to))))
	p.WaitFor("the incident "+state, fmt.Sprintf(`document.querySelector('#incident-detail').dataset.state === %q && !document.querySelector('#incident-detail form.step-form')`, state), stepWait)
}

// TestIncidentFromMap runs one positive through the closed loop from the
// map: the alert rings (once sound is enabled by a click) and the stall
// flashes; the commander acknowledges the alert, opens the incident from
// it and assigns the nearest team, with its distance shown; the team's
// inspector, on a phone, sees the task first and advances it on site,
// sealed, (a refused disposal: the re-test window is open), sent to the
// lab, confirmed with the lab report, disposed with a photo; the
// commander signs it off (销号) and closes it. Filters then change what
// the map shows.
func TestIncidentFromMap(t *testing.T) {
	requireAssets(t)
	wall := browsertest.Start(t)
	phone := browsertest.Start(t)
	v := makeVenue()
	// Dispatch only from the map: the engine's loop would otherwise send
	// a team as soon as one is on duty.
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	token := seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, nearTeam)
	addTeams(t, cmd.svc)
	k := startKiosk(t, cmd.addr, "K-T-01", token)

	// --- the commander at the wall screen ---
	p := wall.NewPage(t)
	login(p, cmd.url(), commanderUser, peoplePassword)
	p.WaitFor("the map and the teams", `document.body.dataset.state === 'app' && shian.linkState() === 'online' && document.querySelectorAll('.team-icon .team').length === 2`, 10*time.Second)
	// The login click was a user gesture: sound is enabled and shown so.
	p.WaitFor("sound enabled by the first click", `shian.sound().state === 'on' && document.querySelector('#sound').dataset.state === 'on'`, 2*time.Second)
	if got := browsertest.Eval[string](p, `document.querySelector('#sound').textContent`); got != "提示音已开启" {
		t.Errorf("sound button says %q", got)
	}

	// --- a positive: alert, tone, flash ---
	pos := k.measure(t, "S-C-03", "小白菜", dAPositive)
	took := p.WaitFor("the positive with its tone and flash", `shian.stallVerdict('S-C-03') === 'positive' && document.querySelector('.halo.flash[data-site="S-C-03"]') && shian.sound().beeps >= 1`, liveWait)
	took2 := p.WaitFor("the incident's warning in the alerts", `document.querySelector('#alerts li.alert.open[data-code="incident_warned"]')`, stepWait)
	t.Logf("positive on the map %s after saving, its alert %s later", took.Round(time.Millisecond), took2.Round(time.Millisecond))
	incID := browsertest.Eval[string](p, `document.querySelector('#alerts li.alert[data-code="incident_warned"]').dataset.incident`)
	t.Logf("incident %s opened for result %s; sound %v", incID, pos.ResultID, browsertest.Eval[map[string]any](p, `shian.sound()`))
	p.WaitFor("the incident tag on the map", fmt.Sprintf(`document.querySelector('.incident-icon .inc[data-incident=%q][data-state="warned"]')`, incID), liveWait)
	p.Do(chromedp.Click(chromedp.CSS(`[role=tab][data-tab=alerts]`)))
	p.Screenshot("positive-alert")

	// Acknowledge: the alert stays in the list, marked, and the badge drops.
	openBefore := browsertest.Eval[string](p, `document.querySelector('#alerts-badge').textContent`)
	p.Do(chromedp.Click(chromedp.CSS(`#alerts li.alert[data-code="incident_warned"] button.ack`)))
	p.WaitFor("the alert acknowledged and still listed", `document.querySelector('#alerts li.alert.acked[data-code="incident_warned"]') && document.querySelector('#alerts li.alert[data-code="incident_warned"] .state').textContent.includes('已确认')`, stepWait)
	if after := browsertest.Eval[string](p, `document.querySelector('#alerts-badge').textContent`); after == openBefore {
		t.Errorf("open-alert badge still %q after the acknowledgement", after)
	}
	if as, _ := cmd.svc.Store().Alarms(50, true); containsCode(as, "incident_warned") {
		t.Errorf("the store still has the warning open after the acknowledgement")
	}

	// Teams come on duty; the commander opens the incident from the alert.
	for _, id := range []string{nearTeam, farTeam} {
		if _, err := cmd.svc.Assure().SetDuty(id, true, assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	p.Do(chromedp.Click(chromedp.CSS(`#alerts li.alert[data-code="incident_warned"] button.open-incident`)))
	p.WaitFor("the incident in the panel", fmt.Sprintf(`document.querySelector('#incident-detail').dataset.incident === %q && document.querySelector('#incident-detail').dataset.state === 'warned'`, incID), stepWait)
	openStep(p, "assigned")
	p.WaitFor("the nearest team with its distance", `document.querySelector('#incident-detail button.nearest')`, stepWait)
	nearest := browsertest.Eval[string](p, `document.querySelector('#incident-detail button.nearest').textContent`)
	if !strings.Contains(nearest, nearTeamName) || !strings.Contains(nearest, "米") {
		t.Errorf("nearest button = %q, want %s with a distance in metres", nearest, nearTeamName)
	}
	t.Logf("nearest: %s; list: %s", nearest, browsertest.Eval[string](p, `[...document.querySelectorAll('#incident-detail .nearest-list li')].map(li => li.innerText.replace(/\s+/g, ' ')).join(' | ')`))
	p.Screenshot("assign-nearest")
	p.Do(chromedp.Click(chromedp.CSS(`#incident-detail button.nearest`)))
	p.WaitFor("assigned to the nearest team", `document.querySelector('#incident-detail').dataset.state === 'assigned' && document.querySelector('#incident-detail .dispatches li[data-team="T-01"]')`, stepWait)
	p.WaitFor("the team busy on the map with a line to the stall", `document.querySelector('.team-icon .team[data-team="T-01"][data-status="busy"]') && document.querySelector('.leaflet-overlay-pane path[stroke-dasharray], .leaflet-overlay-pane canvas')`, stepWait)

	// --- the inspector on a phone ---
	q := phone.NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	q.WaitFor("the team's task first", fmt.Sprintf(`document.body.dataset.state === 'app' && !document.querySelector('#tab-tasks').hidden && document.querySelector('#tasks li.incident[data-incident=%q]')`, incID), 10*time.Second)
	q.Screenshot("phone-tasks")
	noSidewaysOverflow(t, q, "the inspector's phone")
	q.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tasks li.incident[data-incident=%q]`, incID))))
	q.WaitFor("the incident on the phone", fmt.Sprintf(`document.querySelector('#incident-detail').dataset.incident === %q`, incID), stepWait)
	if got := browsertest.Eval[[]string](q, `[...document.querySelectorAll('#incident-detail .step-buttons button')].map(b => b.dataset.step)`); strings.Join(got, ",") != "on_site,waiver" {
		t.Errorf("steps offered to the inspector in assigned = %v, want on_site and the waiver (not reassign: commanders only)", got)
	}
	openStep(q, "on_site")
	submitStep(q, "on_site", "on_site")
	openStep(q, "controlled")
	submitStep(q, "controlled", "controlled")

	// Disposal now is refused by the server: the 4-hour re-test window.
	openStep(q, "disposed")
	q.Do(chromedp.SetUploadFiles(chromedp.CSS(`#incident-detail form[data-step=disposed] input[type=file]`), []string{photo(t, "early.png", color.RGBA{200, 80, 0, 255})}))
	q.Do(chromedp.Click(chromedp.CSS(`#incident-detail form[data-step=disposed] button[type=submit]`)))
	q.WaitFor("the refusal, explained", `document.querySelector('#incident-detail .api-error[data-rule="retest_window_open"]')`, stepWait)
	refusal := browsertest.Eval[string](q, `document.querySelector('#incident-detail .api-error').innerText`)
	if !strings.Contains(refusal, "复检申请期") || !strings.Contains(refusal, "re-test") {
		t.Errorf("refusal = %q, want the zh-CN rule and the server's detail", refusal)
	}
	q.Screenshot("phone-refused")
	q.Do(chromedp.Click(chromedp.CSS(`#incident-detail form[data-step=disposed] .link-button`)))

	openStep(q, "lab_sent")
	q.Do(chromedp.SendKeys(chromedp.CSS(`#incident-detail form[data-step=lab_sent] input[name=lab]`), "南通市食品药品监督检验中心"),
		chromedp.SendKeys(chromedp.CSS(`#incident-detail form[data-step=lab_sent] input[name=sample_id]`), "NT-2026-0042"))
	submitStep(q, "lab_sent", "lab_sent")
	openStep(q, "confirmed_positive")
	q.Do(chromedp.SetUploadFiles(chromedp.CSS(`#incident-detail form[data-step=confirmed_positive] input[type=file]`), []string{photo(t, "lab-report.png", color.RGBA{240, 240, 240, 255})}))
	submitStep(q, "confirmed_positive", "confirmed_positive")
	openStep(q, "disposed")
	q.Do(chromedp.SetUploadFiles(chromedp.CSS(`#incident-detail form[data-step=disposed] input[type=file]`), []string{photo(t, evidencePNGName, color.RGBA{30, 120, 40, 255})}),
		chromedp.SendKeys(chromedp.CSS(`#incident-detail form[data-step=disposed] textarea`), "整批 12 kg 销毁"))
	submitStep(q, "disposed", "disposed")
	q.WaitFor("the evidence shown", `document.querySelectorAll('#incident-detail .thumbs .thumb img').length === 3`, stepWait)
	if got := browsertest.Eval[[]string](q, `[...document.querySelectorAll('#incident-detail .step-buttons button')].map(b => b.dataset.step)`); len(got) != 0 {
		t.Errorf("the inspector is offered %v after disposal; sign-off is the commander's", got)
	}
	q.WaitFor("thumbnails loaded", `[...document.querySelectorAll('#incident-detail .thumbs img')].every(i => i.complete && i.naturalWidth > 0)`, stepWait)
	q.Screenshot("phone-disposed")

	// --- the commander signs off (销号) and closes ---
	p.WaitFor("the wall screen follows live", `document.querySelector('#incident-detail').dataset.state === 'disposed'`, liveWait)
	openStep(p, "signed_off")
	submitStep(p, "signed_off", "signed_off")
	openStep(p, "closed")
	submitStep(p, "closed", "closed")
	p.WaitFor("the tag gone from the map and the team free", fmt.Sprintf(`!document.querySelector('.incident-icon .inc[data-incident=%q]') && document.querySelector('.team-icon .team[data-team="T-01"]').dataset.status === 'available'`, incID), liveWait)
	hist := browsertest.Eval[[]string](p, `[...document.querySelectorAll('#incident-detail .audit li')].map(li => li.dataset.to || li.dataset.action).reverse()`)
	want := "warned,assigned,on_site,controlled,lab_sent,confirmed_positive,disposed,signed_off,closed"
	if strings.Join(hist, ",") != want {
		t.Errorf("history = %v, want %s", hist, want)
	}
	p.WaitFor("the disposal rate at 100 %", `document.querySelector('.kpi[data-kpi="disposal"] .v').textContent === '100 %'`, 5*time.Second)
	p.Screenshot("signed-off")

	inc, err := cmd.svc.Assure().Incident(incID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range inc.Audit {
		if a.To == "disposed" && a.Actor.UserID != inspectorUser || a.To == "signed_off" && a.Actor.UserID != commanderUser {
			t.Errorf("audit %s by %s", a.To, a.Actor.UserID)
		}
	}
	if len(inc.Evidence) != 3 { // the refused disposal's photo was uploaded too
		t.Errorf("%d evidence files stored, want 3", len(inc.Evidence))
	}

	// --- filters ---
	k.measure(t, "S-A-02", "菠菜", dASuspicious)
	waitStored(t, cmd.svc, k.measure(t, "S-B-04", "芹菜", dANegative))
	p.WaitFor("the new results", `shian.stallVerdict('S-B-04') === 'negative' && shian.stallVerdict('S-A-02') === 'suspicious'`, liveWait)
	all := browsertest.Eval[int](p, `shian.stallCount()`)
	selectFilter(p, "verdict", "positive")
	p.WaitFor("only the positive", `shian.stallCount() === 1 && shian.stallShown('S-C-03') && !shian.stallShown('S-B-04') && document.querySelectorAll('#results li.result').length === 1`, 2*time.Second)
	selectFilter(p, "verdict", "")
	selectFilter(p, "zone", "Z-A")
	p.WaitFor("zone A only", `shian.stallCount() === 10 && shian.stallShown('S-A-02') && !shian.stallShown('S-C-03')`, 2*time.Second)
	selectFilter(p, "time", "1h")
	p.WaitFor("zone A tested in the last hour", `shian.stallCount() === 1 && shian.stallShown('S-A-02')`, 2*time.Second)
	p.Screenshot("filtered")
	p.Do(chromedp.Click(chromedp.CSS(`#filters button.clear`)))
	p.WaitFor("every site again", fmt.Sprintf(`shian.stallCount() === %d`, all), 2*time.Second)

	for _, pg := range []*browsertest.Page{p, q} {
		if ex := pg.Exceptions(); len(ex) > 0 {
			t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
		}
	}
}

// selectFilter picks a value in one of the filter bar's selects.
func selectFilter(p *browsertest.Page, name, value string) {
	p.Do(chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`#filters select[data-filter=%q]`, name)), value))
	browsertest.Eval[bool](p, fmt.Sprintf(`document.querySelector('#filters select[data-filter=%q]').dispatchEvent(new Event('change')) || true`, name))
}

func containsCode(as []store.Alarm, code string) bool {
	for _, a := range as {
		if a.Code == code {
			return true
		}
	}
	return false
}

// noSidewaysOverflow fails the test when the page is wider than the
// screen (on a phone the right edge would be cut off), naming the widest
// elements that stick out.
func noSidewaysOverflow(t *testing.T, p *browsertest.Page, where string) {
	t.Helper()
	out := browsertest.Eval[[]string](p, `(() => {
		const w = document.documentElement.clientWidth, bad = [];
		for (const el of document.querySelectorAll('body *')) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
			if (el.closest('.leaflet-container') && !el.matches('.leaflet-container')) continue; // map panes pan by design
			let clipped = false;
			for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
				const ov = getComputedStyle(a).overflowX;
				if (ov === 'auto' || ov === 'scroll' || ov === 'hidden') { clipped = true; break; }
			}
			if (!clipped && r.right > w + 1) bad.push((el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' + [...el.classList].join('.')) + ' right=' + Math.round(r.right));
		}
		return bad.slice(0, 12);
	})()`)
	if len(out) > 0 {
		t.Errorf("%s: the page is wider than the screen (%d px); sticking out: %v", where, 390, out)
	}
}
