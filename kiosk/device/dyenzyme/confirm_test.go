package dyenzyme_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/serialport"
)

// TestRefusedReportIsRepeated: a reading the kiosk could not store (its
// save returned an error) is not acknowledged; the tester repeats the
// report, and when the save works it is taken, once, with the report's
// identity (serial and record number).
func TestRefusedReportIsRepeated(t *testing.T) {
	in := newInstrument(t, enzyme.NewSim(enzyme.SimConfig{}), nil)
	in.plug()
	inst, err := device.Open(fastSpec(in.link), device.Env{Serial: &serialport.Hub{}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refuse := 3
	var tries, taken []device.Reading
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inst.(device.Confirming).RunConfirmed(ctx, func(r device.Reading) error {
			mu.Lock()
			defer mu.Unlock()
			tries = append(tries, r)
			if refuse > 0 {
				refuse--
				return errors.New("disk full")
			}
			taken = append(taken, r)
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	if _, err := in.fw.Start(1, "S-001", "菠菜"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the report taken after three refusals", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(taken) == 1 && in.fw.Pending() == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(tries) != 4 {
		t.Fatalf("%d tries", len(tries))
	}
	for _, r := range tries {
		if r.Report != "SA2026-0001#1" || *r.Raw.ControlDeltaA != *taken[0].Raw.ControlDeltaA {
			t.Fatalf("repeat differs: %+v", r)
		}
	}
}
