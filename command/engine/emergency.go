package engine

// Meals, the stationed team's duty log, emergencies (应急处置) and
// trainings. The protocol decides (assurance.DutyLog, assurance.Emergency);
// this file keeps the records, joins them with the results of the history
// and the teams, raises the alarms and publishes them.

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Store kinds of this file.
const (
	kindMeal      = "meal"      // assurance.EventMeal
	kindDuty      = "duty"      // DutyRecord, id = the meal's id
	kindEmergency = "emergency" // Emergency
	kindTraining  = "training"  // assurance.Training
)

// Alarm codes of this file (labels in docs/glossary.md).
const (
	AlarmEmergency = "emergency_activated" // a suspected food poisoning (or a drill) opened an emergency
	AlarmRetention = "retention_missing"   // a served dish has no retained sample (or one kept < 48 h)
)

// DutyRecord is the stored duty log of one meal, with the retention
// alarms already raised for it (so each is raised once).
type DutyRecord struct {
	assurance.DutyLog
	Alarmed []string `json:"alarmed,omitempty"` // "<gap kind>:<ref>"
}

// MealView is a meal with its duty log and the log's gaps now.
type MealView struct {
	assurance.EventMeal
	MealLabel   assurance.Label   `json:"meal_label"`
	KitchenName string            `json:"kitchen_name,omitempty"`
	Log         assurance.DutyLog `json:"log"`
	Gaps        []GapView         `json:"gaps"`
}

// GapView is a gap with its kind's label.
type GapView struct {
	assurance.Gap
	KindLabel assurance.Label `json:"kind_label"`
	Alarm     bool            `json:"alarm"`
}

// eventKitchen checks that kitchen belongs to the event and returns the
// event.
func (e *Engine) eventKitchen(eventID, kitchen string) (assurance.Event, assurance.Kitchen, error) {
	var ev assurance.Event
	if err := e.st.Get(kindEvent, eventID, &ev); err != nil {
		return ev, assurance.Kitchen{}, err
	}
	i := slices.IndexFunc(ev.Filing.Kitchens, func(k assurance.Kitchen) bool { return k.ID == kitchen })
	if i < 0 {
		return ev, assurance.Kitchen{}, &assurance.ValidationError{Field: "kitchen_id", Problem: fmt.Sprintf("%q is not a kitchen of event %s", kitchen, eventID)}
	}
	return ev, ev.Filing.Kitchens[i], nil
}

var rolesDuty = []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector}

func requireDuty(action string, actor assurance.Actor) error {
	if slices.Contains(rolesDuty, actor.Role) {
		return nil
	}
	return &assurance.RoleError{Action: action, Role: actor.Role, Allowed: rolesDuty}
}

