package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
)

func venueServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Bootstrap("admin"); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Auth().NewAPIToken("admin", "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return srv, tok
}

type venueAnswer struct {
	api.ImportResult
	Error *struct {
		Code     string        `json:"code"`
		Message  string        `json:"message"`
		Problems []api.Problem `json:"problems"`
	} `json:"error"`
}

func postVenue(t *testing.T, srv *httptest.Server, tok, path, body string) (int, venueAnswer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a venueAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, a
}

// TestImportWorldCountries imports Natural Earth's countries (a real,
// public multi-polygon file with no kind property, features without an
// id and rings that touch themselves): without skip_invalid every problem
// is listed and nothing is stored; with it the valid countries are
// stored and each invalid one is listed with its problem.
func TestImportWorldCountries(t *testing.T) {
	b, err := os.ReadFile("testdata/countries-110m.geojson")
	if err != nil {
		t.Fatal(err)
	}
	srv, tok := venueServer(t)
	code, a := postVenue(t, srv, tok, "/api/v1/venue", string(b))
	if code != http.StatusBadRequest || a.Error == nil || !strings.Contains(a.Error.Message, "kind") && len(a.Error.Problems) == 0 {
		t.Fatalf("no kind: %d %+v", code, a.Error)
	}
	if len(a.Problems) != a.Total || a.Total != 177 {
		t.Fatalf("without kind=zone every one of the 177 features lacks a kind: %d problems of %d", len(a.Problems), a.Total)
	}

	code, a = postVenue(t, srv, tok, "/api/v1/venue?kind=zone", string(b))
	if code != http.StatusBadRequest || a.Error == nil || a.Imported != 0 {
		t.Fatalf("invalid features without skip_invalid: %d imported %d", code, a.Imported)
	}
	bad := len(a.Error.Problems)
	if bad == 0 || bad == a.Total || !strings.Contains(a.Error.Message, "skip_invalid=1") {
		t.Fatalf("want some (not all) features listed as invalid: %d of %d: %s", bad, a.Total, a.Error.Message)
	}
	codes := map[string]int{}
	for _, p := range a.Error.Problems {
		codes[p.Code]++
		if p.Message == "" || p.Feature < 0 || p.Feature >= a.Total {
			t.Errorf("problem without a feature or message: %+v", p)
		}
	}
	t.Logf("world countries: %d of %d features invalid, by code %v", bad, a.Total, codes)
	for _, p := range a.Error.Problems[:min(5, bad)] {
		t.Logf("  %s", p.Message)
	}
	if codes["property"] == 0 {
		t.Errorf("features without an id are listed as property problems: %v", codes)
	}

	code, a = postVenue(t, srv, tok, "/api/v1/venue?kind=zone&skip_invalid=1", string(b))
	if code != http.StatusOK || a.Imported != a.Total-bad || a.Skipped != bad || len(a.Problems) != bad || a.Zones != a.Imported {
		t.Fatalf("skip_invalid: %d imported %d skipped %d of %d (want %d skipped)", code, a.Imported, a.Skipped, a.Total, bad)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/zones", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct{ Features []json.RawMessage }
	json.NewDecoder(resp.Body).Decode(&fc)
	resp.Body.Close()
	if len(fc.Features) != a.Imported {
		t.Fatalf("GET /api/v1/zones has %d zones, %d imported", len(fc.Features), a.Imported)
	}
}

// TestImportMapping: a QGIS export (no id member, the id in "fid", the
// name in "NAME", no kind) imports with id=, name= and kind=; a stall
// naming a zone that is nowhere is listed, not the first problem only.
func TestImportMapping(t *testing.T) {
	srv, tok := venueServer(t)
	qgis := `{"type":"FeatureCollection","name":"zones","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[
{"type":"Feature","properties":{"fid":1,"NAME":"美食街A区"},"geometry":{"type":"Polygon","coordinates":[[[120.9,31.9],[120.91,31.9],[120.91,31.91],[120.9,31.91],[120.9,31.9]]]}},
{"type":"Feature","properties":{"fid":2,"NAME":"美食街B区"},"geometry":{"type":"MultiPolygon","coordinates":[[[[120.92,31.9],[120.93,31.9],[120.93,31.91],[120.92,31.91],[120.92,31.9]]]]}},
{"type":"Feature","properties":{"fid":3},"geometry":{"type":"Polygon","coordinates":[[[120.94,31.9],[120.95,31.9],[120.95,31.91],[120.94,31.91],[120.94,31.9]]]}},
{"type":"Feature","properties":{"fid":4,"NAME":"领结"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}
]}`
	code, a := postVenue(t, srv, tok, "/api/v1/zones?id=fid&name=NAME&kind=zone", qgis)
	if code != http.StatusBadRequest || len(a.Error.Problems) != 2 {
		t.Fatalf("two bad features, both listed: %d %+v", code, a.Error)
	}
	if p := a.Error.Problems; p[0].Feature != 2 || p[0].Code != "property" || p[1].Feature != 3 || p[1].Code != "self_intersection" || p[1].ID != "4" {
		t.Fatalf("problems %+v", p)
	}
	code, a = postVenue(t, srv, tok, "/api/v1/zones?id=fid&name=NAME&kind=zone&skip_invalid=1", qgis)
	if code != http.StatusOK || a.Imported != 2 || a.Skipped != 2 {
		t.Fatalf("skip_invalid: %d %+v", code, a)
	}
	stalls := `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"S-1","properties":{"kind":"stall","name":"1号","zone":"1"},"geometry":{"type":"Point","coordinates":[120.905,31.905]}},
{"type":"Feature","id":"S-2","properties":{"kind":"stall","name":"2号","zone":"Z-404"},"geometry":{"type":"Point","coordinates":[120.905,31.905]}},
{"type":"Feature","id":"S-3","properties":{"kind":"stall","name":"3号","zone":"2","grade":"E"},"geometry":{"type":"Point","coordinates":[120.925,31.905]}}
]}`
	code, a = postVenue(t, srv, tok, "/api/v1/stalls", stalls)
	if code != http.StatusBadRequest || len(a.Error.Problems) != 2 || a.Error.Problems[0].Code != "zone_missing" || a.Error.Problems[1].Feature != 2 {
		t.Fatalf("stalls: %d %+v", code, a.Error)
	}
}
