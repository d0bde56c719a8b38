// Package command is the command service: it takes results from kiosks,
// stores them, runs the assurance protocol on them, and keeps the command
// centre's live map up to date.
//
// # Parts
//
//   - history: the result history (SQLite in the data directory, or
//     PostgreSQL): every result, queried by index.
//   - store: the buntdb file of operational records (kiosks, users, sites,
//     zones, alarms, the assurance records).
//   - ingest: the /ws/kiosk endpoint and its group committer.
//   - live: the /ws/live hub pushing snapshots and deltas to browsers.
//   - auth: users, sessions, API tokens, one-time login links.
//   - api: the REST routes; web: the embedded map page.
//
// [Open] wires them together; [Service.Handler] is the HTTP handler;
// [Service.Run] runs the background loops until its context ends;
// [Service.ListenAndServe] does both on an address. [Service.Close] stops
// both and waits for them before it closes the store.
package command

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/cluster"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/ingest"
	"github.com/shianfood/shian/command/live"
	"github.com/shianfood/shian/command/metrics"
	"github.com/shianfood/shian/command/public"
	"github.com/shianfood/shian/command/rulebook"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/command/web"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Config configures the service.
type Config struct {
	// DataDir holds command.db (the operational records), its lock, the
	// evidence files and, by default, history.db.
	DataDir string
	// DB names the result history: "sqlite:PATH" or "postgres://…"
	// (default sqlite:DataDir/history.db). A postgres:// DB is cluster
	// mode: the operational records (command/store) are in the same
	// database, not in DataDir/command.db, so that several services can
	// share them.
	DB string
	// Evidence is the directory of evidence files (default
	// DataDir/evidence); in cluster mode one that every instance shares.
	Evidence string
	// Rules are the rules of the first rule book, issued at the first
	// start (later versions are edited through the API); zero means
	// assay.DefaultRules().
	Rules *assay.Rules
	Now   func() time.Time
	Log   *slog.Logger
	// Web serves / (default: the embedded map page).
	Web http.Handler
	// RecentResults is how many results a snapshot carries (default 200).
	RecentResults int
	// Assure tunes the assurance engine (protocol configuration,
	// deadline loop, cluster parameters); zero values take its defaults.
	Assure engine.Config
	// Public says what the diners' page publishes (delays, switches).
	Public public.Options
	// Getenv reads the map page's tile and label settings (SHIAN_TILE_*,
	// SHIAN_LABEL_BASE_URL; see command/api/ui_support.go); default
	// os.Getenv. command.yaml's tiles: section is passed through it.
	Getenv func(string) string
	// HTTP is the web server's timeouts.
	HTTP HTTPConfig
	// TLSCert and TLSKey are PEM files: ListenAndServe serves HTTPS, and
	// cookies are Secure and responses carry HSTS.
	TLSCert, TLSKey string
	// TrustedProxies are the reverse proxies (addresses or CIDR
	// prefixes) whose X-Forwarded-For and X-Forwarded-Proto are believed:
	// behind a TLS-terminating proxy, a request it forwards with
	// X-Forwarded-Proto: https gets Secure cookies and HSTS (see
	// command/api/edge.go).
	TrustedProxies []string
	// LiveMaxPerUser and LiveMaxTotal cap the /ws/live connections of one
	// user and of the service (defaults 20 and 2000); one over a cap is
	// closed with 4004.
	LiveMaxPerUser, LiveMaxTotal int
	// Instance names this service among a cluster's (the origin of its
	// notices, in logs); default "shian-command". See fanout.go.
	Instance string
}

// HTTPConfig holds the web server's timeouts; zero values take the
// defaults. A websocket is not bound by them (it keeps its own deadlines),
// and an export or an evidence upload is cut only when it stops for
// StreamIdle, not when it takes longer than WriteTimeout or ReadTimeout.
type HTTPConfig struct {
	ReadHeaderTimeout time.Duration // default 10 s
	ReadTimeout       time.Duration // the whole request, body included: default 1 min
	WriteTimeout      time.Duration // the response: default 1 min
	IdleTimeout       time.Duration // a keep-alive connection between requests: default 2 min
	StreamIdle        time.Duration // a long transfer that stops: default 1 min
}

