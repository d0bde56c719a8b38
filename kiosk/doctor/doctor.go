// Package doctor checks a kiosk the way an installer needs it checked
// before an event: `shian-kiosk doctor --config /etc/shian/kiosk.yaml`.
//
// # What it checks
//
//  1. The configuration, exactly as the running kiosk checks it: the file
//     parsed with its line numbers, then every device's driver built
//     through the registry with its options (kiosk.Config.Instruments),
//     no port or bus address given twice. `shian-kiosk --check` is this
//     step alone.
//  2. What the machine has: the serial ports (with their stable
//     /dev/serial/by-id names) and the I²C buses.
//  3. Each configured device: its port or bus is there and this user may
//     open it, then the device is probed by running its own driver for a
//     few seconds — the Modbus identity read, the chip-id or status
//     register, the instrument's answer to its line probe — until it is
//     ready. Every port is opened once (the RS-485 units of one bus share
//     it through kiosk/serialport.Hub). A reading that arrives meanwhile
//     is refused (a confirming instrument keeps it and repeats it to the
//     kiosk) and reported.
//  4. The data directory: there or creatable, writable with fsync, not
//     locked by a running kiosk (if it is, the devices are in use and are
//     not probed), free space, and the outbox's health read without
//     opening it (kiosk/outbox.Inspect).
//  5. The operator screen's address and the alarm's GPIO pins.
//  6. The command: reachable, its TLS certificate (wss), the kiosk's token
//     (a plain GET of the kiosk endpoint answers with the kiosk the token
//     belongs to and the command's clock), and the clock skew.
//
// Every check is one line: pass, warn, fail, info or skip, what was found
// (naming the file and line of the config entry it is about), and for a
// warning or failure what to do, in zh-CN and English. [Report.Failed] is
// true when a needed check failed; the command exits non-zero then.
package doctor

import (
	"fmt"
	"strings"
)

// Status is a check's outcome.
type Status int

// Outcomes. Only Fail makes the report fail.
const (
	Pass Status = iota
	Info        // a listing (the ports the machine has)
	Warn        // works, but should be fixed
	Skip        // not checked, and why
	Fail        // the kiosk will not work as configured
)

// Label is the outcome as printed, zh-CN first.
func (s Status) Label() string {
	switch s {
	case Pass:
		return "通过 PASS"
	case Info:
		return "信息 INFO"
	case Warn:
		return "注意 WARN"
	case Skip:
		return "跳过 SKIP"
	}
	return "失败 FAIL"
}

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Info:
		return "info"
	case Warn:
		return "warn"
	case Skip:
		return "skip"
	}
	return "fail"
}

// Text is a message in both languages.
type Text struct{ ZH, EN string }

func (t Text) String() string {
	switch {
	case t.ZH == "":
		return t.EN
	case t.EN == "":
		return t.ZH
	}
	return t.ZH + " / " + t.EN
}

// Check is one line of the report.
type Check struct {
	Status Status
	// What is checked, e.g. {"仪器 gold-1", "device gold-1"}.
	What Text
	// Found is what the check saw, in English (it names files, lines,
	// ports and the instruments' own messages).
	Found string
	// Fix says what to do; set for Warn and Fail.
	Fix Text
}

// String formats the check as its one line:
//
//	失败 FAIL  仪器 device gold-1: /etc/shian/kiosk.yaml:23: port /dev/ttyUSB1 does not exist → 处理：… / fix: …
func (c Check) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s", c.Status.Label(), c.What.ZH)
	if c.What.EN != "" {
		fmt.Fprintf(&b, " %s", c.What.EN)
	}
	if c.Found != "" {
		fmt.Fprintf(&b, ": %s", c.Found)
	}
	if c.Fix.ZH != "" || c.Fix.EN != "" {
		fmt.Fprintf(&b, " → 处理：%s / fix: %s", c.Fix.ZH, c.Fix.EN)
	}
	return b.String()
}

// Report is every check, in the order they ran.
type Report struct {
	Checks []Check
}

// Failed reports whether a needed check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Count returns how many checks had status s.
func (r Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Summary is the closing line.
func (r Report) Summary() string {
	if r.Failed() {
		return fmt.Sprintf("%d 项失败，%d 项注意 / %d failed, %d warnings, %d passed: fix the failures above and run doctor again",
			r.Count(Fail), r.Count(Warn), r.Count(Fail), r.Count(Warn), r.Count(Pass))
	}
	return fmt.Sprintf("全部通过（%d 项注意）/ all needed checks passed: %d passed, %d warnings", r.Count(Warn), r.Count(Pass), r.Count(Warn))
}
