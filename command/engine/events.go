package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// FileEvent files a major event (phase filed). An empty id gets
// "EV-<first day>-<n>".
func (e *Engine) FileEvent(id string, f assurance.EventFiling, act assurance.Act) (EventView, error) {
	act.At = e.deps.Now()
	if id == "" {
		base := "EV-" + strings.ReplaceAll(f.FirstDay.String(), "-", "")
		for n := 1; ; n++ {
			id = fmt.Sprintf("%s-%d", base, n)
			var ev assurance.Event
			if e.st.Get(kindEvent, id, &ev) != nil {
				break
			}
		}
	}
	ev, _, err := assurance.FileEvent(id, f, act, e.pc)
	if err != nil {
		return EventView{}, err
	}
	if err := e.st.Create(kindEvent, id, ev); err != nil {
		return EventView{}, err
	}
	v := e.eventView(ev)
	e.publish(wire.KindEvent, v)
	return v, nil
}

// Event returns one event with its readiness evaluated now.
func (e *Engine) Event(id string) (EventView, error) {
	var ev assurance.Event
	if err := e.st.Get(kindEvent, id, &ev); err != nil {
		return EventView{}, err
	}
	return e.eventView(ev), nil
}

// Events returns the events in scope (empty scope: all), by id.
func (e *Engine) Events(scope []string) ([]EventView, error) {
	evs, err := store.All[assurance.Event](e.st, kindEvent)
	if err != nil {
		return nil, err
	}
	// Views are built after the listing's read transaction: they read the
	// store themselves, and a nested read can deadlock behind a writer.
	var out []EventView
	for _, ev := range evs {
		if InScope(scope, ev.ID) {
			out = append(out, e.eventView(ev))
		}
	}
	return out, nil
}

func (e *Engine) eventView(ev assurance.Event) EventView {
	now := e.deps.Now()
	return EventView{Event: ev, PhaseLabel: ev.Phase.Label(), Warnings: ev.Filing.Warnings(e.pc),
		Readiness:      assurance.EvaluateReadiness(ev.ID, ev.Filing, e.kitchenReadiness(ev, now), now, e.pc),
		ReadinessItems: slices.Clone(e.pc.Readiness.Items)}
}

// EventStep moves an event to another phase. Entering ready or
// whole_process evaluates every kitchen's checklist now and is refused
// with the open items (assurance.NotReadyError) while any is open.
func (e *Engine) EventStep(id string, step assurance.EventStep) (EventView, error) {
	step.At = e.deps.Now()
	var cur assurance.Event
	if err := e.st.Get(kindEvent, id, &cur); err != nil {
		return EventView{}, err
	}
	step.Kitchens = e.kitchenReadiness(cur, step.At)
	ev, err := store.Modify(e.st, kindEvent, id, func(ev *assurance.Event) error {
		return ev.Apply(step, e.pc)
	})
	if err != nil {
		return EventView{}, err
	}
	v := e.eventView(ev)
	e.publish(wire.KindEvent, v)
	return v, nil
}

