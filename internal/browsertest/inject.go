package browsertest

import (
	"context"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Proving that a name cannot run (see the package doc): Hostile returns a name with markup that would run script if a page ever
// put it into the DOM as HTML; [Page.WatchInjection] then proves that
// nothing did:
//
//	w := p.WatchInjection()            // before Navigate
//	p.Do(chromedp.Navigate(url))
//	… show the names: lists, popups, tooltips …
//	w.Check()                          // fails the test on any sign of script
//
// Each payload, if run, sets window.__xss and calls alert(). Check fails the
// test when a dialog opened, window.__xss is set, the page reported a CSP
// violation (a securitypolicyviolation event, or a "Content Security
// Policy" console message: markup got in even if the CSP stopped it), or an
// exception was thrown.

// Payloads, each a different way into a page: an element with an error
// handler, a closed attribute and a script element, an SVG load handler,
// a javascript: URL, a single-quoted attribute break-out.
var Payloads = []string{
	`<img src=x onerror="window.__xss='img';alert('img')">`,
	`"><script>window.__xss='script';alert('script')</script>`,
	`<svg/onload="window.__xss='svg';alert('svg')">`,
	`javascript:window.__xss='href';alert('href')`,
	`' onmouseover='window.__xss=1' x='`,
}

// Hostile returns label followed by every payload: a name that shows as
// this exact text when a page escapes it, and runs script otherwise.
func Hostile(label string) string {
	return label + strings.Join(Payloads, "")
}

// Injection watches one page for script that ran or was refused.
type Injection struct {
	p       *Page
	mu      sync.Mutex
	dialogs []string
}

// WatchInjection starts watching the page. Call it before the page
// navigates: it installs, through DevTools (which the page's CSP does not
// govern), a listener for CSP violations in every document the tab loads,
// and answers (dismisses) any dialog so a page that calls alert() is not
// stalled.
func (p *Page) WatchInjection() *Injection {
	p.t.Helper()
	w := &Injection{p: p}
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__csp = [];
		document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));`})
	if err != nil {
		p.t.Fatalf("browsertest: install the CSP listener: %v", err)
	}
	dialogs := chromedp.Events(p.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			w.mu.Lock()
			w.dialogs = append(w.dialogs, string(ev.Type)+": "+ev.Message)
			w.mu.Unlock()
			dctx, dcancel := context.WithTimeout(p.ctx, DefaultTimeout)
			chromedp.Call(dctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			dcancel()
		}
	}()
	return w
}

// Problems lists every sign of script so far (nil when there is none).
func (w *Injection) Problems() []string {
	var out []string
	w.mu.Lock()
	for _, d := range w.dialogs {
		out = append(out, "a dialog opened: "+d)
	}
	w.mu.Unlock()
	if v, err := TryEval[any](w.p, `window.__xss === undefined ? null : String(window.__xss)`); err == nil && v != nil {
		out = append(out, "window.__xss was set by "+v.(string))
	}
	if v, err := TryEval[[]string](w.p, `window.__csp || []`); err == nil {
		for _, c := range v {
			out = append(out, "CSP violation: "+c)
		}
	}
	for _, m := range w.p.Console() {
		s := m.String()
		if m.IsException() || strings.Contains(s, "Content Security Policy") || strings.Contains(s, "Content-Security-Policy") {
			out = append(out, "console: "+s)
		}
	}
	return out
}

// Check fails the test for each sign of script so far.
func (w *Injection) Check() {
	w.p.t.Helper()
	for _, pr := range w.Problems() {
		w.p.t.Errorf("script injection: %s", pr)
	}
}
