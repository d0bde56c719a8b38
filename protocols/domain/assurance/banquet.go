package assurance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BanquetType is the occasion of a rural group dinner (聚餐类型).
type BanquetType string

// Banquet types, as on the filing form.
const (
	BanquetWedding      BanquetType = "wedding"        // 婚宴
	BanquetBirthday     BanquetType = "birthday"       // 生日
	BanquetHouseBuild   BanquetType = "house_building" // 建房
	BanquetHousewarming BanquetType = "housewarming"   // 乔迁
	BanquetFuneral      BanquetType = "funeral"        // 丧事
	BanquetOther        BanquetType = "other_banquet"  // 其它
)

// BanquetTypes returns every type.
func BanquetTypes() []BanquetType {
	return []BanquetType{BanquetWedding, BanquetBirthday, BanquetHouseBuild, BanquetHousewarming, BanquetFuneral, BanquetOther}
}

// Label returns the zh-CN and en label.
func (t BanquetType) Label() Label { return labelOf(string(t)) }

// Meal is the meal of a sitting: 午 (lunch) or 晚 (dinner).
type Meal string

// Meals.
const (
	MealLunch  Meal = "lunch"  // 午餐
	MealDinner Meal = "dinner" // 晚餐
)

// Label returns the zh-CN and en label.
func (m Meal) Label() Label { return labelOf(string(m)) }

// Sitting is one meal of a banquet.
type Sitting struct {
	Date Date `json:"date"`
	Meal Meal `json:"meal"`
}

// ChefSource is where the cooks come from (厨师来源).
type ChefSource string

// Chef sources.
const (
	ChefFamily    ChefSource = "family"            // 家庭成员
	ChefRelatives ChefSource = "relatives_friends" // 亲朋好友
	ChefHired     ChefSource = "hired_chef"        // 外请厨师
)

// ChefSources returns every source.
func ChefSources() []ChefSource { return []ChefSource{ChefFamily, ChefRelatives, ChefHired} }

// Label returns the zh-CN and en label.
func (s ChefSource) Label() Label { return labelOf(string(s)) }

// CookRole separates cooks from helpers.
type CookRole string

// Cook roles.
const (
	CookChef   CookRole = "cook"   // 厨师
	CookHelper CookRole = "helper" // 帮厨
)

// Label returns the zh-CN and en label.
func (r CookRole) Label() Label { return labelOf(string(r)) }

// BanquetCook is a cook or helper named on the filing form.
type BanquetCook struct {
	Name  string   `json:"name"`
	Phone string   `json:"phone,omitempty"`
	Role  CookRole `json:"role"`
	// ChefID links a registered village chef (乡村厨师); their register
	// entry then decides the certificate status.
	ChefID string `json:"chef_id,omitempty"`
	// Cert is the health certificate status as filed (有/无/过期).
	Cert CertStatus `json:"cert"`
}

// Host is who holds the banquet (举办人).
type Host struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// BanquetFiling is the filing form (农村集体聚餐备案登记表, 信息报备).
type BanquetFiling struct {
	FilingNo   string        `json:"filing_no,omitempty"` // 编号
	Town       string        `json:"town"`                // 乡镇
	Village    string        `json:"village"`             // 村
	Host       Host          `json:"host"`
	Type       BanquetType   `json:"type"`
	Place      string        `json:"place"`
	Point      *Point        `json:"point,omitempty"`
	Sittings   []Sitting     `json:"sittings"`
	Headcount  int           `json:"headcount"`
	ChefSource ChefSource    `json:"chef_source"`
	Cooks      []BanquetCook `json:"cooks"`
	Menu       []Dish        `json:"menu,omitempty"`
}

