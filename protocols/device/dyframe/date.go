package dyframe

import (
	"fmt"
	"time"
)

// PackedTime is the vendor's FAT-style packed date and time, sent as a
// little-endian uint32:
//
//	bits 31–25 year − 2000 (the vendor sends year % 100)
//	bits 24–21 month 1–12
//	bits 20–16 day 1–31
//	bits 15–11 hour 0–23
//	bits 10–5  minute 0–59
//	bits 4–0   second / 2 (0–29)
//
// It has a 2-second resolution and no time zone: it is the instrument's
// wall clock. Zero means "the instrument has no time set".
type PackedTime uint32

// PackTime packs t's wall-clock fields (in t's own location). Odd seconds
// round down. It fails outside the years 2000–2127.
func PackTime(t time.Time) (PackedTime, error) {
	y := t.Year() - 2000
	if y < 0 || y > 127 {
		return 0, fmt.Errorf("%w: year %d cannot be packed (2000–2127)", ErrField, t.Year())
	}
	return PackedTime(uint32(y)<<25 | uint32(t.Month())<<21 | uint32(t.Day())<<16 |
		uint32(t.Hour())<<11 | uint32(t.Minute())<<5 | uint32(t.Second())>>1), nil
}

// Fields returns the calendar fields, unchecked.
func (p PackedTime) Fields() (year, month, day, hour, min, sec int) {
	v := uint32(p)
	return 2000 + int(v>>25), int(v >> 21 & 0x0F), int(v >> 16 & 0x1F),
		int(v >> 11 & 0x1F), int(v >> 5 & 0x3F), int(v&0x1F) * 2
}

// Valid reports whether p is zero or a real calendar date and time.
func (p PackedTime) Valid() bool {
	if p == 0 {
		return true
	}
	y, mo, d, h, mi, s := p.Fields()
	if mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 58 {
		return false
	}
	// Reject 31 February and the like.
	return d <= time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Time returns p as a time in loc (the instrument's time zone), or the zero
// time if p is zero. It fails if p is not a real date.
func (p PackedTime) Time(loc *time.Location) (time.Time, error) {
	if p == 0 {
		return time.Time{}, nil
	}
	if !p.Valid() {
		return time.Time{}, fmt.Errorf("%w: packed date %08X is not a calendar date", ErrField, uint32(p))
	}
	y, mo, d, h, mi, s := p.Fields()
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, loc), nil
}

// String prints p as "2026-05-01 10:20:30", or "unset".
func (p PackedTime) String() string {
	if p == 0 {
		return "unset"
	}
	y, mo, d, h, mi, s := p.Fields()
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s)
}
