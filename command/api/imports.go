package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/imports"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Committer stores imported results and hands them on (the live map, the
// assurance engine) as the ingest committer does a kiosk's.
type Committer func(rs []wire.Result) ([]history.Committed, error)

// RegisterImports adds the routes by which results that did not come from
// a kiosk enter the history: a market's self-test file (CSV or XLSX in
// the template of command/imports), the same rows as JSON from a market's
// or a lab's own system, and the template itself.
func RegisterImports(s *Server, commit Committer) {
	im := &importAPI{s: s, commit: commit}
	s.Handle("GET /api/v1/imports/template.csv", assurance.RoleViewer, im.template)
	// A file: multipart (a browser's form), or the bare CSV or XLSX body
	// (a market's script). A browser posts these cross-origin only from a
	// form, which the Origin rules refuse.
	s.Accept("POST /api/v1/sources/{source}/import", "multipart/form-data", "text/csv", "application/octet-stream",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	s.Handle("POST /api/v1/sources/{source}/import", assurance.RoleOperator, im.importFile)
	s.Handle("POST /api/v1/sources/{source}/results", assurance.RoleOperator, im.postRows)
}

type importAPI struct {
	s      *Server
	commit Committer
}

// ImportReport answers an import: how many rows were read, stored new,
// already held (a second import of the same rows), and every bad row
// with its line and what is wrong.
type ImportReport struct {
	Source     string             `json:"source"`
	Tier       assay.Tier         `json:"tier"`
	Total      int                `json:"total"`
	Stored     int                `json:"stored"`
	Duplicates int                `json:"duplicates"`
	Problems   []imports.Problem  `json:"problems"`
	Results    []importedRowState `json:"results,omitempty"`
}

type importedRowState struct {
	Line     int    `json:"line"`
	RowID    string `json:"row_id"`
	ResultID string `json:"result_id"`
	Outcome  string `json:"outcome"` // stored, duplicate
}

func (im *importAPI) template(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="self-test-template.csv"`)
	_, err := w.Write(imports.Template())
	return err
}

func (im *importAPI) config(r *http.Request) (imports.Config, error) {
	cfg := imports.Config{Source: r.PathValue("source"), Tier: assay.Tier(r.URL.Query().Get("tier")), Now: im.s.Now,
		Stall: func(id string) bool {
			var st store.Site
			return im.s.Store.Get("site", id, &st) == nil
		}}
	if err := imports.CheckSource(cfg.Source); err != nil {
		return cfg, Invalid("%v", err)
	}
	if cfg.Tier != "" && !cfg.Tier.Valid() {
		return cfg, Invalid("tier=%q: want wholesale_market, market_self_test, regulator_rapid or statutory_lab", cfg.Tier)
	}
	return cfg, nil
}

// importFile takes the file as the body (text/csv, an XLSX type, or
// application/octet-stream) or as field "file" of a multipart form.
func (im *importAPI) importFile(w http.ResponseWriter, r *http.Request) error {
	cfg, err := im.config(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, imports.MaxBytes+64<<10)
	var body io.Reader = r.Body
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return Invalid("send the file as multipart/form-data in field \"file\": %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				return importReadErr(err, "no \"file\" field in the form")
			}
			if part.FormName() == "file" {
				body = part
				break
			}
		}
	}
	loaded, err := imports.Load(body, cfg)
	if err != nil {
		return importReadErr(err, "")
	}
	return im.store(w, cfg, loaded)
}

// postRows takes {"rows": [{"row_id": …, "tested_at": …, …}]}, each row
// keyed by the template's columns; numbers may be JSON numbers.
func (im *importAPI) postRows(w http.ResponseWriter, r *http.Request) error {
	cfg, err := im.config(r)
	if err != nil {
		return err
	}
	var req struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := decodeJSON(r, imports.MaxBytes, &req); err != nil {
		return err
	}
	rows := make([]map[string]string, len(req.Rows))
	for i, m := range req.Rows {
		rows[i] = map[string]string{}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				rows[i][k] = x
			case float64:
				rows[i][k] = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
			default:
				b, _ := json.Marshal(x)
				rows[i][k] = string(b)
			}
		}
	}
	loaded, err := imports.Rows(rows, cfg)
	if err != nil {
		return importReadErr(err, "")
	}
	return im.store(w, cfg, loaded)
}

func importReadErr(err error, what string) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, imports.ErrTooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "文件过大，请拆分 / %v", err)
	case errors.Is(err, imports.ErrFormat):
		return Invalid("%v", err)
	case what != "":
		return Invalid("%s (%v)", what, err)
	}
	return Invalid("%v", err)
}

// store commits the good rows in one transaction and reports each row's
// fate; a row id held with other content is listed as a problem.
func (im *importAPI) store(w http.ResponseWriter, cfg imports.Config, loaded imports.Loaded) error {
	rep := ImportReport{Source: cfg.Source, Tier: cfg.Tier, Total: loaded.Total, Problems: loaded.Problems}
	if rep.Tier == "" {
		rep.Tier = imports.DefaultTier(cfg.Source)
	}
	if len(loaded.Rows) > 0 {
		out, err := im.commit(loaded.Rows)
		if err != nil {
			return err
		}
		for i, c := range out {
			line, row := loaded.Lines[i], loaded.Rows[i].SourceRow
			switch c.Outcome {
			case history.Stored:
				rep.Stored++
			case history.Duplicate:
				rep.Duplicates++
			case history.Conflict:
				rep.Problems = append(rep.Problems, imports.Problem{Line: line, RowID: row, Column: "row_id",
					Message: fmt.Sprintf("记录编号 %s 已导入过且内容不同，未覆盖；更正请用新的编号 / row id %s was imported before with other content and is kept as it was; send a correction under a new row id", row, row)})
				continue
			}
			rep.Results = append(rep.Results, importedRowState{Line: line, RowID: row, ResultID: c.Result.ResultID, Outcome: c.Outcome.String()})
		}
	}
	slices.SortStableFunc(rep.Problems, func(a, b imports.Problem) int { return cmp.Compare(a.Line, b.Line) })
	if rep.Problems == nil {
		rep.Problems = []imports.Problem{}
	}
	WriteJSON(w, http.StatusOK, rep)
	return nil
}
