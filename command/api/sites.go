package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// pointKinds are the feature kinds stored as sites.
var pointKinds = map[geo.Kind]bool{geo.KindStall: true, geo.KindKitchen: true, geo.KindBanquet: true}

// SiteFeature returns a site as a GeoJSON feature, with its latest verdict
// when it has one.
func SiteFeature(st store.Site, latest *wire.StallState) geo.Feature {
	props := map[string]any{}
	if st.ZoneID != "" {
		props["zone"] = st.ZoneID
	}
	for k, v := range map[string]string{"category": st.Category, "grade": st.Grade, "business": st.Business, "event_id": st.EventID} {
		if v != "" {
			props[k] = v
		}
	}
	if latest != nil {
		props["verdict"] = string(latest.Verdict)
		props["result_id"] = latest.ResultID
		props["method"] = string(latest.Method)
		props["analyte"] = latest.Analyte
		props["value"] = latest.Value
		props["unit"] = latest.Unit
		props["measured_at"] = latest.MeasuredAt.Format(time.RFC3339)
	}
	var p orb.Point
	if len(st.Loc) == 2 {
		p = orb.Point{st.Loc[0], st.Loc[1]}
	}
	return geo.Feature{ID: st.ID, Kind: geo.Kind(st.Kind), Name: st.Name, NameEN: st.NameEn, Geometry: p, Properties: props}
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	kind := r.URL.Query().Get("kind")
	zone := r.URL.Query().Get("zone")
	// Collect, then look up the latest states: nothing may wait on the
	// store's lock while its read transaction is open (a writer holding
	// the lock waits for the transaction).
	var sites []store.Site
	err := store.List(s.Store, "site", func(_ string, st store.Site) bool {
		if (kind == "" || st.Kind == kind) && (zone == "" || st.ZoneID == zone) {
			sites = append(sites, st)
		}
		return true
	})
	if err != nil {
		return err
	}
	var fc geo.FeatureCollection
	for _, st := range sites {
		var latest *wire.StallState
		if l, ok := s.Store.StallState(st.ID); ok {
			latest = &l
		}
		fc.Features = append(fc.Features, SiteFeature(st, latest))
	}
	return writeGeoJSON(w, fc)
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) error {
	var st store.Site
	if err := s.Store.Get("site", r.PathValue("id"), &st); err != nil {
		return err
	}
	var latest *wire.StallState
	if l, ok := s.Store.StallState(st.ID); ok {
		latest = &l
	}
	rs, err := s.Store.Results(store.ResultFilter{StallID: st.ID, Limit: 50})
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []wire.Result{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"site": st, "latest": latest, "results": rs})
	return nil
}

// ImportResult is the answer to a GeoJSON import.
type ImportResult struct {
	Imported int      `json:"imported"`
	Warnings []string `json:"warnings"`
}

// ImportSites stores the point features of fc as sites. A stall must name
// a zone that exists; a stall outside its zone is imported with a warning.
func ImportSites(st *store.Store, fc geo.FeatureCollection) (ImportResult, error) {
	res := ImportResult{Warnings: []string{}}
	zones := map[string]orb.Geometry{}
	err := store.List(st, "zone", func(id string, z store.Zone) bool {
		if g, err := geojson.UnmarshalGeometry(z.Geometry); err == nil {
			zones[id] = g.Geometry()
		}
		return true
	})
	if err != nil {
		return res, err
	}
	var sites []store.Site
	for i, f := range fc.Features {
		if !pointKinds[f.Kind] {
			return res, Invalid("feature %d (id %q): kind %q cannot be imported here; send stalls, kitchens and banquets (zones go to POST /api/v1/zones)", i, f.ID, f.Kind)
		}
		p, _ := f.Point()
		site := store.Site{ID: f.ID, Kind: string(f.Kind), Name: f.Name, NameEn: f.NameEN, Loc: []float64{p[0], p[1]},
			ZoneID: f.Prop("zone"), Category: f.Prop("category"), Grade: f.Prop("grade"), Business: f.Prop("business"),
			EventID: f.Prop("event_id")}
		if site.ZoneID != "" {
			g, ok := zones[site.ZoneID]
			if !ok {
				return res, Invalid("feature %d (id %q): zone %q is not imported; import the zones first (POST /api/v1/zones)", i, f.ID, site.ZoneID)
			}
			if !geo.GeometryContains(g, p) {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s lies outside its zone %s", f.Kind, f.ID, site.ZoneID))
			}
		}
		if site.Grade != "" && (len(site.Grade) != 1 || site.Grade[0] < 'A' || site.Grade[0] > 'D') {
			return res, Invalid("feature %d (id %q): grade %q must be A, B, C or D", i, f.ID, site.Grade)
		}
		sites = append(sites, site)
	}
	ids := make([]string, len(sites))
	for i, site := range sites {
		ids[i] = site.ID
	}
	if err := store.PutMany(st, "site", ids, sites); err != nil {
		return res, err
	}
	res.Imported = len(sites)
	return res, nil
}

// ImportZones stores the area features of fc as zones.
func ImportZones(st *store.Store, fc geo.FeatureCollection) (ImportResult, error) {
	res := ImportResult{Warnings: []string{}}
	var zones []store.Zone
	for i, f := range fc.Features {
		if f.Kind != geo.KindZone && f.Kind != geo.KindVenue {
			return res, Invalid("feature %d (id %q): kind %q is not an area; send zones and venues (points go to POST /api/v1/stalls)", i, f.ID, f.Kind)
		}
		g, err := json.Marshal(geojson.NewGeometry(f.Geometry))
		if err != nil {
			return res, err
		}
		zones = append(zones, store.Zone{ID: f.ID, Kind: string(f.Kind), Name: f.Name, NameEn: f.NameEN, EventID: f.Prop("event_id"), Geometry: g})
	}
	ids := make([]string, len(zones))
	for i, z := range zones {
		ids[i] = z.ID
	}
	if err := store.PutMany(st, "zone", ids, zones); err != nil {
		return res, err
	}
	res.Imported = len(zones)
	return res, nil
}