// kitchenReadiness assembles what is known of each kitchen of an event:
// the recorded items, the kitchen's menu state, and its kiosk as the
// kiosk link sees it now.
func (e *Engine) kitchenReadiness(ev assurance.Event, now time.Time) []assurance.KitchenReadiness {
	recs := map[string]KitchenRecord{}
	store.List(e.st, kindReadiness+":"+ev.ID, func(kitchen string, r KitchenRecord) bool {
		recs[kitchen] = r
		return true
	})
	menus := map[string]assurance.Menu{}
	store.List(e.st, kindMenu, func(_ string, m assurance.Menu) bool {
		if old, ok := menus[m.OwnerID]; !ok || menuRank(m.State) > menuRank(old.State) {
			menus[m.OwnerID] = m
		}
		return true
	})
	live := map[string]wire.KioskState{}
	if e.deps.KioskStates != nil {
		for _, k := range e.deps.KioskStates() {
			live[k.KioskID] = k
		}
	}
	kioskAt := map[string]string{} // site → registered kiosk
	store.List(e.st, "kiosk", func(id string, k store.Kiosk) bool {
		if k.SiteID != "" {
			kioskAt[k.SiteID] = id
		}
		return true
	})
	var out []assurance.KitchenReadiness
	for _, k := range ev.Filing.Kitchens {
		r, ok := recs[k.ID]
		kr := r.KitchenReadiness
		kr.KitchenID = k.ID
		if !ok {
			kr = assurance.KitchenReadiness{KitchenID: k.ID}
		}
		kr.Menu = menus[k.ID].State
		kr.Kiosk = assurance.KioskStatus{KioskID: cmp.Or(kr.Kiosk.KioskID, kioskAt[k.ID])}
		if ls, ok := live[kr.Kiosk.KioskID]; ok && kr.Kiosk.KioskID != "" {
			switch {
			case ls.Online:
				kr.Kiosk.LastSeen = now
			case ls.LastSeen != nil:
				kr.Kiosk.LastSeen = *ls.LastSeen
			}
			for _, in := range ls.Instruments {
				st := assurance.InstrumentStatus{ID: in.ID, Model: in.Model}
				if i := slices.IndexFunc(r.Calibrations, func(c assurance.InstrumentStatus) bool { return c.ID == in.ID }); i >= 0 {
					st.CalibratedOn, st.CalibrationValidUntil = r.Calibrations[i].CalibratedOn, r.Calibrations[i].CalibrationValidUntil
				}
				kr.Kiosk.Instruments = append(kr.Kiosk.Instruments, st)
			}
		}
		out = append(out, kr)
	}
	return out
}

// menuRank orders menu states so that a kitchen's most advanced menu
// counts.
func menuRank(s assurance.MenuState) int {
	switch s {
	case assurance.MenuApproved, assurance.MenuApprovedWithControls:
		return 3
	case assurance.MenuSubmitted:
		return 2
	case assurance.MenuRejected:
		return 1
	}
	return 0
}

// ReadinessInput records one checklist item of one kitchen. Only the
// fields of the item are read.
type ReadinessInput struct {
	Item assurance.ChecklistItem `json:"item"`
	// responsibility_commitment, implementation_plan, emergency_plan: the
	// document's reference (an uploaded file, a document number).
	Ref string `json:"ref,omitempty"`
	// emergency_drill, training: when it was (or will be) held; default
	// now.
	At time.Time `json:"at,omitzero"`
	// health_certificate: the kitchen's staff list with certificates.
	Staff []assurance.StaffMember `json:"staff,omitempty"`
	// sample_retention: how retained samples are kept.
	Retention *RetentionInput `json:"retention,omitempty"`
	// kiosk_ready: the kitchen's kiosk and its instruments' calibrations.
	// Whether the kiosk is online, and which instruments it has, comes
	// from the kiosk link.
	KioskID     string                       `json:"kiosk_id,omitempty"`
	Instruments []assurance.InstrumentStatus `json:"instruments,omitempty"`
	Note        string                       `json:"note,omitempty"`
	Evidence    []assurance.EvidenceRef      `json:"evidence,omitempty"`
}

// RetentionInput is the sample-retention setup in plain units.
type RetentionInput struct {
	FridgeID    string  `json:"fridge_id"`
	Responsible string  `json:"responsible"`
	MassG       float64 `json:"mass_g"`     // per dish, grams
	HoldHours   float64 `json:"hold_hours"` // keeping time
}

