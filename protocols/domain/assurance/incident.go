package assurance

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// IncidentState is a stage of the closed loop (风险处置事件).
type IncidentState string

// Incident states, in the order of the normal path. See the package doc
// (# The closed loop) for the edges and the rules on them.
const (
	IncidentWarned            IncidentState = "warned"             // 预警
	IncidentAssigned          IncidentState = "assigned"           // 交办
	IncidentOnSite            IncidentState = "on_site"            // 到场
	IncidentControlled        IncidentState = "controlled"         // 控制（封存/停售）
	IncidentLabSent           IncidentState = "lab_sent"           // 送检
	IncidentConfirmedPositive IncidentState = "confirmed_positive" // 确证阳性
	IncidentCleared           IncidentState = "cleared"            // 排除
	IncidentDisposed          IncidentState = "disposed"           // 无害化处置
	IncidentSignedOff         IncidentState = "signed_off"         // 销号
	IncidentClosed            IncidentState = "closed"             // 已关闭
)

var incidentMachine = machine[IncidentState]{
	name: "incident",
	states: []IncidentState{IncidentWarned, IncidentAssigned, IncidentOnSite, IncidentControlled, IncidentLabSent,
		IncidentConfirmedPositive, IncidentCleared, IncidentDisposed, IncidentSignedOff, IncidentClosed},
	edges: map[IncidentState][]IncidentState{
		IncidentWarned: {IncidentAssigned},
		// assigned → assigned is a reassignment to another team.
		IncidentAssigned:          {IncidentAssigned, IncidentOnSite},
		IncidentOnSite:            {IncidentControlled, IncidentCleared},
		IncidentControlled:        {IncidentLabSent, IncidentDisposed, IncidentCleared},
		IncidentLabSent:           {IncidentConfirmedPositive, IncidentCleared},
		IncidentConfirmedPositive: {IncidentDisposed},
		IncidentCleared:           {IncidentSignedOff},
		IncidentDisposed:          {IncidentSignedOff},
		IncidentSignedOff:         {IncidentClosed},
	},
	roles: map[IncidentState][]Role{
		IncidentAssigned:          rolesCommand,
		IncidentOnSite:            rolesField,
		IncidentControlled:        rolesField,
		IncidentLabSent:           rolesField,
		IncidentConfirmedPositive: rolesField,
		IncidentCleared:           rolesField,
		IncidentDisposed:          rolesField,
		IncidentSignedOff:         rolesCommand,
		IncidentClosed:            rolesCommand,
	},
}

// IncidentStates returns every incident state in path order.
func IncidentStates() []IncidentState { return slices.Clone(incidentMachine.states) }

// Valid reports whether s is an incident state.
func (s IncidentState) Valid() bool { return incidentMachine.valid(s) }

// Label returns the zh-CN and en label.
func (s IncidentState) Label() Label { return labelOf(string(s)) }

// Next returns the states the table allows from s (before any rule on the
// edge is checked).
func (s IncidentState) Next() []IncidentState { return incidentMachine.next(s) }

// CanMoveTo reports whether the table has the edge s → to.
func (s IncidentState) CanMoveTo(to IncidentState) bool { return incidentMachine.can(s, to) }

// IncidentRoles returns the roles that may move an incident into state to.
func IncidentRoles(to IncidentState) []Role { return incidentMachine.rolesFor(to) }

// ParseIncidentState parses an incident state identifier.
func ParseIncidentState(s string) (IncidentState, error) {
	return parseEnum("incident state", s, incidentMachine.states)
}

// TriggerKind is what opened an incident.
type TriggerKind string

// Trigger kinds.
const (
	// TriggerPositive: a rapid test said positive (阳性（疑似）).
	TriggerPositive TriggerKind = "positive_result"
	// TriggerSuspicious: a rapid test said suspicious (可疑).
	TriggerSuspicious TriggerKind = "suspicious_result"
	// TriggerTemperature: a cooking, holding or storage temperature outside
	// its limit.
	TriggerTemperature TriggerKind = "temperature_breach"
	// TriggerComplaint: a complaint or report (投诉举报).
	TriggerComplaint TriggerKind = "complaint"
)

