package api

import (
	"archive/zip"
	"bufio"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/xuri/excelize/v2"
)

// An export is a header and rows produced while iterating the store. Rows
// are written as they come, to a CSV spool file or an XLSX stream writer
// (which itself spills to a temporary file), so an export of any size
// runs in bounded memory. The client is served only after the iteration
// has finished: a slow download never holds the store's read lock, which
// would hold up the kiosks' writes behind it.
type exportTable struct {
	name   string // results, incidents, banquets
	sheet  string // the XLSX sheet's name
	header []string
	rows   func(emit func([]any) error) error
}

// exportTime formats a time in China time for a sheet ("" for zero).
func exportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(assurance.ChinaStandardTime).Format("2006-01-02 15:04:05")
}

func (a *assureAPI) export(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	base, ext, _ := strings.Cut(file, ".")
	var t exportTable
	var err error
	switch base {
	case "results":
		t, err = a.resultsTable(r)
	case "incidents":
		t = a.incidentsTable(r)
	case "banquets":
		t = a.banquetsTable(r)
	case "credit":
		t, err = a.creditTable(r)
	case "audit":
		t, err = a.s.auditTable(r)
	default:
		return Errorf(http.StatusNotFound, CodeNotFound, "no export %q; exports are results, incidents, banquets, credit and (for admins) audit, as .csv or .xlsx", file)
	}
	if err != nil {
		return err
	}
	w = a.s.streaming(w)
	name := fmt.Sprintf("%s-%s.%s", t.name, a.e.Now().In(assurance.ChinaStandardTime).Format("20060102-1504"), ext)
	switch ext {
	case "csv":
		return writeCSV(w, t, name)
	case "xlsx":
		return writeXLSX(w, t, name)
	}
	return Errorf(http.StatusNotFound, CodeNotFound, "no export format %q; use .csv or .xlsx", ext)
}

func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q; filename*=UTF-8''%s", name, url.PathEscape(name)))
}

func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "是"
		}
		return "否"
	}
	return fmt.Sprint(v)
}

// plainNumber is a decimal number as the exports write one ("-18.5").
var plainNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// csvCell is v as a CSV cell that a spreadsheet will show as text, never
// run: a cell starting with = + - @ (a formula, or a DDE command such as
// "=cmd|' /C calc'!A0"), a tab, CR or LF gets a leading apostrophe, which
// Excel, LibreOffice and WPS read as "this is text" (OWASP's CSV injection
// advice). Stall, sample, operator and supplier names come from kiosks and
// imports, so every string is treated so; a plain number ("-18.5") is not
// a formula and is left alone. XLSX cells are typed strings and need no
// such care.
func csvCell(v any) string {
	s := cellString(v)
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	return s
}

