package engine

// The reports the city office reads: a daily report (日报) of an event and
// the end-of-event report (总结报告) with the evidence for "零事故". A
// report is a list of sections, each a plain table (columns and rows of
// cells), so that the printable page and the XLSX workbook (one sheet per
// section) render any section without knowing it.
//
// # Adding a section
//
// Write a func(*reportRun) (ReportSection, error) and add it to
// reportSections (or finalSections for the end-of-event report only). A
// section reads what it needs through the run: the event, the days it
// covers, the results of those days from the history (r.eachResult, one
// pass per section, streamed), the store. Give it a stable ID (the XLSX
// sheet and the page's anchor use it) and zh-CN/en titles and column
// labels. Totals go in Totals, so the page and the sheet show them as the
// last row. The tier breakdown (四位一体, sectionTiers) is one such section
// over r.eachResult grouped by the result's tier.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Report kinds.
const (
	ReportDaily = "daily" // one day of an event
	ReportFinal = "final" // the whole event, with the 零事故 evidence
)

// Report is a report of an event over one day or all its days.
type Report struct {
	Kind      string          `json:"kind"`
	Title     assurance.Label `json:"title"`
	EventID   string          `json:"event_id"`
	EventName string          `json:"event_name"`
	Organiser string          `json:"organiser,omitempty"`
	FirstDay  assurance.Date  `json:"first_day"`
	LastDay   assurance.Date  `json:"last_day"`
	// From and To are the days the report covers (one day for daily).
	From        assurance.Date  `json:"from"`
	To          assurance.Date  `json:"to"`
	GeneratedAt time.Time       `json:"generated_at"`
	PreparedBy  string          `json:"prepared_by"`
	SignOff     []SignLine      `json:"sign_off"`
	Summary     []ReportFigure  `json:"summary"`
	Sections    []ReportSection `json:"sections"`
}

// SignLine is a line of the sign-off block (a role, signed by hand on the
// printed page).
type SignLine struct {
	Role assurance.Label `json:"role"`
	Name string          `json:"name,omitempty"`
}

// ReportFigure is one headline figure.
type ReportFigure struct {
	ID    string          `json:"id"`
	Label assurance.Label `json:"label"`
	Value string          `json:"value"`
	// N is the figure as a number when it is one (the XLSX keeps it).
	N *float64 `json:"n,omitempty"`
}

// ReportSection is one table of a report.
type ReportSection struct {
	ID      string            `json:"id"`
	Title   assurance.Label   `json:"title"`
	Columns []assurance.Label `json:"columns"`
	// Rows are cells: strings, ints or float64s.
	Rows   [][]any         `json:"rows"`
	Totals []any           `json:"totals,omitempty"`
	Empty  assurance.Label `json:"empty"` // what the page says when there are no rows
	Note   string          `json:"note,omitempty"`
}

// reportRun is what section builders read.
type reportRun struct {
	e        *Engine
	ev       assurance.Event
	from, to assurance.Date
	since    time.Time // from's start in the protocol's zone
	until    time.Time // the day after to
	now      time.Time
	kpi      assurance.KPI
	meals    []MealView
}

// eachResult streams the event's results measured in the report's days.
func (r *reportRun) eachResult(fn func(*wire.Result) bool) error {
	return r.e.res.Each(history.Filter{EventID: r.ev.ID, Since: r.since, Until: r.until}, false, fn)
}

func (r *reportRun) inDays(t time.Time) bool { return !t.Before(r.since) && t.Before(r.until) }

type sectionBuilder func(*reportRun) (ReportSection, error)

// reportSections are the sections of every report, in order.
var reportSections = []sectionBuilder{
	sectionMeals, sectionTests, sectionTiers, sectionIncidents, sectionPatrols, sectionDutyGaps, sectionEmergencies, sectionTrainings,
}

// finalSections are added to the end-of-event report.
var finalSections = []sectionBuilder{sectionZeroIncident}

func lbl(zh, en string) assurance.Label { return assurance.Label{ZH: zh, EN: en} }

