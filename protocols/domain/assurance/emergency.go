package assurance

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ResponseLevel is an emergency's response level (响应级别): level_4 (Ⅳ级,
// 一般) is the lowest, level_1 (Ⅰ级, 特别重大) the highest.
type ResponseLevel string

// Response levels, lowest first.
const (
	Level4 ResponseLevel = "level_4" // Ⅳ级（一般）
	Level3 ResponseLevel = "level_3" // Ⅲ级（较大）
	Level2 ResponseLevel = "level_2" // Ⅱ级（重大）
	Level1 ResponseLevel = "level_1" // Ⅰ级（特别重大）
)

// ResponseLevels returns every level, lowest first.
func ResponseLevels() []ResponseLevel { return []ResponseLevel{Level4, Level3, Level2, Level1} }

// Label returns the zh-CN and en label.
func (l ResponseLevel) Label() Label { return labelOf(string(l)) }

// Rank is 1 for level_4 … 4 for level_1, 0 for an unknown level.
func (l ResponseLevel) Rank() int { return slices.Index(ResponseLevels(), l) + 1 }

// LevelRule says when an emergency opens at a level and what that level
// sends. A report meets the rule when any of its thresholds is reached (a
// zero threshold is not used). The highest level met wins.
type LevelRule struct {
	Level     ResponseLevel `json:"level" yaml:"level"`
	MinIll    int           `json:"min_ill,omitempty" yaml:"min_ill"`
	MinSevere int           `json:"min_severe,omitempty" yaml:"min_severe"`
	MinDeaths int           `json:"min_deaths,omitempty" yaml:"min_deaths"`
	// Teams is how many of the nearest teams on duty are sent.
	Teams int `json:"teams" yaml:"teams"`
}

func (r LevelRule) met(rep IllnessReport) bool {
	return (r.MinIll > 0 && rep.Ill >= r.MinIll) || (r.MinSevere > 0 && rep.Severe >= r.MinSevere) ||
		(r.MinDeaths > 0 && rep.Deaths >= r.MinDeaths)
}

// PlanStep is one step of the emergency plan (应急预案). Auto steps are
// done by the command service itself at activation (the report logged,
// the response started, the samples frozen, the teams sent); the others
// are recorded by people as they are done.
type PlanStep struct {
	ID    string `json:"id" yaml:"id"`
	Label Label  `json:"label" yaml:"label"`
	Auto  bool   `json:"auto,omitempty" yaml:"auto"`
}

// Plan step ids the command service completes itself.
const (
	StepReported  = "report_received"
	StepActivated = "response_activated"
	StepFrozen    = "samples_frozen"
	StepTeams     = "teams_dispatched"
)

// EmergencyConfig is the emergency plan: its name, its steps and the
// levels. Every figure is [UNVERIFIED]: no source we hold gives the
// thresholds of a food-safety emergency plan; set them from the local
// plan.
type EmergencyConfig struct {
	PlanName string      `json:"plan_name" yaml:"plan_name"`
	Steps    []PlanStep  `json:"steps" yaml:"steps"`
	Levels   []LevelRule `json:"levels" yaml:"levels"`
}

// DefaultEmergencyConfig is the default plan ([UNVERIFIED] thresholds).
func DefaultEmergencyConfig() EmergencyConfig {
	return EmergencyConfig{
		PlanName: "重大活动食品安全突发事件应急预案",
		Steps: []PlanStep{
			{StepReported, Label{"接报登记", "Report logged"}, true},
			{StepActivated, Label{"启动应急响应", "Response activated"}, true},
			{StepFrozen, Label{"封存该餐次留样", "Meal's retained samples frozen"}, true},
			{StepTeams, Label{"派出保障组", "Teams sent"}, true},
			{"patients_treated", Label{"协助救治病人", "Patients taken to care"}, false},
			{"scene_controlled", Label{"控制现场，停止供应可疑食品", "Scene controlled, suspect food withdrawn"}, false},
			{"samples_to_lab", Label{"留样及病人样本送检", "Samples sent to the lab"}, false},
			{"investigation", Label{"流行病学调查", "Epidemiological investigation"}, false},
		},
		Levels: []LevelRule{
			{Level: Level4, MinIll: 1, Teams: 1},
			{Level: Level3, MinIll: 10, MinSevere: 1, Teams: 2},
			{Level: Level2, MinIll: 30, MinSevere: 5, MinDeaths: 1, Teams: 3},
			{Level: Level1, MinIll: 100, MinDeaths: 3, Teams: 5},
		},
	}
}

