// Package demo runs a whole simulated event in one process: the command
// service on an embedded buntdb, a venue near Nantong imported into it,
// and kiosks reading emulated instruments over pseudo-terminals, with
// simulated operators testing samples from the venue's stalls.
//
// Everything between the instrument's UART and the browser is the real
// code: the firmware writes frames to a pty, the kiosk opens the pty's
// slave side with go.bug.st/serial as it would /dev/ttyUSB0, decodes,
// decides and saves to its outbox, and streams over a loopback websocket
// to the command, which stores, re-derives and pushes to the live map.
//
// RunCluster (shian-sim cluster-demo, make cluster-demo) is the same event
// on a cluster: a throwaway PostgreSQL, several command instances on it,
// HAProxy in front with command/deploy/haproxy.cfg, and the kiosks and
// operators against HAProxy (see cluster.go).
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/backup"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/kiosk"
	kmetrics "github.com/shianfood/shian/kiosk/metrics"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
	"github.com/shianfood/shian/simulator/venue"

	_ "github.com/shianfood/shian/kiosk/drivers" // register the instrument drivers
)

// Options configures a demo run.
type Options struct {
	// Addr is where the command service listens (127.0.0.1:8080).
	Addr string
	// Kiosks is how many kiosks to simulate (3).
	Kiosks int
	// Stalls is how many stalls the venue has (48).
	Stalls int
	// Duration ends the run this long after the simulated event starts
	// (the kiosks start once the store is set up: the users' bcrypt hashes
	// alone take seconds on a loaded machine); 0 runs until ctx ends.
	Duration time.Duration
	// DataDir holds the command's data, the kiosks' outboxes and configs,
	// the pty links and demo.json.
	DataDir string
	// Every is the mean time between tests at one kiosk (2 s).
	Every time.Duration
	// Measure is how long the emulated tester takes per test (1 s; the
	// real one takes 3.5 min).
	Measure time.Duration
	// Mix is the share of outcomes the emulated samples produce.
	Mix enzyme.Mix
	// Seed makes the venue and the operators' choices repeatable.
	Seed uint64
	// KioskUI is where the first kiosk's touchscreen listens (ui.listen
	// in its kiosk.yaml); kiosk i takes the port after it plus i. Default
	// 127.0.0.1:0: a free port each.
	KioskUI string
	Log     *slog.Logger
	Out     io.Writer
}