// Validate checks the filing and returns every problem found, joined.
func (f BanquetFiling) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(f.Town) == "" || strings.TrimSpace(f.Village) == "" {
		add(invalid("town", "town (乡镇) and village (村) are required"))
	}
	if strings.TrimSpace(f.Host.Name) == "" {
		add(invalid("host.name", "required"))
	}
	if _, err := NormalizePhone(f.Host.Phone); err != nil {
		add(invalid("host.phone", "%v", err))
	}
	if !slices.Contains(BanquetTypes(), f.Type) {
		add(invalid("type", "%q is not a banquet type; use wedding, birthday, house_building, housewarming, funeral or other_banquet", f.Type))
	}
	if strings.TrimSpace(f.Place) == "" {
		add(invalid("place", "required: where the banquet is held"))
	}
	add(f.Point.validate("point"))
	if len(f.Sittings) == 0 {
		add(invalid("sittings", "at least one sitting (date and 午/晚) is required"))
	}
	seen := map[Sitting]bool{}
	for i, s := range f.Sittings {
		field := fmt.Sprintf("sittings[%d]", i)
		if s.Date.IsZero() {
			add(invalid(field+".date", "required"))
		}
		if s.Meal != MealLunch && s.Meal != MealDinner {
			add(invalid(field+".meal", "%q is not a meal; use lunch (午) or dinner (晚)", s.Meal))
		}
		if seen[s] {
			add(invalid(field, "duplicate sitting %s %s", s.Date, s.Meal))
		}
		seen[s] = true
	}
	if f.Headcount <= 0 {
		add(invalid("headcount", "must be positive"))
	}
	if !slices.Contains(ChefSources(), f.ChefSource) {
		add(invalid("chef_source", "%q is not a chef source; use family, relatives_friends or hired_chef", f.ChefSource))
	}
	if len(f.Cooks) == 0 {
		add(invalid("cooks", "at least one cook is required"))
	}
	for i, c := range f.Cooks {
		field := fmt.Sprintf("cooks[%d]", i)
		if strings.TrimSpace(c.Name) == "" {
			add(invalid(field+".name", "required"))
		}
		if c.Role != CookChef && c.Role != CookHelper {
			add(invalid(field+".role", "%q is not a role; use cook or helper", c.Role))
		}
		if !slices.Contains(CertStatuses(), c.Cert) {
			add(invalid(field+".cert", "%q is not a certificate status; use cert_valid (有), cert_none (无) or cert_expired (过期)", c.Cert))
		}
		if c.Phone != "" {
			if _, err := NormalizePhone(c.Phone); err != nil {
				add(invalid(field+".phone", "%v", err))
			}
		}
	}
	add(validateDishes(f.Menu))
	return errors.Join(errs...)
}

// firstSitting returns the earliest sitting date.
func (f BanquetFiling) firstSitting() Date {
	var d Date
	for _, s := range f.Sittings {
		if d.IsZero() || s.Date.Before(d) {
			d = s.Date
		}
	}
	return d
}

// BanquetState is a stage of a banquet's 四到位 flow.
type BanquetState string

// Banquet states.
const (
	BanquetFiled            BanquetState = "filed"             // 已备案
	BanquetGuidanceAssigned BanquetState = "guidance_assigned" // 已指派现场指导
	BanquetOnSiteChecked    BanquetState = "on_site_checked"   // 已现场检查
	BanquetRectifying       BanquetState = "rectifying"        // 整改中
	BanquetClosed           BanquetState = "closed"            // 已关闭
)

var banquetMachine = machine[BanquetState]{
	name:   "banquet",
	states: []BanquetState{BanquetFiled, BanquetGuidanceAssigned, BanquetOnSiteChecked, BanquetRectifying, BanquetClosed},
	edges: map[BanquetState][]BanquetState{
		// filed → closed: no guidance needed (below the headcount
		// threshold), or cancelled.
		BanquetFiled: {BanquetGuidanceAssigned, BanquetClosed},
		// guidance_assigned → closed: cancelled only.
		BanquetGuidanceAssigned: {BanquetOnSiteChecked, BanquetClosed},
		BanquetOnSiteChecked:    {BanquetRectifying, BanquetClosed},
		BanquetRectifying:       {BanquetClosed},
	},
	roles: map[BanquetState][]Role{
		BanquetGuidanceAssigned: rolesCommand,
		BanquetOnSiteChecked:    rolesField,
		BanquetRectifying:       rolesField,
		BanquetClosed:           rolesField,
	},
}

// BanquetStates returns every banquet state.
func BanquetStates() []BanquetState { return slices.Clone(banquetMachine.states) }

// Valid reports whether s is a banquet state.
func (s BanquetState) Valid() bool { return banquetMachine.valid(s) }

