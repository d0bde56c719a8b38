package api

// Routes the command centre's map page needs besides the data routes:
// its configuration (base map, label URLs, the incident state machine and
// the protocol's labels), printable QR labels for stalls and kitchens,
// and the short link a label's QR code carries.
//
//	GET  /api/v1/ui-config              viewer  base map, label base URL, incident machine, labels,
//	                                            the event's UTC offset (utc_offset_s) for the pages' clocks
//	PUT  /api/v1/ui-config              admin   save the base map and label base URL
//	DELETE /api/v1/ui-config            admin   forget the saved settings (back to the environment)
//	GET  /api/v1/labels?zone=&kind=     viewer  the sites to print labels for, with each QR's content
//	GET  /api/v1/stalls/{id}/qr.png     viewer  a site's QR code as a PNG (?scale=, pixels per module)
//	GET  /s/{id}                        none    a scanned label opened on a phone: the stall's public page (command/public)
//
// # Base map configuration
//
// The page draws the offline venue plan by default. A street tile layer
// is configured with its URL template and the coordinate system its tiles
// are drawn in (wgs84, gcj02 for AMap/Tencent, bd09 for Baidu): stored
// positions are WGS-84 and the page converts them for display only. The
// settings come, in this order, from what an admin saved
// (PUT /api/v1/ui-config) or from the command service's environment:
//
//	SHIAN_TILE_URL          e.g. https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}
//	SHIAN_TILE_DATUM        wgs84 | gcj02 | bd09 (default wgs84)
//	SHIAN_TILE_NAME         the layer's name in the layer switcher ("zh / en")
//	SHIAN_TILE_ATTRIBUTION  attribution text
//	SHIAN_TILE_SUBDOMAINS   e.g. 1234
//	SHIAN_TILE_MAX_ZOOM     e.g. 18
//	SHIAN_LABEL_BASE_URL    the URL printed into QR labels (default: this server's)
//
// # QR labels
//
// A label's QR code holds "{base}/s/{id}": the kiosk's scanner input takes
// the last path segment of a URL as the stall id (kiosk/ui/static/js/scan.js,
// parseStallCode), and a phone that scans it opens the site on the map.

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	qr "github.com/piglig/go-qr"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Datums a tile layer may be drawn in.
const (
	DatumWGS84 = "wgs84"
	DatumGCJ02 = "gcj02"
	DatumBD09  = "bd09"
)

// TileConfig is a street base map.
type TileConfig struct {
	// URL is a Leaflet tile URL template with {x}, {y} and {z} (and {s}
	// for a subdomain).
	URL string `json:"url"`
	// Datum is the coordinate system the tiles are drawn in: wgs84, gcj02
	// (AMap, Tencent) or bd09 (Baidu, whose tiles also use Baidu's own
	// tiling: the page switches to it).
	Datum       string `json:"datum"`
	Name        string `json:"name,omitempty"` // "zh / en", shown in the layer switcher
	Attribution string `json:"attribution,omitempty"`
	Subdomains  string `json:"subdomains,omitempty"`
	MaxZoom     int    `json:"max_zoom,omitempty"`
}

// UISettings are the map page's settings an admin may change.
type UISettings struct {
	// Tiles is the street base map; nil means the venue plan only.
	Tiles *TileConfig `json:"tiles"`
	// LabelBaseURL is printed into QR labels ("" means this server's
	// address as the browser reached it).
	LabelBaseURL string `json:"label_base_url,omitempty"`
}

