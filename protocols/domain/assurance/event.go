package assurance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EventPhase is a phase of a major event (重大活动).
//
// The names are filed → preparing → ready → live → closed. The
// preparing phase is early intervention (提前介入) and the live phase
// whole-process control (全程防控), and the glossary gives one identifier per
// term, so the identifiers are early_intervention and whole_process.
// [ParseEventPhase] also accepts "preparing" and "live".
type EventPhase string

// Event phases.
const (
	PhaseFiled             EventPhase = "filed"              // 已备案
	PhaseEarlyIntervention EventPhase = "early_intervention" // 提前介入 (preparing)
	PhaseReady             EventPhase = "ready"              // 准备就绪
	PhaseWholeProcess      EventPhase = "whole_process"      // 全程防控 (live)
	PhaseClosed            EventPhase = "closed"             // 已关闭 (with a summary)
)

var eventMachine = machine[EventPhase]{
	name:   "event",
	states: []EventPhase{PhaseFiled, PhaseEarlyIntervention, PhaseReady, PhaseWholeProcess, PhaseClosed},
	edges: map[EventPhase][]EventPhase{
		// → closed before whole_process is a cancellation.
		PhaseFiled:             {PhaseEarlyIntervention, PhaseClosed},
		PhaseEarlyIntervention: {PhaseReady, PhaseClosed},
		// ready → early_intervention: something lapsed before going live.
		PhaseReady:        {PhaseEarlyIntervention, PhaseWholeProcess, PhaseClosed},
		PhaseWholeProcess: {PhaseClosed},
	},
	roles: map[EventPhase][]Role{
		PhaseEarlyIntervention: rolesCommand,
		PhaseReady:             rolesCommand,
		PhaseWholeProcess:      rolesCommand,
		PhaseClosed:            rolesCommand,
	},
}

// EventPhases returns every phase in order.
func EventPhases() []EventPhase { return slices.Clone(eventMachine.states) }

// Valid reports whether p is a phase.
func (p EventPhase) Valid() bool { return eventMachine.valid(p) }

// Label returns the zh-CN and en label.
func (p EventPhase) Label() Label { return labelOf(string(p)) }

// Next returns the phases the table allows from p.
func (p EventPhase) Next() []EventPhase { return eventMachine.next(p) }

// CanMoveTo reports whether the table has the edge p → to.
func (p EventPhase) CanMoveTo(to EventPhase) bool { return eventMachine.can(p, to) }

// EventRoles returns the roles that may move an event into phase to.
func EventRoles(to EventPhase) []Role { return eventMachine.rolesFor(to) }

// ParseEventPhase parses a phase identifier; "preparing" and "live" are
// accepted for early_intervention and whole_process.
func ParseEventPhase(s string) (EventPhase, error) {
	switch strings.TrimSpace(s) {
	case "preparing":
		return PhaseEarlyIntervention, nil
	case "live":
		return PhaseWholeProcess, nil
	}
	return parseEnum("event phase", s, eventMachine.states)
}

// SupervisionMode is how closely the regulator supervises an event,
// chosen by its nature, size, service form and duration.
type SupervisionMode string

// Supervision modes.
const (
	SupervisionFull     SupervisionMode = "full_supervision"      // 全程监督
	SupervisionKeyPoint SupervisionMode = "key_point_supervision" // 重点监督
)

// Label returns the zh-CN and en label.
func (m SupervisionMode) Label() Label { return labelOf(string(m)) }