func (o *Options) defaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Kiosks <= 0 {
		o.Kiosks = 3
	}
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	if o.Measure <= 0 {
		o.Measure = time.Second
	}
	if o.Mix == (enzyme.Mix{}) {
		o.Mix = enzyme.Mix{Negative: 0.78, Suspicious: 0.10, Positive: 0.08, Invalid: 0.04}
	}
	if o.Seed == 0 {
		o.Seed = 20261128
	}
	if o.KioskUI == "" {
		o.KioskUI = "127.0.0.1:0"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// KioskInfo is one simulated kiosk in demo.json.
type KioskInfo struct {
	ID     string `json:"id"`
	Token  string `json:"token"`
	Config string `json:"config"`           // path of its kiosk.yaml
	Port   string `json:"port"`             // the pty its enzyme tester is on
	Screen string `json:"screen,omitempty"` // the operator touchscreen's URL
	Event  string `json:"event"`            // the major event it tests for
}

// Info is written to DATA/demo.json.
type Info struct {
	URL      string      `json:"url"`
	LoginURL string      `json:"login_url"`
	User     string      `json:"user"`
	Password string      `json:"password"`
	APIToken string      `json:"api_token"`
	Kiosks   []KioskInfo `json:"kiosks"`
	// Instances are the map URLs of the cluster demo's command instances
	// (URL is then the balancer's); DB its PostgreSQL.
	Instances []string `json:"instances,omitempty"`
	DB        string   `json:"db,omitempty"`
}

// Run runs the demo until ctx ends or Duration passes.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	if o.DataDir == "" {
		return errors.New("demo: a data directory is required (--data)")
	}
	dir, v, err := prepare(o)
	if err != nil {
		return err
	}

	ccfg := demoAssure()
	ccfg.DataDir, ccfg.Log = filepath.Join(dir, "command"), o.Log
	svc, err := command.Open(ccfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	// shian-command backup --data DIR/command takes a copy while the demo runs.
	ctl, err := backup.ServeControl(ccfg.DataDir, svc.Store(), svc.History(), o.Log)
	if err != nil {
		return err
	}
	defer ctl.Close()
	info, err := setup(svc, v, o)
	if err != nil {
		return err
	}
	users, err := makeUsers(svc, v)
	if err != nil {
		return fmt.Errorf("demo: users: %w", err)
	}

	srvCtx, stopSrv := context.WithCancel(context.Background())
	defer stopSrv()
	ready := make(chan string, 1)
	srvErr := make(chan error, 1)
	go func() { srvErr <- svc.ListenAndServe(srvCtx, o.Addr, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-srvErr:
		return err
	}
	info.URL = "http://" + addr + "/"
	info.LoginURL = "http://" + addr + info.LoginURL
	header := func() {
		fmt.Fprintf(o.Out, "食安 Shian demo — %s（%s）\n", v.Event, v.Name)
		fmt.Fprintf(o.Out, "  map / 地图:        %s\n", info.URL)
		fmt.Fprintf(o.Out, "  open logged in:    %s\n", info.LoginURL)
		fmt.Fprintf(o.Out, "  user / 用户:       %s   password / 密码: %s\n", info.User, info.Password)
		fmt.Fprintf(o.Out, "  command metrics:   %smetrics  (readiness: %sreadyz)\n", info.URL, info.URL)
	}
	if err := runEvent(ctx, dir, v, &info, users, addr, o, header, srvErr); err != nil {
		return err
	}
	stopSrv()
	<-srvErr
	n := svc.History().Count()
	fmt.Fprintf(o.Out, "stopped: %d results stored in %s\n", n, filepath.Join(dir, "command"))
	return nil
}

// runEvent runs the event against the command service at addr (one
// instance, or a cluster's balancer): the kiosks with their operators and
// the assurance protocol through the REST API, until ctx ends, Duration
// passes or failed yields an error (a server that stopped). It writes
// demo.json and prints header, then the kiosks' screens.
func runEvent(ctx context.Context, dir string, v *venue.Venue, info *Info, users demoUsers, addr string, o Options, header func(), failed <-chan error) error {
	uiHost, uiPort, _ := net.SplitHostPort(o.KioskUI) // checked by the caller
	uiBase, _ := strconv.Atoi(uiPort)
	// The event's clock starts now, not before the setup: under -race on
	// a busy machine one bcrypt hash takes ~2 s, and the setup hashes ten
	// passwords; a timer started before it once left a 25 s test run with
	// three results and the event never past early intervention.
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}

	// Kiosks, each with an enzyme tester on a pseudo-terminal, and some
	// with further instrument families (see extrasFor).
	var wg sync.WaitGroup
	var sks []*simKiosk
	kctx, stopKiosks := context.WithCancel(ctx)
	defer func() { stopKiosks(); wg.Wait() }()
	for i := 0; i < o.Kiosks; i++ {
		ki := &info.Kiosks[i]
		zone := v.Zones[i%len(v.Zones)]
		stalls := stallsIn(v, zone.ID)
		if len(stalls) == 0 {
			stalls = v.Stalls
		}
		ui := net.JoinHostPort(uiHost, "0")
		if uiBase != 0 {
			ui = net.JoinHostPort(uiHost, strconv.Itoa(uiBase+i))
		}
		sk, err := startKiosk(kctx, dir, addr, ui, ki, o, i)
		if err != nil {
			return err
		}
		sks = append(sks, sk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			operate(kctx, sk, stalls, o, uint64(i))
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sk.k.Run(kctx)
			sk.k.Close()
			sk.close()
		}()
	}
	// The kiosks' touchscreens listen on ports of their own.
	for i, sk := range sks {
		for t := 0; t < 50 && sk.k.UIAddr() == ""; t++ {
			time.Sleep(20 * time.Millisecond)
		}
		if a := sk.k.UIAddr(); a != "" {
			info.Kiosks[i].Screen = "http://" + a + "/"
		}
	}
	if err := writeInfo(dir, *info); err != nil {
		return err
	}

	header()
	fmt.Fprintf(o.Out, "  kiosks / 快检终端: %d, stalls / 摊位: %d, zones / 摊贩集中区: %d\n", o.Kiosks, len(v.Stalls), len(v.Zones))
	for _, ki := range info.Kiosks {
		fmt.Fprintf(o.Out, "  kiosk %s screen / 快检终端屏幕: %s (metrics: %smetrics)\n", ki.ID, ki.Screen, ki.Screen)
	}
	fmt.Fprintf(o.Out, "  details:           %s\n", filepath.Join(dir, "demo.json"))
	fmt.Fprintf(o.Out, "  event / 重大活动:   %s (GET /api/v1/events, /incidents, /teams, /banquets, /kpis, /export/results.xlsx)\n", eventID(v))
	fmt.Fprintln(o.Out, "Ctrl-C stops everything.")
	// The assurance protocol, driven through the REST API by simulated
	// teams and the command centre.
	ar := &assuranceRun{base: "http://" + addr, v: v, users: users, o: o, log: o.Log, out: o.Out, start: time.Now(),
		event: eventID(v), seen: map[string]time.Time{}}
	wg.Add(1)
	go func() { defer wg.Done(); ar.run(kctx) }()

	select {
	case <-ctx.Done():
	case err := <-failed:
		return err
	}
	stopKiosks()
	wg.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	ar.summary(sctx)
	scancel()
	return nil
}

