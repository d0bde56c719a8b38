package cardreader_test

import (
	"context"
	"errors"
	"io"
	"log"
	"path/filepath"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/shianfood/shian/firmware/cardreader"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/simulator/serialsim"
)

// TestThirdPartyMaster: github.com/simonvetter/modbus, a Modbus master we
// did not write, opens the pseudo-terminal's slave side by its path
// (rtu:///…/ttyGC0, through goburrow/serial's termios calls, which a pty
// accepts) and reads the documented registers of README.md. It must get
// exactly what the firmware reports.
func TestThirdPartyMaster(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyGC0")
	port, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	optics := &cardreader.SimOptics{}
	at := time.Date(2026, 11, 28, 10, 15, 3, 0, time.FixedZone("CST", 8*3600))
	r, err := cardreader.New(cardreader.Config{Addr: 7, Serial: "GC1-0042", Now: func() time.Time { return at }}, optics)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- port.Serve(context.Background(), r) }()
	defer func() {
		port.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	mc, err := modbus.NewClient(&modbus.ClientConfiguration{
		URL: "rtu://" + link, Speed: 9600, DataBits: 8, Parity: modbus.PARITY_NONE, StopBits: 1,
		Timeout: 2 * time.Second, Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Open(); err != nil {
		t.Fatalf("simonvetter/modbus cannot open the pty at %s: %v", link, err)
	}
	defer mc.Close()
	if err := mc.SetUnitId(7); err != nil {
		t.Fatal(err)
	}

	// Identity block: 04, 0x0000, 16 registers.
	regs, err := mc.ReadRegisters(goldcard.IdentityAddr, goldcard.IdentityLen, modbus.INPUT_REGISTER)
	if err != nil {
		t.Fatal(err)
	}
	id, err := goldcard.DecodeIdentity(regs)
	if err != nil || id.Serial != "GC1-0042" || id.Model != "SHIAN-GC1" || id.FirmwareString() != "1.0" || id.QueueCapacity != 16 {
		t.Fatalf("identity %+v %v (registers %04X)", id, err, regs)
	}
	// Its own typed readers agree with the map: DEVICE_ID is "GC".
	if b, err := mc.ReadBytes(0, 2, modbus.INPUT_REGISTER); err != nil || string(b) != "GC" {
		t.Fatalf("%q %v", b, err)
	}

	// Insert a card, select ractopamine in line mode and measure, in one
	// write multiple (16).
	optics.Insert(cardreader.Card{C: 38500, T: 12250})
	if err := mc.WriteRegisters(goldcard.RegItemSelect, []uint16{2, uint16(goldcard.ModeLine), goldcard.CmdMeasure}); err != nil {
		t.Fatal(err)
	}
	regs, err = mc.ReadRegisters(goldcard.ResultAddr, goldcard.ResultLen, modbus.INPUT_REGISTER)
	if err != nil {
		t.Fatal(err)
	}
	res, err := goldcard.DecodeResult(regs)
	if err != nil {
		t.Fatal(err)
	}
	want := goldcard.Result{Status: goldcard.StatusIdle | goldcard.StatusCard | goldcard.StatusResultReady | 1<<8, Seq: 1, Ready: true,
		Item: 2, Mode: goldcard.ModeLine, Verdict: goldcard.VerdictPositive, C: 38500, T: 12250, Time: at.UTC()}
	if res != want {
		t.Fatalf("result\n %+v\nwant\n %+v", res, want)
	}
	// The 32-bit C and T as the master's own uint32 reader sees them
	// (big-endian words, high word first: its default).
	if ct, err := mc.ReadUint32s(goldcard.RegC, 2, modbus.INPUT_REGISTER); err != nil || ct[0] != 38500 || ct[1] != 12250 {
		t.Fatalf("C, T = %v %v", ct, err)
	}
	if tc, err := mc.ReadRegister(goldcard.RegTC, modbus.INPUT_REGISTER); err != nil || tc != 318 {
		t.Fatalf("T/C = %v %v", tc, err)
	}

	// Acknowledge; the flag drops.
	if err := mc.WriteRegister(goldcard.RegAck, 1); err != nil {
		t.Fatal(err)
	}
	if ready, err := mc.ReadRegister(goldcard.RegReady, modbus.INPUT_REGISTER); err != nil || ready != 0 {
		t.Fatalf("ready %d %v", ready, err)
	}
	if h, err := mc.ReadRegisters(goldcard.HoldingAddr, goldcard.HoldingLen, modbus.HOLDING_REGISTER); err != nil || h[0] != 1 || h[1] != 2 || h[2] != 0 {
		t.Fatalf("holding %v %v", h, err)
	}

	// Exceptions reach the master as its typed errors.
	if _, err := mc.ReadRegisters(goldcard.ResultAddr, goldcard.ResultLen+1, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("past the map: %v", err)
	}
	if err := mc.WriteRegister(goldcard.RegItemSelect, 99); !errors.Is(err, modbus.ErrIllegalDataValue) {
		t.Errorf("unknown item: %v", err)
	}
	if _, err := mc.ReadCoils(0, 8); !errors.Is(err, modbus.ErrIllegalFunction) {
		t.Errorf("coils: %v", err)
	}
	optics.Remove()
	if err := mc.WriteRegister(goldcard.RegCommand, goldcard.CmdMeasure); !errors.Is(err, modbus.ErrServerDeviceFailure) {
		t.Errorf("measure without a card: %v", err)
	}
	// Another unit id on the same line: nobody answers.
	mc.SetUnitId(8)
	if _, err := mc.ReadRegisters(0, 1, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrRequestTimedOut) {
		t.Errorf("unit 8: %v", err)
	}
}
