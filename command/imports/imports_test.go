package imports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command/imports"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func cfg() imports.Config {
	return imports.Config{Source: "market:M-01", Now: func() time.Time { return now },
		Stall: func(id string) bool { return strings.HasPrefix(id, "S-") }}
}

// A market's file: three good rows, and one of each kind of bad row.
const file = "\ufeff记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果,检测方法,检测值,单位,检测员\n" +
	"NT-1,2026-11-28 09:30,S-001,菠菜,农药残留,阴性,酶抑制率法,12.5,%,王检测\n" +
	"NT-2,2026/11/28 9:45,S-002,猪肉,克伦特罗,阳性,胶体金,,,王检测\n" +
	"NT-3,2026-11-28 10:00,X-9,韭菜,农药残留,阴性,,,,\n" + // line 4: stall not registered
	"NT-4,yesterday,S-001,韭菜,农药残留,阴性,,,,\n" + // line 5: no time
	"NT-5,2026-11-28 10:10,S-001,韭菜,农药残留,maybe,,,,\n" + // line 6: verdict
	",2026-11-28 10:20,S-001,韭菜,农药残留,阴性,,,,\n" + // line 7: no row id
	"NT-2,2026-11-28 10:30,S-001,芹菜,农药残留,阴性,,,,\n" + // line 8: repeats line 3's id
	"\n" +
	"NT-6,2026-11-28 10:40,S-003,芹菜,农药残留,合格,,abc,,\n" + // line 10: value
	"NT-7,2026-12-30 10:40,S-003,芹菜,农药残留,合格,,,,\n" + // line 11: future
	"NT-8,2026-11-28T11:00:00+08:00,S-003,生菜,农药残留,不合格,,55.1,%,\n"

func TestLoadGoodAndBadRows(t *testing.T) {
	l, err := imports.Load(strings.NewReader(file), cfg())
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != 10 || len(l.Rows) != 3 {
		t.Fatalf("total %d, good %d: %+v", l.Total, len(l.Rows), l.Problems)
	}
	want := map[int]string{4: "stall_id", 5: "tested_at", 6: "verdict", 7: "row_id", 8: "row_id", 10: "value", 11: "tested_at"}
	if len(l.Problems) != len(want) {
		t.Fatalf("problems %+v", l.Problems)
	}
	for _, p := range l.Problems {
		if want[p.Line] != p.Column || !strings.Contains(p.Message, " / ") {
			t.Errorf("line %d: column %q message %q, want column %q with zh-CN / en", p.Line, p.Column, p.Message, want[p.Line])
		}
	}
	if !strings.Contains(l.Problems[0].Message, "X-9") || !strings.Contains(l.Problems[4].Message, "第 3 行") {
		t.Errorf("messages name the stall and the line: %v / %v", l.Problems[0], l.Problems[4])
	}
	r := l.Rows[0]
	if r.Source != "market:M-01" || r.SourceRow != "NT-1" || r.Tier != assay.TierMarketSelfTest || r.KioskID != "" || r.Seq != 0 ||
		r.Method != assay.EnzymeInhibition || r.Analyte != "organophosphate_carbamate" || r.Value != 12.5 || r.Unit != "%" ||
		r.Verdict != assay.Negative || !r.MeasuredAt.Equal(time.Date(2026, 11, 28, 1, 30, 0, 0, time.UTC)) || r.Operator != "王检测" {
		t.Errorf("row 1: %+v", r)
	}
	if r.ResultID != imports.ResultID("market:M-01", "NT-1") || r.ResultID == imports.ResultID("market:M-02", "NT-1") {
		t.Error("result ids are not the source's row's")
	}
	if g := l.Rows[1]; g.Method != assay.GoldLine || g.Analyte != "clenbuterol" || g.Verdict != assay.Positive {
		t.Errorf("row 2: %+v", g)
	}
	if z := l.Rows[2]; z.Verdict != assay.Positive || !z.MeasuredAt.Equal(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)) || z.Method != imports.MethodRapid {
		t.Errorf("row NT-8: %+v", z)
	}
	if l.Lines[0] != 2 || l.Lines[2] != 12 {
		t.Errorf("lines %v", l.Lines)
	}
	// The same file loads the same results (the same ids): idempotent.
	again, _ := imports.Load(strings.NewReader(file), cfg())
	for i := range again.Rows {
		if again.Rows[i].Fingerprint() != l.Rows[i].Fingerprint() {
			t.Fatalf("row %d differs on a second load", i)
		}
	}
}

