package api

// The assurance routes of menus and their assessment (菜单评估); registered in
// assurance.go.

import (
	"net/http"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

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
