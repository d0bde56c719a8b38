package instrument

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/shianfood/shian/simulator/serialsim"
)

// Bus is an RS-485 line with several slave devices on it, served on one
// port: every byte the master sends reaches every device, and what the
// devices send reaches the master, one write at a time. (On a real
// half-duplex bus the slaves also hear each other's answers; they tell
// them from requests by timing. Here they hear only the master, which is
// what their framers would keep anyway.) Bus is a serialsim.Device.
type Bus struct {
	Devices []serialsim.Device
}

// Serve runs every device until ctx ends or the port fails.
func (b *Bus) Serve(ctx context.Context, uart io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wmu sync.Mutex
	writer := writerFunc(func(p []byte) (int, error) {
		wmu.Lock()
		defer wmu.Unlock()
		return uart.Write(p)
	})
	pipes := make([]*io.PipeWriter, len(b.Devices))
	errs := make(chan error, len(b.Devices)+1)
	var wg sync.WaitGroup
	for i, dev := range b.Devices {
		pr, pw := io.Pipe()
		pipes[i] = pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := dev.Serve(ctx, struct {
				io.Reader
				io.Writer
			}{pr, writer})
			pr.CloseWithError(io.ErrClosedPipe)
			errs <- err
		}()
	}
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := uart.Read(buf)
			for _, pw := range pipes {
				if n > 0 {
					pw.Write(buf[:n]) // a device that stopped has closed its end
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	var first error
	select {
	case first = <-errs:
	case <-ctx.Done():
	}
	cancel()
	for _, pw := range pipes {
		pw.CloseWithError(io.EOF)
	}
	wg.Wait()
	if ctx.Err() != nil && (first == nil || errors.Is(first, context.Canceled)) {
		return nil
	}
	return first
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
