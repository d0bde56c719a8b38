// Package imports loads results that did not come from a kiosk — a
// farmers' market's self-test file (农贸市场自检), a wholesale market's
// testing room, a laboratory's report — into the result history, each
// with its testing tier (四位一体) and its source.
//
// # The template
//
// A file is CSV (UTF-8, with or without a BOM; GB18030, what Excel on a
// Chinese Windows writes, is recognised) or XLSX (the first sheet). Its
// first row is the header; a column is named by its zh-CN or its English
// header, in any order, and unknown columns are ignored:
//
//	记录编号 row_id      required: the row's id in the market's own system
//	检测时间 tested_at   required: 2026-11-28 09:30, 2026/11/28 9:30, or RFC 3339;
//	                     without a zone it is China Standard Time (Config.Zone)
//	摊位编号 stall_id    required: the stall's id, as on its QR label
//	样品名称 sample      required: what was tested (菠菜)
//	检测项目 item        required: 农药残留, 克伦特罗, …
//	检测结果 verdict     required: 阴性/阳性/可疑/无效, 合格/不合格, or
//	                     negative/positive/suspicious/invalid
//	检测方法 method      optional: 酶抑制率法, 胶体金, 实验室 … (default: a rapid method)
//	检测值 value         optional: a number (an inhibition rate in %)
//	单位 unit            optional
//	批次 batch · 产地 origin · 供应商 supplier · 检测员 operator   optional
//	确证结果编号 confirms  optional, a lab's row: the result_id of the rapid
//	                     result it confirms (positive) or clears (negative)
//
// The template as a file: [Template].
//
// # Idempotent, row by row
//
// Each good row becomes a wire.Result whose result_id is derived from the
// source and the row id ([ResultID]): importing the same file twice
// stores nothing the second time (the history answers Duplicate), and a
// row id imported again with other content is refused (Conflict) and
// listed, never stored over the first. A bad row never stops the others:
// [Load] returns the good rows and, for every bad one, its line and what
// is wrong with it.
package imports

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Limits of one file.
const (
	MaxBytes = 8 << 20 // a file larger than this is refused whole
	MaxRows  = 20000   // rows after the header
)

// Config says whose file it is.
type Config struct {
	// Source is the sending system, "market:<id>" or "lab:<id>".
	Source string
	// Tier is the tier of every row (default: market_self_test for a
	// market, statutory_lab for a lab).
	Tier assay.Tier
	// Zone is the time zone of times written without one (default UTC+8).
	Zone *time.Location
	// Stall reports whether a stall id is registered; nil accepts any.
	Stall func(id string) bool
	// Now is the clock: a row tested in the future (beyond 10 minutes) is
	// refused.
	Now func() time.Time
}

// Problem is one bad row.
type Problem struct {
	Line   int    `json:"line"`             // 1 is the header
	RowID  string `json:"row_id,omitempty"` // when the row has one
	Column string `json:"column,omitempty"` // the template's English name
	// Message says what is wrong and what to do, zh-CN / en.
	Message string `json:"message"`
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Message) }

// Loaded is what Load read.
type Loaded struct {
	Rows     []wire.Result `json:"-"`
	Lines    []int         `json:"-"` // the line of each row
	Problems []Problem     `json:"problems"`
	Total    int           `json:"total"` // data rows read (good and bad)
}

// Errors that refuse a whole file.
var (
	ErrTooLarge = errors.New("imports: the file is too large")
	ErrFormat   = errors.New("imports: not a CSV or XLSX file in the template")
)

// namespace is the UUID namespace of imported result ids.
var namespace = uuid.MustParse("9a0d3c1e-5f0b-4c8e-9a57-0e1f6b3c5a11")

// ResultID is the result id of a source's row: a name-based UUID (SHA-1,
// RFC 9562 version 5) of the source and the row id, so that the same row
// always has the same id.
func ResultID(source, rowID string) string {
	return uuid.NewSHA1(namespace, []byte(source+"\x00"+rowID)).String()
}

