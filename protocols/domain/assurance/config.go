package assurance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Config holds every configurable rule table and threshold of the
// protocol. Start from [DefaultConfig] and override fields; call
// [Config.Validate] after loading. Functions take it by value and never
// modify it.
type Config struct {
	Filing    FilingConfig    `json:"filing" yaml:"filing"`
	Readiness ReadinessConfig `json:"readiness" yaml:"readiness"`
	Menu      MenuConfig      `json:"menu" yaml:"menu"`
	Incident  IncidentConfig  `json:"incident" yaml:"incident"`
	Credit    CreditConfig    `json:"credit" yaml:"credit"`
	Grades    GradeTable      `json:"grades" yaml:"grades"`
	Banquet   BanquetConfig   `json:"banquet" yaml:"banquet"`
	KPI       KPIConfig       `json:"kpi" yaml:"kpi"`
	Duty      DutyConfig      `json:"duty" yaml:"duty"`
	Emergency EmergencyConfig `json:"emergency" yaml:"emergency"`
}

// DutyConfig is the stationed team's duty-log rules. The retained-sample
// minimums are Readiness.RetentionMinMass and RetentionMinHold (one home).
type DutyConfig struct {
	// CoreMin: cooked food's core temperature (70 °C, docs/domain.md §1.6).
	CoreMin measure.Temperature `json:"core_min" yaml:"core_min"`
	// ColdRoomMax: the cold-dish room's temperature (25 °C, §1.6).
	ColdRoomMax measure.Temperature `json:"cold_room_max" yaml:"cold_room_max"`
	// RetentionGrace: how long after a meal's service starts a dish may
	// still lack its retained sample before the alarm ([ASSUMPTION]: 30
	// min; a sample is normally kept as each dish is finished).
	RetentionGrace time.Duration `json:"retention_grace" yaml:"retention_grace"`
}

// FilingConfig is the event notice rule.
type FilingConfig struct {
	// NoticeWorkingDays: the organiser notifies the regulator this many
	// working days before the event (20, 重大活动餐饮服务食品安全监督管理规范
	// Art. 9). Shorter notice is a warning.
	NoticeWorkingDays int      `json:"notice_working_days" yaml:"notice_working_days"`
	Calendar          Calendar `json:"calendar" yaml:"calendar"`
}

// ReadinessConfig is the kitchen readiness checklist.
type ReadinessConfig struct {
	// Items are the checklist items checked (default: all).
	Items []ChecklistItem `json:"items" yaml:"items"`
	// RetentionMinMass and RetentionMinHold are the sample retention
	// minimums (125 g, 48 h; stricter local rules exist, e.g. 200 g).
	RetentionMinMass measure.Mass  `json:"retention_min_mass" yaml:"retention_min_mass"`
	RetentionMinHold time.Duration `json:"retention_min_hold" yaml:"retention_min_hold"`
	// KioskOnlineWithin: a kiosk last seen longer ago than this is offline.
	KioskOnlineWithin time.Duration `json:"kiosk_online_within" yaml:"kiosk_online_within"`
}

// MenuConfig is the menu assessment rule list.
type MenuConfig struct {
	Rules []HighRiskRule `json:"rules" yaml:"rules"`
}

// IncidentConfig is the closed-loop timing and rules.
type IncidentConfig struct {
	// Deadlines is how long an incident may stay in each state before it
	// is escalated. A state missing (or 0) has no deadline. An
	// assignment's explicit deadline overrides the assigned entry.
	Deadlines map[IncidentState]time.Duration `json:"deadlines" yaml:"deadlines"`
	// RetestWindow is how long after receiving a rapid-test result the
	// party may request a re-test (4 h, Food Safety Law Art. 88).
	RetestWindow time.Duration `json:"retest_window" yaml:"retest_window"`
	// RequireLabConfirmation: a positive is disposed only after the lab
	// confirms it (off by default: a rapid positive not contested within
	// the window is disposed, as in market practice).
	RequireLabConfirmation bool `json:"require_lab_confirmation" yaml:"require_lab_confirmation"`
	// SeparateSignOff: whoever recorded the step before 销号 may not sign
	// it off (on by default).
	SeparateSignOff bool `json:"separate_sign_off" yaml:"separate_sign_off"`
	// EscalateTo is the role notified at escalation level 1, 2, …; the
	// last repeats for higher levels.
	EscalateTo []Role `json:"escalate_to" yaml:"escalate_to"`
	// RepeatFirst is the repeat-before-dispatch policy: which rapid
	// results wait for their repeats (复测) before a team is sent.
	RepeatFirst RepeatPolicy `json:"repeat_first" yaml:"repeat_first"`
}

