package assurance

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const banquetSpec = `
filed             -> guidance_assigned closed
guidance_assigned -> on_site_checked closed
on_site_checked   -> rectifying closed
rectifying        -> closed
`

func TestBanquetTableMatchesSpec(t *testing.T) {
	want := parseEdges(banquetSpec)
	for _, from := range BanquetStates() {
		for _, to := range BanquetStates() {
			if got := from.CanMoveTo(to); got != want[string(from)+">"+string(to)] {
				t.Errorf("%s → %s: table says %v", from, to, got)
			}
		}
	}
}

// A wedding of 120 on 2026-10-05 (lunch and dinner), filed at t0
// (2026-10-01, 4 days ahead).
func banquetFiling() BanquetFiling {
	return BanquetFiling{
		FilingNo: "2026-海门-0123", Town: "三厂街道", Village: "大洪村",
		Host: Host{Name: "陈建国", Phone: "138 1234 5678"}, Type: BanquetWedding, Place: "大洪村7组陈宅",
		Point:     &Point{Lon: 121.17, Lat: 31.89},
		Sittings:  []Sitting{{Date: MakeDate(2026, 10, 5), Meal: MealLunch}, {Date: MakeDate(2026, 10, 5), Meal: MealDinner}},
		Headcount: 120, ChefSource: ChefHired,
		Cooks: []BanquetCook{
			{Name: "施大厨", Phone: "13912345678", Role: CookChef, ChefID: "VC-1", Cert: CertValid},
			{Name: "陈阿姨", Role: CookHelper, Cert: CertValid},
		},
		Menu: []Dish{{Name: "红烧肉"}, {Name: "清蒸白水鱼"}},
	}
}

func TestFileBanquet(t *testing.T) {
	cfg := DefaultConfig()
	b, w, err := FileBanquet("BQ1", banquetFiling(), act(oper, t0), cfg)
	must(t, err)
	if b.State != BanquetFiled || !b.GuidanceRequired || len(w) != 1 || w[0].Code != "guidance_required" {
		t.Fatalf("filed %+v warnings %v", b, w)
	}
	// Warnings: late filing, cook certificates, high-risk dishes.
	f := banquetFiling()
	f.Headcount = 30
	f.Sittings = []Sitting{{Date: MakeDate(2026, 10, 2), Meal: MealDinner}}
	f.Cooks[1].Cert = CertExpired
	f.Menu = append(f.Menu, Dish{Name: "凉拌木耳"}, Dish{Name: "野生菌火锅"})
	_, w, err = FileBanquet("BQ2", f, act(oper, t0), cfg)
	must(t, err)
	var codes []string
	for _, x := range w {
		codes = append(codes, x.Code)
	}
	if !reflect.DeepEqual(codes, []string{"late_filing", "cook_certificate", "high_risk_dish", "high_risk_dish"}) {
		t.Errorf("warnings %v", codes)
	}
	if !strings.Contains(w[0].Message.ZH, "仅 1 天") || !strings.Contains(w[1].Message.ZH, "陈阿姨 健康证明：过期") || !strings.Contains(w[3].Message.ZH, "野生菌火锅：野生菌") {
		t.Errorf("messages %+v", w)
	}
	// Validation.
	bad := banquetFiling()
	bad.Town, bad.Host.Phone, bad.Type, bad.Headcount, bad.ChefSource = "", "110", "party", 0, "robot"
	bad.Sittings = append(bad.Sittings, Sitting{Date: MakeDate(2026, 10, 5), Meal: MealLunch}, Sitting{Meal: "supper"})
	bad.Cooks = append(bad.Cooks, BanquetCook{Name: "", Role: "boss", Cert: "有"})
	_, _, err = FileBanquet("BQ3", bad, act(oper, t0), cfg)
	wantIs(t, err, ErrInvalid)
	for _, field := range []string{"town:", "host.phone:", "type:", "headcount:", "chef_source:", "sittings[2]: duplicate", "sittings[3].date:", "sittings[3].meal:", "cooks[2].name:", "cooks[2].role:", "cooks[2].cert:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not mention %q: %v", field, err)
		}
	}
	_, _, err = FileBanquet("BQ4", banquetFiling(), act(viewer, t0), cfg)
	wantIs(t, err, ErrForbidden)
}