// Validate checks the plan.
func (c EmergencyConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(c.PlanName) == "" {
		errs = append(errs, invalid("emergency.plan_name", "required: the emergency plan's name"))
	}
	seen := map[string]bool{}
	for i, s := range c.Steps {
		if s.ID == "" || seen[s.ID] || s.Label.ZH == "" || s.Label.EN == "" {
			errs = append(errs, invalid(fmt.Sprintf("emergency.steps[%d]", i), "each step needs a unique id and a zh and en label"))
		}
		seen[s.ID] = true
	}
	levels := map[ResponseLevel]bool{}
	for i, r := range c.Levels {
		f := fmt.Sprintf("emergency.levels[%d]", i)
		if r.Level.Rank() == 0 || levels[r.Level] {
			errs = append(errs, invalid(f+".level", "%q is not a level or is listed twice; use level_4 … level_1", r.Level))
		}
		levels[r.Level] = true
		if r.MinIll <= 0 && r.MinSevere <= 0 && r.MinDeaths <= 0 {
			errs = append(errs, invalid(f, "give at least one threshold (min_ill, min_severe, min_deaths)"))
		}
		if r.Teams < 0 {
			errs = append(errs, invalid(f+".teams", "cannot be negative"))
		}
	}
	if len(c.Levels) == 0 {
		errs = append(errs, invalid("emergency.levels", "at least one level is required"))
	}
	return errors.Join(errs...)
}

// LevelFor returns the rule of the highest level a report meets (ok false
// when it meets none: nobody is ill).
func (c EmergencyConfig) LevelFor(rep IllnessReport) (LevelRule, bool) {
	var best LevelRule
	ok := false
	for _, r := range c.Levels {
		if r.met(rep) && (!ok || r.Level.Rank() > best.Level.Rank()) {
			best, ok = r, true
		}
	}
	return best, ok
}