// RepeatPolicy says which rapid-test results wait in 待复测 (awaiting
// repeat) for repeats of the same sample before a team is dispatched, and
// which are dispatched at once (docs/domain.md §1.1, §1.3; decision
// 0015). The zero policy waits for nothing: every result dispatches at
// once.
type RepeatPolicy struct {
	// Methods are the rapid methods whose positive and suspicious results
	// wait (default: enzyme_inhibition, whose standard asks for two
	// repeats of a positive, GB/T 5009.199). Other methods — a colloidal
	// gold strip for a banned veterinary drug, a temperature breach, a
	// complaint — dispatch at once.
	Methods []assay.Method `json:"methods" yaml:"methods"`
	// SuspiciousRepeats is how many valid repeats a suspicious result
	// needs (default 1; the standard has no suspicious band, see §1.1). A
	// positive needs the repeats its method's rule asks for
	// (assay.Outcome.RepeatsRequired; 2 for enzyme inhibition), at least
	// one.
	SuspiciousRepeats int `json:"suspicious_repeats" yaml:"suspicious_repeats"`
	// Within is how long the kiosk has to run the repeats; after it the
	// team is sent anyway and the command centre told (default 15 min).
	Within time.Duration `json:"within" yaml:"within"`
	// AtOnceItems are test items dispatched at once whatever the method,
	// matched as substrings of the result's item or analyte (banned
	// substances: a positive for one of them is never waited on).
	AtOnceItems []string `json:"at_once_items" yaml:"at_once_items"`
}

// Waits reports whether a rapid result of method m for item (the item or
// analyte name) and verdict v waits for repeats under the policy, and how
// many valid repeats it needs. required is the repeats the method's rule
// asks for (assay.Outcome.RepeatsRequired).
func (p RepeatPolicy) Waits(m assay.Method, item string, v assay.Verdict, required int) (int, bool) {
	if !slices.Contains(p.Methods, m) {
		return 0, false
	}
	for _, x := range p.AtOnceItems {
		if x != "" && strings.Contains(item, x) {
			return 0, false
		}
	}
	switch v {
	case assay.Positive:
		return max(required, 1), true
	case assay.Suspicious:
		if p.SuspiciousRepeats > 0 {
			return p.SuspiciousRepeats, true
		}
	}
	return 0, false
}

// CreditConfig is the points system (积分制).
type CreditConfig struct {
	Initial int          `json:"initial" yaml:"initial"`
	Min     int          `json:"min" yaml:"min"`
	Max     int          `json:"max" yaml:"max"`
	Rules   []CreditRule `json:"rules" yaml:"rules"`
}

// BanquetConfig is the rural group-dining rules.
type BanquetConfig struct {
	// GuidanceMinHeadcount: banquets of this many diners or more need
	// on-site guidance (50; some localities use 100). Inclusive: 50 diners
	// need guidance, 49 do not.
	GuidanceMinHeadcount int `json:"guidance_min_headcount" yaml:"guidance_min_headcount"`
	// FilingLeadDays: filing should reach the regulator this many days
	// before the first sitting ([ASSUMPTION]; no source gives a figure).
	FilingLeadDays int `json:"filing_lead_days" yaml:"filing_lead_days"`
	// RectificationDays: days allowed to fix a finding.
	RectificationDays int `json:"rectification_days" yaml:"rectification_days"`
	// MinChefTrainings: trainings a registered village chef needs to be
	// fit to cook (helpers need none).
	MinChefTrainings int `json:"min_chef_trainings" yaml:"min_chef_trainings"`
}

// KPIConfig is how KPIs are counted.
type KPIConfig struct {
	// CountSuspicious adds suspicious results to the detection rate's
	// numerator (off: 疑似阳性 is the rapid positive itself).
	CountSuspicious bool `json:"count_suspicious" yaml:"count_suspicious"`
	// UTCOffset decides which civil day an instant belongs to (+8 h).
	UTCOffset time.Duration `json:"utc_offset" yaml:"utc_offset"`
	// Targets are what the command centre colours the KPIs against.
	Targets KPITargets `json:"targets" yaml:"targets"`
}

