// Package kiosk is the program on a test kiosk (快检终端): it reads the
// instruments, decides each result, keeps it durably, and streams it to
// the command service, and it works the same with the network cut.
//
// # Data path
//
//	instrument ──driver (kiosk/device/…)──▶ Reading ──assay rules──▶ Result
//	   ──outbox.Save (fsync)──▶ "saved" on screen ──uplink──▶ command ──ack──▶ outbox marks acked
//
// A result is shown as saved only after the outbox write returned without
// error; a storage failure stops the test flow with a storage error on the
// screen instead. The uplink sends whatever the outbox holds, so a kiosk
// that was offline all day catches up when the network returns.
//
// # Parts
//
//   - kiosk/device: instrument drivers and the registry the config names.
//   - kiosk/outbox: the durable result queue (buntdb).
//   - kiosk/uplink: the websocket link to the command.
//   - kiosk/ui: the operator touchscreen served on ui.listen (localhost).
//   - kiosk/alarm: the alarm LED and buzzer on GPIO, raised by a positive.
//   - this package: configuration (kiosk.yaml), the session the operator
//     sets up (stall, sample), and the wiring ([Kiosk]).
package kiosk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/internal/version"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

// Events: the "event" attribute of the log lines a supervisor may count
// (simulator/chaos reads them with --log-format json: one JSON object a
// line). The message text is for people and may change; these may not.
const (
	// EventResultSaved: a result is durably in the outbox ("result_id").
	EventResultSaved = "result_saved"
	// EventResultRepeat: an instrument repeated a report already saved;
	// no second result was made ("result_id" is the saved one).
	EventResultRepeat = "result_repeat"
)

// Version is reported to the command in hello: the program and the release
// it was built from (internal/version, stamped by make build and make dist).
var Version = "shian-kiosk " + version.String()

// Saved is one result as the kiosk saved it, for the screen.
type Saved struct {
	Result wire.Result `json:"result"`
	// Err is set when the result could NOT be saved (storage failure):
	// the screen must show the error, never "saved".
	Err string `json:"error,omitempty"`
}

// Options are the parts a Kiosk gets from its caller.
type Options struct {
	Serial device.SerialOpener
	I2C    device.BusOpener
	Now    func() time.Time
	Log    *slog.Logger
	// OnSaved is called after every reading, saved or not.
	OnSaved func(Saved)
	// OnNotice receives notices from the command (incident numbers).
	OnNotice func(wire.Notice)
	// Uplink timing overrides (tests); zero values take the defaults.
	UplinkBackoffMin, UplinkBackoffMax time.Duration
	// Monitor, if set, is called once the kiosk is built, for the handler
	// of GET /metrics, /healthz and /readyz on the operator screen's
	// address (kiosk/metrics.New).
	Monitor func(*Kiosk) http.Handler
	// GPIO opens the alarm pins named in the config (alarm.HostPins on a
	// Pi; alarm.Pins of gpiotest pins in tests). Required only when the
	// config names pins.
	GPIO alarm.PinOpener
}

// Kiosk is a running kiosk.
type Kiosk struct {
	cfg   *Config
	opts  Options
	out   *outbox.Outbox
	up    *uplink.Uplink
	insts []device.Instrument
	rules assay.Rules // the built-in rules (kiosk.yaml's rules over the defaults)

	bookMu sync.RWMutex
	book   assay.Book // the book in use: the command's, or version 0 with rules

	mu      sync.Mutex
	session ui.Session
	// the last storage alarm sent, to send the same one at most once a minute
	lastStorageErr   string
	lastStorageAlarm time.Time

	screen *screen // the touchscreen and the alarm (screen.go)

	sitesMu sync.Mutex
	sites   []wire.SiteInfo // the command's, for the pick list (sites.go)
}

