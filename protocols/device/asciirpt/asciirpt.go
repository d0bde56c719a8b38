package asciirpt

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// Frame lines and limits.
const (
	Begin = "*** SHIAN REPORT ***"
	End   = "*** END ***"
	// MaxLine is the longest line, CR LF included.
	MaxLine = 34
	// MaxReport is the longest report block.
	MaxReport = 12 * MaxLine
	// MaxField is the longest token field (MODEL, SERIAL, POINT, …).
	MaxField = 16
)

// Kind is a report type (the TYPE field).
type Kind string

// Report types.
const (
	KindATP  Kind = "ATP"
	KindTemp Kind = "TEMP"
	KindID   Kind = "ID"
	KindErr  Kind = "ERR"
)

// Mode is what a thermometer reading is for (the TEMP report's MODE).
type Mode string

// Thermometer modes, selected on the instrument.
const (
	ModeCook   Mode = "COOK"   // centre temperature of cooked food
	ModeHot    Mode = "HOT"    // hot holding
	ModeCold   Mode = "COLD"   // cold holding
	ModeFrozen Mode = "FROZEN" // frozen storage
)

// Temperature limits of a TEMP report.
const (
	MinTemp = -50 * measure.Celsius
	MaxTemp = 300 * measure.Celsius
)

// Commands a host sends.
const (
	CmdID      = "?ID"
	CmdMeasure = "?MEAS"
)

// Report is one printed report.
type Report struct {
	Kind   Kind
	Model  string
	Serial string
	// Firmware is the ID report's FW.
	Firmware string
	// No is the record number, 1…999999 (ATP, TEMP).
	No int
	// Time is the instrument's wall clock (ATP, TEMP), whole seconds.
	Time time.Time
	// Point is the swabbed surface (ATP), e.g. "CB-01".
	Point string
	RLU   measure.RLU
	// Probe, Mode and Temp are the TEMP fields; Temp is a multiple of
	// 0.1 °C.
	Probe string
	Mode  Mode
	Temp  measure.Temperature
	// Code is the ERR report's error code.
	Code string
}

// Errors. Callers branch with errors.Is.
var (
	ErrIncomplete = errors.New("asciirpt: incomplete")
	ErrFraming    = errors.New("asciirpt: not a report")
	ErrTruncated  = errors.New("asciirpt: report cut short")
	ErrChecksum   = errors.New("asciirpt: CHECK mismatch")
	ErrFormat     = errors.New("asciirpt: malformed field")
)

// ChecksumError carries the CHECK printed and the one computed.
type ChecksumError struct{ Got, Want uint16 }

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("asciirpt: CHECK mismatch: report says %04X, its lines give %04X", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrChecksum) true.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

func formatErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, a...))
}

func framingErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFraming, fmt.Sprintf(format, a...))
}

// Checksum is CRC-16/CCITT-FALSE (polynomial 0x1021, init 0xFFFF, not
// reflected, no final XOR).
func Checksum(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keys lists the field keys of each kind, in order, after TYPE.
var keys = map[Kind][]string{
	KindATP:  {"MODEL", "SERIAL", "NO.", "DATE", "TIME", "POINT", "RESULT"},
	KindTemp: {"MODEL", "SERIAL", "NO.", "DATE", "TIME", "PROBE", "MODE", "RESULT"},
	KindID:   {"MODEL", "SERIAL", "FW"},
	KindErr:  {"MODEL", "SERIAL", "CODE"},
}

func fieldLine(dst []byte, key, value string) []byte {
	dst = fmt.Appendf(dst, "%-6s: %s\r\n", key, value)
	return dst
}

// values returns the report's field values in key order.
func (r Report) values() ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var v []string
	switch r.Kind {
	case KindATP:
		v = []string{r.Model, r.Serial, fmt.Sprintf("%06d", r.No), r.Time.Format("2006-01-02"), r.Time.Format("15:04:05"), r.Point, strconv.FormatInt(int64(r.RLU), 10) + " RLU"}
	case KindTemp:
		v = []string{r.Model, r.Serial, fmt.Sprintf("%06d", r.No), r.Time.Format("2006-01-02"), r.Time.Format("15:04:05"), r.Probe, string(r.Mode), formatTemp(r.Temp)}
	case KindID:
		v = []string{r.Model, r.Serial, r.Firmware}
	case KindErr:
		v = []string{r.Model, r.Serial, r.Code}
	}
	return v, nil
}

func formatTemp(t measure.Temperature) string {
	d := int64(t) / 100 // tenths
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%d.%d C", sign, d/10, d%10)
}