// PutMeal records (or replaces) a meal of an event's kitchen. An empty id
// gets "M-<kitchen>-<date>-<meal>".
func (e *Engine) PutMeal(m assurance.EventMeal, actor assurance.Actor) (MealView, error) {
	if err := requireDuty("meal put", actor); err != nil {
		return MealView{}, err
	}
	if m.ID == "" && !m.Start.IsZero() {
		m.ID = fmt.Sprintf("M-%s-%s-%s", m.KitchenID, m.Start.In(e.zone()).Format("20060102"), m.Meal)
	}
	if err := m.Validate(); err != nil {
		return MealView{}, err
	}
	if _, _, err := e.eventKitchen(m.EventID, m.KitchenID); err != nil {
		return MealView{}, err
	}
	team := e.stationedAt(m.KitchenID) // read before the transaction: a read inside it would wait on it
	err := e.st.Update(func(tx *store.Tx) error {
		var old assurance.EventMeal
		switch err := tx.Get(kindMeal, m.ID, &old); {
		case err == nil && (old.KitchenID != m.KitchenID || old.EventID != m.EventID):
			return &assurance.ValidationError{Field: "id", Problem: fmt.Sprintf("meal %s belongs to kitchen %s of %s", m.ID, old.KitchenID, old.EventID)}
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.Put(kindMeal, m.ID, m); err != nil {
			return err
		}
		var rec DutyRecord
		if err := tx.Get(kindDuty, m.ID, &rec); errors.Is(err, store.ErrNotFound) {
			rec = DutyRecord{DutyLog: assurance.DutyLog{MealID: m.ID, EventID: m.EventID, KitchenID: m.KitchenID,
				TeamID: team, Morning: []assurance.MorningCheck{}, Samples: []assurance.RetainedSample{},
				Checks: []assurance.ProcessCheck{}, Problems: []assurance.Problem{}}}
			return tx.Put(kindDuty, m.ID, rec)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return MealView{}, err
	}
	return e.Meal(m.ID)
}

// stationedAt returns the team stationed at a kitchen, or "".
func (e *Engine) stationedAt(kitchen string) string {
	id := ""
	store.List(e.st, kindTeam, func(_ string, t Team) bool {
		if t.Mode == ModeStationed && t.KitchenID == kitchen {
			id = t.ID
			return false
		}
		return true
	})
	return id
}

// Meal returns one meal with its duty log and gaps now.
func (e *Engine) Meal(id string) (MealView, error) {
	var m assurance.EventMeal
	if err := e.st.Get(kindMeal, id, &m); err != nil {
		return MealView{}, err
	}
	var rec DutyRecord
	if err := e.st.Get(kindDuty, id, &rec); err != nil && !errors.Is(err, store.ErrNotFound) {
		return MealView{}, err
	}
	return e.mealView(m, rec.DutyLog, e.deps.Now()), nil
}

func (e *Engine) mealView(m assurance.EventMeal, l assurance.DutyLog, now time.Time) MealView {
	v := MealView{EventMeal: m, MealLabel: m.Meal.Label(), Log: l, Gaps: []GapView{}, KitchenName: e.subjectOf(m.KitchenID).name}
	for _, g := range assurance.DutyGaps(m, l, now, e.pc) {
		v.Gaps = append(v.Gaps, GapView{Gap: g, KindLabel: g.Kind.Label(), Alarm: g.Alarm()})
	}
	return v
}

// MealFilter selects meals.
type MealFilter struct {
	EventID string
	Kitchen string
	Day     assurance.Date // the meal's start in China time; zero: any day
	Scope   []string
}

// Meals returns the meals selected, by start time.
func (e *Engine) Meals(f MealFilter) ([]MealView, error) {
	var ms []assurance.EventMeal
	err := store.List(e.st, kindMeal, func(_ string, m assurance.EventMeal) bool {
		if (f.EventID == "" || m.EventID == f.EventID) && (f.Kitchen == "" || m.KitchenID == f.Kitchen) && InScope(f.Scope, m.EventID) &&
			(f.Day.IsZero() || assurance.DateOf(m.Start.In(e.zone())) == f.Day) {
			ms = append(ms, m)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	logs := map[string]assurance.DutyLog{}
	store.List(e.st, kindDuty, func(id string, r DutyRecord) bool { logs[id] = r.DutyLog; return true })
	slices.SortFunc(ms, func(a, b assurance.EventMeal) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID)) })
	now := e.deps.Now()
	out := make([]MealView, 0, len(ms))
	for _, m := range ms {
		out = append(out, e.mealView(m, logs[m.ID], now))
	}
	return out, nil
}

// DutyEntry is one entry of a meal's duty log, as the API sends it: one
// of the fields is set.
type DutyEntry struct {
	Morning []assurance.MorningCheck  `json:"morning,omitempty"`
	Sample  *assurance.RetainedSample `json:"sample,omitempty"`
	Discard string                    `json:"discard,omitempty"` // a dish id whose sample is thrown away
	Check   *assurance.ProcessCheck   `json:"check,omitempty"`
	Problem *assurance.Problem        `json:"problem,omitempty"`
}

// RecordDuty adds one entry to a meal's duty log at the engine's time,
// then raises the retention alarms the log now calls for.
func (e *Engine) RecordDuty(mealID string, in DutyEntry, actor assurance.Actor) (MealView, error) {
	if err := requireDuty("duty log "+mealID, actor); err != nil {
		return MealView{}, err
	}
	n := 0
	for _, set := range []bool{len(in.Morning) > 0, in.Sample != nil, in.Discard != "", in.Check != nil, in.Problem != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return MealView{}, &assurance.ValidationError{Field: "entry", Problem: "send exactly one of morning, sample, discard, check, problem"}
	}
	now := e.deps.Now()
	err := e.st.Update(func(tx *store.Tx) error {
		var m assurance.EventMeal
		if err := tx.Get(kindMeal, mealID, &m); err != nil {
			return err
		}
		var rec DutyRecord
		if err := tx.Get(kindDuty, mealID, &rec); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rec.MealID, rec.EventID, rec.KitchenID = m.ID, m.EventID, m.KitchenID
		l := &rec.DutyLog
		switch {
		case len(in.Morning) > 0:
			for _, c := range in.Morning {
				c.By, c.At = actor.UserID, now
				if err := l.AddMorningCheck(c); err != nil {
					return err
				}
			}
		case in.Sample != nil:
			s := *in.Sample
			s.RecordedBy = actor.UserID
			if s.At.IsZero() {
				s.At = now
			}
			if s.At.After(now.Add(time.Minute)) {
				return &assurance.ValidationError{Field: "sample.at", Problem: "is in the future"}
			}
			if err := l.AddSample(m, s, e.pc); err != nil {
				return err
			}
		case in.Discard != "":
			if err := l.Discard(in.Discard, assurance.Act{Actor: actor, At: now}, e.pc); err != nil {
				return err
			}
		case in.Check != nil:
			c := *in.Check
			c.RecordedBy, c.At = actor.UserID, now
			if _, err := l.AddCheck(m, c, e.pc); err != nil {
				return err
			}
		case in.Problem != nil:
			p := *in.Problem
			if strings.TrimSpace(p.Text) == "" {
				return &assurance.ValidationError{Field: "problem.text", Problem: "required: what was found"}
			}
			p.RecordedBy, p.At = actor.UserID, now
			l.Problems = append(l.Problems, p)
		}
		return tx.Put(kindDuty, mealID, rec)
	})
	if err != nil {
		return MealView{}, err
	}
	e.checkDuty()
	return e.Meal(mealID)
}

// checkDuty raises, once each, the alarms of the duty logs' retention
// gaps (a served dish without a retained sample, a sample kept < 48 h).
// Tick calls it; so does every duty-log write.
func (e *Engine) checkDuty() {
	now := e.deps.Now()
	meals, err := store.All[assurance.EventMeal](e.st, kindMeal)
	if err != nil {
		return
	}
	for _, m := range meals {
		if now.Before(m.Start.Add(e.pc.Duty.RetentionGrace)) || now.After(m.End.Add(e.pc.Readiness.RetentionMinHold)) {
			continue
		}
		var rec DutyRecord
		if err := e.st.Get(kindDuty, m.ID, &rec); err != nil && !errors.Is(err, store.ErrNotFound) {
			continue
		}
		var cand []assurance.Gap
		for _, g := range assurance.DutyGaps(m, rec.DutyLog, now, e.pc) {
			if g.Alarm() && !slices.Contains(rec.Alarmed, string(g.Kind)+":"+g.Ref) {
				cand = append(cand, g)
			}
		}
		if len(cand) == 0 {
			continue
		}
		// The marks and the alarms in one transaction, the gaps to raise
		// chosen against the stored marks: raised once, whichever engine
		// gets there first.
		s := e.subjectOf(m.KitchenID)
		var alarms []store.Alarm
		err := retryClash(func() error {
			return e.st.Update(func(tx *store.Tx) error {
				alarms = nil
				var r DutyRecord
				err := tx.Get(kindDuty, m.ID, &r)
				fresh := errors.Is(err, store.ErrNotFound)
				if err != nil && !fresh {
					return err
				}
				if r.MealID == "" {
					r.DutyLog = assurance.DutyLog{MealID: m.ID, EventID: m.EventID, KitchenID: m.KitchenID}
				}
				for _, g := range cand {
					key := string(g.Kind) + ":" + g.Ref
					if slices.Contains(r.Alarmed, key) {
						continue
					}
					r.Alarmed = append(r.Alarmed, key)
					a, err := tx.RaiseAlarm(store.Alarm{Code: AlarmRetention, EventID: m.EventID, Loc: locOf(s.point), At: now,
						Message: fmt.Sprintf("%s %s：%s / %s: %s", cmp.Or(s.name, m.KitchenID), cmp.Or(m.Name, m.Meal.Label().ZH), g.Detail.ZH, m.ID, g.Detail.EN)})
					if err != nil {
						return err
					}
					alarms = append(alarms, a)
				}
				switch {
				case len(alarms) == 0:
					return nil
				case fresh:
					return tx.Create(kindDuty, m.ID, r)
				}
				return tx.Put(kindDuty, m.ID, r)
			})
		})
		if err != nil {
			e.log.Error("assure: duty alarm mark", "meal", m.ID, "err", err)
			continue
		}
		for _, a := range alarms {
			e.publish(wire.KindAlert, a)
		}
	}
}

// Emergency is the stored emergency with what the command service adds:
// the teams sent and where the kitchen is.
type Emergency struct {
	assurance.Emergency
	StateLabel  assurance.Label  `json:"state_label"`
	LevelLabel  assurance.Label  `json:"level_label"`
	KitchenName string           `json:"kitchen_name,omitempty"`
	Point       *assurance.Point `json:"point,omitempty"`
	Dispatches  []Dispatch       `json:"dispatches"`
	AlarmSeq    uint64           `json:"alarm_seq,omitempty"`
}

// EmergencyView is an emergency with the meal's picture joined in: each
// dish with its retained sample (frozen) and its rapid-test results, the
// kitchen staff on duty, the tables.
type EmergencyView struct {
	Emergency
	Meal   assurance.EventMeal `json:"meal"`
	Dishes []DishPicture       `json:"dishes"`
	// Other are the meal's results that match no dish by name.
	Other []ResultBrief `json:"other_results"`
	Staff []StaffOnDuty `json:"staff"`
	// Names are the display names of the users on the timeline (user id →
	// name), so that a screen shows people, not login names.
	Names map[string]string `json:"names"`
}

// DishPicture is one dish of an emergency's meal.
type DishPicture struct {
	assurance.MealDish
	Sample  *assurance.RetainedSample `json:"sample,omitempty"`
	Results []ResultBrief             `json:"results"`
}

// ResultBrief is a rapid-test result as an emergency lists it.
type ResultBrief struct {
	ResultID     string          `json:"result_id"`
	Sample       string          `json:"sample"`
	Item         string          `json:"item"`
	Method       string          `json:"method"`
	Value        float64         `json:"value"`
	Unit         string          `json:"unit,omitempty"`
	Verdict      string          `json:"verdict"`
	VerdictLabel assurance.Label `json:"verdict_label"`
	At           time.Time       `json:"at"`
}

// StaffOnDuty is a kitchen worker on duty at the meal.
type StaffOnDuty struct {
	Name string `json:"name"`
	Post string `json:"post,omitempty"`
	Fit  bool   `json:"fit"`            // passed the morning check
	From string `json:"from,omitempty"` // morning_check, or readiness (the staff list) when no check was made
}

// emergencyIDTx returns the next emergency number of day inside tx:
// EM-YYYYMMDD-NN, one more than the day's emergencies, skipping a number
// already stored. Two transactions may pick the same number; the second
// one's Create then fails with store.ErrConflict and is run again.
func emergencyIDTx(tx *store.Tx, day string) (string, error) {
	n := 0
	err := tx.Each(kindEmergency, func(id string, _ []byte) error {
		if strings.HasPrefix(id, "EM-"+day+"-") {
			n++
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for {
		n++
		id := emergencyIDOf(day, n)
		if k, err := tx.FirstKey(kindEmergency, id); err != nil || k != id {
			return id, nil
		}
	}
}

func emergencyIDOf(day string, n int) string { return fmt.Sprintf("EM-%s-%02d", day, n) }

// ReportIllness opens an emergency from a suspected food-poisoning report
// (a drill when drill is set): the level from the plan, the meal's
// retained samples frozen in the same store transaction, then the nearest
// Teams teams on duty sent, an emergency_activated alarm raised, every
// step on the timeline.
func (e *Engine) ReportIllness(rep assurance.IllnessReport, drill bool, act assurance.Act) (EmergencyView, error) {
	e.emMu.Lock() // one emergency opened at a time here (across instances the number is taken in the database)
	defer e.emMu.Unlock()
	now := e.deps.Now()
	act.At = now
	var m assurance.EventMeal
	if err := e.st.Get(kindMeal, rep.MealID, &m); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return EmergencyView{}, &assurance.ValidationError{Field: "meal_id", Problem: fmt.Sprintf("no meal %q; the meals are listed at /api/v1/meals", rep.MealID)}
		}
		return EmergencyView{}, err
	}
	// The plan's level and team count, checked before the transaction
	// (the number is taken inside it).
	em, err := assurance.OpenEmergency(emergencyIDOf(now.In(e.zone()).Format("20060102"), 1), rep, m, drill, act, e.pc)
	if err != nil {
		return EmergencyView{}, err
	}
	s := e.subjectOf(m.KitchenID)
	// The teams are chosen before the transaction (NearestTeams reads the
	// store).
	var sent []TeamDistance
	if s.point != nil && em.Teams > 0 {
		_, all, err := e.NearestTeams(*s.point, m.KitchenID)
		if err == nil {
			for _, t := range all {
				if t.Eligible && len(sent) < em.Teams {
					sent = append(sent, t)
				}
			}
		}
	}
	word := "疑似食物中毒"
	if drill {
		word = "应急演练"
	}
	// The number, the frozen samples, the record and its alarm in one
	// transaction: two instances opening emergencies at once clash on the
	// number, and the loser runs again with the next one.
	var id string
	var a store.Alarm
	err = retryClash(func() error {
		return e.st.Update(func(tx *store.Tx) error {
			var err error
			if id, err = emergencyIDTx(tx, now.In(e.zone()).Format("20060102")); err != nil {
				return err
			}
			em, err := assurance.OpenEmergency(id, rep, m, drill, act, e.pc)
			if err != nil {
				return err
			}
			rec := Emergency{Emergency: em, KitchenName: s.name, Point: s.point, Dispatches: []Dispatch{}}
			sys := assurance.Act{Actor: actorSystem(assurance.RoleCommander), At: now}
			var d DutyRecord
			frozen := 0
			switch err := tx.Get(kindDuty, m.ID, &d); {
			case err == nil:
				frozen = d.Freeze(id)
				if err := tx.Put(kindDuty, m.ID, d); err != nil {
					return err
				}
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			sys.Note = fmt.Sprintf("%d 份留样已封存，不得处理 / %d retained samples frozen; they may not be discarded", frozen, frozen)
			if err := rec.Record(assurance.TLFrozen, fmt.Sprint(frozen), assurance.StepFrozen, sys); err != nil {
				return err
			}
			for _, t := range sent {
				sys.Note = fmt.Sprintf("派出最近的保障组 %s（%.0f 米） / nearest team %s sent (%.0f m)", t.Name, t.Metres, t.ID, t.Metres)
				if err := rec.Record(assurance.TLDispatched, t.ID, assurance.StepTeams, sys); err != nil {
					return err
				}
				rec.Dispatches = append(rec.Dispatches, Dispatch{TeamID: t.ID, Metres: t.Metres, At: now, By: "system", Auto: true})
			}
			if len(sent) < em.Teams {
				sys.Note = fmt.Sprintf("预案要求派出 %d 个保障组，仅有 %d 个可派 / the plan asks for %d teams; %d available", em.Teams, len(sent), em.Teams, len(sent))
				if err := rec.Record(assurance.TLNoTeam, "", "", sys); err != nil {
					return err
				}
			}
			a, err = tx.RaiseAlarm(store.Alarm{Code: AlarmEmergency, EventID: m.EventID, Loc: locOf(s.point), Level: em.Level.Rank(), At: now,
				Message: fmt.Sprintf("%s：%s %s，%d 人发病，启动%s响应 / %s: %d ill after %s, %s response",
					word, cmp.Or(s.name, m.KitchenID), cmp.Or(m.Name, m.Meal.Label().ZH), rep.Ill, em.Level.Label().ZH,
					map[bool]string{true: "drill", false: "suspected food poisoning"}[drill], rep.Ill, m.ID, em.Level.Label().EN)})
			if err != nil {
				return err
			}
			rec.AlarmSeq = a.Seq
			return tx.Create(kindEmergency, id, rec)
		})
	})
	if err != nil {
		return EmergencyView{}, err
	}
	e.publish(wire.KindAlert, a)
	for _, t := range sent {
		e.publishTeam(t.ID)
	}
	return e.EmergencyView(id)
}

// Emergencies returns the emergencies (drills included), newest first.
func (e *Engine) Emergencies(eventID string, scope []string) ([]Emergency, error) {
	var out []Emergency
	err := store.List(e.st, kindEmergency, func(_ string, r Emergency) bool {
		if (eventID == "" || r.EventID == eventID) && InScope(scope, r.EventID) {
			out = append(out, e.emergencyLabels(r))
		}
		return true
	})
	slices.SortFunc(out, func(a, b Emergency) int { return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), cmp.Compare(b.ID, a.ID)) })
	return out, err
}

func (e *Engine) emergencyLabels(r Emergency) Emergency {
	r.StateLabel, r.LevelLabel = r.State.Label(), r.Level.Label()
	if r.Dispatches == nil {
		r.Dispatches = []Dispatch{}
	}
	return r
}

// EmergencyView returns one emergency with the meal's dishes, their
// retained samples and rapid-test results, and the staff on duty.
func (e *Engine) EmergencyView(id string) (EmergencyView, error) {
	var r Emergency
	if err := e.st.Get(kindEmergency, id, &r); err != nil {
		return EmergencyView{}, err
	}
	v := EmergencyView{Emergency: e.emergencyLabels(r), Dishes: []DishPicture{}, Other: []ResultBrief{}, Staff: []StaffOnDuty{}, Names: map[string]string{}}
	for _, a := range r.Timeline {
		if _, ok := v.Names[a.Actor.UserID]; !ok {
			var u store.User
			if e.st.Get("user", a.Actor.UserID, &u) == nil && u.DisplayName != "" {
				v.Names[a.Actor.UserID] = u.DisplayName
			}
		}
	}
	if err := e.st.Get(kindMeal, r.MealID, &v.Meal); err != nil {
		return v, err
	}
	var d DutyRecord
	if err := e.st.Get(kindDuty, r.MealID, &d); err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	results, err := e.mealResults(v.Meal)
	if err != nil {
		return v, err
	}
	used := map[string]bool{}
	for _, dish := range v.Meal.Dishes {
		p := DishPicture{MealDish: dish, Results: []ResultBrief{}}
		if i := slices.IndexFunc(d.Samples, func(s assurance.RetainedSample) bool { return s.DishID == dish.ID }); i >= 0 {
			s := d.Samples[i]
			p.Sample = &s
		}
		for _, res := range results {
			if nameMatches(res.Sample, dish.Name) {
				p.Results = append(p.Results, res)
				used[res.ResultID] = true
			}
		}
		v.Dishes = append(v.Dishes, p)
	}
	for _, res := range results {
		if !used[res.ResultID] {
			v.Other = append(v.Other, res)
		}
	}
	for _, c := range d.Morning {
		if c.Present {
			v.Staff = append(v.Staff, StaffOnDuty{Name: c.Worker, Post: c.Post, Fit: c.Fit(), From: "morning_check"})
		}
	}
	if len(v.Staff) == 0 {
		var kr KitchenRecord
		if e.st.Get(kindReadiness+":"+r.EventID, r.KitchenID, &kr) == nil {
			for _, s := range kr.Staff {
				v.Staff = append(v.Staff, StaffOnDuty{Name: s.Name, Post: s.Post, Fit: true, From: "readiness"})
			}
		}
	}
	return v, nil
}

// mealResults reads the rapid-test results of a meal from the history:
// the kitchen's results measured from Config.MealResultsBefore before
// service until its end.
func (e *Engine) mealResults(m assurance.EventMeal) ([]ResultBrief, error) {
	var out []ResultBrief
	err := e.res.Each(history.Filter{StallID: m.KitchenID, Since: m.Start.Add(-e.cfg.MealResultsBefore), Until: m.End}, false, func(r *wire.Result) bool {
		v := r.EffectiveVerdict()
		zh, en := v.Label()
		out = append(out, ResultBrief{ResultID: r.ResultID, Sample: r.Sample.Name, Item: r.Item, Method: string(r.Method),
			Value: r.Value, Unit: r.Unit, Verdict: string(v), VerdictLabel: assurance.Label{ZH: zh, EN: en}, At: r.MeasuredAt})
		return len(out) < 1000
	})
	return out, err
}

// nameMatches says whether a result's sample name is the dish (one
// contains the other, ignoring spaces): kiosks key in "鲈鱼" for
// "清蒸鲈鱼".
func nameMatches(sample, dish string) bool {
	s, d := strings.ReplaceAll(sample, " ", ""), strings.ReplaceAll(dish, " ", "")
	return s != "" && d != "" && (strings.Contains(s, d) || strings.Contains(d, s))
}

// EmergencyAction is one step on an open emergency, as the API sends it:
// one of the fields is set (Note alone adds a note).
type EmergencyAction struct {
	Step   string                   `json:"step,omitempty"`   // a manual plan step done
	Update *assurance.IllnessReport `json:"update,omitempty"` // new counts (ill, severe, deaths, tables)
	Teams  []string                 `json:"teams,omitempty"`  // more teams sent by hand
	Close  *assurance.Conclusion    `json:"close,omitempty"`  // close with the conclusion
	Note   string                   `json:"note,omitempty"`
}

// ActOnEmergency applies one action at the engine's time. Closing
// releases the meal's retained samples from the emergency's hold in the
// same transaction.
func (e *Engine) ActOnEmergency(id string, in EmergencyAction, actor assurance.Actor) (EmergencyView, error) {
	now := e.deps.Now()
	act := assurance.Act{Actor: actor, At: now, Note: in.Note}
	var sent []string
	err := e.st.Update(func(tx *store.Tx) error {
		var r Emergency
		if err := tx.Get(kindEmergency, id, &r); err != nil {
			return err
		}
		switch {
		case in.Step != "":
			if err := r.CompleteStep(in.Step, act); err != nil {
				return err
			}
		case in.Update != nil:
			if _, err := r.UpdateReport(in.Update.Ill, in.Update.Severe, in.Update.Deaths, in.Update.Tables, act, e.pc); err != nil {
				return err
			}
		case len(in.Teams) > 0:
			if actor.Role != assurance.RoleAdmin && actor.Role != assurance.RoleCommander {
				return &assurance.RoleError{Action: "emergency " + id + " send teams", Role: actor.Role, Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander}}
			}
			for _, tid := range in.Teams {
				var t Team
				if err := tx.Get(kindTeam, tid, &t); err != nil {
					return &assurance.ValidationError{Field: "teams", Problem: fmt.Sprintf("no team %q", tid)}
				}
				if slices.ContainsFunc(r.Dispatches, func(d Dispatch) bool { return d.TeamID == tid }) {
					return &assurance.PreconditionError{Action: "emergency " + id + " send " + tid, Rule: "team_sent", Detail: "this team was already sent"}
				}
				a := act
				a.Note = cmp.Or(in.Note, fmt.Sprintf("指挥员派出 %s / %s sent", t.Name, t.ID))
				if err := r.Record(assurance.TLDispatched, tid, assurance.StepTeams, a); err != nil {
					return err
				}
				r.Dispatches = append(r.Dispatches, Dispatch{TeamID: tid, At: now, By: actor.UserID})
				sent = append(sent, tid)
			}
		case in.Close != nil:
			if actor.Role != assurance.RoleAdmin && actor.Role != assurance.RoleCommander {
				return &assurance.RoleError{Action: "emergency " + id + " close", Role: actor.Role, Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander}}
			}
			var d DutyRecord
			switch err := tx.Get(kindDuty, r.MealID, &d); {
			case err == nil:
				d.Release(id)
				if err := tx.Put(kindDuty, r.MealID, d); err != nil {
					return err
				}
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			rel := act
			rel.Note = "结案后解除封存 / samples released at the close"
			if err := r.Record(assurance.TLReleased, "", "", rel); err != nil {
				return err
			}
			if err := r.Close(*in.Close, act); err != nil {
				return err
			}
		default:
			if err := r.AddNote(act); err != nil {
				return err
			}
		}
		return tx.Put(kindEmergency, id, r)
	})
	if err != nil {
		return EmergencyView{}, err
	}
	for _, t := range sent {
		e.publishTeam(t)
	}
	return e.EmergencyView(id)
}

// RecordTraining stores a training session (id "" gets TR-<date>-<n>).
func (e *Engine) RecordTraining(t assurance.Training, actor assurance.Actor) (assurance.Training, error) {
	if err := requireDuty("training", actor); err != nil {
		return t, err
	}
	if t.At.IsZero() {
		t.At = e.deps.Now()
	}
	t.By = actor.UserID
	if err := t.Validate(); err != nil {
		return t, err
	}
	if t.KitchenID != "" {
		if _, _, err := e.eventKitchen(t.EventID, t.KitchenID); err != nil {
			return t, err
		}
	} else if err := e.st.Get(kindEvent, t.EventID, &assurance.Event{}); err != nil {
		return t, err
	}
	if t.ID == "" {
		day := t.At.In(e.zone()).Format("20060102")
		n := 0
		store.List(e.st, kindTraining, func(id string, _ assurance.Training) bool {
			if strings.HasPrefix(id, "TR-"+day+"-") {
				n++
			}
			return true
		})
		t.ID = fmt.Sprintf("TR-%s-%02d", day, n+1)
	}
	return t, e.st.Put(kindTraining, t.ID, t)
}

// Trainings returns an event's training sessions, by time.
func (e *Engine) Trainings(eventID string) ([]assurance.Training, error) {
	var out []assurance.Training
	err := store.List(e.st, kindTraining, func(_ string, t assurance.Training) bool {
		if eventID == "" || t.EventID == eventID {
			out = append(out, t)
		}
		return true
	})
	slices.SortFunc(out, func(a, b assurance.Training) int { return a.At.Compare(b.At) })
	return out, err
}
