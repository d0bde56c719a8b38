package engine

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Errors of the engine besides the protocol's (which wrap the
// assurance sentinels and map to HTTP with assurance.ErrorCode).
var (
	// ErrNoTrigger: the result does not call for an incident.
	ErrNoTrigger = errors.New("assure: this result opens no incident (only positive, suspicious and temperature-breach results do)")
	// ErrTooLarge: an evidence upload is over Config.MaxEvidence.
	ErrTooLarge = errors.New("assure: evidence file too large")
	// ErrNoTeam: no team can be dispatched now; the incident waits in
	// warned and the background loop assigns it when a team is free.
	ErrNoTeam = errors.New("所有可派保障组均在处置中或休息，空出后自动交办 / every team that may go is busy or off duty; the first to be free will be assigned")
	// ErrUnsupported: an evidence upload is not a photo or a PDF.
	ErrUnsupported = errors.New("assure: evidence file type not accepted")
)

// busyStates are the incident states in which the assigned team is tied
// up in the field. From lab_sent on the team is free again (the lab takes
// days); it still owns the incident and records its remaining steps.
var busyStates = []assurance.IncidentState{assurance.IncidentAssigned, assurance.IncidentOnSite, assurance.IncidentControlled}

func triggerOf(r *wire.Result) (assurance.TriggerKind, bool) {
	return assurance.TriggerFor(r.EffectiveVerdict(), r.Method)
}

// subject is what the engine knows about the place a sample came from.
type subject struct {
	id, name, business, eventID, kind string
	point                             *assurance.Point
}

func (e *Engine) subjectOf(id string) subject {
	s := subject{id: id, business: id}
	var site store.Site
	if id != "" && e.st.Get("site", id, &site) == nil {
		s.name, s.eventID, s.kind = site.Name, site.EventID, site.Kind
		if site.Business != "" {
			s.business = site.Business
		}
		if len(site.Loc) == 2 {
			s.point = &assurance.Point{Lon: site.Loc[0], Lat: site.Loc[1]}
		}
	}
	return s
}

// OpenFromResult opens an incident for a stored result that calls for one
// (and dispatches it): the ingest path. A result that already has an
// incident returns that incident, unchanged — decided in the database
// (claimResult), so that two engines given the same result at once open
// one incident between them.
func (e *Engine) OpenFromResult(r wire.Result) (Incident, error) {
	// A repeat of a result that already opened an incident (the enzyme
	// method's repeats ×2), whatever its verdict, belongs to that
	// incident: it may end the incident's wait for repeats.
	if r.RepeatOf != "" {
		if id := e.incidentOfResult(r.RepeatOf); id != "" {
			return e.recordRepeat(id, r)
		}
	}
	kind, ok := triggerOf(&r)
	if !ok {
		return Incident{}, ErrNoTrigger
	}
	e.mu.Lock()
	if id, ok := e.byResult[r.ResultID]; ok {
		e.mu.Unlock()
		return e.Incident(id)
	}
	now := e.deps.Now()
	sub := e.subjectOf(r.StallID)
	if sub.point == nil && r.KioskID != "" {
		var k store.Kiosk
		if e.st.Get("kiosk", r.KioskID, &k) == nil && len(k.Loc) == 2 {
			sub.point = &assurance.Point{Lon: k.Loc[0], Lat: k.Loc[1]}
		}
	}
	received := now
	if r.ReceivedAt != nil && !r.ReceivedAt.After(now) {
		received = *r.ReceivedAt
	}
	observed := r.MeasuredAt
	if observed.IsZero() || observed.After(received) {
		observed = received // a kiosk clock ahead of ours: the party cannot have it before we did
	}
	tr := assurance.Trigger{Kind: kind, EventID: cmp.Or(r.EventID, sub.eventID), SubjectID: cmp.Or(r.StallID, r.KioskID),
		ResultID: r.ResultID, Item: cmp.Or(r.Item, r.Analyte), Method: r.Method,
		ObservedAt: observed, ReceivedAt: received, Where: sub.point}
	if kind.Rapid() {
		tr.Verdict = r.EffectiveVerdict()
	}
	if r.Sample.Name != "" {
		tr.Description = r.Sample.Name
	}
	operator := cmp.Or(r.Operator, "kiosk:"+r.KioskID)
	act := assurance.Act{
		Actor: assurance.Actor{UserID: operator, Role: assurance.RoleOperator}, At: now, Where: sub.point,
		Note: fmt.Sprintf("快检终端 %s 结果自动预警 / opened automatically from kiosk %s result %s", r.KioskID, r.KioskID, r.ResultID)}
	wait := e.repeatWaitFor(&r, kind, now)
	rec, t, existing, derr, alarm, err := e.openTx(tr, act, now, wait == nil, func(inc assurance.Incident) Incident {
		var w *RepeatWait
		if wait != nil {
			c := *wait
			w = &c
		}
		return Incident{Incident: inc, KioskID: r.KioskID, SubjectName: sub.name, Business: sub.business, Analyte: cmp.Or(r.Analyte, r.Item),
			ItemName: r.Item, Repeat: w}
	})
	e.mu.Unlock()
	if err != nil {
		return Incident{}, fmt.Errorf("assure: open incident for result %s: %w", r.ResultID, err)
	}
	if existing != "" {
		return e.indexStored(existing)
	}

	e.afterOpen(rec, t, derr, alarm)
	// Credit: the result counts against the business (once per result).
	reason := map[assurance.TriggerKind]assurance.CreditReason{
		assurance.TriggerPositive: assurance.CreditPositive, assurance.TriggerSuspicious: assurance.CreditSuspicious,
		assurance.TriggerTemperature: assurance.CreditTemperatureBreach}[kind]
	e.bookCredit(sub, assurance.CreditEvent{Reason: reason, At: now, Ref: r.ResultID, Note: rec.ID, Source: assurance.CreditFromResult})
	if kind == assurance.TriggerPositive && sub.point != nil {
		e.addPositive(rec, now)
	}
	return e.Incident(rec.ID)
}

