// Package asciirpt is the printed-report format of Shian's ASCII
// instruments — the SHIAN-ATP1 ATP luminometer and the SHIAN-TP1 probe
// thermometer — as they send it on their serial port (the same text
// their thermal printer prints), and the one-line commands a host sends
// them. Plain Go, no I/O: the devices are firmware/atp and
// firmware/thermometer, the kiosk side kiosk/device/atp and
// kiosk/device/thermometer.
//
// # Reports
//
// A report is a block of lines, each ended by CR LF, 32 columns at most
// (a 58 mm printer), framed by a begin and an end line:
//
//	*** SHIAN REPORT ***
//	TYPE  : ATP
//	MODEL : SHIAN-ATP1
//	SERIAL: ATP1-0001
//	NO.   : 000042
//	DATE  : 2026-11-28
//	TIME  : 10:15:03
//	POINT : CB-01
//	RESULT: 27 RLU
//	CHECK : 1815
//	*** END ***
//
// Each field line is a key padded to six columns, ": ", and the value.
// The keys, their order and their values depend on TYPE:
//
//	ATP    MODEL SERIAL NO. DATE TIME POINT RESULT      RESULT "<n> RLU", 0…9999999
//	TEMP   MODEL SERIAL NO. DATE TIME PROBE MODE RESULT RESULT "<t> C" with one decimal, −50.0…300.0;
//	                                                    MODE COOK, HOT, COLD or FROZEN
//	ID     MODEL SERIAL FW                              the answer to ?ID
//	ERR    MODEL SERIAL CODE                            a measurement failed (CODE e.g. PROBE-OPEN)
//
// NO. is the instrument's record number, six digits; DATE and TIME are its
// wall clock (the decoder is given the zone). MODEL, SERIAL, FW, POINT,
// PROBE and CODE are 1…16 characters of [A-Za-z0-9._/-]. CHECK is the
// CRC-16/CCITT-FALSE ([Checksum]: polynomial 0x1021, init 0xFFFF; "123456789"
// gives 29B1) of every byte from the begin line through the line before
// CHECK, CR LF included, as four upper-case hex digits. A flipped bit, a
// lost line or a line from another report fails it.
//
// [Parse] is strict: every block it accepts re-encodes ([Report.Append])
// to the same bytes.
//
// # Commands
//
// The host sends one line, CR LF (a bare LF is accepted):
//
//	?ID       identify: the instrument answers an ID report
//	?MEAS     measure now: the thermometer reports the probe's temperature
//	          as if HOLD was pressed; the ATP meter measures only when its
//	          own button is pressed and answers ERR with CODE NOT-SUPPORTED
//
// # Reading a stream
//
// [Decoder] takes bytes as they arrive, splits lines (at most [MaxLine]
// bytes; longer is noise), and assembles reports between begin and end
// lines. Lines outside a report, a report cut short by a new begin line
// or by silence ([Decoder.Gap]), a damaged CHECK: each gives one typed
// error and never a report; the decoder is ready for the next begin line
// at once. Blank lines (printer feed) are ignored.
//
// Errors match [ErrIncomplete], [ErrFraming] (not a report: noise, a line
// too long, a missing begin or end), [ErrTruncated] (a report cut short),
// [ErrChecksum] (also a [*ChecksumError]) and [ErrFormat] (a field
// malformed or out of range).
package asciirpt
