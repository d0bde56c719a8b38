package imports_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shianfood/shian/command/imports"
)

// FuzzLoad: whatever the bytes, Load never panics, and every data row it
// reads is either a good row or a problem with its line; every good row
// is a result the history can store (its id the source's row's).
func FuzzLoad(f *testing.F) {
	f.Add([]byte(file))
	f.Add(imports.Template())
	f.Add([]byte("记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果\n1,2026-11-28,S-1,a,b,阴性\n"))
	f.Add([]byte("row_id,tested_at,stall_id,sample,item,verdict\n\"a\"\"b\",45000.5,S-1,x,y,+\n"))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := imports.Load(bytes.NewReader(data), cfg())
		if err != nil {
			if l.Total != 0 || len(l.Rows) != 0 {
				t.Fatalf("an error with rows: %v", err)
			}
			return
		}
		if len(l.Rows)+len(l.Problems) != l.Total || len(l.Lines) != len(l.Rows) {
			t.Fatalf("%d rows + %d problems != %d read", len(l.Rows), len(l.Problems), l.Total)
		}
		seen := map[string]bool{}
		for i, r := range l.Rows {
			if r.ResultID != imports.ResultID(r.Source, r.SourceRow) || seen[r.ResultID] || r.SourceRow == "" || !r.Tier.Valid() {
				t.Fatalf("row %d: %+v", i, r)
			}
			seen[r.ResultID] = true
			if !strings.HasPrefix(r.StallID, "S-") || r.MeasuredAt.IsZero() || !utf8.ValidString(r.Sample.Name+r.Item) {
				t.Fatalf("row %d: %+v", i, r)
			}
		}
		for _, p := range l.Problems {
			if p.Line < 2 || p.Message == "" {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
