// Package goldcard is the register map of the SHIAN-GC1 colloidal-gold
// card reader (胶体金读卡仪), a Modbus RTU slave on RS-485: the register
// addresses, the status bits, the item and verdict codes, and the
// decoding of the identity and result blocks into typed values. Plain Go,
// no I/O: the slave is firmware/cardreader (whose README is the register
// map's reference), the master kiosk/device/modbusgold; both encode and
// decode with this package and protocols/modbus.
//
// # Blocks
//
// Input registers (function 04, read-only):
//
//	0x0000–0x000F  identity   device id 0x4743 ("GC"), firmware version, serial (8 ASCII),
//	                          model (16 ASCII), hardware revision, queue capacity
//	0x0010–0x001C  result     status, result sequence, result ready, item, mode, the
//	                          reader's verdict, C and T (u32, thousandths), T/C × 1000, time
//
// Holding registers (function 03 to read, 06 or 16 to write):
//
//	0x0100  ACK       write the result sequence to acknowledge the presented result
//	0x0101  ITEM_SEL  item code of the next measurement
//	0x0102  MODE_SEL  0 line intensity (消线法), 1 T/C ratio (比色法)
//	0x0103  COMMAND   1 measure the card in the slot now, 2 clear a fault
//
// COMMAND comes last so that one write-multiple of ITEM_SEL, MODE_SEL and
// COMMAND selects the item and mode and then measures.
//
// Each block is read in one request, so its values are consistent: a
// master reads the result block, takes the result if RESULT_READY is 1
// and its sequence is new, and writes the sequence to ACK; the reader then
// presents the next queued result. A result is never lost to a master
// that was away, and a lost acknowledgement only repeats a sequence the
// master has already seen.
//
// # Checks
//
// [DecodeResult] refuses a block that contradicts itself — the ready flag
// and the status bit disagree, T/C does not match C and T, an intensity is
// off the 0–100 scale, an unknown item, mode or verdict code — with an
// error matching [ErrValue]. The CRC of the Modbus frame guards the bytes;
// these checks guard against a reader whose registers are not what this
// map says.
package goldcard

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// DeviceID is the value of the DEVICE_ID register ("GC").
const DeviceID = 0x4743

// Register addresses (0-based, as on the wire).
const (
	RegDeviceID   = 0x0000
	RegFirmware   = 0x0001
	RegSerial     = 0x0002 // 4 registers, 8 ASCII bytes
	RegModel      = 0x0006 // 8 registers, 16 ASCII bytes
	RegHardware   = 0x000E
	RegQueueCap   = 0x000F
	RegStatus     = 0x0010
	RegResultSeq  = 0x0011
	RegReady      = 0x0012
	RegItem       = 0x0013
	RegMode       = 0x0014
	RegVerdict    = 0x0015
	RegC          = 0x0016 // 2 registers, high word first
	RegT          = 0x0018 // 2 registers, high word first
	RegTC         = 0x001A
	RegTime       = 0x001B // 2 registers, high word first
	RegAck        = 0x0100
	RegItemSelect = 0x0101
	RegModeSelect = 0x0102
	RegCommand    = 0x0103
)

// Block extents.
const (
	IdentityAddr = RegDeviceID
	IdentityLen  = 16
	ResultAddr   = RegStatus
	ResultLen    = 13
	InputLen     = ResultAddr + ResultLen // input registers 0…InputLen-1
	HoldingAddr  = RegAck
	HoldingLen   = 4
	SerialLen    = 8  // bytes
	ModelLen     = 16 // bytes
)

// Status bits of the STATUS register; bits 8–15 hold the number of
// results waiting (the presented one included).
const (
	StatusIdle        = 1 << 0
	StatusMeasuring   = 1 << 1
	StatusCard        = 1 << 2 // a card is in the slot
	StatusResultReady = 1 << 3
	StatusFault       = 1 << 7
)

// Commands written to COMMAND.
const (
	CmdMeasure    = 1
	CmdClearFault = 2
)

// FullScale is the top of the reader's intensity scale (100.000).
const FullScale = 100 * measure.IntensityUnit

// NoRatio is the T/C register when C is 0.
const NoRatio = 0xFFFF

// Mode is how the reader decides a card.
type Mode uint16

// Modes.
const (
	ModeLine  Mode = 0 // 消线法: T-line intensity
	ModeRatio Mode = 1 // 比色法: T/C ratio
)

// String returns "line" or "ratio".
func (m Mode) String() string {
	switch m {
	case ModeLine:
		return "line"
	case ModeRatio:
		return "ratio"
	}
	return fmt.Sprintf("mode %d", uint16(m))
}

// Verdict is the reader's own conclusion. The kiosk records the C and T
// intensities and decides with protocols/assay; the reader's verdict is
// shown on its screen and kept for comparison.
type Verdict uint16