func (h *HTTPConfig) defaults() {
	h.ReadHeaderTimeout = cmp.Or(h.ReadHeaderTimeout, 10*time.Second)
	h.ReadTimeout = cmp.Or(h.ReadTimeout, time.Minute)
	h.WriteTimeout = cmp.Or(h.WriteTimeout, time.Minute)
	h.IdleTimeout = cmp.Or(h.IdleTimeout, 2*time.Minute)
	h.StreamIdle = cmp.Or(h.StreamIdle, time.Minute)
}

// Service is a running command service.
type Service struct {
	cfg     Config
	store   *store.Store
	history history.History
	books   *rulebook.Keeper
	auth    *auth.Authenticator
	hub     *live.Hub
	ingest  *ingest.Server
	api     *api.Server
	engine  *engine.Engine
	bus     *cluster.Bus    // cluster mode only (fanout.go)
	leader  *cluster.Leader // cluster mode only: the engine runs while it leads
	shared  *cluster.Shared // cluster mode only: the login throttle's counts (sharedstate.go)
	records *recordsQueue   // cluster mode only: other instances' changed records (clusterstate.go)
	metrics *metrics.Metrics
	handler http.Handler

	// early holds the damaged rows found while the history opened, before
	// the ingest server existed to ask their kiosks for them again.
	earlyMu sync.Mutex
	early   []history.Damage

	// The service owns the lifetime of its background loops: Run and
	// ListenAndServe register in runs, and Close cancels life and waits
	// for them before it closes the store under them.
	life      context.Context
	stop      context.CancelFunc
	runMu     sync.Mutex
	closed    bool
	runs      sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Ready reports whether the service can do its work: the store answers
// a read and is not in the failed state, and the assurance engine's loop
// runs — in cluster mode, where the engine runs on the leader only, that
// it hears the other instances' notices instead. It is GET /readyz;
// GET /healthz only says the process serves.
func (s *Service) Ready() error {
	if err := s.store.Check(); err != nil {
		return err
	}
	if s.bus != nil {
		if !s.bus.Listening() {
			return errors.New("not listening for the other instances' notices (PostgreSQL LISTEN)")
		}
		return nil
	}
	if !s.engine.Running() {
		return errors.New("the assurance engine is not running")
	}
	return nil
}

// readyz is GET /readyz. In cluster mode it also says whether this
// instance leads (holds cluster.EngineLock, so its engine may run):
// "leader": true or false, read before the readiness check, which asks
// the database.
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"status": "ready"}
	if s.leader != nil {
		out["leader"] = s.leader.Leading()
	}
	code := http.StatusOK
	if err := s.Ready(); err != nil {
		out["status"], out["reason"], code = "not ready", err.Error(), http.StatusServiceUnavailable
	}
	api.WriteJSON(w, code, out)
}

// Metrics returns the service's Prometheus registry and counters.
func (s *Service) Metrics() *metrics.Metrics { return s.metrics }

// ErrClosed is returned by Run and ListenAndServe on a closed service.
var ErrClosed = errors.New("command: service closed")