// Label returns the zh-CN and en label.
func (s BanquetState) Label() Label { return labelOf(string(s)) }

// Next returns the states the table allows from s.
func (s BanquetState) Next() []BanquetState { return banquetMachine.next(s) }

// CanMoveTo reports whether the table has the edge s → to.
func (s BanquetState) CanMoveTo(to BanquetState) bool { return banquetMachine.can(s, to) }

// BanquetRoles returns the roles that may move a banquet into state to.
func BanquetRoles(to BanquetState) []Role { return banquetMachine.rolesFor(to) }

// ParseBanquetState parses a banquet state identifier.
func ParseBanquetState(s string) (BanquetState, error) {
	return parseEnum("banquet state", s, banquetMachine.states)
}

// FindingSeverity grades an on-site finding.
type FindingSeverity string

// Finding severities (they match the credit reasons of the same name).
const (
	FindingMinor FindingSeverity = "minor_finding" // 一般问题
	FindingMajor FindingSeverity = "major_finding" // 严重问题
)

// Finding is a problem found on site.
type Finding struct {
	Text     string          `json:"text"`
	Severity FindingSeverity `json:"severity"`
}

// Rectification is a finding tracked to closed (问题整改).
type Rectification struct {
	ID       string    `json:"id"` // "R1", "R2", … within the banquet
	Finding  Finding   `json:"finding"`
	Deadline time.Time `json:"deadline"`
	Open     bool      `json:"open"`
	OpenedAt time.Time `json:"opened_at"`
	// Closed is the act that verified the rectification (nil while open).
	Closed *Act `json:"closed,omitempty"`
}

// Banquet is one rural group dinner through its 四到位 flow.
type Banquet struct {
	ID     string        `json:"id"`
	Filing BanquetFiling `json:"filing"`
	State  BanquetState  `json:"state"`
	// GuidanceRequired is fixed at filing: headcount ≥
	// Config.Banquet.GuidanceMinHeadcount.
	GuidanceRequired bool      `json:"guidance_required"`
	FiledAt          time.Time `json:"filed_at"`
	// Guidance: unit and officers (指导单位, 指导人员) and the team.
	TeamID         string          `json:"team_id,omitempty"`
	GuidanceUnit   string          `json:"guidance_unit,omitempty"`
	Officers       []string        `json:"officers,omitempty"`
	Rectifications []Rectification `json:"rectifications,omitempty"`
	Cancelled      bool            `json:"cancelled,omitempty"`
	// IllnessCount is the number of people taken ill (食物中毒人数),
	// recorded at closing.
	IllnessCount int          `json:"illness_count"`
	Audit        []AuditEntry `json:"audit"`
}

// FileBanquet records a filing. It returns warnings alongside: guidance is
// required, cooks without a valid certificate, high-risk dishes on the
// menu (screened with Config.Menu.Rules). Operators, inspectors,
// commanders and admins may file (the village information officer files
// through one of them).
func FileBanquet(id string, f BanquetFiling, act Act, cfg Config) (Banquet, []Warning, error) {
	if id == "" {
		return Banquet{}, nil, invalid("id", "required")
	}
	if err := act.validate(); err != nil {
		return Banquet{}, nil, err
	}
	if err := requireRole("banquet "+id+" file", act.Actor, rolesAnyone); err != nil {
		return Banquet{}, nil, err
	}
	if err := f.Validate(); err != nil {
		return Banquet{}, nil, err
	}
	b := Banquet{ID: id, Filing: f, State: BanquetFiled, FiledAt: act.At,
		GuidanceRequired: f.Headcount >= cfg.Banquet.GuidanceMinHeadcount}
	(*audit)(&b.Audit).add("filed", "", string(BanquetFiled), act)
	var w []Warning
	if b.GuidanceRequired {
		w = append(w, Warning{Code: "guidance_required", Message: Label{
			ZH: fmt.Sprintf("就餐 %d 人，达到 %d 人，须安排现场指导", f.Headcount, cfg.Banquet.GuidanceMinHeadcount),
			EN: fmt.Sprintf("%d diners, at least %d: on-site guidance is required", f.Headcount, cfg.Banquet.GuidanceMinHeadcount)}})
	}
	if lead := DateOf(act.At.In(cfg.zone())).DaysUntil(f.firstSitting()); lead < cfg.Banquet.FilingLeadDays {
		w = append(w, Warning{Code: "late_filing", Message: Label{
			ZH: fmt.Sprintf("备案距首餐仅 %d 天，少于 %d 天", lead, cfg.Banquet.FilingLeadDays),
			EN: fmt.Sprintf("filed %d days before the first sitting, fewer than %d", lead, cfg.Banquet.FilingLeadDays)}})
	}
	for _, c := range f.Cooks {
		if c.Cert != CertValid {
			l := c.Cert.Label()
			w = append(w, Warning{Code: "cook_certificate", Message: Label{
				ZH: fmt.Sprintf("%s 健康证明：%s", c.Name, l.ZH), EN: fmt.Sprintf("%s health certificate: %s", c.Name, l.EN)}})
		}
	}
	for _, d := range f.Menu {
		for _, fl := range Screen(d, cfg.Menu.Rules) {
			w = append(w, Warning{Code: "high_risk_dish", Message: Label{
				ZH: fmt.Sprintf("高风险菜品 %s：%s", d.Name, fl.Label.ZH), EN: fmt.Sprintf("high-risk dish %s: %s", d.Name, fl.Label.EN)}})
		}
	}
	return b, w, nil
}

