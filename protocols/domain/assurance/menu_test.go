package assurance

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const menuSpec = `
draft                  -> submitted
submitted              -> approved approved_with_controls rejected
approved               -> draft
approved_with_controls -> draft
rejected               -> draft
`

func TestMenuTableMatchesSpec(t *testing.T) {
	want := parseEdges(menuSpec)
	for _, from := range MenuStates() {
		for _, to := range MenuStates() {
			if got := from.CanMoveTo(to); got != want[string(from)+">"+string(to)] {
				t.Errorf("%s → %s: table says %v", from, to, got)
			}
		}
	}
}

// TestScreen is the rule table: each default rule, its keywords, its
// category match and its exceptions.
func TestScreen(t *testing.T) {
	rules := DefaultHighRiskRules()
	cases := []struct {
		dish Dish
		want []string // reason@matched
	}{
		{Dish{Name: "凉拌黄瓜", Category: CategoryHotDish}, []string{"cold_dish@name:凉拌"}},
		{Dish{Name: "卤水拼盘"}, []string{"cold_dish@name:拼盘"}},
		{Dish{Name: "盐水鸭", Category: CategoryColdDish}, []string{"cold_dish@category:cold_dish"}},
		{Dish{Name: "三文鱼刺身"}, []string{"raw_aquatic@name:刺身"}},
		{Dish{Name: "醉蟹", Category: CategoryRawAquatic}, []string{"raw_aquatic@category:raw_aquatic"}},
		{Dish{Name: "蒜蓉粉丝蒸生蚝", Category: CategoryHotDish}, nil},
		{Dish{Name: "水果蛋糕", Category: CategoryCreamCake}, []string{"cream_cake@category:cream_cake"}},
		{Dish{Name: "生日蛋糕"}, []string{"cream_cake@name:生日蛋糕"}},
		{Dish{Name: "菌菇汤", Ingredients: []string{"香菇", "见手青"}}, []string{"wild_mushroom@ingredient:见手青"}},
		{Dish{Name: "松茸炖鸡"}, []string{"wild_mushroom@name:松茸"}},
		{Dish{Name: "香菇青菜"}, nil},
		{Dish{Name: "干煸四季豆"}, []string{"undercooked_beans@name:四季豆"}},
		{Dish{Name: "土豆烧肉", Ingredients: []string{"土豆", "豆角"}}, []string{"undercooked_beans@ingredient:豆角"}},
		{Dish{Name: "鲜黄花菜炒蛋"}, []string{"fresh_daylily@name:鲜黄花菜"}},
		{Dish{Name: "黄花菜木耳汤", Ingredients: []string{"干黄花菜"}}, nil},
		{Dish{Name: "红烧河豚"}, []string{"puffer_fish@name:河豚"}},
		{Dish{Name: "现磨豆浆", Category: CategoryBeverage}, []string{"soy_milk@name:豆浆"}},
		// Several reasons at once, one flag per rule, in rule order.
		{Dish{Name: "凉拌四季豆", Category: CategoryColdDish}, []string{"cold_dish@category:cold_dish", "undercooked_beans@name:四季豆"}},
		{Dish{Name: "红烧肉", Category: CategoryHotDish, Ingredients: []string{"五花肉", "冰糖"}}, nil},
		{Dish{Name: "  "}, nil},
	}
	for _, c := range cases {
		var got []string
		for _, f := range Screen(c.dish, rules) {
			got = append(got, string(f.Reason)+"@"+f.Matched)
			if f.Label.ZH == "" || f.Why.ZH == "" || f.Why.EN == "" || f.Severity == "" {
				t.Errorf("%s: incomplete flag %+v", c.dish.Name, f)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.dish.Name, got, c.want)
		}
	}
}

