package kiosk

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/shianfood/shian/kiosk/device"
)

// Problems is every problem a configuration check found, in file order.
// Its Error joins them one per line, each naming the file and line.
type Problems []*ConfigError

func (p Problems) Error() string {
	s := make([]string, len(p))
	for i, e := range p {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Instruments builds every device's driver exactly as [Open] does —
// through the registry (device.Open), with its options, but without
// opening a port or a bus — and checks that no two devices claim one port
// or one bus address: a port is shared only by drivers that share it as a
// bus (device.PortSharer, RS-485 Modbus), each unit at its own address and
// all at one speed, and an I²C address is used once per bus. It returns
// the instruments in config order, or a [Problems] listing every device
// that is wrong, each with the file, its line and what to do. It is the
// configuration part of `shian-kiosk --check` and `shian-kiosk doctor`.
func (c *Config) Instruments(env device.Env) ([]device.Instrument, error) {
	if env.Profiles == nil {
		env.Profiles = c.Library() // the profiles its devices name
	}
	var probs Problems
	insts := make([]device.Instrument, len(c.Devices))
	for i, spec := range c.Devices {
		inst, err := device.Open(spec, env)
		if err != nil {
			probs = append(probs, &ConfigError{File: c.File, Line: c.deviceLine(i, err.Error()), Msg: err.Error()})
			continue
		}
		insts[i] = inst
	}
	probs = append(probs, c.conflicts(insts)...)
	if len(probs) > 0 {
		sortProblems(probs)
		return nil, probs
	}
	return insts, nil
}

func sortProblems(p Problems) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Line < p[j-1].Line; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// conflicts finds ports and bus addresses claimed twice.
func (c *Config) conflicts(insts []device.Instrument) Problems {
	var probs Problems
	ports := map[string][]int{}
	var portOrder []string
	buses := map[string]int{} // bus|addr|protocol-if-default → first device
	for i, spec := range c.Devices {
		if spec.Port != "" {
			key := realPort(spec.Port)
			if _, ok := ports[key]; !ok {
				portOrder = append(portOrder, key)
			}
			ports[key] = append(ports[key], i)
		}
		if spec.Bus != "" {
			key := fmt.Sprintf("%s|0x%02X", spec.Bus, spec.Addr)
			if spec.Addr == 0 {
				key += "|" + spec.Protocol // the driver's default address
			}
			if j, dup := buses[key]; dup {
				first := c.Devices[j]
				addr := fmt.Sprintf("addr 0x%02X", spec.Addr)
				if spec.Addr == 0 {
					addr = "the default address of " + spec.Protocol
				}
				probs = append(probs, &ConfigError{File: c.File, Line: c.keyLine(i, "addr"), Msg: fmt.Sprintf(
					"device %q: I²C bus %s, %s is already used by device %q (line %d); two parts cannot answer at one address: set addr to the part's other address (its address pin) or put it on another bus",
					spec.ID, spec.Bus, addr, first.ID, first.Line)})
				continue
			}
			buses[key] = i
		}
	}
	for _, key := range portOrder {
		idx := ports[key]
		if len(idx) < 2 {
			continue
		}
		first := c.Devices[idx[0]]
		alone := false
		for _, i := range idx {
			if insts[i] == nil {
				continue
			}
			if ps, ok := insts[i].(device.PortSharer); !ok || !ps.SharesPort() {
				alone = true
				other := first
				if i == idx[0] {
					other = c.Devices[idx[1]]
				}
				probs = append(probs, &ConfigError{File: c.File, Line: c.keyLine(i, "port"), Msg: fmt.Sprintf(
					"device %q: port %s is also given to device %q (line %d), and %s holds its port alone; give each instrument its own port (ls /dev/serial/by-id/ lists the adapters)",
					c.Devices[i].ID, c.Devices[i].Port, other.ID, other.Line, driverOf(c.Devices[i]))})
			}
		}
		if alone {
			continue
		}
		addrs := map[uint16]int{}
		for _, i := range idx {
			spec := c.Devices[i]
			a := spec.Addr
			if a == 0 {
				a = 1
			}
			if j, dup := addrs[a]; dup && insts[i] != nil && insts[j] != nil {
				probs = append(probs, &ConfigError{File: c.File, Line: c.keyLine(i, "addr"), Msg: fmt.Sprintf(
					"device %q: addr %d on the bus at %s is already used by device %q (line %d); give each unit of one bus its own address (set on the unit)",
					spec.ID, a, spec.Port, c.Devices[j].ID, c.Devices[j].Line)})
			}
			addrs[a] = i
			if spec.Baud != first.Baud && insts[i] != nil {
				probs = append(probs, &ConfigError{File: c.File, Line: c.keyLine(i, "baud"), Msg: fmt.Sprintf(
					"device %q: baud %d differs from %d of device %q on the same port (line %d); every unit of one bus runs at one speed",
					spec.ID, spec.Baud, first.Baud, first.ID, first.Line)})
			}
		}
	}
	return probs
}

// realPort resolves a port's stable name (/dev/serial/by-id/…) to the
// device it points at, when it exists, so two names of one adapter are
// seen as one port.
func realPort(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

var (
	optionRE = regexp.MustCompile(`options\.([A-Za-z0-9_]+)|unknown option "([^"]+)"`)
	fieldRE  = regexp.MustCompile(`\b(port|baud|addr|bus|items|model)\b`)
)

// deviceLine is the line of devices[i] an error message is about: the
// option or field it names, else the entry's first line.
func (c *Config) deviceLine(i int, msg string) int {
	// Skip the device id in the message ("device \"x\": …").
	rest := msg
	if j := strings.Index(rest, "\": "); j >= 0 {
		rest = rest[j+3:]
	}
	if m := optionRE.FindStringSubmatch(rest); m != nil {
		key := m[1] + m[2]
		if l := c.keyLine(i, "options."+key); l > 0 {
			return l
		}
		return c.keyLine(i, "options")
	}
	if m := fieldRE.FindStringSubmatch(rest); m != nil {
		return c.keyLine(i, m[1])
	}
	return c.Devices[i].Line
}

// keyLine is the line of key ("port", "options", "options.mode") in
// devices[i], or the entry's first line.
func (c *Config) keyLine(i int, key string) int {
	if i < len(c.devKeys) {
		if l := c.devKeys[i][key]; l > 0 {
			return l
		}
		if k, _, ok := strings.Cut(key, "."); ok {
			if l := c.devKeys[i][k]; l > 0 {
				return l
			}
		}
	}
	return c.Devices[i].Line
}

// AsProblems returns err's configuration problems: every one of a
// Problems, the one of a *ConfigError, or nil.
func AsProblems(err error) Problems {
	var p Problems
	if errors.As(err, &p) {
		return p
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return Problems{ce}
	}
	return nil
}

// driverOf names what reads a device: "protocol X" or "profile X".
func driverOf(spec device.Spec) string {
	if spec.Profile != "" {
		return "profile " + spec.Profile
	}
	return "protocol " + spec.Protocol
}
