package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/pinyin"
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
	// The name's pinyin, for the pages' stall search ("malatang", "mlt").
	if k := pinyin.KeysOf(st.Name); k.Full != "" {
		props["pinyin"], props["initials"] = k.Full, k.Initials
	}
	if latest != nil && latest.OpenIncident != nil {
		props["open_incident"] = latest.OpenIncident
	}
	if latest != nil && latest.ResultID != "" {
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
	scope := userOf(r).Events
	// Collect, then look up the latest states: nothing may wait on the
	// store's lock while its read transaction is open (a writer holding
	// the lock waits for the transaction).
	var sites []store.Site
	err := store.List(s.Store, "site", func(_ string, st store.Site) bool {
		if (kind == "" || st.Kind == kind) && (zone == "" || st.ZoneID == zone) && engine.InScope(scope, st.EventID) {
			sites = append(sites, st)
		}
		return true
	})
	if err != nil {
		return err
	}
	var fc geo.FeatureCollection
	for _, st := range sites {
		fc.Features = append(fc.Features, SiteFeature(st, s.stallState(st.ID)))
	}
	return writeGeoJSON(w, fc)
}

// stallState is a site's latest result with the open incident that keeps
// it alarming; nil when it has neither.
func (s *Server) stallState(id string) *wire.StallState {
	l, ok := s.History.StallState(id)
	if s.OpenIncidentAt != nil {
		if inc := s.OpenIncidentAt(id); inc != nil {
			l.StallID, l.OpenIncident, ok = id, inc, true
		}
	}
	if !ok {
		return nil
	}
	return &l
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) error {
	var st store.Site
	if err := s.Store.Get("site", r.PathValue("id"), &st); err != nil {
		return err
	}
	if err := inScope(r, st.EventID); err != nil {
		return err
	}
	latest := s.stallState(st.ID)
	rs, err := s.History.Results(history.Filter{StallID: st.ID, Limit: 50, Events: userOf(r).Events})
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []wire.Result{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"site": st, "latest": latest, "results": rs})
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
	if scope := userOf(r).Events; len(scope) > 0 {
		// A zone of no event (a venue's outline) is plain geography; an
		// event's zones are that event's.
		fc.Features = slices.DeleteFunc(fc.Features, func(f geo.Feature) bool {
			ev, _ := f.Properties["event_id"].(string)
			return ev != "" && !engine.InScope(scope, ev)
		})
	}
	return writeGeoJSON(w, fc)
}

func (s *Server) listKiosks(w http.ResponseWriter, r *http.Request) error {
	live := map[string]wire.KioskState{}
	for _, k := range s.Kiosks.KioskStates() {
		live[k.KioskID] = k
	}
	out := []map[string]any{}
	scope := userOf(r).Events
	err := store.List(s.Store, "kiosk", func(id string, k store.Kiosk) bool {
		if !engine.InScope(scope, k.EventID) {
			return true
		}
		st := live[id]
		v := map[string]any{"kiosk_id": k.ID, "name": k.Name, "site_id": k.SiteID, "event_id": k.EventID, "sites": k.Sites,
			"disabled": k.Disabled, "loc": k.Loc, "online": st.Online, "pending": st.Pending, "last_seen": st.LastSeen,
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
	Sites   []string  `json:"sites,omitempty"`
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
	if len(req.Sites) > 1000 {
		return Invalid("sites: at most 1000 site ids; register the kiosk to its event (event_id) instead")
	}
	for _, id := range req.Sites {
		if id == "" {
			return Invalid("sites: a site id is empty")
		}
	}
	// Registering again replaces the token: the kiosk's open link on the
	// old token is closed at once (the ingest watches kiosk records).
	tok, err := s.Store.RegisterKiosk(store.Kiosk{ID: req.ID, Name: req.Name, SiteID: req.SiteID, EventID: req.EventID, Sites: req.Sites, Loc: req.Loc})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, map[string]string{"id": req.ID, "token": tok})
	return nil
}

// disableKiosk disables (or enables) a kiosk: a disabled kiosk's open link
// is closed at once with 1008 and its handshakes are refused with 403.
func (s *Server) disableKiosk(disabled bool) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		k, err := s.Store.SetKioskDisabled(r.PathValue("id"), disabled)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, map[string]any{"id": k.ID, "disabled": k.Disabled})
		return nil
	}
}

// deleteKiosk removes a kiosk's registration (its results stay); its open
// link is closed at once with 1008.
func (s *Server) deleteKiosk(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.DeleteKiosk(r.PathValue("id")); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": "deleted"})
	return nil
}

func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		return err
	}
	scope := userOf(r).Events
	fetch := limit
	if len(scope) > 0 {
		fetch = 10000 // then keep the user's events' alarms
	}
	as, err := s.Store.Alarms(fetch, r.URL.Query().Get("open") == "1")
	if err != nil {
		return err
	}
	if len(scope) > 0 {
		as = slices.DeleteFunc(as, func(a store.Alarm) bool { return !engine.InScope(scope, s.Store.AlarmEvent(a)) })
		as = as[:min(len(as), limit)]
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
	old, err := s.Store.Alarm(seq)
	if err != nil {
		return err
	}
	if err := inScope(r, s.Store.AlarmEvent(old)); err != nil {
		return err
	}
	a, err := s.Store.AckAlarm(seq, userOf(r).Name)
	if err != nil {
		return err
	}
	s.Hub.Publish(wire.KindAlert, a)
	WriteJSON(w, http.StatusOK, a)
	return nil
}
