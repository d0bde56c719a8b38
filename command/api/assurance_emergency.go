package api

// The routes of meals (餐次), the stationed team's duty log, emergencies
// (应急处置) and drills, trainings, and the event reports (日报, 总结报告) as
// JSON and XLSX; registered in assurance.go.

import (
	"archive/zip"
	"fmt"
	"io"
	"net/http"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/xuri/excelize/v2"
)

func registerEmergency(h func(string, assurance.Role, Handler), a *assureAPI) {
	h("GET /api/v1/meals", assurance.RoleViewer, a.listMeals)
	h("POST /api/v1/meals", assurance.RoleInspector, a.putMeal)
	h("GET /api/v1/meals/{id}", assurance.RoleViewer, a.getMeal)
	h("POST /api/v1/meals/{id}/duty", assurance.RoleInspector, a.recordDuty)
	h("GET /api/v1/emergencies", assurance.RoleViewer, a.listEmergencies)
	h("POST /api/v1/emergencies", assurance.RoleOperator, a.reportIllness)
	h("GET /api/v1/emergencies/{id}", assurance.RoleViewer, a.getEmergency)
	h("POST /api/v1/emergencies/{id}/actions", assurance.RoleInspector, a.emergencyAction)
	h("GET /api/v1/trainings", assurance.RoleViewer, a.listTrainings)
	h("POST /api/v1/trainings", assurance.RoleInspector, a.recordTraining)
	h("GET /api/v1/events/{id}/report", assurance.RoleViewer, a.report)
	h("GET /api/v1/events/{id}/report.xlsx", assurance.RoleViewer, a.reportXLSX)
}

func (a *assureAPI) listMeals(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := engine.MealFilter{EventID: q.Get("event"), Kitchen: q.Get("kitchen"), Scope: userOf(r).Events}
	if q.Get("date") != "" {
		d, err := queryDate(r, "date")
		if err != nil {
			return err
		}
		f.Day = d
	}
	ms, err := a.e.Meals(f)
	return replyList(w, ms, err)
}

func (a *assureAPI) putMeal(w http.ResponseWriter, r *http.Request) error {
	var m assurance.EventMeal
	if err := decodeJSON(r, 256<<10, &m); err != nil {
		return err
	}
	if err := inScope(r, m.EventID); err != nil {
		return err
	}
	v, err := a.e.PutMeal(m, actorOf(r))
	return reply(w, http.StatusOK, v, err)
}

func (a *assureAPI) meal(r *http.Request) (engine.MealView, error) {
	m, err := a.e.Meal(r.PathValue("id"))
	if err != nil {
		return m, err
	}
	return m, inScope(r, m.EventID)
}

func (a *assureAPI) getMeal(w http.ResponseWriter, r *http.Request) error {
	m, err := a.meal(r)
	return reply(w, http.StatusOK, m, err)
}

func (a *assureAPI) recordDuty(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.meal(r); err != nil {
		return err
	}
	var in engine.DutyEntry
	if err := decodeJSON(r, 64<<10, &in); err != nil {
		return err
	}
	v, err := a.e.RecordDuty(r.PathValue("id"), in, actorOf(r))
	return reply(w, http.StatusOK, v, err)
}

func (a *assureAPI) listEmergencies(w http.ResponseWriter, r *http.Request) error {
	ems, err := a.e.Emergencies(r.URL.Query().Get("event"), userOf(r).Events)
	return replyList(w, ems, err)
}

type illnessReq struct {
	Report assurance.IllnessReport `json:"report"`
	Drill  bool                    `json:"drill"`
	Note   string                  `json:"note"`
	Where  *assurance.Point        `json:"where"`
}

func (a *assureAPI) reportIllness(w http.ResponseWriter, r *http.Request) error {
	var req illnessReq
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	if req.Report.MealID != "" {
		if m, err := a.e.Meal(req.Report.MealID); err == nil {
			if err := inScope(r, m.EventID); err != nil {
				return err
			}
		}
	}
	v, err := a.e.ReportIllness(req.Report, req.Drill, assurance.Act{Actor: actorOf(r), Note: req.Note, Where: req.Where})
	return reply(w, http.StatusCreated, v, err)
}

func (a *assureAPI) emergency(r *http.Request) (engine.EmergencyView, error) {
	v, err := a.e.EmergencyView(r.PathValue("id"))
	if err != nil {
		return v, err
	}
	return v, inScope(r, v.EventID)
}

func (a *assureAPI) getEmergency(w http.ResponseWriter, r *http.Request) error {
	v, err := a.emergency(r)
	return reply(w, http.StatusOK, v, err)
}

func (a *assureAPI) emergencyAction(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.emergency(r); err != nil {
		return err
	}
	var in engine.EmergencyAction
	if err := decodeJSON(r, 64<<10, &in); err != nil {
		return err
	}
	v, err := a.e.ActOnEmergency(r.PathValue("id"), in, actorOf(r))
	return reply(w, http.StatusOK, v, err)
}