// Verdict codes.
const (
	VerdictNone       Verdict = 0
	VerdictNegative   Verdict = 1
	VerdictSuspicious Verdict = 2
	VerdictPositive   Verdict = 3
	VerdictInvalid    Verdict = 4
)

// String returns the verdict's machine name (as protocols/domain/assay spells it).
func (v Verdict) String() string {
	switch v {
	case VerdictNone:
		return "none"
	case VerdictNegative:
		return "negative"
	case VerdictSuspicious:
		return "suspicious"
	case VerdictPositive:
		return "positive"
	case VerdictInvalid:
		return "invalid"
	}
	return fmt.Sprintf("verdict %d", uint16(v))
}

// Item is a test item code.
type Item uint16

// ItemInfo names an item.
type ItemInfo struct {
	Code    Item
	Analyte string // the key of protocols/assay's gold table
	Name    string // 检测项目 as printed on the card box
}

// Items is the item table of the reader's firmware.
var Items = []ItemInfo{
	{1, "clenbuterol", "克伦特罗"},
	{2, "ractopamine", "莱克多巴胺"},
	{3, "salbutamol", "沙丁胺醇"},
	{4, "chloramphenicol", "氯霉素"},
	{5, "malachite_green", "孔雀石绿"},
	{6, "aflatoxin_b1", "黄曲霉毒素B1"},
}

// Lookup returns the item with code c.
func Lookup(c Item) (ItemInfo, bool) {
	for _, it := range Items {
		if it.Code == c {
			return it, true
		}
	}
	return ItemInfo{}, false
}

// ItemByName finds an item by analyte key or Chinese name.
func ItemByName(s string) (ItemInfo, bool) {
	s = strings.TrimSpace(s)
	for _, it := range Items {
		if strings.EqualFold(it.Analyte, s) || it.Name == s {
			return it, true
		}
	}
	return ItemInfo{}, false
}

// ErrValue is matched by every decoding error: registers that contradict
// themselves or this map.
var ErrValue = errors.New("goldcard: register values out of the map")

func valueErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrValue, fmt.Sprintf(format, a...))
}

// Identity is the identity block.
type Identity struct {
	Firmware      uint16 // major<<8 | minor
	Serial        string // ≤ 8 ASCII characters
	Model         string // ≤ 16 ASCII characters
	Hardware      uint16
	QueueCapacity uint16
}

// FirmwareString returns "1.0" for 0x0100.
func (id Identity) FirmwareString() string {
	return fmt.Sprintf("%d.%d", id.Firmware>>8, id.Firmware&0xFF)
}

// Registers encodes the identity block.
func (id Identity) Registers() ([]uint16, error) {
	r := make([]uint16, IdentityLen)
	r[0] = DeviceID
	r[1] = id.Firmware
	if err := putASCII(r[2:6], id.Serial); err != nil {
		return nil, fmt.Errorf("goldcard: serial: %w", err)
	}
	if err := putASCII(r[6:14], id.Model); err != nil {
		return nil, fmt.Errorf("goldcard: model: %w", err)
	}
	r[14] = id.Hardware
	r[15] = id.QueueCapacity
	return r, nil
}

// DecodeIdentity decodes the identity block (IdentityLen registers).
func DecodeIdentity(r []uint16) (Identity, error) {
	if len(r) != IdentityLen {
		return Identity{}, valueErr("identity block of %d registers, want %d", len(r), IdentityLen)
	}
	if r[0] != DeviceID {
		return Identity{}, valueErr("device id %04X, want %04X (is this a SHIAN-GC card reader at this address?)", r[0], DeviceID)
	}
	id := Identity{Firmware: r[1], Hardware: r[14], QueueCapacity: r[15]}
	var err error
	if id.Serial, err = getASCII(r[2:6]); err != nil {
		return Identity{}, valueErr("serial: %v", err)
	}
	if id.Model, err = getASCII(r[6:14]); err != nil {
		return Identity{}, valueErr("model: %v", err)
	}
	return id, nil
}

// putASCII writes s into regs, two bytes per register, high byte first,
// NUL padded.
func putASCII(regs []uint16, s string) error {
	if len(s) > 2*len(regs) {
		return fmt.Errorf("%q is longer than %d bytes", s, 2*len(regs))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return fmt.Errorf("%q: printable ASCII only", s)
		}
	}
	b := make([]byte, 2*len(regs))
	copy(b, s)
	for i := range regs {
		regs[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return nil
}

// getASCII reads NUL-padded printable ASCII; bytes after the first NUL
// must be NUL too (so that every accepted block re-encodes the same).
func getASCII(regs []uint16) (string, error) {
	b := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		b = append(b, byte(r>>8), byte(r))
	}
	n := len(b)
	for i, c := range b {
		if c == 0 {
			n = i
			break
		}
	}
	for i, c := range b {
		if i < n && (c < 0x20 || c > 0x7E) {
			return "", fmt.Errorf("byte %02X at %d is not printable ASCII", c, i)
		}
		if i >= n && c != 0 {
			return "", fmt.Errorf("byte %02X after the terminating NUL", c)
		}
	}
	return string(b[:n]), nil
}

