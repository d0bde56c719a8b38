package api_test

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// TestCSVCellsAreText (issue 11, finding 6): results whose sample,
// supplier, batch and operator carry spreadsheet formulas and DDE commands
// are exported to CSV with a leading apostrophe, so Excel, WPS and
// LibreOffice show them as text; plain numbers (a freezer's -18.5 °C) and
// ordinary names are unchanged.
func TestCSVCellsAreText(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(t.TempDir(), store.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hist, err := history.Open("sqlite:"+filepath.Join(t.TempDir(), "history.db"), history.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	au := auth.New(st, nil)
	if err := au.CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, _ := au.NewAPIToken("admin", "test")
	eng, err := engine.New(engine.Deps{Store: st, Results: hist, DataDir: t.TempDir(), Log: log}, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Store: st, History: hist, Auth: au, Hub: noHub{}, Kiosks: noKiosks{http.NotFoundHandler()}, Log: log}
	h := srv.Routes()
	api.RegisterAssurance(srv, eng)

	hostile := map[string]string{ // sample name → how the cell must arrive
		"=cmd|' /C calc'!A0":             "'=cmd|' /C calc'!A0",
		"+SUM(1,2)":                      "'+SUM(1,2)",
		"-2+3+cmd|' /C calc'!A0":         "'-2+3+cmd|' /C calc'!A0",
		"@SUM(A1:A9)":                    "'@SUM(A1:A9)",
		"\t=1+1":                         "'\t=1+1",
		"\r=1+1":                         "'\r=1+1",
		`=HYPERLINK("http://x.example")`: `'=HYPERLINK("http://x.example")`,
		"菠菜":                             "菠菜",
		"a=b":                            "a=b",
		"-18.5":                          "-18.5",
	}
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	var batch []wire.Result
	i := 0
	for name := range hostile {
		i++
		batch = append(batch, wire.Result{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: "K-01", Seq: uint64(i),
			DeviceID: "probe-1", Model: "DY-3000E", StallID: "S-0001", EventID: "EV-1", Operator: "=op",
			Sample: wire.Sample{Name: name, Category: "蔬菜", Batch: "@B", Supplier: "+supplier"},
			Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药", Analyte: "organophosphate_carbamate",
			Value: -18.5, Unit: "%", Verdict: assay.Negative, MeasuredAt: t0.Add(time.Duration(i) * time.Second)})
	}
	if _, err := hist.Commit(batch); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/export/results.csv", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("export: %d %s", rec.Code, rec.Body.String())
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(rec.Body.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for j, h := range rows[0] {
		col[strings.Fields(h)[len(strings.Fields(h))-1]] = j
	}
	seen := 0
	for _, row := range rows[1:] {
		got := row[col["sample"]]
		found := false
		for _, want := range hostile {
			if got == want {
				found = true
				seen++
			}
		}
		if !found {
			t.Errorf("sample cell %q is none of the neutralised forms", got)
		}
		for _, c := range []string{"operator", "batch", "supplier"} {
			if v := row[col[c]]; !strings.HasPrefix(v, "'") {
				t.Errorf("%s cell %q starts a formula", c, v)
			}
		}
		if v := row[col["value"]]; v != "-18.5" {
			t.Errorf("value cell %q: a number must stay a number", v)
		}
	}
	if seen != len(hostile) {
		t.Errorf("%d of %d hostile rows found in the export", seen, len(hostile))
	}
}
