// Package device is the kiosk's view of the instruments it reads: what one
// reading is, what an instrument driver looks like, and how a driver is
// chosen from the kiosk configuration.
//
// # Readings
//
// A driver turns the bytes an instrument sends (over serial or I²C) into
// [Reading] values: the raw measurements plus what the instrument said about
// the sample. It does not decide verdicts; the kiosk applies
// protocols/domain/assay to every reading, and the command re-derives it.
//
// # Drivers
//
// An [Instrument] runs until its context ends, delivering readings to a sink
// function. A driver never owns the process: it is given its port or bus by
// the caller ([Env]), keeps running when the device misbehaves (garbled
// frames are counted and skipped, a vanished USB adapter is reopened), and
// reports its health through [Instrument.Status].
//
// # Registry
//
// Drivers register a [Factory] under a protocol name ("dy-enzyme",
// "modbus-gold", …) from their package's init function; the kiosk
// configuration names the protocol of each device and [Open] builds it.
//
// # Profiles
//
// A device of a make no driver knows is described by an instrument
// profile (protocols/device/profile): the configuration names it
// (profile: VENDOR-MODEL) instead of a protocol, [Open] finds it in
// [Env.Profiles] and builds it with the profile driver
// (kiosk/device/profiled, registered as [ProfileProtocol]). Every path
// that builds devices — the kiosk, `shian-kiosk probe`, the checks of the
// configuration — goes through Open, so a profile is checked as a
// protocol is.
package device

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Reading is one measurement as an instrument reported it.
type Reading struct {
	// DeviceID is the id of the device in the kiosk configuration.
	DeviceID string `json:"device_id"`
	// Model and Serial identify the instrument (Serial may be empty).
	Model  string `json:"model"`
	Serial string `json:"serial,omitempty"`
	// Method is the test method family; Item the test item
	// (检测项目, e.g. "有机磷和氨基甲酸酯类农药"); Analyte a machine name
	// for what is tested (e.g. "organophosphate_carbamate", "clenbuterol").
	Method  assay.Method `json:"method"`
	Item    string       `json:"item"`
	Analyte string       `json:"analyte"`
	// SampleCode and SampleName are what the operator keyed into the
	// instrument, if it has a keypad (e.g. code "S-012", name "菠菜").
	SampleCode string `json:"sample_code,omitempty"`
	SampleName string `json:"sample_name,omitempty"`
	// Channel is the instrument channel or well, 0 if it has one.
	Channel int `json:"channel,omitempty"`
	// Raw holds the measurements the verdict is derived from.
	Raw assay.Raw `json:"raw"`
	// DeviceTime is the instrument's own clock, zero if it reports none.
	DeviceTime time.Time `json:"device_time,omitempty"`
	// Report is the instrument's own identity of the report this reading
	// came from (serial and record number), the same on every repeat of
	// the report; empty when the instrument numbers nothing. The kiosk
	// uses it to take a repeated report once, across restarts.
	Report string `json:"report,omitempty"`
}

// State is an instrument's health as the operator sees it.
type State int

// Instrument states. The zero value is unknown (not yet opened).
const (
	StateUnknown   State = iota
	StateReady           // open and answering
	StateMeasuring       // a test is in progress
	StateDown            // N consecutive failures; probed again on a backoff
)

// String returns the machine name of s.
func (s State) String() string {
	switch s {
	case StateReady:
		return "ready"
	case StateMeasuring:
		return "measuring"
	case StateDown:
		return "down"
	}
	return "unknown"
}

