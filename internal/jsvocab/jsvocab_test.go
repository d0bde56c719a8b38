package jsvocab

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestModule: the module exports every verdict of assay with its labels,
// as JSON a browser parses, served as JavaScript.
func TestModule(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Fatalf("Content-Type %q", ct)
	}
	src := rec.Body.String()
	body, ok := strings.CutPrefix(src[strings.Index(src, "export const verdicts = "):], "export const verdicts = ")
	if !ok || !strings.HasSuffix(body, ";\n") {
		t.Fatalf("not the module's shape:\n%s", src)
	}
	var got map[string]assurance.Label
	if err := json.Unmarshal([]byte(strings.TrimSuffix(body, ";\n")), &got); err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	for _, v := range assay.Verdicts() {
		zh, en := v.Label()
		if got[string(v)] != (assurance.Label{ZH: zh, EN: en}) {
			t.Errorf("%s: %+v, want %s / %s", v, got[string(v)], zh, en)
		}
	}
	if len(got) != len(assay.Verdicts()) || got["positive"].ZH != "阳性（疑似）" {
		t.Errorf("table %+v", got)
	}
}
