package demo

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
)

// TestDemoRunsTheProtocol runs the demo for a short while with more
// positives than a real day, then reads its store: the event went live,
// every kitchen was ready, teams reported positions, incidents were opened
// from the kiosks' results and some reached 销号, banquets were filed and
// guided, patrol visits were recorded.
func TestDemoRunsTheProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for 25 s")
	}
	dir := t.TempDir()
	var out bytes.Buffer
	err := Run(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Duration: 25 * time.Second, Every: 700 * time.Millisecond,
		Measure: 300 * time.Millisecond, Mix: enzyme.Mix{Negative: 0.5, Suspicious: 0.15, Positive: 0.3, Invalid: 0.05},
		Log: slog.New(slog.DiscardHandler), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo output:\n%s", out.String())
	st, err := store.Open(filepath.Join(dir, "command"), store.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, _ := store.All[assurance.Event](st, "event")
	if len(events) != 1 || events[0].Phase != assurance.PhaseWholeProcess {
		t.Fatalf("events %+v", events)
	}
	incs, _ := store.All[engine.Incident](st, "incident")
	reached := map[assurance.IncidentState]bool{}
	for _, inc := range incs {
		for _, a := range inc.Audit {
			reached[assurance.IncidentState(a.To)] = true
		}
	}
	for _, s := range []assurance.IncidentState{assurance.IncidentAssigned, assurance.IncidentOnSite, assurance.IncidentSignedOff} {
		if !reached[s] {
			t.Errorf("no incident reached %s in %d incidents", s, len(incs))
		}
	}
	teams, _ := store.All[engine.Team](st, "team")
	moved := 0
	for _, tm := range teams {
		if !tm.PositionAt.IsZero() {
			moved++
		}
	}
	if len(teams) != 5 || moved == 0 {
		t.Errorf("%d teams, %d reported a position", len(teams), moved)
	}
	banquets, _ := store.All[engine.Banquet](st, "banquet")
	guided := 0
	for _, b := range banquets {
		if b.TeamID != "" {
			guided++
		}
	}
	if len(banquets) == 0 || guided == 0 {
		t.Errorf("%d banquets, %d with guidance", len(banquets), guided)
	}
	visits, _ := store.All[engine.PatrolVisit](st, "visit")
	menus, _ := store.All[assurance.Menu](st, "menu")
	if len(menus) != 4 {
		t.Errorf("%d menus", len(menus))
	}
	t.Logf("%d incidents, %d banquets, %d patrol visits, %d menus", len(incs), len(banquets), len(visits), len(menus))
	// Issue 16 on the demo: two markets' self-test files and a lab report
	// in the history with their tiers, and a diner's complaint answered.
	h, err := history.Open("sqlite:"+filepath.Join(dir, "command", "history.db"), history.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for src, want := range map[string]int{"market:NT-CHONGCHUAN": 3, "market:NT-GANGZHA": 2, "lab:NT-CDC": 1} {
		if rs, err := h.Results(history.Filter{Source: src}); err != nil || len(rs) != want {
			t.Errorf("%s: %d results (%v), want %d", src, len(rs), err, want)
		}
	}
	complaints, _ := store.All[engine.Complaint](st, "complaint")
	answered := 0
	for _, inc := range incs {
		if inc.Complaint != nil && inc.Complaint.Reply != nil {
			answered++
		}
	}
	if len(complaints) != 1 || answered != 1 {
		t.Errorf("%d complaints, %d answered", len(complaints), answered)
	}
	if !strings.Contains(out.String(), "whole_process") {
		t.Error("the demo did not say the event went live")
	}
	// The second kiosk reads an LY-GR20 from its profile alone; its results
	// were saved beside the other instruments'.
	ob, err := outbox.Open(filepath.Join(dir, "kiosks", "K-NT-02", "data"), outbox.Options{KioskID: "K-NT-02", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	recs, _ := ob.Recent(1000)
	byProfile := 0
	for _, r := range recs {
		if r.Result.Model == "LY-GR20" && r.Result.DeviceID == "gold-ly" {
			byProfile++
		}
	}
	t.Logf("kiosk K-NT-02: %d results, %d read from the LY-GR20's profile", len(recs), byProfile)
	if byProfile == 0 {
		t.Error("no result from the reader read by its profile")
	}
	// Issue 14 item 5: the enzyme tests' samples fit their stalls (a
	// milk-tea stall is not tested for spinach): each is one of the
	// stall category's samples in the table the touchscreen offers.
	sites, _ := store.All[store.Site](st, "site")
	cat := map[string]string{}
	for _, s := range sites {
		cat[s.ID] = s.Category
	}
	fit := 0
	for _, k := range []string{"K-NT-01", "K-NT-02"} {
		ob := ob
		if k != "K-NT-02" {
			o, err := outbox.Open(filepath.Join(dir, "kiosks", k, "data"), outbox.Options{KioskID: k, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			ob = o
		}
		recs, _ := ob.Recent(1000)
		for _, r := range recs {
			if r.Result.Method != assay.EnzymeInhibition {
				continue
			}
			c, ok := cat[r.Result.StallID]
			if !ok || c == "" {
				t.Errorf("%s: result at %s, a stall with no category at the command", k, r.Result.StallID)
				continue
			}
			if !slices.ContainsFunc(sampleTable.For(c), func(sg stallsamples.Suggestion) bool { return sg.Name == r.Result.Sample.Name }) {
				t.Errorf("%s: %s (a %s stall) tested %q, not one of its samples", k, r.Result.StallID, c, r.Result.Sample.Name)
			}
			fit++
		}
	}
	t.Logf("%d enzyme results, each a sample of its stall's category", fit)
	if fit == 0 {
		t.Error("no enzyme result to check")
	}
}