// MarshalText encodes s as its name (so Status marshals "state": "ready").
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name String returns.
func (s *State) UnmarshalText(b []byte) error {
	for _, c := range []State{StateUnknown, StateReady, StateMeasuring, StateDown} {
		if string(b) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("device: instrument state %q is not one of unknown, ready, measuring, down", b)
}

// Label returns the on-screen label in zh-CN and en.
func (s State) Label() (zh, en string) {
	switch s {
	case StateReady:
		return "就绪", "Ready"
	case StateMeasuring:
		return "检测中", "Measuring"
	case StateDown:
		return "故障", "Down"
	}
	return "未知", "Unknown"
}

// Status is a snapshot of an instrument's health and counters.
type Status struct {
	ID       string    `json:"id"`
	Model    string    `json:"model"`
	State    State     `json:"state"` // marshals as its name
	LastErr  string    `json:"last_error,omitempty"`
	LastSeen time.Time `json:"last_seen,omitempty"`
	// Frames is the number of valid frames decoded; BadFrames those
	// rejected (checksum, CRC, length); Reopens the times the port was
	// reopened.
	Frames    uint64 `json:"frames"`
	BadFrames uint64 `json:"bad_frames"`
	Reopens   uint64 `json:"reopens"`
	// Timeouts counts requests and probes the instrument did not answer
	// in time.
	Timeouts uint64 `json:"timeouts"`
}

// Instrument is a running driver for one device.
type Instrument interface {
	// ID returns the device id from the configuration.
	ID() string
	// Run reads the device until ctx is done, calling sink for every
	// reading, from one goroutine. It returns ctx.Err() when ctx ends, or
	// an error only when the device can never work (bad configuration).
	// Transient failures are retried inside Run.
	Run(ctx context.Context, sink func(Reading)) error
	// Status returns the current health; safe to call concurrently.
	Status() Status
}

// Confirming is implemented by drivers whose instrument repeats a report
// until the host confirms it. RunConfirmed is Run with a sink that can
// refuse: the driver confirms a reading to the instrument only after save
// returned nil, so a reading the kiosk could not store (a full disk) is
// repeated by the instrument later instead of being lost.
type Confirming interface {
	RunConfirmed(ctx context.Context, save func(Reading) error) error
}

// Spec is one device entry of the kiosk configuration.
type Spec struct {
	ID       string `yaml:"id"`
	Protocol string `yaml:"protocol"` // registered driver name
	// Profile names an instrument profile (VENDOR-MODEL) instead of a
	// protocol: the device is read from its profile (kiosk/device/profiled).
	Profile string            `yaml:"profile,omitempty"`
	Model   string            `yaml:"model"`
	Port    string            `yaml:"port,omitempty"`  // serial device path
	Baud    int               `yaml:"baud,omitempty"`  // serial speed
	Bus     string            `yaml:"bus,omitempty"`   // I²C bus name ("1" on a Pi)
	Addr    uint16            `yaml:"addr,omitempty"`  // I²C or Modbus address
	Items   []string          `yaml:"items,omitempty"` // test items it runs
	Options map[string]string `yaml:"options,omitempty"`
	Line    int               `yaml:"-"` // line in the config file, for errors
}

// Env is what a driver is given by the kiosk: how to open ports and buses,
// a clock and a logger. Fields a driver does not need may be nil.
type Env struct {
	Serial SerialOpener
	I2C    BusOpener
	Now    func() time.Time
	Log    *slog.Logger
	// Profiles are the instrument profiles a spec's profile names (nil:
	// the built-in ones, protocols/device/profile.Builtin).
	Profiles *profile.Library
	// Dial opens a TCP connection (Modbus TCP devices); nil uses a
	// net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Rules are the kiosk's decision rules, for drivers that must know a
	// verdict to decide when to report (the cold-room logger reports at
	// once when its room breaches or recovers). Nil means
	// assay.DefaultRules(). Drivers never put a verdict in a Reading.
	Rules *assay.Rules
}

// Factory builds an instrument from its spec. It validates the spec (an
// error names the field and what is wrong) but does not open the device;
// Run does.
type Factory func(spec Spec, env Env) (Instrument, error)

var (
	regMu     sync.Mutex
	factories = map[string]Factory{}
	knownOpts = map[string][]string{}
)

// RegisterOptions declares the option keys a driver reads, for drivers
// whose factory does not refuse unknown keys itself: [Open] then refuses a
// spec naming any other key, with the list of known ones, so a typo in
// kiosk.yaml is caught by --check and doctor instead of being ignored.
func RegisterOptions(protocol string, keys ...string) {
	regMu.Lock()
	defer regMu.Unlock()
	knownOpts[protocol] = append(knownOpts[protocol], keys...)
}

// Bauds are the serial speeds a spec may name (0 takes the driver's
// default, 9600 for every driver here).
var Bauds = []int{1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// checkSpec makes the checks every driver needs: a serial speed that
// exists, and only the option keys the driver declared.
func checkSpec(spec Spec, known []string) error {
	if spec.Baud != 0 && !slices.Contains(Bauds, spec.Baud) {
		return fmt.Errorf("device %q: baud %d is not a serial speed; use one of %v (the instrument's manual or menu names it; most use 9600)", spec.ID, spec.Baud, Bauds)
	}
	if spec.Baud != 0 && spec.Port == "" {
		return fmt.Errorf("device %q: baud is set but the device has no port; baud applies to serial devices only", spec.ID)
	}
	if len(known) == 0 {
		return nil
	}
	for k := range spec.Options {
		if !slices.Contains(known, k) {
			sorted := slices.Clone(known)
			sort.Strings(sorted)
			return fmt.Errorf("device %q: unknown option %q (known: %s)", spec.ID, k, strings.Join(sorted, ", "))
		}
	}
	return nil
}

// Register makes a driver available under a protocol name. It panics if the
// name is taken, like database/sql.Register.
func Register(protocol string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := factories[protocol]; dup {
		panic("device: Register called twice for protocol " + protocol)
	}
	factories[protocol] = f
}

// Protocols lists the registered protocol names, sorted.
func Protocols() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ProfileProtocol is the protocol under which the driver of profiled
// instruments registers; a spec that names a profile is built by it.
const ProfileProtocol = "profile"

// Open builds the instrument for spec with the registered factory (for a
// spec that names a profile, the profile driver's).
func Open(spec Spec, env Env) (Instrument, error) {
	if spec.Profile != "" {
		if spec.Protocol != "" && spec.Protocol != ProfileProtocol {
			return nil, fmt.Errorf("device %q: give protocol (%s) or profile (%s), not both", spec.ID, spec.Protocol, spec.Profile)
		}
		spec.Protocol = ProfileProtocol
	}
	regMu.Lock()
	f := factories[spec.Protocol]
	known := knownOpts[spec.Protocol]
	regMu.Unlock()
	if f == nil {
		if spec.Protocol == ProfileProtocol {
			return nil, fmt.Errorf("device %q: profile %q: this kiosk has no profile driver (import kiosk/drivers)", spec.ID, spec.Profile)
		}
		return nil, fmt.Errorf("device %q: unknown protocol %q (known: %v)", spec.ID, spec.Protocol, Protocols())
	}
	if err := checkSpec(spec, known); err != nil {
		return nil, err
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Log == nil {
		env.Log = slog.Default()
	}
	return f(spec, env)
}

// PortSharer is implemented by drivers whose instruments share one serial
// port as a bus (RS-485 Modbus): several devices of a kiosk.yaml may name
// the same port, each with its own address, at one speed. Any other
// driver holds its port alone, and a config giving its port to a second
// device is refused.
type PortSharer interface {
	SharesPort() bool
}