func TestGuidanceThreshold(t *testing.T) {
	cfg := DefaultConfig()
	for _, c := range []struct {
		headcount, threshold int
		want                 bool
	}{{49, 50, false}, {50, 50, true}, {51, 50, true}, {99, 100, false}, {100, 100, true}} {
		cfg.Banquet.GuidanceMinHeadcount = c.threshold
		f := banquetFiling()
		f.Headcount = c.headcount
		b, _, err := FileBanquet("BQ", f, act(oper, t0), cfg)
		must(t, err)
		if b.GuidanceRequired != c.want {
			t.Errorf("%d diners, threshold %d: required %v", c.headcount, c.threshold, b.GuidanceRequired)
		}
		// Below the threshold a banquet closes straight from filed;
		// above it, only when cancelled.
		err = b.Apply(BanquetStep{To: BanquetClosed, Act: act(insp, at(time.Hour))}, cfg)
		if c.want {
			var pe *PreconditionError
			if !errors.As(err, &pe) || pe.Rule != "guidance_required" {
				t.Errorf("%d diners closed without guidance: %v", c.headcount, err)
			}
			must(t, b.Apply(BanquetStep{To: BanquetClosed, Act: act(insp, at(time.Hour)), Cancelled: true}, cfg))
			if !b.Cancelled {
				t.Error("not marked cancelled")
			}
		} else if err != nil {
			t.Errorf("%d diners: %v", c.headcount, err)
		}
	}
}

// banquetAt walks a banquet (120 diners) to state s; a check finds one
// minor problem so that rectifying is reachable, and the walk closes it
// before closing.
func banquetAt(t testing.TB, s BanquetState, cfg Config) Banquet {
	t.Helper()
	b, _, err := FileBanquet("BQ1", banquetFiling(), act(oper, t0), cfg)
	must(t, err)
	path := map[BanquetState][]BanquetState{
		BanquetFiled:            {},
		BanquetGuidanceAssigned: {BanquetGuidanceAssigned},
		BanquetOnSiteChecked:    {BanquetGuidanceAssigned, BanquetOnSiteChecked},
		BanquetRectifying:       {BanquetGuidanceAssigned, BanquetOnSiteChecked, BanquetRectifying},
		BanquetClosed:           {BanquetGuidanceAssigned, BanquetOnSiteChecked, BanquetRectifying, BanquetClosed},
	}[s]
	for i, to := range path {
		when := at(time.Duration(i+1) * time.Hour)
		if to == BanquetClosed {
			must(t, b.CloseRectification("R1", Act{Actor: insp, At: when, Evidence: evidence("photo")}))
		}
		must(t, b.Apply(fullBanquetStep(to, pathBanquetActor(to), when), cfg))
	}
	return b
}

func pathBanquetActor(to BanquetState) Actor {
	if to == BanquetGuidanceAssigned {
		return cmdr
	}
	return insp
}

func fullBanquetStep(to BanquetState, a Actor, when time.Time) BanquetStep {
	return BanquetStep{To: to, Act: act(a, when), TeamID: "T1", GuidanceUnit: "海门区市场监管局三厂分局", Officers: []string{"周监督"},
		Findings: []Finding{{Text: "帮厨未戴口罩", Severity: FindingMinor}}}
}