// incidentOfResult returns the incident result opened, or "": from the
// index, else from its claim in the database (an incident another
// instance opened since the index was built).
func (e *Engine) incidentOfResult(result string) string {
	e.mu.Lock()
	id, ok := e.byResult[result]
	e.mu.Unlock()
	if ok {
		return id
	}
	var c resultClaim
	if e.st.Get(kindResultClaim, result, &c) != nil || c.Incident == "" {
		return ""
	}
	rec, err := e.indexStored(c.Incident)
	if err != nil {
		return ""
	}
	return rec.ID
}

// indexStored reads incident id (one another engine stored) and puts it
// in the index.
func (e *Engine) indexStored(id string) (Incident, error) {
	var rec Incident
	if err := e.st.Get(kindIncident, id, &rec); err != nil {
		return Incident{}, err
	}
	e.mu.Lock()
	e.index(&rec)
	e.mu.Unlock()
	return e.view(rec), nil
}

// openTx opens an incident in one store transaction: the trigger's
// result claimed (when it names one), the day's next number taken, the
// incident built by build and assigned to the nearest eligible team
// (when dispatch is set and one is free), stored, and its incident_warned
// alarm stored with it. When the result already has an incident it
// writes nothing and returns that incident's id as existing. Caller holds
// mu; the team is chosen before the transaction (it reads the store).
func (e *Engine) openTx(tr assurance.Trigger, act assurance.Act, now time.Time, dispatch bool, build func(assurance.Incident) Incident) (rec Incident, t Team, existing string, derr error, alarm store.Alarm, err error) {
	var metres float64
	chooseErr := errors.New("not dispatched")
	if dispatch {
		t, metres, chooseErr = e.nearest(tr.Where, tr.SubjectID)
	}
	day := now.In(e.zone()).Format("20060102")
	hint := e.daySeq[day]
	err = retryClash(func() error {
		return e.st.Update(func(tx *store.Tx) error {
			existing, derr = "", chooseErr
			if tr.ResultID != "" {
				ex, err := claimResult(tx, tr.ResultID)
				if err != nil || ex != "" {
					existing = ex
					return err
				}
			}
			id, err := nextIncidentID(tx, day, hint)
			if err != nil {
				return err
			}
			inc, err := assurance.OpenIncident(id, tr, act)
			if err != nil {
				return &openError{err}
			}
			rec = build(inc)
			if derr == nil && !rec.awaiting() {
				derr = e.assign(&rec, now, t, metres)
			}
			if err := tx.Create(kindIncident, id, rec); err != nil {
				return err
			}
			if tr.ResultID != "" {
				if err := setClaim(tx, tr.ResultID, id); err != nil {
					return err
				}
			}
			alarm, err = tx.RaiseAlarm(e.warnedAlarm(rec, t))
			return err
		})
	})
	var oe *openError
	if errors.As(err, &oe) {
		err = oe.err
	}
	if err == nil && existing == "" {
		e.index(&rec)
	}
	return rec, t, existing, derr, alarm, err
}

// openError carries the protocol's refusal to open out of the
// transaction unchanged (the API maps it to HTTP).
type openError struct{ err error }

func (o *openError) Error() string { return o.err.Error() }
func (o *openError) Unwrap() error { return o.err }

