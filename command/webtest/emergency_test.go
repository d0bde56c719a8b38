package webtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
)

const (
	stationedTeam = "T-S"
	mainKitchen   = "K-MAIN"
	desktopW      = 1280
	desktopH      = 800
)

// emergencySetup files an event with the venue's main kitchen, its
// stationed team and two patrol teams on duty, a dinner served now with
// three dishes, each retained, and the morning check; a kiosk at the
// kitchen tests two of the dishes. It returns the event and the meal.
func emergencySetup(t *testing.T, cmd *commandProc) (string, assurance.EventMeal) {
	t.Helper()
	svc := cmd.svc
	admin := assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}
	kLon, kLat := venueLon+0.0033, venueLat-0.0012
	for _, tm := range []engine.Team{
		{ID: stationedTeam, Name: "主厨房驻点组", NameEN: "Main kitchen team", Mode: engine.ModeStationed, KitchenID: mainKitchen, Members: []string{inspectorUser},
			Home: &assurance.Point{Lon: kLon + 0.0001, Lat: kLat}, OnDuty: true},
		{ID: nearTeam, Name: nearTeamName, NameEN: "Patrol team 1", Mode: engine.ModePatrol, Home: &assurance.Point{Lon: kLon - 0.002, Lat: kLat}, OnDuty: true},
		{ID: farTeam, Name: "第二巡查组", NameEN: "Patrol team 2", Mode: engine.ModePatrol, Home: &assurance.Point{Lon: venueLon - 0.004, Lat: venueLat + 0.0024}, OnDuty: true},
	} {
		if _, err := svc.Assure().PutTeam(tm, admin); err != nil {
			t.Fatalf("team %s: %v", tm.ID, err)
		}
	}
	now := time.Now()
	day := assurance.DateOf(now.In(assurance.ChinaStandardTime))
	ev, err := svc.Assure().FileEvent("", assurance.EventFiling{Name: "2026江海国际美食博览会", Organiser: assurance.Organiser{Name: "南通市商务局"},
		FirstDay: day.AddDays(-1), LastDay: day.AddDays(1), Headcount: 3000, Mode: assurance.SupervisionFull, NotifiedOn: day.AddDays(-40),
		Venues:   []assurance.Venue{{ID: "V-NTEC", Name: "南通国际会展中心"}},
		Caterers: []assurance.Caterer{{ID: "C-1", Name: "南通江海餐饮管理有限公司"}},
		Kitchens: []assurance.Kitchen{{ID: mainKitchen, Name: "主供餐点（中央厨房）", CatererID: "C-1", VenueID: "V-NTEC"}}}, assurance.Act{Actor: admin})
	if err != nil {
		t.Fatal(err)
	}
	m, err := svc.Assure().PutMeal(assurance.EventMeal{EventID: ev.ID, KitchenID: mainKitchen, Meal: assurance.MealDinner, Name: "欢迎晚宴",
		Start: now.Add(-40 * time.Minute), End: now.Add(80 * time.Minute), Diners: 320, Tables: 32,
		Dishes: []assurance.MealDish{{ID: "d1", Name: "清蒸鲈鱼", Category: assurance.CategoryHotDish}, {ID: "d2", Name: "凉拌木耳", Category: assurance.CategoryColdDish},
			{ID: "d3", Name: "扬州炒饭", Category: assurance.CategoryStaple}}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	insp := assurance.Actor{UserID: inspectorUser, Role: assurance.RoleInspector, TeamID: stationedTeam}
	for _, d := range []string{"d1", "d2", "d3"} {
		if _, err := svc.Assure().RecordDuty(m.ID, engine.DutyEntry{Sample: &assurance.RetainedSample{DishID: d, Mass: 150 * measure.Gram,
			At: now.Add(-50 * time.Minute), FridgeID: "留样柜-1", By: "李红梅", Source: assurance.SourceScale}}, insp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Assure().RecordDuty(m.ID, engine.DutyEntry{Morning: []assurance.MorningCheck{
		{Worker: "王建华", Post: "厨师长", Present: true, Healthy: true, HandsOK: true, Certificate: true},
		{Worker: "赵小燕", Post: "凉菜", Present: true, Healthy: true, HandsOK: true, Certificate: true}}}, insp); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-T-K", Name: "主厨房快检终端", SiteID: mainKitchen, Loc: []float64{kLon, kLat}})
	if err != nil {
		t.Fatal(err)
	}
	k := startKiosk(t, cmd.addr, "K-T-K", tok)
	waitStored(t, svc, k.measure(t, mainKitchen, "鲈鱼", dANegative))
	waitStored(t, svc, k.measure(t, mainKitchen, "木耳", dASuspicious))
	return ev.ID, m.EventMeal
}

// TestEmergencyFromPhone: an inspector of the stationed team reports three
// guests ill after the dinner from a phone; the emergency opens at the
// configured level (a plan that opens 3 ill at level III), the meal's
// retained samples are frozen and listed with their dishes' rapid tests,
// the two nearest teams are sent; the command centre sees the alert on the
// map; the commander marks a plan step, adds a note and closes it with a
// conclusion, and the timeline shows every step.
func TestEmergencyFromPhone(t *testing.T) {
	requireAssets(t)
	wall := browsertest.Start(t)
	phone := browsertest.Start(t)
	pc := assurance.DefaultConfig()
	pc.Emergency.Levels[1].MinIll = 3 // the configured level: III from 3 ill
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour, Protocol: &pc}})
	seed(t, cmd.svc, makeVenue())
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addUser(t, cmd.svc, inspectorUser, "李监督", assurance.RoleInspector, stationedTeam)
	eventID, meal := emergencySetup(t, cmd)
	day := assurance.DateOf(meal.Start.In(assurance.ChinaStandardTime)).String()
	page := fmt.Sprintf("%semergency.html?event=%s&date=%s", cmd.url(), eventID, day)

	// The command centre watches the map.
	p := wall.NewPage(t)
	p.Do(chromedp.EmulateViewport(desktopW, desktopH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	p.WaitFor("the map", `document.body.dataset.state === 'app' && shian.linkState() === 'online'`, 10*time.Second)

	// --- the inspector on a phone ---
	q := phone.NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), inspectorUser, peoplePassword)
	q.WaitFor("logged in", `document.body.dataset.state === 'app'`, 10*time.Second)
	q.Do(chromedp.Navigate(page))
	q.WaitFor("the dinner listed", fmt.Sprintf(`document.body.dataset.state === 'ready' && document.querySelector('#meals li[data-meal=%q]')`, meal.ID), 10*time.Second)
	q.Screenshot("phone-meals")
	noSidewaysOverflow(t, q, "the meal list on a phone")
	q.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#meals li[data-meal=%q]`, meal.ID))))
	q.WaitFor("the duty log", `document.querySelector('#detail').dataset.kind === 'meal' && document.querySelectorAll('#samples li.dish.kept').length === 3`, stepWait)
	q.Screenshot("phone-duty-log")
	noSidewaysOverflow(t, q, "the duty log on a phone")
	q.Do(chromedp.Click(chromedp.CSS(`#report-ill`)))
	q.WaitFor("the report form", `document.querySelector('#ill-form')`, stepWait)
	q.Do(chromedp.Click(chromedp.CSS(`#ill-form input[value="腹泻"]`)), chromedp.Click(chromedp.CSS(`#ill-form input[value="呕吐"]`)),
		chromedp.SendKeys(chromedp.CSS(`#ill-form input[name=tables]`), "8, 12"),
		chromedp.SendKeys(chromedp.CSS(`#ill-form input[name=ill]`), "3"))
	q.Screenshot("phone-report-form")
	q.Do(chromedp.Click(chromedp.CSS(`#ill-form button[type=submit]`)))
	q.WaitFor("the emergency opened at level III", `document.querySelector('#detail').dataset.kind === 'emergency' && document.querySelector('#detail').dataset.level === 'level_3'`, stepWait)
	emID := browsertest.Eval[string](q, `document.querySelector('#detail').dataset.id`)
	if got := browsertest.Eval[string](q, `document.querySelector('#level').textContent`); got != "Ⅲ级（较大）" {
		t.Errorf("level shown %q, want Ⅲ级（较大）", got)
	}
	frozen := browsertest.Eval[[]string](q, `[...document.querySelectorAll('#dishes tr[data-dish]')].map(tr => tr.dataset.dish + '=' + tr.dataset.frozen)`)
	if want := fmt.Sprintf("d1=%[1]s,d2=%[1]s,d3=%[1]s", emID); strings.Join(frozen, ",") != want {
		t.Errorf("frozen samples %v, want %s", frozen, want)
	}
	results := browsertest.Eval[[]string](q, `[...document.querySelectorAll('#dishes tr[data-dish]')].map(tr => tr.dataset.dish + ':' + [...tr.querySelectorAll('.result')].map(r => r.dataset.verdict).join('+'))`)
	if strings.Join(results, ",") != "d1:negative,d2:suspicious,d3:" {
		t.Errorf("dishes' rapid tests %v, want 鲈鱼 negative on d1, 木耳 suspicious on d2, none on d3", results)
	}
	teams := browsertest.Eval[[]string](q, `[...document.querySelectorAll('#teams li[data-team]')].map(li => li.dataset.team)`)
	// The two nearest teams free to go (on duty, not busy with an incident:
	// the 木耳 result's incident may hold one, by the repeat rule's timing).
	_, near, err := cmd.svc.Assure().NearestTeams(assurance.Point{Lon: venueLon + 0.0033, Lat: venueLat - 0.0012}, mainKitchen)
	if err != nil {
		t.Fatal(err)
	}
	var free []string
	for _, tm := range near {
		if tm.Eligible && len(free) < 2 {
			free = append(free, tm.ID)
		}
	}
	if len(teams) != 2 || strings.Join(teams, ",") != strings.Join(free, ",") {
		t.Errorf("teams sent %v, want the two nearest free teams %v", teams, free)
	}
	t.Logf("teams sent: %v", teams)
	if got := browsertest.Eval[string](q, `document.querySelector('#tables').textContent`); !strings.Contains(got, "8、12") {
		t.Errorf("tables shown %q", got)
	}
	q.Screenshot("phone-emergency")
	noSidewaysOverflow(t, q, "the emergency on a phone")
	// The inspector may not close it.
	if browsertest.Eval[bool](q, `!!document.querySelector('#close-form')`) {
		t.Error("the inspector is offered the close form; closing is the commander's")
	}

	// --- the command centre: the alert on the map, then the emergency ---
	p.WaitFor("the emergency alert on the map", `document.querySelector('#alerts li.alert[data-code="emergency_activated"]')`, liveWait*3)
	p.Do(chromedp.Click(chromedp.CSS(`[role=tab][data-tab=alerts]`)))
	p.Screenshot("map-emergency-alert")
	p.Do(chromedp.Navigate(fmt.Sprintf("%semergency.html?event=%s&date=%s&emergency=%s", cmd.url(), eventID, day, emID)))
	p.WaitFor("the emergency on the desk", fmt.Sprintf(`document.body.dataset.state === 'ready' && document.querySelector('#detail').dataset.id === %q && document.querySelector('#emergencies li[data-emergency=%q].activated')`, emID, emID), 10*time.Second)
	p.Do(chromedp.Click(chromedp.CSS(`#steps button.step-done[data-step="scene_controlled"]`)))
	p.WaitFor("the step done", `document.querySelector('#steps li[data-step="scene_controlled"]').classList.contains('done')`, stepWait)
	p.Do(chromedp.SendKeys(chromedp.CSS(`#note-form input[name=note]`), "3名患者已送南通市第一人民医院，病情稳定"),
		chromedp.Click(chromedp.CSS(`#note-form button[type=submit]`)))
	p.WaitFor("the note on the timeline", `document.querySelector('#timeline li[data-action="note_added"]')`, stepWait)
	p.Screenshot("desk-emergency")
	p.Do(chromedp.SetValue(chromedp.CSS(`#close-form select[name=cause]`), "not_food_related"),
		chromedp.SendKeys(chromedp.CSS(`#close-form textarea[name=text]`), "患者为同一旅行团，午间在场外用餐；留样检验未检出致病菌，排除本餐次食源性疾病"),
		chromedp.Click(chromedp.CSS(`#close-form button[type=submit]`)))
	p.WaitFor("closed with the conclusion", `document.querySelector('#detail').dataset.state === 'closed' && document.querySelector('#conclusion')`, stepWait)
	tl := browsertest.Eval[[]string](p, `[...document.querySelectorAll('#timeline li')].map(li => li.dataset.action)`)
	want := "report_received,response_activated,samples_frozen,team_dispatched,team_dispatched,step_done,note_added,samples_released,emergency_closed"
	if strings.Join(tl, ",") != want {
		t.Errorf("timeline %v\nwant %s", tl, want)
	}
	lines := browsertest.Eval[[]string](p, `[...document.querySelectorAll('#timeline li')].map(li => li.innerText.replace(/\s+/g, ' '))`)
	for _, l := range lines {
		t.Logf("timeline: %s", l)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "李监督 ") || strings.Contains(strings.Join(lines, "\n"), inspectorUser) {
		t.Errorf("the timeline should name people by their display names (李监督), not login names (%s)", inspectorUser)
	}
	if browsertest.Eval[bool](p, `!!document.querySelector('#dishes tr[data-frozen]:not([data-frozen=""])')`) {
		t.Error("samples still frozen after the close")
	}
	p.Screenshot("desk-emergency-closed")
	em, err := cmd.svc.Assure().EmergencyView(emID)
	if err != nil {
		t.Fatal(err)
	}
	if em.State != assurance.EmergencyClosed || em.Conclusion == nil || em.Conclusion.Cause != assurance.CauseNotFood || em.Timeline[len(em.Timeline)-1].Actor.UserID != commanderUser {
		t.Errorf("stored emergency %s %+v", em.State, em.Conclusion)
	}

	// The phone follows: closed, conclusion shown.
	q.WaitFor("the phone shows it closed", `document.querySelector('#detail').dataset.state === 'closed'`, 10*time.Second)
	for _, pg := range []*browsertest.Page{p, q} {
		if ex := pg.Exceptions(); len(ex) > 0 {
			t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
		}
	}
}

// printShot renders the page for print (print media, an A4-wide viewport)
// and saves a full-page screenshot; it returns the page's height in CSS px.
func printShot(t *testing.T, p *browsertest.Page, name string) string {
	t.Helper()
	p.Do(chromedp.EmulateViewport(794, 1123), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return err
	}))
	ctx, cancel := context.WithTimeout(p.Context(), browsertest.DefaultTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("print screenshot: %v", err)
	}
	path := filepath.Join(browsertest.ArtifactsDir(t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("print screenshot: %s", path)
	return path
}
