package command_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/cluster"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// TestClusterResultsFanOut: a cluster-mode service announces the results
// it commits on the Bus, feeds its live map with results another instance
// announces (read from the history), and after its listener's connection
// is cut republishes the latest results to its map (the gap resync). The
// other instance is a bare Bus: the history takes one writer until the
// several-writer mode lands (then TestClusterResultCrossesInstances in
// command/webtest runs two whole services).
func TestClusterResultsFanOut(t *testing.T) {
	dsn := pgtest.DSN(t)
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), DB: dsn, Log: quiet, Instance: "a"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { svc.Run(ctx); close(ran) }()
	srv := httptest.NewServer(svc.Handler())
	defer func() { srv.CloseClientConnections(); srv.Close(); cancel(); <-ran; svc.Close() }()
	if err := svc.Auth().CreateUser("admin", "", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, _ := svc.Auth().NewAPIToken("admin", "test")
	e := &env{svc: svc, srv: srv, token: tok}

	peer := cluster.NewBus(dsn+"&application_name=peer", cluster.BusOptions{Instance: "b"})
	var mu sync.Mutex
	var heard []string
	peer.Subscribe("results", func(ids []string) { mu.Lock(); heard = append(heard, ids...); mu.Unlock() })
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { peer.Run(pctx); close(pdone) }()
	defer func() { pcancel(); <-pdone }()
	eventually(t, "both listeners", func() bool { return peer.Listening() && svc.Ready() == nil })
	eventually(t, "the engine on the only instance (its leader)", func() bool { return svc.Assure().Running() })
	var ready map[string]any
	if code := e.get(t, "/readyz", "", &ready); code != 200 || ready["leader"] != true {
		t.Fatalf("readyz of the only instance: %d %v, want 200 and leader true", code, ready)
	}

	c, _, err := dialLive(t, e, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := readMsg(t, c).(*wire.Snapshot); !ok {
		t.Fatal("first message is not a snapshot")
	}
	resultDelta := func(what string) wire.Result {
		t.Helper()
		for {
			d, ok := readMsg(t, c).(*wire.Delta)
			if !ok {
				t.Fatalf("%s: expected a delta", what)
			}
			if d.Kind == wire.KindResult {
				var r wire.Result
				json.Unmarshal(d.Data, &r)
				return r
			}
		}
	}

	// A kiosk's result on this instance: on the map, and announced.
	ktok, _ := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-1"})
	ob, _ := outbox.Open(t.TempDir(), outbox.Options{KioskID: "K-1", Log: quiet})
	defer ob.Close()
	up, _ := uplink.New(uplink.Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/kiosk",
		KioskID: "K-1", Token: ktok, Source: ob, Log: quiet})
	uctx, ucancel := context.WithCancel(context.Background())
	udone := make(chan struct{})
	go func() { up.Run(uctx); close(udone) }()
	defer func() { ucancel(); <-udone }()
	ob.Save(enzymeResult("S-007", 303*measure.MilliAU, 131*measure.MilliAU))
	local := resultDelta("the local result")
	eventually(t, "the peer to hear the result's id", func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(heard, local.ResultID) })

	// Another instance announces a result: read from the history, on the map.
	if err := peer.Publish(context.Background(), "results", []string{local.ResultID}); err != nil {
		t.Fatal(err)
	}
	if r := resultDelta("the announced result"); r.ResultID != local.ResultID || r.RxSeq != local.RxSeq {
		t.Fatalf("announced result on the map: %s rx %d, want %s rx %d", r.ResultID, r.RxSeq, local.ResultID, local.RxSeq)
	}

	// The service's listener is cut: once it listens again, the latest
	// results come to the map again (the gap resync).
	pg, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	var n int
	if err := pg.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND application_name <> 'peer' AND pid <> pg_backend_pid()`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminated %d listeners (%v), want the service's one", n, err)
	}
	if r := resultDelta("the resync after the gap"); r.ResultID != local.ResultID {
		t.Fatalf("resync delta %s, want %s", r.ResultID, local.ResultID)
	}
	c.WriteControl(websocket.CloseMessage, nil, time.Now().Add(time.Second))
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
