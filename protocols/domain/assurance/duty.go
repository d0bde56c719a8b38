package assurance

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// MealBreakfast is the morning meal of an event kitchen (banquet sittings
// are lunch or dinner only).
const MealBreakfast Meal = "breakfast" // 早餐

// MealDish is one dish on a meal's menu.
type MealDish struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Category DishCategory `json:"category,omitempty"`
}

// EventMeal is one meal (餐次, a sitting) an event kitchen serves: when,
// what and to how many. Rapid-test results, retained samples and the
// stationed team's checks attach to it; an illness report names it.
type EventMeal struct {
	ID        string     `json:"id"`
	EventID   string     `json:"event_id"`
	KitchenID string     `json:"kitchen_id"`
	Meal      Meal       `json:"meal"`           // breakfast, lunch, dinner
	Name      string     `json:"name,omitempty"` // 开幕晚宴, 工作午餐 …
	Start     time.Time  `json:"start"`          // service starts
	End       time.Time  `json:"end"`            // service ends
	Dishes    []MealDish `json:"dishes"`
	Diners    int        `json:"diners"`
	Tables    int        `json:"tables,omitempty"`
}

// Validate checks a meal and returns every problem, joined.
func (m EventMeal) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if m.ID == "" || m.EventID == "" || m.KitchenID == "" {
		add(invalid("id", "id, event_id and kitchen_id are required"))
	}
	if !slices.Contains([]Meal{MealBreakfast, MealLunch, MealDinner}, m.Meal) {
		add(invalid("meal", "%q is not a meal; use breakfast (早餐), lunch (午餐) or dinner (晚餐)", m.Meal))
	}
	if m.Start.IsZero() || m.End.IsZero() || !m.End.After(m.Start) {
		add(invalid("end", "the service window needs a start and an end after it"))
	}
	if len(m.Dishes) == 0 {
		add(invalid("dishes", "at least one dish is required: the dishes served, each kept as a retained sample"))
	}
	seen := map[string]bool{}
	for i, d := range m.Dishes {
		f := fmt.Sprintf("dishes[%d]", i)
		switch {
		case d.ID == "" || strings.TrimSpace(d.Name) == "":
			add(invalid(f, "id and name are required"))
		case seen[d.ID]:
			add(invalid(f+".id", "duplicate dish id %q", d.ID))
		}
		seen[d.ID] = true
	}
	if m.Diners <= 0 {
		add(invalid("diners", "must be positive: how many people the meal serves"))
	}
	if m.Tables < 0 {
		add(invalid("tables", "cannot be negative"))
	}
	return errors.Join(errs...)
}

// Dish returns the meal's dish with id.
func (m EventMeal) Dish(id string) (MealDish, bool) {
	i := slices.IndexFunc(m.Dishes, func(d MealDish) bool { return d.ID == id })
	if i < 0 {
		return MealDish{}, false
	}
	return m.Dishes[i], true
}

