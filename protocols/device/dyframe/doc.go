// Package dyframe is the codec for the serial frames of the Dayuan DY-3000
// family of rapid food-safety testers (DY-3000 / DY-5000 / LZ4000), and for
// the enzyme-inhibition (GB/T 5009.199) messages Shian adds in the same
// envelope. It does no I/O: the kiosk driver and the instrument firmware
// both use it, and their tests share one set of vectors
// (testdata/vectors.json).
//
// # Frames
//
// Every frame, in both directions, is a 12-byte header and up to [MaxData]
// bytes of data (README.md has the byte tables and example frames):
//
//	03 FF <cmd> <p0 p1 p2 p3 p4> <len lo> <len hi> <hdr check> <data check> <data…>
//
// The two checks are XOR (block check character) bytes: the header check
// over header bytes 0–9, the data check over the data. The vendor calls the
// routine "CheckDataSum" (检验和), but it XORs; see README.md for the
// evidence. A [Frame] is the envelope; [Frame.Append] encodes it and
// [Scanner] finds frames in a byte stream.
//
// # Streams
//
// A serial line delivers bytes, not frames: a frame may arrive split at any
// byte, after noise, or cut short by an unplugged cable. [Scanner] is a push
// parser: [Scanner.Feed] the bytes as they arrive, then call [Scanner.Next]
// until it returns [ErrIncomplete]. Bytes before a frame start are skipped
// and counted; a candidate frame whose header check, length or data check
// fails is returned as a [*FrameError] (never as a frame), one byte is
// dropped, and the search resumes, so the next valid frame is found however
// the bad one was damaged. [Reader] does the same over an [io.Reader] for
// code that may block (the firmware).
//
// # Messages
//
// [Decode] turns a valid frame into a typed [Message]: [Hello] (the
// communication test, 0x20 "DEVICE??"), [Ident] (its answer: model, serial,
// state), [Started] (a test began), [Report] (an enzyme-inhibition result:
// both channels' absorbances at the two reading times, sample and item, the
// device time) and [Ack] (the host has stored a report). Every message
// encodes with [Encode]; decode(encode(m)) == m for every valid m. A frame
// that passes its checks but whose fields make no sense (month 13, text that
// is not GB2312, a sample channel 0) is rejected with [ErrField].
//
// # Quantities
//
// Absorbances travel as signed 32-bit little-endian integers in µAU
// (1e-6 A), the unit of [measure.Absorbance], so a ΔA is exact. Two values
// are reserved, as in the vendor's own 4-byte value fields: [AbsInvalid]
// (0x7FFFFFFF, the photometer read nothing usable) and [AbsOverflow]
// (0x7FFFFFFE, transmittance over range). Dates are the vendor's packed
// FAT-style [PackedTime]. Text is GB2312 in fixed-width NUL-padded fields.
//
// # Extending
//
// Other DY-family instruments (the colloidal-gold and dry-chemistry record
// formats 0x62…0x75, the DY-5000) use the same envelope: add a message type
// with a Command and MarshalFrame method and a case in [Decode]; [Frame],
// [Scanner] and the error types stay as they are.
package dyframe