// Open opens the outbox and builds the instruments and the uplink.
func Open(cfg *Config, opts Options) (*Kiosk, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	k := &Kiosk{cfg: cfg, opts: opts, rules: assay.DefaultRules()}
	if cfg.Rules != nil {
		k.rules = *cfg.Rules
	}
	out, err := outbox.Open(cfg.Data, outbox.Options{KioskID: cfg.KioskID, Now: opts.Now, Log: opts.Log,
		History: time.Duration(cfg.HistoryHours) * time.Hour})
	if err != nil {
		return nil, err
	}
	k.out = out
	k.book = assay.Book{Rules: k.rules}
	switch b, ok, err := out.RuleBook(); {
	case err != nil:
		opts.Log.Error("the kept rule book cannot be read; deciding with the built-in rules until the command sends one", "err", err)
	case ok && b.Validate() != nil:
		opts.Log.Error("the kept rule book is not valid; deciding with the built-in rules until the command sends one", "version", b.Version, "err", b.Validate())
	case ok:
		k.book = b
		opts.Log.Info("deciding with the kept rule book", "version", b.Version, "issued_at", b.IssuedAt)
	}
	if sites, err := loadSites(cfg.Data); err != nil {
		opts.Log.Warn("the kept site list cannot be read; the pick list shows the config's stalls until the command sends one", "err", err)
	} else {
		k.sites = sites
	}
	env := device.Env{Serial: opts.Serial, I2C: opts.I2C, Now: opts.Now, Log: opts.Log, Rules: &k.rules, Profiles: cfg.Library()}
	k.insts, err = cfg.Instruments(env)
	if err != nil {
		out.Close()
		return nil, err
	}
	bmin, bmax := cfg.Command.BackoffMin, cfg.Command.BackoffMax
	if opts.UplinkBackoffMin > 0 {
		bmin = opts.UplinkBackoffMin
	}
	if opts.UplinkBackoffMax > 0 {
		bmax = opts.UplinkBackoffMax
	}
	for _, w := range cfg.LinkWarnings() {
		// Loud, at every start: a plain-text link over a shared network
		// gives away the kiosk's token and lets anyone forge results.
		opts.Log.Error("INSECURE LINK TO THE COMMAND: " + w)
	}
	k.up, err = uplink.New(uplink.Config{URLs: cfg.Command.URLs(), KioskID: cfg.KioskID, Token: cfg.Command.Token,
		Source: out, Status: k.status, OnNotice: k.onNotice, OnRules: k.onRules, OnSites: k.onSites, Software: Version, Now: opts.Now, Log: opts.Log,
		BackoffMin: bmin, BackoffMax: bmax, PongWait: cfg.Command.PongWait,
		Dialer: &websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment, TLSClientConfig: cfg.TLS()}})
	if err != nil {
		out.Close()
		return nil, err
	}
	// What the outbox found at open (a salvaged file, unreadable records)
	// goes to the command as alarms.
	for _, a := range out.TakeAlarms() {
		k.up.Alarm(a)
	}
	if err := k.openScreen(); err != nil {
		out.Close()
		return nil, err
	}
	return k, nil
}

// Run reads the instruments and keeps the uplink until ctx ends.
func (k *Kiosk) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, inst := range k.insts {
		wg.Add(1)
		go func(inst device.Instrument) {
			defer wg.Done()
			var err error
			if ci, ok := inst.(device.Confirming); ok {
				// The instrument repeats what the kiosk could not store.
				err = ci.RunConfirmed(ctx, k.saveReading)
			} else {
				err = inst.Run(ctx, k.onReading)
			}
			if err != nil && ctx.Err() == nil {
				k.opts.Log.Error("instrument stopped", "device", inst.ID(), "err", err)
			}
		}(inst)
	}
	wg.Add(3)
	go func() { defer wg.Done(); k.runScreen(ctx) }()
	go func() { defer wg.Done(); k.up.Run(ctx) }()
	go func() { defer wg.Done(); k.pruneLoop(ctx) }()
	wg.Wait()
	return ctx.Err()
}

// Close closes the outbox (and the screen's listener, the alarm outputs
// off). Call it after Run returned.
func (k *Kiosk) Close() error {
	k.closeScreen()
	return k.out.Close()
}

// Config returns the configuration the kiosk was opened with.
func (k *Kiosk) Config() *Config { return k.cfg }

// Outbox returns the kiosk's outbox.
func (k *Kiosk) Outbox() *outbox.Outbox { return k.out }

