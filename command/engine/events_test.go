package engine_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

func pngBytes() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{200, 30, 30, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func pngReader() io.Reader { return bytes.NewReader(pngBytes()) }

func filing(first assurance.Date) assurance.EventFiling {
	return assurance.EventFiling{Name: "江海国际美食博览会", Organiser: assurance.Organiser{Name: "南通市商务局"},
		FirstDay: first, LastDay: first.AddDays(2), Headcount: 5000, Mode: assurance.SupervisionFull, NotifiedOn: first.AddDays(-40),
		Venues:   []assurance.Venue{{ID: "V-1", Name: "南通国际会展中心"}},
		Caterers: []assurance.Caterer{{ID: "C-1", Name: "南通江海餐饮管理有限公司"}},
		Kitchens: []assurance.Kitchen{{ID: "K-01", Name: "会展中心主厨房", CatererID: "C-1", VenueID: "V-1"}}}
}

// TestReadinessGate: the event cannot become ready while a checklist item
// is open; the refusal lists the open items; recording every item (the
// menu through its assessment, the kiosk from its live state) opens the
// gate, and each recording keeps who and when.
func TestReadinessGate(t *testing.T) {
	f := newFixture(t, engine.Config{})
	first := assurance.DateOf(t0)
	ev, err := f.e.FileEvent("", filing(first), assurance.Act{Actor: commander})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "EV-20260501-1" || ev.Phase != assurance.PhaseFiled || ev.Readiness.Total != 9 || ev.Readiness.Done != 0 {
		t.Fatalf("filed %s %s %+v", ev.ID, ev.Phase, ev.Readiness)
	}
	step := func(to assurance.EventPhase) error {
		_, err := f.e.EventStep(ev.ID, assurance.EventStep{To: to, Act: assurance.Act{Actor: commander, Note: "ok"}})
		return err
	}
	if err := step(assurance.PhaseEarlyIntervention); err != nil {
		t.Fatal(err)
	}
	err = step(assurance.PhaseReady)
	var nr *assurance.NotReadyError
	if !errors.As(err, &nr) || len(nr.Open) != 9 {
		t.Fatalf("ready with nothing done: %v", err)
	}
	insp := assurance.Actor{UserID: "insp-1", Role: assurance.RoleInspector, TeamID: "T-01"}
	if err := f.st.Put("kiosk", "K-NT-01", store.Kiosk{ID: "K-NT-01", SiteID: "K-01"}); err != nil {
		t.Fatal(err)
	}
	valid := assurance.HealthCertificate{ValidUntil: first.AddDays(300)}
	for _, in := range []engine.ReadinessInput{
		{Item: assurance.ItemCommitment, Ref: "承诺书-001"},
		{Item: assurance.ItemImplementationPlan, Ref: "方案-001"},
		{Item: assurance.ItemEmergencyPlan, Ref: "预案-001"},
		{Item: assurance.ItemEmergencyDrill},
		{Item: assurance.ItemTraining},
		{Item: assurance.ItemHealthCertificates, Staff: []assurance.StaffMember{{Name: "王建华", Post: "厨师", Cert: valid}}},
		{Item: assurance.ItemSampleRetention, Retention: &engine.RetentionInput{FridgeID: "F-1", Responsible: "李红梅", MassG: 150, HoldHours: 48}},
		{Item: assurance.ItemKiosk, KioskID: "K-NT-01", Instruments: []assurance.InstrumentStatus{{ID: "enzyme-1", CalibrationValidUntil: first.AddDays(100)}}},
	} {
		if _, err := f.e.RecordReadiness(ev.ID, "K-01", in, insp); err != nil {
			t.Fatalf("%s: %v", in.Item, err)
		}
	}
	if _, err := f.e.RecordReadiness(ev.ID, "K-01", engine.ReadinessInput{Item: assurance.ItemMenuAssessment}, insp); assurance.ErrorCode(err) != assurance.CodeInvalid {
		t.Errorf("menu item recorded directly: %v", err)
	}
	if _, err := f.e.RecordReadiness(ev.ID, "K-01", engine.ReadinessInput{Item: assurance.ItemTraining}, assurance.Actor{UserID: "v", Role: assurance.RoleViewer}); assurance.ErrorCode(err) != assurance.CodeForbidden {
		t.Errorf("viewer recorded readiness: %v", err)
	}
	err = step(assurance.PhaseReady)
	if !errors.As(err, &nr) || len(nr.Open) != 2 {
		t.Fatalf("menu and kiosk still open, got: %v", err)
	}
	t.Logf("refused: %v", err)
	// The menu: a cold dish needs controls.
	m, err := f.e.CreateMenu("", "K-01", []assurance.Dish{{Name: "凉拌黄瓜", Category: assurance.CategoryColdDish}, {Name: "清蒸鲈鱼"}}, insp)
	if err != nil {
		t.Fatal(err)
	}
	pc := f.e.Protocol()
	for _, fn := range []func(m *assurance.Menu, now time.Time) error{
		func(m *assurance.Menu, now time.Time) error {
			return m.Apply(assurance.MenuStep{To: assurance.MenuSubmitted, Act: assurance.Act{Actor: insp, At: now}}, pc)
		},
		func(m *assurance.Menu, now time.Time) error {
			return m.Decide("凉拌黄瓜", assurance.DishRequireControls, "专间制作，2 小时内食用", assurance.Act{Actor: insp, At: now})
		},
		func(m *assurance.Menu, now time.Time) error {
			return m.Apply(assurance.MenuStep{To: assurance.MenuApprovedWithControls, Act: assurance.Act{Actor: insp, At: now}}, pc)
		},
	} {
		if m, err = f.e.ModifyMenu(m.ID, fn); err != nil {
			t.Fatal(err)
		}
	}
	if m.EventID != ev.ID || m.State != assurance.MenuApprovedWithControls {
		t.Fatalf("menu %s %s", m.EventID, m.State)
	}
	// The kiosk comes online with its instrument.
	f.rec.mu.Lock()
	f.rec.kiosks = []wire.KioskState{{KioskID: "K-NT-01", Online: true, Instruments: []wire.InstrumentStatus{{ID: "enzyme-1", Model: "DY-3000E", State: "ready"}}}}
	f.rec.mu.Unlock()
	if err := step(assurance.PhaseReady); err != nil {
		t.Fatal(err)
	}
	if err := step(assurance.PhaseWholeProcess); err != nil {
		t.Fatal(err)
	}
	got, _ := f.e.Event(ev.ID)
	if got.Phase != assurance.PhaseWholeProcess || !got.Readiness.Ready {
		t.Fatalf("%s %+v", got.Phase, got.Readiness)
	}
	recs, _ := f.e.KitchenRecords(ev.ID)
	if len(recs) != 1 || len(recs[0].Log) != 8 || recs[0].Log[0].Actor.UserID != "insp-1" || recs[0].Log[0].At.IsZero() {
		t.Errorf("readiness log %+v", recs)
	}
	// Going offline does not take a live event back, but the report shows it.
	f.rec.mu.Lock()
	f.rec.kiosks = nil
	f.rec.mu.Unlock()
	if got, _ := f.e.Event(ev.ID); got.Readiness.Ready {
		t.Error("readiness still complete with the kiosk gone")
	}
}

// TestBanquetGuidanceAndRectification: a banquet at the guidance
// headcount gets guidance assigned to the nearest patrol team; a finding
// is rectified with uploaded evidence and the banquet closes.
func TestBanquetGuidanceAndRectification(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.team(t, "T-03", engine.ModePatrol, "", at(0, 0), true)
	f.team(t, "T-04", engine.ModePatrol, "", at(3000, 0), true)
	p := at(2500, 100)
	day := assurance.DateOf(t0).AddDays(4)
	b, warns, err := f.e.FileBanquet("", assurance.BanquetFiling{FilingNo: "NT-XF-001", Town: "先锋街道", Village: "东社村",
		Host: assurance.Host{Name: "张建华", Phone: "13812345678"}, Type: assurance.BanquetWedding, Place: "张宅", Point: &p,
		Sittings: []assurance.Sitting{{Date: day, Meal: assurance.MealLunch}}, Headcount: 50, ChefSource: assurance.ChefHired,
		Cooks: []assurance.BanquetCook{{Name: "陈德胜", Role: assurance.CookChef, Cert: assurance.CertValid}}},
		assurance.Act{Actor: assurance.Actor{UserID: "op-1", Role: assurance.RoleOperator}})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != "NT-XF-001" || b.State != assurance.BanquetGuidanceAssigned || b.TeamID != "T-04" || len(warns) == 0 {
		t.Fatalf("filed %s %s %s %v", b.ID, b.State, b.TeamID, warns)
	}
	if b.WindowStart.Hour() != 10 || b.WindowEnd.Sub(b.WindowStart) != 4*time.Hour || len(b.FourInPlace) != 4 {
		t.Errorf("window %v–%v, four %v", b.WindowStart, b.WindowEnd, b.FourInPlace)
	}
	insp := assurance.Actor{UserID: "insp-4", Role: assurance.RoleInspector, TeamID: "T-04"}
	pc := f.e.Protocol()
	b, err = f.e.ModifyBanquet(b.ID, nil, func(b *assurance.Banquet, now time.Time) error {
		return b.Apply(assurance.BanquetStep{To: assurance.BanquetOnSiteChecked, Findings: []assurance.Finding{{Text: "生熟未分开", Severity: assurance.FindingMinor}},
			Act: assurance.Act{Actor: insp, At: now}}, pc)
	})
	if err != nil || len(b.Rectifications) != 1 {
		t.Fatalf("check: %v %+v", err, b.Rectifications)
	}
	ev, err := f.e.AddEvidence(engine.SubjectBanquet, b.ID, "photo", "fix.png", pngReader(), insp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.AddEvidence(engine.SubjectBanquet, b.ID, "photo", "x.png", pngReader(), assurance.Actor{UserID: "i3", Role: assurance.RoleInspector, TeamID: "T-03"}); assurance.ErrorCode(err) != assurance.CodeForbidden {
		t.Errorf("other team's upload: %v", err)
	}
	if _, err := f.e.ModifyBanquet(b.ID, []assurance.EvidenceRef{{Ref: "ev-0000"}}, func(*assurance.Banquet, time.Time) error { return nil }); assurance.ErrorCode(err) != assurance.CodeInvalid {
		t.Errorf("unknown evidence ref: %v", err)
	}
	for _, fn := range []func(b *assurance.Banquet, now time.Time) error{
		func(b *assurance.Banquet, now time.Time) error {
			return b.Apply(assurance.BanquetStep{To: assurance.BanquetRectifying, Act: assurance.Act{Actor: insp, At: now}}, pc)
		},
		func(b *assurance.Banquet, now time.Time) error {
			return b.CloseRectification("R1", assurance.Act{Actor: insp, At: now, Evidence: []assurance.EvidenceRef{{Kind: "photo", Ref: ev.Ref}}})
		},
		func(b *assurance.Banquet, now time.Time) error {
			return b.Apply(assurance.BanquetStep{To: assurance.BanquetClosed, Act: assurance.Act{Actor: insp, At: now}}, pc)
		},
	} {
		if b, err = f.e.ModifyBanquet(b.ID, []assurance.EvidenceRef{{Ref: ev.Ref}}, fn); err != nil {
			t.Fatal(err)
		}
	}
	if b.State != assurance.BanquetClosed {
		t.Fatalf("state %s", b.State)
	}
	for _, p := range b.FourInPlace {
		if p.Pillar == assurance.PillarRectification && !p.InPlace {
			t.Errorf("rectification pillar %+v", p)
		}
	}
	_, path, err := f.e.EvidenceFile(engine.SubjectBanquet, b.ID, ev.Ref)
	if err != nil || path == "" {
		t.Fatal(err)
	}
}

// TestEvidenceChecks: uploads are size-limited and sniffed.
func TestEvidenceChecks(t *testing.T) {
	f := newFixture(t, engine.Config{MaxEvidence: 1 << 10})
	f.site(t, "S-1", "stall", at(0, 0), "B")
	r := positive("S-1", "x")
	f.e.Process(f.commit(t, r))
	inc := f.incidentOf(t, r.ResultID)
	op := assurance.Actor{UserID: "op", Role: assurance.RoleOperator}
	if _, err := f.e.AddEvidence(engine.SubjectIncident, inc.ID, "", "a.txt", bytes.NewReader([]byte("<html><script>alert(1)</script>")), op); !errors.Is(err, engine.ErrUnsupported) {
		t.Errorf("html: %v", err)
	}
	if _, err := f.e.AddEvidence(engine.SubjectIncident, inc.ID, "", "big.png", io.MultiReader(pngReader(), bytes.NewReader(make([]byte, 2<<10))), op); !errors.Is(err, engine.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	ev, err := f.e.AddEvidence(engine.SubjectIncident, inc.ID, "", "ok.png", pngReader(), op)
	if err != nil || ev.ContentType != "image/png" || ev.Kind != "photo" {
		t.Fatalf("%+v %v", ev, err)
	}
	again, _ := f.e.AddEvidence(engine.SubjectIncident, inc.ID, "", "ok.png", pngReader(), op)
	if got, _ := f.e.Incident(inc.ID); again.Ref != ev.Ref || len(got.Evidence) != 1 {
		t.Errorf("same file twice: %s %s, %d files", ev.Ref, again.Ref, len(got.Evidence))
	}
}
