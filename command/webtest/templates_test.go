package webtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// zhSplit finds where a bilingual message's English half starts: the
// first "/ " followed by a Latin letter after some Chinese text (the
// page's pickBilingual splits there too; "封存/停售" and "GB/T" are not
// split).
var zhSplit = regexp.MustCompile(`[\p{Han}\x{3000}-\x{303f}\x{ff00}-\x{ffef}][^\n]*?\s?/ [A-Za-z(%]`)

// zhFirst is a string whose first word is Chinese: a zh message or the zh
// half of one (an English message with a Chinese hint in brackets is an
// English one, for the logs and the API's callers).
var zhFirst = regexp.MustCompile(`^[^A-Za-z\p{Han}]*\p{Han}`)

// header is a column or section header of a bilingual document (an
// export, a printed report): "概况 Summary", "序号 seq".
var header = regexp.MustCompile(`^[\p{Han}（）/]+ [A-Za-z][A-Za-z ]*$`)

// han reports whether s has a Chinese character.
var han = regexp.MustCompile(`\p{Han}`)

// verb is a fmt verb in a format string.
var verb = regexp.MustCompile(`%[-+# 0]*(\[\d+\])?[0-9*]*(\.[0-9*]+)?[a-zA-Z%]`)

// rawArg is an argument that puts a protocol identifier or an English
// label into the zh half as it is: a state, role, kind, code … field
// (which must go through its label's ZH), an EN label, an English
// duration.
var rawArg = regexp.MustCompile(`\.(State|Role|Kind|Code|Method|Analyte|Verdict|Mode|Status|Severity|Meal|Phase|Item|Pillar|Measure|Trigger)$|\.EN$|[dD]urationEN\(|^string\(`)

// template is one message template in the server's source: its zh half
// and the argument expressions its zh verbs take.
type template struct {
	where string
	zh    string
	args  []string
}

// serverTemplates reads the string literals of the non-test Go files in
// dirs (relative to the repository root) that hold Chinese text — the
// alarm, alert, incident and refusal messages the engine and the API
// send — and returns each one's zh half, with the source of the
// arguments its zh verbs format when it is a call's format string.
func serverTemplates(t *testing.T, dirs ...string) []template {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out []template
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
		// The printed report and the CSV exports are bilingual documents
		// by design ("合计 Total" in one cell); the walk is for messages.
		files = slices.DeleteFunc(files, func(p string) bool {
			b := filepath.Base(p)
			return strings.HasPrefix(b, "report") || strings.HasPrefix(b, "export")
		})
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, path, src, 0) // no comments: only code
			if err != nil {
				t.Fatal(err)
			}
			seen := map[*ast.BasicLit]bool{}
			text := func(e ast.Expr) string {
				return string(src[fset.Position(e.Pos()).Offset:fset.Position(e.End()).Offset])
			}
			add := func(lit *ast.BasicLit, args []ast.Expr) {
				seen[lit] = true
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !han.MatchString(s) || !zhFirst.MatchString(verb.ReplaceAllString(s, " ")) || header.MatchString(s) {
					return
				}
				zh := s
				if m := zhSplit.FindStringIndex(s); m != nil {
					zh = strings.TrimRight(s[:m[1]-3], " ")
				}
				tp := template{where: fmt.Sprintf("%s:%d", filepath.Join(dir, filepath.Base(path)), fset.Position(lit.Pos()).Line), zh: zh}
				n := 0
				for _, v := range verb.FindAllString(zh, -1) {
					if v == "%%" {
						continue
					}
					if n < len(args) {
						tp.args = append(tp.args, text(args[n]))
					}
					n++
				}
				out = append(out, tp)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					for i, a := range c.Args {
						if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.Contains(lit.Value, "%") {
							add(lit, c.Args[i+1:])
							break
						}
					}
				}
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && !seen[lit] {
					add(lit, nil)
				}
				return true
			})
		}
	}
	return out
}

// templateWords checks the zh halves of the server's message templates as
// the table strings are checked (allow: the Latin words zh-CN text may
// hold): no English word or raw code, and no argument that puts an
// identifier, an English label or a Go duration into the zh half.
func templateWords(t *testing.T, allow map[string]bool) []string {
	var bad []string
	word := regexp.MustCompile(`[A-Za-z][A-Za-z0-9_.]*`)
	record := regexp.MustCompile(`\b[A-Z]{1,4}(-[A-Z0-9]+)+\b|GB/T|/api/v1/[\w/{}.-]+|shian-\w+`)
	oneLetter := regexp.MustCompile(`^[A-Z]\d?$`)
	tps := serverTemplates(t, "command/engine", "command/api", "protocols/domain/assurance")
	for _, tp := range tps {
		s := record.ReplaceAllString(verb.ReplaceAllString(tp.zh, " "), " ")
		for _, w := range word.FindAllString(s, -1) {
			if w = strings.TrimSuffix(w, "."); !allow[w] && !oneLetter.MatchString(w) {
				bad = append(bad, fmt.Sprintf("template %s: %q in %q", tp.where, w, tp.zh))
			}
		}
		for _, a := range tp.args {
			if rawArg.MatchString(a) {
				bad = append(bad, fmt.Sprintf("template %s: the zh half formats %s as it is (use its label's ZH) in %q", tp.where, a, tp.zh))
			}
		}
	}
	if len(tps) < 80 {
		t.Errorf("only %d message templates found; is the walker broken?", len(tps))
	}
	t.Logf("scanned %d server message templates", len(tps))
	return bad
}

// TestServerTemplatesZH runs the template walk alone (no browser), so the
// words of a new message fail fast; TestWordsZH runs it with the screens.
func TestServerTemplatesZH(t *testing.T) {
	for _, b := range templateWords(t, zhAllowed()) {
		t.Error(b)
	}
}
