package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/simulator/demo"
)

// syncBuffer collects the demo's printed output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoMap runs `shian-sim demo` in process (the command service, the
// venue and three kiosks reading emulated testers on pseudo-terminals),
// opens the login URL it writes to demo.json in chromium, and checks that
// the map shows every demo site as a marker and that results arrive live.
func TestDemoMap(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole demo: skipped with -short")
	}
	info, slow := startDemo(t)
	b := browsertest.Start(t)

	// The sites the demo imported, from its own API.
	p := b.NewPage(t)
	p.Do(chromedp.Navigate(info.LoginURL))
	p.WaitFor("the map after the one-time login link", `document.body.dataset.state === 'app' && shian.linkState() === 'online' && shian.stallCount() > 0 && shian.mapIdle()`, slow*15*time.Second)
	sites := browsertest.EvalAsync[int](p, `fetch('/api/v1/stalls').then(r => r.json()).then(fc => fc.features.length)`)
	p.WaitFor(fmt.Sprintf("all %d demo sites as markers", sites), fmt.Sprintf(`shian.stallCount() === %d`, sites), slow*5*time.Second)
	kinds := browsertest.Eval[map[string]int](p, `(() => { const c = {}; for (const s of shian.app.map.stalls.values()) c[s.kind] = (c[s.kind] || 0) + 1; return c; })()`)
	t.Logf("%d sites on the map: %v", sites, kinds)

	// Live results: the recent list grows and the seq moves without a reload.
	browsertest.Eval[string](p, `window.noReload = 'same page'`)
	n0 := browsertest.Eval[int](p, `document.querySelectorAll('#results li.result').length`)
	seq0 := browsertest.Eval[int](p, `shian.lastSeq()`)
	took := p.WaitFor("new results arriving live", fmt.Sprintf(`document.querySelectorAll('#results li.result').length >= %d + 3 && shian.lastSeq() > %d`, n0, seq0), slow*30*time.Second)
	t.Logf("3 more results shown %s after the first look (seq %d → %d)", took.Round(time.Millisecond), seq0, browsertest.Eval[int](p, `shian.lastSeq()`))
	p.WaitFor("tested sites coloured", `Object.entries(shian.app.map.counts()).some(([v, n]) => v !== 'none' && n > 0)`, slow*10*time.Second)
	if got := browsertest.Eval[string](p, `window.noReload || ''`); got != "same page" {
		t.Errorf("the page reloaded")
	}
	p.WaitFor("a still map", `shian.mapIdle()`, slow*5*time.Second)
	p.Screenshot("demo-map")
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
	}
}

// startDemo runs `shian-sim demo` in process (the command service, the
// venue and three kiosks reading emulated testers on pseudo-terminals)
// until the test ends, and returns what it wrote to demo.json and the
// factor to stretch waits by (8 under the race detector).
func startDemo(t *testing.T) (demo.Info, time.Duration) {
	t.Helper()
	requireAssets(t)
	// The whole demo (three kiosks on pseudo-terminals, the engine, the
	// browser) on two cores under the race detector is several times
	// slower: stretch the waits, which bound hangs and measure nothing.
	slow := time.Duration(1)
	if raceDetector {
		slow = 8
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{Addr: "127.0.0.1:0", Kiosks: 3, DataDir: dir, Every: 500 * time.Millisecond, Measure: 200 * time.Millisecond, Out: out})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(slow * time.Minute):
			t.Errorf("the demo did not stop within a minute")
		}
	})

	var info demo.Info
	deadline := time.Now().Add(2 * time.Minute) // generous: under -race the demo's setup (bcrypt, imports, filing) is slow
	for {
		raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
		if err == nil && json.Unmarshal(raw, &info) == nil && info.LoginURL != "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the demo stopped before writing demo.json: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo.json after 2 min:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("demo: %s", strings.TrimSpace(out.String()))

	return info, slow
}