// BuildReport builds the daily report of an event for day, or its
// end-of-event report when day is zero (all its days).
func (e *Engine) BuildReport(eventID string, day assurance.Date, preparedBy string) (Report, error) {
	var ev assurance.Event
	if err := e.st.Get(kindEvent, eventID, &ev); err != nil {
		return Report{}, err
	}
	zone := e.zone()
	rep := Report{Kind: ReportDaily, EventID: ev.ID, EventName: ev.Filing.Name, Organiser: ev.Filing.Organiser.Name,
		FirstDay: ev.Filing.FirstDay, LastDay: ev.Filing.LastDay, From: day, To: day, GeneratedAt: e.deps.Now(), PreparedBy: preparedBy,
		SignOff: []SignLine{{Role: lbl("填报人", "Prepared by"), Name: preparedBy}, {Role: lbl("值班指挥员", "Duty commander")},
			{Role: lbl("监管部门负责人", "Head of the supervising office")}}}
	builders := reportSections
	if day.IsZero() {
		rep.Kind, rep.From, rep.To = ReportFinal, ev.Filing.FirstDay, ev.Filing.LastDay
		builders = slices.Concat(reportSections, finalSections)
		rep.Title = lbl("重大活动食品安全保障总结报告", "Food-safety assurance: end-of-event report")
	} else {
		if day.Before(ev.Filing.FirstDay) || day.After(ev.Filing.LastDay) {
			return Report{}, &assurance.ValidationError{Field: "date", Problem: fmt.Sprintf("%s is outside the event (%s to %s)", day, ev.Filing.FirstDay, ev.Filing.LastDay)}
		}
		rep.Title = lbl("重大活动食品安全保障日报", "Food-safety assurance: daily report")
	}
	run := &reportRun{e: e, ev: ev, from: rep.From, to: rep.To, now: rep.GeneratedAt,
		since: rep.From.Start(zone), until: rep.To.Start(zone).AddDate(0, 0, 1)}
	q := KPIQuery{EventID: ev.ID}
	if !day.IsZero() {
		q.Day = day
	}
	kr, err := e.KPIs(q)
	if err != nil {
		return Report{}, err
	}
	run.kpi = kr.Total
	meals, err := e.Meals(MealFilter{EventID: ev.ID})
	if err != nil {
		return Report{}, err
	}
	for _, m := range meals {
		if run.inDays(m.Start) {
			run.meals = append(run.meals, m)
		}
	}
	for _, b := range builders {
		s, err := b(run)
		if err != nil {
			return Report{}, err
		}
		if s.Rows == nil {
			s.Rows = [][]any{}
		}
		rep.Sections = append(rep.Sections, s)
	}
	rep.Summary = summaryOf(run, rep.Sections)
	return rep, nil
}

func num(f float64) *float64 { f = math.Round(f*100) / 100; return &f }

func pct(p float64) string { return fmt.Sprintf("%.2f %%", p) }

// summaryOf is the report's headline figures.
func summaryOf(r *reportRun, secs []ReportSection) []ReportFigure {
	rows := func(id string) int {
		for _, s := range secs {
			if s.ID == id {
				return len(s.Rows)
			}
		}
		return 0
	}
	diners := 0
	for _, m := range r.meals {
		diners += m.Diners
	}
	k := r.kpi
	return []ReportFigure{
		{ID: "meals", Label: lbl("供餐餐次", "Meals served"), Value: fmt.Sprint(len(r.meals)), N: num(float64(len(r.meals)))},
		{ID: "diners", Label: lbl("就餐人次", "Diners"), Value: fmt.Sprint(diners), N: num(float64(diners))},
		{ID: "tests", Label: lbl("快检筛查批次", "Rapid screening tests"), Value: fmt.Sprint(k.Tests), N: num(float64(k.Tests))},
		{ID: "detection_rate", Label: lbl("疑似阳性检出率", "Suspected-positive detection rate"), Value: pct(k.DetectionRate.Percent.Float()), N: num(k.DetectionRate.Percent.Float())},
		{ID: "disposal_rate", Label: lbl("无害化处置率", "Harmless disposal rate"), Value: pct(k.DisposalRate.Percent.Float()), N: num(k.DisposalRate.Percent.Float())},
		{ID: "incidents", Label: lbl("风险处置事件", "Incidents"), Value: fmt.Sprint(rows("incidents")), N: num(float64(rows("incidents")))},
		{ID: "duty_gaps", Label: lbl("工作日志缺项", "Duty-log gaps"), Value: fmt.Sprint(rows("duty_gaps")), N: num(float64(rows("duty_gaps")))},
		{ID: "emergencies", Label: lbl("应急处置（含演练）", "Emergencies (drills included)"), Value: fmt.Sprint(rows("emergencies")), N: num(float64(rows("emergencies")))},
	}
}

func (r *reportRun) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	f := "15:04"
	if r.from != r.to {
		f = "01-02 15:04"
	}
	return t.In(r.e.zone()).Format(f)
}

