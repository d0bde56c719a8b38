package jsdom

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// The patterns [Audit] refuses in a page's own scripts: each one parses a
// string as HTML (or runs one as script), which is how a server-supplied
// name becomes markup.
var refused = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`\.(innerHTML|outerHTML)\s*[+]?=`), "assigns HTML; build nodes with el() or set textContent"},
	{regexp.MustCompile(`insertAdjacentHTML|createContextualFragment|DOMParser|document\.write`), "parses HTML; build nodes with el()"},
	{regexp.MustCompile(`\beval\s*\(|new\s+Function\s*\(|set(Timeout|Interval)\s*\(\s*["'` + "`" + `]`), "runs a string as script (the CSP refuses it too)"},
	{leafletContent, "may hand Leaflet an HTML string; pass el(…), or mark a node variable with a `// dom: node` comment"},
	{regexp.MustCompile(`(?m)^\s*(export\s+)?function\s+(el|escapeHTML)\s*\(`), "keeps its own copy of a dom.js helper; import it from ./dom.js"},
	{regexp.MustCompile(`\son[a-z]+\s*=\s*["']`), "inline event handler; the CSP refuses it (use el(…, {onclick: f}))"},
}

// Audit reads every .js and .html file of a page's static files (fsys) and
// returns, as "file:line: what", each use of an API that turns a string into
// markup or script. The two services' tests run it over their embedded
// files, so a page cannot start using innerHTML again without a test
// failing. Where a library insists on an HTML string (a Leaflet divIcon or
// attribution), pass it through escapeHTML and keep it out of the patterns
// above. Third-party files under lib/ are not ours and are skipped.
func Audit(fsys fs.FS) []string {
	var out []string
	fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", path, err))
			return nil
		}
		if d.IsDir() {
			if path == "lib" {
				return fs.SkipDir
			}
			return nil
		}
		js, html := strings.HasSuffix(path, ".js"), strings.HasSuffix(path, ".html")
		if !js && !html {
			return nil
		}
		src, err := fs.ReadFile(fsys, path)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", path, err))
			return nil
		}
		for i, line := range strings.Split(string(src), "\n") {
			if js && strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			for _, r := range refused {
				if !js && !strings.Contains(r.why, "inline") {
					continue // HTML files: only inline handlers here; <script> is checked below
				}
				if r.re == leafletContent && (strings.Contains(line, "// dom: node") || leafletNode.MatchString(line)) {
					continue
				}
				if r.re.MatchString(line) {
					out = append(out, fmt.Sprintf("%s:%d: %s: %s", path, i+1, r.why, strings.TrimSpace(line)))
				}
			}
			if html && inlineScript.MatchString(line) {
				out = append(out, fmt.Sprintf("%s:%d: inline <script>; the CSP (script-src 'self') refuses it: move it to a .js file", path, i+1))
			}
		}
		return nil
	})
	return out
}

// leafletContent is a call of a Leaflet method that takes a string as
// HTML (a tooltip's or popup's content); leafletNode is the same call
// given an el(…) node.
var (
	leafletContent = regexp.MustCompile(`\.(bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent)\s*\(`)
	leafletNode    = regexp.MustCompile(`\.(bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent)\s*\(\s*el\(`)
)

// inlineScript is a <script> element without a src attribute.
var inlineScript = regexp.MustCompile(`<script(\s+type="module")?\s*>`)
