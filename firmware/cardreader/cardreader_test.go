package cardreader_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/firmware/cardreader"
	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/device/modbus/modbustest"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type exchange struct {
	Name     string
	Insert   *struct{ C, T measure.Intensity }
	Request  string
	Response string
}

func loadExchanges(t *testing.T) (int64, []exchange) {
	b := modbustest.Vectors()
	var v struct {
		CardReader struct {
			Time      int64
			Exchanges []exchange
		} `json:"cardreader"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.CardReader.Time, v.CardReader.Exchanges
}

// pipeUART is the reader's side of two pipes.
type pipeUART struct {
	io.Reader
	io.Writer
}

// TestSharedVectors runs the card reader scenario of
// modbustest.Vectors through Serve, byte for byte:
// the protocols decoder tests read the same frames.
func TestSharedVectors(t *testing.T) {
	secs, ex := loadExchanges(t)
	optics := &cardreader.SimOptics{}
	r, err := cardreader.New(cardreader.Config{Addr: 1, Serial: "GC1-0001", Model: "SHIAN-GC1",
		Now: func() time.Time { return time.Unix(secs, 0) }}, optics)
	if err != nil {
		t.Fatal(err)
	}
	hostR, fwW := io.Pipe()
	fwR, hostW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, pipeUART{fwR, fwW}) }()
	defer func() {
		cancel()
		hostW.Close()
		hostR.Close()
		<-done
	}()
	answers := make(chan []byte, 1)
	for _, x := range ex {
		if x.Insert != nil {
			optics.Insert(cardreader.Card{C: x.Insert.C, T: x.Insert.T})
		}
		if _, err := hostW.Write(testutil.Unhex(t, x.Request)); err != nil {
			t.Fatal(err)
		}
		if x.Response == "" {
			continue // the next answer read must be the next exchange's
		}
		want := testutil.Unhex(t, x.Response)
		go func() {
			b := make([]byte, len(want))
			if _, err := io.ReadFull(hostR, b); err != nil {
				b = nil
			}
			answers <- b
		}()
		select {
		case got := <-answers:
			if string(got) != string(want) {
				t.Fatalf("%s: answer\n % X\nwant\n % X", x.Name, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer", x.Name)
		}
	}
	st := r.Stats()
	if st.BadFrames != 1 || st.Results != 1 || st.Exceptions != 7 {
		t.Errorf("stats %+v", st)
	}
}

func TestQueueAndAutoRead(t *testing.T) {
	optics := &cardreader.SimOptics{}
	r, err := cardreader.New(cardreader.Config{QueueCap: 2, AutoRead: true, Settle: 1}, optics)
	if err != nil {
		t.Fatal(err)
	}
	read := func() goldcard.Result {
		resp, ok := r.Handle(modbus.ReadInput(1, goldcard.ResultAddr, goldcard.ResultLen))
		if !ok || resp.Exception != 0 {
			t.Fatalf("%+v", resp)
		}
		res, err := goldcard.DecodeResult(resp.Values)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	optics.Insert(cardreader.Card{C: 40000, T: 45000})
	r.Poll() // seen once: settling
	if r.Waiting() != 0 {
		t.Fatal("read before the card settled")
	}
	r.Poll()
	r.Poll() // read once only
	if res := read(); !res.Ready || res.Seq != 1 || res.Verdict != goldcard.VerdictNegative || r.Waiting() != 1 {
		t.Fatalf("%+v", res)
	}
	optics.Remove()
	r.Poll()
	optics.Insert(cardreader.Card{C: 40000, T: 5000})
	r.Poll()
	r.Poll()
	if r.Waiting() != 2 {
		t.Fatalf("waiting %d", r.Waiting())
	}
	// Queue full: the button and COMMAND refuse; the head stays.
	if _, err := r.Measure(); !errors.Is(err, cardreader.ErrQueueFull) {
		t.Fatal(err)
	}
	if resp, _ := r.Handle(modbus.WriteSingle(1, goldcard.RegCommand, goldcard.CmdMeasure)); resp.Exception != modbus.ServerDeviceBusy {
		t.Fatalf("%+v", resp)
	}
	if res := read(); res.Seq != 1 || res.Waiting() != 2 {
		t.Fatalf("%+v", res)
	}
	r.Handle(modbus.WriteSingle(1, goldcard.RegAck, 1))
	if res := read(); res.Seq != 2 || res.Verdict != goldcard.VerdictPositive || res.Waiting() != 1 {
		t.Fatalf("%+v", res)
	}
	// Optics fail: fault bit; clear it with COMMAND 2.
	optics.Fail(true)
	if resp, _ := r.Handle(modbus.WriteSingle(1, goldcard.RegAck, 2)); resp.Exception != 0 {
		t.Fatalf("%+v", resp)
	}
	if res := read(); res.Status&goldcard.StatusFault == 0 || res.Ready {
		t.Fatalf("%+v", res)
	}
	optics.Fail(false)
	r.Handle(modbus.WriteSingle(1, goldcard.RegCommand, goldcard.CmdClearFault))
	if res := read(); res.Status&goldcard.StatusFault != 0 {
		t.Fatalf("%+v", res)
	}
	// A request for another slave is not answered.
	if _, ok := r.Handle(modbus.ReadInput(9, 0, 1)); ok {
		t.Error("answered slave 9")
	}
}

func TestSequenceWraps(t *testing.T) {
	optics := &cardreader.SimOptics{}
	optics.Insert(cardreader.Card{C: 40000, T: 45000})
	r, _ := cardreader.New(cardreader.Config{}, optics)
	var last uint16
	for i := 0; i < 65537; i++ {
		res, err := r.Measure()
		if err != nil {
			t.Fatal(err)
		}
		if res.Seq == 0 || res.Seq == last {
			t.Fatalf("sequence %d after %d", res.Seq, last)
		}
		last = res.Seq
		if resp, _ := r.Handle(modbus.WriteSingle(1, goldcard.RegAck, res.Seq)); resp.Exception != 0 {
			t.Fatalf("ack %d: %+v", res.Seq, resp)
		}
	}
	if last != 2 {
		t.Errorf("last sequence %d, want 2 (65535, then 1, 2)", last)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := cardreader.New(cardreader.Config{Addr: 248}, &cardreader.SimOptics{}); err == nil {
		t.Error("address 248")
	}
	if _, err := cardreader.New(cardreader.Config{Item: 99}, &cardreader.SimOptics{}); err == nil {
		t.Error("item 99")
	}
	if _, err := cardreader.New(cardreader.Config{Serial: "TOO-LONG-SERIAL"}, &cardreader.SimOptics{}); err == nil {
		t.Error("long serial")
	}
}