// CheckSource checks a source name: "market:<id>" or "lab:<id>", the id
// of letters, digits and - _ . (at most 48).
func CheckSource(s string) error {
	kind, id, ok := strings.Cut(s, ":")
	if !ok || (kind != wire.SourceMarket && kind != wire.SourceLab) {
		return fmt.Errorf("source %q: want market:<id> or lab:<id>", clip(s))
	}
	if id == "" || len(id) > 48 {
		return fmt.Errorf("source %q: the id after %s: must be 1 to 48 characters", clip(s), kind)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
			return fmt.Errorf("source %q: the id may only contain letters, digits, - , _ and dots", clip(s))
		}
	}
	return nil
}

// DefaultTier is the tier of a source's rows when the import names none.
func DefaultTier(source string) assay.Tier {
	if strings.HasPrefix(source, wire.SourceLab+":") {
		return assay.TierLab
	}
	return assay.TierMarketSelfTest
}

// columns of the template: English name → accepted headers.
var columns = []struct {
	name     string
	headers  []string
	required bool
}{
	{"row_id", []string{"记录编号", "编号", "row_id", "id"}, true},
	{"tested_at", []string{"检测时间", "检测日期", "tested_at", "time"}, true},
	{"stall_id", []string{"摊位编号", "摊位", "stall_id", "stall"}, true},
	{"sample", []string{"样品名称", "样品", "sample"}, true},
	{"item", []string{"检测项目", "项目", "item"}, true},
	{"verdict", []string{"检测结果", "结论", "结果", "verdict", "result"}, true},
	{"method", []string{"检测方法", "方法", "method"}, false},
	{"value", []string{"检测值", "数值", "value"}, false},
	{"unit", []string{"单位", "unit"}, false},
	{"batch", []string{"批次", "batch"}, false},
	{"origin", []string{"产地", "origin"}, false},
	{"supplier", []string{"供应商", "supplier"}, false},
	{"operator", []string{"检测员", "operator"}, false},
	{"confirms", []string{"确证结果编号", "confirms"}, false},
}

// zh is the zh-CN header of a column, for messages.
func zh(col string) string {
	for _, c := range columns {
		if c.name == col {
			return c.headers[0]
		}
	}
	return col
}

// Template is the CSV template: its header and one example row.
func Template() []byte {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	var head []string
	for _, c := range columns {
		head = append(head, c.headers[0]+" "+c.name)
	}
	w.Write(head)
	w.Write([]string{"NT-2026-000001", "2026-11-28 09:30", "S-001", "菠菜", "农药残留", "阴性", "酶抑制率法", "12.5", "%", "B-1128", "江苏南通", "某蔬菜批发部", "王检测", ""})
	w.Flush()
	return b.Bytes()
}

// Load reads a CSV or XLSX file (by its first bytes) in the template.
func Load(r io.Reader, cfg Config) (Loaded, error) {
	if err := cfg.check(); err != nil {
		return Loaded{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return Loaded{}, fmt.Errorf("imports: reading the file: %w", err)
	}
	if len(data) > MaxBytes {
		return Loaded{}, fmt.Errorf("%w: over %d MiB; split it into smaller files", ErrTooLarge, MaxBytes>>20)
	}
	var records []record
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		records, err = readXLSX(data)
	} else {
		records, err = readCSV(data)
	}
	if err != nil {
		return Loaded{}, err
	}
	return load(records, cfg)
}

// record is one row of the file and the line it starts on.
type record struct {
	line   int
	fields []string
}