// RecordReadiness records one checklist item for a kitchen of an event,
// with who and when. The menu item is not recorded here: it follows the
// kitchen's menu assessment.
func (e *Engine) RecordReadiness(eventID, kitchenID string, in ReadinessInput, actor assurance.Actor) (EventView, error) {
	switch actor.Role {
	case assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector:
	default:
		return EventView{}, &assurance.RoleError{Action: "readiness " + kitchenID, Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector}}
	}
	var ev assurance.Event
	if err := e.st.Get(kindEvent, eventID, &ev); err != nil {
		return EventView{}, err
	}
	if !slices.ContainsFunc(ev.Filing.Kitchens, func(k assurance.Kitchen) bool { return k.ID == kitchenID }) {
		return EventView{}, &assurance.ValidationError{Field: "kitchen", Problem: fmt.Sprintf("%q is not a kitchen of event %s", kitchenID, eventID)}
	}
	if ev.Phase == assurance.PhaseClosed {
		return EventView{}, &assurance.PreconditionError{Action: "readiness " + kitchenID, Rule: "event_closed", Detail: "the event is closed"}
	}
	now := e.deps.Now()
	at := in.At
	if at.IsZero() {
		at = now
	}
	bad := func(field, format string, args ...any) (EventView, error) {
		return EventView{}, &assurance.ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	apply := func(r *KitchenRecord) error {
		switch in.Item {
		case assurance.ItemCommitment, assurance.ItemImplementationPlan, assurance.ItemEmergencyPlan:
			d := assurance.Doc{Ref: in.Ref, At: at}
			switch in.Item {
			case assurance.ItemCommitment:
				r.Commitment = d
			case assurance.ItemImplementationPlan:
				r.ImplementationPlan = d
			default:
				r.EmergencyPlan = d
			}
		case assurance.ItemEmergencyDrill:
			r.DrillAt = at
		case assurance.ItemTraining:
			r.TrainingAt = at
		case assurance.ItemHealthCertificates:
			r.Staff = slices.Clone(in.Staff)
		case assurance.ItemSampleRetention:
			r.Retention = assurance.RetentionSetup{FridgeID: in.Retention.FridgeID, Responsible: in.Retention.Responsible,
				MassPerDish: measure.Mass(math.Round(in.Retention.MassG * float64(measure.Gram))),
				Hold:        time.Duration(in.Retention.HoldHours * float64(time.Hour))}
		case assurance.ItemKiosk:
			r.Kiosk.KioskID = in.KioskID
			r.Calibrations = slices.Clone(in.Instruments)
		}
		r.Log = append(r.Log, ReadinessEntry{Item: in.Item, Act: assurance.Act{Actor: actor, At: now, Note: in.Note, Evidence: in.Evidence}})
		return nil
	}
	switch in.Item {
	case assurance.ItemCommitment, assurance.ItemImplementationPlan, assurance.ItemEmergencyPlan:
		if strings.TrimSpace(in.Ref) == "" {
			return bad("ref", "required: the document's reference")
		}
	case assurance.ItemEmergencyDrill, assurance.ItemTraining:
	case assurance.ItemHealthCertificates:
		if len(in.Staff) == 0 {
			return bad("staff", "required: the kitchen's staff with their health certificates")
		}
		for i, s := range in.Staff {
			if strings.TrimSpace(s.Name) == "" {
				return bad(fmt.Sprintf("staff[%d].name", i), "required")
			}
		}
	case assurance.ItemSampleRetention:
		if in.Retention == nil {
			return bad("retention", "required: fridge_id, responsible, mass_g, hold_hours")
		}
	case assurance.ItemKiosk:
		if in.KioskID == "" {
			return bad("kiosk_id", "required: the kiosk that tests this kitchen's food")
		}
		var k store.Kiosk
		if err := e.st.Get("kiosk", in.KioskID, &k); err != nil {
			return bad("kiosk_id", "%q is not a registered kiosk", in.KioskID)
		}
	case assurance.ItemMenuAssessment:
		return bad("item", "the menu item follows the kitchen's menu assessment: record it with the /api/v1/menus routes")
	default:
		return bad("item", "%q is not a checklist item; use one of %s", in.Item, itemList())
	}
	key := kindReadiness + ":" + eventID
	fresh := KitchenRecord{EventID: eventID, KitchenReadiness: assurance.KitchenReadiness{KitchenID: kitchenID}, Log: []ReadinessEntry{}}
	if err := e.st.Create(key, kitchenID, fresh); err != nil && !errors.Is(err, store.ErrConflict) {
		return EventView{}, err
	}
	if _, err := store.Modify(e.st, key, kitchenID, apply); err != nil {
		return EventView{}, err
	}
	v, err := e.Event(eventID)
	if err == nil {
		e.publish(wire.KindEvent, v)
	}
	return v, err
}

