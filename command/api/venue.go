package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
)

// Venue import, as installers do it: a venue file from QGIS or geojson.io
// is checked whole, every problem is listed in one answer, and with
// skip_invalid the valid features are imported and the rest reported.
//
//	POST /api/v1/venue    zones and venues (areas) and stalls, kitchens, banquet sites (points), zones first
//	POST /api/v1/zones    areas only
//	POST /api/v1/stalls   points only
//
// Query: skip_invalid=1 imports the valid features; id=PROP and name=PROP
// name the properties holding each feature's id and name; kind=K is the
// kind of features with no "kind" property (a QGIS zone layer: kind=zone).

// Problem is one feature that was not imported, and why.
type Problem struct {
	// Feature is its 0-based index in the file; ID its id, when known.
	Feature int    `json:"feature"`
	ID      string `json:"id,omitempty"`
	// Path locates the problem inside the feature
	// ("geometry.coordinates[0][3]").
	Path string `json:"path,omitempty"`
	// Code classifies it (geo's codes: self_intersection, ring_unclosed,
	// duplicate_id, property, …; and zone_missing, wrong_route).
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ImportResult is the answer to a GeoJSON import.
type ImportResult struct {
	// Imported counts the features stored: Zones areas and Sites points.
	Imported int `json:"imported"`
	Zones    int `json:"zones"`
	Sites    int `json:"sites"`
	// Total is the number of features in the file; Skipped those not
	// imported (each in Problems).
	Total    int       `json:"total"`
	Skipped  int       `json:"skipped"`
	Problems []Problem `json:"problems"`
	Warnings []string  `json:"warnings"`
}

// What an import route takes.
const (
	takeAreas  = 1
	takePoints = 2
	takeAll    = takeAreas | takePoints
)

func problemOf(e *geo.Error) Problem {
	return Problem{Feature: e.Feature, ID: e.ID, Path: e.Path, Code: string(e.Code), Message: e.Error()}
}

// ImportVenue stores the features of d that the route takes: areas as
// zones first, then points as sites. A stall must name a zone that exists
// (stored, or in this file); a stall outside its zone is imported with a
// warning. With skip false nothing is stored when any feature has a
// problem; with skip true the valid ones are, and the others are listed.
func ImportVenue(st *store.Store, d geo.Decoded, take int, skip bool) (ImportResult, error) {
	res := ImportResult{Problems: []Problem{}, Warnings: []string{}, Total: d.Total}
	for _, e := range d.Problems {
		res.Problems = append(res.Problems, problemOf(e))
	}
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
	index := featureIndexes(d)
	var zs []store.Zone
	var zids []string
	var points []int
	for i, f := range d.Features {
		area := f.Kind == geo.KindZone || f.Kind == geo.KindVenue
		switch {
		case area && take&takeAreas != 0:
			g, err := json.Marshal(geojson.NewGeometry(f.Geometry))
			if err != nil {
				return res, err
			}
			zs = append(zs, store.Zone{ID: f.ID, Kind: string(f.Kind), Name: f.Name, NameEn: f.NameEN, EventID: f.Prop("event_id"), Geometry: g})
			zids = append(zids, f.ID)
			zones[f.ID] = f.Geometry
		case !area && pointKinds[f.Kind] && take&takePoints != 0:
			points = append(points, i)
		case area:
			res.Problems = append(res.Problems, Problem{Feature: index[i], ID: f.ID, Code: "wrong_route",
				Message: fmt.Sprintf("feature %d (id %q): kind %q is not an area; send zones and venues (points go to POST /api/v1/stalls, or send both to POST /api/v1/venue)", index[i], f.ID, f.Kind)})
		default:
			res.Problems = append(res.Problems, Problem{Feature: index[i], ID: f.ID, Code: "wrong_route",
				Message: fmt.Sprintf("feature %d (id %q): kind %q cannot be imported here; send stalls, kitchens and banquets (zones go to POST /api/v1/zones, or send both to POST /api/v1/venue)", index[i], f.ID, f.Kind)})
		}
	}
	var sites []store.Site
	var sids []string
	for _, i := range points {
		f := d.Features[i]
		p, _ := f.Point()
		site := store.Site{ID: f.ID, Kind: string(f.Kind), Name: f.Name, NameEn: f.NameEN, Loc: []float64{p[0], p[1]},
			ZoneID: f.Prop("zone"), Category: f.Prop("category"), Grade: f.Prop("grade"), Business: f.Prop("business"),
			EventID: f.Prop("event_id")}
		if site.ZoneID != "" {
			g, ok := zones[site.ZoneID]
			if !ok {
				res.Problems = append(res.Problems, Problem{Feature: index[i], ID: f.ID, Path: "properties.zone", Code: "zone_missing",
					Message: fmt.Sprintf("feature %d (id %q): zone %q is not imported; import the zones first (POST /api/v1/zones)", index[i], f.ID, site.ZoneID)})
				continue
			}
			if !geo.GeometryContains(g, p) {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s lies outside its zone %s", f.Kind, f.ID, site.ZoneID))
			}
		}
		if site.Grade != "" && (len(site.Grade) != 1 || site.Grade[0] < 'A' || site.Grade[0] > 'D') {
			res.Problems = append(res.Problems, Problem{Feature: index[i], ID: f.ID, Path: "properties.grade", Code: string(geo.CodeProperty),
				Message: fmt.Sprintf("feature %d (id %q): grade %q must be A, B, C or D", index[i], f.ID, site.Grade)})
			continue
		}
		sites = append(sites, site)
		sids = append(sids, site.ID)
	}
	sortProblems(res.Problems)
	res.Skipped = len(res.Problems)
	if len(res.Problems) > 0 && !skip {
		return res, nil
	}
	if err := store.PutMany(st, "zone", zids, zs); err != nil {
		return res, err
	}
	if err := store.PutMany(st, "site", sids, sites); err != nil {
		return res, err
	}
	res.Zones, res.Sites = len(zs), len(sites)
	res.Imported = res.Zones + res.Sites
	return res, nil
}

// featureIndexes maps the index of a valid feature in d.Features to its
// index in the file (the problems took the other places).
func featureIndexes(d geo.Decoded) []int {
	bad := map[int]bool{}
	for _, p := range d.Problems {
		bad[p.Feature] = true
	}
	out := make([]int, 0, len(d.Features))
	for i := 0; len(out) < len(d.Features); i++ {
		if !bad[i] {
			out = append(out, i)
		}
	}
	return out
}

func sortProblems(p []Problem) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Feature < p[j-1].Feature; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// ImportSites stores the point features of fc as sites, refusing the
// whole collection at the first problem (the demo's and tests' path; the
// HTTP routes list every problem).
func ImportSites(st *store.Store, fc geo.FeatureCollection) (ImportResult, error) {
	return importStrict(st, fc, takePoints)
}

// ImportZones stores the area features of fc as zones, refusing the whole
// collection at the first problem.
func ImportZones(st *store.Store, fc geo.FeatureCollection) (ImportResult, error) {
	return importStrict(st, fc, takeAreas)
}

func importStrict(st *store.Store, fc geo.FeatureCollection, take int) (ImportResult, error) {
	res, err := ImportVenue(st, geo.Decoded{FeatureCollection: fc, Total: len(fc.Features)}, take, false)
	if err != nil {
		return res, err
	}
	if len(res.Problems) > 0 {
		return res, Invalid("%s", res.Problems[0].Message)
	}
	return res, nil
}

// importRequest reads the query of an import route.
func importRequest(r *http.Request) (geo.Mapping, bool, error) {
	q := r.URL.Query()
	m := geo.Mapping{ID: q.Get("id"), Name: q.Get("name"), Kind: geo.Kind(q.Get("kind"))}
	skip := false
	switch strings.ToLower(q.Get("skip_invalid")) {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		skip = true
	default:
		return m, false, Invalid("skip_invalid=%q: use 1 to import the valid features and list the rest", q.Get("skip_invalid"))
	}
	return m, skip, nil
}

func (s *Server) importRoute(take int) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, skip, err := importRequest(r)
		if err != nil {
			return err
		}
		s.slowBody(w, r)
		d, err := geo.DecodeAll(r.Body, geo.Limits{}, m)
		if err != nil {
			return err
		}
		res, err := ImportVenue(s.Store, d, take, skip)
		if err != nil {
			return err
		}
		if len(res.Problems) > 0 && !skip {
			WriteJSON(w, http.StatusBadRequest, map[string]any{
				"error": map[string]any{"code": CodeInvalid,
					"message": fmt.Sprintf("%d of %d features cannot be imported (listed in problems); nothing was imported. Fix them, or add ?skip_invalid=1 to import the other %d",
						len(res.Problems), res.Total, res.Total-len(res.Problems)),
					"problems": res.Problems},
				"total": res.Total, "skipped": res.Skipped, "imported": 0, "problems": res.Problems, "warnings": res.Warnings})
			return nil
		}
		s.Log.Info("venue imported", "zones", res.Zones, "sites", res.Sites, "skipped", res.Skipped, "total", res.Total)
		WriteJSON(w, http.StatusOK, res)
		return nil
	}
}
