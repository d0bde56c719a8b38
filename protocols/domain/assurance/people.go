package assurance

import (
	"fmt"
	"strings"
)

// CertStatus is the status of a health certificate (健康证明) on a day, as
// on the banquet forms: 有 / 无 / 过期.
type CertStatus string

// Certificate statuses.
const (
	CertValid   CertStatus = "cert_valid"   // 有效 (有)
	CertNone    CertStatus = "cert_none"    // 无
	CertExpired CertStatus = "cert_expired" // 过期
)

// CertStatuses returns every status.
func CertStatuses() []CertStatus { return []CertStatus{CertValid, CertNone, CertExpired} }

// Label returns the zh-CN and en label.
func (s CertStatus) Label() Label { return labelOf(string(s)) }

// HealthCertificate is a food worker's health certificate (健康证明).
type HealthCertificate struct {
	Number     string `json:"number,omitempty"`
	IssuedOn   Date   `json:"issued_on,omitzero"`
	ValidUntil Date   `json:"valid_until,omitzero"` // last day it is valid
}

// StatusOn returns the certificate's status on day d: none when there is no
// certificate (or it was issued after d), expired after ValidUntil, valid
// otherwise.
func (c HealthCertificate) StatusOn(d Date) CertStatus {
	switch {
	case c.ValidUntil.IsZero() || (!c.IssuedOn.IsZero() && d.Before(c.IssuedOn)):
		return CertNone
	case d.After(c.ValidUntil):
		return CertExpired
	}
	return CertValid
}

// ValidThrough reports whether the certificate is valid on every day from
// first to last.
func (c HealthCertificate) ValidThrough(first, last Date) bool {
	return c.StatusOn(first) == CertValid && c.StatusOn(last) == CertValid
}

// StaffMember is a person working in an event kitchen.
type StaffMember struct {
	Name string            `json:"name"`
	Post string            `json:"post,omitempty"` // 厨师, 切配, 面点 …
	Cert HealthCertificate `json:"cert"`
}

// VillageChef is an entry of the village-chef register (农村聚餐厨师备案登记表,
// 人员管理): a chef who cooks rural banquets.
type VillageChef struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Phone       string            `json:"phone,omitempty"`
	Cert        HealthCertificate `json:"cert"`
	Trainings   int               `json:"trainings"` // 培训次数 (0 = 未培训)
	LastTrained Date              `json:"last_trained,omitzero"`
	ServiceArea string            `json:"service_area,omitempty"`
}

// Validate checks a register entry.
func (c VillageChef) Validate() error {
	switch {
	case c.ID == "":
		return invalid("id", "required")
	case strings.TrimSpace(c.Name) == "":
		return invalid("name", "required")
	case c.Trainings < 0:
		return invalid("trainings", "cannot be negative")
	}
	if c.Phone != "" {
		if _, err := NormalizePhone(c.Phone); err != nil {
			return invalid("phone", "%v", err)
		}
	}
	return nil
}

// RecordTraining counts one training session attended on day d.
func (c *VillageChef) RecordTraining(d Date) {
	c.Trainings++
	if d.After(c.LastTrained) {
		c.LastTrained = d
	}
}

// FitOn reports whether the chef may cook on day d: a valid health
// certificate and at least minTrainings trainings. The returned details
// (zh-CN, en) say what is missing.
func (c VillageChef) FitOn(d Date, minTrainings int) (bool, []Label) {
	var why []Label
	switch c.Cert.StatusOn(d) {
	case CertNone:
		why = append(why, Label{ZH: c.Name + "：无健康证明", EN: c.Name + ": no health certificate"})
	case CertExpired:
		why = append(why, Label{ZH: fmt.Sprintf("%s：健康证明 %s 过期", c.Name, c.Cert.ValidUntil),
			EN: fmt.Sprintf("%s: health certificate expired %s", c.Name, c.Cert.ValidUntil)})
	}
	if c.Trainings < minTrainings {
		why = append(why, Label{ZH: fmt.Sprintf("%s：培训 %d 次，少于 %d 次", c.Name, c.Trainings, minTrainings),
			EN: fmt.Sprintf("%s: trained %d times, fewer than %d", c.Name, c.Trainings, minTrainings)})
	}
	return len(why) == 0, why
}

// NormalizePhone checks a mainland China phone number and returns it in a
// canonical form: an 11-digit mobile number ("13812345678"), or a landline
// as area code, dash, number ("0513-12345678"). Spaces, dashes, dots and
// brackets are ignored, and a +86 / 0086 prefix is removed.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '（' || r == '）':
		default:
			return "", fmt.Errorf("phone %q: unexpected %q; write a mobile number like 13812345678 or a landline like 0513-12345678", s, r)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "+86"):
		d = d[3:]
	case strings.HasPrefix(d, "0086"):
		d = d[4:]
	case strings.HasPrefix(d, "+"):
		return "", fmt.Errorf("phone %q: only mainland China numbers (+86) are accepted", s)
	}
	switch {
	case len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9':
		return d, nil
	case len(d) >= 10 && len(d) <= 12 && d[0] == '0' && d[1] != '0':
		// Area codes: 010 and 02x have 3 digits, the rest 4; numbers 7–8 digits.
		area := 4
		if d[1] == '1' || d[1] == '2' {
			area = 3
		}
		if n := len(d) - area; n == 7 || n == 8 {
			return d[:area] + "-" + d[area:], nil
		}
	}
	return "", fmt.Errorf("phone %q: not a mainland China number; write a mobile number like 13812345678 or a landline like 0513-12345678", s)
}
