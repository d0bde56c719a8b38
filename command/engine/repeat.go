package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// RepeatWait is an incident's wait for the repeats (复测) of the result
// that opened it, under the repeat-before-dispatch policy
// (assurance.RepeatPolicy, decision 0015). While State is
// awaiting_repeat no team is sent; the repeats decide.
type RepeatWait struct {
	State assurance.RepeatState `json:"state"`
	// StateLabel is State's label (derived on read).
	StateLabel assurance.Label `json:"state_label"`
	// Needed is the valid repeats the policy asks for; Missing how many
	// are still to come (0 once decided).
	Needed  int `json:"needed"`
	Missing int `json:"missing"`
	// Due is when the team is sent anyway if the repeats have not come.
	Due     time.Time      `json:"due"`
	Repeats []RepeatResult `json:"repeats,omitempty"`
	// DecidedAt is when the wait ended (zero while awaiting).
	DecidedAt time.Time `json:"decided_at,omitzero"`
}

// RepeatResult is one repeat of the same sample.
type RepeatResult struct {
	ResultID   string        `json:"result_id"`
	Verdict    assay.Verdict `json:"verdict"`
	Value      float64       `json:"value"`
	Unit       string        `json:"unit,omitempty"`
	MeasuredAt time.Time     `json:"measured_at"`
}

// awaiting reports whether rec waits for repeats (no team to send yet).
func (rec *Incident) awaiting() bool {
	return rec.Repeat != nil && rec.Repeat.State == assurance.RepeatAwaiting
}

// holdsDispatch reports whether the background loop must not dispatch
// rec: it waits for repeats, or the repeats did not reproduce it (the
// command centre decides).
func (w *RepeatWait) holdsDispatch() bool {
	return w != nil && (w.State == assurance.RepeatAwaiting || w.State == assurance.RepeatNotReproduced)
}

// repeatWaitFor returns the wait a new incident opened from r starts
// with, or nil when the policy sends a team at once.
func (e *Engine) repeatWaitFor(r *wire.Result, kind assurance.TriggerKind, now time.Time) *RepeatWait {
	if !kind.Rapid() || r.RepeatOf != "" {
		return nil
	}
	required := r.RepeatsRequired
	if r.Derived != nil {
		required = r.Derived.RepeatsRequired
	}
	pol := e.pc.Incident.RepeatFirst
	need, ok := pol.Waits(r.Method, r.Item+" "+r.Analyte, r.EffectiveVerdict(), required)
	if !ok {
		return nil
	}
	return &RepeatWait{State: assurance.RepeatAwaiting, Needed: need, Missing: need, Due: now.Add(pol.Within)}
}

