// Package i2cbus is how the kiosk reaches its I²C sensors: the real bus
// opener for a Raspberry Pi, and the poll loop every I²C driver shares.
//
// # Opening a bus on a Pi
//
// [Host] implements device.BusOpener with periph.io/x/host/v3: it calls
// host.Init() once (that loads the sysfs I²C driver, which registers every
// /dev/i2c-N as name "/dev/i2c-N", alias "I2CN" and number N) and then
// i2creg.Open(name). The name comes from each device's `bus:` in
// kiosk.yaml; an empty name means "1", the bus on header pins 3 (SDA) and
// 5 (SCL). Do not leave it to periph's own default: with an empty name it
// picks the lowest-numbered bus, and on a Pi /dev/i2c-0 (the HAT EEPROM
// bus) may exist. Several devices on one bus share one open handle.
//
// When opening fails, the error ([*OpenError]) says what to do:
//
//	no /dev/i2c-*            enable I²C: dtparam=i2c_arm=on in /boot/firmware/config.txt
//	                         (/boot/config.txt before Bookworm) or raspi-config → Interface
//	                         Options → I2C, then reboot
//	permission denied        add the kiosk's user to group i2c (and plugdev), log in again
//	unknown bus name         use bus "1" (or the number N of /dev/i2c-N)
//
// # The poll loop
//
// A driver is a [Sensor]: Init checks the part (its ID register) and
// configures it; Read takes one measurement. [Poller] runs a Sensor as a
// device.Instrument: it opens the bus, calls Init, then Read every
// interval, and keeps going through failures ([NewPollerFor] builds one
// from a driver's spec). Each failure is counted;
// the next cycle runs Init again (the part may have been power-cycled).
// After max_failures consecutive failures the device is DOWN: the bus
// handle is closed and reopened, and the device probed again every
// backoff, until a read succeeds. Errors are typed: [ErrInvalid] for bytes
// that arrived but fail their check (CRC, PEC, error flag, wrong ID,
// impossible value) — counted as bad frames — and [ErrDevice] for a bus
// that did not deliver (NACK, short read, I/O error). No reading is ever
// made from bytes that failed a check.
//
// Options common to every I²C device in kiosk.yaml (under `options:`):
//
//	interval: 2s        time between reads (each driver has its own default)
//	max_failures: 3     consecutive failures before DOWN
//	backoff: 30s        probe interval while DOWN
//
// Drivers never own the bus: they receive an i2c.Bus, and only the Poller
// holds (and closes) what the opener returned. Tests replay golden traces
// with i2ctest.Playback (see package i2cbustest).
package i2cbus
