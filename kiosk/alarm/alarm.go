// Package alarm drives a kiosk's alarm LED and buzzer on GPIO pins: a
// positive result lights the LED and sounds the buzzer until the operator
// acknowledges it on the touchscreen.
//
// # Pins
//
// The pins are named in kiosk.yaml by their periph.io names, for example
// "GPIO17" for BCM GPIO 17 (header pin 11) on a Raspberry Pi:
//
//	alarm:
//	  led: GPIO17        # through a resistor (or a transistor for a beacon)
//	  buzzer: GPIO27     # an active buzzer, through a transistor
//	  active_low: false  # true when the driver stage switches on at low
//	  beep: 500ms        # buzzer on/off half-period; 0s = continuous
//
// On a real kiosk [HostPins] opens them with periph.io/x/host/v3 and
// gpioreg.ByName; a name the board does not have is refused at start with
// the names it does have. Tests hand in gpiotest pins through [Pins].
//
// # Behaviour
//
// [Alarm.Raise] sets the LED on and the buzzer on at once; while raised,
// [Alarm.Run] toggles the buzzer every Beep (the LED stays on). Raising
// again while raised only updates the reason. [Alarm.Acknowledge] sets
// both off. A failed pin write is remembered in [State].Err (the screen
// shows it) and logged; the on-screen alarm works without any pin.
package alarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// DefaultBeep is the buzzer's on/off half-period.
const DefaultBeep = 500 * time.Millisecond

// Config names the pins. Empty names mean no such output.
type Config struct {
	// LED and Buzzer are periph.io pin names ("GPIO17").
	LED    string `yaml:"led" json:"led,omitempty"`
	Buzzer string `yaml:"buzzer" json:"buzzer,omitempty"`
	// ActiveLow inverts both outputs (on = low).
	ActiveLow bool `yaml:"active_low" json:"active_low,omitempty"`
	// Beep is the buzzer's on/off half-period while the alarm is raised;
	// nil takes DefaultBeep, 0 sounds it continuously.
	Beep *time.Duration `yaml:"beep" json:"beep,omitempty"`
}

// Enabled reports whether any pin is named.
func (c Config) Enabled() bool { return c.LED != "" || c.Buzzer != "" }

// PinOpener opens an output pin by name.
type PinOpener interface {
	OpenPin(name string) (gpio.PinOut, error)
}

// Pins is a PinOpener over a fixed set of pins (tests use gpiotest pins).
type Pins map[string]gpio.PinOut

// OpenPin returns the pin of that name.
func (p Pins) OpenPin(name string) (gpio.PinOut, error) {
	if pin, ok := p[name]; ok {
		return pin, nil
	}
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	return nil, &PinError{Name: name, Known: names}
}

// HostPins opens real pins through periph.io/x/host/v3 (host.Init once,
// then gpioreg.ByName). The zero value is ready to use.
type HostPins struct {
	// Init defaults to host.Init; tests replace it.
	Init func() error

	once    sync.Once
	initErr error
}

// OpenPin implements PinOpener.
func (h *HostPins) OpenPin(name string) (gpio.PinOut, error) {
	h.once.Do(func() {
		init := h.Init
		if init == nil {
			init = func() error { _, err := host.Init(); return err }
		}
		h.initErr = init()
	})
	if h.initErr != nil {
		return nil, fmt.Errorf("GPIO pin %q: periph host init failed: %w (is this a Raspberry Pi, and may the kiosk's user open /dev/gpiomem? add it to group gpio)", name, h.initErr)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		var known []string
		for _, q := range gpioreg.All() {
			known = append(known, q.Name())
		}
		return nil, &PinError{Name: name, Known: known}
	}
	return p, nil
}

// PinError is a pin name the board does not have.
type PinError struct {
	Name  string
	Known []string
}

func (e *PinError) Error() string {
	msg := fmt.Sprintf("no GPIO pin named %q on this board", e.Name)
	if len(e.Known) == 0 {
		return msg + " (no GPIO pins found at all: is this a Raspberry Pi with the GPIO driver loaded?)"
	}
	known := e.Known
	if len(known) > 30 {
		known = append(known[:30:30], "…")
	}
	return msg + "; use a BCM name such as GPIO17 (header pin 11). Pins here: " + strings.Join(known, ", ")
}

// State is the alarm as the screen shows it.
type State struct {
	Active bool      `json:"active"`
	Reason string    `json:"reason,omitempty"` // e.g. the result id that raised it
	Since  time.Time `json:"since,omitempty"`
	// Err is the last pin write error, empty when the outputs work.
	Err string `json:"error,omitempty"`
	// HasLED and HasBuzzer say which outputs are wired.
	HasLED    bool `json:"has_led"`
	HasBuzzer bool `json:"has_buzzer"`
}