// recordRepeat adds a repeat of the result that opened incident id and,
// when the repeats decide, ends the wait: reproduced → the nearest team is
// sent; not reproduced → no team, the command centre decides. A repeat
// already recorded, or one that comes after the wait ended, changes
// nothing. It returns the incident.
func (e *Engine) recordRepeat(id string, r wire.Result) (Incident, error) {
	now := e.deps.Now()
	e.mu.Lock()
	var cur Incident
	if err := e.st.Get(kindIncident, id, &cur); err != nil {
		e.mu.Unlock()
		return Incident{}, err
	}
	if !cur.awaiting() || slices.ContainsFunc(cur.Repeat.Repeats, func(x RepeatResult) bool { return x.ResultID == r.ResultID }) {
		e.mu.Unlock()
		return e.view(cur), nil
	}
	rr := RepeatResult{ResultID: r.ResultID, Verdict: r.EffectiveVerdict(), Value: r.Value, Unit: r.Unit, MeasuredAt: r.MeasuredAt}
	if r.Derived != nil {
		rr.Value, rr.Unit = r.Derived.Value, r.Derived.Unit
	}
	// Choose a team outside the write (it reads the teams), in case the
	// repeats decide to send one.
	var t Team
	var metres float64
	var derr error
	if cur.State == assurance.IncidentWarned {
		t, metres, derr = e.choose(&cur, "")
	}
	rec, alarm, err := e.modifyAlarming(id, t, func(x *Incident) error {
		// Decided on the stored record: another engine may have recorded
		// this repeat, or another one, or ended the wait, since cur was
		// read.
		if !x.awaiting() || slices.ContainsFunc(x.Repeat.Repeats, func(y RepeatResult) bool { return y.ResultID == rr.ResultID }) {
			return errSkip
		}
		x.Repeat.Repeats = append(x.Repeat.Repeats, rr)
		verdicts := make([]assay.Verdict, 0, len(x.Repeat.Repeats))
		for _, y := range x.Repeat.Repeats {
			verdicts = append(verdicts, y.Verdict)
		}
		state, missing := assurance.DecideRepeats(x.Trigger.Verdict, x.Repeat.Needed, verdicts)
		x.Repeat.State, x.Repeat.Missing = state, missing
		if state != assurance.RepeatAwaiting {
			x.Repeat.DecidedAt = now
		}
		if state.Dispatches() && derr == nil && x.State == assurance.IncidentWarned {
			return e.assign(x, now, t, metres)
		}
		return nil
	})
	if errors.Is(err, errSkip) {
		e.index(&rec)
		e.mu.Unlock()
		return e.view(rec), nil
	}
	if err == nil {
		e.index(&rec)
	}
	e.mu.Unlock()
	if err != nil {
		return Incident{}, err
	}
	e.afterRepeat(rec, t, derr, alarm)
	return e.view(rec), nil
}

// modifyAlarming is store.Modify of incident id with, in the same
// transaction, the alarm the repeats' decision raises (repeat_overdue,
// not_reproduced; see repeatAlarm): the decision and its alarm are
// stored together or not at all. t is the team fn may assign. On fn's
// error the stored incident is returned with it.
func (e *Engine) modifyAlarming(id string, t Team, fn func(*Incident) error) (Incident, *store.Alarm, error) {
	var rec Incident
	var alarm *store.Alarm
	err := e.st.Update(func(tx *store.Tx) error {
		rec, alarm = Incident{}, nil
		if err := tx.Get(kindIncident, id, &rec); err != nil {
			return err
		}
		var was assurance.RepeatState
		if rec.Repeat != nil {
			was = rec.Repeat.State
		}
		if err := fn(&rec); err != nil {
			return err
		}
		if a, ok := e.repeatAlarm(rec, was, t); ok {
			stored, err := tx.RaiseAlarm(a)
			if err != nil {
				return err
			}
			alarm = &stored
		}
		return tx.Put(kindIncident, id, rec)
	})
	return rec, alarm, err
}

// repeatWords says what the repeats decided for rec, in zh-CN and
// English; t is the team it was assigned to, if any.
func (e *Engine) repeatWords(rec Incident, t Team) (zh, en string) {
	w := rec.Repeat
	l := w.State.Label()
	zh, en = l.ZH, l.EN
	if t.ID != rec.TeamID {
		t = Team{} // assigned to another team than the one chosen: named by its id
	}
	switch {
	case rec.TeamID != "":
		zh += "，已交办" + cmp.Or(t.Name, rec.TeamID)
		en += ", assigned to " + cmp.Or(t.NameEN, t.Name, rec.TeamID)
	case w.State.Dispatches():
		zh += "，尚无可派保障组，空出后自动交办"
		en += "; no team is free yet, the first to be free will be assigned"
	default:
		zh += "，未派员，请指挥中心决定是否派员现场核查"
		en += "; no team sent, the command centre decides whether to send one to check on site"
	}
	return zh, en
}