func readXLSX(data []byte) ([]record, error) {
	// Bounded unzip: a small file that claims a huge sheet (a zip bomb)
	// is refused, not inflated.
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: 64 << 20, UnzipXMLSizeLimit: 16 << 20})
	if err != nil {
		return nil, fmt.Errorf("%w: the XLSX file does not open (%v); save it again from Excel or WPS, or export CSV", ErrFormat, err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, fmt.Errorf("%w: the workbook has no sheet", ErrFormat)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return nil, fmt.Errorf("%w: sheet %q: %v", ErrFormat, sheets[0], err)
	}
	defer rows.Close()
	var out []record
	for n := 1; rows.Next(); n++ {
		if len(out) > MaxRows+1 {
			return nil, fmt.Errorf("%w: more than %d rows; split the file", ErrTooLarge, MaxRows)
		}
		cols, err := rows.Columns()
		if err != nil {
			return nil, fmt.Errorf("%w: row %d: %v", ErrFormat, n, err)
		}
		out = append(out, record{n, cols})
	}
	return out, rows.Error()
}

func readCSV(data []byte) ([]record, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil || !utf8.Valid(dec) {
			return nil, fmt.Errorf("%w: the text is neither UTF-8 nor GB18030; save the file as CSV UTF-8", ErrFormat)
		}
		data = dec
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	var out []record
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%w: line %d: %v (a quote \" inside a field is written twice \"\")", ErrFormat, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if len(out) > MaxRows+1 {
			return nil, fmt.Errorf("%w: more than %d rows; split the file", ErrTooLarge, MaxRows)
		}
		line, _ := cr.FieldPos(0)
		out = append(out, record{line, rec})
	}
	return out, nil
}