// TriggerKinds returns every trigger kind.
func TriggerKinds() []TriggerKind {
	return []TriggerKind{TriggerPositive, TriggerSuspicious, TriggerTemperature, TriggerComplaint}
}

// Label returns the zh-CN and en label.
func (k TriggerKind) Label() Label { return labelOf(string(k)) }

// Rapid reports whether the trigger is a rapid-test result, to which the
// 4-hour re-test rule applies.
func (k TriggerKind) Rapid() bool { return k == TriggerPositive || k == TriggerSuspicious }

// temperatureMethods are the methods whose fail verdict is a temperature
// breach.
var temperatureMethods = []assay.Method{assay.CoreTemperature, assay.HotHolding, assay.ColdHolding, assay.Frozen}

// TriggerFor says whether a test result opens an incident and of which
// kind: positive → positive_result, suspicious → suspicious_result, fail of
// a temperature method (core_temperature, hot_holding, cold_holding, frozen)
// → temperature_breach. Anything else (negative, invalid, an ATP or frying
// oil fail, which have their own re-clean / discard steps) opens none.
func TriggerFor(v assay.Verdict, method assay.Method) (TriggerKind, bool) {
	switch {
	case v == assay.Positive:
		return TriggerPositive, true
	case v == assay.Suspicious:
		return TriggerSuspicious, true
	case v == assay.Fail && slices.Contains(temperatureMethods, method):
		return TriggerTemperature, true
	}
	return "", false
}

// Trigger describes what opened an incident.
type Trigger struct {
	Kind      TriggerKind `json:"kind"`
	EventID   string      `json:"event_id,omitempty"`
	SubjectID string      `json:"subject_id"` // the kitchen, stall, business or banquet concerned
	// ResultID is the test result (required for rapid-test triggers).
	ResultID string        `json:"result_id,omitempty"`
	Item     string        `json:"item,omitempty"` // test item / analyte, e.g. 有机磷和氨基甲酸酯类农药
	Verdict  assay.Verdict `json:"verdict,omitempty"`
	Method   assay.Method  `json:"method,omitempty"` // the rapid method that gave the result
	// ObservedAt is when the result was measured, the breach observed or
	// the complaint received.
	ObservedAt time.Time `json:"observed_at"`
	// ReceivedAt is when the tested party received the result; the 4-hour
	// re-test window starts here. Zero means ObservedAt (results are shown
	// at the kiosk as they are measured). It is compared with Act.At, so
	// give it in the command service's clock (its receive time, or the
	// kiosk time corrected for the skew it measured): a Pi has no battery
	// clock.
	ReceivedAt  time.Time `json:"received_at,omitzero"`
	Where       *Point    `json:"where,omitempty"`
	Description string    `json:"description,omitempty"`
}

// received returns the start of the re-test window.
func (t Trigger) received() time.Time {
	if t.ReceivedAt.IsZero() {
		return t.ObservedAt
	}
	return t.ReceivedAt
}

func (t Trigger) validate() error {
	if !slices.Contains(TriggerKinds(), t.Kind) {
		return invalid("trigger.kind", "%q is not a trigger; use positive_result, suspicious_result, temperature_breach or complaint", t.Kind)
	}
	if t.SubjectID == "" {
		return invalid("trigger.subject_id", "required: the kitchen, stall or business concerned")
	}
	if t.ObservedAt.IsZero() {
		return invalid("trigger.observed_at", "required: when the result was measured or the report received")
	}
	if t.Kind.Rapid() {
		if t.ResultID == "" {
			return invalid("trigger.result_id", "required for a rapid-test trigger")
		}
		want := assay.Positive
		if t.Kind == TriggerSuspicious {
			want = assay.Suspicious
		}
		if t.Verdict != want {
			return invalid("trigger.verdict", "a %s trigger needs verdict %q, not %q", t.Kind, want, t.Verdict)
		}
	}
	if t.Kind == TriggerComplaint && strings.TrimSpace(t.Description) == "" {
		return invalid("trigger.description", "required for a complaint: what was reported")
	}
	if !t.ReceivedAt.IsZero() && t.ReceivedAt.Before(t.ObservedAt) {
		return invalid("trigger.received_at", "the party cannot receive a result before it was measured")
	}
	return t.Where.validate("trigger.where")
}

