// Package printer is what the ASCII instruments (firmware/atp,
// firmware/thermometer) share: the printer port that sends their reports
// (protocols/device/asciirpt) on the UART and reads the host's command lines.
package printer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/shianfood/shian/protocols/device/asciirpt"
)

// ErrNoUART is returned by Print before Serve has a UART.
var ErrNoUART = errors.New("printer: no UART (not serving)")

// Port writes reports to the UART one at a time.
type Port struct {
	mu   sync.Mutex
	uart io.Writer
}

// Print writes one report.
func (p *Port) Print(r asciirpt.Report) error {
	b, err := r.Append(nil)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uart == nil {
		return ErrNoUART
	}
	_, err = p.uart.Write(b)
	return err
}

// Serving reports whether Serve has a UART, so a report printed now goes
// out on the line.
func (p *Port) Serving() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uart != nil
}

func (p *Port) set(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uart = w
}

// Serve reads command lines from uart until ctx ends or the UART fails,
// calling handle for each (lines that are not commands are ignored, as a
// printer port ignores what it does not understand). Reports printed
// meanwhile go to uart. The UART is read on a goroutine that ends when
// its Read fails, so close the UART after Serve returns.
func (p *Port) Serve(ctx context.Context, uart io.ReadWriter, handle func(cmd string) error) error {
	p.set(uart)
	defer p.set(nil)
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(uart)
		sc.Split(splitLines)
		for sc.Scan() {
			cmd, err := asciirpt.ParseCommand(sc.Bytes())
			if err != nil {
				continue
			}
			select {
			case lines <- cmd:
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		readErr <- err
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("printer: UART: %w", err)
		case cmd := <-lines:
			if err := handle(cmd); err != nil {
				return fmt.Errorf("printer: UART: %w", err)
			}
		}
	}
}

// maxCommand bounds a command line; longer input is dropped as noise.
const maxCommand = 64

// splitLines is bufio.ScanLines that drops over-long lines instead of
// failing.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	for i, c := range data {
		if c == '\n' {
			return i + 1, data[:i], nil
		}
	}
	if len(data) >= maxCommand {
		return len(data), nil, nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