// Result is the result block.
type Result struct {
	Status uint16
	// Seq numbers the results of one reader: 1…65535, then 1 again; 0
	// until the first result.
	Seq uint16
	// Ready is true when the block holds a result not yet acknowledged;
	// the fields below are meaningful only then.
	Ready   bool
	Item    Item
	Mode    Mode
	Verdict Verdict
	C, T    measure.Intensity
	// Time is the reader's clock at the measurement (zero when its clock
	// is not set).
	Time time.Time
}

// Waiting returns the number of results queued in the reader (STATUS
// bits 8–15).
func (r Result) Waiting() int { return int(r.Status >> 8) }

// RatioRegister returns the T/C register for intensities c and t:
// round(1000·T/C), at most 0xFFFE, or NoRatio when c is 0.
func RatioRegister(c, t measure.Intensity) uint16 {
	if c <= 0 {
		return NoRatio
	}
	v := (int64(max(t, 0))*1000 + int64(c)/2) / int64(c)
	return uint16(min(v, 0xFFFE))
}

// Registers encodes the result block.
func (r Result) Registers() ([]uint16, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	regs := make([]uint16, ResultLen)
	regs[0] = r.Status
	regs[1] = r.Seq
	if r.Ready {
		regs[2] = 1
		regs[3] = uint16(r.Item)
		regs[4] = uint16(r.Mode)
		regs[5] = uint16(r.Verdict)
		regs[6], regs[7] = uint16(uint32(r.C)>>16), uint16(r.C)
		regs[8], regs[9] = uint16(uint32(r.T)>>16), uint16(r.T)
		regs[10] = RatioRegister(r.C, r.T)
		var secs uint32
		if !r.Time.IsZero() {
			secs = uint32(r.Time.Unix())
		}
		regs[11], regs[12] = uint16(secs>>16), uint16(secs)
	}
	return regs, nil
}

func (r Result) validate() error {
	if r.Ready != (r.Status&StatusResultReady != 0) {
		return valueErr("result ready %v but status %04X", r.Ready, r.Status)
	}
	if !r.Ready {
		if r.Item != 0 || r.Mode != 0 || r.Verdict != 0 || r.C != 0 || r.T != 0 || !r.Time.IsZero() {
			return valueErr("result fields set while no result is ready")
		}
		return nil
	}
	if r.Seq == 0 {
		return valueErr("a ready result with sequence 0")
	}
	if _, ok := Lookup(r.Item); !ok {
		return valueErr("unknown item code %d", r.Item)
	}
	if r.Mode != ModeLine && r.Mode != ModeRatio {
		return valueErr("unknown mode %d", r.Mode)
	}
	if r.Verdict < VerdictNegative || r.Verdict > VerdictInvalid {
		return valueErr("verdict code %d of a ready result", r.Verdict)
	}
	for _, v := range []measure.Intensity{r.C, r.T} {
		if v < 0 || v > FullScale {
			return valueErr("intensity %v is off the 0–100 scale", v)
		}
	}
	if !r.Time.IsZero() && (r.Time.Unix() <= 0 || r.Time.Unix() > 0xFFFFFFFF || r.Time.Nanosecond() != 0) {
		return valueErr("time %v cannot be carried in whole u32 seconds", r.Time)
	}
	return nil
}

// DecodeResult decodes the result block (ResultLen registers). Time is in
// UTC.
func DecodeResult(regs []uint16) (Result, error) {
	if len(regs) != ResultLen {
		return Result{}, valueErr("result block of %d registers, want %d", len(regs), ResultLen)
	}
	r := Result{Status: regs[0], Seq: regs[1]}
	switch regs[2] {
	case 0:
		for i := 3; i < ResultLen; i++ {
			if regs[i] != 0 {
				return Result{}, valueErr("register %04X is %d while no result is ready", ResultAddr+i, regs[i])
			}
		}
	case 1:
		r.Ready = true
		r.Item, r.Mode, r.Verdict = Item(regs[3]), Mode(regs[4]), Verdict(regs[5])
		r.C = measure.Intensity(uint32(regs[6])<<16 | uint32(regs[7]))
		r.T = measure.Intensity(uint32(regs[8])<<16 | uint32(regs[9]))
		if secs := uint32(regs[11])<<16 | uint32(regs[12]); secs != 0 {
			r.Time = time.Unix(int64(secs), 0).UTC()
		}
	default:
		return Result{}, valueErr("RESULT_READY is %d, want 0 or 1", regs[2])
	}
	if err := r.validate(); err != nil {
		return Result{}, err
	}
	if r.Ready {
		if want := RatioRegister(r.C, r.T); regs[10] != want {
			return Result{}, valueErr("T/C register %d, but C %v and T %v give %d", regs[10], r.C, r.T, want)
		}
	}
	return r, nil
}
