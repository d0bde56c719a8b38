package api

// The assurance routes of assurance teams (保障组) and patrols; registered in
// assurance.go.

import (
	"net/http"
	"slices"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

func (a *assureAPI) listTeams(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.e.Teams()
	if err != nil {
		return err
	}
	u := userOf(r)
	out := []engine.Team{}
	for _, t := range ts {
		if t.EventID == "" || engine.InScope(u.Events, t.EventID) {
			out = append(out, t)
		}
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *assureAPI) putTeam(w http.ResponseWriter, r *http.Request) error {
	var t engine.Team
	if err := decodeJSON(r, 64<<10, &t); err != nil {
		return err
	}
	out, err := a.e.PutTeam(t, actorOf(r))
	return reply(w, http.StatusOK, out, err)
}

func (a *assureAPI) getTeam(w http.ResponseWriter, r *http.Request) error {
	t, err := a.e.Team(r.PathValue("id"))
	return reply(w, http.StatusOK, t, err)
}

func (a *assureAPI) nearestTeams(w http.ResponseWriter, r *http.Request) error {
	lon, err := queryFloat(r, "lon")
	if err != nil {
		return err
	}
	lat, err := queryFloat(r, "lat")
	if err != nil {
		return err
	}
	best, all, err := a.e.NearestTeams(assurance.Point{Lon: lon, Lat: lat}, r.URL.Query().Get("subject"))
	if err != nil {
		return err
	}
	if all == nil {
		all = []engine.TeamDistance{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"target": assurance.Point{Lon: lon, Lat: lat}, "nearest_available": best, "teams": all})
	return nil
}

func (a *assureAPI) teamPosition(w http.ResponseWriter, r *http.Request) error {
	var p assurance.Point
	if err := decodeJSON(r, 4<<10, &p); err != nil {
		return err
	}
	t, err := a.e.ReportPosition(r.PathValue("id"), p, actorOf(r))
	return reply(w, http.StatusOK, t, err)
}

func (a *assureAPI) teamDuty(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		OnDuty bool `json:"on_duty"`
	}
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	t, err := a.e.SetDuty(r.PathValue("id"), req.OnDuty, actorOf(r))
	return reply(w, http.StatusOK, t, err)
}

func (a *assureAPI) patrolPlan(w http.ResponseWriter, r *http.Request) error {
	team := r.URL.Query().Get("team")
	if team == "" {
		return Invalid("team is required: GET /api/v1/patrols/plan?team=T-03&date=2026-11-28")
	}
	day, err := queryDate(r, "date")
	if err != nil {
		return err
	}
	if day.IsZero() {
		day = assurance.DateOf(a.e.Now().In(assurance.ChinaStandardTime))
	}
	max, err := queryInt(r, "max", engine.MaxPlanStops, 500)
	if err != nil {
		return err
	}
	plan, err := a.e.PlanPatrol(team, day, max)
	return reply(w, http.StatusOK, plan, err)
}

func (a *assureAPI) listVisits(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100, 10000)
	if err != nil {
		return err
	}
	vs, err := a.e.Visits(r.URL.Query().Get("target"), limit)
	if err != nil {
		return err
	}
	sc, err := a.s.scopeOf(r)
	if err != nil {
		return err
	}
	vs = slices.DeleteFunc(vs, func(v engine.PatrolVisit) bool { return !sc.Site(v.TargetID) })
	return replyList(w, vs, nil)
}

func (a *assureAPI) recordVisit(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		TargetID string                  `json:"target_id"`
		TeamID   string                  `json:"team_id"`
		Findings []assurance.Finding     `json:"findings"`
		Note     string                  `json:"note"`
		Where    *assurance.Point        `json:"where"`
		Evidence []assurance.EvidenceRef `json:"evidence"`
	}
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	v, err := a.e.RecordVisit(engine.PatrolVisit{TargetID: req.TargetID, TeamID: req.TeamID, Findings: req.Findings,
		Act: assurance.Act{Actor: actorOf(r), Note: req.Note, Where: req.Where, Evidence: req.Evidence}})
	return reply(w, http.StatusCreated, v, err)
}
