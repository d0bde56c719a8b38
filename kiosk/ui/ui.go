// Package ui is the kiosk's operator touchscreen (快检终端操作界面): a small
// HTTP server on localhost and the page it embeds, shown full-screen by
// Chromium in kiosk mode on the Pi's touchscreen.
//
// # What the operator does
//
//  1. Picks where the sample came from: scans a stall's QR code with a
//     keyboard-wedge scanner (the page captures the keys globally) or taps
//     the stall in a list (the config's stalls, the sites the command
//     sent — SetCommandStalls — and those of recent results), each with
//     its name and category, searchable by id, name and category.
//  2. Enters the sample — one tap on a sample that fits the stall's
//     category (Config.Samples, protocols/domain/stallsamples), batch,
//     supplier — and the test item, and sees every instrument's state
//     (就绪 / 检测中 / 故障). The common path fits 800×480 without
//     scrolling, and the result's saved line sits outside the scrolling
//     part of the verdict screen, never under the buttons.
//  3. Taps 开始检测 (start test). The selection becomes the kiosk's session
//     for the next reading. An instrument the kiosk can trigger is
//     triggered; for the enzyme tester the screen says "press START on the
//     instrument" and waits.
//  4. Sees the verdict, large and coloured, with the raw values behind it
//     and what to do next: for a positive, seal the batch (封存), the two
//     repeats (a repeat button links the next result to this one), the
//     incident number once the command sends it, and the 4-hour re-test
//     right; for an invalid result, why and how to redo it.
//
// Always visible: online or offline, results waiting to upload, the last
// sync, storage health. A result that could not be saved shows a blocking
// storage error with its raw values, never "saved".
//
// # Offline
//
// The page talks only to this server; nothing comes from the network, so
// the screen works the same with the uplink cut. Live updates are a
// server-sent event stream (/api/events) carrying the whole screen state
// whenever it changes; each connection is written by its own handler
// goroutine only. The state is also polled from the kiosk every Poll (1 s)
// for what has no change signal (instrument states, the link).
//
// # Alarm
//
// A positive (or a fail) raises the alarm (LED and buzzer on GPIO, see
// kiosk/alarm) until the operator acknowledges it on the screen.
//
// # API (JSON, localhost only)
//
//	GET  /api/state          the screen state (State)
//	GET  /api/events         text/event-stream of "state" events
//	POST /api/start          {session, device_id, item}: arm the session, trigger or wait
//	POST /api/cancel         forget the armed session
//	POST /api/alarm/ack      acknowledge the alarm
//	POST /api/storage/ack    the operator has noted an unsaved result's values
//
// Requests whose Host is not a loopback name are refused when the server
// listens on loopback (no DNS-rebinding page can drive the kiosk).
package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/internal/jsdom"
	"github.com/shianfood/shian/internal/jsvocab"
	"github.com/shianfood/shian/internal/jswhen"
	"github.com/shianfood/shian/internal/pinyin"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
	"github.com/shianfood/shian/protocols/wire"
)

//go:embed static
var static embed.FS

// FS returns the embedded page.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// Session is what the operator selected on the touchscreen for the next
// test: where the sample came from and what it is. It is the kiosk's one
// type for it (kiosk.Kiosk.SetSession takes it); the next reading's result
// takes these fields.
type Session struct {
	StallID  string      `json:"stall_id"`
	Operator string      `json:"operator,omitempty"`
	Sample   wire.Sample `json:"sample"`
	// RepeatOf links the next result to the one it repeats (复测).
	RepeatOf string `json:"repeat_of,omitempty"`
	// Lot is the kit lot (批号) the operator picked or scanned, with the
	// expiry read off its box when the rule book does not list it.
	Lot        string `json:"lot,omitempty"`
	LotExpires string `json:"lot_expires,omitempty"`
}

// BookSource is the optional capability of a Backend that decides with
// the command's rule book (the kiosk): the screen shows its version and
// offers its lots. Without it the screen shows Config.Rules as the
// built-in rules.
type BookSource interface {
	Book() assay.Book
}

// Saved is one result as the kiosk saved it, or failed to (Err set).
type Saved struct {
	Result wire.Result `json:"result"`
	Err    string      `json:"error,omitempty"`
}

// Backend is what the screen needs of the kiosk.
type Backend interface {
	Instruments() []device.Status
	Link() uplink.LinkState
	Stats() outbox.Stats
	// Recent returns up to n records, newest first.
	Recent(n int) ([]outbox.Record, error)
	SetSession(Session)
	CurrentSession() Session
	// Trigger asks an instrument to measure now; ErrNoTrigger when it
	// cannot be triggered from the kiosk.
	Trigger(deviceID, item string) error
}