// header maps each template column to its index in the header row.
func header(rec []string) (map[string]int, error) {
	idx := map[string]int{}
	for i, h := range rec {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for _, c := range columns {
			if _, done := idx[c.name]; done {
				continue
			}
			for _, name := range c.headers {
				// "记录编号 row_id" (the template's own header) and either half.
				if h == strings.ToLower(name) || h == strings.ToLower(c.headers[0]+" "+c.name) {
					idx[c.name] = i
				}
			}
		}
	}
	var missing []string
	for _, c := range columns {
		if _, ok := idx[c.name]; c.required && !ok {
			missing = append(missing, c.headers[0]+" "+c.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: the header (line 1) lacks %s; start from the template", ErrFormat, strings.Join(missing, ", "))
	}
	return idx, nil
}

// Rows loads rows given as objects (the REST endpoint's JSON), each
// keyed by the template's column names (English or zh-CN). A row's line
// is its position, from 1.
func Rows(rows []map[string]string, cfg Config) (Loaded, error) {
	if err := cfg.check(); err != nil {
		return Loaded{}, err
	}
	if len(rows) > MaxRows {
		return Loaded{}, fmt.Errorf("%w: more than %d rows; send them in smaller batches", ErrTooLarge, MaxRows)
	}
	var out Loaded
	seen := map[string]int{}
	for i, m := range rows {
		get := func(col string) string {
			if v, ok := m[col]; ok {
				return strings.TrimSpace(v)
			}
			for _, c := range columns {
				if c.name == col {
					for _, h := range c.headers {
						if v, ok := m[h]; ok {
							return strings.TrimSpace(v)
						}
					}
				}
			}
			return ""
		}
		out.add(get, i+1, seen, cfg)
	}
	return out, nil
}

func (c *Config) check() error {
	if err := CheckSource(c.Source); err != nil {
		return err
	}
	if c.Tier == "" {
		c.Tier = DefaultTier(c.Source)
	}
	if !c.Tier.Valid() {
		return fmt.Errorf("tier %q: want one of wholesale_market, market_self_test, regulator_rapid, statutory_lab", clip(string(c.Tier)))
	}
	if c.Zone == nil {
		c.Zone = time.FixedZone("CST", 8*3600)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// add reads one row at line into out.
func (out *Loaded) add(get func(string) string, line int, seen map[string]int, cfg Config) {
	out.Total++
	r, p := row(get, cfg)
	p.Line = line
	if p.Message == "" {
		if first, dup := seen[r.SourceRow]; dup {
			p = Problem{Line: line, RowID: r.SourceRow, Column: "row_id",
				Message: fmt.Sprintf("记录编号 %s 与第 %d 行重复；每行须有自己的编号 / row id %s repeats line %d; give each row its own id", clip(r.SourceRow), first, clip(r.SourceRow), first)}
		}
	}
	if p.Message != "" {
		out.Problems = append(out.Problems, p)
		return
	}
	seen[r.SourceRow] = line
	out.Rows = append(out.Rows, r)
	out.Lines = append(out.Lines, line)
}

func load(records []record, cfg Config) (Loaded, error) {
	var out Loaded
	if len(records) == 0 {
		return out, fmt.Errorf("%w: the file is empty", ErrFormat)
	}
	idx, err := header(records[0].fields)
	if err != nil {
		return out, err
	}
	seen := map[string]int{} // row id → line, within this file
	for _, x := range records[1:] {
		rec := x.fields
		if blank(rec) {
			continue
		}
		get := func(col string) string {
			j, ok := idx[col]
			if !ok || j >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[j])
		}
		out.add(get, x.line, seen, cfg)
	}
	return out, nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// row turns one data row into a result, or says what is wrong with it.
func row(get func(string) string, cfg Config) (wire.Result, Problem) {
	bad := func(col, zhMsg, enMsg string) (wire.Result, Problem) {
		return wire.Result{}, Problem{RowID: clip(get("row_id")), Column: col,
			Message: fmt.Sprintf("%s：%s / %s: %s", zh(col), zhMsg, col, enMsg)}
	}
	for _, c := range columns {
		v := get(c.name)
		if c.required && v == "" {
			return bad(c.name, "必填，此行为空", "required, empty in this row")
		}
		if len(v) > 256 || !utf8.ValidString(v) {
			return bad(c.name, "超过 256 字节或不是文本", "longer than 256 bytes or not text")
		}
	}
	rowID := get("row_id")
	if len(rowID) > 64 {
		return bad("row_id", "不超过 64 个字符", "at most 64 characters")
	}
	stall := get("stall_id")
	if err := checkID(stall); err != nil {
		return bad("stall_id", "只能含字母、数字和 - _ . :", "only letters, digits and - _ . : ("+err.Error()+")")
	}
	if cfg.Stall != nil && !cfg.Stall(stall) {
		return bad("stall_id", fmt.Sprintf("摊位 %s 未登记；请核对编号或先登记摊位", clip(stall)), fmt.Sprintf("stall %s is not registered; check the id or register the stall first", clip(stall)))
	}
	at, err := parseTime(get("tested_at"), cfg.Zone)
	if err != nil {
		return bad("tested_at", "无法识别，请写成 2026-11-28 09:30", "not a time; write it as 2026-11-28 09:30")
	}
	if at.After(cfg.Now().Add(10 * time.Minute)) {
		return bad("tested_at", "晚于当前时间；请核对日期", "in the future; check the date")
	}
	if at.Year() < 2000 {
		return bad("tested_at", "早于 2000 年；请核对日期", "before 2000; check the date")
	}
	v, ok := verdicts[strings.ToLower(get("verdict"))]
	if !ok {
		return bad("verdict", "应为 阴性、阳性、可疑、无效、合格 或 不合格", "want 阴性/阳性/可疑/无效/合格/不合格 or negative/positive/suspicious/invalid")
	}
	var value float64
	if s := get("value"); s != "" {
		value, err = strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
			return bad("value", "不是数字", "not a number")
		}
	}
	confirms := get("confirms")
	if confirms != "" {
		if u, err := uuid.Parse(confirms); err != nil || len(confirms) != 36 || u == uuid.Nil {
			return bad("confirms", "应为被确证的快检结果编号（36 位）", "want the result_id (36 characters) of the rapid result this confirms or clears")
		}
	}
	item := get("item")
	unit := get("unit")
	if unit == "" && strings.HasSuffix(get("value"), "%") {
		unit = "%"
	}
	r := wire.Result{
		ResultID:   ResultID(cfg.Source, rowID),
		StallID:    stall,
		Operator:   get("operator"),
		Sample:     wire.Sample{Name: get("sample"), Batch: get("batch"), Origin: get("origin"), Supplier: get("supplier")},
		Method:     method(get("method"), cfg.Tier),
		Item:       item,
		Analyte:    analyte(item),
		Value:      value,
		Unit:       unit,
		Verdict:    v,
		Tier:       cfg.Tier,
		Source:     cfg.Source,
		SourceRow:  rowID,
		Confirms:   strings.ToLower(confirms),
		MeasuredAt: at.UTC(),
	}
	return r, Problem{}
}

var verdicts = map[string]assay.Verdict{
	"阴性": assay.Negative, "合格": assay.Negative, "negative": assay.Negative, "neg": assay.Negative, "-": assay.Negative,
	"阳性": assay.Positive, "不合格": assay.Positive, "阳性（疑似）": assay.Positive, "疑似阳性": assay.Positive, "positive": assay.Positive, "pos": assay.Positive, "+": assay.Positive,
	"可疑": assay.Suspicious, "suspicious": assay.Suspicious,
	"无效": assay.Invalid, "invalid": assay.Invalid,
}

// Methods of imported results that are not one of the kiosk's rapid
// methods: a rapid method the file does not name, and a laboratory's.
const (
	MethodRapid assay.Method = "rapid" // 快速检测方法
	MethodLab   assay.Method = "lab"   // 实验室法定检验方法
)

func method(s string, tier assay.Tier) assay.Method {
	l := strings.ToLower(s)
	switch {
	case strings.Contains(l, "酶") || strings.Contains(l, "enzyme"):
		return assay.EnzymeInhibition
	case strings.Contains(l, "胶体金") || strings.Contains(l, "金标") || strings.Contains(l, "gold"):
		return assay.GoldLine
	case strings.Contains(l, "atp"):
		return assay.ATP
	case strings.Contains(l, "实验室") || strings.Contains(l, "气相") || strings.Contains(l, "液相") || strings.Contains(l, "gb ") ||
		strings.Contains(l, "gc") || strings.Contains(l, "lc") || strings.Contains(l, "lab"):
		return MethodLab
	case s == "" && tier == assay.TierLab:
		return MethodLab
	}
	return MethodRapid
}

// analyte is the machine name of an item: the kiosk's own where it knows
// the item, else the item as written.
func analyte(item string) string {
	switch {
	case strings.Contains(item, "农药") || strings.Contains(item, "有机磷") || strings.Contains(item, "氨基甲酸酯"):
		return "organophosphate_carbamate"
	}
	if a, ok := assay.GoldAnalytes[strings.ToLower(item)]; ok {
		return a
	}
	return item
}

var layouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006/1/2 15:04:05", "2006/1/2 15:04",
	"2006-1-2 15:04", "2006.1.2 15:04", "2006-01-02T15:04", "2006-01-02", "2006/1/2", "1/2/06 15:04"}

func parseTime(s string, zone *time.Location) (time.Time, error) {
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, zone); err == nil {
			return t, nil
		}
	}
	// An Excel serial date (days since 1899-12-30), as a sheet without a
	// date format gives it.
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 36526 && f < 2958465 {
		days := math.Floor(f)
		secs := math.Round((f - days) * 86400)
		t := time.Date(1899, 12, 30, 0, 0, 0, 0, zone).AddDate(0, 0, int(days)).Add(time.Duration(secs) * time.Second)
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a time: %q", clip(s))
}

func checkID(s string) error {
	if len(s) > 64 {
		return errors.New("at most 64")
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("%q", c)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}