func (s *Server) decodeFC(r *http.Request) (geo.FeatureCollection, error) {
	return geo.DecodeFeatureCollection(r.Body, geo.Limits{})
}

func (s *Server) importSites(w http.ResponseWriter, r *http.Request) error {
	fc, err := s.decodeFC(r)
	if err != nil {
		return err
	}
	res, err := ImportSites(s.Store, fc)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) importZones(w http.ResponseWriter, r *http.Request) error {
	fc, err := s.decodeFC(r)
	if err != nil {
		return err
	}
	res, err := ImportZones(s.Store, fc)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// ZoneFeatures returns the stored zones as features.
func ZoneFeatures(st *store.Store) (geo.FeatureCollection, error) {
	var fc geo.FeatureCollection
	err := store.List(st, "zone", func(_ string, z store.Zone) bool {
		g, err := geojson.UnmarshalGeometry(z.Geometry)
		if err != nil {
			return true
		}
		props := map[string]any{}
		if z.EventID != "" {
			props["event_id"] = z.EventID
		}
		fc.Features = append(fc.Features, geo.Feature{ID: z.ID, Kind: geo.Kind(z.Kind), Name: z.Name, NameEN: z.NameEn, Geometry: g.Geometry(), Properties: props})
		return true
	})
	return fc, err
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) error {
	fc, err := ZoneFeatures(s.Store)
	if err != nil {
		return err
	}
	return writeGeoJSON(w, fc)
}

func (s *Server) listKiosks(w http.ResponseWriter, r *http.Request) error {
	live := map[string]wire.KioskState{}
	for _, k := range s.Kiosks.KioskStates() {
		live[k.KioskID] = k
	}
	out := []map[string]any{}
	err := store.List(s.Store, "kiosk", func(id string, k store.Kiosk) bool {
		st := live[id]
		v := map[string]any{"kiosk_id": k.ID, "name": k.Name, "site_id": k.SiteID, "event_id": k.EventID,
			"loc": k.Loc, "online": st.Online, "pending": st.Pending, "last_seen": st.LastSeen,
			"storage": st.Storage, "instruments": st.Instruments}
		out = append(out, v)
		return true
	})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

type kioskReq struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	SiteID  string    `json:"site_id,omitempty"`
	EventID string    `json:"event_id,omitempty"`
	Loc     []float64 `json:"loc,omitempty"`
}

func (s *Server) registerKiosk(w http.ResponseWriter, r *http.Request) error {
	var req kioskReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return Invalid("id is required (e.g. \"K-NT-01\")")
	}
	if len(req.Loc) != 0 {
		if len(req.Loc) != 2 || geo.ValidatePoint(orb.Point{req.Loc[0], req.Loc[1]}) != nil {
			return Invalid("loc must be [lon, lat] in WGS-84")
		}
	}
	tok, err := s.Store.RegisterKiosk(store.Kiosk{ID: req.ID, Name: req.Name, SiteID: req.SiteID, EventID: req.EventID, Loc: req.Loc})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, map[string]string{"id": req.ID, "token": tok})
	return nil
}

func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		return err
	}
	as, err := s.Store.Alarms(limit, r.URL.Query().Get("open") == "1")
	if err != nil {
		return err
	}
	if as == nil {
		as = []store.Alarm{}
	}
	WriteJSON(w, http.StatusOK, as)
	return nil
}

func (s *Server) ackAlarm(w http.ResponseWriter, r *http.Request) error {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		return Invalid("alarm number %q is not a number", r.PathValue("seq"))
	}
	a, err := s.Store.AckAlarm(seq, userOf(r).Name)
	if err != nil {
		return err
	}
	s.Hub.Publish(wire.KindAlert, a)
	WriteJSON(w, http.StatusOK, a)
	return nil
}

type userReq struct {
	Name        string         `json:"name"`
	DisplayName string         `json:"display_name"`
	Role        assurance.Role `json:"role"`
	Password    string         `json:"password"`
	Events      []string       `json:"events,omitempty"`
	TeamID      string         `json:"team_id,omitempty"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	if err := s.Auth.CreateUser(req.Name, req.DisplayName, req.Role, req.Password); err != nil {
		if _, ok := err.(interface{ Unwrap() error }); ok {
			return err
		}
		return Invalid("%v", err)
	}
	if len(req.Events) > 0 || req.TeamID != "" {
		if _, err := store.Modify(s.Store, "user", req.Name, func(u *store.User) error {
			u.Events, u.TeamID = req.Events, req.TeamID
			return nil
		}); err != nil {
			return err
		}
	}
	WriteJSON(w, http.StatusCreated, map[string]string{"name": req.Name, "role": string(req.Role)})
	return nil
}

type tokenReq struct {
	User string `json:"user"`
	Name string `json:"name"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	tok, err := s.Auth.NewAPIToken(req.User, req.Name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, map[string]string{"user": req.User, "token": tok})
	return nil
}

type linkReq struct {
	User       string `json:"user"`
	TTLSeconds int    `json:"ttl_seconds,omitempty"`
}

func (s *Server) createLoginLink(w http.ResponseWriter, r *http.Request) error {
	var req linkReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	ttl := 15 * time.Minute
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	tok, err := s.Auth.NewLoginLink(req.User, ttl)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, map[string]string{"user": req.User, "path": "/login?token=" + tok})
	return nil
}