func sectionMeals(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "meals", Title: lbl("一、供餐情况", "1. Meals served"),
		Columns: []assurance.Label{lbl("供餐点", "Kitchen"), lbl("餐次", "Meal"), lbl("时间", "Time"), lbl("就餐人数", "Diners"),
			lbl("桌数", "Tables"), lbl("菜品数", "Dishes"), lbl("留样数", "Retained samples"), lbl("晨检人数", "Morning checks"), lbl("日志缺项", "Gaps")},
		Empty: lbl("当日无供餐", "No meals that day")}
	var diners, tables, dishes, samples, morning, gaps int
	for _, m := range r.meals {
		name := cmp.Or(m.Name, m.MealLabel.ZH)
		s.Rows = append(s.Rows, []any{cmp.Or(m.KitchenName, m.KitchenID), name, r.when(m.Start) + "–" + m.End.In(r.e.zone()).Format("15:04"),
			m.Diners, m.Tables, len(m.Dishes), len(m.Log.Samples), len(m.Log.Morning), len(m.Gaps)})
		diners, tables, dishes, samples, morning, gaps = diners+m.Diners, tables+m.Tables, dishes+len(m.Dishes), samples+len(m.Log.Samples), morning+len(m.Log.Morning), gaps+len(m.Gaps)
	}
	s.Totals = []any{"合计 Total", fmt.Sprint(len(r.meals)), "", diners, tables, dishes, samples, morning, gaps}
	return s, nil
}

func sectionTests(r *reportRun) (ReportSection, error) {
	verdicts := assay.Verdicts()
	s := ReportSection{ID: "tests", Title: lbl("二、快速检测（按方法和结论）", "2. Rapid tests by method and verdict"),
		Columns: []assurance.Label{lbl("检测方法", "Method"), lbl("批次", "Tests")}, Empty: lbl("当日无检测", "No tests that day")}
	for _, v := range verdicts {
		zh, en := v.Label()
		s.Columns = append(s.Columns, lbl(zh, en))
	}
	counts := map[assay.Method]map[assay.Verdict]int{}
	err := r.eachResult(func(res *wire.Result) bool {
		if counts[res.Method] == nil {
			counts[res.Method] = map[assay.Verdict]int{}
		}
		counts[res.Method][res.EffectiveVerdict()]++
		return true
	})
	if err != nil {
		return s, err
	}
	methods := make([]assay.Method, 0, len(counts))
	for m := range counts {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	total := make([]int, len(verdicts))
	all := 0
	for _, m := range methods {
		zh, _ := methodLabel(m)
		row := []any{zh, 0}
		n := 0
		for i, v := range verdicts {
			c := counts[m][v]
			row = append(row, c)
			total[i] += c
			n += c
		}
		row[1] = n
		all += n
		s.Rows = append(s.Rows, row)
	}
	s.Totals = []any{"合计 Total", all}
	for _, c := range total {
		s.Totals = append(s.Totals, c)
	}
	s.Note = fmt.Sprintf("疑似阳性检出率 %s · 无害化处置率 %s", pct(r.kpi.DetectionRate.Percent.Float()), pct(r.kpi.DisposalRate.Percent.Float()))
	return s, nil
}

// methodLabels are the test methods' labels (the same words as the map
// page's).
var methodLabels = map[assay.Method]assurance.Label{
	assay.EnzymeInhibition:   {ZH: "酶抑制率法", EN: "Enzyme inhibition"},
	assay.GoldLine:           {ZH: "胶体金（消线法）", EN: "Colloidal gold (line)"},
	assay.GoldRatio:          {ZH: "胶体金（比色法）", EN: "Colloidal gold (ratio)"},
	assay.ATP:                {ZH: "ATP 荧光检测", EN: "ATP bioluminescence"},
	assay.FryingOil:          {ZH: "煎炸油品质", EN: "Frying oil quality"},
	assay.CoreTemperature:    {ZH: "中心温度", EN: "Core temperature"},
	assay.HotHolding:         {ZH: "热藏温度", EN: "Hot holding"},
	assay.ColdHolding:        {ZH: "冷藏温度", EN: "Cold holding"},
	assay.Frozen:             {ZH: "冷冻温度", EN: "Frozen storage"},
	assay.SurfaceTemperature: {ZH: "表面温度", EN: "Surface temperature"},
	assay.Retention:          {ZH: "留样", EN: "Sample retention"},
}

// methodLabel is a test method's label.
func methodLabel(m assay.Method) (string, string) {
	if l, ok := methodLabels[m]; ok {
		return l.ZH, l.EN
	}
	return string(m), string(m)
}

func sectionIncidents(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "incidents", Title: lbl("三、风险处置事件", "3. Incidents"),
		Columns: []assurance.Label{lbl("编号", "Number"), lbl("对象", "Subject"), lbl("起因", "Trigger"), lbl("开始", "Opened"), lbl("状态", "State")},
		Empty:   lbl("无风险处置事件", "No incidents")}
	byState := map[string]int{}
	err := store.List(r.e.st, kindIncident, func(_ string, inc Incident) bool {
		opened := inc.Trigger.ObservedAt
		if len(inc.Audit) > 0 {
			opened = inc.Audit[0].At
		}
		if inc.Trigger.EventID == r.ev.ID && r.inDays(opened) {
			st := inc.State.Label().ZH
			byState[st]++
			s.Rows = append(s.Rows, []any{inc.ID, cmp.Or(inc.SubjectName, inc.Trigger.SubjectID), inc.Trigger.Kind.Label().ZH, r.when(opened), st})
		}
		return true
	})
	var parts []string
	for _, k := range sortedKeys(byState) {
		parts = append(parts, fmt.Sprintf("%s %d", k, byState[k]))
	}
	s.Note = strings.Join(parts, " · ")
	s.Totals = []any{"合计 Total", fmt.Sprint(len(s.Rows)), "", "", ""}
	return s, err
}

