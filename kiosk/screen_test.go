package kiosk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// triggerInst is an instrument the kiosk can trigger: each trigger emits a
// gold-strip reading.
type triggerInst struct {
	id string
	ch chan string
}

func (d *triggerInst) ID() string { return d.id }
func (d *triggerInst) Run(ctx context.Context, sink func(device.Reading)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case item := <-d.ch:
			sink(device.Reading{DeviceID: d.id, Model: "SHIAN-SR1", Method: assay.GoldRatio, Item: item, Analyte: item,
				Raw: assay.Raw{C: assay.Ptr(50 * measure.IntensityUnit), T: assay.Ptr(10 * measure.IntensityUnit)}})
		}
	}
}
func (d *triggerInst) Status() device.Status {
	return device.Status{ID: d.id, Model: "SHIAN-SR1", State: device.StateReady}
}
func (d *triggerInst) Trigger(item string) error {
	d.ch <- item
	return nil
}

var triggers = map[string]*triggerInst{}
var triggersMu sync.Mutex

func init() {
	device.Register("test-trigger", func(s device.Spec, _ device.Env) (device.Instrument, error) {
		d := &triggerInst{id: s.ID, ch: make(chan string, 1)}
		triggersMu.Lock()
		triggers[s.ID] = d
		triggersMu.Unlock()
		return d, nil
	})
}

const screenCfg = `kiosk_id: K-NT-09
command:
  url: ws://127.0.0.1:1/ws/kiosk
  token: kt_x
ui:
  listen: 127.0.0.1:0
stalls:
  - id: S-001
    name: 1号 王记凉菜
  - id: S-002
alarm:
  led: GPIO17
  buzzer: GPIO27
  beep: 0s
devices:
  - id: strip-1
    protocol: test-trigger
    port: /dev/null
  - id: enzyme-1
    protocol: test-null
    port: /dev/zero
`

func TestScreenConfig(t *testing.T) {
	cfg, err := ParseConfig("kiosk.yaml", []byte(screenCfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Stalls) != 2 || cfg.Stalls[0].Name != "1号 王记凉菜" || cfg.Alarm.LED != "GPIO17" || cfg.Alarm.Beep == nil || *cfg.Alarm.Beep != 0 {
		t.Fatalf("%+v %+v", cfg.Stalls, cfg.Alarm)
	}
	cases := []struct{ edit, with, says string }{
		{"  - id: S-002\n", "  - id: S-001\n", "twice"},
		{"  - id: S-002\n", "  - name: 无编号\n", "id is required"},
		{"  - id: S-002\n", "  - id: 二号摊位\n", "letters, digits"},
		{"buzzer: GPIO27", "buzzer: GPIO17", "own pin"},
		{"beep: 0s", "beep: -1s", "negative"},
		{"beep: 0s", "beep: loud", "loud"},
	}
	for _, c := range cases {
		_, err := ParseConfig("kiosk.yaml", []byte(strings.Replace(screenCfg, c.edit, c.with, 1)))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Line <= 0 || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q → %q: %v (want a line and %q)", c.edit, c.with, err, c.says)
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestScreenWiring opens a kiosk with the screen and gpiotest pins: the
// screen is served, a triggered gold positive lights the LED, and an
// unknown pin is refused at Open with its name.
func TestScreenWiring(t *testing.T) {
	cfg, err := ParseConfig("kiosk.yaml", []byte(screenCfg))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data = t.TempDir()
	led, buzz := &gpiotest.Pin{N: "GPIO17"}, &gpiotest.Pin{N: "GPIO27"}
	pins := alarm.Pins{"GPIO17": led, "GPIO27": buzz}

	bad := *cfg
	bad.Alarm.LED = "GPIO99"
	if _, err := Open(&bad, Options{GPIO: pins, Log: quietLog()}); err == nil || !strings.Contains(err.Error(), "GPIO99") {
		t.Fatalf("unknown pin: %v", err)
	}

	k, err := Open(cfg, Options{GPIO: pins, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		k.Close()
		if led.Read() != gpio.Low || buzz.Read() != gpio.Low {
			t.Error("a stopped kiosk leaves its alarm outputs on")
		}
	}()
	if err := k.Trigger("enzyme-1", ""); !errors.Is(err, ErrNoTrigger) {
		t.Fatalf("enzyme tester trigger: %v", err)
	}
	base := "http://" + k.UIAddr()
	body := `{"session":{"stall_id":"S-001","sample":{"name":"猪肉"}},"device_id":"strip-1","item":"克伦特罗"}`
	resp, err := http.Post(base+"/api/start", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second) // only to fail a hung test
	for {
		var st ui.State
		resp, err := http.Get(base + "/api/state")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Latest != nil {
			r := st.Latest.Result
			if r.Verdict != assay.Positive || r.StallID != "S-001" || r.Sample.Name != "猪肉" || r.Item != "克伦特罗" || !st.Latest.Saved {
				t.Fatalf("latest %+v", r)
			}
			if !st.Alarm.Active || led.Read() != gpio.High || buzz.Read() != gpio.High {
				t.Fatalf("a positive lights the LED and sounds the buzzer: %+v", st.Alarm)
			}
			if k.Alarm().Reason != r.ResultID {
				t.Fatalf("alarm reason %q", k.Alarm().Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no result on the screen")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScreenOff(t *testing.T) {
	cfg, err := ParseConfig("kiosk.yaml", []byte(strings.Replace(screenCfg, "listen: 127.0.0.1:0", "listen: off", 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data = t.TempDir()
	cfg.Alarm = alarm.Config{}
	k, err := Open(cfg, Options{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.UIAddr() != "" {
		t.Fatal("ui.listen: off serves no screen")
	}
}