// TestBanquetMatrix tries every pair with an admin and a full step. The
// rules of closed depend on where it comes from: from filed (120 diners)
// and guidance_assigned it needs a cancellation, from on_site_checked the
// check's open finding blocks it.
func TestBanquetMatrix(t *testing.T) {
	cfg := DefaultConfig()
	for _, from := range BanquetStates() {
		for _, to := range BanquetStates() {
			b := banquetAt(t, from, cfg)
			before := jsonOf(t, b)
			err := b.Apply(fullBanquetStep(to, admin, at(24*time.Hour)), cfg)
			switch {
			case !from.CanMoveTo(to):
				var te *TransitionError
				if !errors.As(err, &te) || !reflect.DeepEqual(te.Allowed, stateNames(from.Next())) {
					t.Errorf("%s → %s: %v", from, to, err)
				}
			case to == BanquetClosed:
				wantIs(t, err, ErrPrecondition)
				// With the rule satisfied it goes through.
				step := fullBanquetStep(to, admin, at(24*time.Hour))
				step.Cancelled = from == BanquetFiled || from == BanquetGuidanceAssigned
				for _, r := range b.Rectifications {
					if r.Open {
						must(t, b.CloseRectification(r.ID, Act{Actor: admin, At: at(24 * time.Hour), Evidence: evidence("photo")}))
					}
				}
				must(t, b.Apply(step, cfg))
				continue
			default:
				if err != nil || b.State != to {
					t.Errorf("%s → %s refused: %v", from, to, err)
				}
				continue
			}
			if jsonOf(t, b) != before {
				t.Errorf("%s → %s: refused step changed the banquet", from, to)
			}
		}
	}
}

func TestBanquetRoles(t *testing.T) {
	cfg := DefaultConfig()
	want := map[BanquetState][]Role{
		BanquetGuidanceAssigned: {RoleAdmin, RoleCommander},
		BanquetOnSiteChecked:    {RoleAdmin, RoleCommander, RoleInspector},
		BanquetRectifying:       {RoleAdmin, RoleCommander, RoleInspector},
		BanquetClosed:           {RoleAdmin, RoleCommander, RoleInspector},
	}
	for to, roles := range want {
		if !reflect.DeepEqual(BanquetRoles(to), roles) {
			t.Errorf("BanquetRoles(%s) = %v", to, BanquetRoles(to))
		}
	}
	for _, from := range BanquetStates() {
		for _, to := range from.Next() {
			for _, r := range Roles() {
				b := banquetAt(t, from, cfg)
				step := fullBanquetStep(to, actorOf(r), at(24*time.Hour))
				step.Cancelled = true
				if to == BanquetClosed {
					for i := range b.Rectifications {
						b.Rectifications[i].Open = false
					}
				}
				err := b.Apply(step, cfg)
				allowed := false
				for _, a := range want[to] {
					allowed = allowed || a == r
				}
				if allowed != (err == nil) || (!allowed && !errors.Is(err, ErrForbidden)) {
					t.Errorf("%s → %s as %s: %v", from, to, r, err)
				}
			}
		}
	}
}

