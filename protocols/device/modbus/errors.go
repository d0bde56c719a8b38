package modbus

import (
	"errors"
	"fmt"
)

// Errors of the codec and the framer. Callers branch with errors.Is.
var (
	// ErrIncomplete: the bytes so far are the start of a frame; feed more.
	ErrIncomplete = errors.New("modbus: incomplete frame")
	// ErrCRC: the frame's CRC does not match its bytes (noise, a flipped
	// bit, two frames run together). Every *CRCError matches it.
	ErrCRC = errors.New("modbus: CRC mismatch")
	// ErrFrame: the bytes cannot be a frame of the supported functions
	// (unknown function code, impossible length, quantity or byte count).
	ErrFrame = errors.New("modbus: malformed frame")
	// ErrTruncated: a partial frame was dropped because the line went
	// quiet before it was complete (Framer.Gap).
	ErrTruncated = errors.New("modbus: truncated frame")
	// ErrMismatch: a valid frame that does not answer the request sent
	// (another slave, another function, the wrong count or echo) — most
	// often the late answer to an earlier request that timed out.
	ErrMismatch = errors.New("modbus: response does not match the request")
	// ErrException: the slave answered with an exception. Every
	// *ExceptionError matches it.
	ErrException = errors.New("modbus: exception response")
	// ErrInvalid: a request or response that cannot be encoded (a
	// quantity out of range, a broadcast read).
	ErrInvalid = errors.New("modbus: invalid message")
	// ErrUnsupported: a whole request, CRC good, for a standard function
	// this package does not decode (coils, discrete inputs). Every
	// *UnsupportedError matches it; a slave answers it with exception 01.
	ErrUnsupported = errors.New("modbus: unsupported function")
)

// UnsupportedError is a valid request for a function this package does
// not decode.
type UnsupportedError struct {
	Slave byte
	Func  Func
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("modbus: request to slave %d for %s, which is not supported", e.Slave, e.Func)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// CRCError is a CRC mismatch with the CRC received and the CRC of the
// bytes received.
type CRCError struct{ Got, Want uint16 }

func (e *CRCError) Error() string {
	return fmt.Sprintf("modbus: CRC mismatch: frame carries %04X, its bytes give %04X", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrCRC) true.
func (e *CRCError) Is(target error) bool { return target == ErrCRC }

// ExceptionError is an exception response from a slave.
type ExceptionError struct {
	Slave byte
	Func  Func
	Code  ExceptionCode
}

func (e *ExceptionError) Error() string {
	return fmt.Sprintf("modbus: slave %d answered %s with exception %02X (%s)", e.Slave, e.Func, byte(e.Code), e.Code)
}

// Is makes errors.Is(err, ErrException) true.
func (e *ExceptionError) Is(target error) bool { return target == ErrException }

func frameErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFrame, fmt.Sprintf(format, a...))
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func mismatch(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMismatch, fmt.Sprintf(format, a...))
}
