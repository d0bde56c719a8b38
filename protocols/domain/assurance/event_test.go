package assurance

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

const eventSpec = `
filed              -> early_intervention closed
early_intervention -> ready closed
ready              -> early_intervention whole_process closed
whole_process      -> closed
`

func TestEventTableMatchesSpec(t *testing.T) {
	want := parseEdges(eventSpec)
	for _, from := range EventPhases() {
		for _, to := range EventPhases() {
			if got := from.CanMoveTo(to); got != want[string(from)+">"+string(to)] {
				t.Errorf("%s → %s: table says %v", from, to, got)
			}
		}
	}
}

// Event: 2026-10-10 to 2026-10-12, notified 2026-09-01, one kitchen.
func filing() EventFiling {
	return EventFiling{
		Name:       "2026 江海国际马拉松",
		Organiser:  Organiser{Name: "市体育局", Contact: "王主任", Phone: "0513-85000000"},
		FirstDay:   MakeDate(2026, 10, 10),
		LastDay:    MakeDate(2026, 10, 12),
		Venues:     []Venue{{ID: "V1", Name: "奥体中心", Point: &Point{Lon: 120.86, Lat: 32.01}}},
		Headcount:  3000,
		Caterers:   []Caterer{{ID: "C1", Name: "江海宾馆", Licence: "JY13206000000001"}},
		Kitchens:   []Kitchen{{ID: "K1", Name: "江海宾馆中央厨房", CatererID: "C1", VenueID: "V1"}},
		Mode:       SupervisionFull,
		NotifiedOn: MakeDate(2026, 9, 1),
	}
}

// readyKitchen is a kitchen with every item done, judged at t0 (2026-10-01).
func readyKitchen(id string) KitchenReadiness {
	return KitchenReadiness{
		KitchenID:          id,
		Commitment:         Doc{Ref: "doc-commit", At: at(-72 * time.Hour)},
		ImplementationPlan: Doc{Ref: "doc-plan"},
		EmergencyPlan:      Doc{Ref: "doc-emerg"},
		DrillAt:            at(-48 * time.Hour),
		Staff: []StaffMember{
			{Name: "李师傅", Post: "厨师长", Cert: HealthCertificate{Number: "HC1", IssuedOn: MakeDate(2026, 1, 1), ValidUntil: MakeDate(2026, 12, 31)}},
			{Name: "赵师傅", Post: "切配", Cert: HealthCertificate{Number: "HC2", IssuedOn: MakeDate(2025, 10, 12), ValidUntil: MakeDate(2026, 10, 12)}},
		},
		TrainingAt: at(-24 * time.Hour),
		Menu:       MenuApprovedWithControls,
		Retention:  RetentionSetup{FridgeID: "F1", Responsible: "钱留样", MassPerDish: 125 * measure.Gram, Hold: 48 * time.Hour},
		Kiosk: KioskStatus{KioskID: "KS1", LastSeen: at(-5 * time.Minute), Instruments: []InstrumentStatus{
			{ID: "DY-3000-01", Model: "DY-3000", CalibratedOn: MakeDate(2026, 9, 1), CalibrationValidUntil: MakeDate(2027, 8, 31)},
		}},
	}
}

func TestFileEvent(t *testing.T) {
	cfg := DefaultConfig()
	ev, warns, err := FileEvent("EV1", filing(), act(cmdr, t0.Add(-30*24*time.Hour)), cfg)
	must(t, err)
	if ev.Phase != PhaseFiled || len(warns) != 0 || len(ev.Audit) != 1 {
		t.Fatalf("filed: %+v, warnings %v", ev, warns)
	}
	if _, _, err := FileEvent("EV1", filing(), act(insp, t0), cfg); !errors.Is(err, ErrForbidden) {
		t.Errorf("inspector filed an event: %v", err)
	}
	bad := filing()
	bad.Name, bad.Headcount, bad.Mode = "", 0, "全程"
	bad.LastDay = MakeDate(2026, 10, 9)
	bad.Kitchens = append(bad.Kitchens, Kitchen{ID: "K1", Name: "dup", CatererID: "C9", VenueID: "V9"})
	bad.Organiser.Phone = "12345"
	_, _, err = FileEvent("EV1", bad, act(cmdr, t0), cfg)
	wantIs(t, err, ErrInvalid)
	for _, field := range []string{"name:", "headcount:", "mode:", "last_day:", "kitchens[1].id:", "kitchens[1].caterer_id:", "kitchens[1].venue_id:", "organiser.phone:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not mention %s: %v", field, err)
		}
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Error("joined error has no ValidationError")
	}
}