// Open opens the store and builds the service.
func Open(cfg Config) (*Service, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("command: a data directory is required (--data)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Rules == nil {
		r := assay.DefaultRules()
		cfg.Rules = &r
	}
	if cfg.Web == nil {
		cfg.Web = web.Handler()
	}
	if cfg.RecentResults <= 0 {
		cfg.RecentResults = 200
	}
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(cfg.DataDir, "history.db")
	}
	cfg.HTTP.defaults()
	proxies, err := api.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("command: give both --tls-cert and --tls-key, or neither")
	}
	if cfg.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, fmt.Errorf("command: TLS certificate %s / key %s: %w (both PEM; the key must match the certificate)", cfg.TLSCert, cfg.TLSKey, err)
		}
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	books, err := rulebook.Open(st, *cfg.Rules, cfg.Now)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Service{cfg: cfg, store: st, books: books, auth: auth.New(st, cfg.Now)}
	s.auth.Secure = cfg.TLSCert != ""
	s.life, s.stop = context.WithCancel(context.Background())
	// The tally counts days as the KPIs do.
	pc := assurance.DefaultConfig()
	if cfg.Assure.Protocol != nil {
		pc = *cfg.Assure.Protocol
	}
	day := pc.KPI.UTCOffset
	s.history, err = history.Open(cfg.DB, history.Options{Now: cfg.Now, Log: cfg.Log, OnDamage: s.damaged, DayOffset: &day, Cluster: ClusterMode(cfg.DB)})
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := s.carryOver(); err != nil {
		s.history.Close()
		st.Close()
		return nil, err
	}
	s.hub = live.NewHub(s.snapshot, live.Options{Log: cfg.Log, Owner: liveOwner,
		MaxPerUser: cfg.LiveMaxPerUser, MaxTotal: cfg.LiveMaxTotal,
		Audience: s.audience, ScopeOf: liveScope})
	s.metrics = metrics.New(metrics.Sources{
		Kiosks:    func() []wire.KioskState { return s.ingest.KioskStates() },
		Browsers:  func() (int, uint64) { st := s.hub.Stats(); return st.Clients, st.Dropped },
		Incidents: func() map[assurance.IncidentState]int { return s.engine.OpenByState() },
		Results:   s.history.Count,
		Files: func() []string {
			if ClusterMode(cfg.DB) {
				return nil // the records are in PostgreSQL: its own statistics
			}
			return []string{st.Path()}
		},
	})
	s.ingest = ingest.New(ingest.Config{
		Sink: timedSink{History: s.history, on: s.metrics.ObserveCommit}, Kiosks: st, Books: books, Now: cfg.Now, Log: cfg.Log,
		OnCommitted: s.committed,
		OnAlarm:     func(a store.Alarm) { s.hub.Publish(wire.KindAlert, a) },
		OnKiosk: func(k wire.KioskState) {
			s.hub.Publish(wire.KindKiosk, k)
			if s.shared != nil {
				s.shared.NotePresence(k) // other instances answer for it too
			}
		},
	})
	s.earlyMu.Lock()
	early := s.early
	s.early = nil
	s.earlyMu.Unlock()
	for _, d := range early {
		s.askAgain(d)
	}
	// A kiosk re-registered, disabled or deleted — by the API or any other
	// writer of the store — loses its open link at once.
	st.OnKioskChange(s.ingest.KioskChanged)
	s.engine, err = engine.New(engine.Deps{Store: st, Results: s.history, DataDir: cfg.DataDir, EvidenceDir: cfg.Evidence, Now: cfg.Now, Log: cfg.Log,
		Publish: s.publishFromEngine, Notify: s.ingest.Notify, KioskStates: s.kioskStates}, cfg.Assure)
	if err != nil {
		s.hub.Close()
		s.history.Close()
		st.Close()
		return nil, err
	}
	s.openCluster()
	if err := s.openShared(); err != nil {
		s.engine.Close()
		s.hub.Close()
		s.history.Close()
		st.Close()
		return nil, err
	}
	s.api = &api.Server{Store: st, History: s.history, Auth: s.auth, Hub: s.hub, Kiosks: kioskLinks{s.ingest, s}, Web: cfg.Web, Log: cfg.Log, Now: cfg.Now,
		Edge: api.Edge{TrustedProxies: proxies}, StreamIdle: cfg.HTTP.StreamIdle, OpenIncidentAt: s.engine.OpenAt}
	s.handler = s.api.Routes()
	s.api.Mount("GET /metrics", s.metrics)
	s.api.Mount("GET /readyz", http.HandlerFunc(s.readyz))
	api.RegisterAssurance(s.api, s.engine)
	api.RegisterUI(s.api, s.engine, cfg.Getenv)  // the map page's config, QR labels (command/api/ui_support.go)
	api.RegisterRules(s.api, books)              // the rule book (command/api/rules.go)
	api.RegisterImports(s.api, s.commitImported) // market self-tests and lab results (command/api/imports.go)
	pub := cfg.Public
	pub.Now, pub.Log = cfg.Now, cfg.Log
	if pub.Pages == nil {
		pub.Pages = web.FS()
	}
	public.Register(s.api, s.engine, s.history, pub) // the diners' page and complaints (command/public)
	books.OnIssue(func(b assay.Book) {
		s.ingest.PushRules(b)
		s.hub.Publish(wire.KindRules, rulebook.Summary{Version: b.Version, IssuedAt: b.IssuedAt, IssuedBy: b.IssuedBy, Note: b.Note, Lots: len(b.Lots)})
	})
	return s, nil
}