// writeCSV spools the rows to a temporary file (UTF-8 with a byte-order
// mark, so that Excel in a Chinese locale opens it right), then sends it.
func writeCSV(w http.ResponseWriter, t exportTable, name string) error {
	spool, err := os.CreateTemp("", "shian-export-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	bw := bufio.NewWriterSize(spool, 64<<10)
	bw.WriteString("\ufeff")
	cw := csv.NewWriter(bw)
	cw.Write(t.header)
	rec := make([]string, len(t.header))
	err = t.rows(func(row []any) error {
		for i := range rec {
			rec[i] = ""
			if i < len(row) {
				rec[i] = csvCell(row[i])
			}
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	size, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	attachment(w, "text/csv; charset=utf-8", name)
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	io.Copy(w, spool)
	return nil
}

// writeXLSX streams the rows into an excelize StreamWriter (which keeps at
// most its 16 MiB chunk in memory and spills the rest to a temporary
// file), then streams the workbook out.
func writeXLSX(w http.ResponseWriter, t exportTable, name string) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", t.sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(t.sheet)
	if err != nil {
		return err
	}
	bold, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	sw.SetColWidth(1, len(t.header), 16)
	sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	head := make([]any, len(t.header))
	for i, h := range t.header {
		head[i] = h
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{StyleID: bold}); err != nil {
		return err
	}
	n := 1
	err = t.rows(func(row []any) error {
		n++
		cell, err := excelize.CoordinatesToCellName(1, n)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, row)
	})
	if err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	attachment(w, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name)
	// excelize assembles the zip in a bytes.Buffer (File.WriteToBuffer),
	// which would hold the whole compressed workbook; handing it a zip
	// writer on the response instead streams the parts out as they are
	// compressed, and leaves its buffer empty.
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	return f.Write(io.Discard)
}

// resultsTable exports test results, oldest first, filtered like
// GET /api/v1/results (event, stall, kiosk, verdict, analyte, lot, since,
// until) and by the user's events: the history selects them by its
// indexes and streams them in pages.
func (a *assureAPI) resultsTable(r *http.Request) (exportTable, error) {
	q := r.URL.Query()
	f := history.Filter{StallID: q.Get("stall"), KioskID: q.Get("kiosk"), Verdict: q.Get("verdict"), Analyte: q.Get("analyte"),
		EventID: q.Get("event"), Lot: q.Get("lot"), Tier: assay.Tier(q.Get("tier")), Source: q.Get("source"), Events: userOf(r).Events}
	var err error
	if f.Since, err = queryTime(r, "since"); err != nil {
		return exportTable{}, err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return exportTable{}, err
	}
	names := map[string]string{}
	store.List(a.s.Store, "site", func(id string, s store.Site) bool {
		names[id] = s.Name
		return true
	})
	return exportTable{name: "results", sheet: "检测结果",
		header: []string{"结果编号 result_id", "快检终端 kiosk_id", "序号 seq", "摊位/厨房 stall_id", "名称 name", "重大活动 event_id",
			"检测员 operator", "样品 sample", "样品种类 category", "批次 batch", "供应商 supplier", "方法 method", "检测项目 item",
			"检测值 value", "单位 unit", "结论 verdict", "结论标识 verdict_id", "终端结论 kiosk_verdict", "检测时间 measured_at",
			"接收时间 received_at", "标记 flags", "试剂批号 lot", "批号有效期 lot_expires", "规则书版本 rules_version",
			"检测层级 tier", "层级标识 tier_id", "来源 source", "来源记录号 source_row"},
		rows: func(emit func([]any) error) error {
			var ferr error
			err := a.s.History.Each(f, false, func(r *wire.Result) bool {
				v := r.EffectiveVerdict()
				var rx time.Time
				if r.ReceivedAt != nil {
					rx = *r.ReceivedAt
				}
				ferr = emit([]any{r.ResultID, r.KioskID, r.Seq, r.StallID, names[r.StallID], r.EventID,
					r.Operator, r.Sample.Name, r.Sample.Category, r.Sample.Batch, r.Sample.Supplier, string(r.Method), r.Item,
					r.Value, r.Unit, zhLabel(v), string(v), string(r.Verdict), exportTime(r.MeasuredAt),
					exportTime(rx), strings.Join(r.Flags, " "), r.Lot, r.LotExpires, r.RulesVersion,
					tierZH(r.EffectiveTier()), string(r.EffectiveTier()), r.EffectiveSource(), r.SourceRow})
				return ferr == nil
			})
			return cmp.Or(ferr, err)
		}}, nil
}

func tierZH(t assay.Tier) string { zh, _ := t.Label(); return zh }

// incidentsTable exports incidents with the time each stage was reached.
func (a *assureAPI) incidentsTable(r *http.Request) exportTable {
	scope := userOf(r).Events
	event := r.URL.Query().Get("event")
	stages := []assurance.IncidentState{assurance.IncidentAssigned, assurance.IncidentOnSite, assurance.IncidentControlled,
		assurance.IncidentLabSent, assurance.IncidentConfirmedPositive, assurance.IncidentCleared, assurance.IncidentDisposed,
		assurance.IncidentSignedOff, assurance.IncidentClosed}
	header := []string{"事件编号 id", "状态 state", "状态标识 state_id", "触发 trigger", "对象 subject_id", "名称 name", "重大活动 event_id",
		"检测项目 item", "结果编号 result_id", "保障组 team_id", "预警时间 warned_at"}
	for _, s := range stages {
		header = append(header, fmt.Sprintf("%s %s_at", s.Label().ZH, s))
	}
	header = append(header, "复检申请 retest_requested_at", "复检申请人 retest_party", "放弃复检 retest_waived", "超期升级 escalations", "证据 evidence_files")
	return exportTable{name: "incidents", sheet: "风险处置事件", header: header,
		rows: func(emit func([]any) error) error {
			var ferr error
			err := store.List(a.s.Store, "incident", func(_ string, inc engine.Incident) bool {
				if (event != "" && inc.Trigger.EventID != event) || !engine.InScope(scope, inc.Trigger.EventID) {
					return true
				}
				row := []any{inc.ID, inc.State.Label().ZH, string(inc.State), inc.Trigger.Kind.Label().ZH, inc.Trigger.SubjectID,
					inc.SubjectName, inc.Trigger.EventID, inc.Trigger.Item, inc.Trigger.ResultID, inc.TeamID, exportTime(inc.OpenedAt)}
				for _, s := range stages {
					var at time.Time
					for _, e := range inc.Audit {
						if e.Action == "transition" && e.To == string(s) {
							at = e.At
							break
						}
					}
					row = append(row, exportTime(at))
				}
				retestAt, party := "", ""
				if inc.Retest != nil {
					retestAt, party = exportTime(inc.Retest.RequestedAt), inc.Retest.Party
				}
				row = append(row, retestAt, party, inc.RetestWaived, len(inc.Escalations), len(inc.Evidence))
				ferr = emit(row)
				return ferr == nil
			})
			return cmp.Or(ferr, err)
		}}
}

// creditTable exports every line of the credit ledgers in the user's
// scope (one row per booking, worst grade first, each ledger oldest
// first), with the rule and the source as labels and as identifiers.
func (a *assureAPI) creditTable(r *http.Request) (exportTable, error) {
	sc, err := a.s.scopeOf(r)
	if err != nil {
		return exportTable{}, err
	}
	return exportTable{name: "credit", sheet: "信用积分台账",
		header: []string{"经营者 business_id", "名称 name", "类别 kind", "当前积分 score", "当前等级 grade", "时间 at", "规则 rule",
			"规则标识 rule_id", "分值 points", "变动后积分 score_after", "来源 source", "来源标识 source_id", "关联记录 ref", "说明 note", "登记人 by"},
		rows: func(emit func([]any) error) error {
			cs, err := a.e.Vendors()
			if err != nil {
				return err
			}
			for _, c := range cs {
				if !sc.Business(c.BusinessID) {
					continue
				}
				for _, l := range c.Ledger {
					if err := emit([]any{c.BusinessID, c.Name, c.Kind, c.Score, string(c.Grade), exportTime(l.At), l.Reason.Label().ZH,
						string(l.Reason), l.Points, l.ScoreAfter, l.Source.Label().ZH, string(l.Source), l.Ref, l.Note, l.By}); err != nil {
						return err
					}
				}
			}
			return nil
		}}, nil
}

// banquetsTable exports the banquet filings with their guidance and
// rectification (the 备案登记表's fields). Users scoped to events get an
// empty sheet: banquets belong to no event.
func (a *assureAPI) banquetsTable(r *http.Request) exportTable {
	scoped := len(userOf(r).Events) > 0
	return exportTable{name: "banquets", sheet: "农村集体聚餐",
		header: []string{"编号 id", "备案编号 filing_no", "乡镇 town", "村 village", "举办人 host", "手机 phone", "聚餐类型 type", "地点 place",
			"餐次 sittings", "人数 headcount", "厨师来源 chef_source", "厨师帮厨 cooks", "须现场指导 guidance_required", "指导单位 guidance_unit",
			"保障组 team_id", "状态 state", "整改项 rectifications", "未整改 open", "食物中毒人数 illness_count", "备案时间 filed_at"},
		rows: func(emit func([]any) error) error {
			if scoped {
				return nil
			}
			var ferr error
			err := store.List(a.s.Store, "banquet", func(_ string, b engine.Banquet) bool {
				f := b.Filing
				var sittings, cooks []string
				for _, s := range f.Sittings {
					sittings = append(sittings, s.Date.String()+" "+s.Meal.Label().ZH)
				}
				for _, c := range f.Cooks {
					cooks = append(cooks, fmt.Sprintf("%s（%s，%s）", c.Name, c.Role.Label().ZH, c.Cert.Label().ZH))
				}
				open := 0
				for _, rc := range b.Rectifications {
					if rc.Open {
						open++
					}
				}
				ferr = emit([]any{b.ID, f.FilingNo, f.Town, f.Village, f.Host.Name, f.Host.Phone, f.Type.Label().ZH, f.Place,
					strings.Join(sittings, "；"), f.Headcount, f.ChefSource.Label().ZH, strings.Join(cooks, "；"), b.GuidanceRequired,
					b.GuidanceUnit, b.TeamID, b.State.Label().ZH, len(b.Rectifications), open, b.IllnessCount, exportTime(b.FiledAt)})
				return ferr == nil
			})
			return cmp.Or(ferr, err)
		}}
}

// zhLabel is a verdict's zh-CN label, for the export's 结论 column.
func zhLabel(v assay.Verdict) string {
	zh, _ := v.Label()
	return zh
}
