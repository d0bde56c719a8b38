package api

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

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
	h("POST /api/v1/incidents/{id}/evidence", assurance.RoleOperator, a.uploadEvidence(engine.SubjectIncident))
	h("GET /api/v1/incidents/{id}/evidence/{ref}", assurance.RoleViewer, a.serveEvidence(engine.SubjectIncident))
	h("GET /api/v1/clusters", assurance.RoleViewer, a.listClusters)

	h("GET /api/v1/banquets", assurance.RoleViewer, a.listBanquets)
	h("POST /api/v1/banquets", assurance.RoleOperator, a.fileBanquet)
	h("GET /api/v1/banquets/{id}", assurance.RoleViewer, a.getBanquet)
	h("POST /api/v1/banquets/{id}/transition", assurance.RoleInspector, a.banquetStep)
	h("POST /api/v1/banquets/{id}/findings", assurance.RoleInspector, a.banquetFinding)
	h("POST /api/v1/banquets/{id}/rectifications/{rid}/close", assurance.RoleInspector, a.closeRectification)
	h("POST /api/v1/banquets/{id}/evidence", assurance.RoleOperator, a.uploadEvidence(engine.SubjectBanquet))
	h("GET /api/v1/banquets/{id}/evidence/{ref}", assurance.RoleViewer, a.serveEvidence(engine.SubjectBanquet))
	h("GET /api/v1/chefs", assurance.RoleViewer, a.listChefs)
	h("POST /api/v1/chefs", assurance.RoleOperator, a.putChef)
	h("POST /api/v1/chefs/{id}/training", assurance.RoleOperator, a.chefTraining)

	h("GET /api/v1/vendors", assurance.RoleViewer, a.listVendors)
	h("GET /api/v1/vendors/{id}", assurance.RoleViewer, a.getVendor)
	h("POST /api/v1/vendors/{id}/credit", assurance.RoleInspector, a.recordCredit)

	h("GET /api/v1/kpis", assurance.RoleViewer, a.kpis)
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

// ---- events and readiness ----

func (a *assureAPI) listEvents(w http.ResponseWriter, r *http.Request) error {
	evs, err := a.e.Events(userOf(r).Events)
	return replyList(w, evs, err)
}

type fileEventReq struct {
	ID     string                `json:"id"`
	Filing assurance.EventFiling `json:"filing"`
	Note   string                `json:"note"`
}

func (a *assureAPI) fileEvent(w http.ResponseWriter, r *http.Request) error {
	var req fileEventReq
	if err := decodeJSON(r, 1<<20, &req); err != nil {
		return err
	}
	v, err := a.e.FileEvent(req.ID, req.Filing, assurance.Act{Actor: actorOf(r), Note: req.Note})
	return reply(w, http.StatusCreated, v, err)
}

func (a *assureAPI) getEvent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := inScope(r, id); err != nil {
		return err
	}
	v, err := a.e.Event(id)
	return reply(w, http.StatusOK, v, err)
}

type eventPhaseReq struct {
	To       string                  `json:"to"`
	Note     string                  `json:"note"`
	Summary  *assurance.EventSummary `json:"summary"`
	Where    *assurance.Point        `json:"where"`
	Evidence []assurance.EvidenceRef `json:"evidence"`
}

func (a *assureAPI) eventPhase(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := inScope(r, id); err != nil {
		return err
	}
	var req eventPhaseReq
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	to, err := assurance.ParseEventPhase(req.To)
	if err != nil {
		return err
	}
	v, err := a.e.EventStep(id, assurance.EventStep{To: to, Summary: req.Summary,
		Act: assurance.Act{Actor: actorOf(r), Where: req.Where, Note: req.Note, Evidence: req.Evidence}})
	return reply(w, http.StatusOK, v, err)
}

func (a *assureAPI) getReadiness(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := inScope(r, id); err != nil {
		return err
	}
	v, err := a.e.Event(id)
	if err != nil {
		return err
	}
	recs, err := a.e.KitchenRecords(id)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []engine.KitchenRecord{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"report": v.Readiness, "kitchens": recs})
	return nil
}

