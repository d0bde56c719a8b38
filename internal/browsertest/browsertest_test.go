package browsertest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/internal/browsertest"
)

// TestHarness checks the harness itself on a tiny page: navigation,
// WaitFor, Eval, console capture and a screenshot artifact.
func TestHarness(t *testing.T) {
	b := browsertest.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>测试</title><p id="p">你好</p>
<script>setTimeout(() => { document.getElementById('p').dataset.done = '1'; console.log('done'); }, 100);</script>`))
	}))
	defer srv.Close()

	p := b.NewPage(t)
	p.Do(chromedp.Navigate(srv.URL))
	p.WaitFor("the timer to run", `document.getElementById('p').dataset.done === '1'`, 5*time.Second)
	if got := browsertest.Eval[string](p, `document.getElementById('p').textContent`); got != "你好" {
		t.Errorf("text = %q, want 你好", got)
	}
	if w := browsertest.Eval[int](p, `window.innerWidth`); w != browsertest.DefaultWidth {
		t.Errorf("viewport width = %d, want %d", w, browsertest.DefaultWidth)
	}
	if _, err := p.TryWaitFor(`false`, 100*time.Millisecond); err == nil {
		t.Error("TryWaitFor(false) succeeded")
	}
	if path := p.Screenshot("hello"); path == "" {
		t.Error("no screenshot written")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		found := false
		for _, m := range p.Console() {
			if m.Text == "done" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console message not captured: %v", p.Console())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ex := p.Exceptions(); len(ex) != 0 {
		t.Errorf("exceptions: %v", ex)
	}
}

// TestWatchInjection: the watcher sees each way a hostile name can run or
// be refused — a page without a CSP that inserts it as HTML (the payloads
// run: a dialog, window.__xss), a page with script-src 'self' that does
// the same (the CSP refuses the handlers: violations) — and stays quiet for
// a page that inserts it as text.
func TestWatchInjection(t *testing.T) {
	b := browsertest.Start(t)
	name, _ := json.Marshal(browsertest.Hostile("摊位"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("csp") != "" {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
		}
		switch r.URL.Path {
		case "/insert.js":
			w.Header().Set("Content-Type", "text/javascript")
			sink := "innerHTML"
			if r.URL.Query().Get("as") == "text" {
				sink = "textContent"
			}
			fmt.Fprintf(w, "document.getElementById('box').%s = %s; setTimeout(() => document.body.dataset.done = '1', 300);", sink, name)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><div id="box"></div><script src="/insert.js?%s"></script>`, r.URL.RawQuery)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		query string
		want  []string // substrings of the problems; none when empty
	}{
		{"as=html", []string{"a dialog opened", "window.__xss was set"}},
		{"as=html&csp=1", []string{"CSP violation"}},
		{"as=text&csp=1", nil},
		{"as=text", nil},
	} {
		p := b.NewPage(t)
		w := p.WatchInjection()
		p.Do(chromedp.Navigate(srv.URL + "/?" + c.query))
		p.WaitFor("the name inserted", `document.body.dataset.done === '1'`, 10*time.Second)
		got := strings.Join(w.Problems(), "\n")
		for _, want := range c.want {
			if !strings.Contains(got, want) {
				t.Errorf("%s: problems lack %q:\n%s", c.query, want, got)
			}
		}
		if len(c.want) == 0 && got != "" {
			t.Errorf("%s: problems on a page that shows the name as text:\n%s", c.query, got)
		}
		if len(c.want) == 0 {
			if text := browsertest.Eval[string](p, `document.getElementById('box').textContent`); text != browsertest.Hostile("摊位") {
				t.Errorf("%s: box shows %q", c.query, text)
			}
		}
	}
}
