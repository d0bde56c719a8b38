package assurance

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// TestRecord is the part of a test result the KPIs need.
type TestRecord struct {
	ResultID string        `json:"result_id"`
	EventID  string        `json:"event_id,omitempty"`
	At       time.Time     `json:"at"`
	Verdict  assay.Verdict `json:"verdict"`
	ZoneID   string        `json:"zone_id,omitempty"` // the vendor zone of the test's stall, if known
	Analyte  string        `json:"analyte,omitempty"`
	// Tier is the testing tier (四位一体); empty counts as the
	// regulators' rapid test, as for a result.
	Tier assay.Tier `json:"tier,omitempty"`
}

// Dimensions a TestCount can be grouped by.
const (
	DimTotal   = ""
	DimEvent   = "event"
	DimDay     = "day" // Key YYYY-MM-DD in Config.KPI.UTCOffset
	DimZone    = "zone"
	DimAnalyte = "analyte"
	DimTier    = "tier" // Key an assay.Tier
)

// TestCount is N tests with one verdict in one group of one dimension,
// counted by a database rather than listed: it adds to that group's test
// figures only (and to the total when Dim is DimTotal).
type TestCount struct {
	Dim     string        `json:"dim"`
	Key     string        `json:"key"`
	Verdict assay.Verdict `json:"verdict"`
	N       int           `json:"n"`
}

// KPIInput is the records the KPIs are computed over. Tests are listed
// one by one and counted in every group they belong to. A history too
// large to list gives Counts instead (per dimension, from the database's
// aggregates) and, in Positives, only its positive tests, which the
// disposal rate follows one by one to their incidents.
type KPIInput struct {
	Tests     []TestRecord      `json:"tests"`
	Counts    []TestCount       `json:"counts,omitempty"`
	Positives []TestRecord      `json:"positives,omitempty"`
	Incidents []Incident        `json:"incidents"`
	Banquets  []Banquet         `json:"banquets"`
	Readiness []ReadinessReport `json:"readiness"` // one per event (the latest)
}

// Rate is a ratio with its parts. Percent is 0 when Den is 0 (no data:
// show "—", not 0 %).
type Rate struct {
	Num     int             `json:"num"`
	Den     int             `json:"den"`
	Percent measure.Percent `json:"percent"`
}

func rate(num, den int) Rate { return Rate{Num: num, Den: den, Percent: percentOf(num, den)} }

// RateOf is num / den as a Rate (Percent 0 when den is 0).
func RateOf(num, den int) Rate { return rate(num, den) }

// DurationStats summarises durations. Mean and Median are 0 when N is 0.
type DurationStats struct {
	N      int           `json:"n"`
	Mean   time.Duration `json:"mean"`
	Median time.Duration `json:"median"` // the mean of the two middle values when N is even
}

func durationStats(ds []time.Duration) DurationStats {
	if len(ds) == 0 {
		return DurationStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = s[n/2-1] + (s[n/2]-s[n/2-1])/2
	}
	return DurationStats{N: n, Mean: sum / time.Duration(n), Median: med}
}

// KPI is one set of figures (for everything, one event or one day).
type KPI struct {
	// Tests counts rapid screening tests with a conclusion (negative,
	// suspicious, positive); Invalid the invalid ones, which are redone
	// and not counted in Tests.
	Tests      int `json:"tests"`
	Invalid    int `json:"invalid"`
	Positives  int `json:"positives"`
	Suspicious int `json:"suspicious"`
	// DetectionRate (疑似阳性检出率) = positives (+ suspicious when
	// Config.KPI.CountSuspicious) / Tests.
	DetectionRate Rate `json:"detection_rate"`
	// DisposalRate (无害化处置率) = positives whose incident was disposed
	// and signed off / positives, not counting positives the lab cleared.
	// A positive with no incident counts in the denominator, so a missing
	// incident shows as a gap.
	DisposalRate Rate `json:"disposal_rate"`
	// Incidents opened, and the times from opening to the first arrival
	// on site and to closing.
	Incidents    int           `json:"incidents"`
	TimeToArrive DurationStats `json:"time_to_arrive"`
	TimeToClose  DurationStats `json:"time_to_close"`
	// Readiness is done / total checklist items (per event, and summed).
	Readiness Rate `json:"readiness"`
	// Banquets filed, of which needing guidance, and guided (on-site check
	// recorded).
	BanquetsFiled            int `json:"banquets_filed"`
	BanquetsGuidanceRequired int `json:"banquets_guidance_required"`
	BanquetsGuided           int `json:"banquets_guided"`
}