func (a *assureAPI) recordReadiness(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := inScope(r, id); err != nil {
		return err
	}
	var req engine.ReadinessInput
	if err := decodeJSON(r, 256<<10, &req); err != nil {
		return err
	}
	v, err := a.e.RecordReadiness(id, r.PathValue("kitchen"), req, actorOf(r))
	return reply(w, http.StatusOK, v, err)
}

// ---- menus ----

func (a *assureAPI) listMenus(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.e.Menus(r.URL.Query().Get("owner"))
	if err != nil {
		return err
	}
	u := userOf(r)
	out := []engine.MenuView{}
	for _, m := range ms {
		if engine.InScope(u.Events, m.EventID) {
			out = append(out, m)
		}
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

type menuReq struct {
	ID     string           `json:"id"`
	Owner  string           `json:"owner_id"`
	Dishes []assurance.Dish `json:"dishes"`
}

func (a *assureAPI) createMenu(w http.ResponseWriter, r *http.Request) error {
	var req menuReq
	if err := decodeJSON(r, 256<<10, &req); err != nil {
		return err
	}
	if req.Owner == "" {
		return Invalid("owner_id is required: the kitchen or banquet the menu is for")
	}
	if err := inScope(r, a.e.EventOf(req.Owner)); err != nil {
		return err
	}
	m, err := a.e.CreateMenu(req.ID, req.Owner, req.Dishes, actorOf(r))
	return reply(w, http.StatusCreated, m, err)
}

func (a *assureAPI) screenDishes(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Dishes []assurance.Dish `json:"dishes"`
	}
	if err := decodeJSON(r, 256<<10, &req); err != nil {
		return err
	}
	out := []assurance.DishScreening{}
	for _, d := range req.Dishes {
		out = append(out, assurance.DishScreening{Dish: d.Name, Flags: assurance.Screen(d, a.e.Protocol().Menu.Rules)})
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *assureAPI) menu(r *http.Request) (engine.MenuView, error) {
	m, err := a.e.Menu(r.PathValue("id"))
	if err != nil {
		return m, err
	}
	return m, inScope(r, m.EventID)
}

func (a *assureAPI) getMenu(w http.ResponseWriter, r *http.Request) error {
	m, err := a.menu(r)
	return reply(w, http.StatusOK, m, err)
}

func (a *assureAPI) setDishes(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.menu(r); err != nil {
		return err
	}
	var req menuReq
	if err := decodeJSON(r, 256<<10, &req); err != nil {
		return err
	}
	actor := actorOf(r)
	m, err := a.e.ModifyMenu(r.PathValue("id"), func(m *assurance.Menu, now time.Time) error {
		return m.SetDishes(req.Dishes, assurance.Act{Actor: actor, At: now})
	})
	return reply(w, http.StatusOK, m, err)
}

func (a *assureAPI) menuStep(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.menu(r); err != nil {
		return err
	}
	var req struct {
		To   string `json:"to"`
		Note string `json:"note"`
	}
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	to, err := assurance.ParseMenuState(req.To)
	if err != nil {
		return err
	}
	actor := actorOf(r)
	pc := a.e.Protocol()
	m, err := a.e.ModifyMenu(r.PathValue("id"), func(m *assurance.Menu, now time.Time) error {
		return m.Apply(assurance.MenuStep{To: to, Act: assurance.Act{Actor: actor, At: now, Note: req.Note}}, pc)
	})
	return reply(w, http.StatusOK, m, err)
}

func (a *assureAPI) decideDish(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.menu(r); err != nil {
		return err
	}
	var req struct {
		Dish     string                `json:"dish"`
		Outcome  assurance.DishOutcome `json:"outcome"`
		Controls string                `json:"controls"`
		Note     string                `json:"note"`
	}
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	actor := actorOf(r)
	m, err := a.e.ModifyMenu(r.PathValue("id"), func(m *assurance.Menu, now time.Time) error {
		return m.Decide(req.Dish, req.Outcome, req.Controls, assurance.Act{Actor: actor, At: now, Note: req.Note})
	})
	return reply(w, http.StatusOK, m, err)
}

// ---- teams and patrols ----

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
	return replyList(w, vs, err)
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

// ---- incidents ----

func (a *assureAPI) listIncidents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := queryInt(r, "limit", 200, 10000)
	if err != nil {
		return err
	}
	f := engine.IncidentFilter{EventID: q.Get("event"), TeamID: q.Get("team"), Subject: q.Get("subject"),
		OpenOnly: q.Get("open") == "1" || q.Get("open") == "true", Events: userOf(r).Events, Limit: limit}
	if s := q.Get("state"); s != "" {
		if f.State, err = assurance.ParseIncidentState(s); err != nil {
			return err
		}
	}
	if f.Since, err = queryTime(r, "since"); err != nil {
		return err
	}
	incs, err := a.e.Incidents(f)
	return replyList(w, incs, err)
}

func (a *assureAPI) incident(r *http.Request) (engine.Incident, error) {
	inc, err := a.e.Incident(r.PathValue("id"))
	if err != nil {
		return inc, err
	}
	return inc, inScope(r, inc.Trigger.EventID)
}

func (a *assureAPI) getIncident(w http.ResponseWriter, r *http.Request) error {
	inc, err := a.incident(r)
	return reply(w, http.StatusOK, inc, err)
}

func (a *assureAPI) openIncident(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Trigger assurance.Trigger `json:"trigger"`
		Note    string            `json:"note"`
		Where   *assurance.Point  `json:"where"`
	}
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	event := req.Trigger.EventID
	if event == "" {
		event = a.e.EventOf(req.Trigger.SubjectID)
	}
	if err := inScope(r, event); err != nil {
		return err
	}
	inc, err := a.e.OpenIncident(req.Trigger, assurance.Act{Actor: actorOf(r), Note: req.Note, Where: req.Where})
	return reply(w, http.StatusCreated, inc, err)
}