func (a *assureAPI) listTrainings(w http.ResponseWriter, r *http.Request) error {
	ev := r.URL.Query().Get("event")
	if err := inScope(r, ev); err != nil && ev != "" {
		return err
	}
	ts, err := a.e.Trainings(ev)
	var out []assurance.Training
	for _, t := range ts {
		if engine.InScope(userOf(r).Events, t.EventID) {
			out = append(out, t)
		}
	}
	return replyList(w, out, err)
}

func (a *assureAPI) recordTraining(w http.ResponseWriter, r *http.Request) error {
	var t assurance.Training
	if err := decodeJSON(r, 64<<10, &t); err != nil {
		return err
	}
	if err := inScope(r, t.EventID); err != nil {
		return err
	}
	v, err := a.e.RecordTraining(t, actorOf(r))
	return reply(w, http.StatusCreated, v, err)
}

// buildReport reads ?date= (a daily report; absent: the end-of-event
// report).
func (a *assureAPI) buildReport(r *http.Request) (engine.Report, error) {
	id := r.PathValue("id")
	if err := inScope(r, id); err != nil {
		return engine.Report{}, err
	}
	var day assurance.Date
	if r.URL.Query().Get("date") != "" {
		d, err := queryDate(r, "date")
		if err != nil {
			return engine.Report{}, err
		}
		day = d
	}
	u := userOf(r)
	name := u.DisplayName
	if name == "" {
		name = u.Name
	}
	return a.e.BuildReport(id, day, name)
}

func (a *assureAPI) report(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.buildReport(r)
	return reply(w, http.StatusOK, rep, err)
}

// reportXLSX streams the report as a workbook: a summary sheet, then one
// sheet per section (its columns in zh-CN and English, its rows, its
// totals last).
func (a *assureAPI) reportXLSX(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.buildReport(r)
	if err != nil {
		return err
	}
	f := excelize.NewFile()
	defer f.Close()
	bold, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	const summary = "概况 Summary"
	if err := f.SetSheetName("Sheet1", summary); err != nil {
		return err
	}
	period := rep.From.String()
	if rep.To != rep.From {
		period += " 至 " + rep.To.String()
	}
	sw, err := f.NewStreamWriter(summary)
	if err != nil {
		return err
	}
	sw.SetColWidth(1, 2, 28)
	rows := [][]any{{rep.Title.ZH + " / " + rep.Title.EN}, {"活动 Event", rep.EventName}, {"期间 Period", period},
		{"填报人 Prepared by", rep.PreparedBy}, {"生成时间 Generated", exportTime(rep.GeneratedAt)}, {}}
	for _, fig := range rep.Summary {
		var v any = fig.Value
		if fig.N != nil {
			v = *fig.N
		}
		rows = append(rows, []any{fig.Label.ZH + " " + fig.Label.EN, v})
	}
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		opts := []excelize.RowOpts{}
		if i == 0 {
			opts = append(opts, excelize.RowOpts{StyleID: bold})
		}
		if err := sw.SetRow(cell, row, opts...); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Sections {
		name := sheetName(s)
		if _, err := f.NewSheet(name); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			return err
		}
		sw.SetColWidth(1, max(len(s.Columns), 1), 18)
		head := make([]any, len(s.Columns))
		for i, c := range s.Columns {
			head[i] = c.ZH + " " + c.EN
		}
		if err := sw.SetRow("A1", head, excelize.RowOpts{StyleID: bold}); err != nil {
			return err
		}
		n := 1
		for _, row := range s.Rows {
			n++
			cell, _ := excelize.CoordinatesToCellName(1, n)
			if err := sw.SetRow(cell, row); err != nil {
				return err
			}
		}
		if len(s.Totals) > 0 {
			n++
			cell, _ := excelize.CoordinatesToCellName(1, n)
			if err := sw.SetRow(cell, s.Totals, excelize.RowOpts{StyleID: bold}); err != nil {
				return err
			}
		}
		if s.Note != "" {
			cell, _ := excelize.CoordinatesToCellName(1, n+2)
			if err := sw.SetRow(cell, []any{s.Note}); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	kind := "daily"
	if rep.Kind == engine.ReportFinal {
		kind = "final"
	}
	attachment(w, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		fmt.Sprintf("report-%s-%s-%s.xlsx", rep.EventID, kind, rep.From.String()))
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	return f.Write(io.Discard)
}

// sheetName is a section's sheet: its zh-CN title without the numbering,
// cut to Excel's 31 characters.
func sheetName(s engine.ReportSection) string {
	name := []rune(s.Title.ZH)
	for i, c := range name {
		if c == '、' {
			name = name[i+1:]
			break
		}
	}
	if len(name) > 31 {
		name = name[:31]
	}
	return string(name)
}