// Alarm is the kiosk's alarm outputs. It is safe for concurrent use.
type Alarm struct {
	led, buzzer gpio.PinOut
	activeLow   bool
	beep        time.Duration
	now         func() time.Time
	log         *slog.Logger

	mu      sync.Mutex
	st      State
	buzzOn  bool
	kick    chan struct{}
	stopped bool
}

// Options are an alarm's clock and logger (both optional).
type Options struct {
	Now func() time.Time
	Log *slog.Logger
}

// Open opens the configured pins with pins and sets both outputs off.
// With no pin configured it returns an alarm that only keeps the state
// (the on-screen alarm).
func Open(cfg Config, pins PinOpener, opts Options) (*Alarm, error) {
	a := &Alarm{activeLow: cfg.ActiveLow, beep: DefaultBeep, now: opts.Now, log: opts.Log, kick: make(chan struct{}, 1)}
	if cfg.Beep != nil {
		if *cfg.Beep < 0 {
			return nil, fmt.Errorf("alarm: beep %s must not be negative (0s = continuous)", *cfg.Beep)
		}
		a.beep = *cfg.Beep
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if cfg.Enabled() && pins == nil {
		return nil, errors.New("alarm: pins are configured but this kiosk has no GPIO opener")
	}
	var err error
	if cfg.LED != "" {
		if a.led, err = pins.OpenPin(cfg.LED); err != nil {
			return nil, fmt.Errorf("alarm.led: %w", err)
		}
	}
	if cfg.Buzzer != "" {
		if a.buzzer, err = pins.OpenPin(cfg.Buzzer); err != nil {
			return nil, fmt.Errorf("alarm.buzzer: %w", err)
		}
	}
	a.st.HasLED, a.st.HasBuzzer = a.led != nil, a.buzzer != nil
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.drive(false, false); err != nil {
		return nil, fmt.Errorf("alarm: set the outputs off: %w", err)
	}
	return a, nil
}

// level returns the pin level for on.
func (a *Alarm) level(on bool) gpio.Level {
	if a.activeLow {
		return gpio.Level(!on)
	}
	return gpio.Level(on)
}

// drive sets the outputs; a.mu is held.
func (a *Alarm) drive(led, buzz bool) error {
	var errs []error
	if a.led != nil {
		if err := a.led.Out(a.level(led)); err != nil {
			errs = append(errs, fmt.Errorf("LED %s: %w", a.led.Name(), err))
		}
	}
	if a.buzzer != nil {
		if err := a.buzzer.Out(a.level(buzz)); err != nil {
			errs = append(errs, fmt.Errorf("buzzer %s: %w", a.buzzer.Name(), err))
		}
	}
	a.buzzOn = buzz
	err := errors.Join(errs...)
	if err != nil {
		a.st.Err = err.Error()
		a.log.Error("alarm output failed", "err", err)
	} else {
		a.st.Err = ""
	}
	return err
}

func (a *Alarm) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Raise lights the LED and sounds the buzzer until Acknowledge. reason is
// kept for the screen (the kiosk passes the result id).
func (a *Alarm) Raise(reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.Reason = reason
	if a.st.Active {
		return nil
	}
	a.st.Active, a.st.Since = true, a.now()
	if a.stopped {
		return nil
	}
	err := a.drive(true, true)
	a.poke()
	return err
}

// Acknowledge sets both outputs off.
func (a *Alarm) Acknowledge() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.Active, a.st.Reason, a.st.Since = false, "", time.Time{}
	err := a.drive(false, false)
	a.poke()
	return err
}

// State returns the alarm's state.
func (a *Alarm) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// Run beeps the buzzer while the alarm is raised, until ctx ends; then it
// sets both outputs off.
func (a *Alarm) Run(ctx context.Context) error {
	var t *time.Ticker
	defer func() {
		if t != nil {
			t.Stop()
		}
		a.Close()
	}()
	for {
		a.mu.Lock()
		beeping := a.st.Active && a.buzzer != nil && a.beep > 0
		a.mu.Unlock()
		var tick <-chan time.Time
		switch {
		case beeping && t == nil:
			t = time.NewTicker(a.beep)
		case !beeping && t != nil:
			t.Stop()
			t = nil
		}
		if t != nil {
			tick = t.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.kick:
		case <-tick:
			a.mu.Lock()
			if a.st.Active && !a.stopped {
				a.drive(true, !a.buzzOn)
			}
			a.mu.Unlock()
		}
	}
}

// Close sets both outputs off (a stopped kiosk must not keep beeping).
func (a *Alarm) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	return a.drive(false, false)
}
