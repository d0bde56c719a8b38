package assurance

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shianfood/shian/protocols/domain/assay"
)

func ids[S ~string](ss ...S) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// everyIdentifier lists every identifier the package puts on a screen.
func everyIdentifier() map[string][]string {
	cfg := DefaultConfig()
	var risks, credits []string
	for _, r := range cfg.Menu.Rules {
		risks = append(risks, string(r.Reason))
	}
	for _, r := range cfg.Credit.Rules {
		credits = append(credits, string(r.Reason))
	}
	var grades []string
	for _, g := range Grades() {
		grades = append(grades, "grade_"+string(g))
	}
	return map[string][]string{
		"roles":              ids(Roles()...),
		"incident states":    ids(IncidentStates()...),
		"triggers":           ids(TriggerKinds()...),
		"controls":           ids(ControlMeasures()...),
		"method kinds":       ids(MethodRapid, MethodLab),
		"retest refusals":    ids(RetestWindowClosed, RetestRapidMethod, RetestNotRapid, RetestDuplicate, RetestWaived, RetestTooLate),
		"verdicts":           ids(assay.Negative, assay.Suspicious, assay.Positive, assay.Invalid, assay.Pass, assay.Caution, assay.Fail),
		"event phases":       ids(EventPhases()...),
		"supervision modes":  ids(SupervisionFull, SupervisionKeyPoint),
		"warnings":           {"late_notification", "guidance_required", "late_filing", "cook_certificate", "high_risk_dish"},
		"checklist items":    ids(ChecklistItems()...),
		"cert statuses":      ids(CertStatuses()...),
		"dish categories":    ids(DishCategories()...),
		"risk reasons":       risks,
		"severities":         ids(SeverityForbid, SeverityRestrict, SeverityAdvise),
		"menu states":        ids(MenuStates()...),
		"dish outcomes":      ids(DishApprove, DishRequireControls, DishReject),
		"grades":             grades,
		"patrol modes":       ids(PatrolRoutine, PatrolEvent),
		"credit reasons":     append(credits, string(CreditInitial)),
		"credit sources":     ids(CreditSources()...),
		"banquet types":      ids(BanquetTypes()...),
		"meals":              ids(MealLunch, MealDinner),
		"chef sources":       ids(ChefSources()...),
		"cook roles":         ids(CookChef, CookHelper),
		"banquet states":     ids(BanquetStates()...),
		"finding severities": ids(FindingMinor, FindingMajor),
		"pillars":            ids(Pillars()...),
		"repeat states":      ids(RepeatStates()...),
		"event meals":        ids(MealBreakfast, MealLunch, MealDinner),
		"sources":            ids(SourceManual, SourceScale, SourceProbe),
		"process checks":     ids(ProcessKinds()...),
		"duty gaps":          ids(GapRetentionMissing, GapRetentionEarly, GapMorningMissing, GapUnfitWorker, GapProcessFailed, GapProblemOpen),
		"levels":             ids(ResponseLevels()...),
		"emergency states":   ids(EmergencyActivated, EmergencyClosed),
		"causes":             ids(Causes()...),
		"timeline":           {TLReported, TLActivated, TLFrozen, TLDispatched, TLStepDone, TLUpdated, TLLevel, TLNote, TLClosed, TLReleased, TLNoTeam},
	}
}

