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
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// Desktop viewport of the screenshots (issue 14).
const deskW, deskH = 1280, 800

// repeat saves a repeat (复测) of orig on the kiosk: the same sample, the
// same method, repeat_of naming the first result.
func (k *testKiosk) repeat(t testing.TB, orig wire.Result, sampleDeltaA int64) wire.Result {
	t.Helper()
	raw := assay.Raw{ControlDeltaA: assay.Ptr(measure.Absorbance(303000)), SampleDeltaA: assay.Ptr(measure.Absorbance(sampleDeltaA))}
	out, err := assay.DefaultRules().Decide(assay.EnzymeInhibition, "", raw)
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	r := orig
	r.ResultID, r.Seq, r.RepeatOf, r.ReceivedAt, r.RxSeq, r.Flags, r.Derived = "", 0, orig.ResultID, nil, 0, nil, nil
	r.Value, r.Unit, r.Verdict, r.RepeatsRequired, r.Raw, r.MeasuredAt = out.Value, out.Unit, out.Verdict, out.RepeatsRequired, raw, time.Now()
	saved, err := k.ob.Save(r)
	if err != nil {
		t.Fatalf("kiosk save: %v", err)
	}
	return saved
}

// cardSel is the triage card of an incident.
func cardSel(incID string) string {
	return fmt.Sprintf(`#tab-triage li.triage-card[data-incident=%q]`, incID)
}

