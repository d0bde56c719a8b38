package dyenzyme_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/kiosk/device"
	_ "github.com/shianfood/shian/kiosk/device/dyenzyme" // registers "dy-enzyme"
	"github.com/shianfood/shian/kiosk/serialport"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/simulator/serialsim"
)

// A simulated tester on a pseudo-terminal, read by the kiosk driver exactly
// as it would read /dev/ttyUSB0.
func Example() {
	dir, _ := os.MkdirTemp("", "shian-example")
	defer os.RemoveAll(dir)
	link := filepath.Join(dir, "ttyUSB0")

	// Instrument side: firmware with a steerable photometer, served on a
	// pty whose slave is linked at link. 3 min of chemistry take 60 ms.
	sim := enzyme.NewSim(enzyme.SimConfig{Mix: enzyme.DefaultMix, Seed: 1})
	fw := enzyme.New(enzyme.Config{Serial: "SA-0001", Interval: 60 * time.Millisecond}, sim, nil)
	pty, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- pty.Serve(ctx, fw) }()

	// Kiosk side: the device entry of kiosk.yaml, opened by protocol name.
	spec := device.Spec{ID: "stall-12-enzyme", Protocol: "dy-enzyme", Model: "DY-3000E", Port: link, Baud: 9600}
	inst, err := device.Open(spec, device.Env{Serial: serialport.Opener{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	readings := make(chan device.Reading, 1)
	ran := make(chan error, 1)
	go func() { ran <- inst.Run(ctx, func(r device.Reading) { readings <- r }) }()

	// The operator tests spinach, and the simulator makes it positive.
	sim.NextVerdict(assay.Positive)
	if _, err := fw.Start(1, "S-012", "菠菜"); err != nil {
		fmt.Println(err)
		return
	}
	r := <-readings
	out, _ := assay.DefaultRules().Decide(r.Method, r.Item, r.Raw)
	fmt.Println(r.SampleCode, r.SampleName, r.Serial, r.Item, out.Verdict)

	cancel()
	<-ran
	<-served
	// Output: S-012 菠菜 SA-0001 有机磷和氨基甲酸酯类农药 positive
}
