package engine

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// KPIQuery selects the figures of KPIs.
type KPIQuery struct {
	EventID string         // only this event's tests, incidents and readiness
	Day     assurance.Date // Total becomes this day's figures
	Scope   []string       // the user's events (empty: all)
}

// KPIs computes the protocol's figures (assurance.ComputeKPIs) over the
// stored results, incidents, banquets and the events' readiness now. The
// tests are never read one by one: their numbers per event, day, stall
// (→ its zone) and analyte come from the history's tally (SQL aggregates),
// and only the positives are read, for the disposal rate.
func (e *Engine) KPIs(q KPIQuery) (assurance.KPIReport, error) {
	var in assurance.KPIInput
	keep := func(event string) bool {
		return (q.EventID == "" || event == q.EventID) && InScope(q.Scope, event)
	}
	zoneOf := map[string]string{}
	if err := store.List(e.st, "site", func(id string, s store.Site) bool { zoneOf[id] = s.ZoneID; return true }); err != nil {
		return assurance.KPIReport{}, err
	}
	dims := []struct {
		by  history.Dim
		dim string
	}{{history.ByTotal, assurance.DimTotal}, {history.ByEvent, assurance.DimEvent}, {history.ByDay, assurance.DimDay},
		{history.ByStall, assurance.DimZone}, {history.ByAnalyte, assurance.DimAnalyte}, {history.ByTier, assurance.DimTier}}
	for _, d := range dims {
		// A repeat of the same sample (复测) is not another test: the
		// KPIs count each sample's first result (decision 0033).
		ts, err := e.res.Tally(history.TallyQuery{By: d.by, EventID: q.EventID, Events: q.Scope, SkipRepeats: true})
		if err != nil {
			return assurance.KPIReport{}, err
		}
		for _, t := range ts {
			key := t.Key
			if d.by == history.ByStall {
				key = zoneOf[t.Key]
			}
			in.Counts = append(in.Counts, assurance.TestCount{Dim: d.dim, Key: key, Verdict: assay.Verdict(t.Verdict), N: t.N})
		}
	}
	err := e.res.Each(history.Filter{Verdict: string(assay.Positive), EventID: q.EventID, Events: q.Scope}, false, func(r *wire.Result) bool {
		if r.RepeatOf != "" {
			return true // the repeat of a positive is the same positive
		}
		in.Positives = append(in.Positives, assurance.TestRecord{ResultID: r.ResultID, EventID: r.EventID, At: r.MeasuredAt,
			Verdict: r.EffectiveVerdict(), ZoneID: zoneOf[r.StallID], Analyte: r.Analyte, Tier: r.EffectiveTier()})
		return true
	})
	if err != nil {
		return assurance.KPIReport{}, err
	}
	err = store.List(e.st, kindIncident, func(_ string, r Incident) bool {
		if keep(r.Trigger.EventID) {
			in.Incidents = append(in.Incidents, r.Incident)
		}
		return true
	})
	if err != nil {
		return assurance.KPIReport{}, err
	}
	if q.EventID == "" && len(q.Scope) == 0 {
		err = store.List(e.st, kindBanquet, func(_ string, b Banquet) bool {
			in.Banquets = append(in.Banquets, b.Banquet)
			return true
		})
		if err != nil {
			return assurance.KPIReport{}, err
		}
	}
	evs, err := e.Events(q.Scope)
	if err != nil {
		return assurance.KPIReport{}, err
	}
	for _, ev := range evs {
		if q.EventID == "" || ev.ID == q.EventID {
			in.Readiness = append(in.Readiness, ev.Readiness)
		}
	}
	rep := assurance.ComputeKPIs(in, e.pc)
	if !q.Day.IsZero() {
		rep.Total = assurance.KPI{}
		for _, g := range rep.ByDay {
			if g.Key == q.Day.String() {
				rep.Total = g.KPI
			}
		}
	}
	return rep, nil
}

// SnapshotExtra returns the live collections a reconnecting browser needs
// besides results, stalls and kiosks, as their REST representations:
// incidents (open ones, and those closed in the last 24 h), teams, open
// alerts, events and banquets — those a user scoped to scope may see (nil:
// all; see # Scope). It reads the store only, so the live hub may call it
// from its goroutine.
func (e *Engine) SnapshotExtra(scope []string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	put := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			e.log.Error("assure: snapshot", "collection", name, "err", err)
			return
		}
		out[name] = b
	}
	cut := e.deps.Now().Add(-24 * time.Hour)
	incs, _ := e.Incidents(IncidentFilter{Limit: 1 << 20, Events: scope})
	live := []Incident{}
	for _, inc := range incs {
		if inc.State != assurance.IncidentClosed || !inc.StateSince.Before(cut) {
			live = append(live, inc)
		}
		if len(live) == 500 {
			break
		}
	}
	put("incidents", live)
	teams, _ := e.Teams()
	teams = slices.DeleteFunc(teams, func(t Team) bool { return t.EventID != "" && !InScope(scope, t.EventID) })
	put("teams", nonNil(teams))
	alerts, _ := e.st.Alarms(200, true)
	if len(scope) > 0 {
		alerts = slices.DeleteFunc(alerts, func(a store.Alarm) bool { return !InScope(scope, e.st.AlarmEvent(a)) })
	}
	put("alerts", nonNil(alerts))
	events, _ := e.Events(scope)
	put("events", nonNil(events))
	banquets := []Banquet{}
	if len(scope) == 0 { // banquets belong to no event
		banquets, _ = e.Banquets(BanquetFilter{})
	}
	put("banquets", nonNil(banquets))
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