func TestEveryIdentifierHasALabel(t *testing.T) {
	for group, list := range everyIdentifier() {
		for _, id := range list {
			l, ok := LabelOf(id)
			if !ok || l.ZH == "" || l.EN == "" {
				t.Errorf("%s: %q has no label", group, id)
			}
		}
	}
	// Spot-check the typed accessors go through the same table.
	if IncidentSignedOff.Label().ZH != "销号" || RoleOperator.Label().ZH != "检测员" || GradeD.Label().EN != "Grade D (highest risk)" ||
		ItemEmergencyPlan.Label().ZH != "应急预案" || PhaseWholeProcess.Label().ZH != "全程防控" || MealLunch.Label().ZH != "午餐" ||
		CertExpired.Label().ZH != "过期" || PillarFiling.Label().ZH != "信息报备" || RetestWindowClosed.Label().ZH != "超过4小时复检申请时限" {
		t.Error("typed labels disagree with the table")
	}
	// Every typed Label method reads the same table.
	typed := map[string]Label{
		"positive_result": TriggerPositive.Label(), "sealed": ControlSealed.Label(), "lab": MethodLab.Label(),
		"full_supervision": SupervisionFull.Label(), "cold_dish": CategoryColdDish.Label(), "puffer_fish": RiskPufferFish.Label(),
		"forbid": SeverityForbid.Label(), "approved": MenuApproved.Label(), "reject": DishReject.Label(),
		"seriously_dishonest": CreditSeriouslyDishonest.Label(), "routine_patrol": PatrolRoutine.Label(), "wedding": BanquetWedding.Label(),
		"hired_chef": ChefHired.Label(), "helper": CookHelper.Label(), "rectifying": BanquetRectifying.Label(),
		"major_finding": FindingMajor.Label(), "early_intervention": PhaseEarlyIntervention.Label(),
		"cert_none": CertNone.Label(), "kiosk_ready": ItemKiosk.Label(), "viewer": RoleViewer.Label(), "warned": IncidentWarned.Label(),
	}
	for id, l := range typed {
		if want, _ := LabelOf(id); l != want {
			t.Errorf("%s: typed label %+v, table %+v", id, l, want)
		}
	}
	if l := IncidentState("nope").Label(); l.ZH != "nope" || l.EN != "nope" {
		t.Errorf("unknown identifier label %+v", l)
	}
}

func TestLabelTableIsConsistent(t *testing.T) {
	seen, zh, en := map[string]bool{}, map[string]string{}, map[string]string{}
	for _, e := range Labels() {
		if seen[e.ID] {
			t.Errorf("duplicate identifier %q", e.ID)
		}
		seen[e.ID] = true
		if e.ZH == "" || e.EN == "" || strings.TrimSpace(e.ZH) != e.ZH || strings.TrimSpace(e.EN) != e.EN {
			t.Errorf("%q: label %+v", e.ID, e.Label)
		}
		// One label, one identifier: two identifiers must not share an
		// on-screen text, or the screen cannot tell them apart.
		if other, dup := zh[e.ZH]; dup {
			t.Errorf("%q and %q share the zh label %q", other, e.ID, e.ZH)
		}
		if other, dup := en[e.EN]; dup {
			t.Errorf("%q and %q share the en label %q", other, e.ID, e.EN)
		}
		zh[e.ZH], en[e.EN] = e.ID, e.ID
	}
}

// TestLabelsAgreeWithGlossary reads docs/glossary.md and checks every
// identifier it defines that the table also has: same zh-CN, same en (or
// one of the alternatives the glossary lists with " / ").
func TestLabelsAgreeWithGlossary(t *testing.T) {
	b, err := os.ReadFile("../../../docs/glossary.md")
	if err != nil {
		t.Skip("docs/glossary.md not found:", err)
	}
	checked := 0
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.Contains(cells[1], "`") {
			continue
		}
		var gids []string
		for _, p := range strings.Split(cells[1], "/") {
			gids = append(gids, strings.Trim(strings.TrimSpace(p), "`"))
		}
		gzh, gen := strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])
		zhAlts, enAlts := strings.Split(gzh, " / "), strings.Split(gen, " / ")
		for i, id := range gids {
			l, ok := LabelOf(id)
			if !ok {
				continue
			}
			checked++
			wantZH, wantEN := []string{gzh}, []string{gen}
			if len(gids) > 1 && len(zhAlts) == len(gids) {
				wantZH = []string{zhAlts[i]}
			} else {
				wantZH = append(wantZH, zhAlts...)
			}
			if len(gids) > 1 && len(enAlts) == len(gids) {
				wantEN = []string{enAlts[i]}
			} else {
				wantEN = append(wantEN, enAlts...)
			}
			// "风险等级 A/B/C/D" names the term; the table has 风险等级.
			if !slices.Contains(wantZH, l.ZH) && !strings.HasPrefix(gzh, l.ZH+" ") {
				t.Errorf("%s: zh %q, glossary %q", id, l.ZH, gzh)
			}
			if !slices.Contains(wantEN, l.EN) {
				t.Errorf("%s: en %q, glossary %q", id, l.EN, gen)
			}
		}
	}
	t.Logf("%d glossary identifiers checked", checked)
	if checked < 40 {
		t.Errorf("only %d glossary identifiers checked; did the glossary format change?", checked)
	}
}

