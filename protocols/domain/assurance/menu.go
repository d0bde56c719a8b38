package assurance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DishCategory is the kind of dish, as the menu lists it.
type DishCategory string

// Dish categories. Three of them are high-risk by themselves (the default
// rules match them by category as well as by keyword).
const (
	CategoryColdDish   DishCategory = "cold_dish"   // 冷荤凉菜
	CategoryRawAquatic DishCategory = "raw_aquatic" // 生食水产品
	CategoryCreamCake  DishCategory = "cream_cake"  // 裱花蛋糕
	CategoryHotDish    DishCategory = "hot_dish"    // 热菜
	CategorySoup       DishCategory = "soup"        // 汤羹
	CategoryStaple     DishCategory = "staple"      // 主食
	CategoryPastry     DishCategory = "pastry"      // 点心
	CategoryFruit      DishCategory = "fruit"       // 水果
	CategoryBeverage   DishCategory = "beverage"    // 饮品
	CategoryOther      DishCategory = "other"       // 其他
)

// DishCategories returns every category.
func DishCategories() []DishCategory {
	return []DishCategory{CategoryColdDish, CategoryRawAquatic, CategoryCreamCake, CategoryHotDish, CategorySoup,
		CategoryStaple, CategoryPastry, CategoryFruit, CategoryBeverage, CategoryOther}
}

// Label returns the zh-CN and en label.
func (c DishCategory) Label() Label { return labelOf(string(c)) }

// Dish is one dish of a menu.
type Dish struct {
	Name        string       `json:"name"` // the Chinese name, e.g. 凉拌黄瓜
	Category    DishCategory `json:"category,omitempty"`
	Ingredients []string     `json:"ingredients,omitempty"`
}

// RiskReason identifies a high-risk rule (and the reason a dish is
// flagged).
type RiskReason string

// Reasons of the default high-risk list. The list is [UNVERIFIED] as a
// whole (DOMAIN §4.1): every rule is configuration.
const (
	RiskColdDish        RiskReason = "cold_dish"         // 冷荤凉菜
	RiskRawAquatic      RiskReason = "raw_aquatic"       // 生食水产品
	RiskCreamCake       RiskReason = "cream_cake"        // 裱花蛋糕
	RiskWildMushroom    RiskReason = "wild_mushroom"     // 野生菌
	RiskBeans           RiskReason = "undercooked_beans" // 四季豆/豆角
	RiskFreshDaylily    RiskReason = "fresh_daylily"     // 鲜黄花菜
	RiskPufferFish      RiskReason = "puffer_fish"       // 河豚
	RiskUnboiledSoyMilk RiskReason = "soy_milk"          // 豆浆（未煮沸）
)

// Label returns the zh-CN and en label from the label table (a rule added
// by configuration carries its own label; see [HighRiskRule.Label]).
func (r RiskReason) Label() Label { return labelOf(string(r)) }

// Severity is how a high-risk rule constrains the assessor.
type Severity string

// Severities.
const (
	// SeverityForbid: the dish must be rejected (禁止).
	SeverityForbid Severity = "forbid"
	// SeverityRestrict: the dish may be served only with controls
	// (限制：须落实管控措施); plain approval is refused.
	SeverityRestrict Severity = "restrict"
	// SeverityAdvise: the assessor should look; any decision is allowed
	// (提示).
	SeverityAdvise Severity = "advise"
)

// Label returns the zh-CN and en label.
func (s Severity) Label() Label { return labelOf(string(s)) }

// HighRiskRule flags dishes by keyword (in the name or an ingredient) or by
// category.
type HighRiskRule struct {
	Reason RiskReason `json:"reason" yaml:"reason"`
	// Label is used when the reason is not in the label table (a rule
	// added by configuration).
	Label    Label    `json:"label,omitzero" yaml:"label,omitempty"`
	Why      Label    `json:"why" yaml:"why"` // the hazard
	Keywords []string `json:"keywords,omitempty" yaml:"keywords,omitempty"`
	// Except lists keywords that exempt a dish the keywords matched (e.g.
	// 干黄花菜, dried day-lily, is safe). Category matches are not exempted.
	Except     []string       `json:"except,omitempty" yaml:"except,omitempty"`
	Categories []DishCategory `json:"categories,omitempty" yaml:"categories,omitempty"`
	Severity   Severity       `json:"severity" yaml:"severity"`
	Controls   Label          `json:"controls,omitzero" yaml:"controls,omitempty"` // the controls to require
}

// label returns the rule's label: the table's, else its own.
func (r HighRiskRule) label() Label {
	if l, ok := LabelOf(string(r.Reason)); ok {
		return l
	}
	return r.Label
}

