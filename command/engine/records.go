package engine

import (
	"time"

	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Store kinds (keys are "<kind>:<id>" through store.Put/Get/List).
const (
	kindEvent     = "event"     // assurance.Event
	kindReadiness = "readiness" // KitchenRecord, id "<event>:<kitchen>"
	kindMenu      = "menu"      // assurance.Menu
	kindTeam      = "team"      // Team
	kindIncident  = "incident"  // Incident
	kindBanquet   = "banquet"   // Banquet
	kindChef      = "chef"      // assurance.VillageChef
	kindCredit    = "credit"    // Credit
	kindVisit     = "visit"     // PatrolVisit, id "<RFC3339 UTC>:<target>"
	kindCluster   = "cluster"   // Cluster
	kindEvidence  = "evidence"  // Evidence
)

// Team modes (the glossary's stationed and patrol).
const (
	ModeStationed = "stationed" // 驻点保障: posted at one kitchen
	ModePatrol    = "patrol"    // 巡查督查
)

// Team statuses, derived from duty and the open incidents.
const (
	TeamAvailable = "available" // on duty, no field assignment
	TeamBusy      = "busy"      // assigned, on its way, on site or sealing
	TeamOffDuty   = "off_duty"
)

// Team is an assurance team (保障组) with its last reported position.
type Team struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	NameEN    string   `json:"name_en,omitempty"`
	Mode      string   `json:"mode"`                 // stationed | patrol
	KitchenID string   `json:"kitchen_id,omitempty"` // the post of a stationed team
	EventID   string   `json:"event_id,omitempty"`
	Leader    string   `json:"leader,omitempty"`
	Members   []string `json:"members,omitempty"` // user names of its inspectors
	// Home is where the team is posted (its kitchen or patrol base).
	Home *assurance.Point `json:"home,omitempty"`
	// Position is the last position the team reported, and PositionAt
	// when (the command's clock).
	Position   *assurance.Point `json:"position,omitempty"`
	PositionAt time.Time        `json:"position_at,omitzero"`
	OnDuty     bool             `json:"on_duty"`

	// Derived on every read, never trusted from the stored copy.
	Status     string          `json:"status"`                // available | busy | off_duty
	StatusL    assurance.Label `json:"status_label"`          // zh-CN, en
	IncidentID string          `json:"incident_id,omitempty"` // the field assignment it is busy with
}

// at returns where the team is: its reported position, else its home.
func (t Team) at() *assurance.Point {
	if t.Position != nil {
		return t.Position
	}
	return t.Home
}

// Dispatch records one assignment of an incident to a team.
type Dispatch struct {
	TeamID   string    `json:"team_id"`
	Metres   float64   `json:"metres"` // great-circle distance at assignment (0 when unknown)
	At       time.Time `json:"at"`
	Deadline time.Time `json:"deadline,omitzero"`
	By       string    `json:"by"`   // user, or "system" for automatic dispatch
	Auto     bool      `json:"auto"` // chosen as the nearest available team
}

// Origin says from where one audit entry was recorded: the client's
// address (the position is in the audit entry's where).
type Origin struct {
	Seq  int    `json:"seq"`
	Addr string `json:"addr,omitempty"`
}

// EscalationMark records an escalation already raised, so that a level is
// raised once per state visit.
type EscalationMark struct {
	State    assurance.IncidentState `json:"state"`
	Since    time.Time               `json:"since"`
	Level    int                     `json:"level"`
	At       time.Time               `json:"at"`
	AlarmSeq uint64                  `json:"alarm_seq,omitempty"`
}

// Incident is the stored closed-loop case: the protocol's record plus what
// the command service knows around it.
type Incident struct {
	assurance.Incident
	// StateLabel is the current state's label (derived on read).
	StateLabel  assurance.Label `json:"state_label"`
	KioskID     string          `json:"kiosk_id,omitempty"`
	SubjectName string          `json:"subject_name,omitempty"`
	Business    string          `json:"business,omitempty"`
	Analyte     string          `json:"analyte,omitempty"` // of the result, for cluster warnings
	// ItemName is the result's test item as people read it (检测项目,
	// e.g. 有机磷和氨基甲酸酯类农药): what a cluster warning names.
	ItemName    string           `json:"item_name,omitempty"`
	Dispatches  []Dispatch       `json:"dispatches,omitempty"`
	Evidence    []Evidence       `json:"evidence_files,omitempty"`
	Origins     []Origin         `json:"origins,omitempty"`
	Escalations []EscalationMark `json:"escalations,omitempty"`
	// Repeat is the wait for repeats of the opening result (待复测), when
	// the repeat-before-dispatch policy applies to it.
	Repeat *RepeatWait `json:"repeat,omitempty"`
	// Due is when the current state must be left (derived on read).
	DueAt time.Time `json:"due,omitzero"`
	// Complaint is set when the public filed this incident (投诉举报): its
	// number, the reply deadline and the reply the complainant sees with
	// the follow-up code. The complainant's contact is not here (it is
	// in the complaint record, for commanders only).
	Complaint *ComplaintFacts `json:"complaint,omitempty"`
}

