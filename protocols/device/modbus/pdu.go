package modbus

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Frame limits of Modbus RTU.
const (
	// MaxADU is the longest RTU frame: slave, 253 bytes of PDU, CRC.
	MaxADU = 256
	// MaxReadQty is the most registers one 03/04 request may read.
	MaxReadQty = 125
	// MaxWriteQty is the most registers one 16 request may write.
	MaxWriteQty = 123
	// Broadcast is the slave address every slave obeys and none answers.
	Broadcast = 0
	// MaxSlave is the highest unicast slave address.
	MaxSlave = 247
)

// Func is a Modbus function code (without the exception bit).
type Func byte

// The function codes this package encodes and decodes.
const (
	ReadHoldingRegisters   Func = 0x03
	ReadInputRegisters     Func = 0x04
	WriteSingleRegister    Func = 0x06
	WriteMultipleRegisters Func = 0x10
)

// Standard functions whose requests this package can frame (to answer
// them with exception 01) but does not decode.
const (
	readCoils          Func = 0x01
	readDiscreteInputs Func = 0x02
	writeSingleCoil    Func = 0x05
	writeMultipleCoils Func = 0x0F
)

// exceptionBit is set in the function code of an exception response.
const exceptionBit = 0x80

// Known reports whether f is one of the supported function codes.
func (f Func) Known() bool {
	switch f {
	case ReadHoldingRegisters, ReadInputRegisters, WriteSingleRegister, WriteMultipleRegisters:
		return true
	}
	return false
}

func (f Func) isRead() bool { return f == ReadHoldingRegisters || f == ReadInputRegisters }

// String returns the function's name and code, e.g. "read input registers (04)".
func (f Func) String() string {
	switch f {
	case ReadHoldingRegisters:
		return "read holding registers (03)"
	case ReadInputRegisters:
		return "read input registers (04)"
	case WriteSingleRegister:
		return "write single register (06)"
	case WriteMultipleRegisters:
		return "write multiple registers (16)"
	}
	return fmt.Sprintf("function %02X", byte(f))
}

// ExceptionCode is the code of an exception response.
type ExceptionCode byte

// Exception codes (Modbus application protocol v1.1b3, §7).
const (
	IllegalFunction      ExceptionCode = 0x01
	IllegalDataAddress   ExceptionCode = 0x02
	IllegalDataValue     ExceptionCode = 0x03
	ServerDeviceFailure  ExceptionCode = 0x04
	Acknowledge          ExceptionCode = 0x05
	ServerDeviceBusy     ExceptionCode = 0x06
	GatewayPathFailed    ExceptionCode = 0x0A
	GatewayTargetNoReply ExceptionCode = 0x0B
)

// String names the exception.
func (c ExceptionCode) String() string {
	switch c {
	case IllegalFunction:
		return "illegal function"
	case IllegalDataAddress:
		return "illegal data address"
	case IllegalDataValue:
		return "illegal data value"
	case ServerDeviceFailure:
		return "server device failure"
	case Acknowledge:
		return "acknowledge"
	case ServerDeviceBusy:
		return "server device busy"
	case GatewayPathFailed:
		return "gateway path unavailable"
	case GatewayTargetNoReply:
		return "gateway target failed to respond"
	}
	return fmt.Sprintf("exception %02X", byte(c))
}

// Request is a master's request.
type Request struct {
	// Slave is the unit addressed: 1…247, or 0 (Broadcast) for writes.
	Slave byte
	Func  Func
	// Addr is the first register (0-based, as on the wire).
	Addr uint16
	// Qty is the number of registers read (03, 04) or written (16); 1
	// for 06.
	Qty uint16
	// Values are the registers written: one for 06, Qty for 16; nil for
	// reads.
	Values []uint16
}

// ReadHolding returns a 03 request for qty registers from addr.
func ReadHolding(slave byte, addr, qty uint16) Request {
	return Request{Slave: slave, Func: ReadHoldingRegisters, Addr: addr, Qty: qty}
}