// ControlMeasure is how a suspect batch was controlled on site.
type ControlMeasure string

// Control measures.
const (
	ControlSealed      ControlMeasure = "sealed"       // 封存
	ControlSaleStopped ControlMeasure = "sale_stopped" // 停售
	ControlRecalled    ControlMeasure = "recalled"     // 召回
)

// ControlMeasures returns every control measure.
func ControlMeasures() []ControlMeasure {
	return []ControlMeasure{ControlSealed, ControlSaleStopped, ControlRecalled}
}

// Label returns the zh-CN and en label.
func (c ControlMeasure) Label() Label { return labelOf(string(c)) }

// MethodKind separates rapid screening methods from statutory laboratory
// methods.
type MethodKind string

// Method kinds.
const (
	MethodRapid MethodKind = "rapid" // 快速检测
	MethodLab   MethodKind = "lab"   // 实验室法定检验
)

// TestMethod names the method of a laboratory submission or re-test.
type TestMethod struct {
	Kind MethodKind `json:"kind"`
	// Name is the standard and technique, e.g. "GB 23200.113-2018 GC-MS/MS".
	Name string `json:"name"`
}

// rapidMarkers are substrings that make a method name a rapid method
// whatever Kind says: rapid-test words, the rapid standards and the assay
// method identifiers.
var rapidMarkers = []string{
	"快检", "快速检测", "快速检验", "速测", "试纸", "胶体金", "酶抑制", "金标",
	"rapid", "test strip", "colloidal gold", "test card", "gb/t 5009.199", "kj 20",
	"enzyme_inhibition", "gold_line", "gold_ratio",
}

// IsRapidMethodName reports whether a method name denotes a rapid method
// (快检): it contains a rapid-test word (快检, 快速检测, 速测, 胶体金, 试纸,
// 酶抑制, rapid, test strip …), the rapid standard GB/T 5009.199, a SAMR KJ rapid method number
// or an assay rapid-method identifier. Case and spacing are ignored.
func IsRapidMethodName(name string) bool {
	n := strings.ToLower(strings.Join(strings.Fields(name), " "))
	for _, m := range rapidMarkers {
		if strings.Contains(n, m) {
			return true
		}
	}
	return false
}

// nonRapid explains why m is not an acceptable laboratory method, or "".
func (m TestMethod) nonRapid() string {
	switch {
	case m.Kind == MethodRapid:
		return "the method is a rapid method; the re-test and lab confirmation must use a laboratory (non-rapid) method"
	case m.Kind != MethodLab:
		return fmt.Sprintf("method kind %q is not lab; write kind \"lab\" and the standard, e.g. GB 23200.113-2018", m.Kind)
	case strings.TrimSpace(m.Name) == "":
		return "name the laboratory method (standard and technique)"
	case IsRapidMethodName(m.Name):
		return fmt.Sprintf("%q is a rapid method; the re-test and lab confirmation must use a laboratory (non-rapid) method", m.Name)
	}
	return ""
}

// LabSubmission records a sample sent to the laboratory (送检).
type LabSubmission struct {
	Lab      string     `json:"lab"`       // the accredited laboratory
	SampleID string     `json:"sample_id"` // the sealed sample's number
	Method   TestMethod `json:"method"`
}

