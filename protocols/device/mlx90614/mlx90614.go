// Package mlx90614 is the SMBus register protocol of the Melexis MLX90614
// infrared thermometer, as plain Go with no I/O.
//
// # Reading a temperature
//
// The thermometer answers at [Addr] (0x5A) on a bus of at most 100 kHz.
// A register is read with one SMBus "read word" transaction: write the
// command byte, then, after a repeated start, read three bytes:
//
//	write  07                 (RAM 0x07: Tobj1, the object temperature)
//	read   LSB MSB PEC
//
// On Linux, periph's i2c.Dev.Tx(w, r) issues exactly this (one I2C_RDWR
// ioctl with two messages gives the repeated start).
//
// # PEC
//
// The third byte is the SMBus Packet Error Code: CRC-8 with polynomial
// 0x07, init 0, over every byte of the transaction including the address
// bytes: [addr<<1, cmd, addr<<1|1, LSB, MSB] ([PEC]). For raw 0x3AD2 read
// from 0x5A register 0x07 the PEC is 0x30. [DecodeWord] refuses a word
// whose PEC does not match with a *[PECError] (errors.Is [ErrPEC]).
//
// # Conversion and the error flag
//
// Temperatures are in units of 0.02 K: °C = raw × 0.02 − 273.15, so raw
// 0x3AD2 is 28.01 °C. Bit 15 set is the sensor's error flag (the Linux
// driver returns EIO); [Temperature] refuses it with [ErrFlag].
//
// The sensor reads a *surface*: it never decides a cooking rule (that is
// a core temperature from a probe). Food is not a black body, so set the
// emissivity ([RegEmissivity], 0xFFFF = 1.0) or calibrate [ASSUMPTION].
package mlx90614

import (
	"errors"
	"fmt"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// Addr is the factory SMBus address.
const Addr uint16 = 0x5A

// Commands: RAM registers are read with 0x00|addr, EEPROM with 0x20|addr.
const (
	RegRawIR1 byte = 0x04
	RegRawIR2 byte = 0x05
	RegTa     byte = 0x06 // ambient (die) temperature
	RegTobj1  byte = 0x07 // object temperature, zone 1
	RegTobj2  byte = 0x08 // object temperature, zone 2 (dual-zone parts)

	RegToMax      byte = 0x20
	RegToMin      byte = 0x21
	RegPWMCtrl    byte = 0x22
	RegTaRange    byte = 0x23
	RegEmissivity byte = 0x24 // 0xFFFF = 1.0
	RegConfig1    byte = 0x25
	RegSMBusAddr  byte = 0x2E
	RegID0        byte = 0x3C // ID words 0x3C–0x3F
	CmdReadFlags  byte = 0xF0
	CmdSleep      byte = 0xFF
)

// FrameLen is the length of a word read: LSB, MSB, PEC.
const FrameLen = 3

// PEC computes the SMBus packet error code (CRC-8, polynomial 0x07, init 0).
func PEC(data []byte) byte {
	var crc byte
	for _, b := range data {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x07
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Errors. Callers branch with errors.Is.
var (
	ErrLength = errors.New("mlx90614: wrong read length")
	ErrPEC    = errors.New("mlx90614: PEC mismatch")
	// ErrFlag: bit 15 of a temperature word is set; the sensor reports an
	// internal error and the value is meaningless.
	ErrFlag = errors.New("mlx90614: error flag set in the temperature word")
)

// PECError carries the PEC received and computed.
type PECError struct {
	Cmd       byte
	Got, Want byte
}

func (e *PECError) Error() string {
	return fmt.Sprintf("mlx90614: register 0x%02X PEC 0x%02X, computed 0x%02X: the bytes were corrupted on the bus (check wiring, keep the bus at ≤ 100 kHz)", e.Cmd, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrPEC) true.
func (e *PECError) Is(target error) bool { return target == ErrPEC }

func pecOver(addr uint16, cmd, lsb, msb byte) byte {
	a := byte(addr << 1)
	return PEC([]byte{a, cmd, a | 1, lsb, msb})
}

// DecodeWord checks the PEC of a 3-byte read of register cmd from the
// sensor at addr and returns the 16-bit word.
func DecodeWord(addr uint16, cmd byte, b []byte) (uint16, error) {
	if len(b) != FrameLen {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrLength, len(b), FrameLen)
	}
	if want := pecOver(addr, cmd, b[0], b[1]); b[2] != want {
		return 0, &PECError{Cmd: cmd, Got: b[2], Want: want}
	}
	return uint16(b[1])<<8 | uint16(b[0]), nil
}

// EncodeWord is the sensor side: the 3 bytes it sends for word w.
func EncodeWord(addr uint16, cmd byte, w uint16) []byte {
	lsb, msb := byte(w), byte(w>>8)
	return []byte{lsb, msb, pecOver(addr, cmd, lsb, msb)}
}

// Temperature converts a temperature word (Ta, Tobj1, Tobj2): raw × 20 m°K
// − 273150 m°C. A word with bit 15 set is refused with ErrFlag.
func Temperature(raw uint16) (measure.Temperature, error) {
	if raw&0x8000 != 0 {
		return 0, fmt.Errorf("%w (raw 0x%04X): the sensor reports an internal error; retry, and replace it if it persists", ErrFlag, raw)
	}
	return measure.Temperature(int64(raw)*20 - 273150), nil
}

// RawTemperature is the inverse of Temperature (nearest word, clamped to
// 0…0x7FFF), for fakes and simulators.
func RawTemperature(t measure.Temperature) uint16 {
	v := (int64(t) + 273150 + 10) / 20
	return uint16(min(max(v, 0), 0x7FFF))
}

// Emissivity converts the emissivity word (0xFFFF = 1.0) to a ratio.
func Emissivity(raw uint16) measure.Ratio {
	r, _ := measure.RatioOf(int64(raw), 0xFFFF)
	return r
}

// DecodeTemperature is DecodeWord followed by Temperature.
func DecodeTemperature(addr uint16, cmd byte, b []byte) (measure.Temperature, uint16, error) {
	w, err := DecodeWord(addr, cmd, b)
	if err != nil {
		return 0, 0, err
	}
	t, err := Temperature(w)
	return t, w, err
}
