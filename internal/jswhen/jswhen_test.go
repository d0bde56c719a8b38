package jswhen

import (
	"testing"
	"testing/fstest"
)

func TestAudit(t *testing.T) {
	fsys := fstest.MapFS{
		"js/ok.js":  {Data: []byte("import { formatWhen } from \"./when.js\";\n// toLocaleString in a comment is fine\nformatWhen(x);\n")},
		"js/bad.js": {Data: []byte("a.textContent = new Date(x).toLocaleString();\nconst d = new Date(t + 8 * 3600e3);\n")},
		"lib/l.js":  {Data: []byte("d.toLocaleString()")},
	}
	got := Audit(fsys)
	if len(got) != 2 || got[0] != "js/bad.js:1: a.textContent = new Date(x).toLocaleString();" {
		t.Errorf("Audit = %q", got)
	}
	if len(Audit(fstest.MapFS{"when.js": {Data: Module()}})) != 0 {
		t.Errorf("when.js itself is refused: %q", Audit(fstest.MapFS{"when.js": {Data: Module()}}))
	}
}
