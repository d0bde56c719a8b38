package engine

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Complaints and whistleblowing (投诉举报 / 吹哨人, 社会共治): a diner
// files one from the public page, anonymously if they like; it opens an
// incident of trigger kind complaint, dispatched and closed like a
// positive (研判 → 交办 → 处置 → reply → 销号), and the complainant follows
// it with a private follow-up code. Only the code's SHA-256 is stored.

const kindComplaint = "complaint"

// PublicActor is who files a complaint from the public page: nobody
// logged in. It opens the incident with an operator's role, as a
// complaint taken at a kiosk's counter would be; it can do nothing else
// (the public routes call no other step).
var PublicActor = assurance.Actor{UserID: "public", Role: assurance.RoleOperator}

// ComplaintFacts are the complaint's part of its incident.
type ComplaintFacts struct {
	ID       string          `json:"id"`
	ReplyDue time.Time       `json:"reply_due"`
	Reply    *ComplaintReply `json:"reply,omitempty"`
	Photos   int             `json:"photos,omitempty"`
	// Whistleblower: the complainant asked to stay anonymous (吹哨人).
	Whistleblower bool `json:"whistleblower,omitempty"`
}

// ComplaintReply is the answer the complainant sees.
type ComplaintReply struct {
	Text string    `json:"text"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// Complaint is the stored record (kind "complaint", by its id).
type Complaint struct {
	ID          string           `json:"id"`
	CodeHash    string           `json:"code_hash,omitempty"`
	IncidentID  string           `json:"incident_id"`
	SubjectID   string           `json:"subject_id,omitempty"`
	Where       *assurance.Point `json:"where,omitempty"`
	ObservedAt  time.Time        `json:"observed_at"`
	ReceivedAt  time.Time        `json:"received_at"`
	Description string           `json:"description"`
	// Contact is optional and private: commanders see it, the public page
	// and the live map never do.
	Contact       string `json:"contact,omitempty"`
	Whistleblower bool   `json:"whistleblower,omitempty"`
	Fingerprint   string `json:"fingerprint,omitempty"`
}

// ComplaintFiling is what the public page sends.
type ComplaintFiling struct {
	SubjectID     string           // a stall or kitchen, or empty with Where
	Where         *assurance.Point // a point on the map (WGS-84), or the stall's
	ObservedAt    time.Time        // when it happened (zero: now)
	Description   string           // what happened (required)
	Contact       string           // optional
	Whistleblower bool             // stay anonymous (吹哨人)
}

// ComplaintStatus is what the follow-up code shows: never the contact,
// the team or the internal notes.
type ComplaintStatus struct {
	ID         string           `json:"id"`
	ReceivedAt time.Time        `json:"received_at"`
	Stage      string           `json:"stage"` // received, handling, concluded
	StageLabel assurance.Label  `json:"stage_label"`
	ReplyDue   time.Time        `json:"reply_due"`
	Reply      *ComplaintReply  `json:"reply,omitempty"`
	Subject    string           `json:"subject,omitempty"` // the stall's name
	Where      *assurance.Point `json:"-"`
}

// Complaint errors.
var (
	// ErrDuplicateComplaint: the same complaint (same place, same words)
	// was received in the last 24 hours and is being handled.
	ErrDuplicateComplaint = errors.New("duplicate complaint")
	// ErrUnknownCode: no complaint has this follow-up code.
	ErrUnknownCode = errors.New("unknown follow-up code")
)

// Public photo limits: smaller than staff evidence, photos only.
const (
	MaxPublicPhoto  = 5 << 20
	MaxPublicPhotos = 3
)

// ComplaintReplyWithin is how long the command centre has to answer a
// complaint (its reply deadline).
const ComplaintReplyWithin = 24 * time.Hour

// FileComplaint stores a complaint from the public, opens its incident
// (dispatched like any other), and returns the record and the follow-up
// code, which is shown once and never stored.
func (e *Engine) FileComplaint(f ComplaintFiling) (Complaint, string, error) {
	now := e.deps.Now()
	f.Description = strings.TrimSpace(f.Description)
	f.Contact = strings.TrimSpace(f.Contact)
	switch {
	case utf8.RuneCountInString(f.Description) < 4:
		return Complaint{}, "", &assurance.ValidationError{Field: "description", Problem: "say what happened (at least a few words)"}
	case utf8.RuneCountInString(f.Description) > 1000 || !utf8.ValidString(f.Description):
		return Complaint{}, "", &assurance.ValidationError{Field: "description", Problem: "at most 1000 characters"}
	case utf8.RuneCountInString(f.Contact) > 100 || !utf8.ValidString(f.Contact):
		return Complaint{}, "", &assurance.ValidationError{Field: "contact", Problem: "at most 100 characters"}
	case f.SubjectID == "" && f.Where == nil:
		return Complaint{}, "", &assurance.ValidationError{Field: "where", Problem: "name the stall or give a point on the map"}
	}
	if f.SubjectID != "" {
		var site store.Site
		if err := e.st.Get("site", f.SubjectID, &site); err != nil {
			return Complaint{}, "", &assurance.ValidationError{Field: "stall", Problem: fmt.Sprintf("stall %q is not known; scan its label again or choose a point on the map", clipText(f.SubjectID))}
		}
	}
	if f.ObservedAt.IsZero() || f.ObservedAt.After(now) {
		f.ObservedAt = now
	}
	if f.Whistleblower {
		f.Contact = ""
	}
	fp := complaintFingerprint(f)
	var dup *Complaint
	store.List(e.st, kindComplaint, func(_ string, c Complaint) bool {
		if c.Fingerprint == fp && now.Sub(c.ReceivedAt) < 24*time.Hour {
			dup = &c
			return false
		}
		return true
	})
	if dup != nil {
		return Complaint{}, "", fmt.Errorf("%w: the same complaint was received at %s and is being handled", ErrDuplicateComplaint, dup.ReceivedAt.In(e.zone()).Format("01-02 15:04"))
	}
	code := newFollowUpCode()
	c := Complaint{CodeHash: hashCode(code), SubjectID: f.SubjectID, Where: f.Where,
		ObservedAt: f.ObservedAt, ReceivedAt: now, Description: f.Description, Contact: f.Contact, Whistleblower: f.Whistleblower, Fingerprint: fp}
	inc, err := e.OpenIncident(assurance.Trigger{Kind: assurance.TriggerComplaint, SubjectID: f.SubjectID, Where: f.Where,
		ObservedAt: f.ObservedAt, Description: f.Description}, assurance.Act{Actor: PublicActor, Note: "公众投诉举报 / a complaint from the public page"})
	if err != nil {
		return Complaint{}, "", err
	}
	c.IncidentID = inc.ID
	c.ID = "CP-" + strings.TrimPrefix(inc.ID, "INC-")
	if err := e.st.Create(kindComplaint, c.ID, c); err != nil {
		return Complaint{}, "", err
	}
	if _, err := e.modifyIncident(inc.ID, "", func(r *Incident) error {
		r.Complaint = &ComplaintFacts{ID: c.ID, ReplyDue: now.Add(ComplaintReplyWithin), Whistleblower: f.Whistleblower}
		return nil
	}); err != nil {
		return Complaint{}, "", err
	}
	return c, code, nil
}

// AddComplaintPhoto stores a photo the complainant attached: a JPEG, PNG,
// GIF or WebP of at most MaxPublicPhoto bytes (sniffed, never trusted from
// the client), at most MaxPublicPhotos per complaint, kept as the
// incident's evidence.
func (e *Engine) AddComplaintPhoto(complaintID, name string, body io.Reader) (Evidence, error) {
	var c Complaint
	if err := e.st.Get(kindComplaint, complaintID, &c); err != nil {
		return Evidence{}, err
	}
	var inc Incident
	if err := e.st.Get(kindIncident, c.IncidentID, &inc); err != nil {
		return Evidence{}, err
	}
	if inc.Complaint != nil && inc.Complaint.Photos >= MaxPublicPhotos {
		return Evidence{}, &assurance.ValidationError{Field: "photo", Problem: fmt.Sprintf("at most %d photos", MaxPublicPhotos)}
	}
	ev, err := e.storeEvidence(SubjectIncident, c.IncidentID, "photo", name, body, PublicActor, MaxPublicPhoto, EvidenceTypes[:4])
	if err != nil {
		return Evidence{}, err
	}
	_, err = e.modifyIncident(c.IncidentID, "", func(r *Incident) error {
		if r.Complaint != nil {
			r.Complaint.Photos++
		}
		return nil
	})
	return ev, err
}

// ReplyToComplaint records the answer the complainant sees (a commander
// or an administrator). It may be replaced until the incident is signed
// off; the incident's sign-off needs it.
func (e *Engine) ReplyToComplaint(incidentID, text string, actor assurance.Actor) (Incident, error) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > 2000 {
		return Incident{}, &assurance.ValidationError{Field: "text", Problem: "the reply: 1 to 2000 characters"}
	}
	if actor.Role != assurance.RoleCommander && actor.Role != assurance.RoleAdmin {
		return Incident{}, &assurance.RoleError{Action: "complaint reply", Role: actor.Role, Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander}}
	}
	now := e.deps.Now()
	return e.modifyIncident(incidentID, "", func(r *Incident) error {
		if r.Complaint == nil {
			return &assurance.ValidationError{Field: "incident", Problem: "this incident is not a complaint from the public"}
		}
		if r.State == assurance.IncidentSignedOff || r.State == assurance.IncidentClosed {
			return &assurance.PreconditionError{Action: "complaint reply", Rule: "signed_off", Detail: "the incident is signed off; the reply stands"}
		}
		r.Complaint.Reply = &ComplaintReply{Text: text, By: actor.UserID, At: now}
		return nil
	})
}

// ComplaintByCode is the follow-up page's view of a complaint.
func (e *Engine) ComplaintByCode(code string) (ComplaintStatus, error) {
	h := hashCode(strings.ToUpper(strings.TrimSpace(code)))
	var found *Complaint
	store.List(e.st, kindComplaint, func(_ string, c Complaint) bool {
		if c.CodeHash == h {
			found = &c
			return false
		}
		return true
	})
	if found == nil {
		return ComplaintStatus{}, ErrUnknownCode
	}
	inc, err := e.Incident(found.IncidentID)
	if err != nil {
		return ComplaintStatus{}, err
	}
	st := ComplaintStatus{ID: found.ID, ReceivedAt: found.ReceivedAt, Subject: inc.SubjectName}
	switch inc.State {
	case assurance.IncidentWarned:
		st.Stage = "received"
	case assurance.IncidentSignedOff, assurance.IncidentClosed:
		st.Stage = "concluded"
	default:
		st.Stage = "handling"
	}
	st.StageLabel = map[string]assurance.Label{"received": {ZH: "已受理", EN: "Received"}, "handling": {ZH: "处理中", EN: "Being handled"},
		"concluded": {ZH: "已办结", EN: "Concluded"}}[st.Stage]
	if inc.Complaint != nil {
		st.ReplyDue, st.Reply = inc.Complaint.ReplyDue, inc.Complaint.Reply
	}
	return st, nil
}

// Complaints lists the stored complaints, newest first (commanders: with
// the contact).
func (e *Engine) Complaints() ([]Complaint, error) {
	var out []Complaint
	err := store.List(e.st, kindComplaint, func(_ string, c Complaint) bool { out = append(out, c); return true })
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// complaintFingerprint is what duplicates share: the place and the words,
// with spacing and punctuation ignored.
func complaintFingerprint(f ComplaintFiling) string {
	var b bytes.Buffer
	b.WriteString(f.SubjectID)
	if f.Where != nil {
		fmt.Fprintf(&b, "|%.4f,%.4f", f.Where.Lon, f.Where.Lat) // ~10 m
	}
	b.WriteByte('|')
	for _, r := range strings.ToLower(f.Description) {
		if r > 127 || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if !strings.ContainsRune("，。！？、；：“”‘’（）", r) {
				b.WriteRune(r)
			}
		}
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:12])
}

// newFollowUpCode is 12 characters from 32 (no 0/O, 1/I): 60 bits, read
// aloud or typed on a phone.
func newFollowUpCode() string {
	const alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	var b [12]byte
	rand.Read(b[:])
	out := make([]byte, 0, 14)
	for i, x := range b {
		if i == 4 || i == 8 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(x)%len(alphabet)])
	}
	return string(out)
}

func hashCode(code string) string {
	sum := sha256.Sum256([]byte("shian-complaint\x00" + code))
	return hex.EncodeToString(sum[:])
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