func TestParseEnums(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(" " + string(r) + " "); got != r || err != nil {
			t.Errorf("ParseRole(%s): %s %v", r, got, err)
		}
	}
	for _, s := range IncidentStates() {
		if got, err := ParseIncidentState(string(s)); got != s || err != nil {
			t.Errorf("ParseIncidentState(%s)", s)
		}
	}
	for _, s := range MenuStates() {
		if got, err := ParseMenuState(string(s)); got != s || err != nil {
			t.Errorf("ParseMenuState(%s)", s)
		}
	}
	for _, s := range BanquetStates() {
		if got, err := ParseBanquetState(string(s)); got != s || err != nil {
			t.Errorf("ParseBanquetState(%s)", s)
		}
	}
	_, err := ParseRole("superuser")
	wantIs(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), "admin, commander, inspector, operator, viewer") {
		t.Errorf("message %v", err)
	}
	_, err = ParseGrade("E")
	wantIs(t, err, ErrInvalid)
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	must(t, cfg.Validate())
	if cfg.Incident.RetestWindow.Hours() != 4 || cfg.Readiness.RetentionMinHold.Hours() != 48 || cfg.Readiness.RetentionMinMass.Float() != 125 ||
		cfg.Banquet.GuidanceMinHeadcount != 50 || cfg.Filing.NoticeWorkingDays != 20 {
		t.Errorf("defaults changed: %+v", cfg)
	}
	breakers := map[string]func(*Config){
		"items":      func(c *Config) { c.Readiness.Items = nil },
		"item":       func(c *Config) { c.Readiness.Items = []ChecklistItem{"vibes"} },
		"retention":  func(c *Config) { c.Readiness.RetentionMinMass = 0 },
		"rule dup":   func(c *Config) { c.Menu.Rules = append(c.Menu.Rules, c.Menu.Rules[0]) },
		"rule empty": func(c *Config) { c.Menu.Rules[0].Keywords, c.Menu.Rules[0].Categories = nil, nil },
		"severity":   func(c *Config) { c.Menu.Rules[0].Severity = "caution" },
		"deadline":   func(c *Config) { c.Incident.Deadlines["limbo"] = 1 },
		"negative":   func(c *Config) { c.Incident.Deadlines[IncidentWarned] = -1 },
		"window":     func(c *Config) { c.Incident.RetestWindow = 0 },
		"escalate":   func(c *Config) { c.Incident.EscalateTo = []Role{"mayor"} },
		"credit":     func(c *Config) { c.Credit.Min = 200 },
		"force":      func(c *Config) { c.Credit.Rules[0].ForceGrade = "F" },
		"grades":     func(c *Config) { c.Grades = c.Grades[:2] },
		"banquet":    func(c *Config) { c.Banquet.GuidanceMinHeadcount = 0 },
		"offset":     func(c *Config) { c.KPI.UTCOffset = 15 * 3600e9 },
		"notice":     func(c *Config) { c.Filing.NoticeWorkingDays = -1 },
		"rp method":  func(c *Config) { c.Incident.RepeatFirst.Methods = []assay.Method{"divining"} },
		"rp count":   func(c *Config) { c.Incident.RepeatFirst.SuspiciousRepeats = 11 },
		"rp within":  func(c *Config) { c.Incident.RepeatFirst.Within = 0 },
	}
	for name, b := range breakers {
		c := DefaultConfig()
		b(&c)
		if err := c.Validate(); ErrorCode(err) != CodeInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestErrorCode(t *testing.T) {
	msg := (&RoleError{Action: "incident I → signed_off", Role: RoleInspector, Allowed: []Role{RoleAdmin, RoleCommander}}).Error()
	if msg != "incident I → signed_off: role inspector (监督员) may not do this; allowed roles: admin (管理员), commander (指挥员)" {
		t.Errorf("RoleError message %q", msg)
	}
	if msg := (&PreconditionError{Action: "a", Rule: "r", Detail: "d"}).Error(); msg != "a: d" {
		t.Errorf("PreconditionError message %q", msg)
	}
	cases := map[Code]error{
		"":                    nil,
		CodeInvalid:           invalid("x", "y"),
		CodeIllegalTransition: &TransitionError{},
		CodeForbidden:         &RoleError{},
		CodePrecondition:      &PreconditionError{},
		CodeNotReady:          &NotReadyError{},
		CodeRetestRefused:     &RetestError{},
		CodeInternal:          os.ErrNotExist,
	}
	for want, err := range cases {
		if got := ErrorCode(err); got != want {
			t.Errorf("ErrorCode(%v) = %s, want %s", err, got, want)
		}
	}
}
