// Package assurance is the city's major-event food-safety assurance
// protocol, "three combinations, three strengthenings" (三结合三强化:
// early intervention with whole-process control, stationed assurance with
// patrol inspection, procedures with emergency plans; strengthened
// training, menu assessment and rapid testing), together with the rural
// group-dining (农村集体聚餐) "four in place" (四到位) flow and the grading of
// food businesses that drives patrols.
//
// # Shape
//
// Plain Go, no I/O, no storage, no clock. Records ([Incident], [Event],
// [Menu], [Banquet], [Credit]) are value types with JSON tags. The command
// service loads one, calls one method with an [Act] (who, when, where,
// note, evidence) and a [Config], and stores the result. A method either
// applies the whole step and appends to the record's log (an [AuditEntry];
// a ledger line for [Credit]), or returns an error and leaves the record
// exactly as it was. Times always come in from the caller; "now" is a
// parameter ([Escalations], [EvaluateReadiness]). Compare times from one
// clock: pass the command service's time in [Act.At], and its receive time
// (or a skew-corrected kiosk time) in [Trigger.ReceivedAt], since the
// 4-hour re-test window compares the two.
//
// Every configurable figure (deadlines, windows, thresholds, rule tables)
// lives in [Config]; [DefaultConfig] carries the defaults of docs/domain.md, and
// the fields say which defaults are sourced and which are assumptions.
//
// # Errors
//
// Every error wraps one sentinel, so callers branch with [errors.Is] and
// map to API codes with [ErrorCode]:
//
//   - [ErrInvalid] ([*ValidationError]): malformed input;
//   - [ErrIllegalTransition] ([*TransitionError]): the table has no such
//     edge; the message lists what is allowed from the current state, with
//     zh-CN labels, e.g. "incident INC-1: cannot go from warned (预警) to
//     disposed (无害化处置); allowed from warned: assigned (交办)";
//   - [ErrForbidden] ([*RoleError]): the role may not do it, or an inspector
//     acts for a team the record is not assigned to;
//   - [ErrPrecondition] ([*PreconditionError]): the edge is legal but a rule
//     is not met yet (evidence, a pending re-test, open rectifications);
//   - [ErrNotReady] ([*NotReadyError]): the readiness gate;
//   - [ErrRetestRefused] ([*RetestError]): a re-test request refused.
//
// Checks run in this order: input, time order of the audit log, the edge,
// the role, then the rules of the target state.
//
// # Roles
//
// admin and commander (指挥员) work the command centre: file events, assign
// incidents and guidance, sign off (销号) and close. inspector (监督员) is a
// member of an assurance team (保障组): goes on site, seals, sends to the
// lab, records results and disposal, assesses menus, checks banquets; an
// inspector acts only on records assigned to their team. operator (检测员)
// runs the kiosk: opens incidents from results, records a party's re-test
// request or waiver, files banquets. viewer changes nothing. The tables are
// [IncidentRoles], [EventRoles], [MenuRoles] and [BanquetRoles].
//
// # The closed loop
//
// An [Incident] (风险处置事件) is opened by a positive or suspicious rapid
// test, a temperature breach or a complaint ([TriggerFor] maps a verdict to
// a trigger). Its table:
//
//	warned             → assigned
//	assigned           → assigned (reassign), on_site
//	on_site            → controlled, cleared
//	controlled         → lab_sent, disposed, cleared
//	lab_sent           → confirmed_positive, cleared
//	confirmed_positive → disposed
//	cleared            → signed_off
//	disposed           → signed_off
//	signed_off         → closed
//
// What the rules on those edges encode, and why:
//
//   - Only the laboratory clears a rapid-test positive. A suspicious
//     result, a temperature breach or a complaint may be cleared on site
//     (a repeat test, a new reading, nothing found), with a note.
//   - A cleared incident is signed off without disposal: the product was
//     found safe, so destroying it would take the owner's goods without
//     cause. There is no cleared → disposed edge.
//   - A confirmed positive must be disposed (无害化处置, with evidence)
//     before 销号; there is no confirmed_positive → signed_off edge.
//   - Re-test (复检). The tested party may ask for a re-test within 4 hours
//     of receiving a rapid-test result, and the re-test may not use a rapid
//     method (Food Safety Law Art. 88; DOMAIN §1.3). [Incident.RequestRetest]
//     honours a request up to and including exactly 4 h after
//     [Trigger.ReceivedAt] (ObservedAt when not set) and refuses later ones
//     with [RetestWindowClosed], and any rapid method ([IsRapidMethodName])
//     with [RetestRapidMethod]. An honoured request blocks disposal until
//     the lab confirms. So that the right is real, a rapid-test batch may
//     not be disposed straight from controlled while the window is open,
//     unless the party waived the re-test in writing
//     ([Incident.WaiveRetest]).
//   - With [IncidentConfig.RequireLabConfirmation] every positive goes
//     through the lab before disposal (off by default: market practice
//     disposes an uncontested rapid positive).
//   - Whoever recorded the step before 销号 cannot also sign it off
//     ([IncidentConfig.SeparateSignOff], on by default).
//
// Deadlines: each state has a configured time allowance
// ([IncidentConfig.Deadlines]); an assignment may carry its own deadline.
// [Escalations] lists incidents whose deadline is strictly before now, with
// a level (1 within one allowance of the deadline, 2 within two, …) and the
// role to notify ([IncidentConfig.EscalateTo]: commander, then admin).
//
// # Major events and readiness
//
// An [Event] (重大活动) is filed ([FileEvent]) with organiser, dates,
// venues, headcount, caterers, kitchens and supervision mode (全程监督 /
// 重点监督). Notice later than 20 working days before the first day (a
// [Calendar] of holidays and make-up days decides what a working day is) is
// a [Warning], not an error. Phases:
//
//	filed              → early_intervention, closed
//	early_intervention → ready, closed
//	ready              → early_intervention, whole_process, closed
//	whole_process      → closed
//
// The issue calls early_intervention (提前介入) "preparing" and
// whole_process (全程防控) "live"; [ParseEventPhase] accepts both. Closing
// needs a summary; closing before whole_process is a cancellation.
// Entering ready or whole_process re-evaluates every kitchen's checklist at
// that moment ([EvaluateReadiness]); anything open refuses the step with
// the list. The items ([ChecklistItems]): responsibility commitment,
// implementation plan, emergency plan, emergency drill held, every staff
// member's health certificate valid on every event day, training given,
// menu approved (with or without controls), sample retention set up
// (fridge, person, ≥ 125 g, ≥ 48 h), kiosk online with every instrument's
// calibration valid through the last day.
//
// # Menu assessment
//
// [Screen] flags a [Dish] against [HighRiskRule]s by category or by keyword
// in its name or ingredients (with exceptions such as 干黄花菜). Each rule
// has a severity: forbid (only reject), restrict (controls required) or
// advise. A [Menu] goes draft → submitted (screened, a new decision round)
// → approved | approved_with_controls | rejected, and back to draft for a
// revision. The assessor decides each flagged dish ([Menu.Decide]); every
// decision is kept with who and when, and the menu's conclusion must match
// what the current round's decisions support ([Menu.Outcome]).
//
// # Grades, credit and patrols
//
// A [Credit] account (积分制) books [CreditEvent]s by the points table
// ([CreditRule]); the grade (A lowest risk … D highest) follows the score
// through the [GradeTable], and the grade history gets an entry only when
// the grade changes. A seriously dishonest listing forces D. [DuePatrols]
// lists the targets due on a day, by the grade's interval (routine or
// during an event), in priority order; routing the visits is the geo
// package's job.
//
// # Rural banquets
//
// [FileBanquet] takes the filing form (信息报备) and warns about late
// filing, cooks without a valid health certificate and high-risk dishes.
// From Config.Banquet.GuidanceMinHeadcount diners (50, inclusive) on-site
// guidance is required. States:
//
//	filed             → guidance_assigned, closed (no guidance needed, or cancelled)
//	guidance_assigned → on_site_checked, closed (cancelled)
//	on_site_checked   → rectifying, closed (nothing open)
//	rectifying        → closed (everything rectified)
//
// Findings at the check become [Rectification] items tracked to closed with
// evidence. The village-chef register ([VillageChef]) keeps certificates
// and trainings; [FourInPlace] reports the four pillars (人员管理, 信息报备,
// 现场指导, 问题整改) for a banquet.
//
// # KPIs
//
// [ComputeKPIs] computes, overall, per event and per day: tests, the
// suspected-positive detection rate, the harmless disposal rate (positives
// disposed and signed off over positives not cleared by the lab; a positive
// without an incident counts against it), mean and median time to arrive
// and to close, readiness and banquets guided. The worked example in
// kpi_test.go shows every figure computed by hand.
//
// # Labels
//
// Every identifier shown on a screen has one zh-CN and one en label in one
// table ([Labels], [LabelOf]), consistent with docs/glossary.md (a test
// reads the glossary and compares). Each enum type has a Label method.
package assurance