// ReadInput returns a 04 request for qty registers from addr.
func ReadInput(slave byte, addr, qty uint16) Request {
	return Request{Slave: slave, Func: ReadInputRegisters, Addr: addr, Qty: qty}
}

// WriteSingle returns a 06 request writing v at addr.
func WriteSingle(slave byte, addr, v uint16) Request {
	return Request{Slave: slave, Func: WriteSingleRegister, Addr: addr, Qty: 1, Values: []uint16{v}}
}

// WriteMultiple returns a 16 request writing vs from addr.
func WriteMultiple(slave byte, addr uint16, vs ...uint16) Request {
	return Request{Slave: slave, Func: WriteMultipleRegisters, Addr: addr, Qty: uint16(len(vs)), Values: slices.Clone(vs)}
}

// Validate reports (as ErrInvalid) a request that cannot be sent.
func (r Request) Validate() error {
	if r.Slave > MaxSlave {
		return invalid("slave address %d is above %d", r.Slave, MaxSlave)
	}
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		if r.Slave == Broadcast {
			return invalid("%s cannot be broadcast (slave 0): nobody answers a broadcast", r.Func)
		}
		if r.Qty < 1 || r.Qty > MaxReadQty {
			return invalid("%s of %d registers: read 1…%d", r.Func, r.Qty, MaxReadQty)
		}
		if r.Values != nil {
			return invalid("%s carries no values", r.Func)
		}
	case WriteSingleRegister:
		if r.Qty != 1 || len(r.Values) != 1 {
			return invalid("%s writes exactly one value (qty 1), not %d (qty %d)", r.Func, len(r.Values), r.Qty)
		}
	case WriteMultipleRegisters:
		if r.Qty < 1 || r.Qty > MaxWriteQty || int(r.Qty) != len(r.Values) {
			return invalid("%s of %d values (qty %d): write 1…%d, qty equal to the number of values", r.Func, len(r.Values), r.Qty, MaxWriteQty)
		}
	default:
		return invalid("%s is not supported", r.Func)
	}
	return nil
}

// Append appends the request's frame, CRC included, to dst.
func (r Request) Append(dst []byte) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, r.Slave, byte(r.Func))
	dst = binary.BigEndian.AppendUint16(dst, r.Addr)
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		dst = binary.BigEndian.AppendUint16(dst, r.Qty)
	case WriteSingleRegister:
		dst = binary.BigEndian.AppendUint16(dst, r.Values[0])
	case WriteMultipleRegisters:
		dst = binary.BigEndian.AppendUint16(dst, r.Qty)
		dst = append(dst, byte(2*r.Qty))
		for _, v := range r.Values {
			dst = binary.BigEndian.AppendUint16(dst, v)
		}
	}
	return append(dst, crcBytes(dst[start:])...), nil
}

// Bytes returns the request's frame; it panics on an invalid request
// (use it with the constructors and constant arguments).
func (r Request) Bytes() []byte {
	b, err := r.Append(nil)
	if err != nil {
		panic(err)
	}
	return b
}

func crcBytes(b []byte) []byte {
	c := CRC(b)
	return []byte{byte(c), byte(c >> 8)}
}

// RequestLen returns the length of the request frame that starts b, from
// its header: ErrIncomplete if the header is not all there yet, ErrFrame
// if the header is impossible. It does not check the CRC.
func RequestLen(b []byte) (int, error) {
	n, st := requestLen(b)
	return n, st.err(b, "request")
}

// ResponseLen returns the length of the response frame that starts b,
// like RequestLen.
func ResponseLen(b []byte) (int, error) {
	n, st := responseLen(b)
	return n, st.err(b, "response")
}

// lenStatus is the verdict of a header, without an error value (the
// framer checks every offset of noise with it).
type lenStatus uint8

