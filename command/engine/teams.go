package engine

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// team loads a team as stored (without derived fields).
func (e *Engine) team(id string) (Team, error) {
	var t Team
	err := e.st.Get(kindTeam, id, &t)
	return t, err
}

// withStatus fills a team's derived status from busy (team → incident).
func withStatus(t Team, busy map[string]string) Team {
	t.IncidentID = ""
	switch inc, ok := busy[t.ID]; {
	case !t.OnDuty:
		t.Status = TeamOffDuty
	case ok:
		t.Status, t.IncidentID = TeamBusy, inc
	default:
		t.Status = TeamAvailable
	}
	t.StatusL = labelOf(t.Status)
	return t
}

// teamLabels are the labels of the engine's own identifiers that the
// protocol's label table does not have.
var teamLabels = map[string]assurance.Label{
	TeamAvailable: {ZH: "待命", EN: "Available"},
	TeamBusy:      {ZH: "处置中", EN: "Busy"},
	TeamOffDuty:   {ZH: "休息", EN: "Off duty"},
}

func labelOf(id string) assurance.Label {
	if l, ok := teamLabels[id]; ok {
		return l
	}
	if l, ok := assurance.LabelOf(id); ok {
		return l
	}
	return assurance.Label{ZH: id, EN: id}
}

// Team returns one team with its status.
func (e *Engine) Team(id string) (Team, error) {
	t, err := e.team(id)
	if err != nil {
		return Team{}, err
	}
	e.mu.Lock()
	busy := e.busyTeams()
	e.mu.Unlock()
	return withStatus(t, busy), nil
}

// Teams returns every team with its status, by id.
func (e *Engine) Teams() ([]Team, error) {
	ts, err := store.All[Team](e.st, kindTeam)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	busy := e.busyTeams()
	e.mu.Unlock()
	for i := range ts {
		ts[i] = withStatus(ts[i], busy)
	}
	return ts, nil
}

func (e *Engine) publishTeam(id string) {
	if e.deps.Publish == nil {
		return
	}
	if t, err := e.Team(id); err == nil {
		e.publish(wire.KindTeam, t)
	}
}

// PutTeam creates or replaces a team (its position is kept when it
// exists). Commanders and admins only.
func (e *Engine) PutTeam(t Team, actor assurance.Actor) (Team, error) {
	if actor.Role != assurance.RoleAdmin && actor.Role != assurance.RoleCommander {
		return Team{}, &assurance.RoleError{Action: "team " + t.ID + " save", Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander}}
	}
	switch {
	case t.ID == "" || strings.ContainsAny(t.ID, " :*?/"):
		return Team{}, &assurance.ValidationError{Field: "id", Problem: "required, without spaces or : * ? /"}
	case strings.TrimSpace(t.Name) == "":
		return Team{}, &assurance.ValidationError{Field: "name", Problem: "required, e.g. 第一保障组"}
	case t.Mode != ModeStationed && t.Mode != ModePatrol:
		return Team{}, &assurance.ValidationError{Field: "mode", Problem: fmt.Sprintf("%q is not a mode; use stationed (驻点保障) or patrol (巡查督查)", t.Mode)}
	case t.Mode == ModeStationed && t.KitchenID == "":
		return Team{}, &assurance.ValidationError{Field: "kitchen_id", Problem: "a stationed team needs the kitchen it is posted at"}
	}
	for _, p := range []*assurance.Point{t.Home, t.Position} {
		if p != nil && geo.ValidatePoint(orb.Point{p.Lon, p.Lat}) != nil {
			return Team{}, &assurance.ValidationError{Field: "home", Problem: fmt.Sprintf("(%v, %v) is not a WGS-84 position", p.Lon, p.Lat)}
		}
	}
	var old Team
	if e.st.Get(kindTeam, t.ID, &old) == nil && t.Position == nil {
		t.Position, t.PositionAt = old.Position, old.PositionAt
	}
	t.Status, t.IncidentID = "", ""
	e.mu.Lock()
	err := e.st.Put(kindTeam, t.ID, t)
	e.mu.Unlock()
	if err != nil {
		return Team{}, err
	}
	e.publishTeam(t.ID)
	return e.Team(t.ID)
}

// mayActForTeam checks that an inspector acts only for their own team.
func mayActForTeam(actor assurance.Actor, teamID, action string) error {
	switch actor.Role {
	case assurance.RoleAdmin, assurance.RoleCommander:
		return nil
	case assurance.RoleInspector:
		if actor.TeamID == teamID {
			return nil
		}
		return &assurance.RoleError{Action: action, Role: actor.Role,
			Reason: fmt.Sprintf("inspector %s is on team %q, not %q", actor.UserID, actor.TeamID, teamID)}
	}
	return &assurance.RoleError{Action: action, Role: actor.Role,
		Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector}}
}

