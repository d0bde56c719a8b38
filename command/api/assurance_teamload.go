package api

// The teams screen's route: every team with its load and its members by
// name; registered in assurance.go.
//
//	GET /api/v1/teams/load?date=&subject=  viewer  teams with their load (open incidents,
//	                                               patrol stops and visits of the day), members
//	                                               with display names, the least loaded team that
//	                                               may be sent to subject; commanders and admins
//	                                               also get the inspectors to assign

import (
	"net/http"
	"slices"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// member is a team member as the screens show them: the user name and
// the display name (the name people read).
type member struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	// TeamID is the team the user acts for (their account's team);
	// it may differ from the team listing them.
	TeamID string `json:"team_id,omitempty"`
	Known  bool   `json:"known"` // an account of that name exists
}

type teamLoadView struct {
	engine.TeamLoad
	MemberNames []member `json:"member_names"`
	Score       int      `json:"score"`
}

func (a *assureAPI) teamLoads(w http.ResponseWriter, r *http.Request) error {
	day, err := queryDate(r, "date")
	if err != nil {
		return err
	}
	loads, err := a.e.TeamLoads(day)
	if err != nil {
		return err
	}
	u := userOf(r)
	loads = slices.DeleteFunc(loads, func(l engine.TeamLoad) bool { return l.EventID != "" && !engine.InScope(u.Events, l.EventID) })
	users, err := a.s.Auth.Users()
	if err != nil {
		return err
	}
	byName := map[string]member{}
	var inspectors []member
	for _, x := range users {
		m := member{Name: x.Name, DisplayName: x.DisplayName, TeamID: x.TeamID, Known: true}
		byName[x.Name] = m
		if x.Role == assurance.RoleInspector && !x.Disabled {
			inspectors = append(inspectors, m)
		}
	}
	out := make([]teamLoadView, 0, len(loads))
	for _, l := range loads {
		v := teamLoadView{TeamLoad: l, MemberNames: []member{}, Score: l.Score()}
		for _, n := range l.Members {
			m, ok := byName[n]
			if !ok {
				m = member{Name: n}
			}
			v.MemberNames = append(v.MemberNames, m)
		}
		out = append(out, v)
	}
	body := map[string]any{"teams": out, "least_loaded": engine.LeastLoaded(loads, r.URL.Query().Get("subject"))}
	if len(loads) > 0 {
		body["date"] = loads[0].Date
	}
	if u.Role == assurance.RoleAdmin || u.Role == assurance.RoleCommander {
		if inspectors == nil {
			inspectors = []member{}
		}
		body["inspectors"] = inspectors
	}
	WriteJSON(w, http.StatusOK, body)
	return nil
}