const (
	lenOK lenStatus = iota
	lenMore
	lenBadSlave
	lenBadCount
	lenBadFunc
)

func (st lenStatus) err(b []byte, what string) error {
	switch st {
	case lenOK:
		return nil
	case lenMore:
		return ErrIncomplete
	case lenBadSlave:
		if what == "request" {
			return frameErr("slave address %d is above %d", b[0], MaxSlave)
		}
		return frameErr("slave address %d cannot answer (1…%d)", b[0], MaxSlave)
	case lenBadCount:
		bc := b[2]
		if what == "request" {
			bc = b[6]
		}
		return frameErr("%s with a byte count of %d", Func(b[1]), bc)
	}
	return frameErr("%s in a %s is not supported", Func(b[1]), what)
}

func requestLen(b []byte) (int, lenStatus) {
	if len(b) >= 1 && b[0] > MaxSlave {
		return 0, lenBadSlave
	}
	if len(b) < 2 {
		return 0, lenMore
	}
	switch Func(b[1]) {
	case ReadHoldingRegisters, ReadInputRegisters, WriteSingleRegister, readCoils, readDiscreteInputs, writeSingleCoil:
		return 8, lenOK
	case WriteMultipleRegisters:
		if len(b) < 7 {
			return 0, lenMore
		}
		if bc := int(b[6]); bc < 2 || bc > 2*MaxWriteQty || bc%2 != 0 {
			return 0, lenBadCount
		}
		return 9 + int(b[6]), lenOK
	case writeMultipleCoils:
		if len(b) < 7 {
			return 0, lenMore
		}
		if bc := int(b[6]); bc < 1 || bc > 246 {
			return 0, lenBadCount
		}
		return 9 + int(b[6]), lenOK
	}
	return 0, lenBadFunc
}

func responseLen(b []byte) (int, lenStatus) {
	if len(b) >= 1 && (b[0] == Broadcast || b[0] > MaxSlave) {
		return 0, lenBadSlave
	}
	if len(b) < 2 {
		return 0, lenMore
	}
	fc := b[1]
	if fc&exceptionBit != 0 {
		if fc == exceptionBit {
			return 0, lenBadFunc
		}
		return 5, lenOK
	}
	switch Func(fc) {
	case ReadHoldingRegisters, ReadInputRegisters:
		if len(b) < 3 {
			return 0, lenMore
		}
		if bc := int(b[2]); bc < 2 || bc > 2*MaxReadQty || bc%2 != 0 {
			return 0, lenBadCount
		}
		return 5 + int(b[2]), lenOK
	case WriteSingleRegister, WriteMultipleRegisters:
		return 8, lenOK
	}
	return 0, lenBadFunc
}

// ParseRequest decodes one request frame (exactly, CRC included).
func ParseRequest(adu []byte) (Request, error) {
	n, err := RequestLen(adu)
	if err != nil {
		if err == ErrIncomplete {
			return Request{}, frameErr("%d bytes is not a whole request", len(adu))
		}
		return Request{}, err
	}
	if len(adu) != n {
		return Request{}, frameErr("%s request of %d bytes, want %d", Func(adu[1]), len(adu), n)
	}
	if err := CheckCRC(adu); err != nil {
		return Request{}, err
	}
	if !Func(adu[1]).Known() {
		return Request{}, &UnsupportedError{Slave: adu[0], Func: Func(adu[1])}
	}
	r := Request{Slave: adu[0], Func: Func(adu[1]), Addr: binary.BigEndian.Uint16(adu[2:])}
	v := binary.BigEndian.Uint16(adu[4:])
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		r.Qty = v
	case WriteSingleRegister:
		r.Qty, r.Values = 1, []uint16{v}
	case WriteMultipleRegisters:
		r.Qty = v
		if int(adu[6]) != 2*int(v) {
			return Request{}, frameErr("%s of %d registers with a byte count of %d", r.Func, v, adu[6])
		}
		r.Values = make([]uint16, v)
		for i := range r.Values {
			r.Values[i] = binary.BigEndian.Uint16(adu[7+2*i:])
		}
	}
	if err := r.Validate(); err != nil {
		return Request{}, frameErr("%v", err)
	}
	return r, nil
}

