package command_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// TestKioskFailsOverToTheNextCommand (issue 17 part 2, kiosk side): a
// kiosk with command.urls [A, B] delivers to A; A dies (its listener and
// every link closed); the kiosk moves to B with its backoff, and B's
// welcome (B holds none of them: its own data directory, a copy of A's
// taken before the results) has it send everything again. The ledger:
// every saved result is stored on B exactly once, the screen's link state
// names B, and the log says which URL the kiosk moved to. Then B dies and
// A comes back: the kiosk goes round the list to A, A's welcome says what
// it kept (seq 2), and A ends with every result, each once.
func TestKioskFailsOverToTheNextCommand(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	svcA, err := command.Open(command.Config{DataDir: dirA, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svcA.Store().RegisterKiosk(store.Kiosk{ID: "K-FO"})
	if err != nil {
		t.Fatal(err)
	}
	// B knows the same kiosk and token: a copy of A's records.
	svcA.Close()
	if err := os.CopyFS(dirB, os.DirFS(dirA)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dirB, "LOCK"))
	open := func(dir string) (*command.Service, *httptest.Server) {
		svc, err := command.Open(command.Config{DataDir: dir, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		go svc.Run(t.Context())
		return svc, httptest.NewServer(svc.Handler())
	}
	svcA, srvA := open(dirA)
	svcB, srvB := open(dirB)
	defer func() { srvB.Close(); svcB.Close() }()
	// (svcA is closed when A dies below.)
	wsURL := func(s *httptest.Server) string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/kiosk" }
	urlA, urlB := wsURL(srvA), wsURL(srvB)

	cfg, err := kiosk.ParseConfig("kiosk.yaml", fmt.Appendf(nil, "kiosk_id: K-FO\ndata: %s\ncommand:\n  urls: [%s, %s]\n  token: %s\nsite: {stall_id: S-001}\nui: {listen: \"off\"}\n",
		filepath.Join(t.TempDir(), "data"), urlA, urlB, tok))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	k, err := kiosk.Open(cfg, kiosk.Options{Log: slog.New(slog.NewTextHandler(&logs, nil)),
		UplinkBackoffMin: 10 * time.Millisecond, UplinkBackoffMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runKiosk(k)
	defer stop()
	k.SetSession(ui.Session{StallID: "S-001", Sample: wire.Sample{Name: "菠菜"}})
	var ids []string
	record := func() {
		t.Helper()
		mAU := measure.MilliAU
		s := k.Record(device.Reading{DeviceID: "manual", Model: "DY-3000E", Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药",
			Raw: assay.Raw{ControlDeltaA: assay.Ptr(300 * mAU), SampleDeltaA: assay.Ptr(290 * mAU)}})
		if s.Err != "" {
			t.Fatal(s.Err)
		}
		ids = append(ids, s.Result.ResultID)
	}
	acked := func() bool { return k.Outbox().Stats().Pending == 0 }

	record()
	record()
	waitUntil(t, "A to store the first two results", func() bool { return svcA.History().Count() == 2 && acked() })
	if got := k.Link().URL; got != urlA || !k.Link().Online || k.Link().URLs != 2 {
		t.Fatalf("link state %+v, want online on %s of 2", k.Link(), urlA)
	}

	// A dies: the listener gone, every link cut.
	srvA.Close()
	svcA.Close()
	record() // saved while the kiosk moves
	waitUntil(t, "the kiosk to move to B and B to store all three", func() bool {
		return svcB.History().Count() == 3 && acked() && k.Link().Online
	})
	for _, id := range ids {
		if _, err := svcB.History().Result(id); err != nil {
			t.Errorf("result %s not on B: %v", id, err)
		}
	}
	if n := svcB.History().Count(); n != len(ids) {
		t.Errorf("B holds %d results, want %d (each once)", n, len(ids))
	}
	if st := k.Link(); st.URL != urlB {
		t.Errorf("link state says %q, want %s", st.URL, urlB)
	}
	// B dies too, and A comes back on its address with the two results it
	// stored: the kiosk goes round to A, whose welcome says it holds up to
	// seq 2, and sends what A lacks; A stores the third, and each once.
	svcA2, err := command.Open(command.Config{DataDir: dirA, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svcA2.Close()
	go svcA2.Run(t.Context())
	ln, err := net.Listen("tcp", strings.TrimSuffix(strings.TrimPrefix(urlA, "ws://"), "/ws/kiosk"))
	if err != nil {
		t.Fatalf("listen on A's address again: %v", err)
	}
	srvA2 := httptest.NewUnstartedServer(svcA2.Handler())
	srvA2.Listener.Close()
	srvA2.Listener = ln
	srvA2.Start()
	defer srvA2.Close()
	srvB.Close()
	svcB.Close() // closes the kiosk's link (a hijacked connection the server no longer tracks)
	record()
	waitUntil(t, "the kiosk to go round to A and A to hold all four", func() bool {
		return svcA2.History().Count() == 4 && acked() && k.Link().Online && k.Link().URL == urlA
	})
	for _, id := range ids {
		if _, err := svcA2.History().Result(id); err != nil {
			t.Errorf("result %s not on A: %v", id, err)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `msg="command link up" url=`+urlA+" command_holds_up_to=2") {
		t.Errorf("A's second welcome did not say it holds up to seq 2:\n%s", out)
	}
	if !strings.Contains(out, "trying the next command instance") || !strings.Contains(out, "next_url="+urlB) ||
		!strings.Contains(out, `msg="command link up" url=`+urlB) {
		t.Errorf("the log does not say the kiosk moved to %s:\n%s", urlB, out)
	}
}