func TestRectificationTrackedToClosed(t *testing.T) {
	cfg := DefaultConfig()
	b := banquetAt(t, BanquetGuidanceAssigned, cfg)
	// An inspector of another team cannot record the check.
	wantIs(t, b.Apply(BanquetStep{To: BanquetOnSiteChecked, Act: act(insp2, at(2*time.Hour))}, cfg), ErrForbidden)
	// Findings are validated.
	wantIs(t, b.Apply(BanquetStep{To: BanquetOnSiteChecked, Act: act(insp, at(2*time.Hour)), Findings: []Finding{{Text: "x", Severity: "grave"}}}, cfg), ErrInvalid)
	// A clean check: no rectifying, close at once.
	clean := b
	clean.Audit = append([]AuditEntry(nil), b.Audit...)
	must(t, clean.Apply(BanquetStep{To: BanquetOnSiteChecked, Act: act(insp, at(2*time.Hour))}, cfg))
	wantIs(t, clean.Apply(BanquetStep{To: BanquetRectifying, Act: act(insp, at(2*time.Hour))}, cfg), ErrPrecondition)
	must(t, clean.Apply(BanquetStep{To: BanquetClosed, Act: act(insp, at(3*time.Hour))}, cfg))

	// Two findings → two items due in 3 days.
	must(t, b.Apply(BanquetStep{To: BanquetOnSiteChecked, Act: act(insp, at(2*time.Hour)), Findings: []Finding{
		{Text: "凉菜未设专间", Severity: FindingMajor}, {Text: "帮厨未戴口罩", Severity: FindingMinor}}}, cfg))
	if len(b.Rectifications) != 2 || b.Rectifications[0].ID != "R1" || !b.Rectifications[1].Open || b.Rectifications[0].Deadline != at(2*time.Hour+72*time.Hour) {
		t.Fatalf("rectifications %+v", b.Rectifications)
	}
	must(t, b.Apply(BanquetStep{To: BanquetRectifying, Act: act(insp, at(3*time.Hour))}, cfg))
	id, err := b.AddFinding(Finding{Text: "留样不足125克", Severity: FindingMinor}, act(insp, at(4*time.Hour)), cfg)
	must(t, err)
	if id != "R3" {
		t.Errorf("new item id %s", id)
	}
	var pe *PreconditionError
	if err := b.Apply(BanquetStep{To: BanquetClosed, Act: act(insp, at(5*time.Hour))}, cfg); !errors.As(err, &pe) || !strings.Contains(pe.Detail, "3 rectification item(s)") {
		t.Fatalf("close with open items: %v", err)
	}
	wantIs(t, b.CloseRectification("R1", act(insp, at(5*time.Hour))), ErrPrecondition) // no evidence
	wantIs(t, b.CloseRectification("R9", Act{Actor: insp, At: at(5 * time.Hour), Evidence: evidence("photo")}), ErrInvalid)
	wantIs(t, b.CloseRectification("R1", Act{Actor: insp2, At: at(5 * time.Hour), Evidence: evidence("photo")}), ErrForbidden)
	for _, id := range []string{"R1", "R2", "R3"} {
		must(t, b.CloseRectification(id, Act{Actor: insp, At: at(6 * time.Hour), Evidence: evidence("photo"), Note: "已整改"}))
	}
	wantIs(t, b.CloseRectification("R1", Act{Actor: insp, At: at(6 * time.Hour), Evidence: evidence("photo")}), ErrPrecondition)
	if r := b.Rectifications[0]; r.Open || r.Closed == nil || r.Closed.Actor != insp || r.Closed.Evidence[0].Ref != "photo-1" {
		t.Errorf("closed item %+v", r)
	}
	wantIs(t, b.Apply(BanquetStep{To: BanquetClosed, Act: act(insp, at(7*time.Hour)), IllnessCount: -1}, cfg), ErrInvalid)
	must(t, b.Apply(BanquetStep{To: BanquetClosed, Act: act(insp, at(7*time.Hour)), IllnessCount: 0}, cfg))
	_, err = b.AddFinding(Finding{Text: "x", Severity: FindingMinor}, act(insp, at(8*time.Hour)), cfg)
	wantIs(t, err, ErrPrecondition)
	var actions []string
	for _, e := range b.Audit {
		actions = append(actions, e.Action)
	}
	want := []string{"filed", "transition", "transition", "transition", "finding_added", "rectification_closed", "rectification_closed", "rectification_closed", "transition"}
	if !reflect.DeepEqual(actions, want) {
		t.Errorf("audit %v", actions)
	}
}