// ErrNoTrigger is returned by Backend.Trigger for instruments started on
// the instrument itself (the enzyme tester's START key).
var ErrNoTrigger = errors.New("ui: this instrument is started on the instrument itself")

// Alarm is the alarm outputs (*alarm.Alarm).
type Alarm interface {
	Raise(reason string) error
	Acknowledge() error
	State() alarm.State
}

// Stall is one entry of the stall list.
type Stall struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Category is the stall's business (奶茶, 凉菜, 烧烤 …), the key of
	// its sample suggestions (protocols/domain/stallsamples).
	Category string `json:"category,omitempty"`
	// Recent is set for stalls of recent results.
	Recent bool `json:"recent,omitempty"`
	// Pinyin and Initials are the name's search keys (internal/pinyin),
	// set by the server: the picker finds 麻辣烫 from "malatang" or "mlt".
	Pinyin   string `json:"pinyin,omitempty"`
	Initials string `json:"initials,omitempty"`
}

// Device describes one configured instrument for the screen.
type Device struct {
	ID       string   `json:"id"`
	Model    string   `json:"model,omitempty"`
	Protocol string   `json:"protocol,omitempty"`
	Items    []string `json:"items,omitempty"`
	// Triggerable: the kiosk starts the reading; otherwise the operator
	// presses START on the instrument.
	Triggerable bool `json:"triggerable"`
	// Methods are the test methods the instrument runs, when known (its
	// profile says; a strip reader runs gold_line or gold_ratio), so that
	// the screen offers the kit lots made for them.
	Methods []assay.Method `json:"methods,omitempty"`
}

// Config configures a Server. Backend is required.
type Config struct {
	KioskID string
	Name    string
	// Operator is the default operator id.
	Operator string
	// DefaultStall is preselected (the config's site.stall_id).
	DefaultStall string
	Stalls       []Stall
	Devices      []Device
	Rules        assay.Rules
	// Samples are the sample suggestions per stall category
	// (stallsamples.Default() when nil).
	Samples stallsamples.Table
	Backend Backend
	// Alarm defaults to a screen-only alarm (no pins).
	Alarm Alarm
	Now   func() time.Time
	Log   *slog.Logger
	// Monitor, if set, serves GET /metrics, /healthz and /readyz
	// (kiosk/metrics).
	Monitor http.Handler
	// Poll is how often the live state is re-read for open screens (1 s).
	Poll time.Duration
	// WriteWait bounds each write to a screen (10 s).
	WriteWait time.Duration
}

// Server is the touchscreen server.
type Server struct {
	cfg     Config
	files   http.Handler
	stalls  map[string]string // the config's stall names
	devices map[string]Device

	stallMu   sync.RWMutex
	cmdStalls []Stall // the command's sites (SetCommandStalls)

	mu        sync.Mutex
	waiting   *Waiting
	armed     *Session
	latest    *ResultView // newest saved (or failed) result since start
	unsaved   int         // counter for keys of unsaved results
	notices   map[string]wire.Notice
	noticeIDs []string // insertion order, to bound the map
	saveErr   string   // last failed save, cleared by a successful one
	cache     recentCache
	subs      map[chan struct{}]struct{}
	loopback  bool
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("ui: a backend (the kiosk) is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Samples == nil {
		cfg.Samples = stallsamples.Default()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = 10 * time.Second
	}
	if cfg.Alarm == nil {
		a, err := alarm.Open(alarm.Config{}, nil, alarm.Options{Now: cfg.Now, Log: cfg.Log})
		if err != nil {
			return nil, err
		}
		cfg.Alarm = a
	}
	s := &Server{cfg: cfg, files: http.FileServerFS(FS()), stalls: map[string]string{}, devices: map[string]Device{},
		notices: map[string]wire.Notice{}, subs: map[chan struct{}]struct{}{}}
	for _, st := range cfg.Stalls {
		s.stalls[st.ID] = st.Name
	}
	for _, d := range cfg.Devices {
		s.devices[d.ID] = d
	}
	if recs, err := cfg.Backend.Recent(1); err == nil && len(recs) > 0 {
		rv := s.view(recs[0].Result, "")
		s.latest = &rv
	}
	return s, nil
}

