package command_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
	"golang.org/x/crypto/bcrypt"
)

// TestMain stops the PostgreSQL server of internal/pgtest once the tests
// are done (the server is started only by a test that asks for it).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testDB is the --db of a test service: "" (SQLite and buntdb in the
// data directory) unless SHIAN_TEST_DB=postgres, which puts the service
// in cluster mode on a fresh database of pgtest's server, so that
// `SHIAN_TEST_DB=postgres go test ./command/ -run 'TestKioskToCommand|…'`
// runs those tests with the records and the history in PostgreSQL.
func testDB(t *testing.T) string {
	t.Helper()
	if os.Getenv("SHIAN_TEST_DB") != "postgres" {
		return ""
	}
	return pgtest.DSN(t)
}

// clusterSvc is one run of a command service in cluster mode.
type clusterSvc struct {
	svc    *command.Service
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func startCluster(t *testing.T, cfg command.Config) *clusterSvc {
	t.Helper()
	svc, err := command.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Auth().Cost = bcrypt.MinCost
	ctx, cancel := context.WithCancel(context.Background())
	c := &clusterSvc{svc: svc, srv: httptest.NewServer(svc.Handler()), cancel: cancel, done: make(chan struct{})}
	go func() { svc.Run(ctx); close(c.done) }()
	return c
}

func (c *clusterSvc) stop() {
	c.srv.CloseClientConnections()
	c.srv.Close()
	c.cancel()
	<-c.done
	c.svc.Close()
}

func (c *clusterSvc) get(t *testing.T, path, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", c.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestClusterModeStoreRestart: shian-command --db postgres://… keeps its
// operational records in PostgreSQL beside the history. A kiosk
// registered, a user and an API token, a positive ingested over a real
// uplink and the incident the engine opened for it are all found again
// by a restarted service — whose data directory holds no command.db —
// and the kiosk reconnecting with its token stores nothing twice.
func TestClusterModeStoreRestart(t *testing.T) {
	cfg := command.Config{DataDir: t.TempDir(), DB: pgtest.DSN(t), Evidence: filepath.Join(t.TempDir(), "shared-evidence"), Log: quiet}
	c := startCluster(t, cfg)
	st := c.svc.Store()
	if err := c.svc.Auth().CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	adminTok, err := c.svc.Auth().NewAPIToken("admin", "test")
	if err != nil {
		t.Fatal(err)
	}
	st.Put("site", "S-001", store.Site{ID: "S-001", Kind: "stall", Name: "张记蔬菜", Loc: []float64{stallLoc.Lon, stallLoc.Lat}})
	kioskTok, err := st.RegisterKiosk(store.Kiosk{ID: "K-1", SiteID: "S-001", Loc: []float64{stallLoc.Lon, stallLoc.Lat}})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-1", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	mAU := measure.MilliAU
	saved, err := ob.Save(enzymeResult("S-001", 303*mAU, 131*mAU))
	if err != nil || saved.Verdict != assay.Positive {
		t.Fatalf("saved %v %v", saved.Verdict, err)
	}
	notices := make(chan wire.Notice, 4)
	link := func(c *clusterSvc) (stop func()) {
		up, err := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(c.srv.URL, "http") + "/ws/kiosk", KioskID: "K-1", Token: kioskTok,
			Source: ob, Log: quiet, BackoffMin: 10 * time.Millisecond, OnNotice: func(n wire.Notice) { notices <- n }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { up.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stopLink := link(c)
	var notice wire.Notice
	select {
	case notice = <-notices:
	case <-time.After(15 * time.Second):
		t.Fatal("no incident notice reached the kiosk")
	}
	stopLink()
	var inc engine.Incident
	if code := c.get(t, "/api/v1/incidents/"+notice.IncidentNo, adminTok, &inc); code != 200 || inc.Trigger.ResultID != saved.ResultID {
		t.Fatalf("incident before the restart: %d %+v", code, inc.Trigger)
	}
	c.stop()
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "command.db")); !os.IsNotExist(err) {
		t.Errorf("cluster mode wrote a command.db in the data directory (%v)", err)
	}
	if _, err := os.Stat(cfg.Evidence); err != nil {
		t.Errorf("the evidence directory --evidence named: %v", err)
	}

	c = startCluster(t, cfg)
	defer c.stop()
	if k, err := c.svc.Store().KioskByToken(kioskTok); err != nil || k.ID != "K-1" {
		t.Fatalf("kiosk after the restart: %v %v", k.ID, err)
	}
	var rs []wire.Result
	if code := c.get(t, "/api/v1/results?limit=10", adminTok, &rs); code != 200 || len(rs) != 1 || rs[0].ResultID != saved.ResultID {
		t.Fatalf("results after the restart (the API token too): %d, %d", code, len(rs))
	}
	var again engine.Incident
	if code := c.get(t, "/api/v1/incidents/"+notice.IncidentNo, adminTok, &again); code != 200 || again.ID != inc.ID {
		t.Fatalf("incident after the restart: %d %q", code, again.ID)
	}
	// The kiosk comes back (its outbox sends nothing new): still one
	// result, one incident.
	stopLink = link(c)
	ob.Save(enzymeResult("S-001", 300*mAU, 290*mAU))
	deadline := time.Now().Add(10 * time.Second)
	for ob.Stats().Pending > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopLink()
	if code := c.get(t, "/api/v1/results?limit=10", adminTok, &rs); code != 200 || len(rs) != 2 {
		t.Fatalf("results after the kiosk came back: %d, %d", code, len(rs))
	}
	var list []engine.Incident
	if code := c.get(t, "/api/v1/incidents", adminTok, &list); code != 200 || len(list) != 1 {
		t.Fatalf("incidents: %d, %d", code, len(list))
	}
}