// OpenIncident opens an incident by hand (a complaint, a breach seen on a
// patrol) and dispatches it like an automatic one.
func (e *Engine) OpenIncident(tr assurance.Trigger, act assurance.Act) (Incident, error) {
	now := e.deps.Now()
	act.At = now
	sub := e.subjectOf(tr.SubjectID)
	if tr.Where == nil {
		tr.Where = sub.point
	}
	if tr.EventID == "" {
		tr.EventID = sub.eventID
	}
	if tr.ObservedAt.IsZero() || tr.ObservedAt.After(now) {
		tr.ObservedAt = now
	}
	if tr.ReceivedAt.IsZero() || tr.ReceivedAt.After(now) || tr.ReceivedAt.Before(tr.ObservedAt) {
		tr.ReceivedAt = now
	}
	e.mu.Lock()
	if tr.ResultID != "" {
		if id, ok := e.byResult[tr.ResultID]; ok {
			e.mu.Unlock()
			return Incident{}, resultHasIncident(tr.ResultID, id)
		}
	}
	rec, t, existing, derr, alarm, err := e.openTx(tr, act, now, true, func(inc assurance.Incident) Incident {
		return Incident{Incident: inc, SubjectName: sub.name, Business: sub.business}
	})
	e.mu.Unlock()
	if err != nil {
		return Incident{}, err
	}
	if existing != "" {
		return Incident{}, resultHasIncident(tr.ResultID, existing)
	}
	e.afterOpen(rec, t, derr, alarm)
	return e.Incident(rec.ID)
}

func resultHasIncident(result, id string) error {
	return &assurance.PreconditionError{Action: "incident open", Rule: "result_has_incident",
		Detail: fmt.Sprintf("result %s already opened incident %s", result, id)}
}

// openWords says, in zh-CN and English, what happens next to a new
// incident: waiting for repeats, assigned to team t, or waiting for a
// team.
func (e *Engine) openWords(rec Incident, t Team) (zh, en string) {
	switch {
	case rec.awaiting():
		by := rec.Repeat.Due.In(e.zone()).Format("15:04")
		return fmt.Sprintf("待复测：请对同一样品复测 %d 次（%s 前），复测结果确认后派员", rec.Repeat.Needed, by),
			fmt.Sprintf("awaiting repeat: repeat the same sample %d× (by %s); a team is sent once the repeats confirm it", rec.Repeat.Needed, by)
	case rec.TeamID != "":
		d := rec.Dispatches[len(rec.Dispatches)-1]
		by := d.Deadline.In(e.zone()).Format("15:04")
		return fmt.Sprintf("已交办%s（相距 %.0f 米，%s 前到场）", cmp.Or(t.Name, rec.TeamID), d.Metres, by),
			fmt.Sprintf("assigned to %s (%.0f m away, on site by %s)", cmp.Or(t.NameEN, t.Name, rec.TeamID), d.Metres, by)
	}
	return "尚无可派保障组，指挥中心将尽快派员", "no team is free yet; the command centre will send one"
}

// warnedAlarm is the incident_warned alarm of a new incident (stored in
// the transaction that creates the incident).
func (e *Engine) warnedAlarm(rec Incident, t Team) store.Alarm {
	tl := rec.Trigger.Kind.Label()
	teamZH, teamEN := e.openWords(rec, t)
	return store.Alarm{Code: "incident_warned", IncidentID: rec.ID, EventID: rec.Trigger.EventID, ResultID: rec.Trigger.ResultID,
		KioskID: rec.KioskID, Loc: locOf(rec.Trigger.Where), At: rec.OpenedAt,
		Message: fmt.Sprintf("预警 %s：%s %s%s，%s / warning %s: %s at %s (%s), %s",
			rec.ID, tl.ZH, cmp.Or(rec.SubjectName, rec.Trigger.SubjectID), itemZH(rec.Trigger.Item), teamZH,
			rec.ID, tl.EN, rec.Trigger.SubjectID, rec.Trigger.Item, teamEN)}
}