type incidentStepReq struct {
	To       string                     `json:"to"`
	TeamID   string                     `json:"team_id"`
	Deadline time.Time                  `json:"deadline,omitzero"`
	Controls []assurance.ControlMeasure `json:"controls"`
	Lab      *assurance.LabSubmission   `json:"lab"`
	Note     string                     `json:"note"`
	Where    *assurance.Point           `json:"where"`
	Evidence []assurance.EvidenceRef    `json:"evidence"`
}

func (a *assureAPI) incidentStep(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.incident(r); err != nil {
		return err
	}
	var req incidentStepReq
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	to, err := assurance.ParseIncidentState(req.To)
	if err != nil {
		return err
	}
	inc, err := a.e.Transition(r.PathValue("id"), engine.Step{Origin: r.RemoteAddr, IncidentStep: assurance.IncidentStep{
		To: to, TeamID: req.TeamID, Deadline: req.Deadline, Controls: req.Controls, Lab: req.Lab,
		Act: assurance.Act{Actor: actorOf(r), Where: req.Where, Note: req.Note, Evidence: req.Evidence}}})
	return reply(w, http.StatusOK, inc, err)
}

func (a *assureAPI) requestRetest(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.incident(r); err != nil {
		return err
	}
	var req struct {
		Party  string               `json:"party"`
		Method assurance.TestMethod `json:"method"`
		Note   string               `json:"note"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	inc, err := a.e.RequestRetest(r.PathValue("id"), req.Party, req.Method, assurance.Act{Actor: actorOf(r), Note: req.Note}, r.RemoteAddr)
	return reply(w, http.StatusOK, inc, err)
}

func (a *assureAPI) waiveRetest(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.incident(r); err != nil {
		return err
	}
	var req struct {
		Party    string                  `json:"party"`
		Note     string                  `json:"note"`
		Evidence []assurance.EvidenceRef `json:"evidence"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	inc, err := a.e.WaiveRetest(r.PathValue("id"), req.Party, assurance.Act{Actor: actorOf(r), Note: req.Note, Evidence: req.Evidence}, r.RemoteAddr)
	return reply(w, http.StatusOK, inc, err)
}

// uploadEvidence takes a multipart form with the file in field "file" and
// optionally "kind" (photo, lab_report, disposal_record, …). The request
// body is limited to the engine's MaxEvidence plus room for the form.
func (a *assureAPI) uploadEvidence(subject string) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := a.subjectScope(r, subject, id); err != nil {
			return err
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.e.MaxEvidence()+64<<10)
		mr, err := r.MultipartReader()
		if err != nil {
			return Invalid("send the file as multipart/form-data with the file in field \"file\": %v", err)
		}
		kind := ""
		for {
			part, err := mr.NextPart()
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the upload is larger than %d bytes", a.e.MaxEvidence())
				}
				return Invalid("no \"file\" field in the form (%v)", err)
			}
			switch part.FormName() {
			case "kind":
				b := make([]byte, 64)
				n, _ := part.Read(b)
				kind = string(b[:n])
			case "file":
				ev, err := a.e.AddEvidence(subject, id, kind, part.FileName(), part, actorOf(r))
				if err != nil {
					var mbe *http.MaxBytesError
					if errors.As(err, &mbe) {
						return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the upload is larger than %d bytes", a.e.MaxEvidence())
					}
					return err
				}
				WriteJSON(w, http.StatusCreated, ev)
				return nil
			}
		}
	}
}