// BanquetStep asks for one banquet transition.
type BanquetStep struct {
	To BanquetState `json:"to"`
	Act
	// guidance_assigned: the team (required), unit and officers.
	TeamID       string   `json:"team_id,omitempty"`
	GuidanceUnit string   `json:"guidance_unit,omitempty"`
	Officers     []string `json:"officers,omitempty"`
	// on_site_checked: what the check found; each finding opens a
	// rectification item.
	Findings []Finding `json:"findings,omitempty"`
	// closed: a cancellation (from filed or guidance_assigned), and the
	// number of people taken ill.
	Cancelled    bool `json:"cancelled,omitempty"`
	IllnessCount int  `json:"illness_count,omitempty"`
}

// Apply validates and applies a banquet transition. Besides the table and
// roles:
//   - guidance_assigned: a team;
//   - on_site_checked: an inspector must be on the assigned team; each
//     finding becomes an open rectification item due in
//     Config.Banquet.RectificationDays;
//   - rectifying: at least one open rectification item;
//   - closed from filed: guidance not required, or cancelled; from
//     guidance_assigned: cancelled only; from on_site_checked or
//     rectifying: no open rectification item.
func (b *Banquet) Apply(step BanquetStep, cfg Config) error {
	if err := step.Act.validate(); err != nil {
		return err
	}
	if err := audit(b.Audit).checkTime(step.At); err != nil {
		return err
	}
	if err := banquetMachine.check(b.ID, b.State, step.To, step.Actor); err != nil {
		return err
	}
	action := fmt.Sprintf("banquet %s → %s", b.ID, step.To)
	if step.To != BanquetGuidanceAssigned {
		if err := requireTeam(action, step.Actor, b.TeamID); err != nil {
			return err
		}
	}
	pre := func(rule, format string, args ...any) error {
		return &PreconditionError{Action: action, Rule: rule, Detail: fmt.Sprintf(format, args...)}
	}
	open := b.openRectifications()
	switch step.To {
	case BanquetGuidanceAssigned:
		if step.TeamID == "" {
			return invalid("team_id", "required: the team that gives on-site guidance")
		}
	case BanquetOnSiteChecked:
		for i, f := range step.Findings {
			if err := f.validate(fmt.Sprintf("findings[%d]", i)); err != nil {
				return err
			}
		}
	case BanquetRectifying:
		if open == 0 {
			return pre("no_findings", "there is no open rectification item; close the banquet instead")
		}
	case BanquetClosed:
		if step.IllnessCount < 0 {
			return invalid("illness_count", "cannot be negative")
		}
		switch b.State {
		case BanquetFiled:
			if b.GuidanceRequired && !step.Cancelled {
				return pre("guidance_required", "%d diners: on-site guidance is required before closing (assign it), unless the banquet was cancelled", b.Filing.Headcount)
			}
		case BanquetGuidanceAssigned:
			if !step.Cancelled {
				return pre("check_first", "record the on-site check first; only a cancelled banquet closes without one")
			}
		default:
			if open > 0 {
				return pre("rectification_open", "%d rectification item(s) are still open", open)
			}
		}
	}
	from := b.State
	switch step.To {
	case BanquetGuidanceAssigned:
		b.TeamID, b.GuidanceUnit, b.Officers = step.TeamID, step.GuidanceUnit, slices.Clone(step.Officers)
	case BanquetOnSiteChecked:
		for _, f := range step.Findings {
			b.addRectification(f, step.At, cfg)
		}
	case BanquetClosed:
		b.Cancelled = step.Cancelled
		b.IllnessCount = step.IllnessCount
	}
	b.State = step.To
	(*audit)(&b.Audit).add(actionTransition, string(from), string(step.To), step.Act)
	return nil
}