func TestLoadXLSXAndGB18030(t *testing.T) {
	f := excelize.NewFile()
	rows := [][]any{{"检测结果 verdict", "记录编号 row_id", "检测时间", "stall_id", "sample", "检测项目"},
		{"阴性", "X1", "2026-11-28 08:00", "S-1", "白菜", "农药残留"},
		{"阳性", "X2", 46354.375, "S-2", "豇豆", "农药残留"}, // an Excel date: 2026-11-28 09:00
		{"阴性", "X3", "2026-11-28 08:00", "nobody", "白菜", "农药残留"}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		f.SetSheetRow("Sheet1", cell, &r)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	l, err := imports.Load(&buf, cfg())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rows) != 2 || len(l.Problems) != 1 || l.Problems[0].Line != 4 {
		t.Fatalf("xlsx: %d rows, problems %+v", len(l.Rows), l.Problems)
	}
	if at := l.Rows[1].MeasuredAt; !at.Equal(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("excel serial date: %v", at)
	}

	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果\nG1,2026-11-28 08:00,S-1,白菜,农药残留,阴性\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err = imports.Load(bytes.NewReader(gb), cfg())
	if err != nil || len(l.Rows) != 1 || l.Rows[0].Sample.Name != "白菜" {
		t.Fatalf("GB18030: %+v %v", l, err)
	}
}

func TestLoadRefusesWholeFiles(t *testing.T) {
	for name, in := range map[string]string{
		"no header columns": "a,b,c\n1,2,3\n",
		"empty":             "",
		"bad quotes":        "记录编号,检测时间,摊位编号,样品名称,检测项目,检测结果\n\"x,1,2\n",
		"not xlsx":          "PK\x03\x04garbage",
	} {
		if _, err := imports.Load(strings.NewReader(in), cfg()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := imports.Load(strings.NewReader(file), imports.Config{Source: "kiosk:K-1"}); err == nil {
		t.Error("a kiosk as a source")
	}
	if _, err := imports.Load(strings.NewReader(strings.Repeat("x", imports.MaxBytes+1)), cfg()); err == nil {
		t.Error("too large")
	}
}

func TestRowsAsJSONObjects(t *testing.T) {
	c := cfg()
	c.Source, c.Tier = "lab:L-01", ""
	l, err := imports.Rows([]map[string]string{
		{"row_id": "R-1", "tested_at": "2026-11-28 11:00", "stall_id": "S-001", "sample": "豇豆", "item": "农药残留", "verdict": "positive", "method": "GB 23200.113 气相色谱-质谱法"},
		{"记录编号": "R-2", "检测时间": "2026-11-28 11:00", "摊位编号": "S-001", "样品名称": "豇豆", "检测项目": "农药残留"},
	}, c)
	if err != nil || len(l.Rows) != 1 || len(l.Problems) != 1 || l.Problems[0].Line != 2 || l.Problems[0].Column != "verdict" {
		t.Fatalf("%+v %v", l, err)
	}
	if r := l.Rows[0]; r.Tier != assay.TierLab || r.Method != imports.MethodLab {
		t.Errorf("a lab's row: %+v", r)
	}
}

func TestTemplateLoads(t *testing.T) {
	l, err := imports.Load(bytes.NewReader(imports.Template()), cfg())
	if err != nil || len(l.Rows) != 1 || len(l.Problems) != 0 {
		t.Fatalf("the template's own example: %+v %v", l, err)
	}
}