// RetestRequest is a party's honoured request for a re-test (复检).
type RetestRequest struct {
	Party       string     `json:"party"` // who asked (the tested business)
	Method      TestMethod `json:"method"`
	RequestedAt time.Time  `json:"requested_at"`
}

// Incident is one closed-loop case. It is a value: the command service
// stores it, loads it, calls a method that validates and applies one step,
// and stores it again. A method that returns an error leaves the incident
// unchanged.
type Incident struct {
	ID       string        `json:"id"`
	Trigger  Trigger       `json:"trigger"`
	State    IncidentState `json:"state"`
	OpenedAt time.Time     `json:"opened_at"`
	// StateSince is when the current state was entered (deadlines run
	// from here).
	StateSince time.Time `json:"state_since"`
	// TeamID is the assurance team the incident is assigned to, and
	// Deadline the deadline given with the assignment (zero: the
	// configured default for the state).
	TeamID   string           `json:"team_id,omitempty"`
	Deadline time.Time        `json:"deadline,omitzero"`
	Controls []ControlMeasure `json:"controls,omitempty"`
	Lab      *LabSubmission   `json:"lab,omitempty"`
	Retest   *RetestRequest   `json:"retest,omitempty"`
	// RetestWaived is set when the party waived the re-test in writing
	// (当事人对结果无异议), which allows disposal inside the window.
	RetestWaived bool         `json:"retest_waived,omitempty"`
	Audit        []AuditEntry `json:"audit"`
}

// OpenIncident opens an incident in state warned (预警). Operators (from a
// kiosk result), inspectors, commanders and admins may open one.
func OpenIncident(id string, tr Trigger, act Act) (Incident, error) {
	if id == "" {
		return Incident{}, invalid("id", "required")
	}
	if err := act.validate(); err != nil {
		return Incident{}, err
	}
	if err := tr.validate(); err != nil {
		return Incident{}, err
	}
	if err := requireRole("incident "+id+" open", act.Actor, rolesAnyone); err != nil {
		return Incident{}, err
	}
	inc := Incident{ID: id, Trigger: tr, State: IncidentWarned, OpenedAt: act.At, StateSince: act.At}
	(*audit)(&inc.Audit).add("opened", "", string(IncidentWarned), act)
	return inc, nil
}

// IncidentStep asks for one transition. Only the fields of the target state
// are read.
type IncidentStep struct {
	To IncidentState `json:"to"`
	Act
	// assigned: the team (required) and an optional deadline to arrive by
	// (zero: the configured deadline for the assigned state).
	TeamID   string    `json:"team_id,omitempty"`
	Deadline time.Time `json:"deadline,omitzero"`
	// controlled: at least one measure.
	Controls []ControlMeasure `json:"controls,omitempty"`
	// lab_sent: the submission.
	Lab *LabSubmission `json:"lab,omitempty"`
}