func (f Finding) validate(field string) error {
	if strings.TrimSpace(f.Text) == "" {
		return invalid(field+".text", "required: what was found")
	}
	if f.Severity != FindingMinor && f.Severity != FindingMajor {
		return invalid(field+".severity", "%q is not a severity; use minor_finding or major_finding", f.Severity)
	}
	return nil
}

func (b *Banquet) addRectification(f Finding, at time.Time, cfg Config) string {
	id := fmt.Sprintf("R%d", len(b.Rectifications)+1)
	b.Rectifications = append(b.Rectifications, Rectification{ID: id, Finding: f, Open: true, OpenedAt: at,
		Deadline: at.Add(time.Duration(cfg.Banquet.RectificationDays) * 24 * time.Hour)})
	return id
}

func (b Banquet) openRectifications() int {
	n := 0
	for _, r := range b.Rectifications {
		if r.Open {
			n++
		}
	}
	return n
}

// AddFinding records a further finding while the banquet is checked or
// rectifying, and returns the new rectification item's id.
func (b *Banquet) AddFinding(f Finding, act Act, cfg Config) (string, error) {
	if err := act.validate(); err != nil {
		return "", err
	}
	if err := audit(b.Audit).checkTime(act.At); err != nil {
		return "", err
	}
	action := "banquet " + b.ID + " add finding"
	if err := requireRole(action, act.Actor, rolesField); err != nil {
		return "", err
	}
	if err := requireTeam(action, act.Actor, b.TeamID); err != nil {
		return "", err
	}
	if b.State != BanquetOnSiteChecked && b.State != BanquetRectifying {
		return "", &PreconditionError{Action: action, Rule: "check_first", Detail: fmt.Sprintf("findings are recorded after the on-site check; the banquet is %s", b.State)}
	}
	if err := f.validate("finding"); err != nil {
		return "", err
	}
	id := b.addRectification(f, act.At, cfg)
	(*audit)(&b.Audit).add("finding_added", string(b.State), string(b.State), withNote(act, id+": "+f.Text))
	return id, nil
}

// CloseRectification marks a rectification item done, with evidence of the
// fix (a photo of the corrected practice, a new certificate).
func (b *Banquet) CloseRectification(id string, act Act) error {
	if err := act.validate(); err != nil {
		return err
	}
	if err := audit(b.Audit).checkTime(act.At); err != nil {
		return err
	}
	action := "banquet " + b.ID + " close rectification " + id
	if err := requireRole(action, act.Actor, rolesField); err != nil {
		return err
	}
	if err := requireTeam(action, act.Actor, b.TeamID); err != nil {
		return err
	}
	i := slices.IndexFunc(b.Rectifications, func(r Rectification) bool { return r.ID == id })
	switch {
	case i < 0:
		return invalid("id", "no rectification item %q", id)
	case !b.Rectifications[i].Open:
		return &PreconditionError{Action: action, Rule: "already_closed", Detail: "the item is already closed"}
	case len(act.Evidence) == 0:
		return &PreconditionError{Action: action, Rule: "evidence_required", Detail: "attach evidence of the fix"}
	}
	closed := act
	closed.Evidence = slices.Clone(act.Evidence)
	b.Rectifications[i].Open = false
	b.Rectifications[i].Closed = &closed
	(*audit)(&b.Audit).add("rectification_closed", string(b.State), string(b.State), withNote(act, id))
	return nil
}

