package instrument_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/kiosk/device"
	_ "github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// want maps a planned outcome to the verdict each model's rule gives.
func want(model string, v assay.Verdict) assay.Verdict {
	switch model {
	case "atp", "thermometer":
		if v == assay.Negative {
			return assay.Pass
		}
		return assay.Fail
	}
	return v
}

// TestEveryModelEndToEnd: each emulated model on a pseudo-terminal, read
// by its kiosk driver through go.bug.st/serial and the Hub; a negative
// and a positive test each, decided by the default rules.
func TestEveryModelEndToEnd(t *testing.T) {
	models := instrument.Models()
	if len(models) < 5 {
		t.Fatalf("%d models", len(models))
	}
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			in, err := instrument.New(m.Name, instrument.Options{Seed: 7, Measure: 60 * time.Millisecond, Poll: 20 * time.Millisecond, Addrs: []byte{1, 2}})
			if err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(t.TempDir(), "tty"+m.Name)
			port, err := serialsim.Open(serialsim.Options{Link: link})
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- port.Serve(context.Background(), in.Device) }()
			defer func() { port.Close(); <-served }()

			units := in.Units
			if units == nil {
				units = []byte{0}
			}
			hub := &serialport.Hub{}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var mu sync.Mutex
			var got []device.Reading
			var insts []device.Instrument
			for _, a := range units {
				inst, err := device.Open(device.Spec{ID: m.Name, Protocol: m.Protocol, Model: m.KioskModel, Port: link, Addr: uint16(a)},
					device.Env{Serial: hub, Log: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				insts = append(insts, inst)
				wg.Add(1)
				go func() {
					defer wg.Done()
					inst.Run(ctx, func(r device.Reading) { mu.Lock(); got = append(got, r); mu.Unlock() })
				}()
			}
			defer func() { cancel(); wg.Wait() }()
			// A printer-port instrument keeps nothing: test once the
			// kiosk listens.
			waitFor(t, "the drivers to be ready", func() bool {
				for _, inst := range insts {
					if inst.Status().State != device.StateReady {
						return false
					}
				}
				return true
			})
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
			plan := []assay.Verdict{assay.Negative, assay.Positive}
			for i, v := range plan {
				for {
					err := in.Test(ctx, v)
					if err == nil {
						break
					}
					if !errors.Is(err, instrument.ErrBusy) {
						t.Fatal(err)
					}
					time.Sleep(10 * time.Millisecond)
				}
				waitFor(t, "the reading", func() bool { return count() == i+1 })
			}
			mu.Lock()
			defer mu.Unlock()
			for i, r := range got {
				o, err := assay.DefaultRules().ForModel(r.Model).Decide(r.Method, r.Item, r.Raw)
				if err != nil || o.Verdict != want(m.Name, plan[i]) {
					t.Errorf("test %d (%s): %+v → %+v %v", i, plan[i], r, o, err)
				}
			}
			t.Logf("%s: %s via %s, %d readings", m.Name, m.Transport, m.Protocol, len(got))
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestUnknownModel(t *testing.T) {
	if _, err := instrument.New("dy9000", instrument.Options{}); !errors.Is(err, instrument.ErrUnknownModel) {
		t.Fatal(err)
	}
	if _, err := instrument.New("card-reader", instrument.Options{Addrs: []byte{1, 1}}); err == nil {
		t.Error("two readers at one address")
	}
}