// openStore opens the operational records where cfg.DB says: with a
// PostgreSQL history (cluster mode) in the same database, else in
// DataDir/command.db (buntdb). The code above the store is the same.
func openStore(cfg Config) (*store.Store, error) {
	opts := store.Options{Now: cfg.Now, Log: cfg.Log}
	if ClusterMode(cfg.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return store.OpenPostgres(ctx, cfg.DB, opts)
	}
	return store.Open(cfg.DataDir, opts)
}

// ClusterMode reports whether db (--db) names a PostgreSQL database:
// then the records and the history are both there, and several command
// services may share them.
func ClusterMode(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// carryOver moves the results of an earlier version (result:<id> keys in
// command.db) into the history; what cannot be carried raises an alarm.
func (s *Service) carryOver() error {
	rep, err := history.CarryOver(s.store, s.history, history.CarryOptions{Log: s.cfg.Log})
	if err != nil {
		return err
	}
	alarm := func(code string, ids []string, zh, en string) {
		if len(ids) == 0 {
			return
		}
		show := strings.Join(ids[:min(len(ids), 5)], ", ")
		if _, err := s.store.RaiseAlarm(store.Alarm{Code: code, Message: fmt.Sprintf("%s：%d 条（%s） / %s: %d (%s)", zh, len(ids), show, en, len(ids), show)}); err != nil {
			s.cfg.Log.Error("cannot store the alarm", "code", code, "err", err)
		}
	}
	alarm("storage_damaged_record", rep.Unreadable, "旧版数据文件中有结果无法读取，未迁入结果库，仍保留在 command.db",
		"stored results of the earlier version cannot be read; not carried into the history, kept in command.db")
	alarm("result_conflict", rep.Conflicts, "旧版数据文件中有结果与结果库中同编号结果内容不一致，未迁入，仍保留在 command.db",
		"results of the earlier version differ from the history's results with the same id; not carried over, kept in command.db")
	return nil
}

// damaged raises an alarm for a stored result that failed its checks,
// and asks the kiosk that measured it to send it again (the resend puts
// the row back whole; see history's Commit).
func (s *Service) damaged(d history.Damage) {
	s.askAgain(d)
	zh := fmt.Sprintf("结果库中一条结果已损坏，不再提供（接收序号 %d）：%s；请运行 shian-command verify", d.RxSeq, d.Problem)
	en := fmt.Sprintf("a stored result is damaged and is not served (rx_seq %d): %s; run shian-command verify", d.RxSeq, d.Problem)
	if !d.Repaired && d.KioskID != "" && d.Seq > 0 {
		zh += fmt.Sprintf("；已请快检终端 %s 重发（序号 %d）", d.KioskID, d.Seq)
		en += fmt.Sprintf("; kiosk %s has been asked to send it again (seq %d)", d.KioskID, d.Seq)
	}
	msg := zh + " / " + en
	a, err := s.store.RaiseAlarm(store.Alarm{Code: "storage_damaged_result", ResultID: d.ResultID, KioskID: d.KioskID, Message: msg})
	if err != nil {
		s.cfg.Log.Error("cannot store the alarm", "code", "storage_damaged_result", "err", err)
		return
	}
	if s.hub != nil {
		s.hub.Publish(wire.KindAlert, a)
	}
}

// askAgain asks the kiosk of a damaged row for the result again, now or
// when the ingest server exists.
func (s *Service) askAgain(d history.Damage) {
	if d.Repaired || d.KioskID == "" || d.Seq == 0 {
		return
	}
	s.earlyMu.Lock()
	if s.ingest == nil {
		s.early = append(s.early, d)
		s.earlyMu.Unlock()
		return
	}
	s.earlyMu.Unlock()
	s.ingest.RequestResend(d.KioskID, d.Seq, d.Seq, "damaged")
}

// timedSink times the history's group commits for the metrics.
type timedSink struct {
	history.History
	on func(time.Duration, []history.Committed, error)
}

func (t timedSink) Commit(rs []wire.Result) ([]history.Committed, error) {
	start := time.Now()
	out, err := t.History.Commit(rs)
	t.on(time.Since(start), out, err)
	return out, err
}

func (t timedSink) CommitPrepared(in []history.Incoming) ([]history.Committed, error) {
	start := time.Now()
	out, err := t.History.CommitPrepared(in)
	t.on(time.Since(start), out, err)
	return out, err
}

// committed publishes newly stored results to the live map: the stall's
// new latest state first (so a replayed backlog never holds the map back),
// then the result itself.
func (s *Service) committed(cs []history.Committed) {
	s.toHub(cs)
	s.announce(cs)
	if s.engineHere() {
		s.engine.OnCommitted(cs)
	}
}

// toHub publishes the stored results of cs, and their stalls' states, to
// the live map.
func (s *Service) toHub(cs []history.Committed) {
	for _, c := range cs {
		if c.Outcome != history.Stored {
			continue
		}
		if c.StallChanged {
			if st, ok := s.history.StallState(c.Result.StallID); ok {
				st.OpenIncident = s.engine.OpenAt(st.StallID)
				s.hub.Publish(wire.KindStall, st)
			}
		}
		s.hub.Publish(wire.KindResult, c.Result)
	}
}

// commitImported stores results imported from a market's or a lab's
// system in one history transaction and hands the new ones on like a
// kiosk's: the live map, then the assurance engine.
func (s *Service) commitImported(rs []wire.Result) ([]history.Committed, error) {
	out, err := s.history.Commit(rs)
	if err != nil {
		return nil, err
	}
	s.committed(out)
	return out, nil
}

// publishFromEngine publishes the engine's deltas; after an incident's,
// its site's state too, since an open incident keeps the site alarming on
// the map and its closing releases it (wire.StallState.OpenIncident).
func (s *Service) publishFromEngine(kind string, data any) uint64 {
	seq := s.hub.Publish(kind, data)
	if inc, ok := data.(engine.Incident); ok && kind == wire.KindIncident {
		id := inc.Trigger.SubjectID
		st, ok := s.history.StallState(id)
		if !ok {
			if _, err := s.store.SiteByID(id); err != nil {
				return seq // not a site: a kiosk's own incident
			}
			st = wire.StallState{StallID: id}
		}
		st.OpenIncident = s.engine.OpenAt(id)
		s.hub.Publish(wire.KindStall, st)
	}
	return seq
}

// snapshot builds the live state for a browser that (re)connects: what a
// user scoped to scope may see (nil: everything), as the REST reads
// decide it (command/api/scope.go) and as audience decides the deltas.
func (s *Service) snapshot(seq uint64, scope []string) wire.Snapshot {
	rs, err := s.history.Results(history.Filter{Limit: s.cfg.RecentResults, Events: scope})
	if err != nil {
		s.cfg.Log.Error("snapshot: results", "err", err)
	}
	if rs == nil {
		rs = []wire.Result{}
	}
	kiosks := map[string]wire.KioskState{}
	store.List(s.store, "kiosk", func(id string, k store.Kiosk) bool {
		if !engine.InScope(scope, k.EventID) {
			return true
		}
		ks := wire.KioskState{KioskID: id, Name: k.Name, SiteID: k.SiteID, EventID: k.EventID}
		if len(k.Loc) == 2 {
			ks.Lon, ks.Lat = k.Loc[0], k.Loc[1]
		}
		kiosks[id] = ks
		return true
	})
	for _, live := range s.kioskStates() {
		if _, ok := kiosks[live.KioskID]; ok || len(scope) == 0 {
			kiosks[live.KioskID] = live
		}
	}
	ks := make([]wire.KioskState, 0, len(kiosks))
	for _, k := range kiosks {
		ks = append(ks, k)
	}
	stalls := s.history.StallStates()
	held := s.engine.OpenAtAll()
	for i := range stalls {
		stalls[i].OpenIncident = held[stalls[i].StallID]
		delete(held, stalls[i].StallID)
	}
	for id, inc := range held { // an incident at a site without results (opened by hand)
		if _, err := s.store.SiteByID(id); err == nil {
			stalls = append(stalls, wire.StallState{StallID: id, OpenIncident: inc})
		}
	}
	if len(scope) > 0 {
		stalls = slices.DeleteFunc(stalls, func(st wire.StallState) bool {
			site, _ := s.store.SiteByID(st.StallID)
			return !engine.InScope(scope, site.EventID)
		})
	}
	return wire.Snapshot{Seq: seq, Results: rs, Stalls: stalls, Kiosks: ks, Extra: s.engine.SnapshotExtra(scope)}
}

// liveScope is the event scope of a /ws/live connection: its user's
// (auth.Require ran before the hub; nil: every event).
func liveScope(r *http.Request) []string {
	u, _ := auth.UserFrom(r.Context())
	return u.Events
}

// audience says which users may see a live delta (live.Options.Audience),
// by the event of its record, as the REST reads decide it for users
// scoped to events: results by their event, stalls by their site's,
// kiosks by their registration's, alerts by theirs (or their kiosk's or
// site's), incidents by their trigger's, events by themselves, teams of
// an event by it and teams of none and rule books by everyone, banquets
// (of no event) by unscoped users only. A record of no event is for
// unscoped users only, like a kind this switch does not know, so that a
// new kind never leaks across events by default.
func (s *Service) audience(kind string, data any) live.Audience {
	switch d := data.(type) {
	case wire.Result:
		return live.Audience{Event: d.EventID}
	case wire.StallState:
		st, _ := s.store.SiteByID(d.StallID)
		return live.Audience{Event: st.EventID}
	case wire.KioskState:
		k, err := s.store.KioskByID(d.KioskID)
		if err != nil {
			return live.Audience{Event: d.EventID}
		}
		return live.Audience{Event: k.EventID}
	case store.Alarm:
		return live.Audience{Event: s.store.AlarmEvent(d)}
	case engine.Incident:
		return live.Audience{Event: d.Trigger.EventID}
	case engine.Team:
		return live.Audience{Everyone: d.EventID == "", Event: d.EventID}
	case engine.EventView:
		return live.Audience{Event: d.ID}
	case engine.Banquet:
		return live.Audience{}
	case rulebook.Summary:
		return live.Audience{Everyone: true}
	}
	s.cfg.Log.Warn("live: a delta of a type without an audience; shown to unscoped users only", "kind", kind, "type", fmt.Sprintf("%T", data))
	return live.Audience{}
}

// Handler returns the HTTP handler (API, websockets, pages).
func (s *Service) Handler() http.Handler { return s.handler }

// Store returns the service's store of operational records.
func (s *Service) Store() *store.Store { return s.store }

// History returns the result history.
func (s *Service) History() history.History { return s.history }

// Auth returns the authenticator.
func (s *Service) Auth() *auth.Authenticator { return s.auth }

// Hub returns the live hub.
func (s *Service) Hub() *live.Hub { return s.hub }

// API returns the API server, to add routes with Handle.
func (s *Service) API() *api.Server { return s.api }

// Books returns the rule book.
func (s *Service) Books() *rulebook.Keeper { return s.books }

// Assure returns the assurance engine.
func (s *Service) Assure() *engine.Engine { return s.engine }

// Ingest returns the kiosk ingest server.
func (s *Service) Ingest() *ingest.Server { return s.ingest }

// Run runs the background loops (the ingest committer and the assurance
// engine) until ctx ends or the service is closed.
func (s *Service) Run(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.runs.Done()
	return s.run(ctx)
}

func (s *Service) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.life, cancel)()
	done := make(chan struct{})
	go func() { s.runEngine(ctx); close(done) }()
	swept := make(chan struct{})
	go func() { s.sweepLive(ctx); close(swept) }()
	applied := make(chan struct{})
	go func() {
		if s.records != nil {
			s.applyRecords(ctx)
		}
		close(applied)
	}()
	present := make(chan struct{})
	go func() {
		if s.shared != nil {
			s.shared.RunPresence(ctx, s.ingest.KioskStates)
		}
		close(present)
	}()
	s.ingest.Run(ctx)
	<-done
	<-swept
	<-applied
	<-present
	return ctx.Err()
}

