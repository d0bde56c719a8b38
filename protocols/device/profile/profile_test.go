package profile

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/shianfood/shian/protocols/device/asciirpt"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func TestBuiltin(t *testing.T) {
	lib := Builtin()
	for _, name := range []string{"SHIAN-GC1", "SHIAN-ATP1", "SHIAN-TP1"} {
		if _, err := lib.Lookup(name); err != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
	}
	if _, err := lib.Lookup("ACME-X1"); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "SHIAN-GC1") {
		t.Errorf("unknown profile: %v", err)
	}
}

func mustBuiltin(t *testing.T, name string) *Profile {
	t.Helper()
	p, err := Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGC1MatchesGoldcard: the SHIAN-GC1 profile reads the register blocks
// the firmware's own map (protocols/device/goldcard) encodes exactly as
// goldcard decodes them.
func TestGC1MatchesGoldcard(t *testing.T) {
	p := mustBuiltin(t, "SHIAN-GC1")
	idRegs, err := goldcard.Identity{Firmware: 0x0100, Serial: "GC1-0007", Model: "SHIAN-GC1", Hardware: 1, QueueCapacity: 16}.Registers()
	if err != nil {
		t.Fatal(err)
	}
	regs := Registers{}
	regs.Put(Input, goldcard.IdentityAddr, idRegs)
	id, err := p.DecodeIdentity(regs)
	if err != nil || id.Serial != "GC1-0007" || id.Model != "SHIAN-GC1" || id.Firmware != "256" {
		t.Fatalf("identity %+v %v", id, err)
	}
	bad := Registers{}
	bad.Put(Input, 0, append([]uint16{0xFF47}, idRegs[1:]...))
	if _, err := p.DecodeIdentity(bad); !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "FF47") {
		t.Errorf("wrong device id: %v", err)
	}
	at := time.Date(2026, 11, 28, 2, 15, 3, 0, time.UTC)
	for i, res := range []goldcard.Result{
		{Status: goldcard.StatusIdle | goldcard.StatusResultReady | 2<<8, Seq: 7, Ready: true, Item: 1, Mode: goldcard.ModeRatio, Verdict: goldcard.VerdictPositive, C: 42125, T: 9000, Time: at},
		{Status: goldcard.StatusIdle | goldcard.StatusResultReady | goldcard.StatusMeasuring | 1<<8, Seq: 65535, Ready: true, Item: 6, Mode: goldcard.ModeLine, Verdict: goldcard.VerdictNegative, C: 100000, T: 0},
		{Status: goldcard.StatusIdle, Seq: 12},
		{Status: goldcard.StatusFault | goldcard.StatusMeasuring, Seq: 0},
	} {
		block, err := res.Registers()
		if err != nil {
			t.Fatal(err)
		}
		want, err := goldcard.DecodeResult(block)
		if err != nil {
			t.Fatal(err)
		}
		regs := Registers{}
		regs.Put(Input, goldcard.ResultAddr, block)
		d, err := p.DecodeResult(regs, "")
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if d.Ready != want.Ready || d.Sequence != uint64(want.Seq) || d.Busy != (want.Status&goldcard.StatusMeasuring != 0) || d.Fault != (want.Status&goldcard.StatusFault != 0) {
			t.Errorf("case %d: state %+v, goldcard %+v", i, d, want)
		}
		if !want.Ready {
			continue
		}
		it, _ := goldcard.Lookup(want.Item)
		m := assay.GoldRatio
		if want.Mode == goldcard.ModeLine {
			m = assay.GoldLine
		}
		if *d.Raw.C != want.C || *d.Raw.T != want.T || d.Item != it.Name || d.Analyte != it.Analyte || d.Method != m || !d.Time.Equal(want.Time) {
			t.Errorf("case %d: decoded %+v C %v T %v, goldcard %+v", i, d, *d.Raw.C, *d.Raw.T, want)
		}
		// And back: the profile's encoding is the firmware's.
		enc := Registers{}
		if err := p.EncodeResult(d, enc); err != nil {
			t.Fatal(err)
		}
		for j, v := range block {
			addr := uint16(goldcard.ResultAddr + j)
			if addr == goldcard.RegStatus || addr == goldcard.RegVerdict || addr == goldcard.RegTC {
				continue // the queue count, the reader's own verdict and T/C: not in the profile
			}
			if got := enc[Ref{Input, addr}]; got != v {
				t.Errorf("case %d: encoded register %04X = %04X, firmware %04X", i, addr, got, v)
			}
		}
	}
	// An item code not in the table is refused.
	block, _ := goldcard.Result{Status: goldcard.StatusResultReady, Seq: 1, Ready: true, Item: 1, Mode: 1, Verdict: 1, C: 1, T: 1}.Registers()
	block[3] = 99
	regs = Registers{}
	regs.Put(Input, goldcard.ResultAddr, block)
	if _, err := p.DecodeResult(regs, ""); !errors.Is(err, ErrValue) {
		t.Errorf("item 99: %v", err)
	}
}