// Response is a slave's answer.
type Response struct {
	Slave byte
	// Func is the function answered (bit 7 clear, also for exceptions).
	Func Func
	// Exception is non-zero for an exception response; the other fields
	// are then zero.
	Exception ExceptionCode
	// Addr is the first register written (06, 16).
	Addr uint16
	// Qty is the number of registers read (03, 04) or written (16); 1
	// for 06.
	Qty uint16
	// Values are the registers read (03, 04), or the value written (06).
	Values []uint16
}

// Reply returns the normal response to a read request with the registers
// read, or to a write request (an echo). Values are ignored for writes.
func (r Request) Reply(values []uint16) Response {
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		return Response{Slave: r.Slave, Func: r.Func, Qty: uint16(len(values)), Values: slices.Clone(values)}
	case WriteSingleRegister:
		return Response{Slave: r.Slave, Func: r.Func, Addr: r.Addr, Qty: 1, Values: slices.Clone(r.Values)}
	}
	return Response{Slave: r.Slave, Func: r.Func, Addr: r.Addr, Qty: r.Qty}
}

// Fail returns the exception response to r with code. (A slave answers a
// request for an unsupported function, an *UnsupportedError, with
// Response{Slave: e.Slave, Func: e.Func, Exception: IllegalFunction}.)
func (r Request) Fail(code ExceptionCode) Response {
	return Response{Slave: r.Slave, Func: r.Func, Exception: code}
}

// Validate reports (as ErrInvalid) a response that cannot be sent.
func (r Response) Validate() error {
	if r.Slave == Broadcast || r.Slave > MaxSlave {
		return invalid("slave address %d cannot answer (1…%d)", r.Slave, MaxSlave)
	}
	if r.Exception != 0 {
		if r.Func == 0 || r.Func >= exceptionBit {
			return invalid("exception to %s", r.Func)
		}
		if r.Addr != 0 || r.Qty != 0 || r.Values != nil {
			return invalid("an exception response carries only its code")
		}
		return nil
	}
	if !r.Func.Known() {
		return invalid("%s is not supported", r.Func)
	}
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		if len(r.Values) < 1 || len(r.Values) > MaxReadQty || int(r.Qty) != len(r.Values) || r.Addr != 0 {
			return invalid("%s response with %d values (qty %d): 1…%d values, qty equal", r.Func, len(r.Values), r.Qty, MaxReadQty)
		}
	case WriteSingleRegister:
		if len(r.Values) != 1 || r.Qty != 1 {
			return invalid("%s response echoes one value (qty 1)", r.Func)
		}
	case WriteMultipleRegisters:
		if r.Qty < 1 || r.Qty > MaxWriteQty || r.Values != nil {
			return invalid("%s response of qty %d: 1…%d, no values", r.Func, r.Qty, MaxWriteQty)
		}
	}
	return nil
}

// Append appends the response's frame, CRC included, to dst.
func (r Response) Append(dst []byte) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	if r.Exception != 0 {
		dst = append(dst, r.Slave, byte(r.Func)|exceptionBit, byte(r.Exception))
		return append(dst, crcBytes(dst[start:])...), nil
	}
	dst = append(dst, r.Slave, byte(r.Func))
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		dst = append(dst, byte(2*len(r.Values)))
		for _, v := range r.Values {
			dst = binary.BigEndian.AppendUint16(dst, v)
		}
	case WriteSingleRegister:
		dst = binary.BigEndian.AppendUint16(dst, r.Addr)
		dst = binary.BigEndian.AppendUint16(dst, r.Values[0])
	case WriteMultipleRegisters:
		dst = binary.BigEndian.AppendUint16(dst, r.Addr)
		dst = binary.BigEndian.AppendUint16(dst, r.Qty)
	}
	return append(dst, crcBytes(dst[start:])...), nil
}