// afterOpen tells the kiosk, publishes the warning (alarm, stored with the
// incident), the incident and the team t it was assigned to.
func (e *Engine) afterOpen(rec Incident, t Team, dispatchErr error, alarm store.Alarm) {
	tl := rec.Trigger.Kind.Label()
	teamZH, teamEN := e.openWords(rec, t)
	if rec.KioskID != "" && e.deps.Notify != nil {
		e.deps.Notify(rec.KioskID, wire.Notice{ResultID: rec.Trigger.ResultID, IncidentNo: rec.ID,
			Message: fmt.Sprintf("%s：已立风险处置事件 %s，%s。请暂停销售、保留样品，当事人可在 4 小时内申请复检。 / %s: incident %s opened, %s. Stop the sale and keep the sample; the party may request a re-test within 4 hours.",
				tl.ZH, rec.ID, teamZH, tl.EN, rec.ID, teamEN)})
	}
	e.publish(wire.KindAlert, alarm)
	if dispatchErr != nil && !rec.awaiting() {
		e.alert(store.Alarm{Code: "no_team_available", IncidentID: rec.ID, EventID: rec.Trigger.EventID, Loc: locOf(rec.Trigger.Where),
			Message: fmt.Sprintf("风险处置事件 %s 暂未交办 / incident %s not dispatched yet: %v", rec.ID, rec.ID, dispatchErr)})
	}
	e.publish(wire.KindIncident, e.view(rec))
	if rec.TeamID != "" {
		e.publishTeam(rec.TeamID)
	}
}

func locOf(p *assurance.Point) []float64 {
	if p == nil {
		return nil
	}
	return []float64{p.Lon, p.Lat}
}

// alert publishes a transient alert (seq 0, not stored): a passing
// condition whose consequence is raised by the deadline loop if it lasts.
func (e *Engine) alert(a store.Alarm) {
	if a.At.IsZero() {
		a.At = e.deps.Now()
	}
	e.publish(wire.KindAlert, a)
}

// busyTeams returns team id → the incident keeping it busy. Caller holds
// mu.
func (e *Engine) busyTeams() map[string]string {
	busy := map[string]string{}
	for _, id := range sortedKeys(e.open) {
		inc := e.open[id]
		if inc.TeamID != "" && slices.Contains(busyStates, inc.State) {
			if _, ok := busy[inc.TeamID]; !ok {
				busy[inc.TeamID] = id
			}
		}
	}
	return busy
}

// Eligible reports whether a team may be sent to an incident at subject:
// on duty, not busy, and a patrol team or the team stationed at that very
// kitchen (a stationed team does not leave its post).
func Eligible(t Team, subjectID string, busy bool) bool {
	return t.OnDuty && !busy && (t.Mode == ModePatrol || (t.KitchenID != "" && t.KitchenID == subjectID))
}

// nearest picks the nearest eligible team for an incident. Caller holds mu.
func (e *Engine) nearest(target *assurance.Point, subjectID string) (Team, float64, error) {
	if target == nil {
		return Team{}, 0, fmt.Errorf("the subject %q has no position on the map", subjectID)
	}
	teams, err := store.All[Team](e.st, kindTeam)
	if err != nil {
		return Team{}, 0, err
	}
	busy := e.busyTeams()
	var cands []geo.Candidate
	byID := map[string]Team{}
	for _, t := range teams {
		p := t.at()
		if p == nil {
			continue
		}
		_, isBusy := busy[t.ID]
		cands = append(cands, geo.Candidate{ID: t.ID, Point: orb.Point{p.Lon, p.Lat}, Available: Eligible(t, subjectID, isBusy)})
		byID[t.ID] = t
	}
	c, d, err := geo.NearestAvailable(orb.Point{target.Lon, target.Lat}, cands)
	if errors.Is(err, geo.ErrNoneAvailable) {
		return Team{}, 0, ErrNoTeam
	}
	if err != nil {
		return Team{}, 0, err
	}
	return byID[c.ID], d, nil
}

// choose returns the team to send: teamID, or the nearest eligible one.
// Caller holds mu.
func (e *Engine) choose(rec *Incident, teamID string) (Team, float64, error) {
	if teamID == "" {
		return e.nearest(rec.Trigger.Where, rec.Trigger.SubjectID)
	}
	t, err := e.team(teamID)
	if err != nil {
		return Team{}, 0, err
	}
	var metres float64
	if p := t.at(); p != nil && rec.Trigger.Where != nil {
		metres = geo.Distance(orb.Point{p.Lon, p.Lat}, orb.Point{rec.Trigger.Where.Lon, rec.Trigger.Where.Lat})
	}
	return t, metres, nil
}

// assign applies the automatic assignment of rec to t. It reads nothing
// from the store, so it may run inside store.Modify.
func (e *Engine) assign(rec *Incident, now time.Time, t Team, metres float64) error {
	deadline := time.Time{}
	if d := e.pc.Incident.Deadlines[assurance.IncidentAssigned]; d > 0 {
		deadline = now.Add(d)
	}
	step := assurance.IncidentStep{To: assurance.IncidentAssigned, TeamID: t.ID, Deadline: deadline,
		Act: assurance.Act{Actor: actorSystem(assurance.RoleCommander), At: now,
			Note: fmt.Sprintf("自动交办最近的可派保障组 %s（%.0f 米） / nearest available team %s (%.0f m)", t.Name, metres, t.ID, metres)}}
	if err := rec.Apply(step, e.pc); err != nil {
		return err
	}
	rec.Dispatches = append(rec.Dispatches, Dispatch{TeamID: t.ID, Metres: metres, At: now, Deadline: deadline, By: "system", Auto: true})
	return nil
}

