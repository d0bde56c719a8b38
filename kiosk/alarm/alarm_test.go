package alarm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func pins() (Pins, *gpiotest.Pin, *gpiotest.Pin) {
	led := &gpiotest.Pin{N: "GPIO17", Num: 17, L: gpio.High}
	buzz := &gpiotest.Pin{N: "GPIO27", Num: 27, L: gpio.High}
	return Pins{"GPIO17": led, "GPIO27": buzz}, led, buzz
}

func TestRaiseAndAcknowledge(t *testing.T) {
	p, led, buzz := pins()
	a, err := Open(Config{LED: "GPIO17", Buzzer: "GPIO27"}, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if led.Read() != gpio.Low || buzz.Read() != gpio.Low {
		t.Fatal("Open must set both outputs off")
	}
	if err := a.Raise("r1"); err != nil {
		t.Fatal(err)
	}
	if led.Read() != gpio.High || buzz.Read() != gpio.High {
		t.Fatal("Raise: LED and buzzer must be on at once")
	}
	st := a.State()
	if !st.Active || st.Reason != "r1" || !st.HasLED || !st.HasBuzzer || st.Since.IsZero() {
		t.Fatalf("state %+v", st)
	}
	a.Raise("r2")
	if a.State().Reason != "r2" {
		t.Fatal("a second Raise updates the reason")
	}
	if err := a.Acknowledge(); err != nil {
		t.Fatal(err)
	}
	if led.Read() != gpio.Low || buzz.Read() != gpio.Low || a.State().Active {
		t.Fatal("Acknowledge must set both outputs off")
	}
}

func TestActiveLow(t *testing.T) {
	p, led, buzz := pins()
	a, err := Open(Config{LED: "GPIO17", Buzzer: "GPIO27", ActiveLow: true}, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if led.Read() != gpio.High || buzz.Read() != gpio.High {
		t.Fatal("active low: off is high")
	}
	a.Raise("x")
	if led.Read() != gpio.Low || buzz.Read() != gpio.Low {
		t.Fatal("active low: on is low")
	}
}

// TestRunBeeps waits (with a deadline only to fail a hung test) until the
// buzzer has toggled while the LED stayed on, then checks that stopping
// Run turns everything off.
func TestRunBeeps(t *testing.T) {
	p, led, buzz := pins()
	beep := time.Millisecond
	a, err := Open(Config{LED: "GPIO17", Buzzer: "GPIO27", Beep: &beep}, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	a.Raise("x")
	deadline := time.Now().Add(10 * time.Second)
	sawOff := false
	for !sawOff {
		if time.Now().After(deadline) {
			t.Fatal("the buzzer never went off while the alarm was raised (no beeping)")
		}
		if led.Read() != gpio.High {
			t.Fatal("the LED must stay on while raised")
		}
		sawOff = buzz.Read() == gpio.Low
		time.Sleep(time.Millisecond)
	}
	a.Acknowledge()
	a.Raise("again")
	cancel()
	<-done
	if led.Read() != gpio.Low || buzz.Read() != gpio.Low {
		t.Fatal("a stopped alarm must leave both outputs off")
	}
	a.Raise("after stop")
	if led.Read() != gpio.Low {
		t.Fatal("Raise after Run ended must not drive the pins")
	}
}

func TestNoPins(t *testing.T) {
	a, err := Open(Config{}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Raise("x")
	if st := a.State(); !st.Active || st.HasLED || st.HasBuzzer {
		t.Fatalf("screen-only alarm: %+v", st)
	}
	if _, err := Open(Config{LED: "GPIO17"}, nil, Options{}); err == nil {
		t.Fatal("pins named without an opener must be refused")
	}
}

func TestUnknownPin(t *testing.T) {
	p, _, _ := pins()
	_, err := Open(Config{LED: "GPIO99"}, p, Options{})
	var pe *PinError
	if !errors.As(err, &pe) || pe.Name != "GPIO99" || !strings.Contains(err.Error(), "alarm.led") || !strings.Contains(err.Error(), "GPIO17") {
		t.Fatalf("error %v should name the field, the pin and the pins there are", err)
	}
	neg := -time.Second
	if _, err := Open(Config{Beep: &neg}, p, Options{}); err == nil {
		t.Fatal("negative beep accepted")
	}
}

func TestHostPinsInitError(t *testing.T) {
	h := &HostPins{Init: func() error { return errors.New("no /dev/gpiomem") }}
	_, err := h.OpenPin("GPIO17")
	if err == nil || !strings.Contains(err.Error(), "GPIO17") || !strings.Contains(err.Error(), "gpiomem") {
		t.Fatalf("init error: %v", err)
	}
}

func TestHostPinsUnknownName(t *testing.T) {
	h := &HostPins{Init: func() error { return nil }} // no drivers: the registry is empty here
	_, err := h.OpenPin("GPIO-NOPE")
	var pe *PinError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "GPIO-NOPE") {
		t.Fatalf("unknown pin: %v", err)
	}
}

type failingPin struct{ gpiotest.Pin }

func (f *failingPin) Out(gpio.Level) error { return errors.New("EIO") }

func TestPinWriteErrorIsShown(t *testing.T) {
	fp := &failingPin{Pin: gpiotest.Pin{N: "GPIO17"}}
	_, err := Open(Config{LED: "GPIO17"}, Pins{"GPIO17": fp}, Options{})
	if err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("a pin that cannot be set off at start: %v", err)
	}
}