// prepare checks the options and generates the venue.
func prepare(o Options) (dir string, v *venue.Venue, err error) {
	_, uiPort, err := net.SplitHostPort(o.KioskUI)
	if err != nil {
		return "", nil, fmt.Errorf("demo: --kiosk-ui %q: want host:port, e.g. 127.0.0.1:8090", o.KioskUI)
	}
	if _, err := strconv.Atoi(uiPort); err != nil {
		return "", nil, fmt.Errorf("demo: --kiosk-ui %q: the port is not a number", o.KioskUI)
	}
	if dir, err = filepath.Abs(o.DataDir); err != nil {
		return "", nil, err
	}
	loc := time.FixedZone("CST", 8*3600)
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	v, err = venue.Generate(venue.Config{Seed: o.Seed, Stalls: o.Stalls, Start: today, Days: 3})
	if err != nil {
		return "", nil, fmt.Errorf("demo: generate venue: %w", err)
	}
	return dir, v, nil
}

// setup imports the venue, makes sure the admin exists with a fresh
// password, and registers the kiosks.
func setup(svc *command.Service, v *venue.Venue, o Options) (Info, error) {
	st := svc.Store()
	if _, err := api.ImportZones(st, v.ZonesGeoJSON()); err != nil {
		return Info{}, fmt.Errorf("demo: import zones: %w", err)
	}
	sites := v.SitesGeoJSON()
	var points geo.FeatureCollection
	points.Features = append(points.Features, v.StallsGeoJSON().Features...)
	for _, f := range sites.Features {
		if f.Kind == geo.KindKitchen || f.Kind == geo.KindBanquet {
			points.Features = append(points.Features, f)
		}
	}
	// Stalls and kitchens belong to the event (banquets do not).
	for i, f := range points.Features {
		if f.Kind != geo.KindBanquet {
			points.Features[i].Properties["event_id"] = eventID(v)
		}
	}
	if _, err := api.ImportSites(st, points); err != nil {
		return Info{}, fmt.Errorf("demo: import stalls: %w", err)
	}
	info := Info{User: "admin"}
	pw, err := svc.Bootstrap(info.User)
	if err != nil {
		return info, err
	}
	if pw == "" {
		tok, _ := store.NewToken("")
		pw = tok[:16]
		if err := svc.Auth().SetPassword(info.User, pw); err != nil {
			return info, fmt.Errorf("demo: reset the admin password: %w", err)
		}
	}
	info.Password = pw
	if info.APIToken, err = svc.Auth().NewAPIToken(info.User, "demo"); err != nil {
		return info, err
	}
	link, err := svc.Auth().NewLoginLink(info.User, 24*time.Hour)
	if err != nil {
		return info, err
	}
	info.LoginURL = "/login?token=" + link
	for i := 0; i < o.Kiosks; i++ {
		zone := v.Zones[i%len(v.Zones)]
		stalls := stallsIn(v, zone.ID)
		// Bound to the event: it may report only for the event's sites.
		k := store.Kiosk{ID: fmt.Sprintf("K-NT-%02d", i+1), Name: fmt.Sprintf("%s快检点 %d", zone.Name, i+1), SiteID: zone.ID, EventID: eventID(v)}
		if len(stalls) > 0 {
			p := stalls[0].Point
			k.Loc = []float64{p[0], p[1]}
		}
		tok, err := st.RegisterKiosk(k)
		if err != nil {
			return info, err
		}
		info.Kiosks = append(info.Kiosks, KioskInfo{ID: k.ID, Token: tok, Event: eventID(v)})
	}
	return info, nil
}

func stallsIn(v *venue.Venue, zoneID string) []venue.Stall {
	var out []venue.Stall
	for _, s := range v.Stalls {
		if s.ZoneID == zoneID {
			out = append(out, s)
		}
	}
	return out
}