func itemList() string {
	var s []string
	for _, i := range assurance.ChecklistItems() {
		s = append(s, string(i))
	}
	return strings.Join(s, ", ")
}

// KitchenRecords returns what was recorded for each kitchen of an event.
func (e *Engine) KitchenRecords(eventID string) ([]KitchenRecord, error) {
	return store.All[KitchenRecord](e.st, kindReadiness+":"+eventID)
}

// eventsOfKitchen returns the events whose filing lists the kitchen.
func (e *Engine) eventsOfKitchen(kitchen string) []string {
	var out []string
	store.List(e.st, kindEvent, func(id string, ev assurance.Event) bool {
		if slices.ContainsFunc(ev.Filing.Kitchens, func(k assurance.Kitchen) bool { return k.ID == kitchen }) {
			out = append(out, id)
		}
		return true
	})
	return out
}

// EventOf returns the event a record owner (a kitchen, a stall or a
// banquet) belongs to, or "".
func (e *Engine) EventOf(owner string) string {
	if evs := e.eventsOfKitchen(owner); len(evs) > 0 {
		return evs[0]
	}
	return e.subjectOf(owner).eventID
}

// MenuView is a menu with its state's label.
type MenuView struct {
	assurance.Menu
	StateLabel assurance.Label `json:"state_label"`
	EventID    string          `json:"event_id,omitempty"`
}

func (e *Engine) menuView(m assurance.Menu) MenuView {
	return MenuView{Menu: m, StateLabel: m.State.Label(), EventID: e.EventOf(m.OwnerID)}
}

// CreateMenu records a draft menu for a kitchen or banquet (id "" gives
// "menu-<owner>").
func (e *Engine) CreateMenu(id, owner string, dishes []assurance.Dish, actor assurance.Actor) (MenuView, error) {
	switch actor.Role {
	case assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector:
	default:
		return MenuView{}, &assurance.RoleError{Action: "menu create", Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector}}
	}
	if id == "" {
		id = "menu-" + owner
	}
	m, err := assurance.NewMenu(id, owner, dishes)
	if err != nil {
		return MenuView{}, err
	}
	m.Audit = []assurance.AuditEntry{}
	if err := e.st.Create(kindMenu, id, m); err != nil {
		return MenuView{}, err
	}
	return e.menuView(m), nil
}

// Menu returns one menu.
func (e *Engine) Menu(id string) (MenuView, error) {
	var m assurance.Menu
	if err := e.st.Get(kindMenu, id, &m); err != nil {
		return MenuView{}, err
	}
	return e.menuView(m), nil
}

// Menus returns the menus (of one owner when owner is not "").
func (e *Engine) Menus(owner string) ([]MenuView, error) {
	ms, err := store.All[assurance.Menu](e.st, kindMenu)
	if err != nil {
		return nil, err
	}
	var out []MenuView
	for _, m := range ms {
		if owner == "" || m.OwnerID == owner {
			out = append(out, e.menuView(m))
		}
	}
	return out, nil
}

// ModifyMenu applies fn (SetDishes, Decide or Apply) to a menu at the
// engine's time and publishes the events of its kitchen, whose readiness
// may have changed.
func (e *Engine) ModifyMenu(id string, fn func(m *assurance.Menu, now time.Time) error) (MenuView, error) {
	now := e.deps.Now()
	m, err := store.Modify(e.st, kindMenu, id, func(m *assurance.Menu) error { return fn(m, now) })
	if err != nil {
		return MenuView{}, err
	}
	for _, ev := range e.eventsOfKitchen(m.OwnerID) {
		if v, err := e.Event(ev); err == nil {
			e.publish(wire.KindEvent, v)
		}
	}
	return e.menuView(m), nil
}
