package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Sample describes what was tested.
type Sample struct {
	Code     string `json:"code,omitempty"`     // sample number keyed in or scanned
	Name     string `json:"name,omitempty"`     // 样品名称, e.g. "菠菜"
	Category string `json:"category,omitempty"` // 样品种类, e.g. "蔬菜"
	Batch    string `json:"batch,omitempty"`    // 批次
	Supplier string `json:"supplier,omitempty"` // 供应商 / 生产单位
	Origin   string `json:"origin,omitempty"`   // 产地
}

// Result is one rapid-test result, as measured on a kiosk and stored by the
// command service. Fields up to Raw are set by the kiosk and are the
// result's content: a resend must carry them unchanged. ReceivedAt, RxSeq
// and Flags are set by the command service.
type Result struct {
	ResultID  string `json:"result_id"`  // UUIDv7, made where measured; never reused
	KioskID   string `json:"kiosk_id"`   // the kiosk that measured it
	Seq       uint64 `json:"seq"`        // per-kiosk sequence, from 1
	BootEpoch uint64 `json:"boot_epoch"` // kiosk start counter when measured

	DeviceID string `json:"device_id"`        // device id in the kiosk config
	Model    string `json:"model"`            // instrument model
	Serial   string `json:"serial,omitempty"` // instrument serial number

	StallID  string `json:"stall_id"`           // where the sample came from (stall or kitchen id)
	EventID  string `json:"event_id,omitempty"` // the major event, if any
	Operator string `json:"operator,omitempty"` // 检测员
	Sample   Sample `json:"sample"`

	Method  assay.Method `json:"method"`
	Item    string       `json:"item"`    // 检测项目
	Analyte string       `json:"analyte"` // machine name of what is tested

	// The kiosk's conclusion. The command re-derives it from Raw and
	// flags a mismatch.
	Value           float64       `json:"value"`
	Unit            string        `json:"unit"`
	Verdict         assay.Verdict `json:"verdict"`
	Reason          string        `json:"reason,omitempty"`
	RepeatsRequired int           `json:"repeats_required,omitempty"`
	RepeatOf        string        `json:"repeat_of,omitempty"` // result_id this repeats

	Raw assay.Raw `json:"raw"` // the measurements the verdict derives from

	// RulesVersion is the version of the command's rule book the kiosk
	// decided with (0: its built-in rules, it never had a book). Lot is
	// the reagent or card lot (批号) the test used and LotExpires its
	// expiry date (YYYY-MM-DD) as the operator read it off the box.
	RulesVersion uint64 `json:"rules_version,omitempty"`
	Lot          string `json:"lot,omitempty"`
	LotExpires   string `json:"lot_expires,omitempty"`

	// Tier is the testing tier (四位一体, docs/domain.md §1.8); empty is
	// the regulators' rapid test (assay.TierRegulator), what a kiosk does
	// unless its configuration names another tier.
	Tier assay.Tier `json:"tier,omitempty"`
	// Source names where a result that did not come from a kiosk came
	// from — "market:<id>" (a market's self-test file or system) or
	// "lab:<id>" — and SourceRow its row id there (what makes an import
	// idempotent). Set by the command's import; a kiosk leaves both empty
	// and its results' source is "kiosk".
	Source    string `json:"source,omitempty"`
	SourceRow string `json:"source_row,omitempty"`
	// Confirms is, on a laboratory's result, the result_id of the rapid
	// result it confirms (a positive) or clears (a negative): the
	// confirmation rate per method and per kiosk follows it.
	Confirms string `json:"confirms,omitempty"`

	MeasuredAt time.Time  `json:"measured_at"`           // kiosk clock
	DeviceTime *time.Time `json:"device_time,omitempty"` // instrument clock, if it has one

	// Set by the command service.
	ReceivedAt *time.Time `json:"received_at,omitempty"` // command clock
	RxSeq      uint64     `json:"rx_seq,omitempty"`      // command ingest order
	Flags      []string   `json:"flags,omitempty"`       // e.g. "verdict_mismatch", "clock_skew", "seq_regression"
	// Derived is the command's own decision from Raw, set when it differs
	// from the kiosk's (the map then shows Derived).
	Derived *assay.Outcome `json:"derived,omitempty"`
}