// KPITargets are the figures a KPI is judged by on screen: green when it
// meets its target, amber when it is short by no more than the margin
// (Near for a rate, half the target again for a time), red beyond. A zero
// target means the KPI has none (shown without a colour). The detection
// rate has none on purpose: it measures the food, not the work.
type KPITargets struct {
	// DisposalRate: every positive disposed of and signed off (100 %,
	// docs/domain.md: the unqualified product is destroyed under
	// supervision).
	DisposalRate measure.Percent `json:"disposal_rate" yaml:"disposal_rate"`
	// Readiness: every checklist item done before the event opens (100 %).
	Readiness measure.Percent `json:"readiness" yaml:"readiness"`
	// Near is how many percentage points short of a rate's target is
	// amber rather than red (10 points).
	Near measure.Percent `json:"near" yaml:"near"`
	// TimeToArrive and TimeToClose are the median times to aim for; 0
	// when there is none. [ASSUMPTION] arrive within the assigned
	// deadline (30 min); no source gives one for closing.
	TimeToArrive time.Duration `json:"time_to_arrive" yaml:"time_to_arrive"`
	TimeToClose  time.Duration `json:"time_to_close" yaml:"time_to_close"`
}

// DefaultConfig returns the defaults of docs/domain.md, with the figures no
// source gave marked [ASSUMPTION] in the field docs.
func DefaultConfig() Config {
	return Config{
		Filing: FilingConfig{NoticeWorkingDays: 20},
		Readiness: ReadinessConfig{
			Items:             ChecklistItems(),
			RetentionMinMass:  125 * measure.Gram,
			RetentionMinHold:  48 * time.Hour,
			KioskOnlineWithin: 10 * time.Minute,
		},
		Menu: MenuConfig{Rules: DefaultHighRiskRules()},
		Incident: IncidentConfig{
			// [ASSUMPTION] response times; set them by the local plan.
			Deadlines: map[IncidentState]time.Duration{
				IncidentWarned:            5 * time.Minute,  // to assign
				IncidentAssigned:          30 * time.Minute, // to arrive
				IncidentOnSite:            30 * time.Minute, // to control the batch
				IncidentControlled:        24 * time.Hour,   // to send to the lab or dispose
				IncidentLabSent:           72 * time.Hour,   // for the lab result
				IncidentConfirmedPositive: 24 * time.Hour,   // to dispose
				IncidentCleared:           24 * time.Hour,   // to sign off
				IncidentDisposed:          24 * time.Hour,   // to sign off
				IncidentSignedOff:         72 * time.Hour,   // to close
			},
			RetestWindow:    4 * time.Hour,
			SeparateSignOff: true,
			EscalateTo:      []Role{RoleCommander, RoleAdmin},
			RepeatFirst: RepeatPolicy{
				Methods:           []assay.Method{assay.EnzymeInhibition},
				SuspiciousRepeats: 1,
				Within:            15 * time.Minute, // [ASSUMPTION] a repeat takes about 4 minutes
				// Banned substances (农业农村部公告第250号): a positive is never waited on.
				AtOnceItems: []string{"克伦特罗", "莱克多巴胺", "沙丁胺醇", "孔雀石绿", "氯霉素", "硝基呋喃"},
			},
		},
		Credit: CreditConfig{Initial: 100, Min: 0, Max: 120, Rules: DefaultCreditRules()},
		Grades: DefaultGradeTable(),
		Banquet: BanquetConfig{
			GuidanceMinHeadcount: 50,
			FilingLeadDays:       3,
			RectificationDays:    3,
			MinChefTrainings:     1,
		},
		KPI: KPIConfig{UTCOffset: 8 * time.Hour, Targets: KPITargets{
			DisposalRate: measure.Whole, Readiness: measure.Whole, Near: 10 * measure.PercentUnit, TimeToArrive: 30 * time.Minute,
		}},
		Duty:      DutyConfig{CoreMin: 70 * measure.Celsius, ColdRoomMax: 25 * measure.Celsius, RetentionGrace: 30 * time.Minute},
		Emergency: DefaultEmergencyConfig(),
	}
}