// KPIGroup is the figures of one event (Key = event id, "" for results
// outside any event), one day (Key = YYYY-MM-DD), one vendor zone (Key =
// zone id, "" for stalls in none) or one analyte.
type KPIGroup struct {
	Key string `json:"key"`
	KPI
}

// KPIReport is the figures overall, per event and per day.
type KPIReport struct {
	Total   KPI        `json:"total"`
	ByEvent []KPIGroup `json:"by_event"`
	ByDay   []KPIGroup `json:"by_day"`
	// ByZone and ByAnalyte carry the test figures (tests, detection and
	// disposal rates); incidents, readiness and banquets are not split
	// by zone or analyte.
	ByZone    []KPIGroup `json:"by_zone"`
	ByAnalyte []KPIGroup `json:"by_analyte"`
	// ByTier carries the test figures of each testing tier (四位一体),
	// all four always, in assay.Tiers order: each tier separately, and
	// Total together.
	ByTier []KPIGroup `json:"by_tier"`
	// Targets are the configured targets (Config.KPI.Targets), for the
	// screens that colour the figures.
	Targets KPITargets `json:"targets"`
}

// kpiAcc accumulates the parts of a KPI.
type kpiAcc struct {
	KPI
	dispNum, dispDen      int
	arrive, close         []time.Duration
	readyDone, readyTotal int
}

func (a *kpiAcc) finish(cfg Config) KPI {
	k := a.KPI
	num := k.Positives
	if cfg.KPI.CountSuspicious {
		num += k.Suspicious
	}
	k.DetectionRate = rate(num, k.Tests)
	k.DisposalRate = rate(a.dispNum, a.dispDen)
	k.TimeToArrive = durationStats(a.arrive)
	k.TimeToClose = durationStats(a.close)
	k.Readiness = rate(a.readyDone, a.readyTotal)
	return k
}