// Step is a transition requested through the API: the protocol's step
// plus where the request came from.
type Step struct {
	assurance.IncidentStep
	// Origin is the client's address, kept with the audit entry.
	Origin string
}

// Transition applies one step to an incident. The engine sets the time
// (its own clock), fills in where from the team's last position when the
// request did not say, checks that cited evidence refs exist, and for an
// assignment without a team picks the nearest available one. Refusals are
// the protocol's errors.
func (e *Engine) Transition(id string, s Step) (Incident, error) {
	now := e.deps.Now()
	s.At = now
	if s.Where == nil {
		s.Where = e.whereOf(s.Actor, now)
	}
	e.mu.Lock()
	var cur Incident
	if err := e.st.Get(kindIncident, id, &cur); err != nil {
		e.mu.Unlock()
		return Incident{}, err
	}
	oldTeam := cur.TeamID
	if s.To == assurance.IncidentSignedOff && cur.Complaint != nil && cur.Complaint.Reply == nil {
		e.mu.Unlock()
		return Incident{}, &assurance.PreconditionError{Action: "incident " + id + " → signed_off", Rule: "complaint_reply_required",
			Detail: "answer the complainant first (POST /api/v1/incidents/" + id + "/reply); they see the reply with their follow-up code"}
	}
	// Choose the team outside the write transaction (it reads the teams).
	var chosen Team
	var metres float64
	auto := false
	if s.To == assurance.IncidentAssigned && cur.State.CanMoveTo(assurance.IncidentAssigned) {
		var err error
		chosen, metres, err = e.choose(&cur, s.TeamID)
		switch {
		case err != nil && s.TeamID == "":
			e.mu.Unlock()
			return Incident{}, &assurance.PreconditionError{Action: "incident " + id + " → assigned", Rule: "no_team_available",
				Detail: fmt.Sprintf("no team can be sent automatically (%v); name one in team_id", err)}
		case err != nil:
			e.mu.Unlock()
			return Incident{}, &assurance.ValidationError{Field: "team_id", Problem: err.Error()}
		}
		auto = s.TeamID == ""
		s.TeamID = chosen.ID
	}
	rec, err := store.Modify(e.st, kindIncident, id, func(r *Incident) error {
		if err := checkEvidence(r.Evidence, s.Evidence); err != nil {
			return err
		}
		if err := r.Apply(s.IncidentStep, e.pc); err != nil {
			return err
		}
		if s.To == assurance.IncidentAssigned {
			due, _ := r.Due(e.pc)
			r.Dispatches = append(r.Dispatches, Dispatch{TeamID: chosen.ID, Metres: metres, At: now, Deadline: due, By: s.Actor.UserID, Auto: auto})
		}
		r.Origins = append(r.Origins, Origin{Seq: len(r.Audit), Addr: s.Origin})
		return nil
	})
	if err == nil {
		e.index(&rec)
	}
	e.mu.Unlock()
	if err != nil {
		return Incident{}, err
	}
	e.afterTransition(rec, s.To, oldTeam)
	return e.view(rec), nil
}

// afterTransition books credit and publishes.
func (e *Engine) afterTransition(rec Incident, to assurance.IncidentState, oldTeam string) {
	sub := subject{id: rec.Trigger.SubjectID, business: cmp.Or(rec.Business, rec.Trigger.SubjectID), name: rec.SubjectName}
	now := rec.StateSince
	switch {
	case to == assurance.IncidentConfirmedPositive:
		e.bookCredit(sub, assurance.CreditEvent{Reason: assurance.CreditConfirmedPositive, At: now, Ref: rec.ID, Source: assurance.CreditFromIncident})
	case to == assurance.IncidentCleared && rec.Trigger.Kind == assurance.TriggerPositive:
		// The lab cleared a rapid positive: give its points back.
		e.bookCredit(sub, assurance.CreditEvent{Reason: assurance.CreditCleared, At: now, Ref: rec.ID, Source: assurance.CreditFromIncident})
	case to == assurance.IncidentDisposed && rec.Trigger.Kind == assurance.TriggerComplaint:
		e.bookCredit(sub, assurance.CreditEvent{Reason: assurance.CreditComplaint, At: now, Ref: rec.ID, Source: assurance.CreditFromIncident})
	}
	e.publish(wire.KindIncident, e.view(rec))
	if oldTeam != "" && oldTeam != rec.TeamID {
		e.publishTeam(oldTeam)
	}
	if rec.TeamID != "" {
		e.publishTeam(rec.TeamID)
	}
}

