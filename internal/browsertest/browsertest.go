// Package browsertest runs Shian's pages in a real browser: Debian's
// chromium, headless, driven by chromedp.
//
// # Use
//
//	b := browsertest.Start(t)          // skips when chromium is absent (see below)
//	p := b.NewPage(t)                  // a tab with a fixed viewport
//	p.Do(chromedp.Navigate(url))
//	p.WaitFor("the map shows 30 stalls", `shian.stallCount() === 30`, 10*time.Second)
//	p.Screenshot("map")                // saved under $SHIAN_ARTIFACTS/<test>/
//
// WaitFor polls a JavaScript expression until it is truthy or the deadline
// passes; tests assert with it instead of sleeping. On a timeout it saves a
// screenshot, prints the page's console, and fails the test.
//
// # Names that must not run
//
// [Hostile] makes a name out of markup that runs script if a page ever
// inserts it as HTML ([Payloads]); [Page.WatchInjection], set up before
// the page loads, then fails the test on a dialog, on window.__xss being
// set, or on a CSP violation (markup got in, even if the CSP stopped it):
//
//	w := p.WatchInjection()
//	p.Do(chromedp.Navigate(url))
//	… open the lists, popups and tooltips that show the names …
//	w.Check()
//
// # Environment
//
//   - CHROMIUM: the browser to run (default /usr/bin/chromium, then
//     chromium or chromium-browser on PATH).
//   - SHIAN_REQUIRE_BROWSER=1: a missing browser fails the test instead of
//     skipping it (CI sets it, so browser tests cannot silently vanish).
//   - SHIAN_ARTIFACTS: where screenshots go (default artifacts/ at the
//     repository root, which is gitignored).
//
// The browser runs with the flags that work in containers and CI:
// --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update --disable-sync
// and a fresh --user-data-dir per browser.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment variables the package reads.
const (
	EnvChromium  = "CHROMIUM"
	EnvRequire   = "SHIAN_REQUIRE_BROWSER"
	EnvArtifacts = "SHIAN_ARTIFACTS"
)

// DefaultTimeout bounds each Do call (navigation, clicks, queries).
const DefaultTimeout = 30 * time.Second

// Viewport of new pages: a command-centre screen.
const (
	DefaultWidth  = 1440
	DefaultHeight = 900
)

// ExecPath returns the chromium to run, or "" when there is none.
func ExecPath() string {
	if p := os.Getenv(EnvChromium); p != "" {
		if full, err := exec.LookPath(p); err == nil {
			return full
		}
		return ""
	}
	if st, err := os.Stat("/usr/bin/chromium"); err == nil && !st.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if full, err := exec.LookPath(name); err == nil {
			return full
		}
	}
	return ""
}

// Required reports whether a missing browser must fail the tests
// (SHIAN_REQUIRE_BROWSER=1, set by CI).
func Required() bool {
	v := os.Getenv(EnvRequire)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// Require returns the chromium path, or skips the test when there is none
// (fails it when SHIAN_REQUIRE_BROWSER=1).
func Require(t testing.TB) string {
	t.Helper()
	p := ExecPath()
	if p == "" {
		msg := "chromium not found (install Debian's chromium, or set CHROMIUM to a Chromium binary)"
		if Required() {
			t.Fatalf("%s; %s=1 requires the browser tests", msg, EnvRequire)
		}
		t.Skip(msg + "; skipping the browser test")
	}
	return p
}

// Browser is one headless chromium process.
type Browser struct {
	ctx  context.Context // the first tab's context; new tabs derive from it
	Path string
}

// Start launches chromium for the test and stops it when the test ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := Require(t)
	profile := t.TempDir() // removed after the browser stops (cleanups run last-in first-out)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(DefaultWidth, DefaultHeight),
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		allocCancel()
	})
	start := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer scancel()
	// The first Run starts the browser and must use the long-lived context;
	// the timeout is enforced by watching sctx alongside it.
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Do(ctx) }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("browsertest: start %s: %v", path, err)
		}
	case <-sctx.Done():
		cancel()
		t.Fatalf("browsertest: %s did not start within %s", path, DefaultTimeout)
	}
	t.Logf("browsertest: %s started in %s", path, time.Since(start).Round(time.Millisecond))
	return &Browser{ctx: ctx, Path: path}
}

// Page is one browser tab.
type Page struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	closed  bool
	shots   int
}

