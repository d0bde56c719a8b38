package api

// The assurance routes of rural banquets (农村集体聚餐) and village chefs;
// registered in assurance.go.

import (
	"net/http"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

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
