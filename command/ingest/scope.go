package ingest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/wire"
)

// outOfScope says why the kiosk k may not report r, or returns "" when it
// may (see "Bound to its registration" in the package doc). site is the
// result's site, found reports whether it is registered.
func outOfScope(k *store.Kiosk, r *wire.Result, site store.Site, found bool) string {
	switch {
	case len(k.Sites) > 0:
		if !slices.Contains(k.Sites, r.StallID) {
			return fmt.Sprintf("摊位/场所 %q 不在本终端登记的场所内 / site %q is not one of the sites this kiosk is registered for", r.StallID, r.StallID)
		}
		if found && k.EventID != "" && site.EventID != k.EventID {
			return fmt.Sprintf("摊位/场所 %q 属于活动 %q，本终端登记在活动 %q / site %q belongs to event %q, this kiosk to event %q",
				r.StallID, site.EventID, k.EventID, r.StallID, site.EventID, k.EventID)
		}
	case k.EventID != "":
		if !found {
			return fmt.Sprintf("摊位/场所 %q 未在指挥中心登记，不属于本终端的活动 %q / site %q is not registered at the command, so not a site of this kiosk's event %q",
				r.StallID, k.EventID, r.StallID, k.EventID)
		}
		if site.EventID != k.EventID {
			return fmt.Sprintf("摊位/场所 %q 不属于本终端的活动 %q / site %q is not a site of this kiosk's event %q", r.StallID, k.EventID, r.StallID, k.EventID)
		}
	default:
		if found && site.EventID != "" {
			return fmt.Sprintf("摊位/场所 %q 属于活动 %q，本终端未登记在任何活动 / site %q belongs to event %q; this kiosk is registered to no event",
				r.StallID, site.EventID, r.StallID, site.EventID)
		}
	}
	if r.EventID != "" {
		want := k.EventID
		if want == "" && found {
			want = site.EventID
		}
		if r.EventID != want {
			return fmt.Sprintf("结果所填活动 %q 不是本终端的活动 %q / the result names event %q, not this kiosk's event %q", r.EventID, want, r.EventID, want)
		}
	}
	return ""
}

// checkScope sorts a batch into the results the kiosk may report and
// refusals. A lookup error other than not-found fails the batch (the
// kiosk resends it).
func (s *Server) checkScope(k *store.Kiosk, rs []wire.Result) (keep []wire.Result, refused []*wire.Reject, err error) {
	keep = rs[:0:0]
	for i := range rs {
		r := &rs[i]
		var site store.Site
		found := false
		if r.StallID != "" {
			site, err = s.cfg.Kiosks.SiteByID(r.StallID)
			switch {
			case err == nil:
				found = true
			case errors.Is(err, store.ErrNotFound):
				err = nil
			default:
				return nil, nil, err
			}
		}
		if why := outOfScope(k, r, site, found); why != "" {
			refused = append(refused, &wire.Reject{ResultID: r.ResultID, Seq: r.Seq, Code: wire.RejectOutOfScope,
				Message: why + "；已拒收，结果保留在终端，请核对终端登记或所选摊位 / refused; the result stays on the kiosk: check the kiosk's registration or the site chosen"})
			continue
		}
		keep = append(keep, *r)
	}
	return keep, refused, nil
}

// refusedOnce reports whether the refusal of result id is new since the
// service started (so that a kiosk that lost the reject and resends it
// raises one alarm, not one per resend).
func (s *Server) refusedOnce(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.refused[id]; seen {
		return false
	}
	if len(s.refused) >= 10000 {
		clear(s.refused)
	}
	s.refused[id] = struct{}{}
	return true
}

func alarmOutOfScope(k *store.Kiosk, rj *wire.Reject) store.Alarm {
	return store.Alarm{Code: "result_out_of_scope", KioskID: k.ID, ResultID: rj.ResultID, EventID: k.EventID,
		Message: fmt.Sprintf("快检终端 %s 上报登记范围以外的结果 %s（序号 %d），已拒收 / kiosk %s reported result %s (seq %d) outside its registration; refused: %s",
			k.ID, rj.ResultID, rj.Seq, k.ID, rj.ResultID, rj.Seq, rj.Message)}
}

// siteIndex lists sites by area (store.Store.SitesIn): the pick list of a
// kiosk bound to an event is drawn from it. Optional on Kiosks: without
// it such a kiosk gets no list in welcome and shows its config's stalls.
type siteIndex interface {
	SitesIn(minLon, minLat, maxLon, maxLat float64) ([]store.Site, error)
}

// sitesFor returns the sites the kiosk k may report for, with the names
// and categories of the command's records, by id (at most
// wire.MaxWelcomeSites), for welcome. A lookup error leaves the list out
// (the kiosk keeps the list it had) and is logged.
func (s *Server) sitesFor(k *store.Kiosk) []wire.SiteInfo {
	info := func(st store.Site) wire.SiteInfo {
		return wire.SiteInfo{ID: st.ID, Name: st.Name, NameEn: st.NameEn, Kind: st.Kind, Category: st.Category}
	}
	var out []wire.SiteInfo
	switch {
	case len(k.Sites) > 0:
		for _, id := range k.Sites {
			st, err := s.cfg.Kiosks.SiteByID(id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				out = append(out, wire.SiteInfo{ID: id}) // listed, not (yet) recorded
			case err != nil:
				s.cfg.Log.Warn("kiosk's site list left out of welcome", "kiosk", k.ID, "err", err)
				return nil
			case k.EventID == "" || st.EventID == k.EventID:
				out = append(out, info(st))
			}
		}
	case k.EventID != "":
		idx, ok := s.cfg.Kiosks.(siteIndex)
		if !ok {
			return nil
		}
		all, err := idx.SitesIn(-180, -90, 180, 90)
		if err != nil {
			s.cfg.Log.Warn("kiosk's site list left out of welcome", "kiosk", k.ID, "err", err)
			return nil
		}
		for _, st := range all {
			if st.EventID == k.EventID {
				out = append(out, info(st))
			}
		}
	}
	slices.SortFunc(out, func(a, b wire.SiteInfo) int { return strings.Compare(a.ID, b.ID) })
	out = slices.CompactFunc(out, func(a, b wire.SiteInfo) bool { return a.ID == b.ID })
	if len(out) > wire.MaxWelcomeSites {
		out = out[:wire.MaxWelcomeSites]
	}
	return out
}
