package assurance

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Role is what a user may do. Roles are checked per action by the tables of
// each state machine ([IncidentRoles], [EventRoles], [MenuRoles],
// [BanquetRoles]); scoping a user to some events or zones is the command
// service's business, not this package's.
type Role string

// Roles.
const (
	// RoleAdmin (管理员) may do everything a commander may, and receives
	// second-level escalations.
	RoleAdmin Role = "admin"
	// RoleCommander (指挥员) works in the command centre: files events,
	// dispatches teams, signs incidents off (销号).
	RoleCommander Role = "commander"
	// RoleInspector (监督员) is a member of an assurance team (保障组):
	// goes on site, seals, sends to the lab, records disposal, assesses
	// menus, guides banquets.
	RoleInspector Role = "inspector"
	// RoleOperator (检测员) runs rapid tests at a kiosk: opens incidents
	// from results and records a party's re-test request or waiver.
	RoleOperator Role = "operator"
	// RoleViewer (只读用户) sees everything and changes nothing.
	RoleViewer Role = "viewer"
)

// Roles returns every role, most privileged first.
func Roles() []Role {
	return []Role{RoleAdmin, RoleCommander, RoleInspector, RoleOperator, RoleViewer}
}

// Valid reports whether r is a defined role.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Rank orders roles: admin 5 > commander 4 > inspector 3 > operator 2 >
// viewer 1; an undefined role ranks 0. A higher rank may use every route a
// lower one may (the state machines' tables still decide each action).
func (r Role) Rank() int {
	if i := slices.Index(Roles(), r); i >= 0 {
		return len(Roles()) - i
	}
	return 0
}

// AtLeast reports whether r ranks at least as high as min (and is a
// defined role).
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.Rank() >= min.Rank() }

// Label returns the zh-CN and en label.
func (r Role) Label() Label { return labelOf(string(r)) }

// ParseRole parses a role identifier.
func ParseRole(s string) (Role, error) { return parseEnum("role", s, Roles()) }

// Actor is the user who performs an action.
type Actor struct {
	UserID string `json:"user_id"`
	Role   Role   `json:"role"`
	// TeamID is the assurance team (保障组) of an inspector. An inspector
	// may act only on incidents and banquets assigned to this team.
	TeamID string `json:"team_id,omitempty"`
}

func (a Actor) validate(field string) error {
	if a.UserID == "" {
		return invalid(field+".user_id", "required: the id of the user who acts")
	}
	if !a.Role.Valid() {
		return invalid(field+".role", "%q is not a role; use one of admin, commander, inspector, operator, viewer", a.Role)
	}
	return nil
}

// Point is a WGS-84 position (longitude, latitude in degrees), the way the
// store keeps coordinates. Convert to GCJ-02 / BD-09 only for display (geo/).
type Point struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

func (p *Point) validate(field string) error {
	if p == nil {
		return nil
	}
	if math.IsNaN(p.Lon) || math.IsNaN(p.Lat) || math.IsInf(p.Lon, 0) || math.IsInf(p.Lat, 0) ||
		p.Lon < -180 || p.Lon > 180 || p.Lat < -90 || p.Lat > 90 {
		return invalid(field, "(%v, %v) is not a WGS-84 position; longitude must be in [-180, 180] and latitude in [-90, 90]", p.Lon, p.Lat)
	}
	return nil
}

// EvidenceRef points at a piece of evidence kept elsewhere (a photo, a
// signed form, a lab report, a seal record) by the store. This package only
// checks that required evidence is referenced.
type EvidenceRef struct {
	// Kind is a short tag: "photo", "video", "seal_record", "lab_report",
	// "disposal_record", "signature", "document", "result".
	Kind string `json:"kind"`
	// Ref identifies the object in the store (an id, a content hash, a URL).
	Ref string `json:"ref"`
}

// Act says who did something, when and where, with what note and evidence.
// Every transition and every recorded action takes one and turns it into an
// [AuditEntry]. At is supplied by the caller (the command service's
// injected clock); this package never reads the time.
type Act struct {
	Actor    Actor         `json:"actor"`
	At       time.Time     `json:"at"`
	Where    *Point        `json:"where,omitempty"`
	Note     string        `json:"note,omitempty"`
	Evidence []EvidenceRef `json:"evidence,omitempty"`
}

func (a Act) validate() error {
	if err := a.Actor.validate("actor"); err != nil {
		return err
	}
	if a.At.IsZero() {
		return invalid("at", "required: the time of the action")
	}
	if err := a.Where.validate("where"); err != nil {
		return err
	}
	for i, e := range a.Evidence {
		if e.Ref == "" {
			return invalid("evidence["+strconv.Itoa(i)+"].ref", "required: what the evidence is stored as")
		}
	}
	return nil
}

// AuditEntry records one action on a record: every state transition and
// every action that does not change the state (a re-test request, a dish
// decision, a rectification closed). Entries are appended, never changed.
type AuditEntry struct {
	Seq    int    `json:"seq"`    // 1, 2, 3 … within the record
	Action string `json:"action"` // "transition", or e.g. "retest_requested"
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Act
}

// audit is an append-only log shared by the state machines.
type audit []AuditEntry

func (l audit) last() (AuditEntry, bool) {
	if len(l) == 0 {
		return AuditEntry{}, false
	}
	return l[len(l)-1], true
}

// checkTime refuses an action dated before the last recorded one: the log
// is in time order, which the KPIs rely on.
func (l audit) checkTime(at time.Time) error {
	if e, ok := l.last(); ok && at.Before(e.At) {
		return invalid("at", "%s is before the last recorded action (%s at %s); actions are recorded in time order",
			at.Format(time.RFC3339), e.Action, e.At.Format(time.RFC3339))
	}
	return nil
}

func (l *audit) add(action, from, to string, act Act) {
	act.Evidence = slices.Clone(act.Evidence)
	if act.Where != nil {
		w := *act.Where
		act.Where = &w
	}
	*l = append(*l, AuditEntry{Seq: len(*l) + 1, Action: action, From: from, To: to, Act: act})
}

// firstTo returns the time of the first transition into state to.
func (l audit) firstTo(to string) (time.Time, bool) {
	for _, e := range l {
		if e.Action == actionTransition && e.To == to {
			return e.At, true
		}
	}
	return time.Time{}, false
}

const actionTransition = "transition"
