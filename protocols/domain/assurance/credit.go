package assurance

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Grade is a food business's risk grade (风险等级). Risk rises from A to D:
// D is the highest risk and is patrolled most often.
type Grade string

// Grades.
const (
	GradeA Grade = "A"
	GradeB Grade = "B"
	GradeC Grade = "C"
	GradeD Grade = "D"
)

// Grades returns A, B, C, D (lowest risk first).
func Grades() []Grade { return []Grade{GradeA, GradeB, GradeC, GradeD} }

// Valid reports whether g is a grade.
func (g Grade) Valid() bool { return slices.Contains(Grades(), g) }

// Label returns the zh-CN and en label.
func (g Grade) Label() Label { return labelOf("grade_" + string(g)) }

// Risk returns 1 for A … 4 for D (0 for an invalid grade).
func (g Grade) Risk() int { return slices.Index(Grades(), g) + 1 }

// ParseGrade parses "A" … "D" (also lower case).
func ParseGrade(s string) (Grade, error) {
	if len(s) == 1 && s[0] >= 'a' && s[0] <= 'd' {
		s = string(s[0] - 'a' + 'A')
	}
	return parseEnum("risk grade", s, Grades())
}

// GradeRule is one row of the grade table: the credit score band of a
// grade and how often a business of that grade is patrolled.
type GradeRule struct {
	Grade Grade `json:"grade"`
	// MinScore is the lowest credit score of the grade. Bands run from
	// A (highest MinScore) down; the D row's MinScore is ignored (D is
	// everything below C).
	MinScore int `json:"min_score"`
	// InspectionsPerYear is the range of full inspections a year
	// (DOMAIN §4.3: A ≥ 1, B 1–2, C 2–3, D 3–4).
	InspectionsPerYear [2]int `json:"inspections_per_year"`
	// RoutineDays is the patrol interval in ordinary times (365 / the
	// upper bound of InspectionsPerYear, rounded down).
	RoutineDays int `json:"routine_days"`
	// EventDays is the patrol interval while an event is live.
	EventDays int `json:"event_days"`
}

// GradeTable maps credit scores to grades and grades to patrol intervals.
type GradeTable []GradeRule

// DefaultGradeTable returns the default table. Inspection counts are from
// the 2016 grading scheme; the score bands and event intervals are
// [ASSUMPTION]s to be set locally.
func DefaultGradeTable() GradeTable {
	return GradeTable{
		{Grade: GradeA, MinScore: 105, InspectionsPerYear: [2]int{1, 1}, RoutineDays: 365, EventDays: 3},
		{Grade: GradeB, MinScore: 90, InspectionsPerYear: [2]int{1, 2}, RoutineDays: 182, EventDays: 2},
		{Grade: GradeC, MinScore: 75, InspectionsPerYear: [2]int{2, 3}, RoutineDays: 121, EventDays: 1},
		{Grade: GradeD, MinScore: 0, InspectionsPerYear: [2]int{3, 4}, RoutineDays: 91, EventDays: 1},
	}
}

// Validate checks that the table has each grade once, in order A–D, with
// strictly falling score bands and positive intervals.
func (t GradeTable) Validate() error {
	if len(t) != 4 {
		return invalid("grades", "the table needs exactly 4 rows, A to D; it has %d", len(t))
	}
	var errs []error
	for i, r := range t {
		f := fmt.Sprintf("grades[%d]", i)
		if r.Grade != Grades()[i] {
			errs = append(errs, invalid(f+".grade", "row %d must be grade %s, not %q", i, Grades()[i], r.Grade))
		}
		if i > 0 && i < 3 && r.MinScore >= t[i-1].MinScore {
			errs = append(errs, invalid(f+".min_score", "%d must be below grade %s's %d", r.MinScore, t[i-1].Grade, t[i-1].MinScore))
		}
		if r.RoutineDays <= 0 || r.EventDays <= 0 {
			errs = append(errs, invalid(f, "patrol intervals must be positive days"))
		}
		if r.InspectionsPerYear[0] < 0 || r.InspectionsPerYear[1] < r.InspectionsPerYear[0] {
			errs = append(errs, invalid(f+".inspections_per_year", "%v is not a range", r.InspectionsPerYear))
		}
	}
	return errors.Join(errs...)
}

