package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The minimal Go HTTP server is the baseline for a process's start-up
// time, its memory and its binary size: what the Go runtime and net/http
// cost before any of Shian's code runs.
const helloSource = `// A minimal Go HTTP server: the bench's baseline process.
package main

import (
	"flag"
	"net/http"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address")
	flag.Parse()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	http.ListenAndServe(*addr, nil)
}
`

// helloBinary builds the baseline server for GOOS/GOARCH env (nil: this
// machine) and returns its path.
func (b *Bench) helloBinary(ctx context.Context, name string, env []string, flags ...string) (string, error) {
	dir := filepath.Join(b.cacheDir(), "hello-src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Written only when they differ, so that go build finds the binary
	// up to date and does not link it again.
	for name, text := range map[string]string{"main.go": helloSource, "go.mod": "module hello\n\ngo 1.22\n"} {
		p := filepath.Join(dir, name)
		if old, err := os.ReadFile(p); err == nil && string(old) == text {
			continue
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(b.cacheDir(), name)
	cmd := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	if err := goBuildIn(ctx, dir, out, ".", append(cmd, env...), flags...); err != nil {
		return "", err
	}
	return out, nil
}

// cacheDir keeps the binaries the bench builds between runs (the user's
// cache directory, else the scratch directory): go build skips a link
// whose output is up to date.
func (b *Bench) cacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "shian-bench")
	}
	return filepath.Join(b.o.Work, "bin")
}

// helloFigures are the baseline process's start-up time and memory.
type helloFigures struct {
	Start time.Duration
	RSS   int64
}

// measureHello starts the baseline server, times it to /healthz, reads
// its RSS after Settle, and stops it (once per run).
func (b *Bench) measureHello(ctx context.Context) (helloFigures, error) {
	if b.hello != nil {
		return *b.hello, nil
	}
	bin, err := b.helloBinary(ctx, "hello", nil)
	if err != nil {
		return helloFigures{}, err
	}
	addr, err := b.ports.addr()
	if err != nil {
		return helloFigures{}, err
	}
	t0 := time.Now()
	p, err := start("hello", bin, []string{"--listen", addr}, filepath.Join(b.o.Work, "hello.log"), nil, nil)
	if err != nil {
		return helloFigures{}, err
	}
	defer p.stop(5 * time.Second)
	d, err := waitHealthy(ctx, p, addr, t0, 30*time.Second)
	if err != nil {
		return helloFigures{}, err
	}
	time.Sleep(b.sz.Settle)
	r := rss(p.pid())
	if r == 0 {
		return helloFigures{}, fmt.Errorf("no RSS for the baseline process")
	}
	b.hello = &helloFigures{Start: d, RSS: r}
	return *b.hello, nil
}