// ParseResponse decodes one response frame (exactly, CRC included). An
// exception response is a Response with Exception set, not an error; see
// Request.Check.
func ParseResponse(adu []byte) (Response, error) {
	n, err := ResponseLen(adu)
	if err != nil {
		if err == ErrIncomplete {
			return Response{}, frameErr("%d bytes is not a whole response", len(adu))
		}
		return Response{}, err
	}
	if len(adu) != n {
		return Response{}, frameErr("response of %d bytes, want %d", len(adu), n)
	}
	if err := CheckCRC(adu); err != nil {
		return Response{}, err
	}
	r := Response{Slave: adu[0], Func: Func(adu[1] &^ exceptionBit)}
	if adu[1]&exceptionBit != 0 {
		if adu[2] == 0 {
			return Response{}, frameErr("exception response with code 00")
		}
		r.Exception = ExceptionCode(adu[2])
		return r, nil
	}
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		r.Values = make([]uint16, int(adu[2])/2)
		for i := range r.Values {
			r.Values[i] = binary.BigEndian.Uint16(adu[3+2*i:])
		}
		r.Qty = uint16(len(r.Values))
	case WriteSingleRegister:
		r.Addr, r.Qty, r.Values = binary.BigEndian.Uint16(adu[2:]), 1, []uint16{binary.BigEndian.Uint16(adu[4:])}
	case WriteMultipleRegisters:
		r.Addr, r.Qty = binary.BigEndian.Uint16(adu[2:]), binary.BigEndian.Uint16(adu[4:])
	}
	if err := r.Validate(); err != nil {
		return Response{}, frameErr("%v", err)
	}
	return r, nil
}

// Check says whether resp answers r: nil for the normal answer, an
// *ExceptionError for an exception from the addressed slave to this
// function, ErrMismatch for anything else (another slave, another
// function, a wrong count or echo).
func (r Request) Check(resp Response) error {
	if resp.Slave != r.Slave {
		return mismatch("answer from slave %d to a request for slave %d", resp.Slave, r.Slave)
	}
	if resp.Func != r.Func {
		return mismatch("answer to %s, the request was %s", resp.Func, r.Func)
	}
	if resp.Exception != 0 {
		return &ExceptionError{Slave: resp.Slave, Func: resp.Func, Code: resp.Exception}
	}
	switch r.Func {
	case ReadHoldingRegisters, ReadInputRegisters:
		if int(r.Qty) != len(resp.Values) {
			return mismatch("%d registers in the answer, %d requested", len(resp.Values), r.Qty)
		}
	case WriteSingleRegister:
		if resp.Addr != r.Addr || len(resp.Values) != 1 || len(r.Values) != 1 || resp.Values[0] != r.Values[0] {
			return mismatch("echo of register %d = %v, the request wrote %d = %v", resp.Addr, resp.Values, r.Addr, r.Values)
		}
	case WriteMultipleRegisters:
		if resp.Addr != r.Addr || resp.Qty != r.Qty {
			return mismatch("echo of %d registers at %d, the request wrote %d at %d", resp.Qty, resp.Addr, r.Qty, r.Addr)
		}
	}
	return nil
}

// answers reports whether a response header (at least 3 bytes, or 2 for
// a write or exception) could be the answer to r.
func (r Request) answers(b []byte) bool {
	if len(b) < 2 || b[0] != r.Slave {
		return false
	}
	switch b[1] {
	case byte(r.Func) | exceptionBit:
		return true
	case byte(r.Func):
		if r.Func.isRead() {
			return len(b) < 3 || int(b[2]) == 2*int(r.Qty)
		}
		return true
	}
	return false
}
