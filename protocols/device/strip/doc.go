// Package strip is what the reference low-cost strip reader speaks: how
// colour counts become colloidal-gold line intensities, how its fixture
// is wired, and the "$STRIP" line format it reports on its UART. Plain Go,
// no I/O: the device side is firmware/stripreader, the kiosk side
// kiosk/device/stripreader (serial) and kiosk/device/tcs34725 (the same
// fixture read directly over I²C).
//
// # The fixture
//
// Three TCS34725 colour sensors look at a developed strip through a
// window, each lit by its own white LED: one at a blank stretch of the
// membrane (the background), one at the control (C) line, one at the test
// (T) line. All TCS34725 answer at 0x29, so they sit behind a TCA9548A
// I²C multiplexer at 0x70 ([MuxAddr]) on channels 0, 1 and 2 by default
// ([DefaultChannels]); writing one byte 1<<ch to the multiplexer selects
// a channel ([Select]).
//
// # From counts to line intensity
//
// Colloidal gold is red-purple: a line absorbs green light most. The
// reader therefore works on the green channel and reports how much a line
// darkens the membrane, in percent of the background:
//
//	intensity = 100 × (G_background − G_line) / G_background      (0…100)
//
// clamped to 0…100 and carried as a measure.Intensity (thousandths of a
// reader unit). A blank membrane is 0; a line that absorbs all green
// light is 100. Using the background sensor's reading from the same
// moment cancels LED ageing and ambient light to first order. The
// per-item thresholds in protocols/domain/assay (c_thr, t_a, t_b, ct_a, ct_b)
// are set on this scale. An empty slot reflects almost nothing: a
// background green count below [MinBackground] means "no strip".
//
// # Line format
//
// ASCII sentences in the NMEA style, one per line, at 9600 8N1:
//
//	$STRIP,<item>,<C>,<T>,<T/C>*HH\r\n    a strip was read (reader → host)
//	$ERR,<code>,<text>*HH\r\n             a read failed (NOSTRIP, SENSOR, SATURATED)
//	$INFO,<model>,<firmware>,<serial>*HH\r\n  identity (reply to $INFO)
//	$READ,<item>*HH\r\n                   host → reader: read the strip now
//	$INFO*HH\r\n                          host → reader: identify yourself
//
// C and T are intensities with exactly three decimals ("42.125"); T/C is
// round(1000·T/C)/1000 with three decimals, or "NA" when C is 0. HH is the
// XOR of every byte between '$' and '*' as two upper-case hex digits
// ([Checksum]). A line is at most [MaxLine] bytes. Fields may hold any
// UTF-8 except ',', '*', '$' and control characters. [Parse] is strict —
// every accepted line re-encodes to the same bytes — and refuses a line
// whose checksum fails ([ErrChecksum]) or whose T/C disagrees with its C
// and T ([ErrInconsistent]). [SplitLines] is a bufio.SplitFunc that
// resynchronises on '$' after garbage.
//
// Example, a clenbuterol strip with a faint T line:
//
//	$STRIP,clenbuterol,42.125,9.000,0.214*HH
package strip