// Apply validates the step against the table, the role tables and the
// rules of the target state, then applies it and appends an audit entry.
// On error the incident is unchanged; the error wraps one of
// [ErrInvalid], [ErrIllegalTransition], [ErrForbidden] or
// [ErrPrecondition].
//
// Rules by target state (besides the table and roles):
//   - assigned: a team; an explicit deadline must be after the step.
//   - on_site … disposed: an inspector must be on the assigned team.
//   - controlled: at least one control measure.
//   - lab_sent: laboratory, sample number and a non-rapid method.
//   - confirmed_positive, cleared from lab_sent: evidence (the lab report).
//   - cleared from on_site or controlled: not for a rapid-test positive
//     (only the lab can clear it), and a note saying what was found.
//   - disposed: evidence. From controlled, for a rapid-test trigger: no
//     pending re-test, and the re-test window over or waived; and, when
//     Config.Incident.RequireLabConfirmation is on, never for a positive.
//   - signed_off: evidence not required, but with SeparateSignOff the
//     signer must not be the user who recorded the previous step.
func (inc *Incident) Apply(step IncidentStep, cfg Config) error {
	if err := step.Act.validate(); err != nil {
		return err
	}
	if err := audit(inc.Audit).checkTime(step.At); err != nil {
		return err
	}
	if err := incidentMachine.check(inc.ID, inc.State, step.To, step.Actor); err != nil {
		return err
	}
	action := fmt.Sprintf("incident %s → %s", inc.ID, step.To)
	if step.To != IncidentAssigned {
		if err := requireTeam(action, step.Actor, inc.TeamID); err != nil {
			return err
		}
	}
	pre := func(rule, format string, args ...any) error {
		return &PreconditionError{Action: action, Rule: rule, Detail: fmt.Sprintf(format, args...)}
	}
	switch step.To {
	case IncidentAssigned:
		if step.TeamID == "" {
			return invalid("team_id", "required: the team the incident is assigned to")
		}
		if !step.Deadline.IsZero() && !step.Deadline.After(step.At) {
			return invalid("deadline", "%s is not after the assignment (%s)", step.Deadline.Format(time.RFC3339), step.At.Format(time.RFC3339))
		}
	case IncidentControlled:
		if len(step.Controls) == 0 {
			return invalid("controls", "required: how the batch was controlled (sealed, sale_stopped, recalled)")
		}
		for i, c := range step.Controls {
			if !slices.Contains(ControlMeasures(), c) {
				return invalid(fmt.Sprintf("controls[%d]", i), "%q is not a control measure; use sealed, sale_stopped or recalled", c)
			}
		}
	case IncidentLabSent:
		if step.Lab == nil || strings.TrimSpace(step.Lab.Lab) == "" || strings.TrimSpace(step.Lab.SampleID) == "" {
			return invalid("lab", "required: the laboratory, the sealed sample's number and the method")
		}
		if why := step.Lab.Method.nonRapid(); why != "" {
			return pre("lab_method_not_rapid", "%s", why)
		}
	case IncidentConfirmedPositive:
		if len(step.Evidence) == 0 {
			return pre("evidence_required", "attach the laboratory report as evidence")
		}
	case IncidentCleared:
		if inc.State == IncidentLabSent {
			if len(step.Evidence) == 0 {
				return pre("evidence_required", "attach the laboratory report as evidence")
			}
			break
		}
		if inc.Trigger.Kind == TriggerPositive {
			return pre("positive_needs_lab", "a rapid-test positive is cleared only by a laboratory result: send the sample to the lab (lab_sent), then record cleared")
		}
		if strings.TrimSpace(step.Note) == "" {
			return pre("note_required", "say in the note what the on-site check found (repeat test, measured temperature, complaint not substantiated)")
		}
	case IncidentDisposed:
		if len(step.Evidence) == 0 {
			return pre("evidence_required", "harmless disposal (无害化处置) needs evidence: a disposal record or photos")
		}
		if inc.State == IncidentControlled && inc.Trigger.Kind.Rapid() {
			if inc.Retest != nil {
				return pre("retest_pending", "the party requested a re-test (复检) at %s: send the sample to the lab and dispose only after a confirmed positive",
					inc.Retest.RequestedAt.Format(time.RFC3339))
			}
			if cfg.Incident.RequireLabConfirmation && inc.Trigger.Kind == TriggerPositive {
				return pre("lab_confirmation_required", "configuration requires a laboratory confirmation before a positive is disposed: send to the lab first")
			}
			closes := inc.Trigger.received().Add(cfg.Incident.RetestWindow)
			if !inc.RetestWaived && !step.At.After(closes) {
				return pre("retest_window_open", "the party may still request a re-test until %s: dispose after that, or record the party's written waiver first",
					closes.Format(time.RFC3339))
			}
		}
	case IncidentSignedOff:
		if last, ok := audit(inc.Audit).last(); cfg.Incident.SeparateSignOff && ok && last.Actor.UserID == step.Actor.UserID {
			return pre("separate_sign_off", "user %s recorded the previous step (%s) and cannot also sign it off (销号); another commander must", step.Actor.UserID, last.To)
		}
	}

	// All checks passed: apply.
	from := inc.State
	switch step.To {
	case IncidentAssigned:
		inc.TeamID = step.TeamID
		inc.Deadline = step.Deadline
	case IncidentControlled:
		inc.Controls = slices.Clone(step.Controls)
	case IncidentLabSent:
		lab := *step.Lab
		inc.Lab = &lab
	}
	if step.To != IncidentAssigned {
		inc.Deadline = time.Time{}
	}
	inc.State = step.To
	inc.StateSince = step.At
	(*audit)(&inc.Audit).add(actionTransition, string(from), string(step.To), step.Act)
	return nil
}

