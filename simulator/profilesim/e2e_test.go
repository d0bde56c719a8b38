package profilesim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/rulebook"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/profiled"
	"github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/shianfood/shian/simulator/profilesim"
	"github.com/shianfood/shian/simulator/serialsim"
)

var quiet = slog.New(slog.DiscardHandler)

// loadExample loads the worked example of docs/profiles.md: the LY-GR20,
// a reader no code of the project knows.
func loadExample(t *testing.T) (*profile.Profile, []byte) {
	t.Helper()
	b, p, err := profile.Example("lanyu-gr20.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestNeverSeenReaderOnTheMap: the LY-GR20 — float32 intensities in low
// word order on a 0–1000 scale, a status word, a date in six registers,
// the cabinet in input registers, acknowledged by writing 1 to CLEAR — is
// emulated from its profile alone on a pseudo-terminal. A real kiosk reads
// it from the profile file in its profiles directory (no driver knows it),
// a real command service stores what it reads, and each stall on the map
// shows the verdict the rule book gives for the reader's model: the
// book has a table of its own for the LY-GR20, so the model decides.
func TestNeverSeenReaderOnTheMap(t *testing.T) {
	p, raw := loadExample(t)
	dir := t.TempDir()

	// The command, with a rule book that has a table for this model.
	svc, err := command.Open(command.Config{DataDir: filepath.Join(dir, "command"), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cur := svc.Books().Current()
	rules := cur.Rules
	rules.Gold.Models = map[string]assay.GoldTable{"LY-GR20": {Default: assay.GoldThresholds{CThr: 8000, TA: 12000, TB: 20000, CTA: 600000, CTB: 850000}}}
	if _, err := svc.Books().Issue(rulebook.Edit{Base: cur.Version, Rules: rules, By: "admin", Note: "LY-GR20 的判定表"}); err != nil {
		t.Fatal(err)
	}
	token, err := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-LY-01", Name: "新读卡仪试点"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ready := make(chan string, 1)
	wg.Add(1)
	go func() { defer wg.Done(); svc.ListenAndServe(ctx, "127.0.0.1:0", ready) }()
	addr := <-ready

	// The reader, emulated from the profile, on a pseudo-terminal.
	cabinet := func() assay.Raw {
		return assay.Raw{AirTemp: assay.Ptr(23400 * measure.MilliCelsius), Humidity: assay.Ptr(measure.Percent(612000))}
	}
	dev, err := profilesim.New(p, profilesim.Options{Ident: profile.Ident{Serial: "LY208841"}, Cabinet: cabinet})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "ttyLY0")
	port, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); port.Serve(ctx, dev) }()

	// The kiosk: the profile is a file in its profiles directory.
	profiles := filepath.Join(dir, "profiles")
	os.MkdirAll(profiles, 0o755)
	if err := os.WriteFile(filepath.Join(profiles, "lanyu-gr20.yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "kiosk.yaml")
	os.WriteFile(cfgPath, fmt.Appendf(nil, `kiosk_id: K-LY-01
data: %s
profiles: %s
command: {url: "ws://%s/ws/kiosk", token: %s}
site: {stall_id: S-001, lon: 120.94, lat: 31.98}
ui: {listen: "off"}
devices:
  - id: gold-ly
    profile: LANYU-GR20
    port: %s
    options: {poll_every: 20ms}
`, filepath.Join(dir, "kiosk"), profiles, addr, token, link), 0o600)
	cfg, err := kiosk.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kiosk.Open(cfg, kiosk.Options{Serial: drivers.Serial(), Log: quiet, UplinkBackoffMin: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); k.Run(ctx) }()
	defer func() {
		cancel()
		wg.Wait()
		k.Close()
		port.Close()
		svc.Close()
	}()
	waitFor(t, "the kiosk on version 2 and the reader ready", func() bool {
		st := k.Instruments()
		return k.Book().Version == 2 && len(st) == 1 && st[0].State == device.StateReady
	})

	// Four cards, each for its own stall, on the reader's 0–1000 scale
	// (the profile's scale 0.1 makes them 0–100), chosen so that the
	// LY-GR20 table (c_thr 8, ct_a 0.60, ct_b 0.85) and the default one
	// (c_thr 10, ct_a 0.8, ct_b 1.0) disagree on two of them.
	cards := []struct {
		stall, item string
		c, t        float64 // reader units, 0–1000
		want        assay.Verdict
	}{
		{"S-101", "克伦特罗", 600, 330, assay.Positive},    // T/C 0.55 ≤ 0.60 (default table: positive too)
		{"S-102", "莱克多巴胺", 500, 350, assay.Suspicious}, // T/C 0.70: LY table suspicious, default positive (≤ 0.8)
		{"S-103", "孔雀石绿", 400, 360, assay.Negative},    // T/C 0.90 ≥ 0.85: LY negative, default suspicious
		{"S-104", "沙丁胺醇", 70, 60, assay.Invalid},       // C 7 ≤ 8: no control line
	}
	for _, c := range cards {
		k.SetSession(ui.Session{StallID: c.stall, Sample: wire.Sample{Name: "猪肉"}})
		r := profilesim.Result{Item: c.item, Raw: assay.Raw{C: assay.Ptr(measure.Intensity(c.c * 100)), T: assay.Ptr(measure.Intensity(c.t * 100))}}
		if err := dev.Measure(r); err != nil {
			t.Fatal(err)
		}
		n := len(mustRecent(t, k))
		waitFor(t, "the reading "+c.stall, func() bool { return len(mustRecent(t, k)) == n+1 })
	}
	waitFor(t, "uploaded and acknowledged", func() bool { return k.Outbox().Stats().Pending == 0 && dev.Waiting() == 0 })

	// The map: each stall's latest verdict, as a browser's snapshot has it.
	for _, c := range cards {
		st, ok := svc.History().StallState(c.stall)
		if !ok || st.Verdict != c.want {
			t.Errorf("%s on the map: %+v, want %s", c.stall, st, c.want)
		}
	}
	rs, _ := svc.History().Results(history.Filter{Limit: 10})
	for _, r := range rs {
		if r.Model != "LY-GR20" || r.Serial != "LY208841" || r.RulesVersion != 2 || len(r.Flags) != 0 || r.Derived != nil {
			t.Errorf("result %s: model %q serial %q book %d flags %v derived %v", r.StallID, r.Model, r.Serial, r.RulesVersion, r.Flags, r.Derived)
		}
		if r.Raw.AirTemp == nil || *r.Raw.AirTemp != 23400 || r.Raw.Humidity == nil || *r.Raw.Humidity != 612000 || r.DeviceTime == nil {
			t.Errorf("result %s: cabinet and clock %+v %v", r.StallID, r.Raw, r.DeviceTime)
		}
	}
	if got := rs[len(rs)-1]; got.Item != "克伦特罗" || got.Analyte != "clenbuterol" || *got.Raw.C != 60000 || *got.Raw.T != 33000 {
		t.Errorf("first result %+v", got)
	}
	// And the same through the API a browser uses.
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/results?limit=10", nil)
	if err := svc.Auth().CreateUser("viewer", "", assurance.RoleViewer, "correct horse"); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Auth().NewAPIToken("viewer", "test")
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var api []wire.Result
	json.NewDecoder(resp.Body).Decode(&api)
	if len(api) != len(cards) {
		t.Errorf("GET /api/v1/results: %d results", len(api))
	}
	t.Logf("LY-GR20 from its profile alone: %d results on the map, e.g. %s %s T/C %.3f", len(api), api[0].StallID, api[0].EffectiveVerdict(), api[0].Value)
}

// readOnce measures one card on dev and reads it once with the probe, as
// `shian-kiosk probe` does.
func readOnce(t *testing.T, p *profile.Profile, addr string, dev *profilesim.Device) *profiled.Report {
	t.Helper()
	if err := dev.Measure(profilesim.Result{Item: "ractopamine", Raw: assay.Raw{C: assay.Ptr(measure.Intensity(52000)), T: assay.Ptr(measure.Intensity(41000))}}); err != nil {
		t.Fatal(err)
	}
	lib := &profile.Library{}
	lib.Add(p)
	rep, err := profiled.Probe(context.Background(), device.Spec{ID: "probe", Profile: p.Name, Port: addr}, device.Env{Profiles: lib, Log: quiet}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Registers) == 0 || rep.Ident.Serial == "" {
		t.Errorf("probe report %+v", rep)
	}
	return rep
}

func mustRecent(t *testing.T, k *kiosk.Kiosk) []string {
	recs, err := k.Outbox().Recent(100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.Result.ResultID)
	}
	return ids
}

// TestModbusTCP: the same reader over Modbus TCP (its profile with
// transport kind modbus-tcp), read by the profile driver.
func TestModbusTCP(t *testing.T) {
	_, raw := loadExample(t)
	text := strings.Replace(string(raw), "kind: modbus-rtu", "kind: modbus-tcp", 1)
	text = strings.Replace(text, "  baud: 19200\n  parity: E            # 19200 8E1, as printed on the reader's back\n", "", 1)
	p, err := profile.Parse("lanyu-gr20-tcp.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := profilesim.New(p, profilesim.Options{Ident: profile.Ident{Serial: "LY20TCP1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); dev.ServeTCP(ctx, ln) }()
	defer func() { cancel(); <-done }()
	rep := readOnce(t, p, ln.Addr().String(), dev)
	got := rep.Result
	if rep.Ident.Serial != "LY20TCP1" || !rep.Ready || dev.Waiting() != 1 || *got.Raw.C != 52000 || *got.Raw.T != 41000 || got.Item != "莱克多巴胺" {
		t.Errorf("read over TCP (the probe acknowledges nothing): %+v, %d waiting", rep, dev.Waiting())
	}
}