// DefaultHighRiskRules returns the default high-risk list. Defaults follow
// common major-event practice; all of them are [UNVERIFIED] and meant to be
// replaced by the local list.
func DefaultHighRiskRules() []HighRiskRule {
	return []HighRiskRule{
		{Reason: RiskColdDish, Severity: SeverityRestrict,
			Keywords:   []string{"凉拌", "冷拼", "冷盘", "凉菜", "拼盘", "白切", "卤味拼", "口水鸡", "夫妻肺片", "冷荤"},
			Categories: []DishCategory{CategoryColdDish},
			Why:        Label{ZH: "冷荤凉菜加工后不再加热，易受污染", EN: "cold dishes are not heated after preparation and are easily contaminated"},
			Controls:   Label{ZH: "专间专人加工，专间温度≤25℃，现做现用、2小时内食用", EN: "prepared in a dedicated room (≤ 25 °C) by dedicated staff, served within 2 h"}},
		{Reason: RiskRawAquatic, Severity: SeverityRestrict,
			Keywords:   []string{"刺身", "生鱼片", "鱼生", "醉虾", "醉蟹", "生腌", "腌蟹", "生蚝刺身", "生吃"},
			Categories: []DishCategory{CategoryRawAquatic},
			Why:        Label{ZH: "生食水产品可能携带致病菌和寄生虫", EN: "raw aquatic products may carry pathogens and parasites"},
			Controls:   Label{ZH: "专间加工，原料来源可追溯，冷链≤5℃", EN: "prepared in a dedicated room, traceable source, cold chain ≤ 5 °C"}},
		{Reason: RiskCreamCake, Severity: SeverityRestrict,
			Keywords:   []string{"裱花", "奶油蛋糕", "鲜奶蛋糕", "生日蛋糕", "奶油裱"},
			Categories: []DishCategory{CategoryCreamCake},
			Why:        Label{ZH: "裱花奶油易滋生微生物", EN: "cream decorations support microbial growth"},
			Controls:   Label{ZH: "冷藏保存，当餐制作当餐食用", EN: "kept refrigerated, made and eaten the same meal"}},
		{Reason: RiskWildMushroom, Severity: SeverityForbid,
			Keywords: []string{"野生菌", "野山菌", "野蘑菇", "牛肝菌", "见手青", "鸡枞", "鸡㙡", "干巴菌", "青头菌", "鹅蛋菌", "松茸"},
			Why:      Label{ZH: "野生菌易误采误食，引起中毒", EN: "wild mushrooms risk misidentification and poisoning"}},
		{Reason: RiskBeans, Severity: SeverityRestrict,
			Keywords: []string{"四季豆", "豆角", "芸豆", "扁豆", "菜豆"},
			Why:      Label{ZH: "未烧熟煮透的四季豆、豆角含皂素和植物血凝素，可致中毒", EN: "undercooked green beans contain saponins and lectins that cause poisoning"},
			Controls: Label{ZH: "烧熟煮透，禁止凉拌或焯水后直接食用", EN: "cook thoroughly; never serve blanched or cold"}},
		{Reason: RiskFreshDaylily, Severity: SeverityForbid,
			Keywords: []string{"鲜黄花菜", "鲜金针菜", "新鲜黄花菜", "鲜金针"},
			Why:      Label{ZH: "鲜黄花菜含秋水仙碱，可致中毒", EN: "fresh day-lily contains colchicine, which causes poisoning"}},
		{Reason: RiskPufferFish, Severity: SeverityForbid,
			Keywords: []string{"河豚", "河鲀"},
			Why:      Label{ZH: "河豚含河豚毒素，可致死", EN: "puffer fish contains tetrodotoxin, which can be fatal"}},
		{Reason: RiskUnboiledSoyMilk, Severity: SeverityAdvise,
			Keywords: []string{"豆浆", "豆奶"},
			Why:      Label{ZH: "豆浆未煮沸（假沸）含皂素等，可致中毒", EN: "soy milk not fully boiled (false boiling) causes poisoning"},
			Controls: Label{ZH: "煮沸后再持续加热5分钟以上", EN: "boil, then keep boiling at least 5 minutes"}},
	}
}

// RiskFlag is one reason a dish is high-risk.
type RiskFlag struct {
	Reason   RiskReason `json:"reason"`
	Label    Label      `json:"label"`
	Severity Severity   `json:"severity"`
	Why      Label      `json:"why"`
	Controls Label      `json:"controls,omitzero"`
	// Matched says what matched: "category:cold_dish",
	// "name:凉拌" or "ingredient:四季豆".
	Matched string `json:"matched"`
}

