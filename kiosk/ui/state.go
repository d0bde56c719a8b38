package ui

import (
	"slices"
	"strconv"
	"time"

	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
	"github.com/shianfood/shian/protocols/wire"
)

// State is everything the screen shows, sent whole on every change.
type State struct {
	Kiosk       KioskInfo        `json:"kiosk"`
	Link        uplink.LinkState `json:"link"`
	Queue       outbox.Stats     `json:"queue"`
	Storage     Storage          `json:"storage"`
	Instruments []Instrument     `json:"instruments"`
	Waiting     *Waiting         `json:"waiting"`
	Latest      *ResultView      `json:"latest"`
	Recent      []Summary        `json:"recent"`
	Alarm       alarm.State      `json:"alarm"`
	// AlarmResult is the result that raised the alarm, when known.
	AlarmResult *Summary `json:"alarm_result,omitempty"`
	Stalls      []Stall  `json:"stalls"`
	// RecentStalls are the stall ids of recent results, newest first.
	RecentStalls []string `json:"recent_stalls"`
	// Rules is the rule book the kiosk decides with; Lots its kit lots,
	// for the lot pick list.
	Rules RulesInfo `json:"rules"`
	Lots  []LotView `json:"lots"`
	// Samples are the sample suggestions per stall category ("" for a
	// stall of none), protocols/domain/stallsamples.
	Samples stallsamples.Table `json:"samples"`
}

// RulesInfo says which rules decide: the command's rule book (Version ≥ 1)
// or the kiosk's built-in rules (Builtin, version 0: it never received a
// book).
type RulesInfo struct {
	Version  uint64     `json:"version"`
	Builtin  bool       `json:"builtin"`
	IssuedAt *time.Time `json:"issued_at,omitempty"`
	Note     string     `json:"note,omitempty"`
}

// LotView is one kit lot of the rule book as the pick list shows it.
type LotView struct {
	ID      string         `json:"id"`
	Name    string         `json:"name,omitempty"`
	Analyte string         `json:"analyte,omitempty"`
	Methods []assay.Method `json:"methods,omitempty"`
	Expires string         `json:"expires"`
	// Expired is true once the lot may no longer be used (today, China
	// Standard Time, is after Expires).
	Expired bool `json:"expired"`
	// Own is true when the lot has cut-offs of its own.
	Own bool `json:"own"`
}

// KioskInfo names the kiosk.
type KioskInfo struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Operator     string `json:"operator,omitempty"`
	DefaultStall string `json:"default_stall,omitempty"`
}

// Storage is the health of the kiosk's result store.
type Storage struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Instrument is an instrument's live status with its configuration.
type Instrument struct {
	device.Status
	Protocol    string   `json:"protocol,omitempty"`
	Items       []string `json:"items,omitempty"`
	Triggerable bool     `json:"triggerable"`
	// Lots are, per test item ("" when it has none), the ids of the rule
	// book's lots made for this instrument's methods and that item,
	// in-date and expired alike.
	Lots map[string][]string `json:"lots,omitempty"`
}

// Field is one displayed value: a raw measurement or a derived figure.
// Key names its label in the page's string table (raw.<key>).
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// ResultView is a result as the verdict screen shows it.
type ResultView struct {
	// Key identifies the view: the result id, or unsaved-N.
	Key    string      `json:"key"`
	Result wire.Result `json:"result"`
	// Saved is true only when the outbox write succeeded.
	Saved bool `json:"saved"`
	// State is the outbox state: pending, acked or rejected.
	State  string       `json:"state,omitempty"`
	Reject *wire.Reject `json:"reject,omitempty"`
	// Error is set when the result was NOT saved; ErrorNoted once the
	// operator confirmed noting its values.
	Error      string `json:"error,omitempty"`
	ErrorNoted bool   `json:"error_noted,omitempty"`
	StallName  string `json:"stall_name,omitempty"`
	// Main is the headline figure (inhibition rate, T/C, °C …), absent
	// when the test gave none.
	Main   *Field  `json:"main,omitempty"`
	Fields []Field `json:"fields"`
	// IncidentNo is the command's incident number for this result (or the
	// result it repeats), once known.
	IncidentNo string `json:"incident_no,omitempty"`
	// RepeatIncidentNo is set on a repeat that the command gave an
	// incident of its own, other than its original's.
	RepeatIncidentNo string  `json:"repeat_incident_no,omitempty"`
	Notice           string  `json:"notice,omitempty"`
	Series           *Series `json:"series,omitempty"`
	// RetestBy is the end of the 4-hour window in which the business may
	// ask for a (non-rapid) re-test of a positive or failed result.
	RetestBy *time.Time `json:"retest_by,omitempty"`
}