// TestATPMatchesAsciirpt: the SHIAN-ATP1 profile reads printed reports as
// protocols/device/asciirpt parses them, and refuses a damaged CHECK.
func TestATPMatchesAsciirpt(t *testing.T) {
	p := mustBuiltin(t, "SHIAN-ATP1")
	loc, _ := loadZone("Asia/Shanghai")
	r := asciirpt.Report{Kind: asciirpt.KindATP, Model: "SHIAN-ATP1", Serial: "ATP1-0001", No: 42,
		Time: time.Date(2026, 11, 28, 10, 15, 3, 0, loc), Point: "CB-01", RLU: 27}
	dec := p.NewTextDecoder()
	dec.Feed([]byte("noise\r\n\r\n"))
	dec.Feed(r.Bytes())
	if _, err := dec.Next(); !errors.Is(err, ErrFraming) {
		t.Fatalf("noise: %v", err)
	}
	msg, err := dec.Next()
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Match(msg, "")
	if err != nil {
		t.Fatal(err)
	}
	d := m.Result
	if m.Kind != KindResult || d.Serial != "ATP1-0001" || d.Sequence != 42 || d.SampleCode != "CB-01" || *d.Raw.RLU != 27 ||
		!d.Time.Equal(r.Time) || d.Method != assay.ATP || d.Item != "ATP表面洁净度" || d.Analyte != "atp" {
		t.Errorf("decoded %+v", d)
	}
	damaged := r.Bytes()
	damaged[60] ^= 1
	if _, err := p.Match(damaged, ""); !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrNoMatch) {
		t.Errorf("damaged report: %v", err)
	}
	id := asciirpt.Report{Kind: asciirpt.KindID, Model: "SHIAN-ATP1", Serial: "ATP1-0001", Firmware: "1.2"}
	if m, err := p.Match(id.Bytes(), ""); err != nil || m.Kind != KindIdentity || m.Ident.Firmware != "1.2" {
		t.Errorf("identity: %+v %v", m, err)
	}
	e := asciirpt.Report{Kind: asciirpt.KindErr, Model: "SHIAN-ATP1", Serial: "ATP1-0001", Code: "NOT-SUPPORTED"}
	if m, err := p.Match(e.Bytes(), ""); err != nil || m.Kind != KindError || m.Code != "NOT-SUPPORTED" {
		t.Errorf("error: %+v %v", m, err)
	}
	// A report cut short by silence.
	dec.Feed(r.Bytes()[:80])
	if _, err := dec.Next(); err != ErrIncomplete {
		t.Fatal(err)
	}
	if err := dec.Gap(); !errors.Is(err, ErrTruncated) {
		t.Errorf("gap: %v", err)
	}
}