// EffectiveVerdict is the verdict the command stands by: its own
// derivation when it differs from the kiosk's, else the kiosk's.
func (r *Result) EffectiveVerdict() assay.Verdict {
	if r.Derived != nil {
		return r.Derived.Verdict
	}
	return r.Verdict
}

// Source kinds: what EffectiveSource returns for a kiosk's result, and
// the prefixes of imported results' Source.
const (
	SourceKiosk  = "kiosk"
	SourceMarket = "market"
	SourceLab    = "lab"
)

// EffectiveTier is the result's testing tier: its own, or the regulators'
// rapid test when it names none.
func (r *Result) EffectiveTier() assay.Tier {
	if r.Tier == "" {
		return assay.TierRegulator
	}
	return r.Tier
}

// EffectiveSource is where the result came from: "kiosk", or the imported
// result's Source ("market:M-01", "lab:L-01").
func (r *Result) EffectiveSource() string {
	if r.Source == "" {
		return SourceKiosk
	}
	return r.Source
}

// FromKiosk reports whether a kiosk measured the result (it then has a
// kiosk's seq; an imported result has none).
func (r *Result) FromKiosk() bool { return r.Source == "" }

// Result flags set by the command service.
const (
	FlagVerdictMismatch = "verdict_mismatch" // kiosk verdict differs from the re-derived one
	FlagClockSkew       = "clock_skew"       // kiosk clock more than 5 min from the command's
	FlagSeqRegression   = "seq_regression"   // seq reused by a kiosk restored from an old backup
	// FlagRulesOutdated: the kiosk decided with a rule book older than the
	// one in force when it measured (it was offline when the book
	// changed); the command decides with the book in force instead.
	FlagRulesOutdated = "rules_outdated"
	// FlagRulesUnknown: the result names a rule-book version the command
	// never issued; it is decided with the book in force.
	FlagRulesUnknown = "rules_unknown"
	// FlagLotExpired: the kit lot had expired when the result was measured.
	FlagLotExpired = "lot_expired"
)

// Field limits enforced by Validate.
const (
	maxID   = 64
	maxText = 256
)

// Validate checks the fields a kiosk must set. It does not re-derive the
// verdict (that needs the rules in force; see package assay).
func (r *Result) Validate() error {
	u, err := uuid.Parse(r.ResultID)
	if err != nil || u == uuid.Nil || len(r.ResultID) != 36 {
		return fmt.Errorf("result_id %q is not a UUID in canonical form", clip(r.ResultID))
	}
	if err := checkID("kiosk_id", r.KioskID, true); err != nil {
		return err
	}
	if r.Seq == 0 {
		return errors.New("seq must be 1 or more")
	}
	if err := checkID("device_id", r.DeviceID, false); err != nil {
		return err
	}
	if err := checkID("stall_id", r.StallID, false); err != nil {
		return err
	}
	if err := checkID("event_id", r.EventID, false); err != nil {
		return err
	}
	if r.Method == "" {
		return errors.New("method is missing")
	}
	if !r.Verdict.Valid() {
		return fmt.Errorf("verdict %q is not one of negative, suspicious, positive, invalid, pass, caution, fail, na", clip(string(r.Verdict)))
	}
	if r.MeasuredAt.IsZero() {
		return errors.New("measured_at is missing")
	}
	if r.Lot != "" {
		if err := assay.CheckLotID(r.Lot); err != nil {
			return err
		}
	}
	if r.LotExpires != "" {
		if _, err := assay.ParseExpiry(r.LotExpires); err != nil {
			return fmt.Errorf("lot_expires: %w", err)
		}
	}
	if r.Tier != "" && !r.Tier.Valid() {
		return fmt.Errorf("tier %q is not one of wholesale_market, market_self_test, regulator_rapid, statutory_lab", clip(string(r.Tier)))
	}
	if r.Source != "" || r.SourceRow != "" || r.Confirms != "" {
		return errors.New("source, source_row and confirms are set by the command service for imported results; a kiosk leaves them empty")
	}
	if r.RepeatOf != "" {
		if _, err := uuid.Parse(r.RepeatOf); err != nil {
			return fmt.Errorf("repeat_of %q is not a UUID", clip(r.RepeatOf))
		}
	}
	// An array, not a map: no allocation per result, and the first bad
	// field is always the one named.
	for _, f := range [...]struct{ name, s string }{
		{"model", r.Model}, {"serial", r.Serial}, {"operator", r.Operator}, {"item", r.Item},
		{"analyte", r.Analyte}, {"unit", r.Unit}, {"reason", r.Reason},
		{"sample.code", r.Sample.Code}, {"sample.name", r.Sample.Name}, {"sample.category", r.Sample.Category},
		{"sample.batch", r.Sample.Batch}, {"sample.supplier", r.Sample.Supplier}, {"sample.origin", r.Sample.Origin},
	} {
		if len(f.s) > maxText || !utf8.ValidString(f.s) {
			return fmt.Errorf("%s is longer than %d bytes or not UTF-8", f.name, maxText)
		}
	}
	return nil
}