// simKiosk is one simulated kiosk: the real kiosk, its instruments on
// pseudo-terminals, and what its operator needs to drive them.
type simKiosk struct {
	k      *kiosk.Kiosk
	fw     *enzyme.Firmware
	sim    *enzyme.SimPhotometer
	extras []extra
	ports  []*serialsim.Port
	saved  chan struct{} // a value after every reading the kiosk recorded
}

// extra is a further instrument family on a kiosk, beside the enzyme tester.
type extra struct {
	in     *instrument.Instance
	sample []string // what its samples are called
	// cats are the stall categories its samples fit (nil: every stall,
	// e.g. ATP swabs of surfaces).
	cats []string
}

// extrasFor gives kiosk i its further instruments: kiosk 2 reads two
// colloidal-gold card readers on one RS-485 bus (Modbus RTU) and an
// LY-GR20 — a maker's reader no driver knows, read from its profile — and
// kiosk 3 an ATP luminometer and a probe thermometer, and so on in turn.
func extrasFor(i int) []string {
	switch i % 3 {
	case 1:
		return []string{"card-reader", "lanyu-gr20"}
	case 2:
		return []string{"atp", "thermometer"}
	}
	return nil
}

// calibrations are the calibration records of kiosk i's instruments, as
// the readiness check wants them: calibrated 20 days before the event,
// valid for a year.
func calibrations(i int, first assurance.Date) []assurance.InstrumentStatus {
	cal := func(id, model string) assurance.InstrumentStatus {
		return assurance.InstrumentStatus{ID: id, Model: model, CalibratedOn: first.AddDays(-20), CalibrationValidUntil: first.AddDays(345)}
	}
	out := []assurance.InstrumentStatus{cal("enzyme-1", "DY-3000E")}
	for _, m := range extrasFor(i) {
		switch m {
		case "card-reader":
			out = append(out, cal("gold-1", "SHIAN-GC1"), cal("gold-2", "SHIAN-GC1"))
		case "lanyu-gr20":
			out = append(out, cal("gold-ly", "LY-GR20"))
		case "atp":
			out = append(out, cal("atp-1", "SHIAN-ATP1"))
		case "thermometer":
			out = append(out, cal("thermometer-1", "SHIAN-TP1"))
		}
	}
	return out
}