// subjectScope checks the event scope of an incident or banquet.
func (a *assureAPI) subjectScope(r *http.Request, subject, id string) error {
	switch subject {
	case engine.SubjectIncident:
		_, err := a.incident(r)
		return err
	default:
		if _, err := a.e.Banquet(id); err != nil {
			return err
		}
		return inScope(r, "")
	}
}

// serveEvidence sends an evidence file back with its sniffed type, never
// rendered as anything else (nosniff), as an attachment for PDFs.
func (a *assureAPI) serveEvidence(subject string) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := a.subjectScope(r, subject, id); err != nil {
			return err
		}
		ev, path, err := a.e.EvidenceFile(subject, id, r.PathValue("ref"))
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("evidence %s: %w", ev.Ref, err)
		}
		defer f.Close()
		w.Header().Set("Content-Type", ev.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "private, max-age=86400")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
		disp := "inline"
		if ev.ContentType == "application/pdf" {
			disp = "attachment"
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf("%s; filename=%q", disp, ev.Ref+extOf(ev.ContentType)))
		http.ServeContent(w, r, "", ev.At, f)
		return nil
	}
}

func extOf(ct string) string {
	switch ct {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

func (a *assureAPI) listClusters(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.e.Clusters()
	return replyList(w, cs, err)
}

// ---- banquets and chefs ----

// Banquets belong to no event: users scoped to events do not see them.
func (a *assureAPI) listBanquets(w http.ResponseWriter, r *http.Request) error {
	if len(userOf(r).Events) > 0 {
		WriteJSON(w, http.StatusOK, []engine.Banquet{})
		return nil
	}
	f := engine.BanquetFilter{TeamID: r.URL.Query().Get("team")}
	var err error
	if s := r.URL.Query().Get("state"); s != "" {
		if f.State, err = assurance.ParseBanquetState(s); err != nil {
			return err
		}
	}
	if f.Date, err = queryDate(r, "date"); err != nil {
		return err
	}
	bs, err := a.e.Banquets(f)
	return replyList(w, bs, err)
}

func (a *assureAPI) fileBanquet(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ID     string                  `json:"id"`
		Filing assurance.BanquetFiling `json:"filing"`
		Note   string                  `json:"note"`
	}
	if err := decodeJSON(r, 256<<10, &req); err != nil {
		return err
	}
	b, warns, err := a.e.FileBanquet(req.ID, req.Filing, assurance.Act{Actor: actorOf(r), Note: req.Note})
	if err != nil {
		return err
	}
	if warns == nil {
		warns = []assurance.Warning{}
	}
	WriteJSON(w, http.StatusCreated, map[string]any{"banquet": b, "warnings": warns})
	return nil
}

func (a *assureAPI) getBanquet(w http.ResponseWriter, r *http.Request) error {
	if err := inScope(r, ""); err != nil {
		return err
	}
	b, err := a.e.Banquet(r.PathValue("id"))
	return reply(w, http.StatusOK, b, err)
}

func (a *assureAPI) banquetStep(w http.ResponseWriter, r *http.Request) error {
	if err := inScope(r, ""); err != nil {
		return err
	}
	var req struct {
		To           string                  `json:"to"`
		TeamID       string                  `json:"team_id"`
		GuidanceUnit string                  `json:"guidance_unit"`
		Officers     []string                `json:"officers"`
		Findings     []assurance.Finding     `json:"findings"`
		Cancelled    bool                    `json:"cancelled"`
		IllnessCount int                     `json:"illness_count"`
		Note         string                  `json:"note"`
		Where        *assurance.Point        `json:"where"`
		Evidence     []assurance.EvidenceRef `json:"evidence"`
	}
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	to, err := assurance.ParseBanquetState(req.To)
	if err != nil {
		return err
	}
	actor, pc := actorOf(r), a.e.Protocol()
	b, err := a.e.ModifyBanquet(r.PathValue("id"), req.Evidence, func(b *assurance.Banquet, now time.Time) error {
		return b.Apply(assurance.BanquetStep{To: to, TeamID: req.TeamID, GuidanceUnit: req.GuidanceUnit, Officers: req.Officers,
			Findings: req.Findings, Cancelled: req.Cancelled, IllnessCount: req.IllnessCount,
			Act: assurance.Act{Actor: actor, At: now, Where: req.Where, Note: req.Note, Evidence: req.Evidence}}, pc)
	})
	return reply(w, http.StatusOK, b, err)
}

func (a *assureAPI) banquetFinding(w http.ResponseWriter, r *http.Request) error {
	if err := inScope(r, ""); err != nil {
		return err
	}
	var req struct {
		assurance.Finding
		Note     string                  `json:"note"`
		Evidence []assurance.EvidenceRef `json:"evidence"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	actor, pc := actorOf(r), a.e.Protocol()
	b, err := a.e.ModifyBanquet(r.PathValue("id"), req.Evidence, func(b *assurance.Banquet, now time.Time) error {
		_, err := b.AddFinding(req.Finding, assurance.Act{Actor: actor, At: now, Note: req.Note, Evidence: req.Evidence}, pc)
		return err
	})
	return reply(w, http.StatusOK, b, err)
}

func (a *assureAPI) closeRectification(w http.ResponseWriter, r *http.Request) error {
	if err := inScope(r, ""); err != nil {
		return err
	}
	var req struct {
		Note     string                  `json:"note"`
		Evidence []assurance.EvidenceRef `json:"evidence"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	actor, rid := actorOf(r), r.PathValue("rid")
	b, err := a.e.ModifyBanquet(r.PathValue("id"), req.Evidence, func(b *assurance.Banquet, now time.Time) error {
		return b.CloseRectification(rid, assurance.Act{Actor: actor, At: now, Note: req.Note, Evidence: req.Evidence})
	})
	return reply(w, http.StatusOK, b, err)
}

func (a *assureAPI) listChefs(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.e.Chefs()
	return reply(w, http.StatusOK, cs, err)
}

func (a *assureAPI) putChef(w http.ResponseWriter, r *http.Request) error {
	var c assurance.VillageChef
	if err := decodeJSON(r, 16<<10, &c); err != nil {
		return err
	}
	out, err := a.e.PutChef(c, actorOf(r))
	return reply(w, http.StatusOK, out, err)
}

func (a *assureAPI) chefTraining(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Date assurance.Date `json:"date"`
	}
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	c, err := a.e.RecordChefTraining(r.PathValue("id"), req.Date, actorOf(r))
	return reply(w, http.StatusOK, c, err)
}

// ---- vendors, credit, KPIs ----

func (a *assureAPI) listVendors(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.e.Vendors()
	return replyList(w, cs, err)
}

func (a *assureAPI) getVendor(w http.ResponseWriter, r *http.Request) error {
	c, err := a.e.Vendor(r.PathValue("id"))
	return reply(w, http.StatusOK, c, err)
}

func (a *assureAPI) recordCredit(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Reason assurance.CreditReason `json:"reason"`
		Ref    string                 `json:"ref"`
		Note   string                 `json:"note"`
	}
	if err := decodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	c, err := a.e.RecordCredit(r.PathValue("id"), assurance.CreditEvent{Reason: req.Reason, Ref: req.Ref, Note: req.Note}, actorOf(r))
	return reply(w, http.StatusOK, c, err)
}

func (a *assureAPI) kpis(w http.ResponseWriter, r *http.Request) error {
	event := r.URL.Query().Get("event")
	if event != "" {
		if err := inScope(r, event); err != nil {
			return err
		}
	}
	day, err := queryDate(r, "day")
	if err != nil {
		return err
	}
	rep, err := a.e.KPIs(engine.KPIQuery{EventID: event, Day: day, Scope: userOf(r).Events})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"event": event, "day": day, "report": rep})
	return nil
}
