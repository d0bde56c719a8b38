// Package tcs34725 is the register protocol of the ams TCS3472x colour
// light-to-digital converters (TCS34725 at 0x29), as plain Go with no I/O.
//
// # Command byte
//
// Every transaction starts with a command byte: 0x80 | register
// ([Cmd]). Bit 5 (0x20) asks for auto-increment, so a block read walks
// consecutive registers ([CmdAuto]); the clear/red/green/blue data block
// 0x14–0x1B is read in one go with command 0xB4.
//
// # Reading colour counts
//
//	write 92, read 1         ID: 0x44 for a TCS34725
//	write 81 <ATIME>         integration = 2.4 ms × (256 − ATIME)
//	write 8F <AGAIN>         gain 1×, 4×, 16×, 60×
//	write 80 01              ENABLE = PON          (power on; wait ≥ 2.4 ms)
//	write 80 03              ENABLE = PON|AEN      (start the ADC; wait one integration)
//	write 93, read 1         STATUS until AVALID (bit 0)
//	write B4, read 8         C, R, G, B: 16-bit little-endian each
//
// (the write-then-read steps are single i2c Tx calls with a repeated
// start). Check the ID register (0x92 → 0x44 for TCS34725/34721, 0x4D for
// TCS34727/34723) once after power-up: a wrong ID means a wrong part or
// address, and [CheckID] says so with a *[IDError].
//
// # Integrity
//
// The sensor sends no checksum. What can be checked is checked: the ID,
// AVALID, and that no count exceeds the maximum for the integration time
// ([ATime.MaxCount]); a count at the maximum is saturated ([ErrSaturated]:
// lower the gain or ATIME). A flipped data bit is otherwise undetectable;
// readers that need more read twice and compare.
package tcs34725

import (
	"errors"
	"fmt"
	"time"
)

// Addr is the I²C address of the TCS34725 and TCS34727 (the TCS34721 and
// TCS34723 answer at 0x39).
const Addr uint16 = 0x29

// Command bits.
const (
	CmdBit      byte = 0x80
	AutoInc     byte = 0x20
	SpecialFunc byte = 0x60
	// ClearInt is the special function that clears the interrupt (0xE6).
	ClearInt byte = CmdBit | SpecialFunc | 0x06
)

// Registers.
const (
	RegEnable  byte = 0x00
	RegATime   byte = 0x01
	RegWTime   byte = 0x03
	RegAILTL   byte = 0x04
	RegPers    byte = 0x0C
	RegConfig  byte = 0x0D
	RegControl byte = 0x0F
	RegID      byte = 0x12
	RegStatus  byte = 0x13
	RegCDataL  byte = 0x14 // C, R, G, B low/high bytes follow to 0x1B
)

// ENABLE bits.
const (
	EnablePON  byte = 0x01
	EnableAEN  byte = 0x02
	EnableWEN  byte = 0x08
	EnableAIEN byte = 0x10
)

// STATUS bits.
const (
	StatusAValid byte = 0x01
	StatusAInt   byte = 0x10
)

// ID register values.
const (
	ID34725 byte = 0x44 // TCS34721 / TCS34725
	ID34727 byte = 0x4D // TCS34723 / TCS34727
)

// PowerOnDelay is the wait after setting PON before enabling the ADC.
const PowerOnDelay = 2400 * time.Microsecond

// DataLen is the length of the C, R, G, B block.
const DataLen = 8

// Cmd returns the command byte addressing reg.
func Cmd(reg byte) byte { return CmdBit | reg&0x1F }

// CmdAuto returns the command byte for an auto-increment block access
// starting at reg.
func CmdAuto(reg byte) byte { return CmdBit | AutoInc | reg&0x1F }

// WriteReg returns the bytes that write v into reg.
func WriteReg(reg, v byte) []byte { return []byte{Cmd(reg), v} }

// ATime is the ATIME register: integration time 2.4 ms × (256 − ATIME).
type ATime byte

// Integration returns the integration time.
func (a ATime) Integration() time.Duration {
	return time.Duration(256-int(a)) * 2400 * time.Microsecond
}

// MaxCount returns the highest count a channel can reach:
// min(65535, 1024 × (256 − ATIME)).
func (a ATime) MaxCount() uint16 {
	return uint16(min(65535, 1024*(256-int(a))))
}