func TestVillageChefRegister(t *testing.T) {
	c := VillageChef{ID: "VC-1", Name: "施大厨", Phone: "+86 139-1234-5678",
		Cert: HealthCertificate{Number: "HC9", IssuedOn: MakeDate(2025, 10, 6), ValidUntil: MakeDate(2026, 10, 5)}}
	must(t, c.Validate())
	for d, want := range map[Date]CertStatus{
		MakeDate(2025, 10, 5): CertNone, MakeDate(2025, 10, 6): CertValid, MakeDate(2026, 10, 5): CertValid, MakeDate(2026, 10, 6): CertExpired,
	} {
		if got := c.Cert.StatusOn(d); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
	if (HealthCertificate{}).StatusOn(MakeDate(2026, 1, 1)) != CertNone {
		t.Error("no certificate")
	}
	ok, why := c.FitOn(MakeDate(2026, 10, 5), 1)
	if ok || len(why) != 1 || !strings.Contains(why[0].ZH, "培训 0 次") {
		t.Errorf("untrained: %v %v", ok, why)
	}
	c.RecordTraining(MakeDate(2026, 9, 20))
	c.RecordTraining(MakeDate(2026, 3, 1))
	if c.Trainings != 2 || c.LastTrained != MakeDate(2026, 9, 20) {
		t.Errorf("training %d %s", c.Trainings, c.LastTrained)
	}
	if ok, _ := c.FitOn(MakeDate(2026, 10, 5), 1); !ok {
		t.Error("fit chef refused")
	}
	if ok, why := c.FitOn(MakeDate(2026, 10, 6), 1); ok || !strings.Contains(why[0].EN, "expired 2026-10-05") {
		t.Errorf("expired: %v", why)
	}
	for _, bad := range []VillageChef{{Name: "x"}, {ID: "x"}, {ID: "x", Name: "y", Trainings: -1}, {ID: "x", Name: "y", Phone: "12"}} {
		wantIs(t, bad.Validate(), ErrInvalid)
	}
}

func TestFourInPlace(t *testing.T) {
	cfg := DefaultConfig()
	chefs := []VillageChef{{ID: "VC-1", Name: "施大厨", Trainings: 2,
		Cert: HealthCertificate{IssuedOn: MakeDate(2026, 1, 1), ValidUntil: MakeDate(2026, 12, 31)}}}
	status := func(b Banquet, chefs []VillageChef) map[Pillar]bool {
		out := map[Pillar]bool{}
		for _, p := range FourInPlace(b, chefs, cfg) {
			out[p.Pillar] = p.InPlace
			if p.Label != p.Pillar.Label() || p.InPlace != (len(p.Details) == 0) {
				t.Errorf("pillar %+v", p)
			}
		}
		return out
	}
	b := banquetAt(t, BanquetFiled, cfg)
	if got := status(b, chefs); !reflect.DeepEqual(got, map[Pillar]bool{PillarPersonnel: true, PillarFiling: true, PillarGuidance: false, PillarRectification: true}) {
		t.Errorf("filed: %v", got)
	}
	b = banquetAt(t, BanquetRectifying, cfg)
	if got := status(b, chefs); got[PillarGuidance] != true || got[PillarRectification] != false {
		t.Errorf("rectifying: %v", got)
	}
	b = banquetAt(t, BanquetClosed, cfg)
	for p, ok := range status(b, chefs) {
		if !ok {
			t.Errorf("closed banquet: %s not in place", p)
		}
	}
	// The register decides for a registered chef: expired on the sitting day.
	expired := []VillageChef{chefs[0]}
	expired[0].Cert.ValidUntil = MakeDate(2026, 10, 4)
	if status(b, expired)[PillarPersonnel] {
		t.Error("expired registered chef accepted")
	}
	// An unregistered cook falls back to the filed status.
	b.Filing.Cooks[1].Cert = CertNone
	p := FourInPlace(b, chefs, cfg)[0]
	if p.InPlace || !strings.Contains(p.Details[0].ZH, "陈阿姨：健康证明无") {
		t.Errorf("unregistered cook: %+v", p)
	}
	// Filing lead: filed 4 days ahead passes 3, fails 5.
	cfg.Banquet.FilingLeadDays = 5
	if FourInPlace(b, chefs, cfg)[1].InPlace {
		t.Error("4 days ahead passed a 5-day lead")
	}
	if len(Pillars()) != 4 {
		t.Error("four pillars")
	}
}

func TestNormalizePhone(t *testing.T) {
	good := map[string]string{
		"13812345678":        "13812345678",
		"138 1234 5678":      "13812345678",
		"+86 138-1234-5678":  "13812345678",
		"008613812345678":    "13812345678",
		"0513-85001234":      "0513-85001234",
		"(0513) 8500123":     "0513-8500123",
		"010-12345678":       "010-12345678",
		"02112345678":        "021-12345678",
		"（0513）85001234":     "0513-85001234",
		"+86 (0513) 8500123": "0513-8500123",
	}
	for in, want := range good {
		if got, err := NormalizePhone(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "110", "12812345678", "1381234567", "138123456789", "+1 415 555 0100", "13812345678 ext 2", "0013812345678", "0513-123", "00-12345678", "1３812345678"} {
		if got, err := NormalizePhone(in); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}
