// Package modbus is the client side of Modbus RTU as the kiosk speaks it on
// an RS-485 bus: CRC-16/MODBUS, the requests and responses of the four
// function codes our instruments use, exception responses, typed errors,
// and a streaming framer that finds frames in a byte stream and
// resynchronises after noise. Plain Go, no I/O: the kiosk driver
// (kiosk/device/modbusgold) and the slave firmware (firmware/cardreader)
// both build on it.
//
// # Frames
//
// An RTU frame (ADU) is the slave address, a PDU (function code and data)
// and a CRC, low byte first:
//
//	[slave][func][data …][crc lo][crc hi]      at most 256 bytes ([MaxADU])
//
// Slave 0 is broadcast (writes only, never answered); 1…247 are unicast.
// The functions supported ([Func]):
//
//	03 read holding registers   request: addr, qty (1…125)  response: byte count, qty×2 bytes
//	04 read input registers     as 03
//	06 write single register    request: addr, value        response: echo of the request
//	16 write multiple registers request: addr, qty (1…123), byte count, values
//	                            response: addr, qty
//
// A slave that cannot serve a request answers an exception: the function
// code with bit 7 set and one [ExceptionCode] byte (01 illegal function,
// 02 illegal data address, 03 illegal data value, 04 server device
// failure, …).
//
// # CRC
//
// [CRC] is CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001, no
// final XOR; the check value of "123456789" is 0x4B37. [AppendCRC] adds it
// low byte first, so that `06 03 00 00 00 01` goes on the wire as
// `06 03 00 00 00 01 85 BD` (testdata/vectors.json holds these vectors,
// shared with the firmware's tests).
//
// # Decoding
//
// [ParseRequest] and [ParseResponse] decode exactly one frame and are
// strict: every frame they accept re-encodes ([Request.Append],
// [Response.Append]) to the same bytes. [Request.Check] says whether a
// response answers a request: a frame with a good CRC from the wrong slave,
// for another function or with the wrong byte count is [ErrMismatch] — the
// stale answer to an earlier, timed-out request — and an exception
// response becomes an [*ExceptionError].
//
// # Framing a stream
//
// RTU frames carry no start byte; a real slave finds them by the silence
// of 3.5 character times between them. Over a USB adapter or a
// pseudo-terminal that timing is lost, so [Framer] finds frames by their
// structure instead: the function code and byte count give the length,
// the CRC confirms it. Fed bytes as they arrive, it returns each valid
// frame once; after noise, a flipped bit or a frame cut short it reports
// one typed error and then hunts byte by byte, silently, until the next
// valid frame. [Framer.Gap] tells it the line went quiet (a read timeout):
// whatever is pending is a truncated frame and is dropped. A framer given
// the request it waits for ([Framer.Expect]) accepts only the answer to
// it, which makes a false frame inside noise practically impossible.
//
// # Errors
//
// Callers branch with errors.Is on [ErrIncomplete] (feed more bytes),
// [ErrCRC] (also an [*CRCError] with both values), [ErrFrame] (malformed:
// unknown function, impossible length or count), [ErrTruncated] (a partial
// frame dropped at a gap), [ErrMismatch] and [ErrException] (an
// [*ExceptionError] with the code). No error path ever yields register
// values.
package modbus