// Serve serves the screen on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		s.mu.Lock()
		s.loopback = true
		s.mu.Unlock()
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ui: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// Handler returns the screen's HTTP handler (page and API).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/state", s.handleState)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("POST /api/start", s.handleStart)
	mux.HandleFunc("POST /api/cancel", s.handleCancel)
	mux.HandleFunc("POST /api/alarm/ack", s.handleAlarmAck)
	mux.HandleFunc("POST /api/storage/ack", s.handleStorageAck)
	if s.cfg.Monitor != nil {
		// Prometheus and the health checks, on the same loopback port.
		mux.Handle("GET /metrics", s.cfg.Monitor)
		mux.Handle("GET /healthz", s.cfg.Monitor)
		mux.Handle("GET /readyz", s.cfg.Monitor)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "not_found", "no such API: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("GET "+jsvocab.Path, jsvocab.Handler()) // the verdicts' labels, from Go
	mux.Handle("GET "+jsdom.Path, jsdom.Handler())     // el/escapeHTML, shared with the command's pages
	mux.Handle("GET "+jswhen.Path, jswhen.Handler())   // dates and times, shared with the command's pages
	mux.Handle("/", s.files)
	return s.guard(mux)
}

// CSP is the screen's Content-Security-Policy: everything from this
// server only, no inline script or style, never framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// guard is the one home of the screen's browser protections: security
// headers on every answer; the Host check (no DNS-rebinding page can
// drive the kiosk); and for a POST a same-origin browser request
// (Sec-Fetch-Site same-origin/none, or an Origin whose host is the Host:
// net/http's CrossOriginProtection) with a JSON body, so that no other
// page open in the kiosk's browser can acknowledge an alarm or arm a test.
func (s *Server) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), geolocation=(), microphone=(), payment=(), usb=()")
		if !s.hostAllowed(r.Host) {
			writeErr(w, http.StatusForbidden, "forbidden_host", "the kiosk screen answers only on localhost")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := cop.Check(r); err != nil {
				writeErr(w, http.StatusForbidden, "cross_origin", "only the kiosk's own screen may do this (cross-origin request refused)")
				return
			}
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				writeErr(w, http.StatusUnsupportedMediaType, "bad_request", "send JSON (Content-Type: application/json)")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) hostAllowed(hostport string) bool {
	s.mu.Lock()
	lb := s.loopback
	s.mu.Unlock()
	if !lb {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OnSaved takes a result the kiosk saved (or failed to save): it becomes
// the latest result on the screen, the armed session is used up, and a
// positive raises the alarm.
func (s *Server) OnSaved(sv Saved) {
	r := sv.Result
	s.mu.Lock()
	rv := s.view(r, sv.Err)
	if sv.Err != "" {
		s.unsaved++
		rv.Key = fmt.Sprintf("unsaved-%d", s.unsaved)
		s.saveErr = sv.Err
	} else {
		s.saveErr = ""
	}
	if r.Verdict.Severity() == 2 {
		// Raised before the result is shown, so that no state shows the
		// positive without its alarm. The reason names the view: the
		// result id, or unsaved-N for a result that has none because it
		// was never written.
		if err := s.cfg.Alarm.Raise(rv.Key); err != nil {
			s.cfg.Log.Error("alarm outputs failed", "err", err)
		}
	}
	s.latest = &rv
	s.waiting = nil
	armed := s.armed
	if armed != nil && r.StallID == armed.StallID && r.Sample.Name == armed.Sample.Name && r.RepeatOf == armed.RepeatOf {
		s.armed = nil
	} else {
		armed = nil
	}
	s.cache = recentCache{}
	s.mu.Unlock()
	if armed != nil && s.cfg.Backend.CurrentSession() == *armed {
		// One selection, one reading: the next test needs a new choice, so
		// a later reading is never filed under this sample by mistake.
		s.cfg.Backend.SetSession(Session{})
	}
	s.notify()
}

// OnNotice takes a notice from the command (the incident number of a
// positive).
func (s *Server) OnNotice(n wire.Notice) {
	if n.ResultID == "" {
		return
	}
	s.mu.Lock()
	if _, ok := s.notices[n.ResultID]; !ok {
		s.noticeIDs = append(s.noticeIDs, n.ResultID)
		if len(s.noticeIDs) > 500 {
			delete(s.notices, s.noticeIDs[0])
			s.noticeIDs = s.noticeIDs[1:]
		}
	}
	if old, ok := s.notices[n.ResultID]; ok && n.IncidentNo == "" {
		n.IncidentNo = old.IncidentNo
	}
	s.notices[n.ResultID] = n
	s.mu.Unlock()
	s.notify()
}

// Changed tells open screens that something they show changed (the rule
// book).
func (s *Server) Changed() { s.notify() }

// SetCommandStalls sets the sites the command sent (with their names and
// categories) for the pick list, beside the config's stalls: a stall in
// both keeps the config's name and category where it gives one, and the
// command's fill in the rest.
func (s *Server) SetCommandStalls(stalls []Stall) {
	s.stallMu.Lock()
	s.cmdStalls = slices.Clone(stalls)
	s.stallMu.Unlock()
	s.notify()
}

// stallList is the pick list: the config's stalls, then the command's.
func (s *Server) stallList() []Stall {
	s.stallMu.RLock()
	defer s.stallMu.RUnlock()
	out := slices.Clone(s.cfg.Stalls)
	at := map[string]int{}
	for i, st := range out {
		at[st.ID] = i
	}
	for _, c := range s.cmdStalls {
		i, ok := at[c.ID]
		if !ok {
			at[c.ID] = len(out)
			out = append(out, c)
			continue
		}
		if out[i].Name == "" {
			out[i].Name = c.Name
		}
		if out[i].Category == "" {
			out[i].Category = c.Category
		}
	}
	for i := range out {
		k := pinyin.KeysOf(out[i].Name)
		out[i].Pinyin, out[i].Initials = k.Full, k.Initials
	}
	return out
}

// stallName is a stall's name: the config's, else the command's.
func (s *Server) stallName(id string) string {
	if n := s.stalls[id]; n != "" {
		return n
	}
	s.stallMu.RLock()
	defer s.stallMu.RUnlock()
	for _, c := range s.cmdStalls {
		if c.ID == id {
			return c.Name
		}
	}
	return ""
}

func (s *Server) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Waiting is a test the screen has started and waits for.
type Waiting struct {
	DeviceID string    `json:"device_id"`
	Item     string    `json:"item,omitempty"`
	Mode     string    `json:"mode"` // "press_start" or "triggered"
	Since    time.Time `json:"since"`
	Session  Session   `json:"session"`
}

// Waiting modes.
const (
	ModePressStart = "press_start"
	ModeTriggered  = "triggered"
)

// StartRequest is the body of POST /api/start.
type StartRequest struct {
	Session  Session `json:"session"`
	DeviceID string  `json:"device_id"`
	Item     string  `json:"item,omitempty"`
}

// APIError is the body of an error answer: a code the page translates
// (with its params), and a message for logs.
type APIError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Params  map[string]string `json:"params,omitempty"`
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeErrParams(w, status, code, msg, nil)
}

func writeErrParams(w http.ResponseWriter, status int, code, msg string, params map[string]string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(APIError{Code: code, Message: msg, Params: params})
}

// book returns the rule book the kiosk decides with.
func (s *Server) book() assay.Book {
	if bs, ok := s.cfg.Backend.(BookSource); ok {
		return bs.Book()
	}
	return assay.Book{Rules: s.cfg.Rules}
}

// checkLot refuses a kit lot that is expired, not for this test, or not a
// lot number; a lot the book lists takes the book's expiry.
func (s *Server) checkLot(sess *Session, dev Device, item string) (code, msg string, params map[string]string) {
	sess.Lot = strings.TrimSpace(sess.Lot)
	sess.LotExpires = strings.TrimSpace(sess.LotExpires)
	if sess.Lot == "" {
		sess.LotExpires = ""
		return "", "", nil
	}
	if err := assay.CheckLotID(sess.Lot); err != nil {
		return "bad_lot", err.Error(), map[string]string{"lot": sess.Lot}
	}
	b := s.book()
	if l, ok := b.Lot(sess.Lot); ok {
		sess.LotExpires = l.Expires
	}
	var m assay.Method
	if len(dev.Methods) == 1 {
		m = dev.Methods[0]
	}
	if item == "" && len(dev.Items) > 0 {
		item = dev.Items[0]
	}
	err := b.CheckLot(sess.Lot, sess.LotExpires, m, item, s.cfg.Now())
	params = map[string]string{"lot": sess.Lot, "date": sess.LotExpires}
	switch {
	case err == nil:
		return "", "", nil
	case errors.Is(err, assay.ErrLotMismatch):
		l, _ := b.Lot(sess.Lot)
		params["kit"] = l.Name
		if params["kit"] == "" {
			params["kit"] = l.Analyte
		}
		return "lot_mismatch", err.Error(), params
	case sess.LotExpires == "":
		return "lot_no_expiry", err.Error(), params
	case errors.Is(err, assay.ErrLotExpired):
		if _, perr := assay.ParseExpiry(sess.LotExpires); perr != nil {
			return "lot_bad_expiry", err.Error(), params
		}
		return "lot_expired", err.Error(), params
	}
	return "bad_lot", err.Error(), params
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.State()) }

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", "start: "+err.Error())
		return
	}
	sess := req.Session
	sess.StallID = strings.TrimSpace(sess.StallID)
	if sess.Operator == "" {
		sess.Operator = s.cfg.Operator
	}
	if code, msg := checkSession(sess); code != "" {
		writeErr(w, http.StatusBadRequest, code, msg)
		return
	}
	dev, ok := s.devices[req.DeviceID]
	if !ok {
		writeErr(w, http.StatusBadRequest, "no_device", fmt.Sprintf("no instrument %q on this kiosk", req.DeviceID))
		return
	}
	if code, msg, params := s.checkLot(&sess, dev, req.Item); code != "" {
		writeErrParams(w, http.StatusBadRequest, code, msg, params)
		return
	}
	for _, st := range s.cfg.Backend.Instruments() {
		if st.ID == dev.ID && st.State == device.StateDown {
			writeErr(w, http.StatusConflict, "device_down", fmt.Sprintf("instrument %s is down: %s", dev.ID, st.LastErr))
			return
		}
	}
	wt := &Waiting{DeviceID: dev.ID, Item: req.Item, Mode: ModePressStart, Since: s.cfg.Now(), Session: sess}
	s.mu.Lock()
	s.armed = &sess
	s.waiting = wt
	s.mu.Unlock()
	s.cfg.Backend.SetSession(sess)
	if dev.Triggerable {
		err := s.cfg.Backend.Trigger(dev.ID, req.Item)
		switch {
		case err == nil:
			s.mu.Lock()
			if s.waiting == wt {
				wt.Mode = ModeTriggered
			}
			s.mu.Unlock()
		case errors.Is(err, ErrNoTrigger):
		default:
			s.mu.Lock()
			if s.waiting == wt {
				s.waiting = nil
			}
			s.mu.Unlock()
			s.cfg.Log.Warn("trigger failed", "device", dev.ID, "err", err)
			writeErr(w, http.StatusConflict, "trigger_failed", fmt.Sprintf("instrument %s did not start: %v", dev.ID, err))
			s.notify()
			return
		}
	}
	s.notify()
	writeJSON(w, s.State())
}