// whereOf returns the actor's team's position when it is recent.
func (e *Engine) whereOf(a assurance.Actor, now time.Time) *assurance.Point {
	if a.TeamID == "" {
		return nil
	}
	t, err := e.team(a.TeamID)
	if err != nil || t.Position == nil || now.Sub(t.PositionAt) > 15*time.Minute {
		return nil
	}
	p := *t.Position
	return &p
}

// checkEvidence refuses a cited "ev-" ref that was not uploaded for this
// record. Other refs (a lab report number, a seal number) are kept as
// written.
func checkEvidence(have []Evidence, cited []assurance.EvidenceRef) error {
	for i, c := range cited {
		if len(c.Ref) > 3 && c.Ref[:3] == "ev-" && !slices.ContainsFunc(have, func(h Evidence) bool { return h.Ref == c.Ref }) {
			return &assurance.ValidationError{Field: fmt.Sprintf("evidence[%d].ref", i),
				Problem: fmt.Sprintf("%s was not uploaded for this record; upload it first (POST …/evidence) and cite the ref it returns", c.Ref)}
		}
	}
	return nil
}

// RequestRetest records a party's re-test request (复检).
func (e *Engine) RequestRetest(id, party string, method assurance.TestMethod, act assurance.Act, origin string) (Incident, error) {
	return e.modifyIncident(id, origin, func(r *Incident) error {
		act.At = e.deps.Now()
		return r.RequestRetest(party, method, act, e.pc)
	})
}

// WaiveRetest records the party's written waiver of a re-test.
func (e *Engine) WaiveRetest(id, party string, act assurance.Act, origin string) (Incident, error) {
	return e.modifyIncident(id, origin, func(r *Incident) error {
		act.At = e.deps.Now()
		if err := checkEvidence(r.Evidence, act.Evidence); err != nil {
			return err
		}
		return r.WaiveRetest(party, act)
	})
}

func (e *Engine) modifyIncident(id, origin string, fn func(*Incident) error) (Incident, error) {
	e.mu.Lock()
	rec, err := store.Modify(e.st, kindIncident, id, func(r *Incident) error {
		if err := fn(r); err != nil {
			return err
		}
		r.Origins = append(r.Origins, Origin{Seq: len(r.Audit), Addr: origin})
		return nil
	})
	if err == nil {
		e.index(&rec)
	}
	e.mu.Unlock()
	if err != nil {
		return Incident{}, err
	}
	v := e.view(rec)
	e.publish(wire.KindIncident, v)
	return v, nil
}

// Incident returns one incident with its derived fields.
func (e *Engine) Incident(id string) (Incident, error) {
	var rec Incident
	if err := e.st.Get(kindIncident, id, &rec); err != nil {
		return Incident{}, err
	}
	return e.view(rec), nil
}

func (e *Engine) view(rec Incident) Incident {
	rec.StateLabel = rec.State.Label()
	rec.DueAt = time.Time{}
	if due, ok := rec.Incident.Due(e.pc); ok {
		rec.DueAt = due
	}
	if rec.Repeat != nil {
		w := *rec.Repeat
		w.StateLabel = w.State.Label()
		rec.Repeat = &w
		if rec.awaiting() && rec.State == assurance.IncidentWarned {
			rec.DueAt = w.Due
		}
	}
	return rec
}

// IncidentFilter selects incidents. Zero fields do not filter.
type IncidentFilter struct {
	State    assurance.IncidentState
	EventID  string
	TeamID   string
	Subject  string
	OpenOnly bool      // not closed
	Since    time.Time // opened at or after
	Events   []string  // the user's event scope (empty: all)
	Limit    int       // default 200
}

// Incidents returns incidents, newest first.
func (e *Engine) Incidents(f IncidentFilter) ([]Incident, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	var out []Incident
	err := store.List(e.st, kindIncident, func(_ string, r Incident) bool {
		switch {
		case f.State != "" && r.State != f.State,
			f.EventID != "" && r.Trigger.EventID != f.EventID,
			f.TeamID != "" && r.TeamID != f.TeamID,
			f.Subject != "" && r.Trigger.SubjectID != f.Subject,
			f.OpenOnly && r.State == assurance.IncidentClosed,
			!f.Since.IsZero() && r.OpenedAt.Before(f.Since),
			!InScope(f.Events, r.Trigger.EventID):
			return true
		}
		out = append(out, e.view(r))
		return true
	})
	slices.SortFunc(out, func(a, b Incident) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), cmp.Compare(b.ID, a.ID))
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, err
}