// validate checks the settings (and defaults an empty datum to wgs84).
func (u *UISettings) validate() error {
	if t := u.Tiles; t != nil {
		if t.URL == "" {
			return Invalid("tiles.url is required (or send \"tiles\": null for the venue plan only)")
		}
		for _, p := range []string{"{x}", "{y}", "{z}"} {
			if !strings.Contains(t.URL, p) {
				return Invalid("tiles.url %q lacks %s; a tile URL template has {x}, {y} and {z}, e.g. https://tiles.example/{z}/{x}/{y}.png", t.URL, p)
			}
		}
		if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") && !strings.HasPrefix(t.URL, "/") {
			return Invalid("tiles.url %q must start with http://, https:// or / (a path on this server)", t.URL)
		}
		switch t.Datum {
		case DatumWGS84, DatumGCJ02, DatumBD09:
		case "":
			t.Datum = DatumWGS84
		default:
			return Invalid("tiles.datum %q: use wgs84 (OpenStreetMap, GPS), gcj02 (AMap 高德, Tencent 腾讯) or bd09 (Baidu 百度)", t.Datum)
		}
		if t.MaxZoom < 0 || t.MaxZoom > 22 {
			return Invalid("tiles.max_zoom %d: use 1–22 (0: the default 18)", t.MaxZoom)
		}
	}
	if b := u.LabelBaseURL; b != "" {
		p, err := url.Parse(b)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return Invalid("label_base_url %q must be an http:// or https:// URL, e.g. https://shian.example.gov.cn", b)
		}
	}
	return nil
}

// settingKind and settingUI key the saved settings in the store.
const (
	settingKind = "setting"
	settingUI   = "ui"
)

// UISettingsFromEnv reads the settings from the environment (see the
// file comment); getenv is os.Getenv in the service.
func UISettingsFromEnv(getenv func(string) string) UISettings {
	var u UISettings
	if url := getenv("SHIAN_TILE_URL"); url != "" {
		t := &TileConfig{URL: url, Datum: strings.ToLower(cmp.Or(getenv("SHIAN_TILE_DATUM"), DatumWGS84)),
			Name: getenv("SHIAN_TILE_NAME"), Attribution: getenv("SHIAN_TILE_ATTRIBUTION"), Subdomains: getenv("SHIAN_TILE_SUBDOMAINS")}
		t.Datum = strings.NewReplacer("-", "", "_", "").Replace(t.Datum)
		if n, err := strconv.Atoi(getenv("SHIAN_TILE_MAX_ZOOM")); err == nil {
			t.MaxZoom = n
		}
		u.Tiles = t
	}
	u.LabelBaseURL = strings.TrimRight(getenv("SHIAN_LABEL_BASE_URL"), "/")
	return u
}

type uiAPI struct {
	s   *Server
	e   *engine.Engine
	env UISettings
}

// RegisterUI adds the map page's support routes (see the file comment)
// to s; call it after Routes. getenv reads the environment's defaults
// (nil: os.Getenv). e may be nil (no incident machine is then described
// beyond the protocol's).
func RegisterUI(s *Server, e *engine.Engine, getenv func(string) string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	u := &uiAPI{s: s, e: e, env: UISettingsFromEnv(getenv)}
	if err := u.env.validate(); err != nil {
		s.Log.Warn("ignoring the base map set in the environment", "err", err)
		u.env.Tiles = nil
	}
	u.admitTiles()
	s.Handle("GET /api/v1/ui-config", assurance.RoleViewer, u.getConfig)
	s.Handle("PUT /api/v1/ui-config", assurance.RoleAdmin, u.putConfig)
	s.Handle("DELETE /api/v1/ui-config", assurance.RoleAdmin, u.deleteConfig)
	s.Handle("GET /api/v1/labels", assurance.RoleViewer, u.labels)
	s.Handle("GET /api/v1/stalls/{id}/qr.png", assurance.RoleViewer, u.qrPNG)
}

// settings returns the settings in force and where they come from.
func (u *uiAPI) settings() (UISettings, string, error) {
	var saved UISettings
	err := u.s.Store.Get(settingKind, settingUI, &saved)
	switch {
	case err == nil:
		return saved, "saved", nil
	case errors.Is(err, store.ErrNotFound):
		if u.env.Tiles != nil || u.env.LabelBaseURL != "" {
			return u.env, "environment", nil
		}
		return u.env, "default", nil
	}
	return UISettings{}, "", err
}