func withNote(act Act, prefix string) Act {
	if act.Note != "" {
		act.Note = prefix + " — " + act.Note
	} else {
		act.Note = prefix
	}
	return act
}

// Pillar is one of the four "in place" (四到位) of rural group dining.
type Pillar string

// The four pillars.
const (
	PillarPersonnel     Pillar = "personnel_management" // 人员管理
	PillarFiling        Pillar = "filing"               // 信息报备
	PillarGuidance      Pillar = "guidance"             // 现场指导
	PillarRectification Pillar = "rectification"        // 问题整改
)

// Pillars returns the four pillars in order.
func Pillars() []Pillar {
	return []Pillar{PillarPersonnel, PillarFiling, PillarGuidance, PillarRectification}
}

// Label returns the zh-CN and en label.
func (p Pillar) Label() Label { return labelOf(string(p)) }

// PillarStatus says whether a pillar is in place for a banquet.
type PillarStatus struct {
	Pillar  Pillar  `json:"pillar"`
	Label   Label   `json:"label"`
	InPlace bool    `json:"in_place"`
	Details []Label `json:"details,omitempty"` // what is missing
}

// FourInPlace evaluates the four pillars (四到位) of a banquet:
//   - personnel_management: every cook fit on every sitting day — a
//     registered chef (ChefID found in chefs) by the register (valid
//     certificate, at least Config.Banquet.MinChefTrainings trainings for
//     cooks), anyone else by the status filed;
//   - filing: filed at least Config.Banquet.FilingLeadDays before the first
//     sitting;
//   - guidance: not required, or the on-site check is recorded;
//   - rectification: no open rectification item.
func FourInPlace(b Banquet, chefs []VillageChef, cfg Config) []PillarStatus {
	out := make([]PillarStatus, 0, 4)
	add := func(p Pillar, details []Label) {
		out = append(out, PillarStatus{Pillar: p, Label: p.Label(), InPlace: len(details) == 0, Details: details})
	}
	// Personnel.
	var people []Label
	for _, c := range b.Filing.Cooks {
		i := slices.IndexFunc(chefs, func(v VillageChef) bool { return c.ChefID != "" && v.ID == c.ChefID })
		if i < 0 {
			if c.Cert != CertValid {
				l := c.Cert.Label()
				people = append(people, Label{ZH: c.Name + "：健康证明" + l.ZH, EN: c.Name + ": health certificate " + l.EN})
			}
			continue
		}
		need := 0
		if c.Role == CookChef {
			need = cfg.Banquet.MinChefTrainings
		}
		for _, s := range b.Filing.Sittings {
			if ok, why := chefs[i].FitOn(s.Date, need); !ok {
				people = append(people, why...)
				break
			}
		}
	}
	add(PillarPersonnel, people)
	// Filing.
	var filing []Label
	first := b.Filing.firstSitting()
	filed := DateOf(b.FiledAt.In(cfg.zone()))
	if lead := filed.DaysUntil(first); lead < cfg.Banquet.FilingLeadDays {
		filing = append(filing, Label{ZH: fmt.Sprintf("备案距首餐仅 %d 天，少于 %d 天", lead, cfg.Banquet.FilingLeadDays),
			EN: fmt.Sprintf("filed %d days before the first sitting, fewer than %d", lead, cfg.Banquet.FilingLeadDays)})
	}
	add(PillarFiling, filing)
	// Guidance.
	var guidance []Label
	if _, checked := audit(b.Audit).firstTo(string(BanquetOnSiteChecked)); b.GuidanceRequired && !checked && !b.Cancelled {
		guidance = append(guidance, Label{ZH: "须现场指导，尚未检查", EN: "on-site guidance required, not checked yet"})
	}
	add(PillarGuidance, guidance)
	// Rectification.
	var rect []Label
	for _, r := range b.Rectifications {
		if r.Open {
			rect = append(rect, Label{ZH: r.ID + " 未整改：" + r.Finding.Text, EN: r.ID + " open: " + r.Finding.Text})
		}
	}
	add(PillarRectification, rect)
	return out
}
