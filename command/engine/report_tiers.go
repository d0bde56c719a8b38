package engine

import (
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// sectionTiers is the tests of the report's days by testing tier (四位一体):
// each tier separately, with its detection and disposal rates, and the
// total in the last row. The figures are assurance.ComputeKPIs' over the
// days' results and the event's incidents, so they agree with the KPIs.
func sectionTiers(r *reportRun) (ReportSection, error) {
	s := ReportSection{ID: "tiers", Title: lbl("二（续）、四位一体：按检测层级", "2b. Tests by testing tier"),
		Columns: []assurance.Label{lbl("检测层级", "Tier"), lbl("检测", "Tests"), lbl("阳性（疑似）", "Positive (suspected)"),
			lbl("可疑", "Suspicious"), lbl("无效", "Invalid"), lbl("疑似阳性检出率", "Detection rate"), lbl("无害化处置率", "Disposal rate")},
		Empty: lbl("当日无检测", "No tests that day")}
	var in assurance.KPIInput
	err := r.eachResult(func(res *wire.Result) bool {
		in.Tests = append(in.Tests, assurance.TestRecord{ResultID: res.ResultID, EventID: res.EventID, At: res.MeasuredAt,
			Verdict: res.EffectiveVerdict(), Analyte: res.Analyte, Tier: res.EffectiveTier()})
		return true
	})
	if err != nil {
		return s, err
	}
	err = store.List(r.e.st, kindIncident, func(_ string, inc Incident) bool {
		if inc.Trigger.EventID == r.ev.ID {
			in.Incidents = append(in.Incidents, inc.Incident)
		}
		return true
	})
	if err != nil {
		return s, err
	}
	k := assurance.ComputeKPIs(in, r.e.pc)
	rate := func(x assurance.Rate) string {
		if x.Den == 0 {
			return "—"
		}
		return pct(x.Percent.Float())
	}
	row := func(name string, g assurance.KPI) []any {
		return []any{name, g.Tests, g.Positives, g.Suspicious, g.Invalid, rate(g.DetectionRate), rate(g.DisposalRate)}
	}
	if len(in.Tests) > 0 {
		for _, g := range k.ByTier {
			zh, _ := assay.Tier(g.Key).Label()
			s.Rows = append(s.Rows, row(zh, g.KPI))
		}
	}
	s.Totals = row("合计 Total", k.Total)
	return s, nil
}