// Screen returns the high-risk flags of a dish under rules, at most one per
// rule, in rule order. A rule matches on the dish's category, or on a
// keyword contained in the dish's name or an ingredient (first match
// reported) unless an Except keyword is contained in the same text.
// Matching ignores surrounding spaces and Latin letter case.
func Screen(d Dish, rules []HighRiskRule) []RiskFlag {
	var flags []RiskFlag
	texts := []struct{ where, text string }{{"name", norm(d.Name)}}
	for _, in := range d.Ingredients {
		texts = append(texts, struct{ where, text string }{"ingredient", norm(in)})
	}
	for _, r := range rules {
		matched := ""
		if d.Category != "" && slices.Contains(r.Categories, d.Category) {
			matched = "category:" + string(d.Category)
		}
	search:
		for _, t := range texts {
			if matched != "" {
				break
			}
			for _, kw := range r.Keywords {
				k := norm(kw)
				if k == "" || !strings.Contains(t.text, k) {
					continue
				}
				if slices.ContainsFunc(r.Except, func(x string) bool { x = norm(x); return x != "" && strings.Contains(t.text, x) }) {
					continue search
				}
				matched = t.where + ":" + kw
				break search
			}
		}
		if matched != "" {
			flags = append(flags, RiskFlag{Reason: r.Reason, Label: r.label(), Severity: r.Severity, Why: r.Why, Controls: r.Controls, Matched: matched})
		}
	}
	return flags
}

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MenuState is the review state of a menu (菜单评估).
type MenuState string

// Menu states.
const (
	MenuDraft                MenuState = "draft"                  // 草稿
	MenuSubmitted            MenuState = "submitted"              // 已提交
	MenuApproved             MenuState = "approved"               // 通过
	MenuApprovedWithControls MenuState = "approved_with_controls" // 有条件通过
	MenuRejected             MenuState = "rejected"               // 不通过
)

var menuMachine = machine[MenuState]{
	name:   "menu",
	states: []MenuState{MenuDraft, MenuSubmitted, MenuApproved, MenuApprovedWithControls, MenuRejected},
	edges: map[MenuState][]MenuState{
		MenuDraft:     {MenuSubmitted},
		MenuSubmitted: {MenuApproved, MenuApprovedWithControls, MenuRejected},
		// → draft: the caterer revises the menu; it must be assessed again.
		MenuApproved:             {MenuDraft},
		MenuApprovedWithControls: {MenuDraft},
		MenuRejected:             {MenuDraft},
	},
	roles: map[MenuState][]Role{
		MenuDraft:                rolesField,
		MenuSubmitted:            rolesField,
		MenuApproved:             rolesField,
		MenuApprovedWithControls: rolesField,
		MenuRejected:             rolesField,
	},
}

// MenuStates returns every menu state.
func MenuStates() []MenuState { return slices.Clone(menuMachine.states) }

// Valid reports whether s is a menu state.
func (s MenuState) Valid() bool { return menuMachine.valid(s) }

// Label returns the zh-CN and en label.
func (s MenuState) Label() Label { return labelOf(string(s)) }

// Next returns the states the table allows from s.
func (s MenuState) Next() []MenuState { return menuMachine.next(s) }

// CanMoveTo reports whether the table has the edge s → to.
func (s MenuState) CanMoveTo(to MenuState) bool { return menuMachine.can(s, to) }

// MenuRoles returns the roles that may move a menu into state to.
func MenuRoles(to MenuState) []Role { return menuMachine.rolesFor(to) }

// ParseMenuState parses a menu state identifier.
func ParseMenuState(s string) (MenuState, error) {
	return parseEnum("menu state", s, menuMachine.states)
}

// DishOutcome is the assessor's decision on one dish.
type DishOutcome string

// Dish outcomes.
const (
	DishApprove         DishOutcome = "approve"          // 同意
	DishRequireControls DishOutcome = "require_controls" // 须落实管控措施
	DishReject          DishOutcome = "reject"           // 不同意（撤下）
)

// Label returns the zh-CN and en label.
func (o DishOutcome) Label() Label { return labelOf(string(o)) }

// DishDecision is one decision on one dish, kept with who and when.
type DishDecision struct {
	Round    int          `json:"round"` // the submission it belongs to (1, 2, …)
	Dish     string       `json:"dish"`
	Outcome  DishOutcome  `json:"outcome"`
	Controls string       `json:"controls,omitempty"` // required for require_controls
	Reasons  []RiskReason `json:"reasons,omitempty"`  // the flags the decision answers
	Act                   // who decided, when
}