func TestNoticeWorkingDays(t *testing.T) {
	cfg := DefaultConfig()
	f := filing()
	// 2026-10-10 is a Saturday. Counting back 20 working days (Mon–Fri)
	// from it lands on Monday 2026-09-14.
	cases := []struct {
		notified Date
		want     int
		warn     bool
	}{
		{MakeDate(2026, 9, 14), 20, false},
		{MakeDate(2026, 9, 12), 20, false}, // a Saturday before it
		{MakeDate(2026, 9, 15), 19, true},
		{MakeDate(2026, 10, 9), 1, true},
		{MakeDate(2026, 10, 10), 0, true},
	}
	for _, c := range cases {
		f.NotifiedOn = c.notified
		if got := cfg.Filing.Calendar.WorkingDaysBetween(c.notified, f.FirstDay); got != c.want {
			t.Errorf("%s: %d working days, want %d", c.notified, got, c.want)
		}
		w := f.Warnings(cfg)
		if (len(w) > 0) != c.warn {
			t.Errorf("%s: warnings %v", c.notified, w)
		}
		if c.warn && (w[0].Code != "late_notification" || !strings.Contains(w[0].Message.ZH, "20 个工作日")) {
			t.Errorf("%s: warning %+v", c.notified, w[0])
		}
	}
	// National Day holidays (10-01..10-07) and a make-up Saturday (09-27).
	cfg.Filing.Calendar = Calendar{
		Holidays: []Date{MakeDate(2026, 10, 1), MakeDate(2026, 10, 2), MakeDate(2026, 10, 5), MakeDate(2026, 10, 6), MakeDate(2026, 10, 7)},
		Workdays: []Date{MakeDate(2026, 9, 27)},
	}
	// 09-14..10-09: 20 weekdays + 1 make-up day − 5 holidays = 16.
	if got := cfg.Filing.Calendar.WorkingDaysBetween(MakeDate(2026, 9, 14), f.FirstDay); got != 16 {
		t.Errorf("with holidays: %d, want 16", got)
	}
	f.NotifiedOn = MakeDate(2026, 9, 14)
	if w := f.Warnings(cfg); len(w) != 1 || !strings.Contains(w[0].Message.EN, "16 working days") {
		t.Errorf("with holidays: %v", w)
	}
	// A filing made late still files: it is a warning, not an error.
	f.NotifiedOn = MakeDate(2026, 10, 9)
	if _, w, err := FileEvent("EV1", f, act(cmdr, t0), cfg); err != nil || len(w) != 1 {
		t.Errorf("late filing: %v %v", w, err)
	}
}

// eventAt walks an event to phase p with a ready kitchen.
func eventAt(t testing.TB, p EventPhase, cfg Config) Event {
	t.Helper()
	ev, _, err := FileEvent("EV1", filing(), act(cmdr, at(-time.Hour)), cfg)
	must(t, err)
	path := map[EventPhase][]EventPhase{
		PhaseFiled:             {},
		PhaseEarlyIntervention: {PhaseEarlyIntervention},
		PhaseReady:             {PhaseEarlyIntervention, PhaseReady},
		PhaseWholeProcess:      {PhaseEarlyIntervention, PhaseReady, PhaseWholeProcess},
		PhaseClosed:            {PhaseEarlyIntervention, PhaseReady, PhaseWholeProcess, PhaseClosed},
	}[p]
	for _, to := range path {
		must(t, ev.Apply(fullEventStep(to, cmdr, t0), cfg))
	}
	return ev
}

func fullEventStep(to EventPhase, a Actor, when time.Time) EventStep {
	return EventStep{To: to, Act: Act{Actor: a, At: when, Note: "冷藏柜故障"}, Kitchens: []KitchenReadiness{readyKitchen("K1")},
		Summary: &EventSummary{Text: "保障任务圆满完成，零事故"}}
}