// machineView describes the incident state machine for the page, so that
// it offers only the steps the protocol allows (the API still checks).
type machineView struct {
	States []string            `json:"states"`
	Next   map[string][]string `json:"next"`
	Roles  map[string][]string `json:"roles"` // target state → roles that may take it
	// Team lists the target states an inspector may take only on an
	// incident assigned to their own team.
	Team     []string `json:"team"`
	Controls []string `json:"controls"`
}

func incidentMachine() machineView {
	m := machineView{Next: map[string][]string{}, Roles: map[string][]string{}}
	for _, s := range assurance.IncidentStates() {
		m.States = append(m.States, string(s))
		next := []string{}
		for _, n := range s.Next() {
			next = append(next, string(n))
		}
		m.Next[string(s)] = next
		roles := []string{}
		for _, r := range assurance.IncidentRoles(s) {
			roles = append(roles, string(r))
		}
		if len(roles) > 0 {
			m.Roles[string(s)] = roles
		}
		if s != assurance.IncidentWarned && s != assurance.IncidentAssigned {
			m.Team = append(m.Team, string(s))
		}
	}
	for _, c := range assurance.ControlMeasures() {
		m.Controls = append(m.Controls, string(c))
	}
	return m
}

func (u *uiAPI) getConfig(w http.ResponseWriter, r *http.Request) error {
	set, source, err := u.settings()
	if err != nil {
		return err
	}
	labels := map[string]assurance.Label{}
	for _, l := range assurance.Labels() {
		labels[l.ID] = l.Label
	}
	// The engine's own identifiers (team statuses and modes).
	for id, l := range map[string]assurance.Label{
		engine.TeamAvailable: {ZH: "待命", EN: "Available"}, engine.TeamBusy: {ZH: "处置中", EN: "Busy"},
		engine.TeamOffDuty: {ZH: "休息", EN: "Off duty"},
	} {
		labels[id] = l
	}
	pc := assurance.DefaultConfig()
	if u.e != nil {
		pc = u.e.Protocol()
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"tiles":             set.Tiles,
		"label_base_url":    u.labelBase(r, set),
		"source":            source,
		"incident":          incidentMachine(),
		"separate_sign_off": pc.Incident.SeparateSignOff,
		"retest_window_s":   int(pc.Incident.RetestWindow.Seconds()),
		// The event's clock: every page shows times on it (internal/jswhen).
		"utc_offset_s": int(pc.KPI.UTCOffset.Seconds()),
		"labels":       labels,
	})
	return nil
}

func (u *uiAPI) putConfig(w http.ResponseWriter, r *http.Request) error {
	var set UISettings
	if err := decodeJSON(r, 16<<10, &set); err != nil {
		return err
	}
	set.LabelBaseURL = strings.TrimRight(set.LabelBaseURL, "/")
	if err := set.validate(); err != nil {
		return err
	}
	if err := u.s.Store.Put(settingKind, settingUI, set); err != nil {
		return err
	}
	u.admitTiles()
	return u.getConfig(w, r)
}

func (u *uiAPI) deleteConfig(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.Store.Delete(settingKind, settingUI); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	u.admitTiles()
	return u.getConfig(w, r)
}

// admitTiles lets the pages' CSP load images from the base map in force
// (the guard's img-src; see TileSource).
func (u *uiAPI) admitTiles() {
	set, _, err := u.settings()
	if err != nil {
		u.s.Log.Warn("base map settings unreadable; the map's CSP admits no tile server", "err", err)
	}
	if set.Tiles != nil {
		u.s.SetTileSources(TileSource(set.Tiles.URL))
		return
	}
	u.s.SetTileSources()
}

