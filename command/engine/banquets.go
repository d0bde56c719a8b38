package engine

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Sitting times (China time) that make a banquet's time window on the map.
var sittingHours = map[assurance.Meal][2]time.Duration{
	assurance.MealLunch:  {10*time.Hour + 30*time.Minute, 14*time.Hour + 30*time.Minute},
	assurance.MealDinner: {16*time.Hour + 30*time.Minute, 20*time.Hour + 30*time.Minute},
}

// FileBanquet files a rural banquet (信息报备). From the configured
// headcount on, on-site guidance (现场指导) is assigned at once to the
// patrol team based nearest to the banquet, with the town's market
// supervision office as the guidance unit.
func (e *Engine) FileBanquet(id string, f assurance.BanquetFiling, act assurance.Act) (Banquet, []assurance.Warning, error) {
	act.At = e.deps.Now()
	if id == "" {
		id = f.FilingNo
	}
	if id == "" {
		id = "BQ-" + act.At.In(e.zone()).Format("20060102-150405.000")
	}
	if f.Point == nil {
		if s := e.subjectOf(id); s.point != nil {
			f.Point = s.point
		}
	}
	b, warns, err := assurance.FileBanquet(id, f, act, e.pc)
	if err != nil {
		return Banquet{}, nil, err
	}
	rec := Banquet{Banquet: b}
	if b.GuidanceRequired && f.Point != nil {
		ts, _ := store.All[Team](e.st, kindTeam)
		if team := nearestBase(ts, *f.Point); team != "" {
			step := assurance.BanquetStep{To: assurance.BanquetGuidanceAssigned, TeamID: team,
				GuidanceUnit: f.Town + "市场监管分局",
				Act: assurance.Act{Actor: actorSystem(assurance.RoleCommander), At: act.At,
					Note: fmt.Sprintf("就餐 %d 人，自动指派现场指导 / %d diners: guidance assigned automatically", f.Headcount, f.Headcount)}}
			if err := rec.Apply(step, e.pc); err != nil {
				e.log.Warn("assure: automatic guidance assignment refused", "banquet", id, "err", err)
			}
		}
	}
	if err := e.st.Create(kindBanquet, id, rec); err != nil {
		return Banquet{}, nil, err
	}
	v := e.banquetView(rec)
	e.publish(wire.KindBanquet, v)
	return v, warns, nil
}

func (e *Engine) banquetView(b Banquet) Banquet {
	b.StateLabel = b.State.Label()
	b.Point = b.Filing.Point
	if b.Point == nil {
		b.Point = e.subjectOf(b.ID).point
	}
	b.WindowStart, b.WindowEnd = time.Time{}, time.Time{}
	zone := e.zone()
	for _, s := range b.Filing.Sittings {
		h := sittingHours[s.Meal]
		day := time.Date(s.Date.Year, s.Date.Month, s.Date.Day, 0, 0, 0, 0, zone)
		if st := day.Add(h[0]); b.WindowStart.IsZero() || st.Before(b.WindowStart) {
			b.WindowStart = st
		}
		if en := day.Add(h[1]); en.After(b.WindowEnd) {
			b.WindowEnd = en
		}
	}
	chefs, _ := store.All[assurance.VillageChef](e.st, kindChef)
	b.FourInPlace = assurance.FourInPlace(b.Banquet, chefs, e.pc)
	return b
}

// Banquet returns one banquet.
func (e *Engine) Banquet(id string) (Banquet, error) {
	var b Banquet
	if err := e.st.Get(kindBanquet, id, &b); err != nil {
		return Banquet{}, err
	}
	return e.banquetView(b), nil
}

// BanquetFilter selects banquets.
type BanquetFilter struct {
	State  assurance.BanquetState
	Date   assurance.Date // a sitting on this day
	TeamID string
}