func TestEventMatrix(t *testing.T) {
	cfg := DefaultConfig()
	for _, from := range EventPhases() {
		for _, to := range EventPhases() {
			ev := eventAt(t, from, cfg)
			before := jsonOf(t, ev)
			err := ev.Apply(fullEventStep(to, admin, t0), cfg)
			if from.CanMoveTo(to) {
				if err != nil {
					t.Errorf("%s → %s refused: %v", from, to, err)
				} else if ev.Phase != to {
					t.Errorf("%s → %s: phase %s", from, to, ev.Phase)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || !reflect.DeepEqual(te.Allowed, stateNames(from.Next())) {
				t.Errorf("%s → %s: got %v", from, to, err)
			}
			if jsonOf(t, ev) != before {
				t.Errorf("%s → %s: refused step changed the event", from, to)
			}
		}
	}
}

func TestEventRoles(t *testing.T) {
	cfg := DefaultConfig()
	for _, from := range EventPhases() {
		for _, to := range from.Next() {
			for _, r := range Roles() {
				ev := eventAt(t, from, cfg)
				err := ev.Apply(fullEventStep(to, actorOf(r), t0), cfg)
				allowed := r == RoleAdmin || r == RoleCommander
				if allowed != (err == nil) || (!allowed && !errors.Is(err, ErrForbidden)) {
					t.Errorf("%s → %s as %s: %v", from, to, r, err)
				}
				if !reflect.DeepEqual(EventRoles(to), []Role{RoleAdmin, RoleCommander}) {
					t.Errorf("EventRoles(%s) = %v", to, EventRoles(to))
				}
			}
		}
	}
}

func TestEventGateAndRules(t *testing.T) {
	cfg := DefaultConfig()
	// Not ready: one item open blocks ready and whole_process.
	ev := eventAt(t, PhaseEarlyIntervention, cfg)
	k := readyKitchen("K1")
	k.Commitment = Doc{}
	err := ev.Apply(EventStep{To: PhaseReady, Act: act(cmdr, t0), Kitchens: []KitchenReadiness{k}}, cfg)
	var nr *NotReadyError
	if !errors.As(err, &nr) || len(nr.Open) != 1 || nr.Open[0].Item != ItemCommitment || ErrorCode(err) != CodeNotReady {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "kitchen K1: Responsibility commitment (responsibility commitment not signed)") {
		t.Errorf("message %q", err)
	}
	// No kitchen readiness at all.
	err = ev.Apply(EventStep{To: PhaseReady, Act: act(cmdr, t0)}, cfg)
	if !errors.As(err, &nr) || len(nr.Open) != len(ChecklistItems()) || !strings.Contains(err.Error(), "… 4 more") {
		t.Fatalf("no readiness: %v", err)
	}
	// Ready, then something lapses before going live: re-checked at the step.
	ev = eventAt(t, PhaseReady, cfg)
	lapsed := readyKitchen("K1")
	err = ev.Apply(EventStep{To: PhaseWholeProcess, Act: act(cmdr, at(30*time.Minute)), Kitchens: []KitchenReadiness{lapsed}}, cfg)
	if !errors.As(err, &nr) || nr.Open[0].Item != ItemKiosk {
		t.Fatalf("kiosk silent for 35 min: %v", err)
	}
	// Going back to early intervention needs a note.
	err = ev.Apply(EventStep{To: PhaseEarlyIntervention, Act: act(cmdr, at(30*time.Minute))}, cfg)
	wantIs(t, err, ErrPrecondition)
	must(t, ev.Apply(EventStep{To: PhaseEarlyIntervention, Act: Act{Actor: cmdr, At: at(30 * time.Minute), Note: "快检终端离线"}}, cfg))
	// Closing needs a summary; closing before live is a cancellation.
	ev = eventAt(t, PhaseWholeProcess, cfg)
	wantIs(t, ev.Apply(EventStep{To: PhaseClosed, Act: act(cmdr, t0)}, cfg), ErrPrecondition)
	must(t, ev.Apply(EventStep{To: PhaseClosed, Act: act(cmdr, t0), Summary: &EventSummary{Text: "零事故"}}, cfg))
	if ev.Summary == nil || ev.Summary.Cancelled {
		t.Errorf("summary %+v", ev.Summary)
	}
	ev = eventAt(t, PhaseEarlyIntervention, cfg)
	must(t, ev.Apply(EventStep{To: PhaseClosed, Act: act(cmdr, t0), Summary: &EventSummary{Text: "活动取消", Cancelled: false}}, cfg))
	if !ev.Summary.Cancelled {
		t.Error("closing before live is not marked cancelled")
	}
}

func TestEventAmend(t *testing.T) {
	cfg := DefaultConfig()
	ev := eventAt(t, PhaseEarlyIntervention, cfg)
	f := filing()
	f.Kitchens = append(f.Kitchens, Kitchen{ID: "K2", Name: "二号厨房", CatererID: "C1"})
	_, err := ev.Amend(f, act(cmdr, t0), cfg)
	must(t, err)
	if len(ev.Filing.Kitchens) != 2 || ev.Audit[len(ev.Audit)-1].Action != "amended" {
		t.Fatalf("not amended: %+v", ev.Filing.Kitchens)
	}
	// The new kitchen now gates readiness.
	err = ev.Apply(EventStep{To: PhaseReady, Act: act(cmdr, t0), Kitchens: []KitchenReadiness{readyKitchen("K1")}}, cfg)
	var nr *NotReadyError
	if !errors.As(err, &nr) || nr.Open[0].KitchenID != "K2" {
		t.Errorf("K2 without readiness: %v", err)
	}
	must(t, ev.Apply(EventStep{To: PhaseReady, Act: act(cmdr, t0), Kitchens: []KitchenReadiness{readyKitchen("K1"), readyKitchen("K2")}}, cfg))
	_, err = ev.Amend(f, act(cmdr, t0), cfg)
	wantIs(t, err, ErrPrecondition)
	wantIs(t, func() error { _, err := ev.Amend(f, act(insp, t0), cfg); return err }(), ErrForbidden)
}

func TestParseEventPhase(t *testing.T) {
	for in, want := range map[string]EventPhase{"preparing": PhaseEarlyIntervention, "live": PhaseWholeProcess, "ready": PhaseReady, " closed ": PhaseClosed} {
		if got, err := ParseEventPhase(in); err != nil || got != want {
			t.Errorf("%q: %s %v", in, got, err)
		}
	}
	if _, err := ParseEventPhase("running"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "early_intervention") {
		t.Errorf("bad phase: %v", err)
	}
}

// TestReadinessItems opens each item in turn and checks the detail.
func TestReadinessItems(t *testing.T) {
	cfg := DefaultConfig()
	f := filing()
	cases := []struct {
		item   ChecklistItem
		break_ func(*KitchenReadiness)
		detail string
	}{
		{ItemCommitment, func(k *KitchenReadiness) { k.Commitment.Ref = "" }, "责任承诺书未签署"},
		{ItemImplementationPlan, func(k *KitchenReadiness) { k.ImplementationPlan = Doc{} }, "实施方案未提交"},
		{ItemEmergencyPlan, func(k *KitchenReadiness) { k.EmergencyPlan = Doc{} }, "应急预案未提交"},
		{ItemEmergencyDrill, func(k *KitchenReadiness) { k.DrillAt = time.Time{} }, "未开展应急演练"},
		{ItemEmergencyDrill, func(k *KitchenReadiness) { k.DrillAt = at(time.Hour) }, "尚未举行"},
		{ItemHealthCertificates, func(k *KitchenReadiness) { k.Staff = nil }, "无从业人员名单"},
		// Expires on the last event day: still valid. The day before: not.
		{ItemHealthCertificates, func(k *KitchenReadiness) { k.Staff[1].Cert.ValidUntil = MakeDate(2026, 10, 11) }, "赵师傅（2026-10-11 到期）"},
		{ItemHealthCertificates, func(k *KitchenReadiness) { k.Staff[0].Cert = HealthCertificate{} }, "李师傅（无）"},
		{ItemHealthCertificates, func(k *KitchenReadiness) { k.Staff[0].Cert.IssuedOn = MakeDate(2026, 10, 11) }, "李师傅（无）"},
		{ItemTraining, func(k *KitchenReadiness) { k.TrainingAt = time.Time{} }, "培训指导未完成"},
		{ItemMenuAssessment, func(k *KitchenReadiness) { k.Menu = MenuSubmitted }, "菜单评估未通过（已提交）"},
		{ItemMenuAssessment, func(k *KitchenReadiness) { k.Menu = "" }, "菜单评估未通过（草稿）"},
		{ItemMenuAssessment, func(k *KitchenReadiness) { k.Menu = MenuRejected }, "不通过"},
		{ItemSampleRetention, func(k *KitchenReadiness) { k.Retention.MassPerDish = 100 * measure.Gram }, "每样 100.0 g，少于 125.0 g"},
		{ItemSampleRetention, func(k *KitchenReadiness) { k.Retention.Hold = 24 * time.Hour }, "留存 24 小时，少于 48 小时"},
		{ItemSampleRetention, func(k *KitchenReadiness) { k.Retention.FridgeID = "" }, "未指定留样冰箱"},
		{ItemSampleRetention, func(k *KitchenReadiness) { k.Retention.Responsible = "" }, "未指定留样责任人"},
		{ItemKiosk, func(k *KitchenReadiness) { k.Kiosk = KioskStatus{} }, "未配置快检终端"},
		{ItemKiosk, func(k *KitchenReadiness) { k.Kiosk.LastSeen = time.Time{} }, "从未上线"},
		{ItemKiosk, func(k *KitchenReadiness) { k.Kiosk.LastSeen = at(-10*time.Minute - time.Second) }, "离线"},
		{ItemKiosk, func(k *KitchenReadiness) { k.Kiosk.Instruments = nil }, "未接入检测仪器"},
		{ItemKiosk, func(k *KitchenReadiness) { k.Kiosk.Instruments[0].CalibrationValidUntil = MakeDate(2026, 10, 11) }, "DY-3000-01（校准 2026-10-11 到期）"},
		{ItemKiosk, func(k *KitchenReadiness) { k.Kiosk.Instruments[0].CalibrationValidUntil = Date{} }, "未校准"},
	}
	rep := EvaluateReadiness("EV1", f, []KitchenReadiness{readyKitchen("K1")}, t0, cfg)
	if !rep.Ready || rep.Done != 9 || rep.Total != 9 || rep.Percent != measure.Whole {
		t.Fatalf("ready kitchen: %+v", rep)
	}
	for _, c := range cases {
		k := readyKitchen("K1")
		c.break_(&k)
		rep := EvaluateReadiness("EV1", f, []KitchenReadiness{k}, t0, cfg)
		if rep.Ready || len(rep.Open) != 1 || rep.Open[0].Item != c.item {
			t.Errorf("%s %q: open %+v", c.item, c.detail, rep.Open)
			continue
		}
		o := rep.Open[0]
		if !strings.Contains(o.Detail.ZH, c.detail) || o.Detail.EN == "" || o.Label != c.item.Label() || o.KitchenID != "K1" {
			t.Errorf("%s: detail %+v, want %q", c.item, o.Detail, c.detail)
		}
		if rep.Done != 8 || rep.Percent != 888889 {
			t.Errorf("%s: %d/%d = %s", c.item, rep.Done, rep.Total, rep.Percent)
		}
	}
	// Calibration valid until exactly the last day is fine; a kiosk seen
	// exactly 10 minutes ago is online.
	k := readyKitchen("K1")
	k.Kiosk.Instruments[0].CalibrationValidUntil = f.LastDay
	k.Kiosk.LastSeen = at(-10 * time.Minute)
	if rep := EvaluateReadiness("EV1", f, []KitchenReadiness{k}, t0, cfg); !rep.Ready {
		t.Errorf("boundaries: %+v", rep.Open)
	}
}

func TestReadinessReportShape(t *testing.T) {
	cfg := DefaultConfig()
	f := filing()
	f.Kitchens = append(f.Kitchens, Kitchen{ID: "K2", Name: "二号", CatererID: "C1"}, Kitchen{ID: "K3", Name: "三号", CatererID: "C1"})
	k2 := readyKitchen("K2")
	k2.Menu, k2.TrainingAt = MenuDraft, time.Time{}
	stray := readyKitchen("K9") // not in the filing: ignored
	rep := EvaluateReadiness("EV1", f, []KitchenReadiness{stray, k2, readyKitchen("K1")}, t0, cfg)
	if rep.Total != 27 || rep.Done != 9+7+0 || len(rep.Open) != 11 || rep.Ready {
		t.Fatalf("report %d/%d open %d", rep.Done, rep.Total, len(rep.Open))
	}
	if got := []string{rep.Kitchens[0].KitchenID, rep.Kitchens[1].KitchenID, rep.Kitchens[2].KitchenID}; !slices.Equal(got, []string{"K1", "K2", "K3"}) {
		t.Errorf("kitchen order %v", got)
	}
	if rep.Open[0].Item != ItemTraining || rep.Open[1].Item != ItemMenuAssessment || rep.Open[2].Detail.EN != "no readiness record for this kitchen" {
		t.Errorf("open items %+v", rep.Open[:3])
	}
	// 16/27 = 59.259259… %
	if rep.Percent != 592593 {
		t.Errorf("percent %d", rep.Percent)
	}
	// A configured subset of items.
	cfg.Readiness.Items = []ChecklistItem{ItemMenuAssessment, ItemKiosk}
	rep = EvaluateReadiness("EV1", f, []KitchenReadiness{k2, readyKitchen("K1"), readyKitchen("K3")}, t0, cfg)
	if rep.Total != 6 || rep.Done != 5 || rep.Open[0].Item != ItemMenuAssessment {
		t.Errorf("subset: %+v", rep)
	}
	// Stricter local retention (200 g).
	cfg = DefaultConfig()
	cfg.Readiness.RetentionMinMass = 200 * measure.Gram
	rep = EvaluateReadiness("EV1", filing(), []KitchenReadiness{readyKitchen("K1")}, t0, cfg)
	if rep.Ready || rep.Open[0].Item != ItemSampleRetention {
		t.Errorf("200 g rule: %+v", rep.Open)
	}
}