func TestScreenConfigurable(t *testing.T) {
	rules := []HighRiskRule{{
		Reason: "homemade_wine", Label: Label{ZH: "自酿酒", EN: "Home-brewed liquor"}, Severity: SeverityForbid,
		Keywords: []string{"自酿", "Moonshine"}, Except: []string{"自酿酸奶"},
	}}
	if f := Screen(Dish{Name: "自酿米酒"}, rules); len(f) != 1 || f[0].Label.ZH != "自酿酒" {
		t.Errorf("custom rule: %+v", f)
	}
	if f := Screen(Dish{Name: "自酿酸奶"}, rules); len(f) != 0 {
		t.Errorf("exception: %+v", f)
	}
	if f := Screen(Dish{Name: "Local MOONSHINE"}, rules); len(f) != 1 {
		t.Errorf("case-insensitive Latin: %+v", f)
	}
	// The configuration validates a rule not in the label table only with
	// its own label.
	cfg := DefaultConfig()
	cfg.Menu.Rules = append(cfg.Menu.Rules, HighRiskRule{Reason: "homemade_wine", Severity: SeverityForbid, Keywords: []string{"自酿"}})
	wantIs(t, cfg.Validate(), ErrInvalid)
	cfg.Menu.Rules[len(cfg.Menu.Rules)-1].Label = Label{ZH: "自酿酒", EN: "Home-brewed liquor"}
	must(t, cfg.Validate())
}

var banquetMenu = []Dish{
	{Name: "凉拌黄瓜", Category: CategoryColdDish},
	{Name: "干煸四季豆", Category: CategoryHotDish},
	{Name: "红烧河豚", Category: CategoryHotDish},
	{Name: "清蒸鲈鱼", Category: CategoryHotDish},
}

func submittedMenu(t testing.TB, cfg Config) Menu {
	t.Helper()
	m, err := NewMenu("M1", "K1", banquetMenu)
	must(t, err)
	must(t, m.Apply(MenuStep{To: MenuSubmitted, Act: act(insp, t0)}, cfg))
	return m
}

