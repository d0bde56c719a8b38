package jswhen

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// ownClock matches what shows a time on the browser's own clock or in its
// locale's format, or does the event's offset by hand.
var ownClock = regexp.MustCompile(`toLocale(Date|Time)?String|Intl\.DateTimeFormat|getTimezoneOffset|toDateString|\b8 \* 3600e3|\+08:00`)

// Audit reads every .js file of a page's static files (fsys; lib/ is
// skipped) and returns, as "file:line: line", each place that formats a
// time without when.js. The two services' tests run it over their
// embedded files, so a page cannot go back to toLocaleString.
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
		if !strings.HasSuffix(path, ".js") {
			return nil
		}
		src, err := fs.ReadFile(fsys, path)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", path, err))
			return nil
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if ownClock.MatchString(line) {
				out = append(out, fmt.Sprintf("%s:%d: %s", path, i+1, strings.TrimSpace(line)))
			}
		}
		return nil
	})
	return out
}
