package jsdom

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/internal/browsertest"
)

// TestHandler: dom.js is served as JavaScript the browser will not sniff.
func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	if !strings.Contains(rec.Body.String(), "export function el(") || !strings.Contains(rec.Body.String(), "export function escapeHTML(") {
		t.Errorf("not dom.js:\n%.200s", rec.Body.String())
	}
}

// TestDomInBrowser runs testdata/domtest.js in chromium against dom.js:
// hostile names (markup, handlers, javascript: URLs) built with el, text
// and escapeHTML show as text and never run, a string handler or inline
// style is refused, and nothing breaks the page's CSP (script-src 'self').
func TestDomInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, Handler())
	serve := func(name, ct string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			src, err := os.ReadFile("testdata/" + name)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", ct)
			w.Write(src)
		}
	}
	mux.Handle("GET /js/domtest.js", serve("domtest.js", "text/javascript"))
	mux.Handle("GET /{$}", serve("index.html", "text/html; charset=utf-8"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:")
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	p := b.NewPage(t)
	p.Do(chromedp.Navigate(srv.URL + "/"))
	p.WaitFor("domtest.js finished", `window.domTest && window.domTest.done`, 15*time.Second)
	type result struct {
		Failures []string `json:"failures"`
		Pwned    int      `json:"pwned"`
		CSP      []string `json:"csp"`
	}
	got := browsertest.Eval[result](p, `window.domTest`)
	for _, f := range got.Failures {
		t.Errorf("dom.js: %s", f)
	}
	if got.Pwned != 0 {
		t.Errorf("a hostile string ran %d times", got.Pwned)
	}
	if len(got.CSP) != 0 {
		t.Errorf("CSP violations: %v", got.CSP)
	}
	if ex := p.Exceptions(); len(ex) != 0 {
		t.Errorf("exceptions: %v", ex)
	}
	p.Screenshot("hostile-names-as-text")
}

// TestAudit: each refused pattern is found, with its file and line, and
// what is allowed passes.
func TestAudit(t *testing.T) {
	bad := map[string]string{
		"js/a.js":       "x.innerHTML = name;",
		"js/b.js":       "list.insertAdjacentHTML('beforeend', s);",
		"js/c.js":       "layer.bindTooltip(`${zone.name}`, {});",
		"js/d.js":       "export function el(tag) {}",
		"js/e.js":       "setTimeout(\"go()\", 10);",
		"js/f.js":       "a.outerHTML += b;",
		"page.html":     `<button onclick="go()">`,
		"inline.html":   `<script>window.x = 1</script>`,
		"js/g.js":       "popup.setContent('<b>' + n + '</b>');",
		"js/h.js":       "document.write(x)",
		"js/i.js":       "layer.bindTooltip(featureName(p), {});",
		"js/node.js":    "this.popup.setContent(content); // dom: node",
		"js/comment.js": "// never innerHTML = here\nconst ok = 1;",
		"ok.html":       `<script type="module" src="js/app.js"></script>`,
		"js/ok.js":      "marker.bindTooltip(el(\"span\", {}, name)); e.textContent = name; html: `<b>${escapeHTML(s)}</b>`",
		"lib/x/x.js":    "x.innerHTML = y;",
	}
	fsys := fstest.MapFS{}
	for k, v := range bad {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	got := strings.Join(Audit(fsys), "\n")
	for _, f := range []string{"js/a.js:1", "js/b.js:1", "js/c.js:1", "js/d.js:1", "js/e.js:1", "js/f.js:1", "page.html:1", "inline.html:1", "js/g.js:1", "js/h.js:1", "js/i.js:1"} {
		if !strings.Contains(got, f+":") {
			t.Errorf("Audit missed %s:\n%s", f, got)
		}
	}
	for _, f := range []string{"comment.js", "ok.html", "ok.js", "node.js", "lib/"} {
		if strings.Contains(got, f) {
			t.Errorf("Audit refused %s:\n%s", f, got)
		}
	}
}