// GradeOf returns the grade of a credit score.
func (t GradeTable) GradeOf(score int) Grade {
	for _, r := range t[:len(t)-1] {
		if score >= r.MinScore {
			return r.Grade
		}
	}
	return t[len(t)-1].Grade
}

// rule returns the row of grade g.
func (t GradeTable) rule(g Grade) (GradeRule, bool) {
	i := slices.IndexFunc(t, func(r GradeRule) bool { return r.Grade == g })
	if i < 0 {
		return GradeRule{}, false
	}
	return t[i], true
}

// maxScoreOf returns the highest score that still has grade g.
func (t GradeTable) maxScoreOf(g Grade, max int) int {
	i := slices.IndexFunc(t, func(r GradeRule) bool { return r.Grade == g })
	if i <= 0 {
		return max
	}
	return t[i-1].MinScore - 1
}

// CreditReason identifies a credit rule (积分制): why points were added or
// taken.
type CreditReason string

// Credit reasons of the default rule table.
const (
	CreditCleanPatrol        CreditReason = "clean_patrol"            // 巡查无问题 +1
	CreditSuspicious         CreditReason = "suspicious_result"       // 快检可疑 −2
	CreditPositive           CreditReason = "positive_result"         // 快检阳性 −10
	CreditConfirmedPositive  CreditReason = "confirmed_positive"      // 确证阳性 −20
	CreditCleared            CreditReason = "cleared"                 // 排除 +10 (gives back a positive's points)
	CreditMinorFinding       CreditReason = "minor_finding"           // 一般问题 −2
	CreditMajorFinding       CreditReason = "major_finding"           // 严重问题 −10
	CreditRectified          CreditReason = "rectified"               // 整改到位 +2
	CreditRectificationLate  CreditReason = "rectification_overdue"   // 逾期未整改 −5
	CreditTemperatureBreach  CreditReason = "temperature_breach"      // 温度超标 −5
	CreditComplaint          CreditReason = "complaint_substantiated" // 投诉属实 −5
	CreditCertified          CreditReason = "certified"               // 通过 HACCP/GMP 认证 +10
	CreditSeriouslyDishonest CreditReason = "seriously_dishonest"     // 列入严重失信名单 → D
	CreditInitial            CreditReason = "initial"                 // 初始评级
)

// Label returns the zh-CN and en label.
func (r CreditReason) Label() Label { return labelOf(string(r)) }

// CreditSource is what booked a credit event: the record its Ref names.
// The ledger screen shows it ("快检结果", "巡查发现的问题") beside the rule.
type CreditSource string

// Credit sources.
const (
	CreditFromResult   CreditSource = "from_result"   // a rapid-test result (Ref: the result, Note: its incident)
	CreditFromIncident CreditSource = "from_incident" // an incident's outcome (Ref: the incident)
	CreditFromPatrol   CreditSource = "from_patrol"   // a patrol visit without findings (Ref: the visit)
	CreditFromFinding  CreditSource = "from_finding"  // a patrol finding (Ref: visit#n, Note: the finding)
	CreditFromManual   CreditSource = "from_manual"   // recorded by hand (By: who)
	CreditFromRegister CreditSource = "from_register" // the site register's grade when the account opened
)

// CreditSources returns every source.
func CreditSources() []CreditSource {
	return []CreditSource{CreditFromResult, CreditFromIncident, CreditFromPatrol, CreditFromFinding, CreditFromManual, CreditFromRegister}
}

// Label returns the zh-CN and en label.
func (s CreditSource) Label() Label { return labelOf(string(s)) }

// DefaultSource is the source of a reason booked without one (a ledger
// written before sources were kept): what the engine books it from.
func (r CreditReason) DefaultSource() CreditSource {
	switch r {
	case CreditPositive, CreditSuspicious, CreditTemperatureBreach:
		return CreditFromResult
	case CreditConfirmedPositive, CreditCleared, CreditComplaint:
		return CreditFromIncident
	case CreditCleanPatrol:
		return CreditFromPatrol
	case CreditMinorFinding, CreditMajorFinding:
		return CreditFromFinding
	case CreditInitial:
		return CreditFromRegister
	}
	return CreditFromManual
}