// MorningCheck is the morning health check (晨检) of one kitchen worker
// before work: present, no fever, diarrhoea, vomiting or jaundice, no
// wound or skin infection on the hands, a valid health certificate. A
// present worker who fails any of them may not handle food that day.
type MorningCheck struct {
	Worker      string    `json:"worker"`
	Post        string    `json:"post,omitempty"`
	Present     bool      `json:"present"`
	Healthy     bool      `json:"healthy"`     // no symptoms (发热、腹泻、呕吐、黄疸 …)
	HandsOK     bool      `json:"hands_ok"`    // no wound or infection on the hands
	Certificate bool      `json:"certificate"` // health certificate valid today
	Note        string    `json:"note,omitempty"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// Fit reports whether the worker may handle food: absent workers are not
// counted, present ones must pass every item.
func (c MorningCheck) Fit() bool { return c.Present && c.Healthy && c.HandsOK && c.Certificate }

// Source says where a measured value of the duty log came from.
type Source string

// Sources.
const (
	SourceManual Source = "manual"      // typed by the inspector
	SourceScale  Source = "kiosk_scale" // the kiosk's scale
	SourceProbe  Source = "kiosk_probe" // the kiosk's core-temperature probe
)

// RetainedSample is one dish kept back from a meal (留样): at least
// Config.Readiness.RetentionMinMass (125 g) in a dedicated refrigerator for at
// least Config.Readiness.RetentionMinHold (48 h), labelled with dish, meal,
// time and person (docs/domain.md §1.7). While an emergency holds it
// (FrozenBy) it may not be discarded at all.
type RetainedSample struct {
	DishID      string       `json:"dish_id"`
	Dish        string       `json:"dish"`
	Mass        measure.Mass `json:"mass"`
	At          time.Time    `json:"at"` // when it was put in the fridge
	FridgeID    string       `json:"fridge_id"`
	By          string       `json:"by"` // the kitchen's person responsible
	Source      Source       `json:"source,omitempty"`
	RecordedBy  string       `json:"recorded_by"`
	FrozenBy    string       `json:"frozen_by,omitempty"` // the emergency that holds it
	DiscardedAt time.Time    `json:"discarded_at,omitzero"`
	DiscardedBy string       `json:"discarded_by,omitempty"`
}

// KeepUntil is the earliest time the sample may be discarded.
func (s RetainedSample) KeepUntil(cfg Config) time.Time {
	return s.At.Add(cfg.Readiness.RetentionMinHold)
}

// ProcessKind is a process check the stationed team makes during a meal.
type ProcessKind string

// Process checks.
const (
	CheckCoreTemp     ProcessKind = "core_temp_check"        // 中心温度 ≥ 70 °C
	CheckColdRoom     ProcessKind = "cold_room_check"        // 专间温度 ≤ 25 °C
	CheckDisinfection ProcessKind = "tableware_disinfection" // 餐用具消毒
)

// ProcessKinds returns every process check.
func ProcessKinds() []ProcessKind {
	return []ProcessKind{CheckCoreTemp, CheckColdRoom, CheckDisinfection}
}

// Label returns the zh-CN and en label.
func (k ProcessKind) Label() Label { return labelOf(string(k)) }

// ProcessCheck is one check: a dish's core temperature, the cold-dish
// room's temperature, or a batch of tableware disinfected. Pass is decided
// by [DecideProcess], never taken from the client.
type ProcessCheck struct {
	Kind ProcessKind `json:"kind"`
	// DishID is the dish whose core temperature was measured.
	DishID string `json:"dish_id,omitempty"`
	// Temp is the measured temperature (core, cold room).
	Temp *measure.Temperature `json:"temp,omitempty"`
	// Disinfected and Method: tableware disinfection done, and how
	// (热力、化学、消毒柜 …).
	Disinfected bool   `json:"disinfected,omitempty"`
	Method      string `json:"method,omitempty"`
	Source      Source `json:"source,omitempty"`
	Pass        bool   `json:"pass"`
	Rule        Label  `json:"rule"` // the rule that decided it, in words
	// Fixed says a failed check was put right on the spot (reheated, the
	// room cooled, disinfected again), and how.
	Fixed      string    `json:"fixed,omitempty"`
	RecordedBy string    `json:"recorded_by"`
	At         time.Time `json:"at"`
}

// DecideProcess applies the rule of a check's kind: core ≥
// Config.Duty.CoreMin (70 °C), cold room ≤ Config.Duty.ColdRoomMax (25 °C),
// disinfection done with a method named. It fills Pass and Rule, or
// returns a validation error when the values the rule needs are missing.
func DecideProcess(c ProcessCheck, cfg Config) (ProcessCheck, error) {
	d := cfg.Duty
	switch c.Kind {
	case CheckCoreTemp:
		if c.Temp == nil {
			return c, invalid("temp", "required: the dish's core temperature (a probe reading)")
		}
		if c.DishID == "" {
			return c, invalid("dish_id", "required: which dish was probed")
		}
		c.Pass = *c.Temp >= d.CoreMin
		c.Rule = Label{ZH: "中心温度 ≥ " + d.CoreMin.String(), EN: "core temperature ≥ " + d.CoreMin.String()}
	case CheckColdRoom:
		if c.Temp == nil {
			return c, invalid("temp", "required: the cold-dish room's temperature")
		}
		c.Pass = *c.Temp <= d.ColdRoomMax
		c.Rule = Label{ZH: "专间温度 ≤ " + d.ColdRoomMax.String(), EN: "cold-dish room ≤ " + d.ColdRoomMax.String()}
	case CheckDisinfection:
		c.Pass = c.Disinfected && strings.TrimSpace(c.Method) != ""
		c.Rule = Label{ZH: "餐用具已消毒并注明方式", EN: "tableware disinfected, method named"}
	default:
		return c, invalid("kind", "%q is not a process check; use core_temp_check, cold_room_check or tableware_disinfection", c.Kind)
	}
	return c, nil
}

// Problem is something the stationed team found, and whether it was put
// right on the spot.
type Problem struct {
	Text       string    `json:"text"`
	Fixed      bool      `json:"fixed"`
	Fix        string    `json:"fix,omitempty"`
	RecordedBy string    `json:"recorded_by"`
	At         time.Time `json:"at"`
}

// DutyLog is the stationed team's log of one meal (驻点保障工作日志): the
// morning check of each worker, the retained samples per dish, the process
// checks and the problems found. One record per meal.
type DutyLog struct {
	MealID    string           `json:"meal_id"`
	EventID   string           `json:"event_id"`
	KitchenID string           `json:"kitchen_id"`
	TeamID    string           `json:"team_id,omitempty"`
	Morning   []MorningCheck   `json:"morning"`
	Samples   []RetainedSample `json:"samples"`
	Checks    []ProcessCheck   `json:"checks"`
	Problems  []Problem        `json:"problems"`
}

// AddMorningCheck records (or replaces, by worker) a morning check.
func (l *DutyLog) AddMorningCheck(c MorningCheck) error {
	if strings.TrimSpace(c.Worker) == "" {
		return invalid("worker", "required: the worker's name")
	}
	if i := slices.IndexFunc(l.Morning, func(m MorningCheck) bool { return m.Worker == c.Worker }); i >= 0 {
		l.Morning[i] = c
		return nil
	}
	l.Morning = append(l.Morning, c)
	return nil
}

// AddSample records a retained sample of a dish of the meal. A sample
// lighter than Config.Readiness.RetentionMinMass is refused with what to do
// (keep more of the dish), as is a second sample of one dish.
func (l *DutyLog) AddSample(m EventMeal, s RetainedSample, cfg Config) error {
	d, ok := m.Dish(s.DishID)
	if !ok {
		return invalid("dish_id", "%q is not a dish of meal %s", s.DishID, m.ID)
	}
	s.Dish = d.Name
	switch {
	case strings.TrimSpace(s.FridgeID) == "":
		return invalid("fridge_id", "required: the dedicated refrigerator the sample is kept in")
	case strings.TrimSpace(s.By) == "":
		return invalid("by", "required: the kitchen's person who took the sample")
	case s.At.IsZero():
		return invalid("at", "required: when the sample went into the fridge")
	case s.Mass < cfg.Readiness.RetentionMinMass:
		return &PreconditionError{Action: "retain " + d.Name, Rule: "retention_underweight",
			Detail: fmt.Sprintf("%s is below the minimum of %s per dish; keep more of the dish and weigh it again", s.Mass, cfg.Readiness.RetentionMinMass)}
	}
	if slices.ContainsFunc(l.Samples, func(x RetainedSample) bool { return x.DishID == s.DishID && x.DiscardedAt.IsZero() }) {
		return &PreconditionError{Action: "retain " + d.Name, Rule: "retention_duplicate",
			Detail: "this dish already has a retained sample in the fridge"}
	}
	s.FrozenBy, s.DiscardedAt, s.DiscardedBy = "", time.Time{}, ""
	l.Samples = append(l.Samples, s)
	return nil
}

// Discard records that a dish's sample was thrown away at act.At. It is
// refused before the sample's KeepUntil and while an emergency holds it.
func (l *DutyLog) Discard(dishID string, act Act, cfg Config) error {
	i := slices.IndexFunc(l.Samples, func(x RetainedSample) bool { return x.DishID == dishID && x.DiscardedAt.IsZero() })
	if i < 0 {
		return invalid("dish_id", "no sample of dish %q is kept", dishID)
	}
	s := &l.Samples[i]
	switch {
	case s.FrozenBy != "":
		return &PreconditionError{Action: "discard " + s.Dish, Rule: "sample_frozen",
			Detail: fmt.Sprintf("emergency %s holds this sample; it may not be discarded until the emergency is closed", s.FrozenBy)}
	case act.At.Before(s.KeepUntil(cfg)):
		return &PreconditionError{Action: "discard " + s.Dish, Rule: "retention_too_short",
			Detail: fmt.Sprintf("keep it until %s (%s after it was retained)", s.KeepUntil(cfg).In(cfg.zone()).Format("01-02 15:04"), hours(cfg.Readiness.RetentionMinHold))}
	}
	s.DiscardedAt, s.DiscardedBy = act.At, act.Actor.UserID
	return nil
}

// AddCheck decides and records a process check.
func (l *DutyLog) AddCheck(m EventMeal, c ProcessCheck, cfg Config) (ProcessCheck, error) {
	if c.Kind == CheckCoreTemp {
		if _, ok := m.Dish(c.DishID); !ok {
			return c, invalid("dish_id", "%q is not a dish of meal %s", c.DishID, m.ID)
		}
	}
	c, err := DecideProcess(c, cfg)
	if err != nil {
		return c, err
	}
	l.Checks = append(l.Checks, c)
	return c, nil
}

// Freeze marks every kept sample as held by an emergency and returns how
// many it holds.
func (l *DutyLog) Freeze(emergencyID string) int {
	n := 0
	for i := range l.Samples {
		if l.Samples[i].DiscardedAt.IsZero() {
			l.Samples[i].FrozenBy = emergencyID
			n++
		}
	}
	return n
}

// Release lifts an emergency's hold on the samples.
func (l *DutyLog) Release(emergencyID string) {
	for i := range l.Samples {
		if l.Samples[i].FrozenBy == emergencyID {
			l.Samples[i].FrozenBy = ""
		}
	}
}

// GapKind is a hole in a duty log.
type GapKind string

// Gaps.
const (
	GapRetentionMissing GapKind = "retention_missing"         // a served dish has no retained sample
	GapRetentionEarly   GapKind = "retention_discarded_early" // a sample kept less than the minimum
	GapMorningMissing   GapKind = "morning_check_missing"     // no morning check before service
	GapUnfitWorker      GapKind = "unfit_worker"              // a present worker failed the morning check
	GapProcessFailed    GapKind = "process_check_failed"      // a failed check not put right
	GapProblemOpen      GapKind = "problem_open"              // a problem not fixed on the spot
)

// Label returns the zh-CN and en label.
func (k GapKind) Label() Label { return labelOf(string(k)) }

// Gap is one finding of [DutyGaps].
type Gap struct {
	Kind    GapKind `json:"kind"`
	MealID  string  `json:"meal_id"`
	Kitchen string  `json:"kitchen_id"`
	Ref     string  `json:"ref,omitempty"` // the dish, worker or check concerned
	Detail  Label   `json:"detail"`
}

// Alarm reports whether the gap raises an alarm (the retention rules)
// rather than only appearing in the report.
func (g Gap) Alarm() bool { return g.Kind == GapRetentionMissing || g.Kind == GapRetentionEarly }

// DutyGaps lists what is missing or wrong in a meal's log at now:
//   - once service has started plus Config.Duty.RetentionGrace, every dish
//     without a retained sample (retention_missing) — an alarm;
//   - a sample discarded before its KeepUntil (retention_discarded_early)
//     — an alarm (a log written through [DutyLog.Discard] cannot have one;
//     an imported or corrected one can);
//   - once service has started, no morning check at all
//     (morning_check_missing), and each present worker who failed it
//     (unfit_worker);
//   - each failed process check not fixed on the spot, each problem not
//     fixed.
func DutyGaps(m EventMeal, l DutyLog, now time.Time, cfg Config) []Gap {
	var out []Gap
	gap := func(k GapKind, ref, zh, en string) {
		out = append(out, Gap{Kind: k, MealID: m.ID, Kitchen: m.KitchenID, Ref: ref, Detail: Label{ZH: zh, EN: en}})
	}
	if !now.Before(m.Start.Add(cfg.Duty.RetentionGrace)) {
		for _, d := range m.Dishes {
			if !slices.ContainsFunc(l.Samples, func(s RetainedSample) bool { return s.DishID == d.ID }) {
				gap(GapRetentionMissing, d.ID, fmt.Sprintf("%s 未留样", d.Name), fmt.Sprintf("%s has no retained sample", d.Name))
			}
		}
	}
	for _, s := range l.Samples {
		if !s.DiscardedAt.IsZero() && s.DiscardedAt.Before(s.KeepUntil(cfg)) {
			gap(GapRetentionEarly, s.DishID, fmt.Sprintf("%s 留样不足 %s 即被处理", s.Dish, hours(cfg.Readiness.RetentionMinHold)),
				fmt.Sprintf("the sample of %s was discarded before %s", s.Dish, hours(cfg.Readiness.RetentionMinHold)))
		}
	}
	if !now.Before(m.Start) && len(l.Morning) == 0 {
		gap(GapMorningMissing, "", "未做晨检", "no morning health check recorded")
	}
	for _, c := range l.Morning {
		if c.Present && !c.Fit() {
			gap(GapUnfitWorker, c.Worker, fmt.Sprintf("%s 晨检不合格", c.Worker), fmt.Sprintf("%s failed the morning check", c.Worker))
		}
	}
	for i, c := range l.Checks {
		if !c.Pass && strings.TrimSpace(c.Fixed) == "" {
			gap(GapProcessFailed, fmt.Sprint(i), "过程检查不合格未整改："+c.Rule.ZH, "failed check not put right: "+c.Rule.EN)
		}
	}
	for i, p := range l.Problems {
		if !p.Fixed {
			gap(GapProblemOpen, fmt.Sprint(i), "问题未当场整改："+p.Text, "problem not fixed on the spot: "+p.Text)
		}
	}
	return out
}

// Training is a training session (培训指导) given to a kitchen's staff:
// what, by whom, to whom.
type Training struct {
	ID        string    `json:"id"`
	EventID   string    `json:"event_id"`
	KitchenID string    `json:"kitchen_id,omitempty"`
	Topic     string    `json:"topic"`
	Content   string    `json:"content"`
	Trainer   string    `json:"trainer"`
	Attendees []string  `json:"attendees"`
	At        time.Time `json:"at"`
	Minutes   int       `json:"minutes,omitempty"`
	By        string    `json:"recorded_by"`
}

// Validate checks a training record.
func (t Training) Validate() error {
	switch {
	case strings.TrimSpace(t.Topic) == "" || strings.TrimSpace(t.Content) == "":
		return invalid("content", "topic and content are required: what the training covered")
	case strings.TrimSpace(t.Trainer) == "":
		return invalid("trainer", "required: who gave it")
	case len(t.Attendees) == 0:
		return invalid("attendees", "at least one attendee is required")
	case t.At.IsZero():
		return invalid("at", "required: when it was held")
	}
	return nil
}

// hours writes a duration in hours ("48 h") for people.
func hours(d time.Duration) string {
	return strconv.FormatFloat(d.Hours(), 'f', -1, 64) + " h"
}