// Banquets returns banquets by first sitting.
func (e *Engine) Banquets(f BanquetFilter) ([]Banquet, error) {
	all, err := store.All[Banquet](e.st, kindBanquet)
	if err != nil {
		return nil, err
	}
	var out []Banquet
	for _, b := range all {
		if (f.State != "" && b.State != f.State) || (f.TeamID != "" && b.TeamID != f.TeamID) {
			continue
		}
		if !f.Date.IsZero() && !slices.ContainsFunc(b.Filing.Sittings, func(s assurance.Sitting) bool { return s.Date == f.Date }) {
			continue
		}
		out = append(out, e.banquetView(b)) // after the listing: the view reads the store
	}
	slices.SortFunc(out, func(a, b Banquet) int { return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// ModifyBanquet applies fn (a step, a finding, a closed rectification) at
// the engine's time after checking the evidence it cites, and publishes.
func (e *Engine) ModifyBanquet(id string, cited []assurance.EvidenceRef, fn func(b *assurance.Banquet, now time.Time) error) (Banquet, error) {
	now := e.deps.Now()
	b, err := store.Modify(e.st, kindBanquet, id, func(b *Banquet) error {
		if err := checkEvidence(b.Evidence, cited); err != nil {
			return err
		}
		return fn(&b.Banquet, now)
	})
	if err != nil {
		return Banquet{}, err
	}
	v := e.banquetView(b)
	e.publish(wire.KindBanquet, v)
	return v, nil
}

// PutChef adds or replaces an entry of the village-chef register.
func (e *Engine) PutChef(c assurance.VillageChef, actor assurance.Actor) (assurance.VillageChef, error) {
	switch actor.Role {
	case assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector, assurance.RoleOperator:
	default:
		return c, &assurance.RoleError{Action: "village chef register", Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector, assurance.RoleOperator}}
	}
	if c.ID == "" {
		// A chef filed from the screen: numbered by the time of filing.
		c.ID = "VC-" + e.deps.Now().In(e.zone()).Format("20060102-150405.000")
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.Phone != "" {
		c.Phone, _ = assurance.NormalizePhone(c.Phone)
	}
	return c, e.st.Put(kindChef, c.ID, c)
}

// RecordChefTraining counts a training session for a chef.
func (e *Engine) RecordChefTraining(id string, day assurance.Date, actor assurance.Actor) (assurance.VillageChef, error) {
	if actor.Role == assurance.RoleViewer {
		return assurance.VillageChef{}, &assurance.RoleError{Action: "chef training", Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector, assurance.RoleOperator}}
	}
	if day.IsZero() {
		day = e.today()
	}
	return store.Modify(e.st, kindChef, id, func(c *assurance.VillageChef) error {
		c.RecordTraining(day)
		return nil
	})
}

// ChefView is a register entry with its fitness today and the banquets
// whose filing names it (a cook with its chef_id).
type ChefView struct {
	assurance.VillageChef
	FitToday bool              `json:"fit_today"`
	Why      []assurance.Label `json:"why,omitempty"`
	Cert     assurance.Label   `json:"cert_status"`
	// CertState is the certificate's status today (cert_valid,
	// cert_none, cert_expired): what the register flags.
	CertState assurance.CertStatus `json:"cert_state"`
	Banquets  []ChefBanquet        `json:"banquets"`
}

// ChefBanquet is one banquet a chef cooked (or is filed to cook).
type ChefBanquet struct {
	ID    string                 `json:"id"`
	Host  string                 `json:"host"`
	Type  assurance.BanquetType  `json:"type"`
	Date  assurance.Date         `json:"date,omitzero"` // its first sitting
	State assurance.BanquetState `json:"state"`
	Role  assurance.CookRole     `json:"role"`
}

// Chefs returns the village-chef register, each entry with the banquets
// that name it, newest first.
func (e *Engine) Chefs() ([]ChefView, error) {
	cs, err := store.All[assurance.VillageChef](e.st, kindChef)
	if err != nil {
		return nil, err
	}
	bs, err := store.All[Banquet](e.st, kindBanquet)
	if err != nil {
		return nil, err
	}
	cooked := map[string][]ChefBanquet{}
	for _, b := range bs {
		for _, c := range b.Filing.Cooks {
			if c.ChefID == "" {
				continue
			}
			cb := ChefBanquet{ID: b.ID, Host: b.Filing.Host.Name, Type: b.Filing.Type, State: b.State, Role: c.Role}
			if len(b.Filing.Sittings) > 0 {
				cb.Date = b.Filing.Sittings[0].Date
			}
			cooked[c.ChefID] = append(cooked[c.ChefID], cb)
		}
	}
	today := e.today()
	out := make([]ChefView, 0, len(cs))
	for _, c := range cs {
		ok, why := c.FitOn(today, e.pc.Banquet.MinChefTrainings)
		list := cooked[c.ID]
		slices.SortFunc(list, func(a, b ChefBanquet) int { return cmp.Or(b.Date.Compare(a.Date), cmp.Compare(a.ID, b.ID)) })
		if list == nil {
			list = []ChefBanquet{}
		}
		st := c.Cert.StatusOn(today)
		out = append(out, ChefView{VillageChef: c, FitToday: ok, Why: why, Cert: st.Label(), CertState: st, Banquets: list})
	}
	return out, nil
}