func TestThermometerMethodByMode(t *testing.T) {
	p := mustBuiltin(t, "SHIAN-TP1")
	loc, _ := loadZone("Asia/Shanghai")
	r := asciirpt.Report{Kind: asciirpt.KindTemp, Model: "SHIAN-TP1", Serial: "TP1-0001", No: 3,
		Time: time.Date(2026, 11, 28, 10, 15, 3, 0, loc), Probe: "P1", Mode: asciirpt.ModeCold, Temp: -52 * 100}
	m, err := p.Match(r.Bytes(), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Result.Method != assay.ColdHolding || m.Result.Item != "冷藏温度" || *m.Result.Raw.CoreTemp != -5200 {
		t.Errorf("cold: %+v %v", m.Result, *m.Result.Raw.CoreTemp)
	}
	m, _ = p.Match(r.Bytes(), assay.CoreTemperature)
	if m.Result.Method != assay.CoreTemperature || m.Result.Item != "中心温度" {
		t.Errorf("fixed method: %+v", m.Result)
	}
}

// lanyu is the worked example of docs/profiles.md (kept in testdata so
// the document and the tests read the same file).
func lanyu(t testing.TB) *Profile {
	t.Helper()
	b, err := examples.ReadFile("examples/lanyu-gr20.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("lanyu-gr20.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRoundTrip: what EncodeResult writes, DecodeResult reads back — for
// float32 words in little order, signed scaled temperatures, date parts.
func TestRoundTrip(t *testing.T) {
	p := lanyu(t)
	d := Decoded{Ready: true, Sequence: 513, HasSequence: true, Method: assay.GoldRatio, ItemCode: "257", Item: "克伦特罗", Analyte: "clenbuterol",
		Raw: assay.Raw{C: assay.Ptr(measure.Intensity(61200)), T: assay.Ptr(measure.Intensity(23400)),
			AirTemp: assay.Ptr(measure.Temperature(-3500)), Humidity: assay.Ptr(measure.Percent(456000))},
		Time: time.Date(2026, 11, 28, 10, 15, 3, 0, p.Result.Time.Zone)}
	regs := Registers{}
	if err := p.EncodeResult(d, regs); err != nil {
		t.Fatal(err)
	}
	got, err := p.DecodeResult(regs, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 513 || *got.Raw.C != 61200 || *got.Raw.T != 23400 || *got.Raw.AirTemp != -3500 || *got.Raw.Humidity != 456000 ||
		got.Item != "克伦特罗" || !got.Time.Equal(d.Time) || got.Method != assay.GoldRatio {
		t.Errorf("round trip: %+v", got)
	}
	id := Ident{Serial: "LY208841"}
	idr := Registers{}
	if err := p.EncodeIdentity(id, idr); err != nil {
		t.Fatal(err)
	}
	if back, err := p.DecodeIdentity(idr); err != nil || back.Serial != "LY208841" {
		t.Errorf("identity %+v %v", back, err)
	}
}

// TestParseErrors: every kind of broken profile is refused with the line
// of the problem and what to do.
func TestParseErrors(t *testing.T) {
	base, err := examples.ReadFile("examples/lanyu-gr20.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(base)
	lineOf := func(s, sub string) int {
		i := strings.Index(s, sub)
		if i < 0 {
			t.Fatalf("%q not in the example", sub)
		}
		return strings.Count(s[:i], "\n") + 1
	}
	cases := []struct {
		name, old, new, want string
		at                   string // the line the error names (its text after the edit)
	}{
		{"overlapping register", "t: {register: 0x0005,", "t: {register: 0x0004,", "overlaps result.values.c", "t: {register: 0x0004,"},
		{"scale of 0", "scale: 0.1}   # T,", "scale: 0}   # T,", "scale is 0", "scale: 0}   # T,"},
		{"unknown method", "method: gold_ratio", "method: gold_magic", "is not a method", "method: gold_magic"},
		{"quantity the method needs", "    t: {register: 0x0005", "    x_t: {register: 0x0005", "not a raw quantity", "    x_t: {register: 0x0005"},
		{"missing quantity", "    t: {register: 0x0005, type: float32, word_order: little, scale: 0.1}   # T, 0–1000\n", "", "needs c and t", "  values:"},
		{"outside the read", "air_temp: {table: input, register: 0x0000", "air_temp: {table: input, register: 0x0008", "outside every block", "air_temp: {table: input, register: 0x0008"},
		{"unknown key", "poll_every: 1s", "poll_evry: 1s", `unknown key "poll_evry"`, "poll_evry: 1s"},
		{"bad transport", "kind: modbus-rtu", "kind: modbus-udp", "transport.kind", "kind: modbus-udp"},
		{"bad unit", "unit: 1", "unit: 300", "1…247", "unit: 300"},
		{"item not coded", "  item: {register: 0x0002}                 # item code, see items\n", "", "say where the item code is", "result:"},
		{"bad ack", "value: 1}", "value: one}", "sequence, or a number", "value: one}"},
		{"bad type", "type: s16, scale: 0.1}      # cabinet", "type: s24, scale: 0.1}      # cabinet", "u16, s16, u32, s32, float32", "type: s24"},
	}
	for _, c := range cases {
		edited := strings.Replace(src, c.old, c.new, 1)
		if edited == src {
			t.Fatalf("%s: %q not in the example", c.name, c.old)
		}
		_, err := Parse("lanyu-gr20.yaml", []byte(edited))
		var pe *Error
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := lineOf(edited, c.at)
		found := false
		for _, e := range strings.Split(err.Error(), "\n") {
			if strings.Contains(e, c.want) && strings.HasPrefix(e, "lanyu-gr20.yaml:") {
				found = true
				if !strings.HasPrefix(e, "lanyu-gr20.yaml:"+strconv.Itoa(want)+":") {
					t.Errorf("%s: %q: want line %d", c.name, e, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: %v lacks %q", c.name, err, c.want)
		}
	}
	// Text profiles: a pattern that does not compile, a group not there.
	atp, _ := builtinFS.ReadFile("builtin/shian-atp1.yaml")
	for _, c := range []struct{ old, new, want string }{
		{"(?P<rlu>0|[1-9][0-9]{0,6}) RLU", "(?P<rlu>0|[1-9][0-9]{0,6} RLU", "missing closing )"},
		{"rlu: {group: rlu}", "rlu: {group: count}", "has no group (?P<count>"},
		{"algorithm: crc16-ccitt-false", "algorithm: crc32", "checksum.algorithm"},
	} {
		_, err := Parse("shian-atp1.yaml", []byte(strings.Replace(string(atp), c.old, c.new, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "shian-atp1.yaml:") {
			t.Errorf("%q: %v", c.new, err)
		}
	}
}

func TestLoadDir(t *testing.T) {
	lanyuYAML, _ := examples.ReadFile("examples/lanyu-gr20.yaml")
	gc1, _ := builtinFS.ReadFile("builtin/shian-gc1.yaml")
	fsys := fstest.MapFS{
		"lanyu-gr20.yaml": {Data: lanyuYAML},
		"gc1-local.yml":   {Data: []byte(strings.Replace(string(gc1), "reply_timeout: 300ms", "reply_timeout: 500ms", 1))},
		"README.txt":      {Data: []byte("not a profile")},
	}
	lib, err := Load(fsys, "/etc/shian/profiles")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := lib.Lookup("LANYU-GR20"); err != nil || p.File != "/etc/shian/profiles/lanyu-gr20.yaml" {
		t.Errorf("LANYU-GR20: %v", err)
	}
	if p, _ := lib.Lookup("SHIAN-GC1"); p.Transport.ReplyTimeout != 500*time.Millisecond || len(lib.Overridden) != 1 {
		t.Errorf("a local profile replaces the built-in one: %v %v", p.Transport.ReplyTimeout, lib.Overridden)
	}
	if _, err := Builtin().Lookup("LANYU-GR20"); err == nil {
		t.Error("loading a directory changed the built-in library")
	}
	fsys["broken.yaml"] = &fstest.MapFile{Data: []byte("profile: X-1\ntransport: {kind: text}\nresult: {match: '('}\n")}
	fsys["dup.yaml"] = &fstest.MapFile{Data: lanyuYAML}
	_, err = Load(fsys, "/etc/shian/profiles")
	if err == nil || !strings.Contains(err.Error(), "/etc/shian/profiles/broken.yaml:3:") || !strings.Contains(err.Error(), "is also in") {
		t.Errorf("broken directory: %v", err)
	}
}

// TestDocsExample: the worked example in docs/profiles.md is the file the
// tests read, word for word.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/profiles.md")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := examples.ReadFile("examples/lanyu-gr20.yaml")
	if !strings.Contains(string(doc), "```yaml\n"+string(file)+"```") {
		t.Error("docs/profiles.md's worked example differs from protocols/device/profile/examples/lanyu-gr20.yaml; copy the file into the document")
	}
}