// Validate reports (as ErrFormat) a report that cannot be printed.
func (r Report) Validate() error {
	if _, ok := keys[r.Kind]; !ok {
		return formatErr("unknown report type %q", r.Kind)
	}
	for _, f := range []struct{ name, v string }{{"MODEL", r.Model}, {"SERIAL", r.Serial}} {
		if err := checkToken(f.name, f.v); err != nil {
			return err
		}
	}
	zeroTime := r.Time.IsZero()
	switch r.Kind {
	case KindATP, KindTemp:
		if r.No < 1 || r.No > 999999 {
			return formatErr("NO. %d is outside 1…999999", r.No)
		}
		if zeroTime || r.Time.Nanosecond() != 0 || r.Time.Year() < 2000 || r.Time.Year() > 9999 {
			return formatErr("time %v: a wall-clock time in whole seconds, years 2000…9999", r.Time)
		}
	default:
		if r.No != 0 || !zeroTime {
			return formatErr("%s reports carry no NO. or time", r.Kind)
		}
	}
	switch r.Kind {
	case KindATP:
		if err := checkToken("POINT", r.Point); err != nil {
			return err
		}
		if r.RLU < 0 || r.RLU > 9999999 {
			return formatErr("RLU %d is outside 0…9999999", r.RLU)
		}
	case KindTemp:
		if err := checkToken("PROBE", r.Probe); err != nil {
			return err
		}
		switch r.Mode {
		case ModeCook, ModeHot, ModeCold, ModeFrozen:
		default:
			return formatErr("MODE %q: COOK, HOT, COLD or FROZEN", r.Mode)
		}
		if r.Temp < MinTemp || r.Temp > MaxTemp || r.Temp%100 != 0 {
			return formatErr("temperature %v: −50.0…300.0 °C in steps of 0.1 °C", r.Temp)
		}
	case KindID:
		if err := checkToken("FW", r.Firmware); err != nil {
			return err
		}
	case KindErr:
		if err := checkToken("CODE", r.Code); err != nil {
			return err
		}
	}
	if r.Kind != KindATP && (r.Point != "" || r.RLU != 0) ||
		r.Kind != KindTemp && (r.Probe != "" || r.Mode != "" || r.Temp != 0) ||
		r.Kind != KindID && r.Firmware != "" || r.Kind != KindErr && r.Code != "" {
		return formatErr("fields set that a %s report does not carry", r.Kind)
	}
	return nil
}

func checkToken(name, v string) error {
	if len(v) < 1 || len(v) > MaxField {
		return formatErr("%s %q: 1…%d characters", name, clip(v), MaxField)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return formatErr("%s %q: only letters, digits and . _ / -", name, clip(v))
		}
	}
	return nil
}

// Append appends the report's block, CHECK included.
func (r Report) Append(dst []byte) ([]byte, error) {
	vals, err := r.values()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, Begin+"\r\n"...)
	dst = fieldLine(dst, "TYPE", string(r.Kind))
	for i, k := range keys[r.Kind] {
		dst = fieldLine(dst, k, vals[i])
	}
	dst = fieldLine(dst, "CHECK", fmt.Sprintf("%04X", Checksum(dst[start:])))
	return append(dst, End+"\r\n"...), nil
}

// Bytes returns the report's block; it panics on an invalid report.
func (r Report) Bytes() []byte {
	b, err := r.Append(nil)
	if err != nil {
		panic(err)
	}
	return b
}