func sectionPatrols(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "patrols", Title: lbl("四、巡查督查覆盖", "4. Patrol coverage"),
		Columns: []assurance.Label{lbl("日期", "Day"), lbl("应巡查对象", "Targets due"), lbl("已巡查", "Visited"), lbl("覆盖率", "Coverage"), lbl("发现问题", "Findings")},
		Empty:   lbl("无巡查", "No patrols")}
	visits := map[string]map[string]bool{} // day → targets visited
	findings := map[string]int{}
	err := store.List(r.e.st, kindVisit, func(_ string, v PatrolVisit) bool {
		if r.inDays(v.At) {
			d := assurance.DateOf(v.At.In(r.e.zone())).String()
			if visits[d] == nil {
				visits[d] = map[string]bool{}
			}
			visits[d][v.TargetID] = true
			findings[d] += len(v.Findings)
		}
		return true
	})
	if err != nil {
		return s, err
	}
	var due, seen, found int
	for d := r.from; !d.After(r.to); d = d.AddDays(1) {
		if d.Start(r.e.zone()).After(r.now) {
			break
		}
		targets, _, err := r.e.patrolTargets(d)
		if err != nil {
			return s, err
		}
		n := 0
		for _, t := range targets {
			if visits[d.String()][t.ID] {
				n++
			}
		}
		cov := 0.0
		if len(targets) > 0 {
			cov = 100 * float64(n) / float64(len(targets))
		}
		s.Rows = append(s.Rows, []any{d.String(), len(targets), n, pct(cov), findings[d.String()]})
		due, seen, found = due+len(targets), seen+n, found+findings[d.String()]
	}
	cov := 0.0
	if due > 0 {
		cov = 100 * float64(seen) / float64(due)
	}
	s.Totals = []any{"合计 Total", due, seen, pct(cov), found}
	return s, nil
}

func sectionDutyGaps(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "duty_gaps", Title: lbl("五、驻点保障工作日志缺项", "5. Duty-log gaps"),
		Columns: []assurance.Label{lbl("供餐点", "Kitchen"), lbl("餐次", "Meal"), lbl("缺项", "Gap"), lbl("说明", "Detail")},
		Empty:   lbl("工作日志完整", "The duty logs are complete")}
	for _, m := range r.meals {
		for _, g := range m.Gaps {
			s.Rows = append(s.Rows, []any{cmp.Or(m.KitchenName, m.KitchenID), cmp.Or(m.Name, m.MealLabel.ZH), g.KindLabel.ZH, g.Detail.ZH})
		}
	}
	s.Totals = []any{"合计 Total", "", fmt.Sprint(len(s.Rows)), ""}
	return s, nil
}

func (r *reportRun) emergencies() ([]Emergency, error) {
	all, err := r.e.Emergencies(r.ev.ID, nil)
	var out []Emergency
	for _, em := range all {
		if r.inDays(em.OpenedAt) {
			out = append(out, em)
		}
	}
	slices.Reverse(out) // oldest first
	return out, err
}

