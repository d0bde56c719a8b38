package i2cbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/shianfood/shian/kiosk/device"
)

// Typed errors of I²C drivers (docs/reliability.md test 2: EINVALID / EDEVICE).
var (
	// ErrInvalid: bytes arrived but fail their check (CRC, PEC, error
	// flag, wrong ID, impossible value). Nothing is made of them.
	ErrInvalid = errors.New("EINVALID")
	// ErrDevice: the bus did not deliver (NACK, short read, I/O error).
	ErrDevice = errors.New("EDEVICE")
)

// Invalid wraps a check failure as ErrInvalid.
func Invalid(err error) error {
	if err == nil || errors.Is(err, ErrInvalid) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// Device wraps a bus failure as ErrDevice, naming the operation.
func Device(op string, err error) error {
	if err == nil || errors.Is(err, ErrDevice) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrDevice, op, err)
}

// Link is what a Sensor gets for one Init or Read: the bus (never the
// closer) and a context-aware sleep for conversion times.
type Link struct {
	Bus   i2c.Bus
	Sleep func(ctx context.Context, d time.Duration) error
}

// Tx runs one transaction, wrapping a failure as ErrDevice.
func (l Link) Tx(op string, addr uint16, w, r []byte) error {
	return Device(op, l.Bus.Tx(addr, w, r))
}

// Sensor is one I²C device driver.
type Sensor interface {
	// Init checks the part (ID register) and configures it. It runs after
	// the bus opens and again after any failure.
	Init(ctx context.Context, l Link) error
	// Read takes one measurement and returns its readings (none when
	// there is nothing to report, e.g. an empty strip slot).
	Read(ctx context.Context, l Link) ([]device.Reading, error)
}

// Config is the poll loop's timing.
type Config struct {
	Interval    time.Duration
	MaxFailures int
	Backoff     time.Duration
}

// PollerOptions are the option keys ParseConfig reads, for
// device.RegisterOptions.
var PollerOptions = []string{"interval", "backoff", "max_failures"}

// ParseConfig reads interval, max_failures and backoff from spec.Options,
// with the given default interval (max_failures 3, backoff 30 s).
func ParseConfig(spec device.Spec, interval time.Duration) (Config, error) {
	c := Config{Interval: interval, MaxFailures: 3, Backoff: 30 * time.Second}
	if err := OptDuration(spec, "interval", &c.Interval); err != nil {
		return c, err
	}
	if err := OptDuration(spec, "backoff", &c.Backoff); err != nil {
		return c, err
	}
	if s, ok := spec.Options["max_failures"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return c, fmt.Errorf("device %q: options.max_failures %q: want a whole number ≥ 1", spec.ID, s)
		}
		c.MaxFailures = n
	}
	return c, nil
}

// OptDuration reads a positive duration option ("2s", "500ms") if present.
func OptDuration(spec device.Spec, key string, d *time.Duration) error {
	s, ok := spec.Options[key]
	if !ok {
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("device %q: options.%s %q: want a positive duration like 2s or 500ms", spec.ID, key, s)
	}
	*d = v
	return nil
}

// Poller runs a Sensor as a device.Instrument.
type Poller struct {
	spec   device.Spec
	env    device.Env
	sensor Sensor
	cfg    Config
	// Sleep waits inside sensor sequences (conversion times) and Wait
	// between cycles; both return ctx.Err() when ctx ends. Tests replace
	// them (before Run) to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	Wait  func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	st       device.Status
	failures int
	firstErr string
}

var _ device.Instrument = (*Poller)(nil)

// NewPoller builds the instrument. It refuses an Env without an I²C
// opener.
func NewPoller(spec device.Spec, env device.Env, s Sensor, cfg Config) (*Poller, error) {
	if env.I2C == nil {
		return nil, fmt.Errorf("device %q: this kiosk has no I²C bus opener (I²C devices need a Raspberry Pi build)", spec.ID)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if cfg.MaxFailures < 1 {
		cfg.MaxFailures = 1
	}
	return &Poller{
		spec: spec, env: env, sensor: s, cfg: cfg, Sleep: SleepContext, Wait: SleepContext,
		st: device.Status{ID: spec.ID, Model: spec.Model},
	}, nil
}

// NewPollerFor is how a driver builds its poll loop from its spec: the
// options common to every I²C device read by ParseConfig over the driver's
// default interval, model as the device's model when the spec names none,
// then NewPoller.
func NewPollerFor(spec device.Spec, env device.Env, s Sensor, interval time.Duration, model string) (*Poller, error) {
	cfg, err := ParseConfig(spec, interval)
	if err != nil {
		return nil, err
	}
	if spec.Model == "" {
		spec.Model = model
	}
	return NewPoller(spec, env, s, cfg)
}

// SleepContext waits d or until ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ID implements device.Instrument.
func (p *Poller) ID() string { return p.spec.ID }

// Status implements device.Instrument.
func (p *Poller) Status() device.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// FirstErr returns the first error since Run started ("" if none); Status
// keeps only the last.
func (p *Poller) FirstErr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstErr
}

// Config returns the timing in use.
func (p *Poller) Config() Config { return p.cfg }

func (p *Poller) setState(s device.State) {
	p.st.State = s
}

// fail records a failure; it reports whether the device just went DOWN.
func (p *Poller) fail(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	p.st.LastErr = err.Error()
	if p.firstErr == "" {
		p.firstErr = p.st.LastErr
	}
	if errors.Is(err, ErrInvalid) {
		p.st.BadFrames++
	}
	if p.failures >= p.cfg.MaxFailures && p.st.State != device.StateDown {
		p.setState(device.StateDown)
		return true
	}
	return false
}

func (p *Poller) ok() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = 0
	p.st.Frames++
	p.st.LastSeen = p.env.Now()
	p.setState(device.StateReady)
}

// Run implements device.Instrument.
func (p *Poller) Run(ctx context.Context, sink func(device.Reading)) error {
	var bus i2c.BusCloser
	defer func() {
		if bus != nil {
			bus.Close()
		}
	}()
	opened := false
	needInit := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := func() error {
			if bus == nil {
				b, err := p.env.I2C.OpenBus(p.spec.Bus)
				if err != nil {
					return Device("open bus", err)
				}
				bus = b
				if opened {
					p.mu.Lock()
					p.st.Reopens++
					p.mu.Unlock()
				}
				opened, needInit = true, true
			}
			l := Link{Bus: bus, Sleep: p.Sleep}
			if needInit {
				if err := p.sensor.Init(ctx, l); err != nil {
					return err
				}
				needInit = false
			}
			readings, err := p.sensor.Read(ctx, l)
			if err != nil {
				return err
			}
			p.ok()
			for _, r := range readings {
				r.DeviceID = p.spec.ID
				if p.spec.Model != "" {
					r.Model = p.spec.Model
				}
				sink(r)
			}
			return nil
		}()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.cfg.Interval
		if err != nil {
			needInit = true
			if p.fail(err) && p.env.Log != nil {
				p.env.Log.Warn("i2c device down", "device", p.spec.ID, "err", err, "retry_every", p.cfg.Backoff)
			}
			if p.Status().State == device.StateDown {
				// Reopen on the next probe: an adapter may have gone.
				if bus != nil {
					bus.Close()
					bus = nil
				}
				wait = p.cfg.Backoff
			}
		}
		if err := p.Wait(ctx, wait); err != nil {
			return ctx.Err()
		}
	}
}
