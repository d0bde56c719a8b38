package engine_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// TestFailedFsyncRefusesTransition: an incident's transition whose fsync
// fails is refused (the caller is not told it happened), and so is every
// later write — another transition, a team, an alarm — until the store is
// reopened. The results live in the history, which has its own disk
// state: they are still stored (and the engine's Recover opens their
// incidents after the restart).
func TestFailedFsyncRefusesTransition(t *testing.T) {
	f := newFixture(t, engine.Config{})
	if f.dsn != "" {
		t.Skip("the fsync seam is buntdb's; PostgreSQL's durability is its COMMIT")
	}
	f.site(t, "K-01", "kitchen", at(0, 0), "B")
	f.team(t, "T-01", engine.ModeStationed, "K-01", at(5, 5), true)
	hot := wire.Result{ResultID: uuid.Must(uuid.NewV7()).String(), KioskID: "K-2", Seq: 1, StallID: "K-01", Method: assay.HotHolding,
		Item: "热藏温度", Analyte: "hot_holding", Value: 52.5, Unit: "°C", Verdict: assay.Fail}
	f.e.Process(f.commit(t, hot))
	inc := f.incidentOf(t, hot.ResultID)
	insp := assurance.Actor{UserID: "insp-1", Role: assurance.RoleInspector, TeamID: "T-01"}
	if _, err := f.e.Transition(inc.ID, engine.Step{IncidentStep: assurance.IncidentStep{To: assurance.IncidentOnSite, Act: assurance.Act{Actor: insp}}}); err != nil {
		t.Fatal(err)
	}
	published := len(f.rec.kinds(wire.KindIncident))

	f.failSync.Store(true)
	clear := engine.Step{IncidentStep: assurance.IncidentStep{To: assurance.IncidentCleared, Act: assurance.Act{Actor: insp, Note: "复测 68 °C"}}}
	if _, err := f.e.Transition(inc.ID, clear); !errors.Is(err, store.ErrStorageFailed) {
		t.Fatalf("销号 with a failing fsync: %v, want ErrStorageFailed", err)
	}
	if n := len(f.rec.kinds(wire.KindIncident)); n != published {
		t.Errorf("a refused transition was published (%d incident deltas, had %d)", n, published)
	}
	if err := f.st.Err(); !errors.Is(err, store.ErrStorageFailed) {
		t.Errorf("store.Err after the failed fsync: %v", err)
	}

	f.failSync.Store(false) // the disk seems fine again: still refused
	if _, err := f.e.Transition(inc.ID, clear); !errors.Is(err, store.ErrStorageFailed) {
		t.Errorf("transition after the failure: %v, want ErrStorageFailed", err)
	}
	if _, err := f.e.PutTeam(engine.Team{ID: "T-02", Name: "保障组 T-02", Mode: engine.ModePatrol, OnDuty: true}, commander); !errors.Is(err, store.ErrStorageFailed) {
		t.Errorf("team after the failure: %v, want ErrStorageFailed", err)
	}
	if _, err := f.st.RaiseAlarm(store.Alarm{Code: "test"}); !errors.Is(err, store.ErrStorageFailed) {
		t.Errorf("alarm after the failure: %v, want ErrStorageFailed", err)
	}
	later := hot
	later.ResultID, later.Seq = uuid.Must(uuid.NewV7()).String(), 2
	if cs, err := f.h.Commit([]wire.Result{later}); err != nil || cs[0].Outcome != history.Stored {
		t.Errorf("results after the store's failure: %+v %v, want stored in the history", cs, err)
	}

	// A restart reads the file back and takes writes again.
	f.e.Close()
	f.st.Close()
	f.open(t, engine.Config{})
	if _, err := f.e.PutTeam(engine.Team{ID: "T-02", Name: "保障组 T-02", Mode: engine.ModePatrol, OnDuty: true}, commander); err != nil {
		t.Fatalf("team after reopening: %v", err)
	}
	if err := f.st.Err(); err != nil {
		t.Errorf("store.Err after reopening: %v", err)
	}
}
