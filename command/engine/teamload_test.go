package engine_test

import (
	"slices"
	"testing"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestTeamLoads: a team's load counts the open incidents assigned to it,
// the stops of its day's plan and its visits of that day (not other
// days'); the least loaded team that may go skips the busy one, the
// off-duty one and a team stationed elsewhere, and prefers fewer stops.
func TestTeamLoads(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.site(t, "S-1", "stall", at(50, 0), "D")
	f.site(t, "S-2", "stall", at(900, 0), "D")
	f.site(t, "S-3", "stall", at(950, 30), "C")
	f.site(t, "K-1", "kitchen", at(0, 500), "C")
	f.team(t, "T-1", engine.ModePatrol, "", at(0, 0), true)
	f.team(t, "T-2", engine.ModePatrol, "", at(1000, 0), true)
	f.team(t, "T-3", engine.ModeStationed, "K-1", at(0, 500), true)
	f.team(t, "T-4", engine.ModePatrol, "", at(10, 0), false)

	inc, err := f.e.OpenIncident(assurance.Trigger{Kind: assurance.TriggerComplaint, SubjectID: "S-1", Description: "投诉"}, assurance.Act{Actor: commander})
	if err != nil {
		t.Fatal(err)
	}
	if inc.TeamID != "T-1" {
		t.Fatalf("the complaint went to %q, want the nearest team T-1", inc.TeamID)
	}
	insp := assurance.Actor{UserID: "insp-2", Role: assurance.RoleInspector, TeamID: "T-2"}
	if _, err := f.e.RecordVisit(engine.PatrolVisit{TargetID: "S-2", TeamID: "T-2", Act: assurance.Act{Actor: insp}}); err != nil {
		t.Fatal(err)
	}
	loads, err := f.e.TeamLoads(assurance.Date{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]engine.TeamLoad{}
	for _, l := range loads {
		byID[l.ID] = l
	}
	if l := byID["T-1"]; !slices.Equal(l.Incidents, []string{inc.ID}) || l.Status != engine.TeamBusy {
		t.Errorf("T-1: incidents %v status %s, want [%s] busy", l.Incidents, l.Status, inc.ID)
	}
	if l := byID["T-2"]; len(l.Incidents) != 0 || l.Visits != 1 || l.Stops == 0 {
		t.Errorf("T-2: incidents %v visits %d stops %d, want none, 1 and its plan's stops", l.Incidents, l.Visits, l.Stops)
	}
	if byID["T-1"].Score() <= byID["T-2"].Score() {
		t.Errorf("an open incident (score %d) must weigh more than a day's stops (%d)", byID["T-1"].Score(), byID["T-2"].Score())
	}
	if got := engine.LeastLoaded(loads, "S-3"); got != "T-2" {
		t.Errorf("least loaded for a stall = %q, want T-2 (T-1 busy, T-3 stationed elsewhere, T-4 off duty)", got)
	}
	if got := engine.LeastLoaded(loads, "K-1"); got != "T-3" && got != "T-2" {
		t.Errorf("least loaded for the kitchen = %q, want T-2 or T-3", got)
	}
	// Tomorrow's load does not count today's visit.
	next, err := f.e.TeamLoads(assurance.DateOf(t0.AddDate(0, 0, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range next {
		if l.Visits != 0 {
			t.Errorf("%s has %d visits tomorrow", l.ID, l.Visits)
		}
	}
	f.e.PutTeam(engine.Team{ID: "T-2", Name: "保障组 T-2", Mode: engine.ModePatrol, Home: &assurance.Point{Lon: at(1000, 0).Lon, Lat: at(1000, 0).Lat}, OnDuty: false}, commander)
	loads, _ = f.e.TeamLoads(assurance.Date{})
	if got := engine.LeastLoaded(loads, "S-3"); got != "" {
		t.Errorf("least loaded with no team free = %q, want none", got)
	}
}

// TestChefBanquets: the register lists, for each chef, the banquets whose
// filing names the chef by id, newest first; a chef filed without an id
// is numbered.
func TestChefBanquets(t *testing.T) {
	f := newFixture(t, engine.Config{})
	c, err := f.e.PutChef(assurance.VillageChef{Name: "陈大厨", Cert: assurance.HealthCertificate{ValidUntil: assurance.DateOf(t0.AddDate(0, 0, -1))}}, commander)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" {
		t.Fatal("a chef filed without an id was not numbered")
	}
	for i, d := range []int{3, 10} {
		day := assurance.DateOf(t0.AddDate(0, 0, d))
		id := []string{"BQ-1", "BQ-2"}[i]
		if _, _, err := f.e.FileBanquet(id, assurance.BanquetFiling{Town: "石港镇", Village: "渔湾村", Host: assurance.Host{Name: "陈建国", Phone: "13912345678"},
			Type: assurance.BanquetType("wedding"), Place: "院内", Sittings: []assurance.Sitting{{Date: day, Meal: assurance.MealLunch}}, Headcount: 20,
			ChefSource: assurance.ChefSource("hired_chef"), Cooks: []assurance.BanquetCook{{Name: "陈大厨", Role: assurance.CookRole("cook"), ChefID: c.ID, Cert: assurance.CertValid}, {Name: "帮厨", Role: assurance.CookRole("helper"), Cert: assurance.CertValid}}},
			assurance.Act{Actor: commander}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := f.e.Chefs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].CertState != assurance.CertExpired || cs[0].FitToday {
		t.Fatalf("register %+v", cs)
	}
	var ids []string
	for _, b := range cs[0].Banquets {
		ids = append(ids, b.ID)
	}
	if !slices.Equal(ids, []string{"BQ-2", "BQ-1"}) {
		t.Errorf("the chef's banquets = %v, want BQ-2, BQ-1 (newest first)", ids)
	}
}
