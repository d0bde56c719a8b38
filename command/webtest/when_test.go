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

// TestTimesOnTheEventClock opens the command centre in a browser set to
// New York time and checks that the page still shows Beijing time, as
// "YYYY-MM-DD HH:mm", with both ends of a range: a banquet sitting over two
// days (dinner on one day to dinner the next) shows its window from the
// first day's 16:30 to the next day's 20:30, and the shared formatter
// (/js/when.js, internal/jswhen) reads and writes wall times on the
// event's clock. It fails if any page formats with the browser's zone or
// locale (the "12/2/2026, 8:30:00 AM – 12:30:00 PM" of issue 14). On the
// same page it finds a kitchen by the pinyin of its name in the stall
// search ("zycf", "zhong yang" for 主供餐点（中央厨房）).
func TestTimesOnTheEventClock(t *testing.T) {
	requireAssets(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: time.Hour}})
	seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addTeams(t, cmd.svc)
	day := assurance.DateOf(time.Now()).AddDays(5)
	b, _, err := cmd.svc.Assure().FileBanquet("", assurance.BanquetFiling{Town: "先锋街道", Village: "东社村",
		Host: assurance.Host{Name: "张建华", Phone: "13812345678"}, Type: assurance.BanquetWedding, Place: "张宅",
		Point:     &assurance.Point{Lon: venueLon + 0.002, Lat: venueLat + 0.001},
		Sittings:  []assurance.Sitting{{Date: day, Meal: assurance.MealDinner}, {Date: day.AddDays(1), Meal: assurance.MealDinner}},
		Headcount: 80, ChefSource: assurance.ChefHired,
		Cooks: []assurance.BanquetCook{{Name: "陈德胜", Role: assurance.CookChef, Cert: assurance.CertValid}}},
		assurance.Act{Actor: assurance.Actor{UserID: commanderUser, Role: assurance.RoleCommander}})
	if err != nil {
		t.Fatal(err)
	}
	cst := time.FixedZone("CST", 8*3600)
	want := b.WindowStart.In(cst).Format("2006-01-02 15:04") + " – " + b.WindowEnd.In(cst).Format("2006-01-02 15:04")
	if b.WindowStart.In(cst).Format("15:04") != "16:30" || b.WindowEnd.In(cst).Format("15:04") != "20:30" {
		t.Fatalf("the fixture's window is %s; the test expects dinner from 16:30 to 20:30", want)
	}

	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1366, 768}, {"phone", phoneW, phoneH}} {
		p := browsertest.Start(t).NewPage(t)
		p.Do(browsertest.InZone("America/New_York"), chromedp.EmulateViewport(size.w, size.h))
		if z := browsertest.Eval[string](p, `Intl.DateTimeFormat().resolvedOptions().timeZone`); z != "America/New_York" {
			t.Fatalf("the browser's zone is %q; the override did not take", z)
		}
		login(p, cmd.url(), commanderUser, peoplePassword)
		p.WaitFor("the map with the banquet", fmt.Sprintf(`document.body.dataset.state === 'app' && shian.app.map && shian.app.map.banquet(%q)`, b.ID), 10*time.Second)
		browsertest.Eval[bool](p, fmt.Sprintf(`shian.app.openBanquet(%q), true`, b.ID))
		p.WaitFor("the banquet's facts", `document.querySelector('#stall-detail dl.facts')`, stepWait)
		got := browsertest.Eval[string](p, `(() => { const dts = [...document.querySelectorAll('#stall-detail dl.facts dt')];
			const dt = dts.find((d) => d.textContent === '就餐时间'); return dt ? dt.nextElementSibling.textContent : ''; })()`)
		if got != want {
			t.Errorf("%s: the banquet's sittings show %q, want %q (Beijing time, both ends)", size.name, got, want)
		}
		p.Screenshot("when-banquet-" + size.name)

		// The stall search (the same page, to spare a browser): the
		// kitchen 主供餐点（中央厨房） by its pinyin initials, then by full
		// pinyin; picking the hit opens its popup (internal/pinyin keys).
		for _, q := range []string{"zycf", "zhong yang"} {
			browsertest.Eval[bool](p, `(() => { const f = document.querySelector('#filters input.stall-search'); f.value = ''; f.dispatchEvent(new Event('input')); return true; })()`)
			p.Do(chromedp.SendKeys(chromedp.CSS(`#filters input.stall-search`), q))
			p.WaitFor("the kitchen found by "+q, `(() => { const h = [...document.querySelectorAll('#filters .search-hits li[data-stall]')]; return h.length === 1 && h[0].dataset.stall === 'K-MAIN'; })()`, stepWait)
		}
		if got := browsertest.Eval[string](p, `document.querySelector('#filters .search-hits').textContent`); !strings.HasPrefix(got, "主供餐点（中央厨房）K-MAIN") || strings.Contains(got, "null") {
			t.Errorf("%s: the search's hit reads %q", size.name, got)
		}
		p.Screenshot("search-pinyin-" + size.name)
		p.Do(chromedp.Click(chromedp.CSS(`#filters .search-hits li[data-stall="K-MAIN"] button.hit`)))
		p.WaitFor("the kitchen's popup", `document.querySelector('.leaflet-popup .popup[data-stall-id="K-MAIN"]')`, stepWait)
		p.Screenshot("search-picked-" + size.name)

		// The formatter itself, in the New York browser.
		out := browsertest.EvalAsync[map[string]string](p, `import('/js/when.js').then((w) => import('/js/i18n.js').then((i) => ({
			when: w.formatWhen('2026-12-02T08:30:00Z'),
			range: w.formatRange('2026-12-02T08:30:00Z', '2026-12-02T10:00:00Z'),
			wall: w.wallToISO('2026-12-02T16:30'),
			back: w.isoToWall('2026-12-02T08:30:00Z'),
			day: w.eventDay('2026-12-02T17:00:00Z'),
			i18n: i.formatTime('2026-12-02T08:30:00Z', true),
		})))`)
		for k, v := range map[string]string{"when": "2026-12-02 16:30", "range": "2026-12-02 16:30–18:00", "wall": "2026-12-02T08:30:00.000Z",
			"back": "2026-12-02T16:30", "day": "2026-12-03", "i18n": "2026-12-02 16:30"} {
			if out[k] != v {
				t.Errorf("%s: when.js %s = %q, want %q", size.name, k, out[k], v)
			}
		}
	}
}