// ReportPosition records a team's position (WGS-84) at the engine's time
// and publishes it. Inspectors report for their own team only.
func (e *Engine) ReportPosition(id string, p assurance.Point, actor assurance.Actor) (Team, error) {
	if err := mayActForTeam(actor, id, "team "+id+" position"); err != nil {
		return Team{}, err
	}
	if err := geo.ValidatePoint(orb.Point{p.Lon, p.Lat}); err != nil {
		return Team{}, &assurance.ValidationError{Field: "lon", Problem: err.Error()}
	}
	now := e.deps.Now()
	_, err := store.Modify(e.st, kindTeam, id, func(t *Team) error {
		t.Position, t.PositionAt = &p, now
		return nil
	})
	if err != nil {
		return Team{}, err
	}
	t, err := e.Team(id)
	if err == nil {
		e.publish(wire.KindTeam, t)
	}
	return t, err
}

// SetDuty puts a team on or off duty. An off-duty team is never
// dispatched.
func (e *Engine) SetDuty(id string, on bool, actor assurance.Actor) (Team, error) {
	if err := mayActForTeam(actor, id, "team "+id+" duty"); err != nil {
		return Team{}, err
	}
	e.mu.Lock()
	_, err := store.Modify(e.st, kindTeam, id, func(t *Team) error {
		t.OnDuty = on
		return nil
	})
	e.mu.Unlock()
	if err != nil {
		return Team{}, err
	}
	t, err := e.Team(id)
	if err == nil {
		e.publish(wire.KindTeam, t)
	}
	return t, err
}

// TeamDistance is a team with its distance to a point.
type TeamDistance struct {
	Team
	Metres   float64 `json:"metres"`
	Eligible bool    `json:"eligible"` // would be dispatched to this subject
}

// NearestTeams answers "who is nearest": every team with a position,
// nearest first, and the one dispatch would choose (nil when none is
// eligible). subjectID, when given, lets the stationed team of that
// kitchen count as eligible.
func (e *Engine) NearestTeams(p assurance.Point, subjectID string) (*TeamDistance, []TeamDistance, error) {
	target := orb.Point{p.Lon, p.Lat}
	if err := geo.ValidatePoint(target); err != nil {
		return nil, nil, &assurance.ValidationError{Field: "lon", Problem: err.Error()}
	}
	ts, err := e.Teams()
	if err != nil {
		return nil, nil, err
	}
	var all []TeamDistance
	var cands []geo.Candidate
	for _, t := range ts {
		at := t.at()
		if at == nil {
			continue
		}
		q := orb.Point{at.Lon, at.Lat}
		el := Eligible(t, subjectID, t.Status == TeamBusy)
		all = append(all, TeamDistance{Team: t, Metres: geo.Distance(target, q), Eligible: el})
		cands = append(cands, geo.Candidate{ID: t.ID, Point: q, Available: el})
	}
	slices.SortFunc(all, func(a, b TeamDistance) int { return cmp.Or(cmp.Compare(a.Metres, b.Metres), cmp.Compare(a.ID, b.ID)) })
	c, _, err := geo.NearestAvailable(target, cands)
	if err != nil {
		return nil, all, nil
	}
	i := slices.IndexFunc(all, func(t TeamDistance) bool { return t.ID == c.ID })
	best := all[i]
	return &best, all, nil
}

// PlanStop is one visit of a day's patrol plan.
type PlanStop struct {
	Seq            int             `json:"seq"` // 1, 2, … in visiting order
	TargetID       string          `json:"target_id"`
	Kind           string          `json:"kind"`
	Name           string          `json:"name,omitempty"`
	Grade          assurance.Grade `json:"grade"`
	Priority       int             `json:"priority"` // from the due list: 1 is most urgent
	DueOn          assurance.Date  `json:"due_on,omitzero"`
	DaysOverdue    int             `json:"days_overdue"`
	NeverInspected bool            `json:"never_inspected,omitempty"`
	Point          assurance.Point `json:"point"`
	LegMetres      float64         `json:"leg_metres"` // from the previous stop (or the start)
}