// Link returns the uplink state.
func (k *Kiosk) Link() uplink.LinkState { return k.up.State() }

// Instruments returns every instrument's status, by id.
func (k *Kiosk) Instruments() []device.Status {
	out := make([]device.Status, 0, len(k.insts))
	for _, inst := range k.insts {
		out = append(out, inst.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetSession sets what the next test is about (the operator's selection
// on the touchscreen, [ui.Session]).
func (k *Kiosk) SetSession(s ui.Session) {
	k.mu.Lock()
	k.session = s
	k.mu.Unlock()
}

// CurrentSession returns the operator's selection.
func (k *Kiosk) CurrentSession() ui.Session {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.session
}

// Record decides a reading and saves it durably, as onReading does for
// instrument readings. It is exported for the operator screen's manual
// entry and for tests.
func (k *Kiosk) Record(rd device.Reading) Saved {
	sess := k.CurrentSession()
	r := wire.Result{
		DeviceID: rd.DeviceID, Model: rd.Model, Serial: rd.Serial,
		StallID: sess.StallID, EventID: k.cfg.Site.EventID, Operator: sess.Operator, Sample: sess.Sample,
		Method: rd.Method, Item: rd.Item, Analyte: rd.Analyte, Raw: rd.Raw,
		RepeatOf: sess.RepeatOf, MeasuredAt: k.opts.Now(),
	}
	if r.StallID == "" {
		r.StallID = rd.SampleCode
	}
	if r.StallID == "" {
		r.StallID = k.cfg.Site.StallID
	}
	if r.Operator == "" {
		r.Operator = k.cfg.Operator
	}
	if r.Sample.Code == "" {
		r.Sample.Code = rd.SampleCode
	}
	if r.Sample.Name == "" {
		r.Sample.Name = rd.SampleName
	}
	if !rd.DeviceTime.IsZero() {
		t := rd.DeviceTime
		r.DeviceTime = &t
	}
	book := k.Book()
	r.RulesVersion, r.Lot, r.LotExpires = book.Version, sess.Lot, sess.LotExpires
	if l, ok := book.Lot(sess.Lot); ok {
		r.LotExpires = l.Expires
	}
	out, err := book.Decide(rd.Method, rd.Item, rd.Model, r.Lot, rd.Raw)
	if err != nil {
		// The reading cannot be decided (missing raw value): keep it as an
		// invalid result rather than losing what the instrument said.
		out = assay.Outcome{Verdict: assay.Invalid, Reason: "undecidable: " + err.Error()}
	}
	r.Value, r.Unit, r.Verdict, r.Reason, r.RepeatsRequired = out.Value, out.Unit, out.Verdict, out.Reason, out.RepeatsRequired
	if len(r.Reason) > 256 {
		r.Reason = r.Reason[:256]
	}
	saved, again, err := k.out.SaveOnce(r, origin(rd))
	s := Saved{Result: saved}
	switch {
	case err != nil:
		s.Err = fmt.Sprintf("结果未保存：存储错误 / result NOT saved: storage error: %v", err)
		k.opts.Log.Error("result not saved", "device", rd.DeviceID, "err", err)
		k.storageAlarm(err)
	case again:
		// The instrument repeated a report the kiosk had saved before a
		// crash, or before the confirmation reached it: not a new result.
		k.opts.Log.Info("result already saved; the instrument repeated its report", "event", EventResultRepeat, "seq", saved.Seq,
			"result_id", saved.ResultID, "report", rd.Report)
	default:
		k.opts.Log.Info("result saved", "event", EventResultSaved, "seq", saved.Seq, "result_id", saved.ResultID, "stall", saved.StallID,
			"verdict", saved.Verdict, "value", saved.Value, "unit", saved.Unit)
	}
	if k.opts.OnSaved != nil {
		k.opts.OnSaved(s)
	}
	return s
}

// origin identifies the instrument report a reading came from, for
// outbox.SaveOnce: the device, the instrument's serial and record number,
// and a digest of the instrument's clock and raw values, so that a record
// number reused after an instrument reset is a new report. Empty when the
// instrument numbers nothing.
func origin(rd device.Reading) string {
	if rd.Report == "" {
		return ""
	}
	raw, _ := json.Marshal(rd.Raw)
	sum := sha256.Sum256(append([]byte(rd.DeviceTime.UTC().Format(time.RFC3339Nano)), raw...))
	return rd.DeviceID + "|" + rd.Report + "|" + hex.EncodeToString(sum[:8])
}

// storageAlarm tells the command about a storage failure, at most once a
// minute for the same error (an instrument repeats a refused report every
// few seconds).
func (k *Kiosk) storageAlarm(err error) {
	now := k.opts.Now()
	k.mu.Lock()
	same := err.Error() == k.lastStorageErr && now.Sub(k.lastStorageAlarm) < time.Minute && now.After(k.lastStorageAlarm)
	if !same {
		k.lastStorageErr, k.lastStorageAlarm = err.Error(), now
	}
	k.mu.Unlock()
	if !same {
		code := "storage_error"
		if errors.Is(err, outbox.ErrDiskFull) {
			code = "disk_full"
		}
		k.up.Alarm(wire.Alarm{Code: code, Message: err.Error()})
	}
}

func (k *Kiosk) onReading(rd device.Reading) { k.Record(rd) }

// saveReading is the sink of a confirming instrument: a reading that was
// not stored is refused, so the instrument repeats it.
func (k *Kiosk) saveReading(rd device.Reading) error {
	if s := k.Record(rd); s.Err != "" {
		return errors.New(s.Err)
	}
	return nil
}

// Book returns the rule book the kiosk decides with: the command's latest,
// kept durably, or version 0 (the built-in rules) when it never had one.
func (k *Kiosk) Book() assay.Book {
	k.bookMu.RLock()
	defer k.bookMu.RUnlock()
	return k.book
}

// onRules takes a rule book from the command: it is checked, kept durably
// and used for every later result. A book that does not validate is not
// used (an alarm says why); one that cannot be kept is still used, and is
// asked for again at the next connection.
func (k *Kiosk) onRules(b assay.Book) {
	cur := k.Book()
	if b.Version == cur.Version && b.IssuedAt.Equal(cur.IssuedAt) {
		return
	}
	if err := b.Validate(); err != nil {
		k.opts.Log.Error("rule book from the command refused; deciding on with the current one", "version", b.Version, "current", cur.Version, "err", err)
		k.up.Alarm(wire.Alarm{Code: "rules_refused", Message: fmt.Sprintf("快检终端无法使用规则书第 %d 版，仍按第 %d 版判定 / rule book version %d refused, deciding with version %d: %v", b.Version, cur.Version, b.Version, cur.Version, err)})
		return
	}
	if err := k.out.SaveRuleBook(b); err != nil {
		k.opts.Log.Error("rule book not kept on the card; using it until the kiosk restarts", "version", b.Version, "err", err)
		k.storageAlarm(err)
	}
	k.bookMu.Lock()
	k.book = b
	k.bookMu.Unlock()
	k.opts.Log.Info("rule book in use", "version", b.Version, "was", cur.Version, "lots", len(b.Lots), "note", b.Note)
	if k.screen != nil {
		k.screen.srv.Changed()
	}
}

func (k *Kiosk) status() wire.Status {
	st := k.out.Stats()
	ws := wire.Status{Pending: st.Pending, OldestPending: st.OldestPending, Storage: "ok",
		Lon: k.cfg.Site.Lon, Lat: k.cfg.Site.Lat, SiteID: k.cfg.Site.StallID, KioskTime: k.opts.Now(), RulesVersion: k.Book().Version}
	if st.StorageErr != "" {
		ws.Storage = st.StorageErr
	}
	for _, is := range k.Instruments() {
		ws.Instruments = append(ws.Instruments, wire.InstrumentStatus{ID: is.ID, Model: is.Model, State: is.State.String(), LastError: is.LastErr})
	}
	return ws
}

func (k *Kiosk) pruneLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := k.out.Prune(); err != nil {
			k.opts.Log.Warn("prune failed", "err", err)
		} else if n > 0 {
			k.opts.Log.Info("pruned acknowledged results past the history window", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
