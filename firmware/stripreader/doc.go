// Package stripreader is the firmware of Shian's reference low-cost
// colloidal-gold strip reader, written against two small interfaces so
// that the same code runs on a microcontroller (TinyGo), inside the
// simulator behind a pseudo-terminal, or in tests against
// i2ctest.Playback:
//
//   - [Bus]: one I²C transaction, Tx(addr, w, r) — periph's i2c.Bus
//     satisfies it, and so does a TinyGo machine.I2C wrapper;
//   - an io.ReadWriter UART (9600 8N1).
//
// # Hardware
//
// Three TCS34725 colour sensors behind a TCA9548A multiplexer look at the
// background, the C line and the T line of a developed strip in a fixed
// cassette slot (see protocols/device/strip for the wiring). [Fixture] drives
// them: it selects a channel, checks the multiplexer's echo, checks each
// sensor's ID, sets the integration time (ATIME 0xC0, 154 ms) and gain
// (4×), and reads C, R, G, B.
//
// # From colour to line intensity
//
// The reader reports how much each line darkens the membrane in the
// green channel, where colloidal gold absorbs most:
//
//	intensity = 100 × (G_background − G_line) / G_background
//
// on a 0–100 scale with three decimals (strip.LineIntensity). The T/C
// ratio is computed from the rounded intensities. The thresholds that turn
// these into verdicts live on the kiosk and the command (protocols/assay,
// per test item), not in the reader: the reader measures, it does not
// conclude.
//
// # UART protocol
//
// Line-oriented ASCII with NMEA checksums (protocols/device/strip documents the
// grammar):
//
//	← $STRIP,clenbuterol,42.125,9.000,0.214*2F   a strip was read
//	← $ERR,NOSTRIP,no strip in the slot*1F       a read failed
//	→ $READ,clenbuterol*4D                       read now (item optional)
//	→ $INFO*0E                                   identify
//	← $INFO,SHIAN-SR1,1.0.0,SR1-0001*4F
//
// Besides answering $READ, the reader watches the slot (Poll): when a
// strip has been in the slot for Settle+1 consecutive polls it is read
// and reported once, with the reader's configured item; taking it out
// re-arms the reader. Lines from the host that fail their checksum are
// ignored, as NMEA devices do.
package stripreader