func TestMenuDecisions(t *testing.T) {
	cfg := DefaultConfig()
	m := submittedMenu(t, cfg)
	if m.Round != 1 || len(m.Screening) != 4 || len(m.Screening[3].Flags) != 0 || m.Screening[2].Flags[0].Severity != SeverityForbid {
		t.Fatalf("screening %+v", m.Screening)
	}
	var pe *PreconditionError
	// Forbidden dish: only reject.
	for _, o := range []DishOutcome{DishApprove, DishRequireControls} {
		if err := m.Decide("红烧河豚", o, "x", act(insp, at(time.Minute))); !errors.As(err, &pe) || pe.Rule != "forbidden_dish" {
			t.Errorf("puffer fish %s: %v", o, err)
		}
	}
	// Restricted dish: no plain approval; controls must be written.
	if err := m.Decide("凉拌黄瓜", DishApprove, "", act(insp, at(time.Minute))); !errors.As(err, &pe) || pe.Rule != "controls_required" {
		t.Errorf("cold dish approve: %v", err)
	}
	wantIs(t, m.Decide("凉拌黄瓜", DishRequireControls, " ", act(insp, at(time.Minute))), ErrInvalid)
	wantIs(t, m.Decide("宫保鸡丁", DishApprove, "", act(insp, at(time.Minute))), ErrInvalid)
	wantIs(t, m.Decide("凉拌黄瓜", "maybe", "", act(insp, at(time.Minute))), ErrInvalid)
	wantIs(t, m.Decide("凉拌黄瓜", DishReject, "", act(oper, at(time.Minute))), ErrForbidden)

	must(t, m.Decide("凉拌黄瓜", DishRequireControls, "专间加工，2小时内食用", act(insp, at(2*time.Minute))))
	// Undecided flagged dishes block approval.
	if _, err := m.Outcome(); !errors.As(err, &pe) || !strings.Contains(pe.Detail, "干煸四季豆、红烧河豚") {
		t.Errorf("outcome with undecided dishes: %v", err)
	}
	wantIs(t, m.Apply(MenuStep{To: MenuApprovedWithControls, Act: act(insp, at(3*time.Minute))}, cfg), ErrPrecondition)
	must(t, m.Decide("干煸四季豆", DishRequireControls, "烧熟煮透", act(insp, at(3*time.Minute))))
	must(t, m.Decide("红烧河豚", DishReject, "", act(insp, at(4*time.Minute))))
	if out, err := m.Outcome(); out != MenuRejected || err != nil {
		t.Errorf("outcome %s %v", out, err)
	}
	if err := m.Apply(MenuStep{To: MenuApprovedWithControls, Act: act(insp, at(5*time.Minute))}, cfg); !errors.As(err, &pe) || pe.Rule != "outcome_mismatch" {
		t.Errorf("approve a menu with a rejected dish: %v", err)
	}
	must(t, m.Apply(MenuStep{To: MenuRejected, Act: act(insp, at(5*time.Minute))}, cfg))

	// The caterer revises: back to draft, replace the dish, resubmit.
	must(t, m.Apply(MenuStep{To: MenuDraft, Act: Act{Actor: cmdr, At: at(time.Hour), Note: "撤下河豚"}}, cfg))
	revised := append([]Dish{}, banquetMenu[:2]...)
	revised = append(revised, Dish{Name: "红烧鮰鱼", Category: CategoryHotDish}, banquetMenu[3])
	must(t, m.SetDishes(revised, act(cmdr, at(time.Hour))))
	must(t, m.Apply(MenuStep{To: MenuSubmitted, Act: act(cmdr, at(2*time.Hour))}, cfg))
	if m.Round != 2 {
		t.Fatalf("round %d", m.Round)
	}
	// Round-1 decisions no longer count.
	if _, err := m.Outcome(); err == nil {
		t.Error("old decisions carried into the new round")
	}
	must(t, m.Decide("凉拌黄瓜", DishRequireControls, "专间加工", act(insp, at(3*time.Hour))))
	must(t, m.Decide("干煸四季豆", DishReject, "", act(insp, at(3*time.Hour))))
	// A later decision on the same dish replaces the earlier one; both kept.
	must(t, m.Decide("干煸四季豆", DishRequireControls, "烧熟煮透", act(cmdr, at(4*time.Hour))))
	wantIs(t, m.Apply(MenuStep{To: MenuApproved, Act: act(insp, at(5*time.Hour))}, cfg), ErrPrecondition)
	must(t, m.Apply(MenuStep{To: MenuApprovedWithControls, Act: act(insp, at(5*time.Hour))}, cfg))
	if len(m.Decisions) != 6 {
		t.Errorf("decisions kept: %d", len(m.Decisions))
	}
	last := m.Decisions[len(m.Decisions)-1]
	if last.Round != 2 || last.Actor != cmdr || !last.At.Equal(at(4*time.Hour)) || last.Reasons[0] != RiskBeans {
		t.Errorf("decision record %+v", last)
	}
	// Decisions only on a submitted menu; dishes only edited in draft.
	wantIs(t, m.Decide("凉拌黄瓜", DishReject, "", act(insp, at(6*time.Hour))), ErrPrecondition)
	wantIs(t, m.SetDishes(revised, act(insp, at(6*time.Hour))), ErrPrecondition)
}

