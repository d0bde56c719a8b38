package i2cbus_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSensor reads one byte from 0x10 and reports it as a reading; a zero
// byte is an "invalid" answer.
type fakeSensor struct{ inits int }

func (f *fakeSensor) Init(ctx context.Context, l i2cbus.Link) error { f.inits++; return nil }

func (f *fakeSensor) Read(ctx context.Context, l i2cbus.Link) ([]device.Reading, error) {
	var b [1]byte
	if err := l.Tx("read", 0x10, []byte{1}, b[:]); err != nil {
		return nil, err
	}
	if b[0] == 0 {
		return nil, i2cbus.Invalid(errors.New("zero"))
	}
	return []device.Reading{{Item: fmt.Sprint(b[0])}}, nil
}

func TestPollerDownAndRecover(t *testing.T) {
	pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x10, W: []byte{1}, R: []byte{7}},
		{Addr: 0x10, W: []byte{1}, R: []byte{0}}, // invalid
		{Addr: 0x10, W: []byte{1}, R: []byte{0}}, // invalid → DOWN (max 2)
		{Addr: 0x10, W: []byte{1}, R: []byte{9}}, // recovers
	}}
	opener := &i2cbustest.Opener{Bus: pb}
	s := &fakeSensor{}
	spec := device.Spec{ID: "x", Model: "M", Options: map[string]string{"max_failures": "2", "backoff": "45s", "interval": "2s"}}
	cfg, err := i2cbus.ParseConfig(spec, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, err := i2cbus.NewPoller(spec, device.Env{I2C: opener, Now: func() time.Time { return time.Unix(100, 0) }}, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	var states []device.State
	ctx, cancel := context.WithCancel(context.Background())
	p.Wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		states = append(states, p.Status().State)
		if i2cbustest.Drained(pb) {
			cancel()
		}
		return ctx.Err()
	}
	var got []string
	if err := p.Run(ctx, func(r device.Reading) { got = append(got, r.Item+"/"+r.DeviceID+"/"+r.Model) }); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "7/x/M,9/x/M" {
		t.Errorf("readings %v", got)
	}
	wantWaits := []time.Duration{2 * time.Second, 2 * time.Second, 45 * time.Second, 2 * time.Second}
	wantStates := []device.State{device.StateReady, device.StateReady, device.StateDown, device.StateReady}
	if fmt.Sprint(waits) != fmt.Sprint(wantWaits) || fmt.Sprint(states) != fmt.Sprint(wantStates) {
		t.Errorf("waits %v states %v", waits, states)
	}
	st := p.Status()
	if st.Frames != 2 || st.BadFrames != 2 || st.Reopens != 1 || opener.Opens() != 2 || !st.LastSeen.Equal(time.Unix(100, 0)) {
		t.Errorf("status %+v opens %d", st, opener.Opens())
	}
	if !strings.HasPrefix(st.LastErr, "EINVALID") || s.inits != 3 {
		t.Errorf("last error %q, inits %d", st.LastErr, s.inits)
	}
}

func TestPollerOpenFails(t *testing.T) {
	opener := &i2cbustest.Opener{Err: &i2cbus.OpenError{Bus: "1", Hint: i2cbus.HintEnable, Err: errors.New("no bus")}}
	p, err := i2cbus.NewPoller(device.Spec{ID: "x"}, device.Env{I2C: opener}, &fakeSensor{}, i2cbus.Config{Interval: time.Second, MaxFailures: 3, Backoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	got := i2cbustest.Run(t, p, func() bool { n++; return n == 5 }, 10)
	st := p.Status()
	if len(got) != 0 || st.State != device.StateDown || !strings.Contains(st.LastErr, "dtparam=i2c_arm=on") || opener.Opens() != 5 {
		t.Errorf("status %+v opens %d", st, opener.Opens())
	}
}

type closeCount struct {
	i2c.Bus
	closed *int
}

func (c closeCount) Close() error { *c.closed++; return nil }

func TestHostOpen(t *testing.T) {
	closed := 0
	var opened []string
	h := &i2cbus.Host{
		Init: func() error { return nil },
		Open: func(name string) (i2c.BusCloser, error) {
			opened = append(opened, name)
			switch name {
			case "1":
				return closeCount{&i2ctest.Playback{}, &closed}, nil
			case "0":
				return nil, errors.New("sysfs-i2c: bus #0 is not configured")
			case "2":
				return nil, fmt.Errorf("sysfs-i2c: open /dev/i2c-2: %w; are you member of group 'plugdev'?", fs.ErrPermission)
			}
			return nil, errors.New(`i2creg: can't open unknown bus: "` + name + `"`)
		},
	}
	a, err := h.OpenBus("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.OpenBus("1")
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0] != "1" {
		t.Errorf("opened %v: the default bus is \"1\" and handles are shared", opened)
	}
	a.Close()
	a.Close()
	if closed != 0 {
		t.Error("closed while still in use")
	}
	b.Close()
	if closed != 1 {
		t.Errorf("closed %d times", closed)
	}
	for name, hint := range map[string]string{"0": i2cbus.HintEnable, "2": i2cbus.HintPermission, "I2C9": i2cbus.HintName} {
		_, err := h.OpenBus(name)
		var oe *i2cbus.OpenError
		if !errors.As(err, &oe) || oe.Hint != hint || !strings.Contains(err.Error(), hint) {
			t.Errorf("bus %s: %v", name, err)
		}
	}
	bad := &i2cbus.Host{Init: func() error { return errors.New("no drivers") }}
	if _, err := bad.OpenBus("1"); err == nil || !strings.Contains(err.Error(), "dtparam") {
		t.Errorf("init failure: %v", err)
	}
}

// TestHostReal opens bus "1" with periph's real host drivers. On a
// machine without I²C this must fail with the operator hint, not panic.
func TestHostReal(t *testing.T) {
	b, err := i2cbus.NewHost().OpenBus("")
	if err != nil {
		var oe *i2cbus.OpenError
		if !errors.As(err, &oe) {
			t.Fatalf("untyped error %v", err)
		}
		t.Logf("no I²C here, as expected off a Pi: %v", err)
		return
	}
	b.Close()
}

func TestParseConfig(t *testing.T) {
	for _, bad := range []map[string]string{{"interval": "soon"}, {"backoff": "0s"}, {"max_failures": "x"}} {
		if _, err := i2cbus.ParseConfig(device.Spec{ID: "d", Options: bad}, time.Second); err == nil || !strings.Contains(err.Error(), `device "d": options.`) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := i2cbus.Addr(device.Spec{Addr: 0x80}, 0x10); err == nil {
		t.Error("addr 0x80")
	}
}
