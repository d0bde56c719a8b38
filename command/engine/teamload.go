package engine

import (
	"cmp"
	"slices"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TeamLoad is a team with what it has on its hands on a day: the open
// incidents assigned to it, the stops of its patrol plan and the visits it
// recorded. The teams screen shows it, and an incident's card names the
// least loaded team that could be sent (decision 0031).
type TeamLoad struct {
	Team
	Date assurance.Date `json:"date"`
	// Incidents are the open (not closed) incidents assigned to the team,
	// by id.
	Incidents []string `json:"incidents"`
	// Stops is the number of stops of the day's patrol plan (0 when the
	// team has no position to plan from), Due how many targets were due.
	Stops int `json:"stops"`
	// Visits is the number of patrol visits the team recorded that day
	// (in the event's time zone).
	Visits int `json:"visits"`
}

// Score orders teams by load: each open incident counts as much as a
// day's worth of patrol stops (an incident outranks any plan), then the
// stops still to visit.
func (l TeamLoad) Score() int {
	left := max(l.Stops-l.Visits, 0)
	return len(l.Incidents)*(MaxPlanStops+1) + left
}

// TeamLoads returns every team with its load on day (today when zero),
// by id.
func (e *Engine) TeamLoads(day assurance.Date) ([]TeamLoad, error) {
	if day.IsZero() {
		day = e.today()
	}
	ts, err := e.Teams()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	open := map[string][]string{}
	for _, id := range sortedKeys(e.open) {
		if inc := e.open[id]; inc.TeamID != "" && inc.State != assurance.IncidentClosed {
			open[inc.TeamID] = append(open[inc.TeamID], id)
		}
	}
	e.mu.Unlock()
	visits := map[string]int{}
	zone := e.zone()
	err = store.List(e.st, kindVisit, func(_ string, v PatrolVisit) bool {
		if v.TeamID != "" && assurance.DateOf(v.At.In(zone)) == day {
			visits[v.TeamID]++
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out := make([]TeamLoad, 0, len(ts))
	for _, t := range ts {
		l := TeamLoad{Team: t, Date: day, Incidents: open[t.ID], Visits: visits[t.ID]}
		if l.Incidents == nil {
			l.Incidents = []string{}
		}
		if t.at() != nil {
			if plan, err := e.PlanPatrol(t.ID, day, MaxPlanStops); err == nil {
				l.Stops = len(plan.Stops)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// LeastLoaded returns the id of the least loaded team among loads that may
// be sent to subjectID (on duty, not busy, a patrol team or the one
// stationed there), ties broken by id; "" when none may be sent.
func LeastLoaded(loads []TeamLoad, subjectID string) string {
	var cands []TeamLoad
	for _, l := range loads {
		if Eligible(l.Team, subjectID, l.Status == TeamBusy) {
			cands = append(cands, l)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return slices.MinFunc(cands, func(a, b TeamLoad) int {
		return cmp.Or(cmp.Compare(a.Score(), b.Score()), cmp.Compare(a.ID, b.ID))
	}).ID
}