// Organiser is who holds the event and notifies the regulator.
type Organiser struct {
	Name    string `json:"name"`
	Contact string `json:"contact,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// Venue is a place where the event happens.
type Venue struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	Point   *Point `json:"point,omitempty"`
}

// Caterer is a food business that serves the event.
type Caterer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Licence string `json:"licence,omitempty"` // 食品经营许可证号
}

// Kitchen is where a caterer makes the event's food (供餐点 / 厨房). Each
// kitchen has its own readiness checklist.
type Kitchen struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CatererID string `json:"caterer_id"`
	VenueID   string `json:"venue_id,omitempty"`
	Point     *Point `json:"point,omitempty"`
}

// EventFiling is what the organiser files (备案) with the regulator.
type EventFiling struct {
	Name      string          `json:"name"`
	Organiser Organiser       `json:"organiser"`
	FirstDay  Date            `json:"first_day"`
	LastDay   Date            `json:"last_day"`
	Venues    []Venue         `json:"venues"`
	Headcount int             `json:"headcount"`
	Caterers  []Caterer       `json:"caterers"`
	Kitchens  []Kitchen       `json:"kitchens"`
	Mode      SupervisionMode `json:"mode"`
	// NotifiedOn is the day the organiser notified the regulator; it
	// should be at least Config.Filing.NoticeWorkingDays (20) working days
	// before FirstDay. Later notice is a warning, not an error.
	NotifiedOn Date   `json:"notified_on"`
	Notes      string `json:"notes,omitempty"`
}

// Validate checks the filing and returns every problem found, joined.
func (f EventFiling) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(f.Name) == "" {
		add(invalid("name", "required: the event's name"))
	}
	if strings.TrimSpace(f.Organiser.Name) == "" {
		add(invalid("organiser.name", "required"))
	}
	if f.Organiser.Phone != "" {
		if _, err := NormalizePhone(f.Organiser.Phone); err != nil {
			add(invalid("organiser.phone", "%v", err))
		}
	}
	switch {
	case f.FirstDay.IsZero() || f.LastDay.IsZero():
		add(invalid("first_day", "required: the event's first and last day"))
	case f.LastDay.Before(f.FirstDay):
		add(invalid("last_day", "%s is before the first day %s", f.LastDay, f.FirstDay))
	}
	if f.Headcount <= 0 {
		add(invalid("headcount", "must be positive: how many people the event feeds"))
	}
	if f.Mode != SupervisionFull && f.Mode != SupervisionKeyPoint {
		add(invalid("mode", "%q is not a supervision mode; use full_supervision (全程监督) or key_point_supervision (重点监督)", f.Mode))
	}
	switch {
	case f.NotifiedOn.IsZero():
		add(invalid("notified_on", "required: the day the organiser notified the regulator"))
	case !f.FirstDay.IsZero() && f.NotifiedOn.After(f.FirstDay):
		add(invalid("notified_on", "%s is after the first day %s", f.NotifiedOn, f.FirstDay))
	}
	venues := map[string]bool{}
	if len(f.Venues) == 0 {
		add(invalid("venues", "at least one venue is required"))
	}
	for i, v := range f.Venues {
		field := fmt.Sprintf("venues[%d]", i)
		switch {
		case v.ID == "" || strings.TrimSpace(v.Name) == "":
			add(invalid(field, "id and name are required"))
		case venues[v.ID]:
			add(invalid(field+".id", "duplicate venue id %q", v.ID))
		}
		venues[v.ID] = true
		add(v.Point.validate(field + ".point"))
	}
	caterers := map[string]bool{}
	if len(f.Caterers) == 0 {
		add(invalid("caterers", "at least one caterer is required"))
	}
	for i, c := range f.Caterers {
		field := fmt.Sprintf("caterers[%d]", i)
		switch {
		case c.ID == "" || strings.TrimSpace(c.Name) == "":
			add(invalid(field, "id and name are required"))
		case caterers[c.ID]:
			add(invalid(field+".id", "duplicate caterer id %q", c.ID))
		}
		caterers[c.ID] = true
	}
	kitchens := map[string]bool{}
	if len(f.Kitchens) == 0 {
		add(invalid("kitchens", "at least one kitchen is required (each has a readiness checklist)"))
	}
	for i, k := range f.Kitchens {
		field := fmt.Sprintf("kitchens[%d]", i)
		switch {
		case k.ID == "" || strings.TrimSpace(k.Name) == "":
			add(invalid(field, "id and name are required"))
		case kitchens[k.ID]:
			add(invalid(field+".id", "duplicate kitchen id %q", k.ID))
		}
		kitchens[k.ID] = true
		if !caterers[k.CatererID] {
			add(invalid(field+".caterer_id", "%q is not one of the event's caterers", k.CatererID))
		}
		if k.VenueID != "" && !venues[k.VenueID] {
			add(invalid(field+".venue_id", "%q is not one of the event's venues", k.VenueID))
		}
		add(k.Point.validate(field + ".point"))
	}
	return errors.Join(errs...)
}

// Warning is a finding that does not stop a filing but should be shown
// (and usually followed up).
type Warning struct {
	Code    string `json:"code"`    // identifier, with a label in the label table
	Message Label  `json:"message"` // the specific message, zh-CN and en
}

// Warnings returns the warnings of a valid filing: notice given fewer than
// Config.Filing.NoticeWorkingDays working days before the first day.
func (f EventFiling) Warnings(cfg Config) []Warning {
	var out []Warning
	if f.NotifiedOn.IsZero() || f.FirstDay.IsZero() {
		return nil
	}
	n := cfg.Filing.Calendar.WorkingDaysBetween(f.NotifiedOn, f.FirstDay)
	if want := cfg.Filing.NoticeWorkingDays; n < want {
		out = append(out, Warning{Code: "late_notification", Message: Label{
			ZH: fmt.Sprintf("报备时间距活动开始仅 %d 个工作日，少于规定的 %d 个工作日", n, want),
			EN: fmt.Sprintf("notified %d working days before the event, fewer than the %d required", n, want),
		}})
	}
	return out
}

// EventSummary is the summary report that closes an event.
type EventSummary struct {
	Text string `json:"text"`
	// Cancelled is set by the protocol when the event is closed before it
	// went live (whole_process).
	Cancelled bool `json:"cancelled,omitempty"`
	// KPI optionally carries the event's figures (see [ComputeKPIs]).
	KPI *KPI `json:"kpi,omitempty"`
}

// Event is a major event (重大活动) and its phase.
type Event struct {
	ID         string        `json:"id"`
	Filing     EventFiling   `json:"filing"`
	Phase      EventPhase    `json:"phase"`
	PhaseSince time.Time     `json:"phase_since"`
	Summary    *EventSummary `json:"summary,omitempty"`
	Audit      []AuditEntry  `json:"audit"`
}

// FileEvent records a new event in phase filed. Only commanders and admins
// file events (they enter the organiser's notification). It returns the
// filing's warnings alongside.
func FileEvent(id string, f EventFiling, act Act, cfg Config) (Event, []Warning, error) {
	if id == "" {
		return Event{}, nil, invalid("id", "required")
	}
	if err := act.validate(); err != nil {
		return Event{}, nil, err
	}
	if err := requireRole("event "+id+" file", act.Actor, rolesCommand); err != nil {
		return Event{}, nil, err
	}
	if err := f.Validate(); err != nil {
		return Event{}, nil, err
	}
	ev := Event{ID: id, Filing: f, Phase: PhaseFiled, PhaseSince: act.At}
	(*audit)(&ev.Audit).add("filed", "", string(PhaseFiled), act)
	return ev, f.Warnings(cfg), nil
}

// Amend replaces the filing (a kitchen added, dates moved) while the event
// is filed or in early intervention. Commanders and admins only.
func (ev *Event) Amend(f EventFiling, act Act, cfg Config) ([]Warning, error) {
	if err := act.validate(); err != nil {
		return nil, err
	}
	if err := audit(ev.Audit).checkTime(act.At); err != nil {
		return nil, err
	}
	if err := requireRole("event "+ev.ID+" amend", act.Actor, rolesCommand); err != nil {
		return nil, err
	}
	if ev.Phase != PhaseFiled && ev.Phase != PhaseEarlyIntervention {
		return nil, &PreconditionError{Action: "event " + ev.ID + " amend", Rule: "amend_phase",
			Detail: fmt.Sprintf("the filing can be amended only while filed or in early intervention, not in %s; move the event back to early_intervention first", ev.Phase)}
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	ev.Filing = f
	(*audit)(&ev.Audit).add("amended", string(ev.Phase), string(ev.Phase), act)
	return f.Warnings(cfg), nil
}

// EventStep asks for one phase change.
type EventStep struct {
	To EventPhase `json:"to"`
	Act
	// Kitchens is the readiness of the event's kitchens; read when moving
	// to ready or whole_process, where every item must be done.
	Kitchens []KitchenReadiness `json:"kitchens,omitempty"`
	// Summary is required to close.
	Summary *EventSummary `json:"summary,omitempty"`
}

// Apply validates and applies a phase change. Besides the table and the
// roles:
//   - ready and whole_process need every readiness item of every kitchen
//     done, evaluated at step.At ([*NotReadyError] lists the open ones);
//   - ready → early_intervention needs a note saying what lapsed;
//   - closed needs a summary; closing before whole_process marks it
//     cancelled.
func (ev *Event) Apply(step EventStep, cfg Config) error {
	if err := step.Act.validate(); err != nil {
		return err
	}
	if err := audit(ev.Audit).checkTime(step.At); err != nil {
		return err
	}
	if err := eventMachine.check(ev.ID, ev.Phase, step.To, step.Actor); err != nil {
		return err
	}
	var summary *EventSummary
	switch step.To {
	case PhaseReady, PhaseWholeProcess:
		rep := EvaluateReadiness(ev.ID, ev.Filing, step.Kitchens, step.At, cfg)
		if !rep.Ready {
			return &NotReadyError{EventID: ev.ID, To: step.To, Open: rep.Open}
		}
	case PhaseEarlyIntervention:
		if ev.Phase == PhaseReady && strings.TrimSpace(step.Note) == "" {
			return &PreconditionError{Action: "event " + ev.ID + " → early_intervention", Rule: "note_required",
				Detail: "say in the note which readiness item lapsed"}
		}
	case PhaseClosed:
		if step.Summary == nil || strings.TrimSpace(step.Summary.Text) == "" {
			return &PreconditionError{Action: "event " + ev.ID + " → closed", Rule: "summary_required",
				Detail: "closing an event needs its summary report"}
		}
		s := *step.Summary
		s.Cancelled = ev.Phase != PhaseWholeProcess
		summary = &s
	}
	from := ev.Phase
	ev.Phase = step.To
	ev.PhaseSince = step.At
	if summary != nil {
		ev.Summary = summary
	}
	(*audit)(&ev.Audit).add(actionTransition, string(from), string(step.To), step.Act)
	return nil
}
