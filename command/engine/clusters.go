package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// addPositive adds a positive to the recent list and raises a cluster
// warning (聚集性预警) when it makes or joins a cluster of the same analyte
// (geo.FindClusters: k positives within r metres and t hours). A cluster
// is named by its analyte and its first member, and warned about once; it
// is updated as it grows.
func (e *Engine) addPositive(rec Incident, now time.Time) {
	p := rec.Trigger.Where
	if p == nil {
		return
	}
	ev := recentPositive{Event: geo.Event{ID: rec.Trigger.ResultID, Point: orb.Point{p.Lon, p.Lat},
		Time: rec.Trigger.ObservedAt, Analyte: rec.Analyte}, subject: rec.Trigger.SubjectID, item: rec.ItemName}
	e.clusterMu.Lock()
	defer e.clusterMu.Unlock()
	cut := now.Add(-2 * e.cfg.Cluster.Window)
	e.recent = slices.DeleteFunc(e.recent, func(r recentPositive) bool { return r.Time.Before(cut) })
	if !slices.ContainsFunc(e.recent, func(r recentPositive) bool { return r.ID == ev.ID }) {
		e.recent = append(e.recent, ev)
	}
	events := make([]geo.Event, len(e.recent))
	subjects, items := map[string]string{}, map[string]string{}
	for i, r := range e.recent {
		events[i] = r.Event
		subjects[r.ID] = r.subject
		if r.item != "" {
			items[r.Analyte] = r.item
		}
	}
	clusters, err := geo.FindClusters(events, e.cfg.Cluster)
	if err != nil {
		e.log.Error("assure: cluster detection failed", "err", err)
		return
	}
	for _, c := range clusters {
		if !slices.ContainsFunc(c.Members, func(m geo.Event) bool { return m.ID == ev.ID }) {
			continue
		}
		rec := Cluster{ID: c.Analyte + ":" + c.Members[0].ID, Analyte: c.Analyte,
			Centroid: assurance.Point{Lon: c.Centroid[0], Lat: c.Centroid[1]}, Radius: c.Radius, Start: c.Start, End: c.End,
			ItemName: items[c.Analyte]}
		for _, m := range c.Members {
			rec.Members = append(rec.Members, m.ID)
			if s := subjects[m.ID]; s != "" && !slices.Contains(rec.Subjects, s) {
				rec.Subjects = append(rec.Subjects, s)
			}
		}
		if a, raised, err := e.storeCluster(rec, now); err != nil {
			e.log.Error("assure: cannot store cluster", "cluster", rec.ID, "err", err)
		} else if raised {
			e.publish(wire.KindAlert, a)
		}
	}
}

// storeCluster stores cluster c: a new one with its cluster_warning alarm
// in the same transaction (of two engines finding it at once, one creates
// it and raises the alarm, the other then finds it stored), a stored one
// only when it has grown.
func (e *Engine) storeCluster(c Cluster, now time.Time) (a store.Alarm, raised bool, err error) {
	err = retryClash(func() error {
		return e.st.Update(func(tx *store.Tx) error {
			rec := c
			raised = false
			var old Cluster
			switch err := tx.Get(kindCluster, rec.ID, &old); {
			case err == nil:
				if len(old.Members) >= len(rec.Members) {
					return nil
				}
				rec.RaisedAt, rec.AlarmSeq = old.RaisedAt, old.AlarmSeq
				return tx.Put(kindCluster, rec.ID, rec)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			rec.RaisedAt = now
			var err error
			a, err = tx.RaiseAlarm(store.Alarm{Code: "cluster_warning", Loc: []float64{rec.Centroid.Lon, rec.Centroid.Lat}, At: now,
				Message: fmt.Sprintf("聚集性预警：%d 份 %s 阳性样品在中心 %.0f 米内、%s内先后检出（%s） / cluster warning: %d %s positives within %.0f m of their centre over %s (%s)",
					// zh-CN names the item as people read it, never the code.
					len(rec.Members), cmp.Or(rec.ItemName, "同一项目"), rec.Radius, spanZH(rec.End.Sub(rec.Start)), strings.Join(rec.Subjects, "、"),
					len(rec.Members), rec.Analyte, rec.Radius, spanEN(rec.End.Sub(rec.Start)), strings.Join(rec.Subjects, ", "))})
			if err != nil {
				return err
			}
			rec.AlarmSeq = a.Seq
			raised = true
			return tx.Create(kindCluster, rec.ID, rec)
		})
	})
	return a, raised, err
}

// recentOf returns incident r as a recent positive of the cluster search,
// if it is one observed since cut.
func recentOf(r *Incident, cut time.Time) (recentPositive, bool) {
	if r.Trigger.Kind != assurance.TriggerPositive || r.Trigger.Where == nil || r.Trigger.ObservedAt.Before(cut) {
		return recentPositive{}, false
	}
	return recentPositive{Event: geo.Event{ID: r.Trigger.ResultID,
		Point: orb.Point{r.Trigger.Where.Lon, r.Trigger.Where.Lat}, Time: r.Trigger.ObservedAt, Analyte: r.Analyte},
		subject: r.Trigger.SubjectID, item: r.ItemName}, true
}

// Clusters returns the cluster warnings, newest first.
func (e *Engine) Clusters() ([]Cluster, error) {
	cs, err := store.All[Cluster](e.st, kindCluster)
	slices.SortFunc(cs, func(a, b Cluster) int { return cmp.Or(b.RaisedAt.Compare(a.RaisedAt), cmp.Compare(a.ID, b.ID)) })
	return cs, err
}

// spanZH and spanEN say how long a cluster took to form.
func spanZH(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d 秒", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d 分钟", int(d.Minutes()))
	}
	return fmt.Sprintf("%.1f 小时", d.Hours())
}

func spanEN(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}
