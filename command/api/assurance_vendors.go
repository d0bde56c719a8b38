package api

// The assurance routes of food businesses, their credit (信用积分), and the
// KPIs; registered in assurance.go.

import (
	"net/http"
	"slices"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

func (a *assureAPI) listVendors(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.e.Vendors()
	if err != nil {
		return err
	}
	sc, err := a.s.scopeOf(r)
	if err != nil {
		return err
	}
	cs = slices.DeleteFunc(cs, func(c engine.Credit) bool { return !sc.Business(c.BusinessID) })
	return replyList(w, cs, nil)
}

func (a *assureAPI) getVendor(w http.ResponseWriter, r *http.Request) error {
	c, err := a.e.Vendor(r.PathValue("id"))
	if err != nil {
		return err
	}
	sc, err := a.s.scopeOf(r)
	if err != nil {
		return err
	}
	if !sc.Business(c.BusinessID) {
		return Errorf(http.StatusForbidden, CodeForbidden, "business %q has no site in your events %v", c.BusinessID, userOf(r).Events)
	}
	return reply(w, http.StatusOK, c, nil)
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