// NewPage opens a tab with the default viewport. Its console messages are
// logged to the test and kept for Console and Exceptions.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: t, ctx: ctx}
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		cancel()
	})
	messages := chromedp.Console(ctx)
	p.Do(chromedp.EmulateViewport(DefaultWidth, DefaultHeight))
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			if !p.closed {
				p.t.Logf("browser console: %s", m)
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// Context returns the tab's chromedp context, for actions the helpers do
// not cover.
func (p *Page) Context() context.Context { return p.ctx }

// Do runs actions in order, each call bounded by DefaultTimeout; an error
// saves a screenshot and fails the test.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.failShot("do-failed")
		p.t.Fatalf("browsertest: %v%s", err, p.consoleTail())
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into T; an error fails the test.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	v, err := TryEval[T](p, expr)
	if err != nil {
		p.t.Fatalf("browsertest: evaluate %s: %v%s", expr, err, p.consoleTail())
	}
	return v
}

// EvalAsync is Eval for an expression whose value is a promise: it waits
// for the promise and decodes what it resolves to.
func EvalAsync[T any](p *Page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browsertest: evaluate %s: %v%s", expr, err, p.consoleTail())
	}
	return v
}

// TryEval is Eval returning the error.
func TryEval[T any](p *Page, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// WaitFor polls expr (JavaScript) every 25 ms until it is truthy, and
// returns how long that took. When timeout passes first it saves a
// screenshot, logs the console and fails the test with desc.
func (p *Page) WaitFor(desc, expr string, timeout time.Duration) time.Duration {
	p.t.Helper()
	d, err := p.TryWaitFor(expr, timeout)
	if err != nil {
		p.failShot("timeout")
		p.t.Fatalf("browsertest: waiting %s for %s (%s): %v%s", timeout, desc, expr, err, p.consoleTail())
	}
	return d
}

// TryWaitFor is WaitFor returning an error instead of failing.
func (p *Page) TryWaitFor(expr string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	wrapped := fmt.Sprintf("(() => { try { return !!(%s); } catch (e) { return 'error: ' + e; } })()", expr)
	var last any
	for {
		ctx, cancel := context.WithTimeout(p.ctx, time.Until(deadline)+time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](wrapped))
		cancel()
		if err == nil {
			if b, ok := v.(bool); ok && b {
				return time.Since(start), nil
			}
			last = v
		} else {
			last = err
			if errors.Is(err, context.Canceled) && p.ctx.Err() != nil {
				return time.Since(start), err
			}
		}
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("still not true; last value %v", last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Screenshot saves the visible viewport as a PNG artifact and returns its
// path. Names are numbered in the order taken.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	b, err := p.capture()
	if err != nil {
		p.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	return p.save(name, b)
}

// ScreenshotImage captures the viewport and decodes it, for pixel checks.
func (p *Page) ScreenshotImage() image.Image {
	p.t.Helper()
	b, err := p.capture()
	if err != nil {
		p.t.Fatalf("browsertest: screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		p.t.Fatalf("browsertest: decode screenshot: %v", err)
	}
	return img
}

func (p *Page) capture() ([]byte, error) {
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

func (p *Page) save(name string, b []byte) string {
	dir := ArtifactsDir(p.t)
	p.mu.Lock()
	p.shots++
	n := p.shots
	p.mu.Unlock()
	path := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", n, sanitize(name)))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Errorf("browsertest: save screenshot: %v", err)
		return ""
	}
	p.t.Logf("screenshot: %s", path)
	return path
}

// failShot saves a screenshot on the way to a failure, ignoring errors.
func (p *Page) failShot(name string) {
	if b, err := p.capture(); err == nil {
		p.save(name, b)
	}
}

// Console returns the console messages so far.
func (p *Page) Console() []chromedp.ConsoleMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), p.console...)
}

// Exceptions returns the uncaught exceptions and unhandled rejections so
// far, as text.
func (p *Page) Exceptions() []string {
	var out []string
	for _, m := range p.Console() {
		if m.IsException() {
			out = append(out, m.String())
		}
	}
	return out
}

func (p *Page) consoleTail() string {
	msgs := p.Console()
	if len(msgs) == 0 {
		return ""
	}
	if len(msgs) > 20 {
		msgs = msgs[len(msgs)-20:]
	}
	var sb strings.Builder
	sb.WriteString("\nlast console messages:")
	for _, m := range msgs {
		sb.WriteString("\n  " + m.String())
	}
	return sb.String()
}

// ArtifactsDir returns (creating it) the directory for the test's
// artifacts: $SHIAN_ARTIFACTS/<test name>, by default under artifacts/ at
// the repository root.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvArtifacts)
	if base == "" {
		base = filepath.Join(repoRoot(), "artifacts")
	}
	dir := filepath.Join(base, sanitize(t.Name()))
	// The first use in this process clears the screenshots of earlier runs,
	// so the directory shows this run only.
	if _, seen := cleaned.LoadOrStore(dir, true); !seen {
		os.RemoveAll(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: artifacts directory: %v", err)
	}
	return dir
}

// repoRoot is the nearest directory above the working directory holding
// go.mod (the working directory when there is none).
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

var cleaned sync.Map // artifact directories cleared by this process

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(s string) string { return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_") }