// Evidence is an uploaded file (a photo of the disposal, a lab report).
// The file lives under DATA/evidence/, named by its SHA-256.
type Evidence struct {
	Ref         string    `json:"ref"`          // "ev-…", cite it in an act's evidence
	Subject     string    `json:"subject"`      // "incident:INC-…" or "banquet:B-…"
	Kind        string    `json:"kind"`         // photo, lab_report, disposal_record, …
	ContentType string    `json:"content_type"` // sniffed, not trusted from the client
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Name        string    `json:"name,omitempty"` // the uploaded file name
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// KitchenRecord is what is recorded about one kitchen's readiness for one
// event. The menu state and the kiosk's liveness are not stored here: they
// are read from the menu and from the kiosk link at evaluation time.
type KitchenRecord struct {
	EventID string `json:"event_id"`
	assurance.KitchenReadiness
	// Calibrations are the recorded calibrations of the kiosk's
	// instruments, matched by instrument id with what the kiosk reports.
	Calibrations []assurance.InstrumentStatus `json:"calibrations,omitempty"`
	Log          []ReadinessEntry             `json:"log"`
}

// ReadinessEntry is one recorded checklist item: what, who, when.
type ReadinessEntry struct {
	Item assurance.ChecklistItem `json:"item"`
	assurance.Act
}

// Banquet is a rural banquet with its derived views.
type Banquet struct {
	assurance.Banquet
	StateLabel  assurance.Label          `json:"state_label"`
	Point       *assurance.Point         `json:"point,omitempty"`
	WindowStart time.Time                `json:"window_start,omitzero"` // first sitting's start
	WindowEnd   time.Time                `json:"window_end,omitzero"`   // last sitting's end
	FourInPlace []assurance.PillarStatus `json:"four_in_place"`
	Evidence    []Evidence               `json:"evidence_files,omitempty"`
}

// Credit is a food business's credit account with its name.
type Credit struct {
	assurance.Credit
	Name       string          `json:"name,omitempty"`
	Kind       string          `json:"kind,omitempty"` // stall, kitchen, business
	GradeLabel assurance.Label `json:"grade_label"`
}

// PatrolVisit is one patrol inspection of a target.
type PatrolVisit struct {
	ID       string              `json:"id"`
	TargetID string              `json:"target_id"`
	TeamID   string              `json:"team_id,omitempty"`
	Findings []assurance.Finding `json:"findings,omitempty"`
	assurance.Act
}

// Cluster is a cluster warning (聚集性预警): positives of one analyte close
// in space and time.
type Cluster struct {
	ID       string          `json:"id"` // "<analyte>:<first member's result id>"
	Analyte  string          `json:"analyte"`
	ItemName string          `json:"item_name,omitempty"` // the analyte as people read it
	Members  []string        `json:"members"`             // result ids, by time
	Subjects []string        `json:"subjects"`            // stalls and kitchens concerned
	Centroid assurance.Point `json:"centroid"`
	Radius   float64         `json:"radius_m"`
	Start    time.Time       `json:"start"`
	End      time.Time       `json:"end"`
	RaisedAt time.Time       `json:"raised_at"`
	AlarmSeq uint64          `json:"alarm_seq,omitempty"`
}

// EventView is an event as the API and the live map show it.
type EventView struct {
	assurance.Event
	PhaseLabel assurance.Label           `json:"phase_label"`
	Warnings   []assurance.Warning       `json:"warnings,omitempty"`
	Readiness  assurance.ReadinessReport `json:"readiness"`
	// ReadinessItems are the checklist items the configuration checks
	// (Config.Readiness.Items), in display order: the screens list these.
	ReadinessItems []assurance.ChecklistItem `json:"readiness_items"`
}
