package webtest

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/internal/browsertest"
)

// repoFile reads a file of the repository (tests run in command/webtest).
func repoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}

// TestQRLabels prints zone A's labels and reads every QR code back from
// the rendered page with an independent decoder (jsQR from npm), then
// parses what it holds with the kiosk's own scanner code
// (kiosk/ui/static/js/scan.js, parseStallCode): each label must give its
// stall's id to the kiosk. A scanned label opened on a phone (/s/{id})
// shows the stall's public page, whose staff link shows it on the map.
func TestQRLabels(t *testing.T) {
	requireAssets(t)
	jsqr, err := os.ReadFile(filepath.Join("..", "..", "node_modules", "jsqr", "dist", "jsQR.js"))
	if err != nil {
		msg := "node_modules/jsqr is missing; run `npm ci` (make web) — it is a devDependency for this test"
		if browsertest.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	scan := repoFile(t, "kiosk/ui/static/js/scan.js")
	b := browsertest.Start(t)
	v := makeVenue()
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
	seed(t, cmd.svc, v)

	p := b.NewPage(t)
	login(p, cmd.url(), adminUser, adminPassword)
	p.WaitFor("the map", `document.body.dataset.state === 'app' && shian.stallCount() > 0`, 10*time.Second)
	p.Do(chromedp.Navigate(cmd.url() + "labels.html?zone=Z-A"))
	p.WaitFor("the labels with their QR codes loaded", `document.body.dataset.state === 'ready' && document.querySelectorAll('.label img').length === 10 && [...document.querySelectorAll('.label img')].every(i => i.naturalWidth > 0)`, 10*time.Second)
	p.Screenshot("labels-zone-A")

	// Decode each QR image as a camera would see it, and parse it as the kiosk does.
	browsertest.Eval[bool](p, string(jsqr)+"\n;window.__jsQR = jsQR; true")
	type decoded struct {
		ID, Content, Text, Parsed, Error string
	}
	// scan.js is the kiosk's module (another server's file): it is run
	// here through DevTools as a plain script — the page's CSP
	// (script-src 'self') rightly refuses to import it from a blob: URL.
	browsertest.Eval[bool](p, "window.__scan = (() => {\n"+strings.ReplaceAll(scan, "export function ", "function ")+
		"\nreturn { parseStallCode };\n})(); true")
	got := browsertest.EvalAsync[[]decoded](p, `(async () => {
		const scan = window.__scan;
		return [...document.querySelectorAll('.label')].map((l) => {
			const img = l.querySelector('img');
			const c = document.createElement('canvas');
			c.width = img.naturalWidth; c.height = img.naturalHeight;
			const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
			const d = ctx.getImageData(0, 0, c.width, c.height);
			const r = window.__jsQR(d.data, c.width, c.height);
			const text = r ? r.data : '';
			const parsed = scan.parseStallCode(text);
			return {ID: l.dataset.id, Content: l.dataset.content, Text: text, Parsed: parsed.id || '', Error: parsed.error || ''};
		});
	})()`)
	if len(got) != 10 {
		t.Fatalf("decoded %d labels, want 10", len(got))
	}
	for _, d := range got {
		if d.Text == "" {
			t.Errorf("label %s: no QR code found in the image", d.ID)
			continue
		}
		if d.Text != d.Content {
			t.Errorf("label %s: QR holds %q, the page says %q", d.ID, d.Text, d.Content)
		}
		if d.Parsed != d.ID {
			t.Errorf("label %s: the kiosk's scanner reads %q (error %q) from %q", d.ID, d.Parsed, d.Error, d.Text)
		}
		u, err := url.Parse(d.Text)
		if err != nil || path.Base(u.Path) != d.ID || !strings.HasPrefix(d.Text, "http://"+cmd.addr+"/s/") {
			t.Errorf("label %s: content %q is not %s/s/{id}", d.ID, d.Text, "http://"+cmd.addr)
		}
	}
	t.Logf("decoded: %v", got[0])

	// The printable page names the stall in both languages.
	text := browsertest.Eval[string](p, `document.querySelector('.label[data-id="S-A-06"]').innerText`)
	for _, want := range []string{"A区06号摊位", "Stall A-06", "S-A-06", "风险 D"} {
		if !strings.Contains(text, want) {
			t.Errorf("label S-A-06 lacks %q:\n%s", want, text)
		}
	}

	// A phone scanning the label lands on the stall's public page (no
	// login needed); its staff link opens the stall on the map.
	p.Do(chromedp.EmulateViewport(phoneW, phoneH))
	p.Do(chromedp.Navigate(got[5].Text))
	p.WaitFor("the scanned stall's public page", fmt.Sprintf(`document.body.dataset.state === 'ready' && document.querySelector('#stall').dataset.id === %q`, got[5].ID), 10*time.Second)
	p.Do(chromedp.Click(chromedp.CSS("#staff-link")))
	p.WaitFor("the scanned stall opened on the map", fmt.Sprintf(`document.body.dataset.state === 'app' && document.querySelector('.leaflet-popup .popup[data-stall-id=%q]') && !document.querySelector('#tab-stall').hidden`, got[5].ID), 10*time.Second)
	p.WaitFor("a still map", `shian.mapIdle()`, 5*time.Second)
	p.Screenshot("scanned-on-phone")
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
	}
}
