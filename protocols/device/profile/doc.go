// Package profile reads an instrument from a description instead of
// code: a YAML instrument profile says how a device talks (Modbus RTU on
// a serial line, Modbus TCP, or lines of text), where each raw quantity
// is, how a new result shows, how it is acknowledged, and which test
// method's rule decides it. The kiosk reads any device that has a profile
// (kiosk/device/profiled), the simulator emulates one from its profile
// alone (simulator/profilesim), and `shian-kiosk probe` reads a device
// once with a profile at the bench. Plain Go, no I/O: this package
// parses, checks, decodes and encodes.
//
// docs/profiles.md is the manual, with a worked example; the built-in
// profiles are in builtin/.
//
// # A profile
//
//	profile: LANYU-GR20                 # the name kiosk.yaml uses: VENDOR-MODEL
//	vendor: 蓝宇 Lanyu
//	model: LY-GR20
//	transport: {kind: modbus-rtu, baud: 9600, unit: 1, poll_every: 1s, reply_timeout: 300ms}
//	identity:
//	  read: {table: holding, start: 0x00F0, count: 1}
//	  expect: [{register: 0x00F0, equals: 0x4C59}]
//	result:
//	  read: [{table: holding, start: 0x0000, count: 13}, {table: input, start: 0x0000, count: 2}]
//	  ready: {register: 0x0000, bit: 0}
//	  sequence: {register: 0x0001}
//	  item: {register: 0x0002}
//	  method: gold_ratio
//	  values:
//	    c: {register: 0x0003, type: float32, word_order: little, scale: 0.1}
//	    t: {register: 0x0005, type: float32, word_order: little, scale: 0.1}
//	    air_temp: {table: input, register: 0x0000, type: s16, scale: 0.1}
//	  ack: {write: 0x0010, value: sequence}
//	items:
//	  0x0101: {analyte: clenbuterol, name: 克伦特罗}
//
// # Values
//
// A raw quantity (the keys of values) is one of the fields of
// protocols/domain/assay.Raw, in its natural unit: control_delta_a and
// sample_delta_a in A, c and t in the reader's intensity units, rlu in
// RLU, tpc and humidity in %, acid_value in mg KOH/g, core_temp,
// surface_temp and air_temp in °C, mass in g, kept_hours in h. A register
// value is read as its type (u16, s16, u32, s32, float32; two-register
// types high word first unless word_order: little, each register high
// byte first unless byte_order: little), multiplied by scale and offset
// added — exactly, in rational arithmetic — and rounded to the integer
// unit of package measure. A text value is the named group of a regular
// expression, read as a decimal number, then scaled the same way.
//
// # Checks
//
// [Parse] refuses a profile that cannot work, with the file's line:
// unknown keys, an unknown method or transport, a scale of 0, a register
// outside every block read, two values on the same register, a raw
// quantity the method needs and the profile does not provide, a regular
// expression that does not compile or lacks a group the profile names.
// [Profile.DecodeResult] and [Profile.Match] refuse what a device sends
// that the profile does not allow (an item code not in the table, a
// checksum that fails) with errors matching [ErrValue] or [ErrChecksum].
package profile