// CreditRule is one row of the points table.
type CreditRule struct {
	Reason CreditReason `json:"reason" yaml:"reason"`
	Points int          `json:"points" yaml:"points"`
	// ForceGrade, when set, lowers the score to at most the top of that
	// grade's band after the points are applied (a listing as seriously
	// dishonest puts a business in D directly).
	ForceGrade Grade `json:"force_grade,omitempty" yaml:"force_grade,omitempty"`
}

// DefaultCreditRules returns the default points table ([ASSUMPTION]: the
// policy asks for a points system but gives no figures).
func DefaultCreditRules() []CreditRule {
	return []CreditRule{
		{Reason: CreditCleanPatrol, Points: 1},
		{Reason: CreditSuspicious, Points: -2},
		{Reason: CreditPositive, Points: -10},
		{Reason: CreditConfirmedPositive, Points: -20},
		{Reason: CreditCleared, Points: 10},
		{Reason: CreditMinorFinding, Points: -2},
		{Reason: CreditMajorFinding, Points: -10},
		{Reason: CreditRectified, Points: 2},
		{Reason: CreditRectificationLate, Points: -5},
		{Reason: CreditTemperatureBreach, Points: -5},
		{Reason: CreditComplaint, Points: -5},
		{Reason: CreditCertified, Points: 10},
		{Reason: CreditSeriouslyDishonest, Points: 0, ForceGrade: GradeD},
	}
}

// CreditEvent is something that earns or costs points.
type CreditEvent struct {
	Reason CreditReason `json:"reason" yaml:"reason"`
	At     time.Time    `json:"at"`
	Ref    string       `json:"ref,omitempty"` // the result, incident, patrol or finding
	Note   string       `json:"note,omitempty"`
	// Source is what booked it ("" on an old ledger: Reason.DefaultSource).
	Source CreditSource `json:"source,omitempty"`
	By     string       `json:"by,omitempty"` // the user who recorded it by hand
}

// CreditEntry is one line of a business's points ledger.
type CreditEntry struct {
	CreditEvent
	Points     int `json:"points"`
	ScoreAfter int `json:"score_after"`
}

// GradeChange is one entry of the grade history: the grade changed (or was
// first set) at At because of Reason.
type GradeChange struct {
	At     time.Time    `json:"at"`
	From   Grade        `json:"from,omitempty"` // "" for the initial grade
	To     Grade        `json:"to"`
	Score  int          `json:"score"`
	Reason CreditReason `json:"reason" yaml:"reason"`
	Ref    string       `json:"ref,omitempty"`
	Source CreditSource `json:"source,omitempty"`
}

// Credit is a business's (or stall's) credit account: score, grade, the
// points ledger and the grade history. The history gets a new entry only
// when the grade changes.
type Credit struct {
	BusinessID string        `json:"business_id"`
	Score      int           `json:"score"`
	Grade      Grade         `json:"grade"`
	Ledger     []CreditEntry `json:"ledger,omitempty"`
	History    []GradeChange `json:"history"`
}

// NewCredit opens an account at Config.Credit.Initial points, with the
// initial grade as the first history entry.
func NewCredit(businessID string, at time.Time, cfg Config) (Credit, error) {
	if businessID == "" {
		return Credit{}, invalid("business_id", "required")
	}
	if at.IsZero() {
		return Credit{}, invalid("at", "required")
	}
	s := clamp(cfg.Credit.Initial, cfg.Credit.Min, cfg.Credit.Max)
	g := cfg.Grades.GradeOf(s)
	return Credit{BusinessID: businessID, Score: s, Grade: g,
		History: []GradeChange{{At: at, To: g, Score: s, Reason: CreditInitial, Source: CreditFromRegister}}}, nil
}