// liveOwner names a /ws/live connection by the user and credential that
// opened it (auth.Require ran before the hub).
func liveOwner(r *http.Request) live.Owner {
	u, _ := auth.UserFrom(r.Context())
	return live.Owner{User: u.Name, Cred: auth.CredentialFrom(r.Context()), Grant: grantOf(u)}
}

// grantOf is the live.Owner grant of a user: what its live connection
// shows depends on these.
func grantOf(u store.User) string {
	return string(u.Role) + "\x00" + strings.Join(u.Events, ",") + "\x00" + u.TeamID
}

// sweepLive closes, every LiveSweep, the live connections whose
// credential no longer holds by itself: an expired session or token
// (logout, revocation and disabling close theirs at once, in the API).
func (s *Service) sweepLive(ctx context.Context) {
	t := time.NewTicker(LiveSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.SweepLive()
	}
}

// LiveSweep is how often live connections are checked against their
// credentials.
var LiveSweep = 30 * time.Second

// SweepLive closes the live connections whose session or token has
// expired or ended, or whose user is disabled, with 4003, and returns how
// many it closed.
func (s *Service) SweepLive() int {
	ended := map[string]bool{}
	for _, o := range s.hub.Owners() {
		if _, err := s.auth.Valid(o.Cred); err != nil {
			ended[o.Cred] = true
		}
	}
	if len(ended) == 0 {
		return 0
	}
	return s.hub.Disconnect(func(o live.Owner) bool { return ended[o.Cred] }, wire.CloseLoggedOut, "session expired")
}