// ComputeKPIs computes the figures over the records. Days are civil days
// in Config.KPI.UTCOffset (China Standard Time by default). What is
// grouped by what:
//   - tests and disposal: by the test's event, day, zone and analyte;
//   - incidents and their times: by the trigger's event and the day the
//     incident was opened;
//   - readiness: by event only;
//   - banquets: by day only (filed by the filing day, guided by the day of
//     the on-site check); they belong to no event.
func ComputeKPIs(in KPIInput, cfg Config) KPIReport {
	zone := cfg.zone()
	total := &kpiAcc{}
	events := map[string]*kpiAcc{}
	days := map[string]*kpiAcc{}
	zones := map[string]*kpiAcc{}
	analytes := map[string]*kpiAcc{}
	tiers := map[string]*kpiAcc{}
	for _, t := range assay.Tiers() {
		tiers[string(t)] = &kpiAcc{}
	}
	tierOf := func(t TestRecord) string {
		if t.Tier == "" {
			return string(assay.TierRegulator)
		}
		return string(t.Tier)
	}
	get := func(m map[string]*kpiAcc, k string) *kpiAcc {
		if a, ok := m[k]; ok {
			return a
		}
		a := &kpiAcc{}
		m[k] = a
		return a
	}
	day := func(t time.Time) string { return DateOf(t.In(zone)).String() }

	// The first incident opened for each result.
	byResult := map[string]Incident{}
	for _, inc := range in.Incidents {
		id := inc.Trigger.ResultID
		if id == "" {
			continue
		}
		if prev, ok := byResult[id]; !ok || inc.OpenedAt.Before(prev.OpenedAt) {
			byResult[id] = inc
		}
	}
	count := func(a *kpiAcc, v assay.Verdict, n int) {
		switch v {
		case assay.Negative:
			a.Tests += n
		case assay.Suspicious:
			a.Tests += n
			a.Suspicious += n
		case assay.Positive:
			a.Tests += n
			a.Positives += n
		case assay.Invalid:
			a.Invalid += n
		}
	}
	disposal := func(t TestRecord, accs []*kpiAcc) {
		inc, ok := byResult[t.ResultID]
		if _, cleared := inc.reached(IncidentCleared); ok && cleared {
			return
		}
		_, disposed := inc.reached(IncidentDisposed)
		_, signed := inc.reached(IncidentSignedOff)
		for _, a := range accs {
			a.dispDen++
			if ok && disposed && signed {
				a.dispNum++
			}
		}
	}
	groupsOf := func(t TestRecord) []*kpiAcc {
		return []*kpiAcc{total, get(events, t.EventID), get(days, day(t.At)), get(zones, t.ZoneID), get(analytes, t.Analyte), get(tiers, tierOf(t))}
	}
	seen := map[string]bool{}
	for _, t := range in.Tests {
		if t.ResultID != "" {
			if seen[t.ResultID] {
				continue // a resend of the same result
			}
			seen[t.ResultID] = true
		}
		accs := groupsOf(t)
		for _, a := range accs {
			count(a, t.Verdict, 1)
		}
		if t.Verdict == assay.Positive {
			disposal(t, accs)
		}
	}
	for _, c := range in.Counts {
		switch c.Dim {
		case DimTotal:
			count(total, c.Verdict, c.N)
		case DimEvent:
			count(get(events, c.Key), c.Verdict, c.N)
		case DimDay:
			count(get(days, c.Key), c.Verdict, c.N)
		case DimZone:
			count(get(zones, c.Key), c.Verdict, c.N)
		case DimAnalyte:
			count(get(analytes, c.Key), c.Verdict, c.N)
		case DimTier:
			count(get(tiers, c.Key), c.Verdict, c.N)
		}
	}
	for _, t := range in.Positives {
		if t.ResultID != "" {
			if seen[t.ResultID] {
				continue
			}
			seen[t.ResultID] = true
		}
		disposal(t, groupsOf(t))
	}
	for _, inc := range in.Incidents {
		accs := []*kpiAcc{total, get(events, inc.Trigger.EventID), get(days, day(inc.OpenedAt))}
		arrived, onSite := inc.reached(IncidentOnSite)
		closed, isClosed := inc.reached(IncidentClosed)
		for _, a := range accs {
			a.Incidents++
			if onSite {
				a.arrive = append(a.arrive, arrived.Sub(inc.OpenedAt))
			}
			if isClosed {
				a.close = append(a.close, closed.Sub(inc.OpenedAt))
			}
		}
	}
	for _, r := range in.Readiness {
		for _, a := range []*kpiAcc{total, get(events, r.EventID)} {
			a.readyDone += r.Done
			a.readyTotal += r.Total
		}
	}
	for _, b := range in.Banquets {
		for _, a := range []*kpiAcc{total, get(days, day(b.FiledAt))} {
			a.BanquetsFiled++
			if b.GuidanceRequired {
				a.BanquetsGuidanceRequired++
			}
		}
		if at, ok := audit(b.Audit).firstTo(string(BanquetOnSiteChecked)); ok {
			for _, a := range []*kpiAcc{total, get(days, day(at))} {
				a.BanquetsGuided++
			}
		}
	}
	groups := func(m map[string]*kpiAcc) []KPIGroup {
		out := make([]KPIGroup, 0, len(m))
		for k, a := range m {
			out = append(out, KPIGroup{Key: k, KPI: a.finish(cfg)})
		}
		slices.SortFunc(out, func(a, b KPIGroup) int { return cmp.Compare(a.Key, b.Key) })
		return out
	}
	byTier := make([]KPIGroup, 0, len(tiers))
	for _, t := range assay.Tiers() {
		byTier = append(byTier, KPIGroup{Key: string(t), KPI: tiers[string(t)].finish(cfg)})
		delete(tiers, string(t))
	}
	for _, k := range slices.Sorted(maps.Keys(tiers)) { // a tier this program does not know
		byTier = append(byTier, KPIGroup{Key: k, KPI: tiers[k].finish(cfg)})
	}
	return KPIReport{Total: total.finish(cfg), ByEvent: groups(events), ByDay: groups(days), ByZone: groups(zones), ByAnalyte: groups(analytes), ByTier: byTier, Targets: cfg.KPI.Targets}
}
