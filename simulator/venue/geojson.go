package venue

import (
	"time"

	"github.com/shianfood/shian/geo"
)

// ZonesGeoJSON returns the venue grounds and its vendor zones as areas
// (kinds "venue" and "zone"); each zone carries its stall count.
func (v *Venue) ZonesGeoJSON() geo.FeatureCollection {
	count := map[string]int{}
	for _, s := range v.Stalls {
		count[s.ZoneID]++
	}
	fs := []geo.Feature{{
		ID: v.ID, Kind: geo.KindVenue, Name: v.Name, NameEN: v.NameEN, Geometry: v.Boundary,
		Properties: map[string]any{"event": v.Event, "event_en": v.EventEN,
			"start": v.Start.Format(time.RFC3339), "end": v.End.Format(time.RFC3339)},
	}}
	for _, z := range v.Zones {
		fs = append(fs, geo.Feature{
			ID: z.ID, Kind: geo.KindZone, Name: z.Name, NameEN: z.NameEN, Geometry: z.Area,
			Properties: map[string]any{"stalls": count[z.ID]},
		})
	}
	return geo.FeatureCollection{Features: fs}
}

// StallsGeoJSON returns the stalls as points (kind "stall") with their
// zone, category and risk grade.
func (v *Venue) StallsGeoJSON() geo.FeatureCollection {
	fs := make([]geo.Feature, 0, len(v.Stalls))
	for _, s := range v.Stalls {
		fs = append(fs, geo.Feature{
			ID: s.ID, Kind: geo.KindStall, Name: s.Name, Geometry: s.Point,
			Properties: map[string]any{geo.PropZone: s.ZoneID, "category": s.Category, "grade": string(s.Grade)},
		})
	}
	return geo.FeatureCollection{Features: fs}
}

// SitesGeoJSON returns kitchens, banquet sites and team home points.
func (v *Venue) SitesGeoJSON() geo.FeatureCollection {
	var fs []geo.Feature
	for _, k := range v.Kitchens {
		fs = append(fs, geo.Feature{
			ID: k.ID, Kind: geo.KindKitchen, Name: k.Name, NameEN: k.NameEN, Geometry: k.Point,
			Properties: map[string]any{"caterer": k.Caterer, "headcount": k.Headcount},
		})
	}
	for _, b := range v.Banquets {
		fs = append(fs, geo.Feature{
			ID: b.ID, Kind: geo.KindBanquet, Name: b.Village + " " + b.Host + " " + string(b.Type), Geometry: b.Point,
			Properties: map[string]any{
				"filing_no": b.FilingNo, "host": b.Host, "type": string(b.Type), "town": b.Town, "village": b.Village,
				"headcount": b.Headcount, "chef_source": b.ChefSource,
				"start": b.Start.Format(time.RFC3339), "end": b.End.Format(time.RFC3339),
			},
		})
	}
	for _, t := range v.Teams {
		props := map[string]any{"mode": string(t.Mode), "leader": t.Leader, "members": t.Members}
		if t.KitchenID != "" {
			props["kitchen"] = t.KitchenID
		}
		fs = append(fs, geo.Feature{ID: t.ID, Kind: geo.KindTeam, Name: t.Name, NameEN: t.NameEN, Geometry: t.Home, Properties: props})
	}
	return geo.FeatureCollection{Features: fs}
}

// GeoJSON returns everything in one collection: grounds, zones, stalls,
// kitchens, banquets and teams.
func (v *Venue) GeoJSON() geo.FeatureCollection {
	var fs []geo.Feature
	fs = append(fs, v.ZonesGeoJSON().Features...)
	fs = append(fs, v.StallsGeoJSON().Features...)
	fs = append(fs, v.SitesGeoJSON().Features...)
	return geo.FeatureCollection{Features: fs}
}
