package api

import (
	"net/http"
	"strconv"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// RegisterAssurance adds the assurance routes (events and readiness,
// menus, teams and patrols, incidents and evidence, banquets and chefs,
// vendors and credit, clusters, KPIs and exports) to s. Call it after
// Routes. The table is in command/README.md.
func RegisterAssurance(s *Server, e *engine.Engine) {
	a := &assureAPI{s: s, e: e}
	h := s.Handle

	h("GET /api/v1/events", assurance.RoleViewer, a.listEvents)
	h("POST /api/v1/events", assurance.RoleCommander, a.fileEvent)
	h("GET /api/v1/events/{id}", assurance.RoleViewer, a.getEvent)
	h("POST /api/v1/events/{id}/phase", assurance.RoleCommander, a.eventPhase)
	h("GET /api/v1/events/{id}/readiness", assurance.RoleViewer, a.getReadiness)
	h("POST /api/v1/events/{id}/kitchens/{kitchen}/readiness", assurance.RoleInspector, a.recordReadiness)

	h("GET /api/v1/menus", assurance.RoleViewer, a.listMenus)
	h("POST /api/v1/menus", assurance.RoleInspector, a.createMenu)
	h("POST /api/v1/menus/screen", assurance.RoleViewer, a.screenDishes)
	h("GET /api/v1/menus/{id}", assurance.RoleViewer, a.getMenu)
	h("PUT /api/v1/menus/{id}/dishes", assurance.RoleInspector, a.setDishes)
	h("POST /api/v1/menus/{id}/transition", assurance.RoleInspector, a.menuStep)
	h("POST /api/v1/menus/{id}/decisions", assurance.RoleInspector, a.decideDish)

	h("GET /api/v1/teams", assurance.RoleViewer, a.listTeams)
	h("POST /api/v1/teams", assurance.RoleCommander, a.putTeam)
	h("GET /api/v1/teams/nearest", assurance.RoleViewer, a.nearestTeams)
	h("GET /api/v1/teams/load", assurance.RoleViewer, a.teamLoads)
	h("GET /api/v1/teams/{id}", assurance.RoleViewer, a.getTeam)
	h("POST /api/v1/teams/{id}/position", assurance.RoleInspector, a.teamPosition)
	h("POST /api/v1/teams/{id}/duty", assurance.RoleInspector, a.teamDuty)
	h("GET /api/v1/patrols/plan", assurance.RoleViewer, a.patrolPlan)
	h("GET /api/v1/patrols/visits", assurance.RoleViewer, a.listVisits)
	h("POST /api/v1/patrols/visits", assurance.RoleInspector, a.recordVisit)

	h("GET /api/v1/incidents", assurance.RoleViewer, a.listIncidents)
	h("POST /api/v1/incidents", assurance.RoleOperator, a.openIncident)
	h("GET /api/v1/incidents/{id}", assurance.RoleViewer, a.getIncident)
	h("POST /api/v1/incidents/{id}/transition", assurance.RoleInspector, a.incidentStep)
	h("POST /api/v1/incidents/{id}/retest", assurance.RoleOperator, a.requestRetest)
	h("POST /api/v1/incidents/{id}/waiver", assurance.RoleOperator, a.waiveRetest)
	s.HandleUpload("POST /api/v1/incidents/{id}/evidence", assurance.RoleOperator, a.uploadEvidence(engine.SubjectIncident))
	h("GET /api/v1/incidents/{id}/evidence/{ref}", assurance.RoleViewer, a.serveEvidence(engine.SubjectIncident))
	h("GET /api/v1/clusters", assurance.RoleViewer, a.listClusters)

	h("GET /api/v1/banquets", assurance.RoleViewer, a.listBanquets)
	h("POST /api/v1/banquets", assurance.RoleOperator, a.fileBanquet)
	h("GET /api/v1/banquets/{id}", assurance.RoleViewer, a.getBanquet)
	h("POST /api/v1/banquets/{id}/transition", assurance.RoleInspector, a.banquetStep)
	h("POST /api/v1/banquets/{id}/findings", assurance.RoleInspector, a.banquetFinding)
	h("POST /api/v1/banquets/{id}/rectifications/{rid}/close", assurance.RoleInspector, a.closeRectification)
	s.HandleUpload("POST /api/v1/banquets/{id}/evidence", assurance.RoleOperator, a.uploadEvidence(engine.SubjectBanquet))
	h("GET /api/v1/banquets/{id}/evidence/{ref}", assurance.RoleViewer, a.serveEvidence(engine.SubjectBanquet))
	h("GET /api/v1/chefs", assurance.RoleViewer, a.listChefs)
	h("POST /api/v1/chefs", assurance.RoleOperator, a.putChef)
	h("POST /api/v1/chefs/{id}/training", assurance.RoleOperator, a.chefTraining)

	h("GET /api/v1/vendors", assurance.RoleViewer, a.listVendors)
	h("GET /api/v1/vendors/{id}", assurance.RoleViewer, a.getVendor)
	h("POST /api/v1/vendors/{id}/credit", assurance.RoleInspector, a.recordCredit)

	registerEmergency(h, a)

	h("GET /api/v1/kpis", assurance.RoleViewer, a.kpis)
	h("GET /api/v1/kpis/confirmations", assurance.RoleViewer, a.confirmations)
	h("GET /api/v1/export/{file}", assurance.RoleViewer, a.export)
}

type assureAPI struct {
	s *Server
	e *engine.Engine
}

// actorOf is the request's user as the protocol's actor.
func actorOf(r *http.Request) assurance.Actor {
	u := userOf(r)
	return assurance.Actor{UserID: u.Name, Role: u.Role, TeamID: u.TeamID}
}

// inScope refuses a record outside the user's events.
func inScope(r *http.Request, event string) error {
	u := userOf(r)
	if engine.InScope(u.Events, event) {
		return nil
	}
	return Errorf(http.StatusForbidden, CodeForbidden, "this record belongs to event %q, outside your events %v", event, u.Events)
}

func queryDate(r *http.Request, name string) (assurance.Date, error) {
	d, err := assurance.ParseDate(r.URL.Query().Get(name))
	if err != nil {
		return d, Invalid("%s=%q: want a date like 2026-11-28", name, r.URL.Query().Get(name))
	}
	return d, nil
}

func queryFloat(r *http.Request, name string) (float64, error) {
	s := r.URL.Query().Get(name)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, Invalid("%s=%q: want a number (WGS-84 degrees)", name, s)
	}
	return f, nil
}

// reply answers v with status, unless err: the end of most handlers here.
func reply[T any](w http.ResponseWriter, status int, v T, err error) error {
	if err != nil {
		return err
	}
	WriteJSON(w, status, v)
	return nil
}

// replyList is reply for a list (200), sent as [] rather than null when
// it is empty.
func replyList[T any](w http.ResponseWriter, v []T, err error) error {
	if v == nil {
		v = []T{}
	}
	return reply(w, http.StatusOK, v, err)
}

// confirmations is how often the lab confirmed rapid positives, per
// method and per source (engine.Confirmations).
func (a *assureAPI) confirmations(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.e.Confirmations(userOf(r).Events)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, rep)
	return nil
}