// repeatAlarm is the alarm a wait's end raises, when it ended just now
// (from was) overdue or not reproduced.
func (e *Engine) repeatAlarm(rec Incident, was assurance.RepeatState, t Team) (store.Alarm, bool) {
	w := rec.Repeat
	if w == nil || w.State == was || (w.State != assurance.RepeatOverdue && w.State != assurance.RepeatNotReproduced) {
		return store.Alarm{}, false
	}
	zh, en := e.repeatWords(rec, t)
	return store.Alarm{Code: string(w.State), IncidentID: rec.ID, EventID: rec.Trigger.EventID, ResultID: rec.Trigger.ResultID,
		KioskID: rec.KioskID, Loc: locOf(rec.Trigger.Where), At: e.deps.Now(),
		Message: fmt.Sprintf("风险处置事件 %s（%s）：%s / incident %s (%s): %s",
			rec.ID, cmp.Or(rec.SubjectName, rec.Trigger.SubjectID), zh, rec.ID, rec.Trigger.SubjectID, en)}, true
}

// afterRepeat tells the kiosk and the command centre what the repeats
// decided, and publishes the incident (and its team t) and the alarm
// stored with the decision.
func (e *Engine) afterRepeat(rec Incident, t Team, dispatchErr error, alarm *store.Alarm) {
	w := rec.Repeat
	if w.State == assurance.RepeatAwaiting {
		e.publish(wire.KindIncident, e.view(rec))
		return
	}
	zh, en := e.repeatWords(rec, t)
	if rec.KioskID != "" && e.deps.Notify != nil {
		e.deps.Notify(rec.KioskID, wire.Notice{ResultID: rec.Trigger.ResultID, IncidentNo: rec.ID,
			Message: fmt.Sprintf("风险处置事件 %s：%s。 / incident %s: %s.", rec.ID, zh, rec.ID, en)})
	}
	if alarm != nil {
		e.publish(wire.KindAlert, *alarm)
	}
	if dispatchErr != nil && w.State.Dispatches() {
		e.alert(store.Alarm{Code: "no_team_available", IncidentID: rec.ID, EventID: rec.Trigger.EventID, Loc: locOf(rec.Trigger.Where),
			Message: fmt.Sprintf("风险处置事件 %s 暂未交办 / incident %s not dispatched yet: %v", rec.ID, rec.ID, dispatchErr)})
	}
	e.publish(wire.KindIncident, e.view(rec))
	if rec.TeamID != "" {
		e.publishTeam(rec.TeamID)
	}
}

// repeatsOverdue ends the waits whose time is up: the team is sent anyway
// (the repeats did not come), and the command centre is told.
func (e *Engine) repeatsOverdue() {
	now := e.deps.Now()
	e.mu.Lock()
	var due []string
	for _, id := range sortedKeys(e.waits) {
		if !now.Before(e.waits[id].Due) {
			due = append(due, id)
		}
	}
	type done struct {
		rec   Incident
		t     Team
		derr  error
		alarm *store.Alarm
	}
	var out []done
	for _, id := range due {
		var cur Incident
		if err := e.st.Get(kindIncident, id, &cur); err != nil || !cur.awaiting() {
			continue
		}
		var t Team
		var metres float64
		var derr error
		if cur.State == assurance.IncidentWarned {
			t, metres, derr = e.choose(&cur, "")
		}
		rec, alarm, err := e.modifyAlarming(id, t, func(x *Incident) error {
			if !x.awaiting() {
				return errSkip
			}
			x.Repeat.State, x.Repeat.DecidedAt = assurance.RepeatOverdue, now
			if derr == nil && x.State == assurance.IncidentWarned {
				return e.assign(x, now, t, metres)
			}
			return nil
		})
		if errors.Is(err, errSkip) {
			e.index(&rec) // decided since the index was built
		}
		if err != nil {
			continue
		}
		e.index(&rec)
		out = append(out, done{rec, t, derr, alarm})
	}
	e.mu.Unlock()
	for _, d := range out {
		e.afterRepeat(d.rec, d.t, d.derr, d.alarm)
	}
}
