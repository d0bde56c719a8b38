package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/shianfood/shian/internal/jsdom"
	"github.com/shianfood/shian/internal/jsvocab"
	"github.com/shianfood/shian/internal/jswhen"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

func TestHandlerServesThePage(t *testing.T) {
	h := Handler()
	cases := []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script type="module" src="js/app.js">`},
		{"/app.css", "text/css", "--positive"},
		{"/js/app.js", "text/javascript", "new LiveLink"},
		{"/js/live.js", "text/javascript", `type: "subscribe"`},
	}
	for _, c := range cases {
		resp := get(t, h, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", c.path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s (module scripts need a JavaScript type)", c.path, ct, c.ctype)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", c.path, cc)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
	}
}

func TestLibMissingMessage(t *testing.T) {
	if Built() {
		resp := get(t, Handler(), "/"+LeafletPath)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Built() but GET /%s: %d", LeafletPath, resp.StatusCode)
		}
		return
	}
	resp := get(t, Handler(), "/"+LeafletPath)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "make web") {
		t.Errorf("without lib: %d %q, want 404 saying to run make web", resp.StatusCode, body)
	}
}

// TestNoThirdPartyCommitted keeps the rule that browser libraries come from
// npm: only our own files live outside lib/.
func TestNoThirdPartyCommitted(t *testing.T) {
	fs.WalkDir(FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() && path == "lib" {
			return fs.SkipDir
		}
		if strings.Contains(strings.ToLower(path), "leaflet") {
			t.Errorf("%s looks like a third-party file outside lib/; take it from npm in build.mjs", path)
		}
		return nil
	})
}

// TestI18nKeys checks that every key the markup and the modules name is in
// the one string table, and that each entry has both languages.
func TestI18nKeys(t *testing.T) {
	table, err := fs.ReadFile(FS(), "js/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`(?m)^\s*"([a-zA-Z0-9_.]+)":\s*\{\s*zh:\s*"[^"]+",\s*en:\s*"[^"]+"`)
	keys := map[string]bool{}
	for _, m := range entry.FindAllStringSubmatch(string(table), -1) {
		keys[m[1]] = true
	}
	if len(keys) < 50 {
		t.Fatalf("found only %d entries in js/i18n.js; is the table format unchanged?", len(keys))
	}
	// A screen module keeps its own strings in an addStrings({…}) block.
	fs.WalkDir(FS(), "js", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() || path == "js/i18n.js" || !strings.HasSuffix(path, ".js") {
			return nil
		}
		b, _ := fs.ReadFile(FS(), path)
		if i := strings.Index(string(b), "addStrings({"); i >= 0 {
			block := string(b)[i:]
			if j := strings.Index(block, "\n});"); j > 0 {
				block = block[:j]
			}
			for _, m := range entry.FindAllStringSubmatch(block, -1) {
				if keys[m[1]] {
					t.Errorf("%s defines %q again (addStrings throws on it)", path, m[1])
				}
				keys[m[1]] = true
			}
		}
		return nil
	})
	uses := regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]+)"|\bt\("([a-zA-Z0-9_.]+)"|\bboth\("([a-zA-Z0-9_.]+)"`)
	fs.WalkDir(FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() && path == "lib" {
			return fs.SkipDir
		}
		if d.IsDir() || path == "js/i18n.js" || !(strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".html")) {
			return nil
		}
		b, _ := fs.ReadFile(FS(), path)
		for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
			k := m[1] + m[2] + m[3]
			if !keys[k] {
				t.Errorf("%s uses string %q, which js/i18n.js does not define in both languages", path, k)
			}
		}
		return nil
	})
}

// TestOneClock: no page script formats a time with the browser's locale
// or zone, or adds Beijing's offset by hand; they all use when.js
// (internal/jswhen, decision 0034).
func TestOneClock(t *testing.T) {
	for _, p := range jswhen.Audit(FS()) {
		t.Errorf("%s: format it with ./when.js (formatWhen, formatRange, formatClock)", p)
	}
}

// TestModuleImports checks that every relative import of the modules
// resolves to an embedded file, or to a module the handler serves from
// elsewhere (the vocabulary, dom.js, when.js).
func TestModuleImports(t *testing.T) {
	imp := regexp.MustCompile(`(?m)^import .* from "(\./[^"]+)";`)
	entries, _ := fs.ReadDir(FS(), "js")
	for _, e := range entries {
		b, _ := fs.ReadFile(FS(), "js/"+e.Name())
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			served := map[string]string{jsvocab.Path: "export const verdicts", jsdom.Path: "export function el(", jswhen.Path: "export function formatWhen("}
			if path := "/js/" + strings.TrimPrefix(m[1], "./"); served[path] != "" {
				rec := httptest.NewRecorder()
				Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), served[path]) {
					t.Errorf("GET %s: %d %.200q", path, rec.Code, rec.Body.String())
				}
				continue
			}
			if _, err := fs.Stat(FS(), "js/"+strings.TrimPrefix(m[1], "./")); err != nil {
				t.Errorf("js/%s imports %s, which is not embedded", e.Name(), m[1])
			}
		}
	}
}

// TestNoHTMLFromStrings: no page script turns a string into markup or
// script (innerHTML, insertAdjacentHTML, a string handed to a Leaflet
// tooltip or popup, inline handlers or <script>), and none keeps its own
// el/escapeHTML: names from the field reach the DOM as text through dom.js
// (internal/jsdom.Audit lists the patterns).
func TestNoHTMLFromStrings(t *testing.T) {
	for _, p := range jsdom.Audit(FS()) {
		t.Error(p)
	}
}