// Validate checks the configuration and returns every problem, joined.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.Filing.NoticeWorkingDays < 0 {
		add(invalid("filing.notice_working_days", "cannot be negative"))
	}
	if len(c.Readiness.Items) == 0 {
		add(invalid("readiness.items", "at least one checklist item is required"))
	}
	for i, it := range c.Readiness.Items {
		if !slices.Contains(ChecklistItems(), it) {
			add(invalid(fmt.Sprintf("readiness.items[%d]", i), "%q is not a checklist item", it))
		}
	}
	if c.Readiness.RetentionMinMass <= 0 || c.Readiness.RetentionMinHold <= 0 || c.Readiness.KioskOnlineWithin <= 0 {
		add(invalid("readiness", "retention minimums and the kiosk online window must be positive"))
	}
	reasons := map[RiskReason]bool{}
	for i, r := range c.Menu.Rules {
		f := fmt.Sprintf("menu.rules[%d]", i)
		switch {
		case r.Reason == "":
			add(invalid(f+".reason", "required"))
		case reasons[r.Reason]:
			add(invalid(f+".reason", "duplicate rule %q", r.Reason))
		}
		reasons[r.Reason] = true
		if _, ok := LabelOf(string(r.Reason)); !ok && (r.Label.ZH == "" || r.Label.EN == "") {
			add(invalid(f+".label", "rule %q is not in the label table: give it a zh and en label", r.Reason))
		}
		if len(r.Keywords) == 0 && len(r.Categories) == 0 {
			add(invalid(f, "rule %q matches nothing: give keywords or categories", r.Reason))
		}
		if !slices.Contains([]Severity{SeverityForbid, SeverityRestrict, SeverityAdvise}, r.Severity) {
			add(invalid(f+".severity", "%q is not a severity; use forbid, restrict or advise", r.Severity))
		}
	}
	for s, d := range c.Incident.Deadlines {
		if !s.Valid() {
			add(invalid("incident.deadlines", "%q is not an incident state", s))
		}
		if d < 0 {
			add(invalid("incident.deadlines."+string(s), "cannot be negative"))
		}
	}
	if c.Incident.RetestWindow <= 0 {
		add(invalid("incident.retest_window", "must be positive (4h)"))
	}
	for i, r := range c.Incident.EscalateTo {
		if !r.Valid() {
			add(invalid(fmt.Sprintf("incident.escalate_to[%d]", i), "%q is not a role", r))
		}
	}
	rp := c.Incident.RepeatFirst
	for i, m := range rp.Methods {
		if !slices.Contains(assay.Methods(), m) {
			add(invalid(fmt.Sprintf("incident.repeat_first.methods[%d]", i), "%q is not a test method", m))
		}
	}
	if rp.SuspiciousRepeats < 0 || rp.SuspiciousRepeats > 10 {
		add(invalid("incident.repeat_first.suspicious_repeats", "%d is outside 0…10", rp.SuspiciousRepeats))
	}
	if rp.Within < 0 || (len(rp.Methods) > 0 && rp.Within == 0) {
		add(invalid("incident.repeat_first.within", "must be positive when methods wait for repeats (15m)"))
	}
	if c.Credit.Min > c.Credit.Max || c.Credit.Initial < c.Credit.Min || c.Credit.Initial > c.Credit.Max {
		add(invalid("credit", "need min ≤ initial ≤ max (have %d, %d, %d)", c.Credit.Min, c.Credit.Initial, c.Credit.Max))
	}
	creditSeen := map[CreditReason]bool{}
	for i, r := range c.Credit.Rules {
		f := fmt.Sprintf("credit.rules[%d]", i)
		if r.Reason == "" || creditSeen[r.Reason] {
			add(invalid(f+".reason", "missing or duplicate reason %q", r.Reason))
		}
		creditSeen[r.Reason] = true
		if r.ForceGrade != "" && !r.ForceGrade.Valid() {
			add(invalid(f+".force_grade", "%q is not a grade", r.ForceGrade))
		}
	}
	add(c.Grades.Validate())
	if c.Banquet.GuidanceMinHeadcount <= 0 || c.Banquet.RectificationDays <= 0 || c.Banquet.FilingLeadDays < 0 || c.Banquet.MinChefTrainings < 0 {
		add(invalid("banquet", "guidance headcount and rectification days must be positive, lead days and trainings not negative"))
	}
	if c.KPI.UTCOffset < -14*time.Hour || c.KPI.UTCOffset > 14*time.Hour {
		add(invalid("kpi.utc_offset", "%s is not a UTC offset", c.KPI.UTCOffset))
	}
	if kt := c.KPI.Targets; kt.DisposalRate < 0 || kt.DisposalRate > measure.Whole || kt.Readiness < 0 || kt.Readiness > measure.Whole || kt.Near < 0 || kt.Near > measure.Whole {
		add(invalid("kpi.targets", "rates and the margin are 0 %% to 100 %%"))
	}
	if kt := c.KPI.Targets; kt.TimeToArrive < 0 || kt.TimeToClose < 0 {
		add(invalid("kpi.targets", "times are not negative"))
	}
	if c.Duty.CoreMin <= 0 || c.Duty.ColdRoomMax <= 0 || c.Duty.RetentionGrace < 0 {
		add(invalid("duty", "core_min and cold_room_max must be positive, retention_grace not negative"))
	}
	add(c.Emergency.Validate())
	return errors.Join(errs...)
}

// zone returns the fixed zone of Config.KPI.UTCOffset.
func (c Config) zone() *time.Location {
	if c.KPI.UTCOffset == 8*time.Hour {
		return ChinaStandardTime
	}
	return time.FixedZone("", int(c.KPI.UTCOffset/time.Second))
}
