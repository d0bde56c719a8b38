package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Kiosk is a registered test kiosk. Its token is stored only as a hash.
//
// Its registration bounds what it may report (command/ingest, "Bound to
// its registration"): with Sites, only results for those sites; else with
// EventID, only results for the sites of that event; else only results
// for sites that belong to no event. A disabled kiosk's handshake is
// refused; its record and token are kept so that it can be enabled again.
type Kiosk struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	TokenHash string    `json:"token_hash"`
	SiteID    string    `json:"site_id,omitempty"`
	EventID   string    `json:"event_id,omitempty"`
	Sites     []string  `json:"sites,omitempty"` // the sites it may report for (empty: those of its event)
	Loc       []float64 `json:"loc,omitempty"`   // [lon, lat] WGS-84
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person who logs in to the command centre.
type User struct {
	Name         string         `json:"name"`
	DisplayName  string         `json:"display_name,omitempty"`
	Role         assurance.Role `json:"role"` // the protocol's roles are the users' roles
	PasswordHash string         `json:"password_hash"`
	Events       []string       `json:"events,omitempty"` // event scope; empty = all events
	TeamID       string         `json:"team_id,omitempty"`
	Disabled     bool           `json:"disabled,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
}

// Session is a logged-in browser.
type Session struct {
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// APIToken lets a program act as a user with "Authorization: Bearer".
// It is stored under token:<sha256 of the token>; ID is the hash's first
// 16 hex digits, the token's public name.
type APIToken struct {
	ID        string    `json:"id,omitempty"`
	User      string    `json:"user"`
	Name      string    `json:"name"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when it stops working; zero for a token of an earlier
	// version, made before tokens expired (it works until revoked).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// LoginLink is a one-time login URL token.
type LoginLink struct {
	User      string    `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Site is a stall, kitchen or other place where samples are taken.
type Site struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"` // stall, kitchen, market, banquet
	Name     string    `json:"name"`
	NameEn   string    `json:"name_en,omitempty"`
	ZoneID   string    `json:"zone_id,omitempty"`
	EventID  string    `json:"event_id,omitempty"`
	Category string    `json:"category,omitempty"`
	Grade    string    `json:"grade,omitempty"` // risk grade A–D
	Business string    `json:"business,omitempty"`
	Loc      []float64 `json:"loc"` // [lon, lat] WGS-84
}

// Zone is an area on the map: a vendor zone or a venue outline.
type Zone struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"` // vendor_zone, venue
	Name     string          `json:"name"`
	NameEn   string          `json:"name_en,omitempty"`
	EventID  string          `json:"event_id,omitempty"`
	Geometry json.RawMessage `json:"geometry"` // GeoJSON Polygon or MultiPolygon
}

// Alarm is something a person must look at: a conflicting resend, a
// sequence regression, a kiosk's storage salvage, a clock jump.
type Alarm struct {
	Seq      uint64     `json:"seq"`
	Code     string     `json:"code"`
	Message  string     `json:"message"`
	KioskID  string     `json:"kiosk_id,omitempty"`
	ResultID string     `json:"result_id,omitempty"`
	At       time.Time  `json:"at"`
	AckedBy  string     `json:"acked_by,omitempty"`
	AckedAt  *time.Time `json:"acked_at,omitempty"`

	// Set by the assurance engine for its alerts (a warned incident, an
	// escalation, a cluster warning).
	IncidentID string    `json:"incident_id,omitempty"`
	EventID    string    `json:"event_id,omitempty"`
	Level      int       `json:"level,omitempty"` // escalation level
	Loc        []float64 `json:"loc,omitempty"`   // [lon, lat] WGS-84
}

// NewToken returns a random token with the given prefix, and its hash for
// storage.
func NewToken(prefix string) (token, hash string) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	token = prefix + strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(b), "="))
	return token, HashToken(token)
}

