package strip

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// MuxAddr is the TCA9548A multiplexer's default address.
const MuxAddr uint16 = 0x70

// Position is a place on the strip a sensor looks at.
type Position int

// Positions.
const (
	Background Position = iota
	ControlLine
	TestLine
)

// String returns "background", "C" or "T".
func (p Position) String() string {
	switch p {
	case Background:
		return "background"
	case ControlLine:
		return "C"
	case TestLine:
		return "T"
	}
	return "position(" + strconv.Itoa(int(p)) + ")"
}

// Channels maps each position to its multiplexer channel.
type Channels [3]uint8

// DefaultChannels puts background, C and T on channels 0, 1, 2.
var DefaultChannels = Channels{0, 1, 2}

// Validate refuses channels outside 0–7 or used twice.
func (c Channels) Validate() error {
	for i, ch := range c {
		if ch > 7 {
			return fmt.Errorf("strip: %s channel %d: the TCA9548A has channels 0…7", Position(i), ch)
		}
		for j := range i {
			if c[j] == ch {
				return fmt.Errorf("strip: %s and %s both on channel %d", Position(j), Position(i), ch)
			}
		}
	}
	return nil
}

// Select returns the byte written to the multiplexer to select channel ch.
func Select(ch uint8) []byte { return []byte{1 << (ch & 7)} }

// MinBackground is the lowest background green count taken as a strip in
// the slot (an empty slot reflects almost nothing).
const MinBackground = 256

// Errors of the conversion.
var (
	// ErrNoStrip: the background is too dark for a strip to be there.
	ErrNoStrip = errors.New("strip: no strip in the reader (background too dark)")
)

// LineIntensity converts the counts at a line and at the background into
// the line's intensity, 100 × (G_bg − G_line)/G_bg, clamped to 0…100,
// rounded to the nearest thousandth.
func LineIntensity(line, background tcs34725.Counts) (measure.Intensity, error) {
	if background.G < MinBackground {
		return 0, fmt.Errorf("%w: green %d < %d", ErrNoStrip, background.G, MinBackground)
	}
	bg := int64(background.G)
	d := max(bg-int64(line.G), 0)
	full := 100 * int64(measure.IntensityUnit)
	return measure.Intensity((d*full + bg/2) / bg), nil
}

// Ratio3 is T/C rounded to three decimals the way the line format carries
// it (as a measure.Ratio); ok is false when c is 0.
func Ratio3(c, t measure.Intensity) (measure.Ratio, bool) {
	if c <= 0 {
		return 0, false
	}
	thousandths := (int64(t)*1000 + int64(c)/2) / int64(c)
	return measure.Ratio(thousandths * 1000), true
}

// Kind is a sentence type.
type Kind string

// Sentence types.
const (
	KindStrip Kind = "STRIP"
	KindErr   Kind = "ERR"
	KindInfo  Kind = "INFO"
	KindRead  Kind = "READ"
)

// Error codes a reader sends in $ERR.
const (
	CodeNoStrip   = "NOSTRIP"
	CodeSensor    = "SENSOR"
	CodeSaturated = "SATURATED"
)