func checkID(name, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is missing", name)
		}
		return nil
	}
	if len(s) > maxID {
		return fmt.Errorf("%s is longer than %d bytes", name, maxID)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("%s %q may only contain letters, digits and the marks - _ . : (colon)", name, clip(s))
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Content returns r with the fields the command service sets cleared: what
// a kiosk sent.
func (r Result) Content() Result {
	r.ReceivedAt, r.RxSeq, r.Flags, r.Derived = nil, 0, nil, nil
	return r
}

// Fingerprint returns a digest of the result's content (the fields a kiosk
// sets). Two sends of the same result have the same fingerprint; the command
// uses it to tell an identical resend from a conflicting one.
func (r Result) Fingerprint() string {
	c := r.Content()
	c.MeasuredAt = c.MeasuredAt.UTC()
	if c.DeviceTime != nil {
		t := c.DeviceTime.UTC()
		c.DeviceTime = &t
	}
	b, _ := json.Marshal(c) // a struct of plain fields always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Hello opens a kiosk link (kiosk → command).
type Hello struct {
	Header
	KioskID   string    `json:"kiosk_id"`
	BootEpoch uint64    `json:"boot_epoch"` // incremented durably at each kiosk start
	LastSeq   uint64    `json:"last_seq"`   // highest seq in the kiosk's outbox (0 if none)
	Pending   int       `json:"pending"`    // results not yet acknowledged
	Software  string    `json:"software,omitempty"`
	SentAt    time.Time `json:"sent_at"` // kiosk clock
	// Features lists what the kiosk understands beyond the messages every
	// v1 kiosk knows ([FeatureResend]); a command sends a message of a
	// feature only to a kiosk that listed it. Absent from older kiosks.
	Features []string `json:"features,omitempty"`
}

// Features a kiosk may list in Hello.Features.
const (
	// FeatureResend: the kiosk answers a [Resend] by sending again what it
	// holds in the range.
	FeatureResend = "resend"
)

// Has reports whether the hello lists feature f.
func (m *Hello) Has(f string) bool {
	for _, x := range m.Features {
		if x == f {
			return true
		}
	}
	return false
}

// Resend asks a kiosk to send again every result it still holds with
// FromSeq ≤ seq ≤ ToSeq, acknowledged or not (command → kiosk): the command
// lost them (a restore from an older backup) or holds them damaged. The
// kiosk sends what it has of the range as ordinary results messages, which
// are acked as usual; what it no longer holds it cannot send. Only sent to
// a kiosk whose hello listed [FeatureResend].
type Resend struct {
	Header
	FromSeq uint64 `json:"from_seq"`
	ToSeq   uint64 `json:"to_seq"`
	// Reason says why, for the kiosk's log ("damaged", "missing").
	Reason string `json:"reason,omitempty"`
}

// Validate checks a Resend: 1 ≤ from_seq ≤ to_seq.
func (m *Resend) Validate() error {
	if m.FromSeq == 0 || m.ToSeq < m.FromSeq {
		return fmt.Errorf("from_seq %d to_seq %d is not a range 1 ≤ from_seq ≤ to_seq", m.FromSeq, m.ToSeq)
	}
	return nil
}

// Welcome answers Hello (command → kiosk).
type Welcome struct {
	Header
	KioskID string `json:"kiosk_id"`
	// AckedUpTo is the highest seq up to which the command holds every
	// result of this kiosk (its contiguous high-water mark), capped at the
	// kiosk's LastSeq. The kiosk resends everything it still holds above
	// it, acknowledged or not, and everything unacknowledged below it.
	AckedUpTo  uint64    `json:"acked_up_to"`
	ServerTime time.Time `json:"server_time"`
	// MaxInFlight is the most results the kiosk may send before an ack.
	MaxInFlight int `json:"max_in_flight"`
	// Rules is the command's current rule book; the kiosk keeps it and
	// decides with it from now on (absent from an older command).
	Rules *assay.Book `json:"rules,omitempty"`
	// Sites are the sites the kiosk is registered to report for, with
	// their names and categories, for the screen's pick list (at most
	// MaxWelcomeSites, by id; absent from an older command and for a
	// kiosk bound to no list and no event).
	Sites []SiteInfo `json:"sites,omitempty"`
}

// MaxWelcomeSites bounds Welcome.Sites (a few hundred bytes each, well
// inside MaxKioskMessage).
const MaxWelcomeSites = 1000

// SiteInfo names a site for a kiosk's pick list, from the command's site
// records.
type SiteInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	NameEn string `json:"name_en,omitempty"`
	// Kind is stall, kitchen, market or banquet.
	Kind string `json:"kind,omitempty"`
	// Category is the site's business (奶茶, 凉菜, 烧烤 …).
	Category string `json:"category,omitempty"`
}

// RuleBook carries a new rule book to a connected kiosk when an admin
// changed it (command → kiosk). The kiosk keeps it durably and decides
// every later result with it. Decode does not validate the book: a kiosk
// checks it (assay.Book.Validate) and keeps its current one if it cannot
// use it, without dropping the link.
type RuleBook struct {
	Header
	Book assay.Book `json:"book"`
}

// Results carries 1 to MaxBatch results in ascending seq order
// (kiosk → command).
type Results struct {
	Header
	Results []Result `json:"results"`
}

// Ack acknowledges every result of this kiosk with seq ≤ UpToSeq sent on
// this connection: each is stored durably (command → kiosk).
type Ack struct {
	Header
	UpToSeq uint64 `json:"up_to_seq"`
	// Duplicates counts results in the acknowledged range that were
	// already stored (identical resends), for the kiosk's diagnostics.
	Duplicates int `json:"duplicates,omitempty"`
}

// Reject refuses one result (command → kiosk): the command holds another
// result with this result_id, or the result is invalid. The kiosk keeps it
// aside for the operator and does not resend it.
type Reject struct {
	Header
	ResultID string `json:"result_id"`
	Seq      uint64 `json:"seq"`
	Code     string `json:"code"` // "conflict" or "invalid"
	Message  string `json:"message"`
}

// Reject codes.
const (
	RejectConflict = "conflict"
	RejectInvalid  = "invalid"
	// RejectOutOfScope: the result is for a site outside the kiosk's
	// registration (another event's stall, a site not in its list).
	RejectOutOfScope = "out_of_scope"
)

// InstrumentStatus is one instrument's health in a Status message.
type InstrumentStatus struct {
	ID        string `json:"id"`
	Model     string `json:"model"`
	State     string `json:"state"` // ready, measuring, down, unknown
	LastError string `json:"last_error,omitempty"`
}

// Status is a kiosk's periodic health report (kiosk → command).
type Status struct {
	Header
	Pending       int                `json:"pending"`
	OldestPending *time.Time         `json:"oldest_pending,omitempty"`
	Storage       string             `json:"storage"` // "ok" or the storage error
	Instruments   []InstrumentStatus `json:"instruments"`
	Lon           float64            `json:"lon,omitempty"`
	Lat           float64            `json:"lat,omitempty"`
	SiteID        string             `json:"site_id,omitempty"`
	KioskTime     time.Time          `json:"kiosk_time"`
	// RulesVersion is the rule book the kiosk decides with (0: its
	// built-in rules).
	RulesVersion uint64 `json:"rules_version,omitempty"`
}

// Alarm reports a condition a person must look at (kiosk → command), such
// as a salvaged storage file or a clock jump.
type Alarm struct {
	Header
	Code    string    `json:"code"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Notice tells a kiosk something about one of its results
// (command → kiosk), such as the incident number a positive opened.
type Notice struct {
	Header
	ResultID   string `json:"result_id"`
	IncidentNo string `json:"incident_no,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Error reports a protocol or authorisation failure before a close (either
// direction).
type Error struct {
	Header
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Subscribe asks for live updates after sequence Since (browser → command);
// Since 0 asks for a snapshot.
type Subscribe struct {
	Header
	Since uint64 `json:"since"`
	// Stream is the stream id of the snapshot or delta Since belongs to.
	// A different (or empty) stream means the server restarted and its
	// sequence numbers start again: the answer is a snapshot.
	Stream string `json:"stream,omitempty"`
}

// StallState is the latest verdict at one stall or kitchen.
type StallState struct {
	StallID    string        `json:"stall_id"`
	ResultID   string        `json:"result_id"`
	Verdict    assay.Verdict `json:"verdict"`
	Method     assay.Method  `json:"method"`
	Analyte    string        `json:"analyte"`
	Value      float64       `json:"value"`
	Unit       string        `json:"unit"`
	MeasuredAt time.Time     `json:"measured_at"`
	// OpenIncident is set while an incident opened at this site is not
	// closed: the map keeps the site alarming (Shown) until it is, whatever
	// later results say — a negative after a positive does not make it
	// green.
	OpenIncident *StallIncident `json:"open_incident,omitempty"`
}

// StallIncident is the open incident that keeps a site alarming: its id,
// its state, and the verdict that opened it (positive, suspicious, or fail
// for a temperature breach).
type StallIncident struct {
	ID      string        `json:"id"`
	State   string        `json:"state"`
	Verdict assay.Verdict `json:"verdict"`
}

// Shown is the verdict the map draws the site with: the latest result's,
// unless an open incident holds it at the verdict that opened it (a
// positive latest result is shown as positive either way).
func (s StallState) Shown() assay.Verdict {
	if s.OpenIncident != nil && s.Verdict != assay.Positive {
		return s.OpenIncident.Verdict
	}
	return s.Verdict
}

// KioskState is a kiosk as the map shows it.
type KioskState struct {
	KioskID     string             `json:"kiosk_id"`
	Name        string             `json:"name,omitempty"`
	Online      bool               `json:"online"`
	Pending     int                `json:"pending"`
	LastSeen    *time.Time         `json:"last_seen,omitempty"`
	Lon         float64            `json:"lon,omitempty"`
	Lat         float64            `json:"lat,omitempty"`
	SiteID      string             `json:"site_id,omitempty"`
	EventID     string             `json:"event_id,omitempty"` // the event it is registered to
	Storage     string             `json:"storage,omitempty"`
	Instruments []InstrumentStatus `json:"instruments,omitempty"`
	// RulesVersion is the rule book the kiosk last reported deciding
	// with.
	RulesVersion uint64 `json:"rules_version,omitempty"`
}

// Snapshot is the complete live state (command → browser). Seq is the
// sequence of the last delta it includes.
type Snapshot struct {
	Header
	// Stream identifies this run of the server's live stream; sequence
	// numbers are only comparable within one stream.
	Stream  string       `json:"stream,omitempty"`
	Seq     uint64       `json:"seq"`
	Results []Result     `json:"results"` // most recent first
	Stalls  []StallState `json:"stalls"`
	Kiosks  []KioskState `json:"kiosks"`
	// Extra holds further live collections by name (incidents, teams,
	// alerts, …) as their REST representations.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// Delta kinds.
const (
	KindResult   = "result"
	KindStall    = "stall"
	KindKiosk    = "kiosk"
	KindAlert    = "alert"
	KindIncident = "incident"
	KindTeam     = "team"
	KindEvent    = "event"
	KindBanquet  = "banquet"
	KindRules    = "rules" // a new rule-book version (its summary)
)

// Delta is one change to the live state (command → browser). Seq increases
// by one per delta; a gap means deltas were missed and the browser must
// resubscribe.
type Delta struct {
	Header
	Stream string          `json:"stream,omitempty"`
	Seq    uint64          `json:"seq"`
	Kind   string          `json:"kind"`
	Data   json.RawMessage `json:"data"`
}

func (m *Hello) header() *Header     { return &m.Header }
func (m *Welcome) header() *Header   { return &m.Header }
func (m *RuleBook) header() *Header  { return &m.Header }
func (m *Results) header() *Header   { return &m.Header }
func (m *Ack) header() *Header       { return &m.Header }
func (m *Reject) header() *Header    { return &m.Header }
func (m *Status) header() *Header    { return &m.Header }
func (m *Alarm) header() *Header     { return &m.Header }
func (m *Notice) header() *Header    { return &m.Header }
func (m *Resend) header() *Header    { return &m.Header }
func (m *Error) header() *Header     { return &m.Header }
func (m *Subscribe) header() *Header { return &m.Header }
func (m *Snapshot) header() *Header  { return &m.Header }
func (m *Delta) header() *Header     { return &m.Header }

// MessageType implementations.
func (*Hello) MessageType() string     { return TypeHello }
func (*Welcome) MessageType() string   { return TypeWelcome }
func (*RuleBook) MessageType() string  { return TypeRules }
func (*Results) MessageType() string   { return TypeResults }
func (*Ack) MessageType() string       { return TypeAck }
func (*Reject) MessageType() string    { return TypeReject }
func (*Status) MessageType() string    { return TypeStatus }
func (*Alarm) MessageType() string     { return TypeAlarm }
func (*Notice) MessageType() string    { return TypeNotice }
func (*Resend) MessageType() string    { return TypeResend }
func (*Error) MessageType() string     { return TypeError }
func (*Subscribe) MessageType() string { return TypeSubscribe }
func (*Snapshot) MessageType() string  { return TypeSnapshot }
func (*Delta) MessageType() string     { return TypeDelta }

// Validate checks a Hello.
func (m *Hello) Validate() error { return checkID("kiosk_id", m.KioskID, true) }

// Validate checks a Results batch: 1 to MaxBatch valid results in strictly
// ascending seq order, all from one kiosk.
func (m *Results) Validate() error {
	if len(m.Results) == 0 || len(m.Results) > MaxBatch {
		return fmt.Errorf("a batch carries 1 to %d results, not %d", MaxBatch, len(m.Results))
	}
	for i := range m.Results {
		r := &m.Results[i]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("results[%d] (seq %d): %w", i, r.Seq, err)
		}
		if i > 0 {
			if r.KioskID != m.Results[0].KioskID {
				return fmt.Errorf("results[%d]: kiosk_id differs within one batch", i)
			}
			if r.Seq <= m.Results[i-1].Seq {
				return fmt.Errorf("results[%d]: seq %d not above the previous %d", i, r.Seq, m.Results[i-1].Seq)
			}
		}
	}
	return nil
}

// Validate checks a Delta.
func (m *Delta) Validate() error {
	if m.Kind == "" {
		return errors.New("kind is missing")
	}
	return nil
}