// Series is a positive or suspicious result with its repeats.
type Series struct {
	OriginalID string    `json:"original_id"`
	Original   *Summary  `json:"original,omitempty"`
	Repeats    []Summary `json:"repeats"`
	// Required is how many repeats the method requires (2 for an enzyme
	// positive; 0 where none is required but a repeat is advised).
	Required int `json:"required"`
	// Retest is the enzyme rule's reading of the series.
	Retest *assay.RetestStatus `json:"retest,omitempty"`
}

// Summary is one line of the history.
type Summary struct {
	ResultID   string        `json:"result_id"`
	Seq        uint64        `json:"seq"`
	StallID    string        `json:"stall_id"`
	StallName  string        `json:"stall_name,omitempty"`
	SampleName string        `json:"sample_name,omitempty"`
	Item       string        `json:"item,omitempty"`
	Method     assay.Method  `json:"method"`
	Verdict    assay.Verdict `json:"verdict"`
	Value      float64       `json:"value"`
	Unit       string        `json:"unit,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	RepeatOf   string        `json:"repeat_of,omitempty"`
	MeasuredAt time.Time     `json:"measured_at"`
	State      string        `json:"state"`
	IncidentNo string        `json:"incident_no,omitempty"`
}

// recentCache keeps the decoded history until the outbox changes.
type recentCache struct {
	valid             bool
	lastSeq           uint64
	pending, rejected int
	lastAck           time.Time
	recs              []outbox.Record
	err               error
}

// historyDepth is how many records the screen looks at for the history,
// the stall list and the repeats of a series.
const historyDepth = 100

func (s *Server) recent(q outbox.Stats) ([]outbox.Record, error) {
	var ack time.Time
	if q.LastAck != nil {
		ack = *q.LastAck
	}
	s.mu.Lock()
	c := s.cache
	s.mu.Unlock()
	if c.valid && c.lastSeq == q.LastSeq && c.pending == q.Pending && c.rejected == q.Rejected && c.lastAck.Equal(ack) {
		return c.recs, c.err
	}
	recs, err := s.cfg.Backend.Recent(historyDepth)
	s.mu.Lock()
	s.cache = recentCache{valid: true, lastSeq: q.LastSeq, pending: q.Pending, rejected: q.Rejected, lastAck: ack, recs: recs, err: err}
	s.mu.Unlock()
	return recs, err
}

// State returns the screen state now.
func (s *Server) State() State {
	b := s.cfg.Backend
	st := State{
		Kiosk: KioskInfo{ID: s.cfg.KioskID, Name: s.cfg.Name, Operator: s.cfg.Operator, DefaultStall: s.cfg.DefaultStall},
		Link:  b.Link(), Queue: b.Stats(),
	}
	recs, rerr := s.recent(st.Queue)
	st.Storage.OK = true
	switch {
	case st.Queue.StorageErr != "":
		st.Storage = Storage{Error: st.Queue.StorageErr}
	case rerr != nil:
		st.Storage = Storage{Error: rerr.Error()}
	}
	book := s.book()
	for _, is := range b.Instruments() {
		d := s.devices[is.ID]
		st.Instruments = append(st.Instruments, Instrument{Status: is, Protocol: d.Protocol, Items: d.Items, Triggerable: d.Triggerable,
			Lots: lotsFor(book, d)})
	}

	s.mu.Lock()
	if s.saveErr != "" && st.Storage.OK {
		st.Storage = Storage{Error: s.saveErr}
	}
	if s.waiting != nil {
		w := *s.waiting
		st.Waiting = &w
	}
	var latest *ResultView
	if s.latest != nil {
		lv := *s.latest
		latest = &lv
	}
	// Read with the latest result: OnSaved raises the alarm of a positive
	// before it shows it, so a state never has the one without the other.
	st.Alarm = s.cfg.Alarm.State()
	notices := make(map[string]wire.Notice, len(s.notices))
	for k, v := range s.notices {
		notices[k] = v
	}
	s.mu.Unlock()

	byID := make(map[string]*outbox.Record, len(recs))
	for i := range recs {
		byID[recs[i].Result.ResultID] = &recs[i]
	}
	incident := func(r wire.Result) string {
		if n, ok := notices[r.ResultID]; ok && n.IncidentNo != "" {
			return n.IncidentNo
		}
		if r.RepeatOf != "" {
			if n, ok := notices[r.RepeatOf]; ok {
				return n.IncidentNo
			}
		}
		return ""
	}
	if latest != nil && latest.Saved {
		if rec, ok := byID[latest.Result.ResultID]; ok {
			latest.State, latest.Reject = rec.State, rec.Reject
		}
		own := notices[latest.Result.ResultID].IncidentNo
		orig := ""
		if latest.Result.RepeatOf != "" {
			orig = notices[latest.Result.RepeatOf].IncidentNo
		}
		latest.IncidentNo = own
		if orig != "" {
			// The batch's incident is the original positive's.
			latest.IncidentNo = orig
			if own != "" && own != orig {
				latest.RepeatIncidentNo = own
			}
		}
		if n, ok := notices[latest.Result.ResultID]; ok {
			latest.Notice = n.Message
		}
		latest.Series = s.series(latest.Result, recs, incident)
		latest.RetestBy = retestBy(latest.Result, latest.Series)
	}
	st.Latest = latest

	seen := map[string]bool{}
	for i, rec := range recs {
		sum := s.summary(rec, incident)
		if i < 12 {
			st.Recent = append(st.Recent, sum)
		}
		if st.Alarm.Active && rec.Result.ResultID == st.Alarm.Reason {
			st.AlarmResult = &sum
		}
		if id := rec.Result.StallID; id != "" && !seen[id] && len(st.RecentStalls) < 8 {
			seen[id] = true
			st.RecentStalls = append(st.RecentStalls, id)
		}
	}
	if st.Alarm.Active && st.AlarmResult == nil && latest != nil && latest.Key == st.Alarm.Reason {
		r := latest.Result
		st.AlarmResult = &Summary{ResultID: r.ResultID, StallID: r.StallID, StallName: s.stallName(r.StallID), SampleName: r.Sample.Name,
			Method: r.Method, Verdict: r.Verdict, Value: r.Value, Unit: r.Unit, MeasuredAt: r.MeasuredAt}
	}
	st.Stalls = s.stallList()
	st.Samples = s.cfg.Samples
	listed := map[string]bool{}
	for _, x := range st.Stalls {
		listed[x.ID] = true
	}
	for _, id := range st.RecentStalls {
		if !listed[id] {
			st.Stalls = append(st.Stalls, Stall{ID: id, Recent: true})
		}
	}
	for i := range st.Stalls {
		if seen[st.Stalls[i].ID] {
			st.Stalls[i].Recent = true
		}
	}
	if st.Recent == nil {
		st.Recent = []Summary{}
	}
	if st.RecentStalls == nil {
		st.RecentStalls = []string{}
	}
	st.Rules = RulesInfo{Version: book.Version, Builtin: book.Version == 0, Note: book.Note}
	if book.Version > 0 {
		at := book.IssuedAt
		st.Rules.IssuedAt = &at
	}
	now := s.cfg.Now()
	st.Lots = make([]LotView, 0, len(book.Lots))
	for _, l := range book.Lots {
		st.Lots = append(st.Lots, LotView{ID: l.ID, Name: l.Name, Analyte: l.Analyte, Methods: l.Methods, Expires: l.Expires,
			Expired: l.Expired(now), Own: l.Gold != nil || len(l.GoldModels) > 0 || l.Enzyme != nil})
	}
	return st
}

// lotsFor lists, per item of d, the book's lots that may be used with it.
func lotsFor(b assay.Book, d Device) map[string][]string {
	if len(b.Lots) == 0 {
		return nil
	}
	items := d.Items
	if len(items) == 0 {
		items = []string{""}
	}
	out := map[string][]string{}
	for _, it := range items {
		ids := []string{}
		for _, l := range b.Lots {
			ok := len(d.Methods) == 0 || len(l.Methods) == 0
			for _, m := range d.Methods {
				ok = ok || l.For(m, "")
			}
			if ok && l.For("", it) {
				ids = append(ids, l.ID)
			}
		}
		out[it] = ids
	}
	return out
}

func (s *Server) summary(rec outbox.Record, incident func(wire.Result) string) Summary {
	r := rec.Result
	return Summary{ResultID: r.ResultID, Seq: r.Seq, StallID: r.StallID, StallName: s.stallName(r.StallID),
		SampleName: r.Sample.Name, Item: r.Item, Method: r.Method, Verdict: r.Verdict, Value: r.Value, Unit: r.Unit,
		Reason: r.Reason, RepeatOf: r.RepeatOf, MeasuredAt: r.MeasuredAt, State: rec.State, IncidentNo: incident(r)}
}

// series finds the original of r (r itself, or what it repeats) and its
// repeats among the recent records. It returns nil when r is neither a
// repeat nor a result that asks for one.
func (s *Server) series(r wire.Result, recs []outbox.Record, incident func(wire.Result) string) *Series {
	origID := r.ResultID
	if r.RepeatOf != "" {
		origID = r.RepeatOf
	}
	ser := &Series{OriginalID: origID, Repeats: []Summary{}}
	var orig *wire.Result
	if r.RepeatOf == "" {
		orig = &r
	}
	for i := len(recs) - 1; i >= 0; i-- { // oldest first
		rec := recs[i]
		switch {
		case rec.Result.ResultID == origID:
			o := rec.Result
			orig = &o
			sum := s.summary(rec, incident)
			ser.Original = &sum
		case rec.Result.RepeatOf == origID:
			ser.Repeats = append(ser.Repeats, s.summary(rec, incident))
		}
	}
	if orig != nil && ser.Original == nil {
		sum := s.summary(outbox.Record{Result: *orig, State: outbox.StatePending}, incident)
		ser.Original = &sum
	}
	if r.RepeatOf == "" && (orig == nil || (orig.Verdict != assay.Positive && orig.Verdict != assay.Suspicious)) {
		return nil
	}
	if orig != nil {
		ser.Required = orig.RepeatsRequired
		if orig.Method == assay.EnzymeInhibition && orig.Verdict == assay.Positive {
			outs := make([]assay.Outcome, 0, len(ser.Repeats))
			for _, rp := range ser.Repeats {
				outs = append(outs, assay.Outcome{Verdict: rp.Verdict, Value: rp.Value, Unit: rp.Unit})
			}
			rs := s.book().For(orig.Model, orig.Lot).Enzyme.Retest(assay.Outcome{Verdict: orig.Verdict, Value: orig.Value}, outs, "")
			ser.Retest = &rs
		}
	}
	return ser
}

// RetestWindow is how long after a positive the business may ask for a
// re-test, which must not use a rapid method (DOMAIN §1.3).
const RetestWindow = 4 * time.Hour

func retestBy(r wire.Result, ser *Series) *time.Time {
	at := r.MeasuredAt
	v := r.Verdict
	if ser != nil && ser.Original != nil && r.RepeatOf != "" {
		at, v = ser.Original.MeasuredAt, ser.Original.Verdict
	}
	if v.Severity() != 2 || at.IsZero() {
		return nil
	}
	t := at.Add(RetestWindow)
	return &t
}

// view is the part of a result view that does not depend on the history.
func (s *Server) view(r wire.Result, saveErr string) ResultView {
	rv := ResultView{Key: r.ResultID, Result: r, Saved: saveErr == "", Error: saveErr, StallName: s.stallName(r.StallID),
		Fields: rawFields(r)}
	if saveErr == "" {
		rv.State = outbox.StatePending
	}
	if r.Verdict != assay.Invalid && r.Unit != "" {
		rv.Main = &Field{Key: "value", Value: formatValue(r.Value, r.Unit), Unit: r.Unit}
	}
	return rv
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "%":
		return strconv.FormatFloat(v, 'f', 2, 64)
	case "T", "T/C":
		return strconv.FormatFloat(v, 'f', 3, 64)
	case "°C":
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// rawFields lists the measurements behind a verdict, formatted with their
// units.
func rawFields(r wire.Result) []Field {
	raw := r.Raw
	var f []Field
	add := func(key, value, unit string) { f = append(f, Field{Key: key, Value: value, Unit: unit}) }
	fix := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	if raw.ControlDeltaA != nil {
		add("control_delta_a", fix(raw.ControlDeltaA.Float(), 3), "A")
	}
	if raw.SampleDeltaA != nil {
		add("sample_delta_a", fix(raw.SampleDeltaA.Float(), 3), "A")
	}
	if raw.ControlDeltaA != nil && raw.SampleDeltaA != nil {
		if rate, ok := assay.Inhibition(*raw.ControlDeltaA, *raw.SampleDeltaA); ok {
			add("inhibition_rate", fix(rate.Float(), 2), "%")
		} else {
			add("inhibition_rate", "—", "")
		}
	}
	if raw.C != nil {
		add("c", fix(raw.C.Float(), 3), "")
	}
	if raw.T != nil {
		add("t", fix(raw.T.Float(), 3), "")
	}
	if raw.C != nil && raw.T != nil {
		if ratio, ok := measure.RatioOf(int64(max(*raw.T, 0)), int64(*raw.C)); ok && *raw.C > 0 {
			add("tc", fix(ratio.Float(), 3), "")
		} else {
			add("tc", "—", "")
		}
	}
	if raw.RLU != nil {
		add("rlu", strconv.FormatInt(int64(*raw.RLU), 10), "RLU")
	}
	if raw.TPC != nil {
		add("tpc", fix(raw.TPC.Float(), 1), "%")
	}
	if raw.AcidValue != nil {
		add("acid_value", fix(raw.AcidValue.Float(), 2), "mg KOH/g")
	}
	for _, t := range []struct {
		key string
		v   *measure.Temperature
	}{{"core_temp", raw.CoreTemp}, {"surface_temp", raw.SurfaceTemp}, {"air_temp", raw.AirTemp}} {
		if t.v != nil {
			add(t.key, fix(t.v.Float(), 1), "°C")
		}
	}
	if raw.Humidity != nil {
		add("humidity", fix(raw.Humidity.Float(), 1), "%")
	}
	if raw.Mass != nil {
		add("mass", fix(raw.Mass.Float(), 1), "g")
	}
	if raw.KeptHours != nil {
		add("kept_hours", strconv.FormatInt(*raw.KeptHours, 10), "h")
	}
	if f == nil {
		f = []Field{}
	}
	return slices.Clip(f)
}