// PatrolPlan is a team's visiting order for a day.
type PatrolPlan struct {
	TeamID string               `json:"team_id"`
	Date   assurance.Date       `json:"date"`
	Mode   assurance.PatrolMode `json:"mode"`
	Start  assurance.Point      `json:"start"`
	Stops  []PlanStop           `json:"stops"`
	// Metres is the route's length, back to the start included.
	Metres float64 `json:"metres"`
	// Route is the path as [lon, lat] pairs: start, the stops, start.
	Route [][2]float64 `json:"route"`
	// Due is how many targets of this team are due that day; Deferred
	// how many of them did not fit in MaxStops.
	Due      int `json:"due"`
	Deferred int `json:"deferred"`
}

// MaxPlanStops is the default number of visits in a day's plan.
const MaxPlanStops = 20

// PlanPatrol builds a patrol team's plan for a day: the targets due by
// their risk grade (assurance.DuePatrols; event frequencies while an event
// covers the day), shared among the patrol teams by nearest base, the most
// urgent maxStops of them ordered into a round trip from the team's
// position (geo.PlanPatrol). A stationed team's plan is its kitchen.
func (e *Engine) PlanPatrol(teamID string, day assurance.Date, maxStops int) (PatrolPlan, error) {
	if maxStops <= 0 {
		maxStops = MaxPlanStops
	}
	t, err := e.team(teamID)
	if err != nil {
		return PatrolPlan{}, err
	}
	start := t.at()
	if start == nil {
		return PatrolPlan{}, &assurance.PreconditionError{Action: "patrol plan " + teamID, Rule: "no_position",
			Detail: "the team has neither a home nor a reported position; set its home or report a position"}
	}
	mode := assurance.PatrolRoutine
	events, err := store.All[assurance.Event](e.st, kindEvent)
	if err != nil {
		return PatrolPlan{}, err
	}
	for _, ev := range events {
		if ev.Phase != assurance.PhaseClosed && !day.Before(ev.Filing.FirstDay) && !day.After(ev.Filing.LastDay) {
			mode = assurance.PatrolEvent
		}
	}
	targets, names, err := e.patrolTargets(day)
	if err != nil {
		return PatrolPlan{}, err
	}
	plan := PatrolPlan{TeamID: teamID, Date: day, Mode: mode, Start: *start, Stops: []PlanStop{}}
	var mine []assurance.PatrolTarget
	if t.Mode == ModeStationed {
		for _, tg := range targets {
			if tg.ID == t.KitchenID {
				mine = append(mine, tg)
			}
		}
	} else {
		ts, err := store.All[Team](e.st, kindTeam)
		if err != nil {
			return PatrolPlan{}, err
		}
		for _, tg := range targets {
			if tg.Kind == "kitchen" || tg.Point == nil {
				continue // kitchens have their stationed teams
			}
			if owner := nearestBase(ts, *tg.Point); owner == teamID {
				mine = append(mine, tg)
			}
		}
	}
	due := assurance.DuePatrols(mine, day, mode, e.pc)
	plan.Due = len(due)
	if len(due) > maxStops {
		plan.Deferred = len(due) - maxStops
		due = due[:maxStops]
	}
	stops := make([]orb.Point, len(due))
	for i, d := range due {
		stops[i] = orb.Point{d.Point.Lon, d.Point.Lat}
	}
	o := orb.Point{start.Lon, start.Lat}
	route, err := geo.PlanPatrol(o, stops, geo.PatrolOptions{ReturnToStart: true})
	if err != nil {
		return PatrolPlan{}, err
	}
	plan.Metres = route.Metres
	plan.Route = append(plan.Route, [2]float64{o[0], o[1]})
	prev := o
	for i, k := range route.Order {
		d := due[k]
		q := stops[k]
		plan.Stops = append(plan.Stops, PlanStop{Seq: i + 1, TargetID: d.ID, Kind: d.Kind, Name: names[d.ID], Grade: d.Grade,
			Priority: d.Priority, DueOn: d.DueOn, DaysOverdue: d.DaysOverdue, NeverInspected: d.NeverInspected,
			Point: *d.Point, LegMetres: geo.Distance(prev, q)})
		plan.Route = append(plan.Route, [2]float64{q[0], q[1]})
		prev = q
	}
	plan.Route = append(plan.Route, [2]float64{o[0], o[1]})
	return plan, nil
}

// nearestBase returns the patrol team whose base (home, else position) is
// nearest to p; ties go to the smaller id.
func nearestBase(ts []Team, p assurance.Point) string {
	best, bestD := "", 0.0
	for _, t := range ts {
		if t.Mode != ModePatrol {
			continue
		}
		b := t.Home
		if b == nil {
			b = t.Position
		}
		if b == nil {
			continue
		}
		d := geo.Distance(orb.Point{p.Lon, p.Lat}, orb.Point{b.Lon, b.Lat})
		if best == "" || d < bestD || (d == bestD && t.ID < best) {
			best, bestD = t.ID, d
		}
	}
	return best
}