// DishScreening is the flags of one dish at submission.
type DishScreening struct {
	Dish  string     `json:"dish"`
	Flags []RiskFlag `json:"flags,omitempty"`
}

// Menu is a kitchen's or banquet's menu under assessment.
type Menu struct {
	ID      string    `json:"id"`
	OwnerID string    `json:"owner_id"` // kitchen or banquet
	Dishes  []Dish    `json:"dishes"`
	State   MenuState `json:"state"`
	// Round counts submissions; decisions of earlier rounds are kept but
	// no longer count.
	Round     int             `json:"round"`
	Screening []DishScreening `json:"screening,omitempty"` // at the last submission
	Decisions []DishDecision  `json:"decisions,omitempty"` // every decision ever made
	Audit     []AuditEntry    `json:"audit"`
}

// NewMenu returns a draft menu.
func NewMenu(id, ownerID string, dishes []Dish) (Menu, error) {
	if id == "" || ownerID == "" {
		return Menu{}, invalid("id", "menu id and owner (kitchen or banquet) are required")
	}
	if err := validateDishes(dishes); err != nil {
		return Menu{}, err
	}
	return Menu{ID: id, OwnerID: ownerID, Dishes: slices.Clone(dishes), State: MenuDraft}, nil
}

func validateDishes(dishes []Dish) error {
	seen := map[string]bool{}
	var errs []error
	for i, d := range dishes {
		n := strings.TrimSpace(d.Name)
		switch {
		case n == "":
			errs = append(errs, invalid(fmt.Sprintf("dishes[%d].name", i), "required"))
		case seen[n]:
			errs = append(errs, invalid(fmt.Sprintf("dishes[%d].name", i), "duplicate dish %q", n))
		}
		seen[n] = true
		if d.Category != "" && !slices.Contains(DishCategories(), d.Category) {
			errs = append(errs, invalid(fmt.Sprintf("dishes[%d].category", i), "%q is not a dish category", d.Category))
		}
	}
	return errors.Join(errs...)
}

// SetDishes replaces the dishes of a draft menu.
func (m *Menu) SetDishes(dishes []Dish, act Act) error {
	if err := act.validate(); err != nil {
		return err
	}
	if err := audit(m.Audit).checkTime(act.At); err != nil {
		return err
	}
	if err := requireRole("menu "+m.ID+" edit", act.Actor, rolesField); err != nil {
		return err
	}
	if m.State != MenuDraft {
		return &PreconditionError{Action: "menu " + m.ID + " edit", Rule: "draft_only",
			Detail: fmt.Sprintf("only a draft can be edited; the menu is %s — move it back to draft first", m.State)}
	}
	if err := validateDishes(dishes); err != nil {
		return err
	}
	m.Dishes = slices.Clone(dishes)
	(*audit)(&m.Audit).add("dishes_set", string(m.State), string(m.State), act)
	return nil
}

// current returns the latest decision of the current round for each dish.
func (m Menu) current() map[string]DishDecision {
	out := map[string]DishDecision{}
	for _, d := range m.Decisions {
		if d.Round == m.Round {
			out[d.Dish] = d
		}
	}
	return out
}

func (m Menu) flagsOf(dish string) []RiskFlag {
	for _, s := range m.Screening {
		if s.Dish == dish {
			return s.Flags
		}
	}
	return nil
}