// TestTriageQueue: the duty commander's queue on the wall screen
// (1280×800) and on a phone (390 px). A suspicious and a positive enzyme
// result wait in 待复测 with no team sent, each one card with its alert
// folded in; a repeat that does not reproduce the positive moves it to
// "needs you now"; the commander acknowledges that card's alerts on the
// phone, then every alert at once on the wall screen (the store has none
// open after it); the repeat of the suspicious result reproduces it and
// only then is the nearest team sent, which both screens show. Every
// step is a click on the screen.
func TestTriageQueue(t *testing.T) {
	requireAssets(t)
	wall := browsertest.Start(t)
	phone := browsertest.Start(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Assure: engine.Config{Tick: 200 * time.Millisecond}})
	token := seed(t, cmd.svc, v)
	addUser(t, cmd.svc, commanderUser, "王指挥", assurance.RoleCommander, "")
	addTeams(t, cmd.svc)
	for _, id := range []string{nearTeam, farTeam} {
		if _, err := cmd.svc.Assure().SetDuty(id, true, assurance.Actor{UserID: adminUser, Role: assurance.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
	}
	k := startKiosk(t, cmd.addr, "K-T-01", token)

	p := wall.NewPage(t)
	p.Do(chromedp.EmulateViewport(deskW, deskH))
	login(p, cmd.url(), commanderUser, peoplePassword)
	p.WaitFor("the triage queue first", `document.body.dataset.state === 'app' && shian.linkState() === 'online' && !document.querySelector('#tab-triage').hidden`, 10*time.Second)
	if got := browsertest.Eval[string](p, `document.querySelector('[role=tab][data-tab=triage]').innerText.trim()`); !strings.HasPrefix(got, "值守分诊") {
		t.Errorf("triage tab says %q", got)
	}
	q := phone.NewPage(t)
	q.Do(chromedp.EmulateViewport(phoneW, phoneH))
	login(q, cmd.url(), commanderUser, peoplePassword)
	q.WaitFor("the triage queue on the phone", `document.body.dataset.state === 'app' && !document.querySelector('#tab-triage').hidden`, 10*time.Second)

	// Two results that must be repeated before anyone walks over.
	sus := k.measure(t, "S-A-02", "生菜", dASuspicious)
	pos := k.measure(t, "S-B-03", "菠菜", dAPositive)
	waitStored(t, cmd.svc, pos)
	incOf := func(r wire.Result) engine.Incident {
		t.Helper()
		var found engine.Incident
		deadline := time.Now().Add(stepWait)
		for found.ID == "" {
			incs, err := cmd.svc.Assure().Incidents(engine.IncidentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, inc := range incs {
				if inc.Trigger.ResultID == r.ResultID {
					found = inc
				}
			}
			if found.ID == "" && time.Now().After(deadline) {
				t.Fatalf("no incident for result %s", r.ResultID)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return found
	}
	susInc, posInc := incOf(sus), incOf(pos)
	for _, id := range []string{susInc.ID, posInc.ID} {
		p.WaitFor("a 待复测 card for "+id, fmt.Sprintf(`(() => { const c = document.querySelector(%q);
			return c && c.dataset.group === 'repeat' && c.dataset.repeat === 'awaiting_repeat' && c.querySelector('.state-chip').textContent === '待复测'
				&& c.querySelector('.team').textContent === '未交办' && c.querySelector('.folded') && c.querySelector('button.ack'); })()`, cardSel(id)), liveWait*3)
	}
	if got := browsertest.Eval[string](p, `document.querySelector('`+cardSel(posInc.ID)+` .repeat').textContent`); !strings.Contains(got, "已复测 0/2 次") {
		t.Errorf("positive's card says %q, want 已复测 0/2 次", got)
	}
	if got := browsertest.Eval[string](p, `document.querySelector('`+cardSel(susInc.ID)+` .next').textContent`); got != "下一步：等待检测员复测同一样品" {
		t.Errorf("next action %q", got)
	}
	// One card per incident: its alert is folded in, not listed beside it.
	if n := browsertest.Eval[int](p, `document.querySelectorAll('#tab-triage li.triage-card').length`); n != 2 {
		t.Errorf("%d cards for two incidents", n)
	}
	// Nothing is dispatched while they wait, even with the loop running.
	time.Sleep(600 * time.Millisecond)
	if inc := incOf(sus); inc.TeamID != "" || inc.State != assurance.IncidentWarned {
		t.Fatalf("the suspicious result was dispatched before its repeat: %s %s", inc.State, inc.TeamID)
	}

	// A repeat of the positive comes out negative: not reproduced, the
	// commander decides.
	k.repeat(t, pos, dANegative)
	p.WaitFor("the not-reproduced positive in 需要您处理", fmt.Sprintf(`(() => { const c = document.querySelector(%q);
		return c && c.dataset.group === 'now' && c.querySelector('.why-chip[data-why=notReproduced]').textContent === '复测未复现' && c.querySelector('.state-chip').textContent === '预警'; })()`, cardSel(posInc.ID)), liveWait*3)
	p.Screenshot("triage-desktop")

	// On the phone: only what needs the commander, then that card's alerts.
	q.Do(chromedp.Click(chromedp.CSS(`#tab-triage button[data-filter=st][data-value=now]`)))
	q.WaitFor("the filter applied", fmt.Sprintf(`document.querySelector(%q) && !document.querySelector(%q)`, cardSel(posInc.ID), cardSel(susInc.ID)), stepWait)
	q.WaitFor("the card's alerts to acknowledge", fmt.Sprintf(`document.querySelector('%s button.ack')`, cardSel(posInc.ID)), stepWait)
	folded := browsertest.Eval[string](q, `document.querySelector('`+cardSel(posInc.ID)+` button.ack').textContent`)
	q.Screenshot("triage-phone")
	noSidewaysOverflow(t, q, "the commander's phone")
	q.Do(chromedp.Click(chromedp.CSS(cardSel(posInc.ID) + ` button.ack`)))
	q.WaitFor("the card's alerts acknowledged", fmt.Sprintf(`document.querySelector(%q) && !document.querySelector('%s button.ack')`, cardSel(posInc.ID), cardSel(posInc.ID)), stepWait)
	t.Logf("phone: %s on the not-reproduced card", folded)
	as, err := cmd.svc.Store().Alarms(100, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.IncidentID == posInc.ID {
			t.Errorf("alarm %d (%s) of %s still open after the card's acknowledgement", a.Seq, a.Code, posInc.ID)
		}
	}
	if len(as) == 0 {
		t.Fatal("no open alarm left for the bulk acknowledgement")
	}

	// On the wall screen: every alert shown, at once.
	p.WaitFor("the bulk acknowledgement offered", `(() => { const b = document.querySelector('#tab-triage button.ack-all'); return b && !b.disabled && /全部确认（\d+）/.test(b.textContent); })()`, stepWait)
	t.Logf("wall: %s", browsertest.Eval[string](p, `document.querySelector('#tab-triage button.ack-all').textContent`))
	p.Do(chromedp.Click(chromedp.CSS(`#tab-triage button.ack-all`)))
	p.WaitFor("everything acknowledged", `(() => { const b = document.querySelector('#tab-triage button.ack-all'); return b.disabled && b.textContent === '全部已确认' && !document.querySelector('#tab-triage button.ack'); })()`, stepWait)
	if as, _ := cmd.svc.Store().Alarms(100, true); len(as) != 0 {
		t.Errorf("%d alarms still open after the bulk acknowledgement: %+v", len(as), as)
	}
	// Acknowledged is not handled: the cards stay until the incidents move.
	if n := browsertest.Eval[int](p, `document.querySelectorAll('#tab-triage li.triage-card[data-incident]').length`); n != 2 {
		t.Errorf("%d incident cards after acknowledging, want 2", n)
	}

	// The suspicious result's repeat reproduces it: only now a team goes.
	q.Do(chromedp.Click(chromedp.CSS(`#tab-triage button[data-filter=st][data-value=all]`)))
	rep := k.repeat(t, sus, dASuspicious-2000)
	waitStored(t, cmd.svc, rep)
	for _, pg := range []*browsertest.Page{p, q} {
		pg.WaitFor("the suspicious result dispatched after its repeat", fmt.Sprintf(`(() => { const c = document.querySelector(%q);
			return c && c.dataset.state === 'assigned' && c.dataset.repeat === 'repeat_reproduced' && c.querySelector('.team').textContent === %q; })()`, cardSel(susInc.ID), nearTeamName), liveWait*3)
	}
	got := incOf(sus)
	stored, err := cmd.svc.History().Result(rep.ResultID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Dispatches) != 1 || got.Dispatches[0].At.Before(*stored.ReceivedAt) || got.TeamID != nearTeam {
		t.Errorf("dispatches %+v, want one to %s after the repeat was received at %s", got.Dispatches, nearTeam, stored.ReceivedAt)
	}
	p.Screenshot("triage-dispatched")

	// The legend says what the symbols mean.
	p.Do(chromedp.Click(chromedp.CSS(`.map-legend button.legend-toggle`)))
	p.WaitFor("the legend open", `document.querySelectorAll('.map-legend ul.grades li').length === 4 && document.querySelector('.map-legend ul.verdicts li[data-verdict=positive]')`, stepWait)
	if got := browsertest.Eval[string](p, `document.querySelector('.map-legend ul.grades li[data-grade=D]').textContent`); got != "DD级（风险最高）" {
		t.Errorf("legend grade D says %q", got)
	}
	p.Screenshot("triage-legend")

	// The card opens the incident.
	p.Do(chromedp.Click(chromedp.CSS(cardSel(susInc.ID) + ` button.open-incident`)))
	p.WaitFor("the incident opened from its card", fmt.Sprintf(`document.querySelector('#incident-detail').dataset.incident === %q && !document.querySelector('#tab-stall').hidden`, susInc.ID), stepWait)
}
