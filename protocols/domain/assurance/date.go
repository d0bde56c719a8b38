package assurance

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ChinaStandardTime is UTC+8 with no daylight saving (China has had none
// since 1991), as a fixed zone so that nothing here reads the tz database.
var ChinaStandardTime = time.FixedZone("CST", 8*60*60)

// Date is a civil date (year, month, day) with no time of day and no zone:
// event dates, certificate validity, sittings of a banquet. Convert an
// instant to a Date with [DateOf] in the zone that decides "which day".
//
// The zero Date means "not set"; it encodes as "" in JSON and text.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// MakeDate returns the date y-m-d, normalised (MakeDate(2026, 2, 30) is
// 2026-03-02), like [time.Date].
func MakeDate(y int, m time.Month, d int) Date {
	return DateOf(time.Date(y, m, d, 12, 0, 0, 0, time.UTC))
}

// DateOf returns the civil date of t in t's location. Call t.In(zone) first
// to choose the zone.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate parses "YYYY-MM-DD" (the empty string gives the zero Date).
// Anything else, including an impossible day like 2026-02-30, is an error.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) != 2 || len(parts[2]) != 2 {
		return Date{}, fmt.Errorf("date %q: write it as YYYY-MM-DD, e.g. 2026-10-01", s)
	}
	var n [3]int
	for i, p := range parts {
		for _, c := range p {
			if c < '0' || c > '9' {
				return Date{}, fmt.Errorf("date %q: write it as YYYY-MM-DD, e.g. 2026-10-01", s)
			}
		}
		n[i], _ = strconv.Atoi(p) // cannot fail: at most 4 ASCII digits
	}
	d := Date{Year: n[0], Month: time.Month(n[1]), Day: n[2]}
	if d.Year < 1 || MakeDate(d.Year, d.Month, d.Day) != d {
		return Date{}, fmt.Errorf("date %q: no such day", s)
	}
	return d, nil
}

// IsZero reports whether d is the zero Date (not set).
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as YYYY-MM-DD ("" for the zero Date).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText encodes d as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Start returns the first instant of d in loc.
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// noon is d at 12:00 UTC, a day-arithmetic helper immune to zone offsets.
func (d Date) noon() time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// AddDays returns d plus n days (n may be negative).
func (d Date) AddDays(n int) Date { return DateOf(d.noon().AddDate(0, 0, n)) }

// DaysUntil returns the number of days from d to e (negative if e is
// earlier).
func (d Date) DaysUntil(e Date) int {
	return int(e.noon().Sub(d.noon()).Round(24*time.Hour) / (24 * time.Hour))
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int { return d.noon().Compare(e.noon()) }

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.noon().Weekday() }

// Calendar says which days are working days: Monday to Friday, minus
// public holidays, plus the weekend days that are worked in exchange
// (调休). The State Council publishes both lists every year; configure
// them, since this package knows no holidays of its own.
type Calendar struct {
	Holidays []Date `json:"holidays,omitempty"`
	// Workdays are weekend days that are working days (调休上班).
	Workdays []Date `json:"workdays,omitempty"`
}

// IsWorkingDay reports whether d is a working day.
func (c Calendar) IsWorkingDay(d Date) bool {
	for _, w := range c.Workdays {
		if w == d {
			return true
		}
	}
	for _, h := range c.Holidays {
		if h == d {
			return false
		}
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// WorkingDaysBetween counts the working days d with from ≤ d < to (zero if
// to is not after from). The notice rule "file 20 working days before the
// event" holds when WorkingDaysBetween(noticeDate, firstDay) ≥ 20: counting
// back 20 working days from the first day lands on or after the notice.
func (c Calendar) WorkingDaysBetween(from, to Date) int {
	n := 0
	for d := from; d.Before(to); d = d.AddDays(1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}
