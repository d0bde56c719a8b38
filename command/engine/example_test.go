package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// A colloidal-gold positive for a banned drug from a kiosk opens an
// incident and assigns the nearest available patrol team at once (an
// enzyme-inhibition positive would first wait in 待复测 for its repeats,
// decision 0015); an inspector of another team cannot act on it.
func Example() {
	dir, _ := os.MkdirTemp("", "assure-example")
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 28, 9, 12, 0, 0, assurance.ChinaStandardTime)
	clock := func() time.Time { return now }
	st, _ := store.Open(dir, store.Options{Now: clock, Log: quiet})
	defer st.Close()
	results, _ := history.Open("sqlite:"+filepath.Join(dir, "history.db"), history.Options{Now: clock, Log: quiet})
	defer results.Close()
	e, _ := engine.New(engine.Deps{Store: st, Results: results, DataDir: dir, Now: clock, Log: quiet}, engine.Config{})

	st.Put("site", "S-012", store.Site{ID: "S-012", Kind: "stall", Name: "张记蔬菜", Loc: []float64{120.9390, 31.9890}})
	commander := assurance.Actor{UserID: "cmd-1", Role: assurance.RoleCommander}
	for _, t := range []engine.Team{
		{ID: "T-03", Name: "第三保障组", Mode: engine.ModePatrol, Home: &assurance.Point{Lon: 120.9400, Lat: 31.9895}, OnDuty: true},
		{ID: "T-04", Name: "第四保障组", Mode: engine.ModePatrol, Home: &assurance.Point{Lon: 120.9500, Lat: 31.9990}, OnDuty: true},
	} {
		e.PutTeam(t, commander)
	}

	// What the ingest committer hands over after storing the result.
	stored, _ := results.Commit([]wire.Result{{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: "K-NT-01", Seq: 1, StallID: "S-012",
		Method: assay.GoldLine, Item: "克伦特罗", Value: 0.12, Unit: "T", Verdict: assay.Positive, MeasuredAt: now}})
	e.Process(stored)
	e.Process(stored) // seen again: still one incident

	incs, _ := e.Incidents(engine.IncidentFilter{})
	inc := incs[0]
	fmt.Println(len(incs), inc.ID, inc.State, inc.StateLabel.ZH, inc.TeamID, inc.DueAt.Format("15:04"))

	other := assurance.Actor{UserID: "insp-4", Role: assurance.RoleInspector, TeamID: "T-04"}
	_, err := e.Transition(inc.ID, engine.Step{IncidentStep: assurance.IncidentStep{To: assurance.IncidentOnSite, Act: assurance.Act{Actor: other}}})
	fmt.Println(assurance.ErrorCode(err))
	// Output:
	// 1 INC-20261128-0001 assigned 交办 T-03 09:42
	// forbidden
}