// InScope reports whether a record of event is visible to a user scoped
// to events (empty scope: everything; a scoped user sees only records of
// those events).
func InScope(scope []string, event string) bool {
	return len(scope) == 0 || (event != "" && slices.Contains(scope, event))
}

// escalate raises the escalations whose level has not been raised yet.
// The index proposes; each escalation is decided again on the stored
// incident, inside the transaction that stores its mark and its alarm
// together (once.go), so two engines never raise the same one.
func (e *Engine) escalate() {
	now := e.deps.Now()
	var alerts []store.Alarm
	var changed []Incident
	e.mu.Lock()
	list := make([]assurance.Incident, 0, len(e.open))
	for _, id := range sortedKeys(e.open) {
		list = append(list, *e.open[id])
	}
	for _, x := range assurance.Escalations(list, now, e.pc) {
		if w, ok := e.waits[x.IncidentID]; ok && w.State == assurance.RepeatAwaiting && x.State == assurance.IncidentWarned {
			continue // waiting for repeats is not being late to dispatch; the wait has its own deadline
		}
		if marked(e.marks[x.IncidentID], x) {
			continue
		}
		var rec Incident
		var a store.Alarm
		raised := false
		err := e.st.Update(func(tx *store.Tx) error {
			rec, raised = Incident{}, false
			if err := tx.Get(kindIncident, x.IncidentID, &rec); err != nil {
				return err
			}
			y, ok := e.escalationOf(&rec, x, now)
			if !ok {
				return nil // decided since the index was built: moved on, or raised by another engine
			}
			sl, tl := y.State.Label(), y.EscalateTo.Label()
			var err error
			a, err = tx.RaiseAlarm(store.Alarm{Code: "incident_overdue", IncidentID: y.IncidentID, EventID: y.EventID, Level: y.Level,
				Loc: locOf(rec.Trigger.Where), At: now,
				Message: fmt.Sprintf("风险处置事件 %s 处于「%s」已超期 %s（第 %d 级，报%s） / incident %s overdue in %s by %s (level %d, to the %s)",
					y.IncidentID, sl.ZH, assurance.DurationZH(y.Overdue), y.Level, tl.ZH,
					y.IncidentID, sl.EN, assurance.DurationEN(y.Overdue), y.Level, tl.EN)})
			if err != nil {
				return err
			}
			rec.Escalations = append(rec.Escalations, EscalationMark{State: y.State, Since: y.Since, Level: y.Level, At: now, AlarmSeq: a.Seq})
			raised = true
			return tx.Put(kindIncident, y.IncidentID, rec)
		})
		if err != nil {
			e.log.Error("assure: cannot raise and record escalation", "incident", x.IncidentID, "err", err)
			continue
		}
		e.index(&rec)
		if raised {
			alerts = append(alerts, a)
			changed = append(changed, rec)
		}
	}
	e.mu.Unlock()
	for _, a := range alerts {
		e.publish(wire.KindAlert, a)
	}
	for _, rec := range changed {
		e.publish(wire.KindIncident, e.view(rec))
	}
}

// marked reports whether marks hold escalation x (or a higher level of
// the same state since the same time).
func marked(marks []EscalationMark, x assurance.Escalation) bool {
	return slices.ContainsFunc(marks, func(m EscalationMark) bool {
		return m.State == x.State && m.Since.Equal(x.Since) && m.Level >= x.Level
	})
}

// escalationOf re-derives escalation x from the stored incident rec: the
// one of the same state and level still due and not marked, if any.
func (e *Engine) escalationOf(rec *Incident, x assurance.Escalation, now time.Time) (assurance.Escalation, bool) {
	if rec.awaiting() && x.State == assurance.IncidentWarned {
		return assurance.Escalation{}, false
	}
	for _, y := range assurance.Escalations([]assurance.Incident{rec.Incident}, now, e.pc) {
		if y.State == x.State && y.Since.Equal(x.Since) && y.Level == x.Level && !marked(rec.Escalations, y) {
			return y, true
		}
	}
	return assurance.Escalation{}, false
}