// Message is one sentence. Fields not used by its Kind are empty.
type Message struct {
	Kind Kind `json:"kind"`
	// STRIP: the item, the C and T intensities and T/C (HasRatio false
	// when C is 0). READ: the item to read ("" = the reader's default).
	Item     string            `json:"item,omitempty"`
	C        measure.Intensity `json:"c,omitempty"`
	T        measure.Intensity `json:"t,omitempty"`
	Ratio    measure.Ratio     `json:"ratio,omitempty"`
	HasRatio bool              `json:"has_ratio,omitempty"`
	// ERR.
	Code string `json:"code,omitempty"`
	Text string `json:"text,omitempty"`
	// INFO reply (all empty: an INFO request).
	Model    string `json:"model,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	Serial   string `json:"serial,omitempty"`
}

// StripMessage builds the $STRIP sentence for intensities c and t.
func StripMessage(item string, c, t measure.Intensity) Message {
	r, ok := Ratio3(c, t)
	return Message{Kind: KindStrip, Item: item, C: c, T: t, Ratio: r, HasRatio: ok}
}

// MaxLine is the longest sentence, '$' to checksum, without CR LF.
const MaxLine = 160

// Errors of Parse. Callers branch with errors.Is.
var (
	ErrFraming      = errors.New("strip: not a sentence ($…*HH)")
	ErrChecksum     = errors.New("strip: checksum mismatch")
	ErrFormat       = errors.New("strip: malformed field")
	ErrInconsistent = errors.New("strip: T/C does not match C and T")
	ErrUnknown      = errors.New("strip: unknown sentence")
)

// ChecksumError carries the checksum received and computed.
type ChecksumError struct{ Got, Want byte }

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("strip: checksum %02X, computed %02X: the line was corrupted (check the cable and baud rate)", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrChecksum) true.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// Checksum is the XOR of the payload bytes (between '$' and '*').
func Checksum(payload []byte) byte {
	var x byte
	for _, b := range payload {
		x ^= b
	}
	return x
}

const hexDigits = "0123456789ABCDEF"

// Append appends the sentence with checksum and CR LF to dst. Fields
// holding forbidden characters are refused at Parse, never escaped; the
// caller must not put them in (Validate checks).
func (m Message) Append(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, '$')
	dst = append(dst, m.Kind...)
	field := func(s string) { dst = append(append(dst, ','), s...) }
	switch m.Kind {
	case KindStrip:
		field(m.Item)
		field(formatMilli(int64(m.C)))
		field(formatMilli(int64(m.T)))
		if m.HasRatio {
			field(formatMilli(int64(m.Ratio) / 1000))
		} else {
			field("NA")
		}
	case KindErr:
		field(m.Code)
		field(m.Text)
	case KindInfo:
		if m.Model != "" || m.Firmware != "" || m.Serial != "" {
			field(m.Model)
			field(m.Firmware)
			field(m.Serial)
		}
	case KindRead:
		if m.Item != "" {
			field(m.Item)
		}
	}
	x := Checksum(dst[start+1:])
	return append(dst, '*', hexDigits[x>>4], hexDigits[x&15], '\r', '\n')
}

// Validate reports whether m can be encoded so that Parse gives it back.
func (m Message) Validate() error {
	for _, s := range []string{m.Item, m.Code, m.Text, m.Model, m.Firmware, m.Serial} {
		if err := checkText(s); err != nil {
			return err
		}
	}
	if m.Kind == KindStrip && (m.C < 0 || m.T < 0) {
		return fmt.Errorf("%w: negative intensity", ErrFormat)
	}
	_, err := Parse(bytes.TrimRight(m.Append(nil), "\r\n"))
	return err
}

func formatMilli(v int64) string {
	return strconv.FormatInt(v/1000, 10) + "." + fmt.Sprintf("%03d", v%1000)
}

// Parse decodes one sentence (without its CR LF; a trailing CR is
// tolerated).
func Parse(line []byte) (Message, error) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	n := len(line)
	if n > MaxLine {
		return Message{}, fmt.Errorf("%w: %d bytes, longer than %d", ErrFraming, n, MaxLine)
	}
	if n < 4 || line[0] != '$' || line[n-3] != '*' {
		return Message{}, fmt.Errorf("%w: %q", ErrFraming, clip(line))
	}
	payload := line[1 : n-3]
	got, ok := unhex2(line[n-2], line[n-1])
	if !ok {
		return Message{}, fmt.Errorf("%w: checksum %q is not two upper-case hex digits", ErrFraming, line[n-2:])
	}
	if want := Checksum(payload); got != want {
		return Message{}, &ChecksumError{Got: got, Want: want}
	}
	for _, f := range bytes.Split(payload, []byte{','}) {
		if err := checkText(string(f)); err != nil {
			return Message{}, err
		}
	}
	fields := bytes.Split(payload, []byte{','})
	m := Message{Kind: Kind(fields[0])}
	args := fields[1:]
	want := func(k int) error {
		if len(args) != k {
			return fmt.Errorf("%w: %s has %d fields, want %d", ErrFormat, m.Kind, len(args), k)
		}
		return nil
	}
	switch m.Kind {
	case KindStrip:
		if err := want(4); err != nil {
			return Message{}, err
		}
		m.Item = string(args[0])
		c, err := parseMilli(args[1], "C")
		if err != nil {
			return Message{}, err
		}
		t, err := parseMilli(args[2], "T")
		if err != nil {
			return Message{}, err
		}
		m = StripMessage(m.Item, measure.Intensity(c), measure.Intensity(t))
		if string(args[3]) == "NA" {
			if m.HasRatio {
				return Message{}, fmt.Errorf("%w: T/C is NA but C is %v", ErrInconsistent, m.C)
			}
		} else {
			r, err := parseMilli(args[3], "T/C")
			if err != nil {
				return Message{}, err
			}
			if !m.HasRatio || measure.Ratio(r*1000) != m.Ratio {
				return Message{}, fmt.Errorf("%w: T/C %s, C %v and T %v give %v", ErrInconsistent, args[3], m.C, m.T, m.Ratio)
			}
		}
	case KindErr:
		if err := want(2); err != nil {
			return Message{}, err
		}
		m.Code, m.Text = string(args[0]), string(args[1])
	case KindInfo:
		switch len(args) {
		case 0:
		case 3:
			m.Model, m.Firmware, m.Serial = string(args[0]), string(args[1]), string(args[2])
			if m.Model == "" && m.Firmware == "" && m.Serial == "" {
				return Message{}, fmt.Errorf("%w: INFO reply with empty fields", ErrFormat)
			}
		default:
			return Message{}, fmt.Errorf("%w: INFO has %d fields, want 0 or 3", ErrFormat, len(args))
		}
	case KindRead:
		switch len(args) {
		case 0:
		case 1:
			m.Item = string(args[0])
			if m.Item == "" {
				return Message{}, fmt.Errorf("%w: READ with an empty item", ErrFormat)
			}
		default:
			return Message{}, fmt.Errorf("%w: READ has %d fields, want 0 or 1", ErrFormat, len(args))
		}
	default:
		return Message{}, fmt.Errorf("%w: %q", ErrUnknown, clip(fields[0]))
	}
	return m, nil
}

func checkText(s string) error {
	for _, r := range s {
		if r < 0x20 || r == 0x7F || r == ',' || r == '*' || r == '$' || r == 0xFFFD {
			return fmt.Errorf("%w: forbidden character %q in a field", ErrFormat, r)
		}
	}
	return nil
}

// parseMilli parses the canonical "I.DDD" (I without leading zeros, at
// most 6 digits) into thousandths.
func parseMilli(b []byte, name string) (int64, error) {
	bad := fmt.Errorf("%w: %s %q is not a number with three decimals (like 42.125)", ErrFormat, name, clip(b))
	dot := bytes.IndexByte(b, '.')
	if dot < 1 || dot > 6 || len(b) != dot+4 || (b[0] == '0' && dot > 1) {
		return 0, bad
	}
	var v int64
	for i, c := range b {
		if i == dot {
			continue
		}
		if c < '0' || c > '9' {
			return 0, bad
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

func unhex2(a, b byte) (byte, bool) {
	h := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	x, ok1 := h(a)
	y, ok2 := h(b)
	return x<<4 | y, ok1 && ok2
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// SplitLines is a bufio.SplitFunc for a reader's byte stream: it skips
// anything before a '$', returns each sentence without its CR LF, and
// drops a sentence longer than MaxLine (resynchronising on the next '$').
// The bytes skipped are lost silently; callers count bad sentences from
// Parse.
func SplitLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	for {
		start := bytes.IndexByte(data, '$')
		if start < 0 {
			return advance + len(data), nil, nil // all garbage
		}
		rest := data[start:]
		// Look no further than one maximal sentence: linear time even on
		// a stream of garbage.
		win := rest[:min(len(rest), MaxLine+2)]
		nl := bytes.IndexByte(win, '\n')
		next := bytes.IndexByte(win[1:], '$') + 1
		switch {
		case next > 0 && (nl < 0 || next < nl):
			// A '$' before the end: the earlier sentence was cut short.
			advance += start + next
			data = data[start+next:]
		case nl >= 0:
			return advance + start + nl + 1, bytes.TrimSuffix(rest[:nl], []byte{'\r'}), nil
		case len(rest) >= MaxLine+2:
			advance += start + 1 // too long: drop this '$' and resync
			data = data[start+1:]
		case atEOF:
			return advance + len(data), nil, nil
		default:
			return advance + start, nil, nil // need more data
		}
	}
}