// IllnessReport is a report of suspected food poisoning (疑似食物中毒):
// who reports, what the ill have, since when, after which meal, at which
// tables, how many.
type IllnessReport struct {
	Reporter string    `json:"reporter"`
	Phone    string    `json:"phone,omitempty"`
	MealID   string    `json:"meal_id"`
	Symptoms []string  `json:"symptoms"` // 腹痛, 腹泻, 呕吐, 发热 …
	OnsetAt  time.Time `json:"onset_at"`
	Tables   []string  `json:"tables,omitempty"`
	Ill      int       `json:"ill"`              // people taken ill
	Severe   int       `json:"severe,omitempty"` // of them in a serious condition
	Deaths   int       `json:"deaths,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Validate checks a report.
func (r IllnessReport) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, invalid(field, format, args...)) }
	if strings.TrimSpace(r.Reporter) == "" {
		add("reporter", "required: who reports it")
	}
	if r.MealID == "" {
		add("meal_id", "required: the meal the ill people ate")
	}
	if len(r.Symptoms) == 0 {
		add("symptoms", "at least one symptom is required (腹痛, 腹泻, 呕吐, 发热 …)")
	}
	if r.OnsetAt.IsZero() {
		add("onset_at", "required: when the first symptoms began")
	}
	if r.Ill <= 0 {
		add("ill", "must be positive: how many people are ill")
	}
	if r.Severe < 0 || r.Deaths < 0 || r.Severe > r.Ill || r.Deaths > r.Ill {
		add("severe", "severe and deaths cannot be negative or more than the number ill")
	}
	if r.Phone != "" {
		if _, err := NormalizePhone(r.Phone); err != nil {
			add("phone", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// EmergencyState is where an emergency stands.
type EmergencyState string

// Emergency states: an emergency is activated when it is opened and stays
// so until a commander closes it with a conclusion.
const (
	EmergencyActivated EmergencyState = "activated" // 应急响应中
	EmergencyClosed    EmergencyState = "closed"    // 已关闭
)

// Label returns the zh-CN and en label.
func (s EmergencyState) Label() Label { return labelOf(string(s)) }

// Cause is an emergency's conclusion.
type Cause string

// Causes.
const (
	CauseFoodPoisoning Cause = "food_poisoning"     // 确认为食物中毒
	CauseNotFood       Cause = "not_food_related"   // 排除食源性疾病
	CauseUndetermined  Cause = "cause_undetermined" // 原因待查
	CauseDrillDone     Cause = "drill_completed"    // 演练完成
)

// Causes returns every cause.
func Causes() []Cause {
	return []Cause{CauseFoodPoisoning, CauseNotFood, CauseUndetermined, CauseDrillDone}
}

// Label returns the zh-CN and en label.
func (c Cause) Label() Label { return labelOf(string(c)) }

// Conclusion closes an emergency.
type Conclusion struct {
	Cause Cause  `json:"cause"`
	Text  string `json:"text"`
	// Cases is the final number of people taken ill (default: the
	// report's).
	Cases int `json:"cases,omitempty"`
}

// StepStatus is a plan step and whether it is done.
type StepStatus struct {
	PlanStep
	Done bool      `json:"done"`
	At   time.Time `json:"at,omitzero"`
	By   string    `json:"by,omitempty"`
}

// Timeline actions (labelled; the timeline is an [AuditEntry] log).
const (
	TLReported   = "report_received"
	TLActivated  = "response_activated"
	TLFrozen     = "samples_frozen"
	TLDispatched = "team_dispatched"
	TLStepDone   = "step_done"
	TLUpdated    = "report_updated"
	TLLevel      = "level_changed"
	TLNote       = "note_added"
	TLClosed     = "emergency_closed"
	TLReleased   = "samples_released"
	TLNoTeam     = "emergency_no_team"
)

// Emergency is a food-safety emergency response (应急处置): a suspected
// food poisoning after a meal, at a level, following the plan, with a
// timeline of every step, until closed with a conclusion. A drill
// (应急演练) runs the same flow with Drill set and is kept as a drill
// record.
type Emergency struct {
	ID         string         `json:"id"`
	EventID    string         `json:"event_id"`
	KitchenID  string         `json:"kitchen_id"`
	MealID     string         `json:"meal_id"`
	Drill      bool           `json:"drill"`
	Report     IllnessReport  `json:"report"`
	Level      ResponseLevel  `json:"level"`
	Teams      int            `json:"teams_wanted"`
	Plan       string         `json:"plan"`
	Steps      []StepStatus   `json:"steps"`
	State      EmergencyState `json:"state"`
	OpenedAt   time.Time      `json:"opened_at"`
	ClosedAt   time.Time      `json:"closed_at,omitzero"`
	Conclusion *Conclusion    `json:"conclusion,omitempty"`
	Timeline   []AuditEntry   `json:"timeline"`
}

// OpenEmergency opens an emergency from a report about meal m: the level
// is the highest rule of Config.Emergency the report meets; the timeline
// starts with the report and the activation. Anyone but a viewer may
// report (an operator at a kiosk, an inspector on site, the command
// centre); a drill is started by commanders and admins only.
func OpenEmergency(id string, rep IllnessReport, m EventMeal, drill bool, act Act, cfg Config) (Emergency, error) {
	if id == "" {
		return Emergency{}, invalid("id", "required")
	}
	if err := act.validate(); err != nil {
		return Emergency{}, err
	}
	roles := rolesAnyone
	if drill {
		roles = rolesCommand
	}
	if err := requireRole("emergency "+id+" report", act.Actor, roles); err != nil {
		return Emergency{}, err
	}
	if err := rep.Validate(); err != nil {
		return Emergency{}, err
	}
	if rep.MealID != m.ID {
		return Emergency{}, invalid("meal_id", "the report names meal %q, not %q", rep.MealID, m.ID)
	}
	if rep.OnsetAt.Before(m.Start) {
		return Emergency{}, invalid("onset_at", "symptoms began before the meal was served (%s); check the meal", m.Start.In(cfg.zone()).Format("01-02 15:04"))
	}
	rule, ok := cfg.Emergency.LevelFor(rep)
	if !ok {
		return Emergency{}, invalid("ill", "the report meets no response level of the plan")
	}
	em := Emergency{ID: id, EventID: m.EventID, KitchenID: m.KitchenID, MealID: m.ID, Drill: drill, Report: rep,
		Level: rule.Level, Teams: rule.Teams, Plan: cfg.Emergency.PlanName, State: EmergencyActivated, OpenedAt: act.At}
	for _, s := range cfg.Emergency.Steps {
		em.Steps = append(em.Steps, StepStatus{PlanStep: s})
	}
	tl := (*audit)(&em.Timeline)
	note := act.Note
	act.Note = fmt.Sprintf("%d 人发病（重症 %d） / %d ill (%d severe)", rep.Ill, rep.Severe, rep.Ill, rep.Severe)
	tl.add(TLReported, "", "", act)
	em.markStep(StepReported, act)
	act.Note = cmp.Or(note, cfg.Emergency.PlanName)
	tl.add(TLActivated, "", string(rule.Level), act)
	em.markStep(StepActivated, act)
	return em, nil
}

func (em *Emergency) markStep(id string, act Act) {
	for i := range em.Steps {
		if em.Steps[i].ID == id && !em.Steps[i].Done {
			em.Steps[i].Done, em.Steps[i].At, em.Steps[i].By = true, act.At, act.Actor.UserID
		}
	}
}

func (em *Emergency) check(action string, act Act, roles []Role) error {
	if err := act.validate(); err != nil {
		return err
	}
	if err := audit(em.Timeline).checkTime(act.At); err != nil {
		return err
	}
	if em.State == EmergencyClosed {
		return &PreconditionError{Action: "emergency " + em.ID + " " + action, Rule: "emergency_closed",
			Detail: "the emergency is closed; open a new one for a new report"}
	}
	return requireRole("emergency "+em.ID+" "+action, act.Actor, roles)
}

// Record appends an entry the command service made by itself (samples
// frozen, a team sent, no team available) and marks its plan step done
// when it has one.
func (em *Emergency) Record(action, ref, step string, act Act) error {
	if err := em.check(action, act, rolesAnyone); err != nil {
		return err
	}
	(*audit)(&em.Timeline).add(action, "", ref, act)
	if step != "" {
		em.markStep(step, act)
	}
	return nil
}

// CompleteStep records a manual plan step as done. Inspectors, commanders
// and admins.
func (em *Emergency) CompleteStep(id string, act Act) error {
	if err := em.check("step "+id, act, rolesField); err != nil {
		return err
	}
	i := slices.IndexFunc(em.Steps, func(s StepStatus) bool { return s.ID == id })
	switch {
	case i < 0:
		ids := make([]string, len(em.Steps))
		for j, s := range em.Steps {
			ids[j] = s.ID
		}
		return invalid("step", "%q is not a step of the plan; steps are %s", id, strings.Join(ids, ", "))
	case em.Steps[i].Auto:
		return &PreconditionError{Action: "emergency " + em.ID + " step " + id, Rule: "auto_step",
			Detail: "the command service does this step itself"}
	case em.Steps[i].Done:
		return &PreconditionError{Action: "emergency " + em.ID + " step " + id, Rule: "step_done", Detail: "this step is already done"}
	}
	(*audit)(&em.Timeline).add(TLStepDone, "", id, act)
	em.markStep(id, act)
	return nil
}

// AddNote appends a note to the timeline (what was found, who was told).
func (em *Emergency) AddNote(act Act) error {
	if strings.TrimSpace(act.Note) == "" {
		return invalid("note", "required")
	}
	if err := em.check("note", act, rolesField); err != nil {
		return err
	}
	(*audit)(&em.Timeline).add(TLNote, "", "", act)
	return nil
}

// UpdateReport replaces the counts of the report as more people fall ill
// (or a count is corrected). The level follows the new counts upwards; it
// never drops by itself. It returns the level before.
func (em *Emergency) UpdateReport(ill, severe, deaths int, tables []string, act Act, cfg Config) (ResponseLevel, error) {
	before := em.Level
	if err := em.check("update", act, rolesField); err != nil {
		return before, err
	}
	rep := em.Report
	rep.Ill, rep.Severe, rep.Deaths = ill, severe, deaths
	if tables != nil {
		rep.Tables = tables
	}
	if err := rep.Validate(); err != nil {
		return before, err
	}
	em.Report = rep
	note := act.Note
	act.Note = fmt.Sprintf("%d 人发病（重症 %d） / %d ill (%d severe)", ill, severe, ill, severe)
	if note != "" {
		act.Note += "; " + note
	}
	(*audit)(&em.Timeline).add(TLUpdated, "", "", act)
	if rule, ok := cfg.Emergency.LevelFor(rep); ok && rule.Level.Rank() > em.Level.Rank() {
		(*audit)(&em.Timeline).add(TLLevel, string(em.Level), string(rule.Level), act)
		em.Level, em.Teams = rule.Level, rule.Teams
	}
	return before, nil
}

// Close closes the emergency with a conclusion. Commanders and admins.
// A real emergency cannot be concluded as a completed drill, nor a drill
// as food poisoning.
func (em *Emergency) Close(c Conclusion, act Act) error {
	if err := em.check("close", act, rolesCommand); err != nil {
		return err
	}
	if !slices.Contains(Causes(), c.Cause) {
		return invalid("cause", "%q is not a cause; use food_poisoning, not_food_related, cause_undetermined or drill_completed", c.Cause)
	}
	if strings.TrimSpace(c.Text) == "" {
		return invalid("text", "required: the conclusion in words (what was found, what was done)")
	}
	if c.Cause == CauseDrillDone && !em.Drill || c.Cause == CauseFoodPoisoning && em.Drill {
		return invalid("cause", "%s does not fit %s", c.Cause, map[bool]string{true: "a drill", false: "a real emergency"}[em.Drill])
	}
	if c.Cases == 0 {
		c.Cases = em.Report.Ill
	}
	em.Conclusion = &c
	em.State, em.ClosedAt = EmergencyClosed, act.At
	if act.Note == "" {
		act.Note = c.Text
	}
	(*audit)(&em.Timeline).add(TLClosed, string(EmergencyActivated), string(EmergencyClosed), act)
	return nil
}
