package profile

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// Kind is how a device talks.
type Kind string

// Transports.
const (
	// ModbusRTU is Modbus RTU on a serial line (RS-485, RS-232, USB).
	ModbusRTU Kind = "modbus-rtu"
	// ModbusTCP is Modbus TCP (port 502 on the device's address).
	ModbusTCP Kind = "modbus-tcp"
	// Text is lines of text on a serial line: a result per line, or a
	// block of lines between a begin and an end line (a printed report).
	Text Kind = "text"
)

// Kinds lists the transports.
func Kinds() []Kind { return []Kind{ModbusRTU, ModbusTCP, Text} }

// Modbus reports whether k is a Modbus transport.
func (k Kind) Modbus() bool { return k == ModbusRTU || k == ModbusTCP }

// Table is a Modbus register table.
type Table uint8

// Tables.
const (
	Holding Table = 1 // function 03 to read, 06/16 to write
	Input   Table = 2 // function 04, read-only
)

// String returns "holding" or "input".
func (t Table) String() string {
	switch t {
	case Holding:
		return "holding"
	case Input:
		return "input"
	}
	return fmt.Sprintf("table(%d)", uint8(t))
}

// Type is how a register value is read.
type Type string

// Register types.
const (
	U16     Type = "u16"
	S16     Type = "s16"
	U32     Type = "u32"
	S32     Type = "s32"
	Float32 Type = "float32"
	// ASCII is text, two characters per register, high byte first, NUL
	// padded (identity fields only).
	ASCII Type = "ascii"
)

// Words returns how many registers a value of type t takes (ASCII: the
// field's count).
func (t Type) Words() int {
	switch t {
	case U32, S32, Float32:
		return 2
	}
	return 1
}

// Profile is one instrument profile, parsed and checked.
type Profile struct {
	// Name is what kiosk.yaml names (profile: VENDOR-MODEL).
	Name        string
	Vendor      string
	Model       string
	Description string
	Transport   Transport
	// Identity is read once when the device is opened (optional).
	Identity *Identity
	Result   Result
	// Error recognises a text device's error report (optional).
	Error *TextError
	// Items maps item codes (as the device sends them, in decimal for a
	// register) to what they test.
	Items map[string]Item
	// Trigger starts a measurement from the kiosk (optional).
	Trigger *Trigger
	// File is where the profile came from ("builtin/shian-gc1.yaml").
	File string
}

// Item is one test item.
type Item struct {
	Code string
	// Analyte is the machine name (the key of the assay gold table, e.g.
	// "clenbuterol"); Name what people read (检测项目, e.g. 克伦特罗).
	Analyte string
	Name    string
}

// Transport is how to reach the device.
type Transport struct {
	Kind Kind
	// Serial line (modbus-rtu, text): 9600 8N1 by default.
	Baud     int
	DataBits int
	Parity   string // "N", "E", "O"
	StopBits int
	// Unit is the default Modbus unit address (1; kiosk.yaml's addr
	// overrides).
	Unit uint8
	// PollEvery is the time between result polls (Modbus, 1 s);
	// ReplyTimeout bounds the wait for an answer (300 ms).
	PollEvery    time.Duration
	ReplyTimeout time.Duration
	// Text framing: the line end ("\r\n"), the longest line (256), and
	// for reports of several lines the block's begin and end lines.
	LineEnd string
	MaxLine int
	Block   *Block
	// Probe is what the kiosk sends a quiet text device to hear from it.
	Probe *Probe
}

// Block frames a multi-line text report.
type Block struct {
	Begin, End *regexp.Regexp
	MaxLines   int
	// Timeout abandons a report that stops half-way (2 s).
	Timeout time.Duration
}

// Probe asks a text device to answer.
type Probe struct {
	Send         string
	Every        time.Duration // 30 s
	ReplyTimeout time.Duration // 1 s
}

// Read is one block of registers read in one request.
type Read struct {
	Table        Table
	Start, Count uint16
	Line         int
}

// Field says where one value is: a register (Modbus) or a named group of
// the message's regular expression (text).
type Field struct {
	Table    Table
	Register uint16
	Type     Type
	Count    int  // registers of an ASCII field
	WordLow  bool // word_order: little (low word first)
	ByteLow  bool // byte_order: little (low byte first in each register)
	Group    string
	Hex      bool     // a text group in hexadecimal
	Scale    *big.Rat // nil: 1
	Offset   *big.Rat // nil: 0
	Line     int
}

// Words returns how many registers the field spans.
func (f Field) Words() int {
	if f.Type == ASCII {
		return f.Count
	}
	return f.Type.Words()
}