// RequestRetest records a party's request for a re-test (复检) of the
// rapid-test result that opened the incident. It is honoured when:
//   - the incident was opened by a rapid-test result (positive or
//     suspicious);
//   - act.At is at most Config.Incident.RetestWindow (4 h) after the
//     party received the result (exactly 4 h is still honoured);
//   - the method is a laboratory, non-rapid method;
//   - no re-test was requested or waived before, and the lab has not
//     answered and the product is not disposed yet.
//
// Otherwise it returns a [*RetestError] saying why. An honoured request
// blocks disposal until a laboratory result confirms the positive. Operators,
// inspectors, commanders and admins may record it.
func (inc *Incident) RequestRetest(party string, method TestMethod, act Act, cfg Config) error {
	if err := act.validate(); err != nil {
		return err
	}
	if err := audit(inc.Audit).checkTime(act.At); err != nil {
		return err
	}
	if err := requireRole("incident "+inc.ID+" re-test request", act.Actor, rolesAnyone); err != nil {
		return err
	}
	if strings.TrimSpace(party) == "" {
		return invalid("party", "required: who requests the re-test")
	}
	refuse := func(r RetestReason, detail string) error {
		return &RetestError{IncidentID: inc.ID, Reason: r, Detail: detail}
	}
	switch {
	case !inc.Trigger.Kind.Rapid():
		return refuse(RetestNotRapid, fmt.Sprintf("the incident was opened by %s, not by a rapid-test result", inc.Trigger.Kind))
	case inc.Retest != nil:
		return refuse(RetestDuplicate, "requested at "+inc.Retest.RequestedAt.Format(time.RFC3339))
	case inc.RetestWaived:
		return refuse(RetestWaived, "")
	}
	switch inc.State {
	case IncidentConfirmedPositive, IncidentCleared, IncidentDisposed, IncidentSignedOff, IncidentClosed:
		return refuse(RetestTooLate, fmt.Sprintf("the incident is already %s", inc.State))
	}
	received := inc.Trigger.received()
	if act.At.Sub(received) > cfg.Incident.RetestWindow {
		return &RetestError{IncidentID: inc.ID, Reason: RetestWindowClosed, ReceivedAt: received, RequestedAt: act.At, Window: cfg.Incident.RetestWindow}
	}
	if why := method.nonRapid(); why != "" {
		return refuse(RetestRapidMethod, why)
	}
	inc.Retest = &RetestRequest{Party: party, Method: method, RequestedAt: act.At}
	(*audit)(&inc.Audit).add("retest_requested", string(inc.State), string(inc.State), act)
	return nil
}