// labelBase is the URL QR labels carry before "/s/{id}".
func (u *uiAPI) labelBase(r *http.Request, set UISettings) string {
	if set.LabelBaseURL != "" {
		return set.LabelBaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// LabelContent is what a site's QR label encodes: base + "/s/" + id.
func LabelContent(base, id string) string {
	return strings.TrimRight(base, "/") + "/s/" + url.PathEscape(id)
}

// labelID is what a kiosk accepts as a stall id (kiosk/ui scan.js).
var labelID = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// Label is one printable label.
type Label struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	NameEN   string `json:"name_en,omitempty"`
	ZoneID   string `json:"zone_id,omitempty"`
	ZoneName string `json:"zone_name,omitempty"`
	ZoneEN   string `json:"zone_name_en,omitempty"`
	Grade    string `json:"grade,omitempty"`
	Business string `json:"business,omitempty"`
	Content  string `json:"content"` // what the QR code holds
	PNG      string `json:"png"`     // the QR code image
	// Scannable is false when the kiosk's scanner would refuse the id
	// (characters outside letters, digits and -_.:, or over 64 bytes).
	Scannable bool `json:"scannable"`
}

func (u *uiAPI) labels(w http.ResponseWriter, r *http.Request) error {
	set, _, err := u.settings()
	if err != nil {
		return err
	}
	base := u.labelBase(r, set)
	q := r.URL.Query()
	zone, kind := q.Get("zone"), q.Get("kind")
	zones := map[string]store.Zone{}
	store.List(u.s.Store, "zone", func(id string, z store.Zone) bool {
		zones[id] = z
		return true
	})
	out := []Label{}
	err = store.List(u.s.Store, "site", func(_ string, st store.Site) bool {
		if (zone != "" && st.ZoneID != zone) || (kind != "" && st.Kind != kind) || (kind == "" && st.Kind == "banquet") ||
			!engine.InScope(userOf(r).Events, st.EventID) {
			return true
		}
		z := zones[st.ZoneID]
		out = append(out, Label{ID: st.ID, Kind: st.Kind, Name: st.Name, NameEN: st.NameEn, ZoneID: st.ZoneID,
			ZoneName: z.Name, ZoneEN: z.NameEn, Grade: st.Grade, Business: st.Business,
			Content: LabelContent(base, st.ID), PNG: "/api/v1/stalls/" + url.PathEscape(st.ID) + "/qr.png",
			Scannable: labelID.MatchString(st.ID)})
		return true
	})
	if err != nil {
		return err
	}
	slices.SortFunc(out, func(a, b Label) int {
		return cmp.Or(cmp.Compare(a.ZoneID, b.ZoneID), cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.ID, b.ID))
	})
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func kindOrder(k string) int {
	switch k {
	case "kitchen":
		return 0
	case "stall":
		return 1
	}
	return 2
}

func (u *uiAPI) qrPNG(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var st store.Site
	if err := u.s.Store.Get("site", id, &st); err != nil {
		return err
	}
	if err := inScope(r, st.EventID); err != nil {
		return err
	}
	scale := 8
	if s := r.URL.Query().Get("scale"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 40 {
			return Invalid("scale=%q: want pixels per module, 1–40", s)
		}
		scale = n
	}
	set, _, err := u.settings()
	if err != nil {
		return err
	}
	content := LabelContent(u.labelBase(r, set), st.ID)
	png, err := QRPNG(content, scale)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-QR-Content", content)
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", "qr-"+st.ID+".png"))
	_, err = w.Write(png)
	return err
}

// QRPNG renders text as a QR code PNG: error correction level Q (a label
// in a kitchen gets greasy; Q restores a quarter of the code), scale
// pixels per module and the standard quiet zone of 4 modules.
func QRPNG(text string, scale int) ([]byte, error) {
	code, err := qr.EncodeText(text, qr.Quartile)
	if err != nil {
		return nil, fmt.Errorf("qr code for %q: %w", text, err)
	}
	var buf bytes.Buffer
	if err := code.WriteAsPNG(qr.NewQrCodeImgConfig(scale, 4), &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
