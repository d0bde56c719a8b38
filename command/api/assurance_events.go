package api

// The assurance routes of events (重大活动) and their kitchens' readiness;
// registered in assurance.go.

import (
	"net/http"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

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
