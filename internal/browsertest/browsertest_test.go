package browsertest_test

import (
	"net/http"
	"net/http/httptest"
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