// Parse decodes exactly one report block (begin line through end line,
// CR LF after each), with DATE and TIME in loc.
func Parse(block []byte, loc *time.Location) (Report, error) {
	if len(block) > MaxReport {
		return Report{}, framingErr("%d bytes, longer than a report (%d)", len(block), MaxReport)
	}
	lines, err := splitCRLF(block)
	if err != nil {
		return Report{}, err
	}
	if len(lines) < 4 || string(lines[0]) != Begin || string(lines[len(lines)-1]) != End {
		return Report{}, framingErr("a report runs from %q to %q", Begin, End)
	}
	body := lines[1 : len(lines)-1]
	fields := make([][2]string, len(body))
	for i, l := range body {
		if len(l) < 8 || l[6] != ':' || l[7] != ' ' {
			return Report{}, formatErr("line %q is not \"KEY   : value\"", clip(string(l)))
		}
		k := string(bytes.TrimRight(l[:6], " "))
		fields[i] = [2]string{k, string(l[8:])}
	}
	// CHECK first: a damaged report is reported as damaged, whatever
	// else is wrong with it.
	last := fields[len(fields)-1]
	if last[0] != "CHECK" {
		return Report{}, formatErr("the last field is %q, want CHECK", last[0])
	}
	got, err := parseHex4(last[1])
	if err != nil {
		return Report{}, err
	}
	checked := len(block) - len(body[len(body)-1]) - 2 - len(End) - 2
	if want := Checksum(block[:checked]); got != want {
		return Report{}, &ChecksumError{Got: got, Want: want}
	}
	fields = fields[:len(fields)-1]
	if fields[0][0] != "TYPE" {
		return Report{}, formatErr("the first field is %q, want TYPE", fields[0][0])
	}
	r := Report{Kind: Kind(fields[0][1])}
	ks, ok := keys[r.Kind]
	if !ok {
		return Report{}, formatErr("unknown report type %q", clip(fields[0][1]))
	}
	fields = fields[1:]
	if len(fields) != len(ks) {
		return Report{}, formatErr("%s report with %d fields, want %d", r.Kind, len(fields), len(ks))
	}
	var date, clock string
	for i, f := range fields {
		if f[0] != ks[i] {
			return Report{}, formatErr("field %d is %q, want %s", i+2, clip(f[0]), ks[i])
		}
		v := f[1]
		switch f[0] {
		case "MODEL":
			r.Model = v
		case "SERIAL":
			r.Serial = v
		case "FW":
			r.Firmware = v
		case "CODE":
			r.Code = v
		case "POINT":
			r.Point = v
		case "PROBE":
			r.Probe = v
		case "MODE":
			r.Mode = Mode(v)
		case "NO.":
			if len(v) != 6 || !digits(v) {
				return Report{}, formatErr("NO. %q: six digits", clip(v))
			}
			r.No, _ = strconv.Atoi(v)
		case "DATE":
			date = v
		case "TIME":
			clock = v
		case "RESULT":
			if err := r.parseResult(v); err != nil {
				return Report{}, err
			}
		}
	}
	if date != "" || clock != "" {
		t, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, loc)
		if err != nil || len(date) != 10 || len(clock) != 8 {
			return Report{}, formatErr("DATE %q TIME %q: want 2026-11-28 and 10:15:03", clip(date), clip(clock))
		}
		r.Time = t
	}
	if err := r.Validate(); err != nil {
		return Report{}, err
	}
	// Strictness: what we accept prints back the same.
	if again, _ := r.Append(nil); !bytes.Equal(again, block) {
		return Report{}, formatErr("a field is not in its canonical form")
	}
	return r, nil
}

func (r *Report) parseResult(v string) error {
	switch r.Kind {
	case KindATP:
		n, ok := bytes.CutSuffix([]byte(v), []byte(" RLU"))
		if !ok || len(n) < 1 || len(n) > 7 || !digits(string(n)) || (len(n) > 1 && n[0] == '0') {
			return formatErr("RESULT %q: want a count like \"27 RLU\"", clip(v))
		}
		x, _ := strconv.ParseInt(string(n), 10, 64)
		r.RLU = measure.RLU(x)
	case KindTemp:
		n, ok := bytes.CutSuffix([]byte(v), []byte(" C"))
		s := string(n)
		neg := len(s) > 0 && s[0] == '-'
		if neg {
			s = s[1:]
		}
		whole, frac, dot := bytes.Cut([]byte(s), []byte("."))
		if !ok || !dot || len(whole) < 1 || len(whole) > 3 || len(frac) != 1 || !digits(string(whole)) || !digits(string(frac)) ||
			(len(whole) > 1 && whole[0] == '0') {
			return formatErr("RESULT %q: want a temperature like \"72.4 C\"", clip(v))
		}
		w, _ := strconv.Atoi(string(whole))
		tenths := int64(w*10 + int(frac[0]-'0'))
		if neg {
			if tenths == 0 {
				return formatErr("RESULT %q: -0.0", clip(v))
			}
			tenths = -tenths
		}
		r.Temp = measure.Temperature(tenths * 100)
	}
	return nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseHex4(s string) (uint16, error) {
	if len(s) != 4 {
		return 0, formatErr("CHECK %q: four upper-case hex digits", clip(s))
	}
	var v uint16
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint16(c-'0')
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint16(c-'A'+10)
		default:
			return 0, formatErr("CHECK %q: four upper-case hex digits", clip(s))
		}
	}
	return v, nil
}

// splitCRLF splits a block into lines; every line must end in CR LF and
// hold only printable ASCII.
func splitCRLF(b []byte) ([][]byte, error) {
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 1 || b[i-1] != '\r' {
			return nil, framingErr("every line ends in CR LF")
		}
		l := b[:i-1]
		if len(l)+2 > MaxLine {
			return nil, framingErr("a line of %d bytes (at most %d)", len(l)+2, MaxLine)
		}
		for _, c := range l {
			if c < 0x20 || c > 0x7E {
				return nil, framingErr("byte %02X in a line: printable ASCII only", c)
			}
		}
		lines = append(lines, l)
		b = b[i+1:]
	}
	return lines, nil
}

func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// ParseCommand reads one command line (without its line end): CmdID or
// CmdMeasure.
func ParseCommand(line []byte) (string, error) {
	s := string(bytes.TrimRight(line, "\r"))
	switch s {
	case CmdID, CmdMeasure:
		return s, nil
	}
	return "", framingErr("unknown command %q (want %s or %s)", clip(s), CmdID, CmdMeasure)
}

// Command returns a command line, CR LF included.
func Command(cmd string) []byte { return []byte(cmd + "\r\n") }