// checkSession validates what the operator entered against the limits a
// result must meet (protocols/wire), so that a saved result never fails
// for a typo on the screen.
func checkSession(s Session) (code, msg string) {
	if s.StallID == "" {
		return "no_stall", "choose the stall the sample came from"
	}
	if len(s.StallID) > 64 {
		return "bad_stall", "stall id longer than 64 characters"
	}
	for _, c := range s.StallID {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return "bad_stall", fmt.Sprintf("stall id %q may only contain letters, digits and - _ . :", s.StallID)
		}
	}
	if strings.TrimSpace(s.Sample.Name) == "" {
		return "no_sample", "enter the sample name"
	}
	for name, v := range map[string]string{"sample.name": s.Sample.Name, "sample.category": s.Sample.Category,
		"sample.batch": s.Sample.Batch, "sample.supplier": s.Sample.Supplier, "sample.code": s.Sample.Code, "sample.origin": s.Sample.Origin} {
		if len(v) > 256 {
			return "too_long", name + " is longer than 256 bytes"
		}
	}
	if s.RepeatOf != "" && len(s.RepeatOf) != 36 {
		return "bad_request", "repeat_of is not a result id"
	}
	return "", ""
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.waiting, s.armed = nil, nil
	s.mu.Unlock()
	s.cfg.Backend.SetSession(Session{})
	s.notify()
	writeJSON(w, s.State())
}

func (s *Server) handleAlarmAck(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Alarm.Acknowledge(); err != nil {
		s.cfg.Log.Error("alarm outputs failed", "err", err)
	}
	s.notify()
	writeJSON(w, s.State())
}

func (s *Server) handleStorageAck(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.latest != nil && s.latest.Error != "" {
		s.latest.ErrorNoted = true
	}
	s.mu.Unlock()
	s.notify()
	writeJSON(w, s.State())
}

// handleEvents streams the state as server-sent events: one now, then one
// whenever it changes, and a comment every 15 s to keep the line open.
// Only this goroutine writes to the connection.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	var last []byte
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteWait))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func() bool {
		b, err := json.Marshal(s.State())
		if err != nil {
			s.cfg.Log.Error("ui: encode state", "err", err)
			return false
		}
		if string(b) == string(last) {
			return true
		}
		last = b
		return write([]byte("event: state\ndata: " + string(b) + "\n\n"))
	}
	if !write([]byte("retry: 1000\n\n")) || !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ch:
		case <-poll.C:
		case <-keep.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
			continue
		}
		if !send() {
			return
		}
	}
}