// Apply books one event: adds the rule's points (the score stays within
// Config.Credit Min..Max), applies ForceGrade, re-derives the grade and
// appends a history entry if the grade changed. It returns that entry and
// whether there was one.
func (c *Credit) Apply(ev CreditEvent, cfg Config) (GradeChange, bool, error) {
	if ev.At.IsZero() {
		return GradeChange{}, false, invalid("at", "required")
	}
	i := slices.IndexFunc(cfg.Credit.Rules, func(r CreditRule) bool { return r.Reason == ev.Reason })
	if i < 0 {
		return GradeChange{}, false, invalid("reason", "%q has no row in the credit rule table", ev.Reason)
	}
	rule := cfg.Credit.Rules[i]
	if ev.Source == "" {
		ev.Source = ev.Reason.DefaultSource()
	}
	before := c.Score
	s := clamp(c.Score+rule.Points, cfg.Credit.Min, cfg.Credit.Max)
	if rule.ForceGrade != "" {
		s = min(s, cfg.Grades.maxScoreOf(rule.ForceGrade, cfg.Credit.Max))
	}
	c.Score = s
	c.Ledger = append(c.Ledger, CreditEntry{CreditEvent: ev, Points: s - before, ScoreAfter: s})
	g := cfg.Grades.GradeOf(s)
	if g == c.Grade {
		return GradeChange{}, false, nil
	}
	ch := GradeChange{At: ev.At, From: c.Grade, To: g, Score: s, Reason: ev.Reason, Ref: ev.Ref, Source: ev.Source}
	c.Grade = g
	c.History = append(c.History, ch)
	return ch, true, nil
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

// PatrolMode selects the patrol intervals of the grade table.
type PatrolMode string

// Patrol modes.
const (
	PatrolRoutine PatrolMode = "routine_patrol" // 日常巡查: ordinary times (RoutineDays)
	PatrolEvent   PatrolMode = "event_patrol"   // 活动期间巡查: while an event is live (EventDays)
)

// PatrolTarget is something patrols visit: a business, a stall, a vendor
// zone, a kitchen.
type PatrolTarget struct {
	ID    string `json:"id"`
	Kind  string `json:"kind,omitempty"` // stall, vendor_zone, kitchen, business …
	Grade Grade  `json:"grade"`
	// LastInspected is the day of the last patrol (zero: never).
	LastInspected Date   `json:"last_inspected,omitzero"`
	Point         *Point `json:"point,omitempty"` // passed through for routing
}

// DuePatrol is a target due for patrol, with its priority.
type DuePatrol struct {
	PatrolTarget
	DueOn          Date `json:"due_on,omitzero"` // zero when never inspected
	DaysOverdue    int  `json:"days_overdue"`    // 0 when due today
	NeverInspected bool `json:"never_inspected,omitempty"`
	// Priority is 1 for the most urgent target, 2 for the next, …
	Priority int `json:"priority"`
}

// DuePatrols returns the targets due for patrol on day today: never
// inspected, or last inspected at least the grade's interval ago. The
// order (and Priority) is: higher risk grade first (D before A), then never
// inspected, then most days overdue, then id. Targets with an invalid
// grade are treated as D (unknown risk is high risk). The visiting order on
// the map is the geo package's routing; this is the list it routes.
func DuePatrols(targets []PatrolTarget, today Date, mode PatrolMode, cfg Config) []DuePatrol {
	var out []DuePatrol
	for _, t := range targets {
		g := t.Grade
		if !g.Valid() {
			g = GradeD
		}
		r, _ := cfg.Grades.rule(g)
		days := r.RoutineDays
		if mode == PatrolEvent {
			days = r.EventDays
		}
		d := DuePatrol{PatrolTarget: t}
		d.Grade = g
		if t.LastInspected.IsZero() {
			d.NeverInspected = true
		} else {
			d.DueOn = t.LastInspected.AddDays(days)
			if d.DueOn.After(today) {
				continue
			}
			d.DaysOverdue = d.DueOn.DaysUntil(today)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DuePatrol) int {
		return cmp.Or(
			cmp.Compare(b.Grade.Risk(), a.Grade.Risk()),
			boolCmp(b.NeverInspected, a.NeverInspected),
			cmp.Compare(b.DaysOverdue, a.DaysOverdue),
			cmp.Compare(a.ID, b.ID))
	})
	for i := range out {
		out[i].Priority = i + 1
	}
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