// String names the field for messages: "input 0x0016 u32" or "group rlu".
func (f Field) String() string {
	if f.Group != "" {
		return "group " + f.Group
	}
	return fmt.Sprintf("%s register 0x%04X %s", f.Table, f.Register, f.Type)
}

// Cond is a register condition: a bit set, or a value equal.
type Cond struct {
	Field  Field
	Bit    int // 0…15, or -1 to compare Equals
	Equals uint16
}

// Selector picks a code: from a register or a group, or a constant.
type Selector struct {
	Field *Field
	Const string
	// FromMethod (items only): the item is looked up by the method's name.
	FromMethod bool
	Line       int
}

// MethodSel says which method decides: a fixed one, or one per code.
type MethodSel struct {
	Fixed assay.Method
	From  *Field
	Map   map[string]assay.Method
	// Default is the method a trigger selects when the kiosk names none.
	Default assay.Method
	Line    int
}

// Methods lists every method the selector can give.
func (m MethodSel) Methods() []assay.Method {
	if m.From == nil {
		return []assay.Method{m.Fixed}
	}
	seen := map[assay.Method]bool{}
	var out []assay.Method
	for _, k := range sortedKeys(m.Map) {
		if x := m.Map[k]; !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Code returns the code that selects method x, if any.
func (m MethodSel) Code(x assay.Method) (string, bool) {
	for _, k := range sortedKeys(m.Map) {
		if m.Map[k] == x {
			return k, true
		}
	}
	return "", false
}

// TimeSel says where the device's clock of a result is.
type TimeSel struct {
	// Unix: one register field of Unix seconds (0: clock not set).
	Unix *Field
	// Parts: year, month, day, hour, minute, second registers.
	Parts map[string]Field
	// Groups and Layout: text groups joined by a space and parsed with
	// the time.Parse layout.
	Groups []string
	Layout string
	Zone   *time.Location
	Line   int
}

// Ack is how a result is acknowledged: write Value (the sequence, or a
// constant) to Register.
type Ack struct {
	Register   uint16
	ValueConst uint16
	Sequence   bool
	Line       int
}

// Result is where a result is and when it is ready.
type Result struct {
	// Modbus.
	Reads []Read
	Ready *Cond
	// ReadyOnSequence: a result is new when Sequence differs from the
	// last one seen (no ready flag).
	ReadyOnSequence bool
	Busy, Fault     *Cond
	// Text.
	Match    *Pattern
	Checksum *Checksum

	Sequence   *Field
	Serial     *Field
	Model      *Field
	SampleCode *Field
	SampleName *Field
	Item       *Selector
	Method     MethodSel
	Time       *TimeSel
	Values     map[string]Field
	Ack        *Ack
}

// Identity is what identifies the device.
type Identity struct {
	Reads []Read
	Match *Pattern
	// Expect are conditions the identity must meet (Modbus: registers
	// equal; text: groups equal).
	Expect   []Cond
	ExpectIn map[string]string // text: group → value
	Serial   *Field
	Model    *Field
	Firmware *Field
	Line     int
}

// TextError is a text device's error report.
type TextError struct {
	Match *Pattern
	Code  *Field
}

// Pattern is a text message's regular expression.
type Pattern struct {
	Re   *regexp.Regexp
	Line int
}

// Checksum is a text message's check value.
type Checksum struct {
	Algorithm string // crc16-ccitt-false, crc16-modbus, xor8, sum8
	// Value is the group holding the check value (hexadecimal).
	Value string
	// Over is the group the check covers; "" means every byte before the
	// line that holds Value (preceding lines).
	Over string
	Line int
}

// Trigger starts a measurement: write Values at Register (Modbus), or
// send Send (text).
type Trigger struct {
	Register uint16
	// Values are numbers, or the tokens "item" (the code of the item the
	// operator chose) and "method" (the code of the device's method).
	Values []string
	// WithoutItem is written instead when no item is chosen.
	WithoutItem *Trigger
	Send        string
	// Exceptions are the messages for the operator per Modbus exception
	// code.
	Exceptions map[uint8]string
	Line       int
}

// Errors of decoding. Callers branch with errors.Is.
var (
	// ErrValue: registers or a message the profile does not allow.
	ErrValue = errors.New("profile: value out of the profile")
	// ErrChecksum: a text message's check value fails.
	ErrChecksum = errors.New("profile: checksum mismatch")
	// ErrNoMatch: a text message matches none of the profile's patterns.
	ErrNoMatch = errors.New("profile: message matches no pattern of the profile")
	// ErrIdentity: the device is not the one the profile describes.
	ErrIdentity = errors.New("profile: not the device the profile describes")
)

func valueErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrValue, fmt.Sprintf(format, a...))
}