// redispatch assigns incidents still waiting in warned, oldest first, as
// teams become free.
func (e *Engine) redispatch() {
	now := e.deps.Now()
	var done []Incident
	e.mu.Lock()
	var waiting []*assurance.Incident
	for _, inc := range e.open {
		if _, held := e.waits[inc.ID]; !held && inc.State == assurance.IncidentWarned && inc.Trigger.Where != nil {
			waiting = append(waiting, inc)
		}
	}
	slices.SortFunc(waiting, func(a, b *assurance.Incident) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, w := range waiting {
		t, metres, err := e.nearest(w.Trigger.Where, w.Trigger.SubjectID)
		if err != nil {
			continue
		}
		rec, err := store.Modify(e.st, kindIncident, w.ID, func(r *Incident) error {
			if r.State != assurance.IncidentWarned || r.awaiting() {
				return errSkip // assigned (or held) since the index was built
			}
			return e.assign(r, now, t, metres)
		})
		if errors.Is(err, errSkip) {
			e.index(&rec) // the stored record is newer than the index
		}
		if err != nil {
			continue
		}
		e.index(&rec)
		done = append(done, rec)
	}
	e.mu.Unlock()
	for _, rec := range done {
		e.publish(wire.KindIncident, e.view(rec))
		e.publishTeam(rec.TeamID)
	}
}

var errSkip = errors.New("skip")

// OpenAt returns the open (not closed) incident that holds a site
// alarming on the map, or nil: of the site's open incidents, one opened by
// a positive before one opened by a temperature breach before a
// suspicious one or a complaint, and of those the newest. The live map and
// the REST routes put it on the site's state
// (wire.StallState.OpenIncident). It takes only a lock of its own, so the
// live hub may call it while it builds a snapshot.
func (e *Engine) OpenAt(subject string) *wire.StallIncident {
	e.holdMu.Lock()
	defer e.holdMu.Unlock()
	return bestHold(e.holds[subject])
}

// OpenAtAll is OpenAt for every site that has an open incident.
func (e *Engine) OpenAtAll() map[string]*wire.StallIncident {
	e.holdMu.Lock()
	defer e.holdMu.Unlock()
	out := make(map[string]*wire.StallIncident, len(e.holds))
	for id, hs := range e.holds {
		if h := bestHold(hs); h != nil {
			out[id] = h
		}
	}
	return out
}

// hold is what OpenAt needs of one open incident.
type hold struct {
	id     string
	state  assurance.IncidentState
	kind   assurance.TriggerKind
	v      assay.Verdict
	opened time.Time
}

func (h hold) rank() int {
	switch h.kind {
	case assurance.TriggerPositive:
		return 3
	case assurance.TriggerTemperature:
		return 2
	case assurance.TriggerSuspicious:
		return 1
	}
	return 0
}

// setHold records an incident's hold on its site, or drops it once the
// incident is closed. Caller holds mu (or is rebuilding).
func (e *Engine) setHold(inc *Incident) {
	subject := inc.Trigger.SubjectID
	if subject == "" {
		return
	}
	e.holdMu.Lock()
	defer e.holdMu.Unlock()
	if inc.State == assurance.IncidentClosed {
		delete(e.holds[subject], inc.ID)
		if len(e.holds[subject]) == 0 {
			delete(e.holds, subject)
		}
		return
	}
	v := inc.Trigger.Verdict
	switch {
	case inc.Trigger.Kind == assurance.TriggerTemperature:
		v = assay.Fail
	case v == "" && inc.Trigger.Kind == assurance.TriggerPositive:
		v = assay.Positive
	case v == "":
		v = assay.Suspicious // a complaint: alarming, not a measured positive
	}
	if e.holds[subject] == nil {
		e.holds[subject] = map[string]hold{}
	}
	e.holds[subject][inc.ID] = hold{id: inc.ID, state: inc.State, kind: inc.Trigger.Kind, v: v, opened: inc.OpenedAt}
}

func bestHold(hs map[string]hold) *wire.StallIncident {
	var best *hold
	for _, h := range hs {
		if best == nil || h.rank() > best.rank() || h.rank() == best.rank() && (h.opened.After(best.opened) || h.opened.Equal(best.opened) && h.id > best.id) {
			best = &h
		}
	}
	if best == nil {
		return nil
	}
	return &wire.StallIncident{ID: best.id, State: string(best.state), Verdict: best.v}
}

// codeLike is an identifier sent where a name belongs (an analyte code
// such as organophosphate_carbamate when the kiosk sent no item name).
var codeLike = regexp.MustCompile(`^[a-z0-9_]+$`)

// itemZH is a test item for a zh-CN message: "（有机磷和氨基甲酸酯类农药）",
// or nothing when the item is a code with no Chinese name here (the page
// shows the analyte's label from its own table; the message stays zh).
func itemZH(item string) string {
	if item == "" || codeLike.MatchString(item) {
		return ""
	}
	return "（" + item + "）"
}