// startKiosk creates the instruments' ptys, writes the kiosk's config and
// opens the kiosk on it.
func startKiosk(ctx context.Context, dir, addr, ui string, ki *KioskInfo, o Options, i int) (*simKiosk, error) {
	kdir := filepath.Join(dir, "kiosks", ki.ID)
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return nil, err
	}
	sk := &simKiosk{saved: make(chan struct{}, 16)}
	fail := func(err error) (*simKiosk, error) {
		for _, p := range sk.ports {
			p.Close()
		}
		return nil, err
	}
	openPort := func(name string) (*serialsim.Port, string, error) {
		link := filepath.Join(kdir, name)
		port, err := serialsim.Open(serialsim.Options{Link: link})
		if err != nil {
			return nil, "", fmt.Errorf("demo: pseudo-terminal %s for %s: %w", name, ki.ID, err)
		}
		sk.ports = append(sk.ports, port)
		return port, link, nil
	}
	port, link, err := openPort("ttyENZ0")
	if err != nil {
		return fail(err)
	}
	ki.Port = port.Path()
	sk.sim = enzyme.NewSim(enzyme.SimConfig{Mix: o.Mix, Seed: o.Seed + uint64(i)})
	sk.fw = enzyme.New(enzyme.Config{Model: "DY-3000E", Serial: fmt.Sprintf("DY3E-%06d", 220100+i),
		Interval: o.Measure, Lead: o.Measure / 6}, sk.sim, enzyme.SystemClock{})
	go port.Serve(ctx, sk.fw)
	devices := fmt.Sprintf(`  - id: enzyme-1
    protocol: dy-enzyme
    model: DY-3000E
    port: %s
    baud: 9600
`, link)

	profiles := "" // the kiosk's profiles directory, when it has one
	for n, model := range extrasFor(i) {
		var opts instrument.Options
		opts.Seed = o.Seed + uint64(100*i+n)
		opts.Measure = o.Measure
		if model == "card-reader" {
			opts.Addrs = []byte{1, 2}
		}
		var in *instrument.Instance
		var err error
		if model == "lanyu-gr20" {
			// The worked example of docs/profiles.md, emulated from the
			// profile alone; the kiosk reads it from the same file in its
			// profiles directory.
			raw, p, perr := profile.Example("lanyu-gr20.yaml")
			if perr != nil {
				return fail(perr)
			}
			profiles = filepath.Join(kdir, "profiles")
			if err := os.MkdirAll(profiles, 0o755); err != nil {
				return fail(err)
			}
			if err := os.WriteFile(filepath.Join(profiles, "lanyu-gr20.yaml"), raw, 0o644); err != nil {
				return fail(err)
			}
			opts.Serial = fmt.Sprintf("LY20%04d", 8800+i)
			in, err = instrument.FromProfile(p, opts)
		} else {
			in, err = instrument.New(model, opts)
		}
		if err != nil {
			return fail(err)
		}
		p, l, err := openPort(fmt.Sprintf("tty%s0", model))
		if err != nil {
			return fail(err)
		}
		go p.Serve(ctx, in.Device)
		switch model {
		case "lanyu-gr20":
			devices += fmt.Sprintf(`  - id: gold-ly         # a reader no driver knows, read from its profile (docs/profiles.md)
    profile: LANYU-GR20
    port: %s
    options: {poll_every: 300ms}
`, l)
			sk.extras = append(sk.extras, extra{in: in, sample: []string{"猪肉", "牛肉", "鸡肉", "虾"}, cats: meatStalls})
		case "card-reader":
			devices += fmt.Sprintf(`  - id: gold-1          # two card readers on one RS-485 bus
    protocol: modbus-gold
    model: %[1]s
    port: %[2]s
    baud: 9600
    addr: 1
    items: [克伦特罗]
    options: {mode: ratio, poll_every: 300ms}
  - id: gold-2
    protocol: modbus-gold
    model: %[1]s
    port: %[2]s
    baud: 9600
    addr: 2
    items: [莱克多巴胺]
    options: {mode: line, poll_every: 300ms}
`, in.Model.KioskModel, l)
			sk.extras = append(sk.extras, extra{in: in, sample: []string{"猪肉", "猪肝", "牛肉", "羊肉"}, cats: meatStalls})
		default:
			devices += fmt.Sprintf(`  - id: %s-1
    protocol: %s
    model: %s
    port: %s
    baud: 9600
`, model, in.Model.Protocol, in.Model.KioskModel, l)
			names, cats := []string{"砧板", "刀具", "餐盘", "操作台"}, []string(nil)
			if model == "thermometer" {
				names, cats = []string{"红烧肉", "炸鸡块", "烤串", "蒸鱼"}, []string{"烧烤", "卤味", "小吃", "水产", "面食"}
			}
			sk.extras = append(sk.extras, extra{in: in, sample: names, cats: cats})
		}
	}

	cfgPath := filepath.Join(kdir, "kiosk.yaml")
	cfgText := fmt.Sprintf(`# Written by shian-sim demo. A real kiosk's config looks the same,
# with port: /dev/ttyUSB0 (or the adapter's /dev/serial/by-id name) instead of the pseudo-terminals.
kiosk_id: %s
name: 快检终端 %d
data: %s
command:
  url: ws://%s/ws/kiosk
  token: %s
operator: op-%02d
site:
  event_id: %s
ui:
  listen: %s             # the touchscreen; /metrics, /healthz and /readyz too
%sdevices:
%s`, ki.ID, i+1, filepath.Join(kdir, "data"), addr, ki.Token, i+1, ki.Event, ui, profilesLine(profiles), devices)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		return fail(err)
	}
	ki.Config = cfgPath
	cfg, err := kiosk.LoadConfig(cfgPath)
	if err != nil {
		return fail(err)
	}
	sk.k, err = kiosk.Open(cfg, kiosk.Options{Serial: &serialport.Hub{}, Log: o.Log.With("kiosk", ki.ID),
		UplinkBackoffMin: 200 * time.Millisecond, UplinkBackoffMax: 5 * time.Second,
		Monitor: func(k *kiosk.Kiosk) http.Handler { return kmetrics.New(k) },
		OnSaved: func(kiosk.Saved) {
			select {
			case sk.saved <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		return fail(err)
	}
	return sk, nil
}

// profilesLine is kiosk.yaml's profiles key for dir ("" for none).
func profilesLine(dir string) string {
	if dir == "" {
		return ""
	}
	return "profiles: " + dir + "      # instrument profiles beside the built-in ones\n"
}

func (sk *simKiosk) close() {
	for _, p := range sk.ports {
		p.Close()
	}
}

// sampleTable is what the simulated operators choose from: the stall's
// category's samples, the same table the touchscreen offers.
var sampleTable = stallsamples.Default()

// meatStalls are the stall categories whose meat a veterinary-drug card
// (clenbuterol, ractopamine) is used on.
var meatStalls = []string{"烧烤", "卤味", "面食", "小吃", "水产"}

// enzymeSamples are a stall's samples the enzyme tester screens for
// pesticides: its vegetables, fruit and tea.
func enzymeSamples(st venue.Stall) []stallsamples.Suggestion {
	var out []stallsamples.Suggestion
	for _, sg := range sampleTable.For(st.Category) {
		if sg.Category == stallsamples.Vegetable || sg.Category == stallsamples.Fruit || sg.Name == "茶叶" {
			out = append(out, sg)
		}
	}
	return out
}

// fitting picks a stall for which ok holds (a few tries, then any stall:
// a venue always has some that fit).
func fitting(rnd *rand.Rand, stalls []venue.Stall, ok func(venue.Stall) bool) (venue.Stall, bool) {
	for range 16 {
		if st := stalls[rnd.IntN(len(stalls))]; ok(st) {
			return st, true
		}
	}
	return venue.Stall{}, false
}

// operate is one simulated operator at one kiosk: pick a stall, a sample
// and an instrument, set them on the kiosk (as the touchscreen does), start
// the test, wait for the result, repeat. One test at a time, so a reading
// is always filed under the sample the operator chose.
func operate(ctx context.Context, sk *simKiosk, stalls []venue.Stall, o Options, n uint64) {
	rnd := rand.New(rand.NewPCG(o.Seed, n))
	verdicts := []assay.Verdict{assay.Negative, assay.Suspicious, assay.Positive, assay.Invalid}
	weights := []float64{o.Mix.Negative, o.Mix.Suspicious, o.Mix.Positive, o.Mix.Invalid}
	for {
		wait := time.Duration(float64(o.Every) * (0.5 + rnd.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		v := pick(rnd, verdicts, weights)
		// Drain readings that arrived while idle (a repeat the instrument
		// sent again), so the wait below is for this test's reading.
		for len(sk.saved) > 0 {
			<-sk.saved
		}
		// Most tests are pesticide screens; one in three uses another
		// instrument on kiosks that have one. The stall is one whose
		// samples fit the instrument, and the sample one of the stall's.
		var st venue.Stall
		if len(sk.extras) > 0 && rnd.IntN(3) == 0 {
			ex := sk.extras[rnd.IntN(len(sk.extras))]
			var ok bool
			if st, ok = fitting(rnd, stalls, func(s venue.Stall) bool { return ex.cats == nil || slices.Contains(ex.cats, s.Category) }); !ok {
				continue
			}
			sk.k.SetSession(ui.Session{StallID: st.ID, Sample: wire.Sample{Name: ex.sample[rnd.IntN(len(ex.sample))]}})
			if err := ex.in.Test(ctx, v); err != nil {
				o.Log.Debug("instrument busy", "model", ex.in.Model.Name, "err", err)
				sk.k.SetSession(ui.Session{})
				continue
			}
		} else {
			if sk.fw.Measuring() {
				continue
			}
			var ok bool
			if st, ok = fitting(rnd, stalls, func(s venue.Stall) bool { return len(enzymeSamples(s)) > 0 }); !ok {
				continue
			}
			offered := enzymeSamples(st)
			sg := offered[rnd.IntN(len(offered))]
			name := sg.Name
			sk.k.SetSession(ui.Session{StallID: st.ID, Sample: wire.Sample{Code: st.ID, Name: name, Category: sg.Category}})
			sk.sim.NextVerdict(v)
			if _, err := sk.fw.Start(1, st.ID, name); err != nil {
				o.Log.Debug("tester busy", "err", err)
				sk.k.SetSession(ui.Session{})
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sk.saved:
		case <-time.After(o.Measure + 10*time.Second):
			o.Log.Warn("no reading from the instrument; the operator moves on", "stall", st.ID)
			sk.k.SetSession(ui.Session{})
		}
	}
}

func pick[T any](rnd *rand.Rand, items []T, weights []float64) T {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := rnd.Float64() * total
	for i, w := range weights {
		if x < w {
			return items[i]
		}
		x -= w
	}
	return items[len(items)-1]
}

func writeInfo(dir string, info Info) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	return os.WriteFile(filepath.Join(dir, "demo.json"), append(b, '\n'), 0o600)
}