// patrolTargets lists the sites to patrol with their grade (the credit
// account's when there is one, else the site's) and last inspection, and
// the banquets held on day.
func (e *Engine) patrolTargets(day assurance.Date) ([]assurance.PatrolTarget, map[string]string, error) {
	grades := map[string]assurance.Grade{}
	err := store.List(e.st, kindCredit, func(id string, c Credit) bool {
		grades[id] = c.Grade
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	last := map[string]assurance.Date{}
	err = store.List(e.st, kindVisit, func(_ string, v PatrolVisit) bool {
		d := assurance.DateOf(v.At.In(e.zone()))
		if d.After(last[v.TargetID]) {
			last[v.TargetID] = d
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	banquetToday := map[string]bool{}
	err = store.List(e.st, kindBanquet, func(id string, b Banquet) bool {
		for _, s := range b.Filing.Sittings {
			if s.Date == day && b.State != assurance.BanquetClosed {
				banquetToday[id] = true
			}
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	var out []assurance.PatrolTarget
	names := map[string]string{}
	err = store.List(e.st, "site", func(id string, s store.Site) bool {
		if len(s.Loc) != 2 || (s.Kind == "banquet" && !banquetToday[id]) {
			return true
		}
		g, ok := grades[cmp.Or(s.Business, id)]
		if !ok {
			g, _ = assurance.ParseGrade(s.Grade)
		}
		if s.Kind == "banquet" {
			g = assurance.GradeD // a banquet on its day is always due
		}
		out = append(out, assurance.PatrolTarget{ID: id, Kind: s.Kind, Grade: g, LastInspected: last[id],
			Point: &assurance.Point{Lon: s.Loc[0], Lat: s.Loc[1]}})
		names[id] = s.Name
		return true
	})
	return out, names, err
}

// RecordVisit records a patrol inspection: no findings books a clean
// patrol (+1), each finding its points, on the target's credit account.
func (e *Engine) RecordVisit(v PatrolVisit) (PatrolVisit, error) {
	if err := mayActForTeam(v.Actor, cmp.Or(v.TeamID, v.Actor.TeamID), "patrol visit"); err != nil {
		return PatrolVisit{}, err
	}
	if v.TargetID == "" {
		return PatrolVisit{}, &assurance.ValidationError{Field: "target_id", Problem: "required: the stall, kitchen or banquet visited"}
	}
	for i, f := range v.Findings {
		if strings.TrimSpace(f.Text) == "" || (f.Severity != assurance.FindingMinor && f.Severity != assurance.FindingMajor) {
			return PatrolVisit{}, &assurance.ValidationError{Field: fmt.Sprintf("findings[%d]", i), Problem: "give text and severity minor_finding or major_finding"}
		}
	}
	sub := e.subjectOf(v.TargetID)
	if sub.kind == "" {
		return PatrolVisit{}, &assurance.ValidationError{Field: "target_id", Problem: fmt.Sprintf("%q is not a known site", v.TargetID)}
	}
	v.At = e.deps.Now()
	if v.TeamID == "" {
		v.TeamID = v.Actor.TeamID
	}
	v.ID = v.At.UTC().Format("20060102T150405.000000000Z") + ":" + v.TargetID
	if err := e.st.Put(kindVisit, v.ID, v); err != nil {
		return PatrolVisit{}, err
	}
	if len(v.Findings) == 0 {
		e.bookCredit(sub, assurance.CreditEvent{Reason: assurance.CreditCleanPatrol, At: v.At, Ref: v.ID, Source: assurance.CreditFromPatrol})
	}
	for i, f := range v.Findings {
		e.bookCredit(sub, assurance.CreditEvent{Reason: assurance.CreditReason(f.Severity), At: v.At,
			Ref: fmt.Sprintf("%s#%d", v.ID, i+1), Note: f.Text, Source: assurance.CreditFromFinding})
	}
	return v, nil
}

// Visits returns patrol visits, newest first (target "" for all).
func (e *Engine) Visits(target string, limit int) ([]PatrolVisit, error) {
	var out []PatrolVisit
	err := store.List(e.st, kindVisit, func(_ string, v PatrolVisit) bool {
		if target == "" || v.TargetID == target {
			out = append(out, v)
		}
		return true
	})
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// now in the protocol's zone, as a civil date.
func (e *Engine) today() assurance.Date {
	return assurance.DateOf(e.deps.Now().In(e.zone()))
}
