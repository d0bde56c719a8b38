// Package printertest is the host end of an ASCII instrument's printer
// port (firmware/atp, firmware/thermometer) for their tests: it serves the
// instrument on a pipe, reads the reports it prints, and loads the shared
// report vectors of protocols/asciirpt.
package printertest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/device/asciirpt/asciirpttest"
)

// Vectors returns the report texts of the asciirpt codec's shared vectors
// (asciirpttest.Vectors) by name.
func Vectors(t testing.TB) map[string]string {
	b := asciirpttest.Vectors()
	var v struct{ Reports []struct{ Name, Text string } }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range v.Reports {
		m[r.Name] = r.Text
	}
	return m
}

// Instrument is what an ASCII instrument's firmware offers its UART.
type Instrument interface {
	Serve(context.Context, io.ReadWriter) error
	Serving() bool
}

// Host is the other end of the instrument's UART.
type Host struct {
	// W is what the host sends (command lines).
	W *io.PipeWriter
	r *bufio.Reader
}

// Serve runs dev on a pipe until the returned stop is called, and returns
// the host's end. It returns once dev is serving: a report printed before
// Serve has the UART goes nowhere.
func Serve(t testing.TB, dev Instrument) (*Host, func()) {
	hostR, devW := io.Pipe()
	devR, hostW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dev.Serve(ctx, struct {
			io.Reader
			io.Writer
		}{devR, devW})
	}()
	// A report printed before Serve has the UART goes nowhere (the
	// instrument's port is not connected yet): wait for it.
	for deadline := time.Now().Add(10 * time.Second); !dev.Serving(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the instrument never started serving")
		}
	}
	return &Host{W: hostW, r: bufio.NewReader(hostR)}, func() {
		cancel()
		hostW.Close()
		hostR.Close()
		<-done
	}
}

// Report reads one report block (through its END line).
func (h *Host) Report(t testing.TB) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		for {
			l, err := h.r.ReadString('\n')
			b.WriteString(l)
			if err != nil || l == asciirpt.End+"\r\n" {
				got <- b.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no report")
	}
	return ""
}