func sectionEmergencies(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "emergencies", Title: lbl("六、应急处置与演练", "6. Emergencies and drills"),
		Columns: []assurance.Label{lbl("编号", "Number"), lbl("类别", "Kind"), lbl("餐次", "Meal"), lbl("级别", "Level"), lbl("发病人数", "Ill"),
			lbl("开始", "Opened"), lbl("状态", "State"), lbl("结论", "Conclusion")},
		Empty: lbl("无应急处置", "No emergencies")}
	ems, err := r.emergencies()
	if err != nil {
		return s, err
	}
	ill := 0
	for _, em := range ems {
		kind := "疑似食物中毒"
		if em.Drill {
			kind = "应急演练"
		}
		concl := ""
		if em.Conclusion != nil {
			concl = em.Conclusion.Cause.Label().ZH + "：" + em.Conclusion.Text
		}
		meal := em.MealID
		var m assurance.EventMeal
		if r.e.st.Get(kindMeal, em.MealID, &m) == nil {
			meal = cmp.Or(em.KitchenName, m.KitchenID) + " " + cmp.Or(m.Name, m.Meal.Label().ZH)
		}
		s.Rows = append(s.Rows, []any{em.ID, kind, meal, em.LevelLabel.ZH, em.Report.Ill, r.when(em.OpenedAt), em.StateLabel.ZH, concl})
		if !em.Drill {
			ill += em.Report.Ill
		}
	}
	s.Totals = []any{"合计 Total", fmt.Sprint(len(ems)), "", "", ill, "", "", ""}
	return s, nil
}

func sectionTrainings(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "trainings", Title: lbl("七、培训指导", "7. Training"),
		Columns: []assurance.Label{lbl("时间", "When"), lbl("主题", "Topic"), lbl("授课人", "Trainer"), lbl("参训人数", "Attendees")},
		Empty:   lbl("无培训", "No training")}
	ts, err := r.e.Trainings(r.ev.ID)
	n := 0
	for _, t := range ts {
		if r.inDays(t.At) {
			s.Rows = append(s.Rows, []any{r.when(t.At), t.Topic, t.Trainer, len(t.Attendees)})
			n += len(t.Attendees)
		}
	}
	s.Totals = []any{"合计 Total", fmt.Sprint(len(s.Rows)), "", n}
	return s, err
}

// sectionZeroIncident states, item by item, the evidence for "零事故" (no
// food-safety incident): each line says what was checked and whether it
// holds.
func sectionZeroIncident(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "zero_incident", Title: lbl("八、“零事故”依据", "8. Evidence for \"zero incidents\""),
		Columns: []assurance.Label{lbl("依据", "Evidence"), lbl("情况", "Found"), lbl("是否满足", "Holds")}}
	ems, err := r.emergencies()
	if err != nil {
		return s, err
	}
	real, poisoning, open := 0, 0, 0
	for _, em := range ems {
		if em.Drill {
			continue
		}
		real++
		if em.State != assurance.EmergencyClosed {
			open++
		}
		if em.Conclusion != nil && em.Conclusion.Cause == assurance.CauseFoodPoisoning {
			poisoning++
		}
	}
	drills := len(ems) - real
	unresolved := 0
	store.List(r.e.st, kindIncident, func(_ string, inc Incident) bool {
		if inc.Trigger.EventID == r.ev.ID && inc.State != assurance.IncidentClosed && inc.State != assurance.IncidentSignedOff {
			unresolved++
		}
		return true
	})
	gaps := 0
	for _, m := range r.meals {
		for _, g := range m.Gaps {
			if g.Alarm {
				gaps++
			}
		}
	}
	yes := func(b bool) string {
		if b {
			return "是 Yes"
		}
		return "否 No"
	}
	k := r.kpi
	s.Rows = [][]any{
		{"无确认的食物中毒事件", fmt.Sprintf("疑似食物中毒报告 %d 起，确认 %d 起", real, poisoning), yes(poisoning == 0)},
		{"应急处置均已结案", fmt.Sprintf("未结案 %d 起", open), yes(open == 0)},
		{"风险处置事件均已销号", fmt.Sprintf("未销号 %d 起", unresolved), yes(unresolved == 0)},
		{"快检阳性均已无害化处置", "无害化处置率 " + pct(k.DisposalRate.Percent.Float()), yes(k.Positives == 0 || k.DisposalRate.Percent.Float() >= 100)},
		{"每餐每菜均已留样", fmt.Sprintf("留样缺项 %d 处", gaps), yes(gaps == 0)},
		{"开展应急演练", fmt.Sprintf("演练 %d 次", drills), yes(drills > 0)},
	}
	return s, nil
}