// Gain is the analogue gain (CONTROL register AGAIN bits).
type Gain byte

// Gains.
const (
	Gain1x  Gain = 0
	Gain4x  Gain = 1
	Gain16x Gain = 2
	Gain60x Gain = 3
)

// Factor returns the multiplication factor of g.
func (g Gain) Factor() int { return [...]int{1, 4, 16, 60}[g&3] }

// String returns e.g. "16x".
func (g Gain) String() string { return fmt.Sprintf("%dx", g.Factor()) }

// ParseGain parses "1x", "4", "16x", "60x".
func ParseGain(s string) (Gain, error) {
	switch s {
	case "1", "1x":
		return Gain1x, nil
	case "4", "4x":
		return Gain4x, nil
	case "16", "16x":
		return Gain16x, nil
	case "60", "60x":
		return Gain60x, nil
	}
	return 0, fmt.Errorf("tcs34725: gain %q: use 1x, 4x, 16x or 60x", s)
}

// Counts are the four channel counts of one integration.
type Counts struct {
	C uint16 `json:"c"`
	R uint16 `json:"r"`
	G uint16 `json:"g"`
	B uint16 `json:"b"`
}

// Errors. Callers branch with errors.Is.
var (
	ErrLength    = errors.New("tcs34725: wrong read length")
	ErrWrongID   = errors.New("tcs34725: unexpected ID register value")
	ErrSaturated = errors.New("tcs34725: channel saturated")
	ErrRange     = errors.New("tcs34725: count above the maximum for the integration time")
	ErrNotValid  = errors.New("tcs34725: no valid integration (AVALID clear)")
)

// IDError is a wrong ID register value.
type IDError struct{ Got byte }

func (e *IDError) Error() string {
	return fmt.Sprintf("tcs34725: ID register reads 0x%02X, want 0x44 (TCS34725) or 0x4D (TCS34727): wrong part or address on the bus (a TCS34721/3 answers at 0x39)", e.Got)
}

// Is makes errors.Is(err, ErrWrongID) true.
func (e *IDError) Is(target error) bool { return target == ErrWrongID }

// CheckID accepts the ID values of the parts at 0x29 and returns the model.
func CheckID(id byte) (string, error) {
	switch id {
	case ID34725:
		return "TCS34725", nil
	case ID34727:
		return "TCS34727", nil
	}
	return "", &IDError{Got: id}
}

// DecodeCounts decodes the 8-byte data block (C, R, G, B little-endian).
func DecodeCounts(b []byte) (Counts, error) {
	if len(b) != DataLen {
		return Counts{}, fmt.Errorf("%w: %d bytes, want %d", ErrLength, len(b), DataLen)
	}
	le := func(i int) uint16 { return uint16(b[i]) | uint16(b[i+1])<<8 }
	return Counts{C: le(0), R: le(2), G: le(4), B: le(6)}, nil
}

// Encode is the sensor side of DecodeCounts.
func (c Counts) Encode() []byte {
	return []byte{byte(c.C), byte(c.C >> 8), byte(c.R), byte(c.R >> 8),
		byte(c.G), byte(c.G >> 8), byte(c.B), byte(c.B >> 8)}
}

// Check refuses counts impossible for the integration time (ErrRange) and
// saturated ones (ErrSaturated), where no line intensity can be trusted.
func (c Counts) Check(a ATime) error {
	maxc := a.MaxCount()
	for _, ch := range []struct {
		name string
		v    uint16
	}{{"clear", c.C}, {"red", c.R}, {"green", c.G}, {"blue", c.B}} {
		switch {
		case ch.v > maxc:
			return fmt.Errorf("%w: %s %d > %d at ATIME 0x%02X", ErrRange, ch.name, ch.v, maxc, byte(a))
		case ch.v == maxc:
			return fmt.Errorf("%w: %s at %d: lower the gain or the integration time (ATIME)", ErrSaturated, ch.name, maxc)
		}
	}
	return nil
}

// DecodeStatus reports whether STATUS has AVALID set.
func DecodeStatus(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, fmt.Errorf("%w: %d bytes, want 1", ErrLength, len(b))
	}
	return b[0]&StatusAValid != 0, nil
}