// WaiveRetest records the party's written statement that it accepts the
// rapid-test result and waives a re-test (当事人对结果无异议). It allows
// disposal before the re-test window closes. The signed statement must be
// attached as evidence.
func (inc *Incident) WaiveRetest(party string, act Act) error {
	if err := act.validate(); err != nil {
		return err
	}
	if err := audit(inc.Audit).checkTime(act.At); err != nil {
		return err
	}
	if err := requireRole("incident "+inc.ID+" re-test waiver", act.Actor, rolesAnyone); err != nil {
		return err
	}
	action := "incident " + inc.ID + " re-test waiver"
	switch {
	case strings.TrimSpace(party) == "":
		return invalid("party", "required: who waives the re-test")
	case !inc.Trigger.Kind.Rapid():
		return &PreconditionError{Action: action, Rule: "not_rapid", Detail: "only a rapid-test result can be re-tested, so there is nothing to waive"}
	case inc.Retest != nil:
		return &PreconditionError{Action: action, Rule: "retest_pending", Detail: "a re-test was already requested; it cannot be waived afterwards"}
	case inc.RetestWaived:
		return &PreconditionError{Action: action, Rule: "already_waived", Detail: "the re-test was already waived"}
	case len(act.Evidence) == 0:
		return &PreconditionError{Action: action, Rule: "evidence_required", Detail: "attach the party's signed statement as evidence"}
	}
	inc.RetestWaived = true
	note := act
	if note.Note == "" {
		note.Note = party
	}
	(*audit)(&inc.Audit).add("retest_waived", string(inc.State), string(inc.State), note)
	return nil
}

// Due returns when the incident's current state must be left, and false
// when the state has no deadline (closed, or a deadline configured as 0).
// An assignment's explicit deadline overrides the configured one.
func (inc Incident) Due(cfg Config) (time.Time, bool) {
	if inc.State == IncidentAssigned && !inc.Deadline.IsZero() {
		return inc.Deadline, true
	}
	d := cfg.Incident.Deadlines[inc.State]
	if d <= 0 {
		return time.Time{}, false
	}
	return inc.StateSince.Add(d), true
}

// Escalation is an incident whose current state has outlived its deadline.
type Escalation struct {
	IncidentID string        `json:"incident_id"`
	EventID    string        `json:"event_id,omitempty"`
	TeamID     string        `json:"team_id,omitempty"`
	State      IncidentState `json:"state"`
	Since      time.Time     `json:"since"`
	Due        time.Time     `json:"due"`
	Overdue    time.Duration `json:"overdue"`
	// Level is 1 when the deadline passed less than one allowed period ago,
	// 2 when between one and two periods ago, and so on.
	Level int `json:"level"`
	// EscalateTo is the role to notify at this level (from
	// Config.Incident.EscalateTo; the last role repeats for higher levels).
	EscalateTo Role `json:"escalate_to"`
}

// Escalations returns the incidents that are overdue at now: the current
// state's deadline is strictly before now. A deadline equal to now is not
// yet overdue. The result is ordered by level, then by how long overdue
// (most first), then by incident id.
func Escalations(incidents []Incident, now time.Time, cfg Config) []Escalation {
	var out []Escalation
	for _, inc := range incidents {
		due, ok := inc.Due(cfg)
		if !ok || !now.After(due) {
			continue
		}
		over := now.Sub(due)
		level := 1
		if allowed := due.Sub(inc.StateSince); allowed > 0 {
			level += int(over / allowed)
		}
		var to Role
		if n := len(cfg.Incident.EscalateTo); n > 0 {
			to = cfg.Incident.EscalateTo[min(level, n)-1]
		}
		out = append(out, Escalation{
			IncidentID: inc.ID, EventID: inc.Trigger.EventID, TeamID: inc.TeamID, State: inc.State,
			Since: inc.StateSince, Due: due, Overdue: over, Level: level, EscalateTo: to,
		})
	}
	slices.SortFunc(out, func(a, b Escalation) int {
		return cmp.Or(cmp.Compare(b.Level, a.Level), cmp.Compare(b.Overdue, a.Overdue), cmp.Compare(a.IncidentID, b.IncidentID))
	})
	return out
}

// reached reports whether the incident ever entered state s, and when
// first.
func (inc Incident) reached(s IncidentState) (time.Time, bool) {
	return audit(inc.Audit).firstTo(string(s))
}