// enter registers a Run or ListenAndServe for Close to wait for; it fails
// once the service is closed.
func (s *Service) enter() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.runs.Add(1)
	return nil
}

// Close stops Run and ListenAndServe if they are running, waits until they
// have returned (the committer and the engine's loop write to the store),
// then stops the hub and closes the history and the store. Later calls return the first
// call's result.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.runMu.Lock()
		s.closed = true
		s.runMu.Unlock()
		s.stop()
		s.runs.Wait()
		s.engine.Close() // its loop writes to the store
		s.hub.Close()
		s.ingest.CloseAll()
		s.closeErr = s.history.Close()
		if s.shared != nil {
			s.shared.Close()
		}
		if err := s.store.Close(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// Bootstrap creates user admin with role admin and a random password if
// no user exists yet, and returns the password ("" when users exist).
func (s *Service) Bootstrap(admin string) (string, error) {
	n := 0
	store.List(s.store, "user", func(string, store.User) bool { n++; return false })
	if n > 0 {
		return "", nil
	}
	pw, _ := store.NewToken("")
	pw = pw[:16]
	if err := s.auth.CreateUser(admin, "管理员", assurance.RoleAdmin, pw); err != nil {
		return "", err
	}
	return pw, nil
}

// ListenAndServe serves the service on addr, and runs its background loops
// (see Run), until ctx ends or the service is closed, then shuts the HTTP
// server down gracefully and returns once the loops have stopped. ready, if
// not nil, receives the bound address once listening.
func (s *Service) ListenAndServe(ctx context.Context, addr string, ready chan<- string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("command: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln, ready)
}

// Serve is ListenAndServe on a listener of the caller's; it closes ln.
func (s *Service) Serve(ctx context.Context, ln net.Listener, ready chan<- string) error {
	if err := s.enter(); err != nil {
		ln.Close()
		return err
	}
	defer s.runs.Done()
	h := s.cfg.HTTP
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: h.ReadHeaderTimeout, ReadTimeout: h.ReadTimeout,
		WriteTimeout: h.WriteTimeout, IdleTimeout: h.IdleTimeout, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn)}
	serve := func() error { return srv.Serve(ln) }
	if s.cfg.TLSCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		serve = func() error { return srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey) }
	}
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { s.run(runCtx); close(ran) }()
	defer func() { cancel(); <-ran }()
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case <-ctx.Done():
	case <-s.life.Done():
	case err := <-errc:
		return err
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	s.hub.Close()       // closes browser websockets (hijacked: Shutdown does not see them)
	s.ingest.CloseAll() // and the kiosks' links, so they reconnect to the next instance
	srv.Shutdown(sctx)
	return nil
}