// Decide records the assessor's decision on one dish of a submitted menu.
// Decisions are constrained by the dish's flags: a forbid flag allows only
// reject; a restrict flag refuses plain approve. require_controls needs the
// controls written out. A later decision on the same dish replaces the
// earlier one for the outcome, but both are kept.
func (m *Menu) Decide(dish string, outcome DishOutcome, controls string, act Act) error {
	if err := act.validate(); err != nil {
		return err
	}
	if err := audit(m.Audit).checkTime(act.At); err != nil {
		return err
	}
	action := "menu " + m.ID + " decide " + dish
	if err := requireRole(action, act.Actor, rolesField); err != nil {
		return err
	}
	if m.State != MenuSubmitted {
		return &PreconditionError{Action: action, Rule: "submitted_only", Detail: fmt.Sprintf("dishes are decided on a submitted menu; this one is %s", m.State)}
	}
	if !slices.ContainsFunc(m.Dishes, func(d Dish) bool { return strings.TrimSpace(d.Name) == dish }) {
		return invalid("dish", "%q is not on the menu", dish)
	}
	if !slices.Contains([]DishOutcome{DishApprove, DishRequireControls, DishReject}, outcome) {
		return invalid("outcome", "%q is not a decision; use approve, require_controls or reject", outcome)
	}
	if outcome == DishRequireControls && strings.TrimSpace(controls) == "" {
		return invalid("controls", "write the controls the kitchen must apply")
	}
	flags := m.flagsOf(dish)
	var reasons []RiskReason
	for _, f := range flags {
		reasons = append(reasons, f.Reason)
		switch {
		case f.Severity == SeverityForbid && outcome != DishReject:
			return &PreconditionError{Action: action, Rule: "forbidden_dish",
				Detail: fmt.Sprintf("%s is flagged %s (%s), which is forbidden: the only decision is reject", dish, f.Reason, f.Label.ZH)}
		case f.Severity == SeverityRestrict && outcome == DishApprove:
			return &PreconditionError{Action: action, Rule: "controls_required",
				Detail: fmt.Sprintf("%s is flagged %s (%s): approve it with controls (require_controls) or reject it", dish, f.Reason, f.Label.ZH)}
		}
	}
	m.Decisions = append(m.Decisions, DishDecision{Round: m.Round, Dish: dish, Outcome: outcome, Controls: controls, Reasons: reasons, Act: act})
	(*audit)(&m.Audit).add("dish_decided", string(m.State), string(m.State), Act{
		Actor: act.Actor, At: act.At, Where: act.Where, Evidence: act.Evidence,
		Note: strings.TrimSpace(fmt.Sprintf("%s: %s %s %s", dish, outcome, controls, act.Note)),
	})
	return nil
}

// Outcome returns the state the current decisions support, or an error
// naming the flagged dishes still undecided. Unflagged dishes without a
// decision count as approved.
func (m Menu) Outcome() (MenuState, error) {
	cur := m.current()
	var undecided []string
	rejected, controlled := false, false
	for _, s := range m.Screening {
		if len(s.Flags) > 0 {
			if _, ok := cur[s.Dish]; !ok {
				undecided = append(undecided, s.Dish)
			}
		}
	}
	for _, d := range cur {
		switch d.Outcome {
		case DishReject:
			rejected = true
		case DishRequireControls:
			controlled = true
		}
	}
	switch {
	case rejected:
		return MenuRejected, nil
	case len(undecided) > 0:
		return "", &PreconditionError{Action: "menu " + m.ID + " conclude", Rule: "undecided_dishes",
			Detail: "decide the flagged dishes first: " + strings.Join(undecided, "、")}
	case controlled:
		return MenuApprovedWithControls, nil
	}
	return MenuApproved, nil
}

// MenuStep asks for one menu transition.
type MenuStep struct {
	To MenuState `json:"to"`
	Act
}

// Apply validates and applies a menu transition:
//   - submitted: the menu has dishes; they are screened against
//     Config.Menu.Rules and a new decision round starts;
//   - approved / approved_with_controls: must equal [Menu.Outcome];
//   - rejected: the outcome is rejected (a dish was rejected), or the
//     whole menu is rejected with a note saying why;
//   - draft: a revision; the note is recommended but not required.
func (m *Menu) Apply(step MenuStep, cfg Config) error {
	if err := step.Act.validate(); err != nil {
		return err
	}
	if err := audit(m.Audit).checkTime(step.At); err != nil {
		return err
	}
	if err := menuMachine.check(m.ID, m.State, step.To, step.Actor); err != nil {
		return err
	}
	action := "menu " + m.ID + " → " + string(step.To)
	var screening []DishScreening
	switch step.To {
	case MenuSubmitted:
		if len(m.Dishes) == 0 {
			return &PreconditionError{Action: action, Rule: "no_dishes", Detail: "a menu without dishes cannot be assessed"}
		}
		for _, d := range m.Dishes {
			screening = append(screening, DishScreening{Dish: strings.TrimSpace(d.Name), Flags: Screen(d, cfg.Menu.Rules)})
		}
	case MenuApproved, MenuApprovedWithControls:
		out, err := m.Outcome()
		if err != nil {
			return err
		}
		if out != step.To {
			return &PreconditionError{Action: action, Rule: "outcome_mismatch",
				Detail: fmt.Sprintf("the dish decisions make the menu %s, not %s", out, step.To)}
		}
	case MenuRejected:
		out, _ := m.Outcome()
		if out != MenuRejected && strings.TrimSpace(step.Note) == "" {
			return &PreconditionError{Action: action, Rule: "note_required",
				Detail: "no dish is rejected: to reject the whole menu, say why in the note"}
		}
	}
	from := m.State
	if step.To == MenuSubmitted {
		m.Round++
		m.Screening = screening
	}
	m.State = step.To
	(*audit)(&m.Audit).add(actionTransition, string(from), string(step.To), step.Act)
	return nil
}
