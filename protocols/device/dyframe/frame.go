package dyframe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame layout constants.
const (
	// Start0 and Start1 open every frame.
	Start0 byte = 0x03
	Start1 byte = 0xFF
	// HeaderLen is the length of the header including both check bytes.
	HeaderLen = 12
	// MaxData is the longest data part this codec accepts. The vendor
	// software reads item lists of about 300 bytes; our longest message is
	// the 108-byte report. A length field above MaxData is treated as
	// damage, which bounds both memory and the resynchronisation delay.
	MaxData = 1024
	// MaxFrame is the longest frame: HeaderLen + MaxData.
	MaxFrame = HeaderLen + MaxData
)

// Command codes. The vendor codes are taken from the DY-3000 upload
// software (see README.md); the 0xA_ codes are Shian's own, chosen outside
// every range the vendor uses.
const (
	// CmdCommTest is the communication test (通信测试). Vendor.
	CmdCommTest byte = 0x20
	// CmdItem reads a wet-chemistry test item (name, unit). Vendor; not
	// decoded yet.
	CmdItem byte = 0x42
	// CmdRecordRange reads the record range for a date range. Vendor; not
	// decoded yet.
	CmdRecordRange byte = 0x43
	// CmdRecord reads one wet-chemistry record. Vendor; not decoded yet.
	CmdRecord byte = 0x45
	// CmdReport is an enzyme-inhibition result pushed by the tester. Shian.
	CmdReport byte = 0xA1
	// CmdAck acknowledges a report. Shian.
	CmdAck byte = 0xA2
	// CmdStarted says a test has started. Shian.
	CmdStarted byte = 0xA3
)

// Frame is one frame: a command, five parameter bytes and the data. The
// meaning of Param and Data depends on the command.
type Frame struct {
	Cmd   byte
	Param [5]byte
	Data  []byte
}

// Errors. Callers branch on them with errors.Is; the concrete error of a
// rejected frame is a *FrameError.
var (
	// ErrIncomplete means more bytes are needed; it is not a failure.
	ErrIncomplete = errors.New("dyframe: incomplete frame, need more bytes")
	// ErrChecksum means a header or data check byte does not match: the
	// frame was damaged on the line.
	ErrChecksum = errors.New("dyframe: check byte mismatch")
	// ErrLength means a length field is out of range, or a frame's data is
	// not the length its command requires.
	ErrLength = errors.New("dyframe: bad length")
	// ErrField means a frame passed its checks but a field makes no sense
	// (an impossible date, text that is not GB2312, a reserved value).
	ErrField = errors.New("dyframe: bad field")
	// ErrUnknownCommand means a valid frame carries a command this codec
	// does not decode.
	ErrUnknownCommand = errors.New("dyframe: unknown command")
	// ErrTruncated means a frame started but the line went quiet (or was
	// reset) before it was complete.
	ErrTruncated = errors.New("dyframe: truncated frame")
)

// FrameError describes a rejected frame or message. Err is one of the
// sentinel errors above.
type FrameError struct {
	Err    error
	Cmd    byte   // command byte of the rejected frame, if known
	Detail string // what exactly was wrong
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("%v (cmd 0x%02X): %s", e.Err, e.Cmd, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *FrameError) Unwrap() error { return e.Err }

func frameErr(kind error, cmd byte, format string, args ...any) *FrameError {
	return &FrameError{Err: kind, Cmd: cmd, Detail: fmt.Sprintf(format, args...)}
}

// XOR returns the block check character of b: all bytes XORed together.
// This is what the vendor's CheckDataSum computes.
func XOR(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// Append appends the encoded frame to dst. It fails only when the data is
// longer than MaxData.
func (f Frame) Append(dst []byte) ([]byte, error) {
	if len(f.Data) > MaxData {
		return dst, frameErr(ErrLength, f.Cmd, "data is %d bytes, at most %d allowed", len(f.Data), MaxData)
	}
	start := len(dst)
	dst = append(dst, Start0, Start1, f.Cmd)
	dst = append(dst, f.Param[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(f.Data)))
	dst = append(dst, XOR(dst[start:start+10]), XOR(f.Data))
	return append(dst, f.Data...), nil
}

// Bytes returns the encoded frame.
func (f Frame) Bytes() ([]byte, error) {
	return f.Append(make([]byte, 0, HeaderLen+len(f.Data)))
}

// Param32 returns parameter bytes 1–4 as a little-endian uint32 (the record
// number in record, report, started and ack frames).
func (f Frame) Param32() uint32 { return binary.LittleEndian.Uint32(f.Param[1:5]) }

// SetParam32 stores v little-endian in parameter bytes 1–4.
func (f *Frame) SetParam32(v uint32) { binary.LittleEndian.PutUint32(f.Param[1:5], v) }

// ParseFrame decodes one whole frame from the start of b and returns it with
// the number of bytes it used. Unlike Scanner it does not search: b must
// begin with a frame. It returns ErrIncomplete when b is a proper prefix of
// a frame. The frame's Data aliases b.
func ParseFrame(b []byte) (Frame, int, error) {
	if len(b) >= 1 && b[0] != Start0 || len(b) >= 2 && b[1] != Start1 {
		return Frame{}, 0, frameErr(ErrField, 0, "frame does not start with 03 FF")
	}
	if len(b) < HeaderLen {
		return Frame{}, 0, ErrIncomplete
	}
	cmd := b[2]
	if XOR(b[:10]) != b[10] {
		return Frame{}, 0, frameErr(ErrChecksum, cmd, "header check is %02X, header XORs to %02X", b[10], XOR(b[:10]))
	}
	n := int(binary.LittleEndian.Uint16(b[8:10]))
	if n > MaxData {
		return Frame{}, 0, frameErr(ErrLength, cmd, "length field says %d data bytes, at most %d allowed", n, MaxData)
	}
	if len(b) < HeaderLen+n {
		return Frame{}, 0, ErrIncomplete
	}
	data := b[HeaderLen : HeaderLen+n]
	if XOR(data) != b[11] {
		return Frame{}, 0, frameErr(ErrChecksum, cmd, "data check is %02X, %d data bytes XOR to %02X", b[11], n, XOR(data))
	}
	f := Frame{Cmd: cmd, Data: data}
	copy(f.Param[:], b[3:8])
	return f, HeaderLen + n, nil
}
