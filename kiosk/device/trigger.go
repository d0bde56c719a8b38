package device

import "errors"

// Triggerer is the optional capability of an instrument that can be told
// to measure now: the touchscreen's "测量 / Measure" button. Find it by
// type assertion, as periph.io finds i2c.Pins on a bus:
//
//	if t, ok := inst.(device.Triggerer); ok {
//		if err := t.Trigger(item); err != nil {
//			// show err to the operator (it says what to do)
//		}
//	}
//
// item is the test item the operator picked ("" = the item configured
// for the device, or the instrument's own); instruments that measure one
// thing (a thermometer) ignore it, and an instrument refuses an item it
// cannot test. Trigger only starts a measurement; the reading arrives, as
// every reading does, through the sink given to Run (for a temperature
// probe: the next good reading; for a card reader: at its next poll,
// once it has scanned the card). It returns promptly — at most one
// request/response on the instrument's line — and is safe to call
// concurrently with Run. It fails with an error matching ErrNotConnected
// while the instrument's port is closed (unplugged, or Run not started),
// and with the instrument's own refusal otherwise (no card in the slot,
// results waiting to be collected).
//
// Instruments that measure only by themselves (an ATP luminometer whose
// operator presses its own button) do not implement it, so the screen
// can hide the button.
//
// Implemented by: stripreader ($READ), modbusgold (card reader: select
// item and mode, then measure), thermometer (probe thermometer over
// serial: ?MEAS), ads1115 and mlx90614 (the I²C core probe and infrared
// thermometer: the next good reading becomes the result) and sht31 (log
// the cold room now).
type Triggerer interface {
	Trigger(item string) error
}

// ErrNotConnected is matched by Trigger's error while the instrument is
// not connected.
var ErrNotConnected = errors.New("device: instrument not connected")
