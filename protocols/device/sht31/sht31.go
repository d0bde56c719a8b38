// Package sht31 is the register protocol of the Sensirion SHT31
// temperature and humidity sensor, as plain Go with no I/O.
//
// # Talking to the sensor
//
// The sensor sits at [Addr] (0x44, or [AltAddr] 0x45 with ADDR high) and
// takes 16-bit commands sent big-endian. A single-shot measurement without
// clock stretching is:
//
//	write  24 00                  (MeasureHigh: high repeatability)
//	wait   ≥ 15 ms                (MeasureDuration)
//	read   T_MSB T_LSB T_CRC RH_MSB RH_LSB RH_CRC
//
// [Decode] checks both CRCs and converts the words:
//
//	T  = −45 + 175·S_T/65535  °C
//	RH = 100·S_RH/65535       %
//
// (Some HTU21-style clones use 175.72 / −46.85; that formula is wrong for
// the SHT31 and is not used here.)
//
// # CRC
//
// Every 16-bit word the sensor sends is followed by a CRC-8 with polynomial
// 0x31, init 0xFF and no final XOR ([CRC8]); the datasheet's example is
// CRC(BE EF) = 0x92. A word whose CRC fails yields a *[CRCError], which
// matches [ErrCRC] with errors.Is; no measurement is produced from it.
package sht31

import (
	"errors"
	"fmt"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// I²C addresses.
const (
	Addr    uint16 = 0x44 // ADDR pin low (default)
	AltAddr uint16 = 0x45 // ADDR pin high
)

// Command is a 16-bit SHT31 command, sent most significant byte first.
type Command uint16

// Commands.
const (
	MeasureHigh          Command = 0x2400 // single shot, high repeatability, no clock stretching
	MeasureMedium        Command = 0x240B
	MeasureLow           Command = 0x2416
	MeasureHighStretch   Command = 0x2C06 // with clock stretching
	MeasureMediumStretch Command = 0x2C0D
	MeasureLowStretch    Command = 0x2C10
	SoftReset            Command = 0x30A2
	HeaterOn             Command = 0x306D
	HeaterOff            Command = 0x3066
	ReadStatus           Command = 0xF32D
	ClearStatus          Command = 0x3041
)

// Bytes returns the command as it is written on the bus.
func (c Command) Bytes() []byte { return []byte{byte(c >> 8), byte(c)} }

// MeasureDuration is how long to wait after a single-shot command without
// clock stretching before reading: the high-repeatability maximum of about
// 15 ms ([UNVERIFIED] figure; 16 ms gives margin).
const MeasureDuration = 16 * time.Millisecond

// FrameLen is the length of a measurement read.
const FrameLen = 6

// CRC8 is the Sensirion CRC-8: polynomial 0x31, init 0xFF, no reflection,
// no final XOR.
func CRC8(data []byte) byte {
	crc := byte(0xFF)
	for _, b := range data {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Errors. Callers branch with errors.Is.
var (
	// ErrLength: the read was not FrameLen (or 3 for a status) bytes.
	ErrLength = errors.New("sht31: wrong read length")
	// ErrCRC: a word's CRC did not match; the bytes were corrupted on the
	// bus (check wiring and pull-ups) and the reading is discarded.
	ErrCRC = errors.New("sht31: CRC mismatch")
)

// CRCError says which word failed its CRC.
type CRCError struct {
	Word      string // "temperature", "humidity" or "status"
	Got, Want byte   // CRC received, CRC computed
}

func (e *CRCError) Error() string {
	return fmt.Sprintf("sht31: %s word CRC 0x%02X, computed 0x%02X: the bytes were corrupted on the bus (check wiring and pull-ups)", e.Word, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrCRC) true.
func (e *CRCError) Is(target error) bool { return target == ErrCRC }

// Measurement is one decoded temperature and humidity reading.
type Measurement struct {
	Temperature measure.Temperature `json:"temperature"`
	Humidity    measure.Percent     `json:"humidity"`
	RawT        uint16              `json:"raw_t"`
	RawRH       uint16              `json:"raw_rh"`
}

// word checks and returns the big-endian word at b[0:2] with its CRC at b[2].
func word(b []byte, name string) (uint16, error) {
	if want := CRC8(b[:2]); b[2] != want {
		return 0, &CRCError{Word: name, Got: b[2], Want: want}
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// Decode checks and converts a 6-byte measurement read.
func Decode(b []byte) (Measurement, error) {
	if len(b) != FrameLen {
		return Measurement{}, fmt.Errorf("%w: %d bytes, want %d", ErrLength, len(b), FrameLen)
	}
	rt, err := word(b[0:3], "temperature")
	if err != nil {
		return Measurement{}, err
	}
	rh, err := word(b[3:6], "humidity")
	if err != nil {
		return Measurement{}, err
	}
	return Measurement{Temperature: Temperature(rt), Humidity: Humidity(rh), RawT: rt, RawRH: rh}, nil
}

// Encode is the sensor side of Decode: the 6 bytes a sensor sends for the
// raw words (used by fakes, the firmware tests and the fuzz round trip).
func Encode(rawT, rawRH uint16) []byte {
	b := []byte{byte(rawT >> 8), byte(rawT), 0, byte(rawRH >> 8), byte(rawRH), 0}
	b[2] = CRC8(b[0:2])
	b[5] = CRC8(b[3:5])
	return b
}

// DecodeStatus checks and returns the status word (3 bytes).
func DecodeStatus(b []byte) (uint16, error) {
	if len(b) != 3 {
		return 0, fmt.Errorf("%w: %d bytes, want 3", ErrLength, len(b))
	}
	return word(b, "status")
}

// Temperature converts a raw temperature word: −45 + 175·S/65535 °C,
// rounded to the nearest m°C.
func Temperature(raw uint16) measure.Temperature {
	return measure.Temperature(divRound(175000*int64(raw), 65535) - 45000)
}

// Humidity converts a raw humidity word: 100·S/65535 %, rounded to the
// nearest millionth.
func Humidity(raw uint16) measure.Percent {
	return measure.Percent(divRound(int64(measure.Whole)*int64(raw), 65535))
}

// RawTemperature is the inverse of Temperature (nearest raw word, clamped
// to the sensor's −45…130 °C range), for fakes and simulators.
func RawTemperature(t measure.Temperature) uint16 {
	return clampWord(divRound((int64(t)+45000)*65535, 175000))
}

// RawHumidity is the inverse of Humidity, clamped to 0…100 %.
func RawHumidity(p measure.Percent) uint16 {
	return clampWord(divRound(int64(p)*65535, int64(measure.Whole)))
}

func clampWord(v int64) uint16 {
	return uint16(min(max(v, 0), 0xFFFF))
}

// divRound divides rounding half away from zero; d > 0.
func divRound(n, d int64) int64 {
	if n < 0 {
		return -((-n + d/2) / d)
	}
	return (n + d/2) / d
}