// HashToken returns the storage hash of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RegisterKiosk creates a kiosk (or replaces its token if it exists) and
// returns its new token, in one Update.
func (s *Store) RegisterKiosk(k Kiosk) (token string, err error) {
	if k.ID == "" {
		return "", errors.New("store: kiosk id is required")
	}
	token, k.TokenHash = NewToken("kt_")
	err = s.Update(func(tx *Tx) error {
		var old Kiosk
		if err := tx.Get("kiosk", k.ID, &old); err == nil {
			k.CreatedAt = old.CreatedAt
		} else {
			k.CreatedAt = s.opts.Now() // new, or a damaged record being replaced
		}
		return tx.Put("kiosk", k.ID, k)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// ErrKioskDisabled is KioskByToken's answer for the token of a disabled
// kiosk.
var ErrKioskDisabled = errors.New("store: this kiosk is disabled at the command; an admin must enable it (POST /api/v1/kiosks/{id}/enable) or register it again")

// SetKioskDisabled disables or enables a kiosk, in one Update. A disabled
// kiosk's handshake is refused and its open link is closed (the ingest
// watches kiosk records, OnKioskChange).
func (s *Store) SetKioskDisabled(id string, disabled bool) (Kiosk, error) {
	return Modify(s, "kiosk", id, func(k *Kiosk) error {
		k.Disabled = disabled
		return nil
	})
}

// DeleteKiosk removes a kiosk's registration, in one Update; ErrNotFound
// when there is none. Its results stay in the history.
func (s *Store) DeleteKiosk(id string) error {
	return s.Update(func(tx *Tx) error {
		var k Kiosk
		if err := tx.Get("kiosk", id, &k); err != nil {
			return err
		}
		return tx.Delete("kiosk", id)
	})
}

// KioskByToken returns the kiosk a token belongs to (ErrNotFound for an
// unknown token, ErrKioskDisabled for a disabled kiosk's).
func (s *Store) KioskByToken(token string) (Kiosk, error) {
	h := HashToken(token)
	var found *Kiosk
	err := List(s, "kiosk", func(_ string, k Kiosk) bool {
		if k.TokenHash == h {
			found = &k
			return false
		}
		return true
	})
	if err != nil {
		return Kiosk{}, err
	}
	if found == nil {
		return Kiosk{}, fmt.Errorf("kiosk token: %w", ErrNotFound)
	}
	if found.Disabled {
		return *found, fmt.Errorf("kiosk %s: %w", found.ID, ErrKioskDisabled)
	}
	return *found, nil
}

// RaiseAlarm stores a new alarm and returns it with its sequence number.
// The number comes from the alarm counter (on PostgreSQL its sequence,
// unique across instances).
func (s *Store) RaiseAlarm(a Alarm) (Alarm, error) {
	var stored Alarm
	err := s.Update(func(tx *Tx) error {
		var err error
		stored, err = tx.RaiseAlarm(a)
		return err
	})
	if err != nil {
		return a, fmt.Errorf("store: raise alarm: %w", err)
	}
	return stored, nil
}

// RaiseAlarm stores a new alarm inside the transaction and returns it
// with its number: the alarm is kept if and only if the transaction
// commits, so a record of "this alarm was raised" written in the same
// transaction (the engine's escalation marks) can never disagree with
// the alarms. On PostgreSQL a rolled-back transaction leaves a gap in the
// numbers.
func (t *Tx) RaiseAlarm(a Alarm) (Alarm, error) {
	if a.At.IsZero() {
		a.At = t.s.opts.Now()
	}
	seq, err := t.nextSeq("alarm")
	if err != nil {
		return a, err
	}
	a.Seq = seq
	return a, t.Put("alarm", alarmID(a.Seq), a)
}

func alarmID(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// Alarms returns up to limit alarms, newest first.
func (s *Store) Alarms(limit int, unackedOnly bool) ([]Alarm, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []Alarm
	err := s.view(func(tx kv) error {
		return tx.descend("alarm", "", true, func(_, v string) bool {
			var a Alarm
			if json.Unmarshal([]byte(v), &a) == nil && (!unackedOnly || a.AckedAt == nil) {
				out = append(out, a)
			}
			return len(out) < limit
		})
	})
	return out, err
}

// AckAlarm marks an alarm as seen by user.
func (s *Store) AckAlarm(seq uint64, user string) (Alarm, error) {
	return Modify(s, "alarm", alarmID(seq), func(a *Alarm) error {
		if a.AckedAt == nil {
			t := s.opts.Now()
			a.AckedAt, a.AckedBy = &t, user
		}
		return nil
	})
}

// AckAlarms acknowledges many alarms in one durable write (the command
// centre acknowledging an incident's alerts together). It returns the
// alarms it found, acknowledged (those acknowledged before keep who and
// when), and the seqs it did not find.
func (s *Store) AckAlarms(seqs []uint64, user string) (acked []Alarm, missing []uint64, err error) {
	err = s.Update(func(tx *Tx) error {
		acked, missing = acked[:0], missing[:0]
		t := s.opts.Now()
		for _, seq := range seqs {
			var a Alarm
			switch err := tx.Get("alarm", alarmID(seq), &a); {
			case errors.Is(err, ErrNotFound):
				missing = append(missing, seq)
				continue
			case err != nil:
				return err
			}
			if a.AckedAt == nil {
				a.AckedAt, a.AckedBy = &t, user
				if err := tx.Put("alarm", alarmID(seq), a); err != nil {
					return err
				}
			}
			acked = append(acked, a)
		}
		return nil
	})
	return acked, missing, err
}

// SitesIn returns the sites whose location lies in the box
// [minLon,minLat]–[maxLon,maxLat], from the spatial index.
func (s *Store) SitesIn(minLon, minLat, maxLon, maxLat float64) ([]Site, error) {
	var out []Site
	b := orb.Bound{Min: orb.Point{minLon, minLat}, Max: orb.Point{maxLon, maxLat}}
	err := s.view(func(tx kv) error {
		return tx.sitesIn(b, func(v string) bool {
			var st Site
			if json.Unmarshal([]byte(v), &st) == nil {
				out = append(out, st)
			}
			return true
		})
	})
	return out, err
}

// KioskByID returns a kiosk's registration.
func (s *Store) KioskByID(id string) (Kiosk, error) {
	var k Kiosk
	err := s.Get("kiosk", id, &k)
	return k, err
}

// SiteByID returns a site (stall, kitchen, banquet site).
func (s *Store) SiteByID(id string) (Site, error) {
	var st Site
	err := s.Get("site", id, &st)
	return st, err
}

// AlarmEvent is the event an alarm belongs to, for users scoped to events:
// its own EventID, else that of the kiosk it is about, else "" (an alarm
// of the service itself, seen only by unscoped users).
func (s *Store) AlarmEvent(a Alarm) string {
	if a.EventID != "" || a.KioskID == "" {
		return a.EventID
	}
	k, _ := s.KioskByID(a.KioskID)
	return k.EventID
}

// Alarm returns the alarm with sequence number seq.
func (s *Store) Alarm(seq uint64) (Alarm, error) {
	var a Alarm
	err := s.Get("alarm", alarmID(seq), &a)
	return a, err
}
