package stripreader

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/strip/striptest"
	"github.com/shianfood/shian/protocols/device/tcs34725"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestGoldenTrace replays the I²C session the kiosk's direct driver was
// recorded with: the firmware issues exactly the same transactions, and
// reports the same two strips on its UART.
func TestGoldenTrace(t *testing.T) {
	tr, err := i2cbustest.Parse(striptest.Session())
	if err != nil {
		t.Fatal(err)
	}
	pb := tr.Playback()
	var uart bytes.Buffer
	r := &Reader{Sensor: NewFixture(pb, nil), UART: &uart, Item: "clenbuterol", Settle: 1}
	if err := r.Sensor.(*Fixture).Init(); err != nil {
		t.Fatal(err)
	}
	for range 7 { // the seven polls of the recorded session
		if err := r.Poll(); err != nil {
			t.Fatal(err)
		}
	}
	if err := pb.Close(); err != nil {
		t.Fatalf("Playback.Close: %v", err)
	}
	want := "$STRIP,clenbuterol,42.000,45.000,1.071*11\r\n$STRIP,clenbuterol,40.000,9.000,0.225*29\r\n"
	if uart.String() != want {
		t.Errorf("UART:\n%q\nwant\n%q", uart.String(), want)
	}
	for _, l := range strings.Split(strings.TrimSpace(uart.String()), "\r\n") {
		if _, err := strip.Parse([]byte(l)); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
}

// vectors is the shape of striptest.Vectors.
type vectors struct {
	Lines []struct {
		Name, Line, Kind, Item, Error string
		C, T                          int64
	}
	Intensities []struct {
		Name      string
		BgG       uint16 `json:"bg_g"`
		LineG     uint16 `json:"line_g"`
		Intensity int64
		Error     string
	}
}

// countsSensor returns fixed counts per position.
type countsSensor [3]tcs34725.Counts

func (c countsSensor) Counts(p strip.Position) (tcs34725.Counts, error) { return c[p], nil }

// TestSharedVectors: the firmware produces the vector lines and
// intensities the protocols/ decoder tests check.
func TestSharedVectors(t *testing.T) {
	raw := striptest.Vectors()
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, l := range v.Lines {
		if l.Kind != "STRIP" || l.Error != "" {
			continue
		}
		got := strip.StripMessage(l.Item, measure.Intensity(l.C), measure.Intensity(l.T)).Append(nil)
		if string(got) != l.Line+"\r\n" {
			t.Errorf("%s: firmware sends %q, vector %q", l.Name, got, l.Line)
		}
	}
	for _, iv := range v.Intensities {
		var uart bytes.Buffer
		r := &Reader{Sensor: countsSensor{{G: iv.BgG}, {G: iv.LineG}, {G: iv.LineG}}, UART: &uart, Item: "x"}
		m := r.Measure("")
		if iv.Error != "" {
			if m.Kind != strip.KindErr || m.Code != strip.CodeNoStrip {
				t.Errorf("%s: %+v", iv.Name, m)
			}
			continue
		}
		if m.Kind != strip.KindStrip || m.C != measure.Intensity(iv.Intensity) || m.T != m.C {
			t.Errorf("%s: %+v, want intensity %d", iv.Name, m, iv.Intensity)
		}
	}
}

type failSensor struct{ err error }

func (f failSensor) Counts(strip.Position) (tcs34725.Counts, error) { return tcs34725.Counts{}, f.err }

func TestMeasureErrors(t *testing.T) {
	r := &Reader{Sensor: failSensor{errors.New("bus, NACK * $")}}
	if m := r.Measure("a"); m.Kind != strip.KindErr || m.Code != strip.CodeSensor || m.Validate() != nil {
		t.Errorf("%+v %v", m, m.Validate())
	}
	r.Sensor = failSensor{tcs34725.ErrSaturated}
	if m := r.Measure("a"); m.Code != strip.CodeSaturated {
		t.Errorf("%+v", m)
	}
	fx := &striptest.Fixture{}
	fx.Sensor(1).ID = 0x12
	if err := NewFixture(fx, nil).Init(); !errors.Is(err, tcs34725.ErrWrongID) {
		t.Errorf("wrong ID: %v", err)
	}
}

// TestServe talks to the firmware over a pipe, as the kiosk does over
// the serial line.
func TestServe(t *testing.T) {
	fx := &striptest.Fixture{}
	f := NewFixture(fx, nil)
	if err := f.Init(); err != nil {
		t.Fatal(err)
	}
	dev, host := net.Pipe()
	r := &Reader{Sensor: f, Item: "clenbuterol", Model: "SHIAN-SR1", Firmware: "1.0.0", Serial: "SR1-0001"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, dev) }()
	in := bufio.NewScanner(host)
	in.Split(strip.SplitLines)
	ask := func(cmd []byte) string {
		t.Helper()
		if _, err := host.Write(cmd); err != nil {
			t.Fatal(err)
		}
		if !in.Scan() {
			t.Fatal(in.Err())
		}
		return in.Text()
	}
	// Garbage and a command with a bad checksum are ignored.
	if _, err := host.Write([]byte("\x00\xffnoise$READ*00\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := ask([]byte("$INFO*0E\r\n")); got != "$INFO,SHIAN-SR1,1.0.0,SR1-0001*4F" {
		t.Errorf("info: %q", got)
	}
	if got := ask(strip.Message{Kind: strip.KindRead}.Append(nil)); !strings.HasPrefix(got, "$ERR,NOSTRIP,") {
		t.Errorf("empty slot: %q", got)
	}
	fx.Show(&striptest.Strip{C: 40 * measure.IntensityUnit, T: 9 * measure.IntensityUnit})
	got := ask(strip.Message{Kind: strip.KindRead, Item: "莱克多巴胺"}.Append(nil))
	if got != "$STRIP,莱克多巴胺,40.000,9.000,0.225*8A" {
		t.Errorf("read: %q", got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve: %v", err)
	}
	dev.Close()
	host.Close()
}

func TestServeEndsOnUARTError(t *testing.T) {
	r := &Reader{Sensor: countsSensor{}}
	uart := struct {
		io.Reader
		io.Writer
	}{strings.NewReader("$INF"), io.Discard}
	if err := r.Serve(context.Background(), uart); !errors.Is(err, io.EOF) {
		t.Errorf("Serve: %v", err)
	}
}