func TestMenuPlainApprovalAndWholeRejection(t *testing.T) {
	cfg := DefaultConfig()
	m, err := NewMenu("M2", "K1", []Dish{{Name: "清蒸鲈鱼"}, {Name: "米饭", Category: CategoryStaple}})
	must(t, err)
	wantIs(t, m.Apply(MenuStep{To: MenuApproved, Act: act(insp, t0)}, cfg), ErrIllegalTransition)
	must(t, m.Apply(MenuStep{To: MenuSubmitted, Act: act(insp, t0)}, cfg))
	// No flags: approvable at once (unflagged dishes count as approved).
	if out, err := m.Outcome(); out != MenuApproved || err != nil {
		t.Fatalf("outcome %s %v", out, err)
	}
	wantIs(t, m.Apply(MenuStep{To: MenuApprovedWithControls, Act: act(insp, t0)}, cfg), ErrPrecondition)
	// Rejecting a menu with no rejected dish needs a reason.
	wantIs(t, m.Apply(MenuStep{To: MenuRejected, Act: act(insp, t0)}, cfg), ErrPrecondition)
	must(t, m.Apply(MenuStep{To: MenuRejected, Act: Act{Actor: insp, At: t0, Note: "菜品数量与就餐人数不符"}}, cfg))

	empty, err := NewMenu("M3", "K1", nil)
	must(t, err)
	wantIs(t, empty.Apply(MenuStep{To: MenuSubmitted, Act: act(insp, t0)}, cfg), ErrPrecondition)
	_, err = NewMenu("M4", "K1", []Dish{{Name: "鱼"}, {Name: "鱼"}, {Name: ""}, {Name: "汤", Category: "stew"}})
	wantIs(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), "duplicate") || !strings.Contains(err.Error(), "dishes[3].category") {
		t.Errorf("dish validation: %v", err)
	}
}

// TestMenuMatrix tries every from × to pair with an admin and decisions that
// support the target outcome.
func TestMenuMatrix(t *testing.T) {
	cfg := DefaultConfig()
	// menuAt returns a menu in state s. A submitted menu's decisions support
	// the outcome `supports`; an approved one has no flagged dish.
	menuAt := func(s, supports MenuState) Menu {
		target := s
		if s == MenuSubmitted {
			target = supports
		}
		dishes := []Dish{{Name: "凉拌黄瓜", Category: CategoryColdDish}, {Name: "米饭"}}
		if target == MenuApproved {
			dishes = dishes[1:]
		}
		m, err := NewMenu("M1", "K1", dishes)
		must(t, err)
		if s == MenuDraft {
			return m
		}
		must(t, m.Apply(MenuStep{To: MenuSubmitted, Act: act(insp, t0)}, cfg))
		switch target {
		case MenuApprovedWithControls:
			must(t, m.Decide("凉拌黄瓜", DishRequireControls, "专间加工", act(insp, t0)))
		case MenuRejected:
			must(t, m.Decide("凉拌黄瓜", DishReject, "", act(insp, t0)))
		}
		if s != MenuSubmitted {
			must(t, m.Apply(MenuStep{To: s, Act: act(insp, t0)}, cfg))
		}
		return m
	}
	for _, from := range MenuStates() {
		for _, to := range MenuStates() {
			m := menuAt(from, to)
			before := jsonOf(t, m)
			err := m.Apply(MenuStep{To: to, Act: act(admin, at(time.Hour))}, cfg)
			if from.CanMoveTo(to) {
				if want := []Role{RoleAdmin, RoleCommander, RoleInspector}; !reflect.DeepEqual(MenuRoles(to), want) {
					t.Errorf("MenuRoles(%s) = %v", to, MenuRoles(to))
				}
				if err != nil || m.State != to {
					t.Errorf("%s → %s refused: %v", from, to, err)
				}
				for _, r := range Roles() {
					m := menuAt(from, to)
					err := m.Apply(MenuStep{To: to, Act: act(actorOf(r), at(time.Hour))}, cfg)
					if allowed := r != RoleOperator && r != RoleViewer; allowed != (err == nil) {
						t.Errorf("%s → %s as %s: %v", from, to, r, err)
					}
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || !reflect.DeepEqual(te.Allowed, stateNames(from.Next())) {
				t.Errorf("%s → %s: %v", from, to, err)
			}
			if jsonOf(t, m) != before {
				t.Errorf("%s → %s: refused step changed the menu", from, to)
			}
		}
	}
}
