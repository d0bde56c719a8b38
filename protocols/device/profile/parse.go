package profile

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/shianfood/shian/protocols/device/modbus"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Error is one problem of a profile, at a line of its file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrInvalid is matched by every *Error (errors.Is).
var ErrInvalid = errors.New("profile: invalid profile")

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// MaxSize is the largest profile file accepted.
const MaxSize = 64 << 10

type parser struct {
	file    string
	errs    []error
	lineEnd string // the transport's, for patterns given one per line
}

func (p *parser) fail(line int, format string, a ...any) {
	if len(p.errs) < 50 {
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// obj is a YAML mapping being read: every key must be read or it is
// reported as unknown.
type obj struct {
	p    *parser
	n    *yaml.Node
	at   string
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
	used map[string]bool
}

func (p *parser) obj(n *yaml.Node, at string) *obj {
	o := &obj{p: p, n: n, at: at, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}, used: map[string]bool{}}
	if n == nil {
		return o
	}
	if n.Kind != yaml.MappingNode {
		p.fail(line(n), "%s: want a mapping (key: value lines), not %s", at, kindName(n))
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := o.vals[k.Value]; dup {
			p.fail(k.Line, "%s.%s is given twice", at, k.Value)
		}
		o.vals[k.Value], o.keys[k.Value] = v, k
	}
	return o
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", clip(n.Value))
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func (o *obj) get(key string) *yaml.Node {
	o.used[key] = true
	v := o.vals[key]
	if v != nil && v.Kind == yaml.AliasNode {
		o.p.fail(v.Line, "%s.%s: YAML aliases are not allowed in a profile", o.at, key)
		return nil
	}
	return v
}

func (o *obj) has(key string) bool { return o.vals[key] != nil }

// keyLine is the line of key in this mapping (0 when absent).
func (o *obj) keyLine(key string) int {
	if k := o.keys[key]; k != nil {
		return k.Line
	}
	return 0
}

// done reports the keys nobody read.
func (o *obj) done() {
	var unknown []string
	for k := range o.vals {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	known := sortedKeys(o.used)
	for _, k := range unknown {
		o.p.fail(o.keys[k].Line, "%s: unknown key %q (known here: %s)", o.at, k, strings.Join(known, ", "))
	}
}

func (o *obj) scalar(key string) (string, int, bool) {
	v := o.get(key)
	if v == nil {
		return "", 0, false
	}
	if v.Kind != yaml.ScalarNode {
		o.p.fail(v.Line, "%s.%s: want a value, not %s", o.at, key, kindName(v))
		return "", v.Line, false
	}
	return v.Value, v.Line, true
}

func (o *obj) str(key string, max int) string {
	s, l, ok := o.scalar(key)
	if ok && len(s) > max {
		o.p.fail(l, "%s.%s: at most %d bytes", o.at, key, max)
		return s[:max]
	}
	return s
}

func (o *obj) uint(key string, def, lo, hi uint64) (uint64, int) {
	s, l, ok := o.scalar(key)
	if !ok {
		return def, l
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil || n < lo || n > hi {
		o.p.fail(l, "%s.%s: %q: want a whole number %d…%d (0x… for hexadecimal)", o.at, key, clip(s), lo, hi)
		return def, l
	}
	return n, l
}

func (o *obj) dur(key string, def time.Duration) time.Duration {
	s, l, ok := o.scalar(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > time.Hour {
		o.p.fail(l, "%s.%s: %q: want a duration like 1s or 300ms (at most 1h)", o.at, key, clip(s))
		return def
	}
	return d
}

// Parse reads one profile. name is the file's name for messages. Every
// problem found is reported, each as an *Error with its line, joined.
func Parse(name string, b []byte) (*Profile, error) {
	p := &parser{file: name}
	if len(b) > MaxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("%d bytes; a profile is at most %d", len(b), MaxSize)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		l := 0
		if strings.HasPrefix(msg, "line ") {
			fmt.Sscanf(msg, "line %d:", &l)
			if i := strings.Index(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
		}
		return nil, &Error{File: name, Line: l, Msg: msg}
	}
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Msg: "the file is empty; see docs/profiles.md for an example"}
	}
	pr := p.profile(root.Content[0])
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b error) int { return a.(*Error).Line - b.(*Error).Line })
		return nil, errors.Join(p.errs...)
	}
	return pr, nil
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._]*(-[A-Za-z0-9._]+)+$`)

func (p *parser) profile(n *yaml.Node) *Profile {
	o := p.obj(n, "profile")
	pr := &Profile{File: p.file}
	var l int
	pr.Name, l, _ = o.scalar("profile")
	switch {
	case !o.has("profile"):
		p.fail(line(n), "profile: the profile's name is required (profile: VENDOR-MODEL, e.g. LANYU-GR20)")
	case len(pr.Name) > 64 || !nameRe.MatchString(pr.Name):
		p.fail(l, "profile %q: name it VENDOR-MODEL (letters, digits, . _, parts joined by -, at most 64)", clip(pr.Name))
	}
	pr.Vendor = o.str("vendor", 64)
	pr.Model = o.str("model", 64)
	if pr.Model == "" {
		pr.Model = pr.Name
	}
	pr.Description = o.str("description", 512)
	pr.Transport = p.transport(o.get("transport"), line(n))
	p.lineEnd = pr.Transport.LineEnd
	if !o.has("transport") {
		return pr
	}
	kind := pr.Transport.Kind
	pr.Items = p.items(o.get("items"), kind)
	if o.has("identity") {
		pr.Identity = p.identity(o.get("identity"), kind)
	}
	rn := o.get("result")
	if rn == nil {
		p.fail(line(n), "result: the profile must say where a result is (result:)")
	} else {
		pr.Result = p.result(rn, o.keyLine("result"), kind, pr.Items)
	}
	if o.has("error") {
		if kind != Text {
			p.fail(line(o.get("error")), "error: only a text profile has error reports")
		} else {
			eo := p.obj(o.get("error"), "error")
			pr.Error = &TextError{Match: p.pattern(eo, "match", p.lineEnd)}
			pr.Error.Code = p.group(eo, "code", pr.Error.Match)
			eo.done()
		}
	}
	if o.has("trigger") {
		pr.Trigger = p.trigger(o.get("trigger"), "trigger", kind, pr)
	}
	o.done()
	if len(p.errs) == 0 {
		p.checkRegisters(pr)
	}
	return pr
}

func (p *parser) transport(n *yaml.Node, at int) Transport {
	o := p.obj(n, "transport")
	t := Transport{Baud: 9600, DataBits: 8, Parity: "N", StopBits: 1, Unit: 1, PollEvery: time.Second,
		ReplyTimeout: 300 * time.Millisecond, LineEnd: "\r\n", MaxLine: 256}
	if n == nil {
		p.fail(at, "transport: required (kind: modbus-rtu, modbus-tcp or text)")
		return t
	}
	k, l, _ := o.scalar("kind")
	t.Kind = Kind(k)
	if !slices.Contains(Kinds(), t.Kind) {
		p.fail(max(l, line(n)), "transport.kind %q: one of %v", clip(k), Kinds())
	}
	serial := t.Kind == ModbusRTU || t.Kind == Text
	if serial {
		b, _ := o.uint("baud", 9600, 300, 4000000)
		t.Baud = int(b)
		d, _ := o.uint("data_bits", 8, 7, 8)
		t.DataBits = int(d)
		s, _ := o.uint("stop_bits", 1, 1, 2)
		t.StopBits = int(s)
		if par, l, ok := o.scalar("parity"); ok {
			if par != "N" && par != "E" && par != "O" {
				p.fail(l, "transport.parity %q: N (none), E (even) or O (odd)", clip(par))
			}
			t.Parity = par
		}
	}
	if t.Kind.Modbus() {
		u, _ := o.uint("unit", 1, 1, modbus.MaxSlave)
		t.Unit = uint8(u)
		t.PollEvery = o.dur("poll_every", t.PollEvery)
		t.ReplyTimeout = o.dur("reply_timeout", t.ReplyTimeout)
	}
	if t.Kind == Text {
		t.ReplyTimeout = time.Second
		if s, l, ok := o.scalar("line_end"); ok {
			switch s {
			case "crlf":
				t.LineEnd = "\r\n"
			case "lf":
				t.LineEnd = "\n"
			case "cr":
				t.LineEnd = "\r"
			default:
				p.fail(l, "transport.line_end %q: crlf, lf or cr", clip(s))
			}
		}
		m, _ := o.uint("max_line", 256, 8, 4096)
		t.MaxLine = int(m)
		if o.has("block") {
			bo := p.obj(o.get("block"), "transport.block")
			t.Block = &Block{Begin: p.regex(bo, "begin"), End: p.regex(bo, "end"), Timeout: bo.dur("timeout", 2*time.Second)}
			ml, _ := bo.uint("max_lines", 32, 2, 256)
			t.Block.MaxLines = int(ml)
			bo.done()
		}
		if o.has("probe") {
			po := p.obj(o.get("probe"), "transport.probe")
			t.Probe = &Probe{Send: po.str("send", 64), Every: po.dur("every", 30*time.Second), ReplyTimeout: po.dur("reply_timeout", time.Second)}
			if t.Probe.Send == "" {
				p.fail(line(o.get("probe")), "transport.probe.send: what to send (e.g. \"?ID\\r\\n\")")
			}
			po.done()
		}
	}
	o.done()
	return t
}

func (p *parser) regex(o *obj, key string) *regexp.Regexp {
	s, l, ok := o.scalar(key)
	if !ok {
		p.fail(line(o.n), "%s.%s: a regular expression is required", o.at, key)
		return regexp.MustCompile(`^\b$`) // matches nothing
	}
	re, err := regexp.Compile(s)
	if err != nil {
		p.fail(l, "%s.%s: %v", o.at, key, err)
		return regexp.MustCompile(`^\b$`)
	}
	return re
}

// pattern reads a message pattern: one regular expression, or a list of
// one per line (joined by the line end, each line ended by it).
func (p *parser) pattern(o *obj, key, lineEnd string) *Pattern {
	n := o.get(key)
	if n == nil {
		p.fail(line(o.n), "%s.%s: the pattern of the message is required", o.at, key)
		return &Pattern{Re: regexp.MustCompile(`^\b$`)}
	}
	var src string
	switch n.Kind {
	case yaml.ScalarNode:
		src = n.Value
	case yaml.SequenceNode:
		if len(n.Content) == 0 || len(n.Content) > 256 {
			p.fail(n.Line, "%s.%s: one pattern per line, 1…256 lines", o.at, key)
		}
		var b strings.Builder
		b.WriteString("^")
		for _, ln := range n.Content {
			if ln.Kind != yaml.ScalarNode {
				p.fail(ln.Line, "%s.%s: each line is a regular expression", o.at, key)
				continue
			}
			if _, err := regexp.Compile(ln.Value); err != nil {
				p.fail(ln.Line, "%s.%s: %v", o.at, key, err)
				continue
			}
			b.WriteString("(?:" + ln.Value + ")" + regexp.QuoteMeta(lineEnd))
		}
		b.WriteString("$")
		src = b.String()
	default:
		p.fail(n.Line, "%s.%s: a regular expression, or a list of one per line", o.at, key)
		return &Pattern{Re: regexp.MustCompile(`^\b$`)}
	}
	re, err := regexp.Compile(src)
	if err != nil {
		p.fail(n.Line, "%s.%s: %v", o.at, key, err)
		return &Pattern{Re: regexp.MustCompile(`^\b$`), Line: n.Line}
	}
	return &Pattern{Re: re, Line: n.Line}
}

// group reads {group: name} and checks the pattern has the group.
func (p *parser) group(o *obj, key string, pat *Pattern) *Field {
	n := o.get(key)
	if n == nil {
		return nil
	}
	f := p.field(n, o.at+"."+key, Text, nil)
	p.checkGroup(f, pat, o.at+"."+key)
	return f
}

func (p *parser) checkGroup(f *Field, pat *Pattern, at string) {
	if f == nil || pat == nil || f.Group == "" {
		return
	}
	if pat.Re.SubexpIndex(f.Group) < 0 {
		p.fail(f.Line, "%s: the pattern (line %d) has no group (?P<%s>…)", at, pat.Line, f.Group)
	}
}

func (p *parser) rat(o *obj, key string) *big.Rat {
	s, l, ok := o.scalar(key)
	if !ok {
		return nil
	}
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || len(s) > 40 {
		p.fail(l, "%s.%s %q: want a number like 0.1 or -40", o.at, key, clip(s))
		return nil
	}
	if key == "scale" && r.Sign() == 0 {
		p.fail(l, "%s.scale is 0: every value would read 0 (leave it out for 1)", o.at)
	}
	return r
}

// field reads where one value is. kind decides Modbus or text; def, when
// set, gives the type a register field takes without one.
func (p *parser) field(n *yaml.Node, at string, kind Kind, def *Field) *Field {
	o := p.obj(n, at)
	f := &Field{Line: line(n), Table: Holding, Type: U16}
	if def != nil {
		f.Type, f.Table = def.Type, def.Table
	}
	if kind == Text {
		g, l, ok := o.scalar("group")
		if !ok || g == "" {
			p.fail(max(l, f.Line), "%s: name the regular expression's group (group: name)", at)
		}
		f.Group = g
		if s, l, ok := o.scalar("format"); ok {
			switch s {
			case "hex":
				f.Hex = true
			case "decimal":
			default:
				p.fail(l, "%s.format %q: decimal or hex", at, clip(s))
			}
		}
	} else {
		r, _ := o.uint("register", 0, 0, 0xFFFF)
		if !o.has("register") {
			p.fail(f.Line, "%s: register is required (its address, e.g. 0x0016)", at)
		}
		f.Register = uint16(r)
		if s, l, ok := o.scalar("table"); ok {
			switch s {
			case "holding":
				f.Table = Holding
			case "input":
				f.Table = Input
			default:
				p.fail(l, "%s.table %q: holding (function 03) or input (function 04)", at, clip(s))
			}
		}
		if s, l, ok := o.scalar("type"); ok {
			f.Type = Type(s)
			if !slices.Contains([]Type{U16, S16, U32, S32, Float32, ASCII}, f.Type) {
				p.fail(l, "%s.type %q: u16, s16, u32, s32, float32 or ascii", at, clip(s))
			}
		}
		if f.Type == ASCII {
			c, _ := o.uint("count", 1, 1, 64)
			f.Count = int(c)
		}
		for _, k := range []string{"word_order", "byte_order"} {
			if s, l, ok := o.scalar(k); ok {
				if s != "big" && s != "little" {
					p.fail(l, "%s.%s %q: big (high first, the Modbus default) or little", at, k, clip(s))
				}
				if k == "word_order" {
					f.WordLow = s == "little"
					if f.Type.Words() < 2 {
						p.fail(l, "%s.word_order: a %s takes one register", at, f.Type)
					}
				} else {
					f.ByteLow = s == "little"
				}
			}
		}
	}
	f.Scale = p.rat(o, "scale")
	f.Offset = p.rat(o, "offset")
	o.done()
	return f
}

func (p *parser) items(n *yaml.Node, kind Kind) map[string]Item {
	out := map[string]Item{}
	if n == nil {
		return out
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, "items: a mapping of item code → {analyte, name}")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		code := k.Value
		if kind.Modbus() {
			c, err := strconv.ParseUint(k.Value, 0, 16)
			if err != nil {
				p.fail(k.Line, "items: %q: a register's item code is a number 0…65535 (0x… for hexadecimal)", clip(k.Value))
				continue
			}
			code = strconv.FormatUint(c, 10)
		}
		if _, dup := out[code]; dup {
			p.fail(k.Line, "items: code %s is listed twice", code)
		}
		o := p.obj(v, "items."+k.Value)
		it := Item{Code: code, Analyte: o.str("analyte", 64), Name: o.str("name", 64)}
		if it.Analyte == "" || it.Name == "" {
			p.fail(v.Line, "items.%s: give analyte (e.g. clenbuterol) and name (e.g. 克伦特罗)", k.Value)
		}
		o.done()
		out[code] = it
	}
	if len(out) > 1024 {
		p.fail(n.Line, "items: at most 1024")
	}
	return out
}

func (p *parser) reads(o *obj, key string) []Read {
	n := o.get(key)
	if n == nil {
		p.fail(line(o.n), "%s.%s: the registers to read are required ({table, start, count})", o.at, key)
		return nil
	}
	list := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		list = n.Content
	}
	if len(list) == 0 || len(list) > 8 {
		p.fail(n.Line, "%s.%s: 1…8 blocks", o.at, key)
	}
	var out []Read
	for i, rn := range list {
		ro := p.obj(rn, fmt.Sprintf("%s.%s[%d]", o.at, key, i))
		r := Read{Table: Holding, Line: line(rn)}
		if s, l, ok := ro.scalar("table"); ok {
			switch s {
			case "holding":
			case "input":
				r.Table = Input
			default:
				p.fail(l, "%s.table %q: holding or input", ro.at, clip(s))
			}
		}
		st, _ := ro.uint("start", 0, 0, 0xFFFF)
		c, l := ro.uint("count", 1, 1, modbus.MaxReadQty)
		if !ro.has("count") {
			p.fail(r.Line, "%s: count is required (1…%d registers)", ro.at, modbus.MaxReadQty)
		}
		if st+c > 0x10000 {
			p.fail(l, "%s: start 0x%04X + count %d runs past register 0xFFFF", ro.at, st, c)
		}
		r.Start, r.Count = uint16(st), uint16(c)
		ro.done()
		out = append(out, r)
	}
	return out
}

func (p *parser) cond(n *yaml.Node, at string) *Cond {
	o := p.obj(n, at)
	c := &Cond{Field: Field{Table: Holding, Type: U16, Line: line(n)}, Bit: -1}
	r, _ := o.uint("register", 0, 0, 0xFFFF)
	if !o.has("register") {
		p.fail(line(n), "%s: register is required", at)
	}
	c.Field.Register = uint16(r)
	if s, l, ok := o.scalar("table"); ok {
		switch s {
		case "holding":
		case "input":
			c.Field.Table = Input
		default:
			p.fail(l, "%s.table %q: holding or input", at, clip(s))
		}
	}
	switch {
	case o.has("bit") && o.has("equals"):
		p.fail(line(n), "%s: give bit or equals, not both", at)
	case o.has("bit"):
		b, _ := o.uint("bit", 0, 0, 15)
		c.Bit = int(b)
	case o.has("equals"):
		e, _ := o.uint("equals", 0, 0, 0xFFFF)
		c.Equals = uint16(e)
	default:
		p.fail(line(n), "%s: give the status bit (bit: 0…15) or the value (equals: 1)", at)
	}
	o.done()
	return c
}

func (p *parser) identity(n *yaml.Node, kind Kind) *Identity {
	o := p.obj(n, "identity")
	id := &Identity{Line: line(n)}
	text := kind == Text
	if text {
		id.Match = p.pattern(o, "match", p.lineEnd)
	} else {
		id.Reads = p.reads(o, "read")
	}
	if en := o.get("expect"); en != nil {
		if text {
			eo := p.obj(en, "identity.expect")
			id.ExpectIn = map[string]string{}
			for _, k := range sortedKeys(eo.vals) {
				v, _, _ := eo.scalar(k)
				id.ExpectIn[k] = v
				if id.Match != nil && id.Match.Re.SubexpIndex(k) < 0 {
					p.fail(eo.keys[k].Line, "identity.expect.%s: the identity pattern has no group %s", k, k)
				}
			}
			eo.done()
		} else {
			list := []*yaml.Node{en}
			if en.Kind == yaml.SequenceNode {
				list = en.Content
			}
			for i, cn := range list {
				c := p.cond(cn, fmt.Sprintf("identity.expect[%d]", i))
				if c.Bit >= 0 {
					p.fail(c.Field.Line, "identity.expect[%d]: an identity register is compared with equals, not a bit", i)
				}
				id.Expect = append(id.Expect, *c)
			}
		}
	}
	for _, k := range []struct {
		key string
		dst **Field
	}{{"serial", &id.Serial}, {"model", &id.Model}, {"firmware", &id.Firmware}} {
		if fn := o.get(k.key); fn != nil {
			def := &Field{Type: U16, Table: Holding}
			if len(id.Reads) > 0 {
				def.Table = id.Reads[0].Table
			}
			if k.key != "firmware" {
				def.Type = ASCII
			}
			*k.dst = p.field(fn, "identity."+k.key, kind, def)
			if text {
				p.checkGroup(*k.dst, id.Match, "identity."+k.key)
			}
		}
	}
	o.done()
	return id
}

func (p *parser) result(n *yaml.Node, at int, kind Kind, items map[string]Item) Result {
	o := p.obj(n, "result")
	n = &yaml.Node{Kind: n.Kind, Line: at, Content: n.Content} // errors about the whole result name its key's line
	o.n = n
	var r Result
	text := kind == Text
	var pat *Pattern
	def := &Field{Type: U16, Table: Holding}
	if text {
		pat = p.pattern(o, "match", p.lineEnd)
		r.Match = pat
		if cn := o.get("checksum"); cn != nil {
			co := p.obj(cn, "result.checksum")
			r.Checksum = &Checksum{Line: line(cn)}
			r.Checksum.Algorithm = co.str("algorithm", 32)
			if !slices.Contains(ChecksumAlgorithms(), r.Checksum.Algorithm) {
				p.fail(line(cn), "result.checksum.algorithm %q: one of %v", clip(r.Checksum.Algorithm), ChecksumAlgorithms())
			}
			r.Checksum.Value = co.str("value", 64)
			if r.Checksum.Value == "" || pat.Re.SubexpIndex(r.Checksum.Value) < 0 {
				p.fail(line(cn), "result.checksum.value: the group holding the check value, and the pattern must have it")
			}
			over := co.str("over", 64)
			if over != "" && over != "preceding_lines" && pat.Re.SubexpIndex(over) < 0 {
				p.fail(line(cn), "result.checksum.over %q: a group of the pattern, or preceding_lines", clip(over))
			}
			if over == "preceding_lines" {
				over = ""
			}
			r.Checksum.Over = over
			co.done()
		}
	} else {
		r.Reads = p.reads(o, "read")
		if len(r.Reads) > 0 {
			def.Table = r.Reads[0].Table
		}
	}
	fld := func(key string, d *Field) *Field {
		fn := o.get(key)
		if fn == nil {
			return nil
		}
		f := p.field(fn, "result."+key, kind, d)
		if text {
			p.checkGroup(f, pat, "result."+key)
		}
		return f
	}
	if rn := o.get("ready"); rn != nil {
		if text {
			p.fail(rn.Line, "result.ready: a text result is ready when its pattern matches (leave ready out)")
		} else if rn.Kind == yaml.ScalarNode && rn.Value == "sequence_changes" {
			r.ReadyOnSequence = true
		} else {
			r.Ready = p.cond(rn, "result.ready")
		}
	} else if !text {
		p.fail(line(n), "result.ready: say how a result becomes ready: a status bit ({register, bit}), a value ({register, equals}), or sequence_changes")
	}
	if bn := o.get("busy"); bn != nil {
		r.Busy = p.cond(bn, "result.busy")
	}
	if fn := o.get("fault"); fn != nil {
		r.Fault = p.cond(fn, "result.fault")
	}
	r.Sequence = fld("sequence", def)
	if r.ReadyOnSequence && r.Sequence == nil {
		p.fail(line(o.get("ready")), "result.ready: sequence_changes needs result.sequence")
	}
	str := &Field{Type: ASCII, Table: def.Table}
	r.Serial = fld("serial", str)
	r.Model = fld("model", str)
	r.SampleCode = fld("sample_code", str)
	r.SampleName = fld("sample_name", str)
	if !text {
		for k, f := range map[string]*Field{"serial": r.Serial, "model": r.Model, "sample_code": r.SampleCode, "sample_name": r.SampleName} {
			if f != nil && f.Type != ASCII {
				p.fail(f.Line, "result.%s: a register text field has type ascii and a count", k)
			}
		}
	}
	r.Method = p.methodSel(o, kind, pat, def)
	r.Item = p.itemSel(o, kind, pat, def, items, r.Method)
	if tn := o.get("time"); tn != nil {
		r.Time = p.timeSel(tn, kind, pat, def)
	}
	r.Values = map[string]Field{}
	if vn := o.get("values"); vn != nil {
		vo := p.obj(vn, "result.values")
		for _, k := range sortedKeys(vo.vals) {
			if _, ok := quantities[k]; !ok {
				vo.get(k)
				p.fail(vo.keys[k].Line, "result.values: %q is not a raw quantity (known: %s)", k, strings.Join(Quantities(), ", "))
				continue
			}
			f := p.field(vo.get(k), "result.values."+k, kind, def)
			if f.Type == ASCII {
				p.fail(f.Line, "result.values.%s: a quantity is a number (u16, s16, u32, s32, float32)", k)
			}
			if text {
				p.checkGroup(f, pat, "result.values."+k)
			}
			r.Values[k] = *f
		}
		vo.done()
	}
	for _, m := range r.Method.Methods() {
		if m == "" {
			continue
		}
		if miss := missing(m, r.Values); miss != "" {
			p.fail(max(o.keyLine("values"), line(n)), "result: method %s needs %s, which result.values does not give", m, miss)
		}
	}
	if an := o.get("ack"); an != nil {
		r.Ack = p.ack(an, kind, r.Sequence)
	} else if kind.Modbus() {
		p.fail(line(n), "result.ack: say how a result is acknowledged ({write: REGISTER, value: sequence}) or ack: none")
	}
	o.done()
	return r
}

func (p *parser) ack(n *yaml.Node, kind Kind, seq *Field) *Ack {
	if n.Kind == yaml.ScalarNode && n.Value == "none" {
		return nil
	}
	if kind == Text {
		p.fail(n.Line, "result.ack: a text device is not acknowledged (ack: none, or leave it out)")
		return nil
	}
	o := p.obj(n, "result.ack")
	a := &Ack{Line: line(n)}
	w, _ := o.uint("write", 0, 0, 0xFFFF)
	if !o.has("write") {
		p.fail(line(n), "result.ack.write: the holding register to write")
	}
	a.Register = uint16(w)
	v, l, ok := o.scalar("value")
	switch {
	case !ok:
		p.fail(line(n), "result.ack.value: sequence, or a number")
	case v == "sequence":
		a.Sequence = true
		if seq == nil {
			p.fail(l, "result.ack.value: sequence needs result.sequence")
		}
	default:
		c, err := strconv.ParseUint(v, 0, 16)
		if err != nil {
			p.fail(l, "result.ack.value %q: sequence, or a number 0…65535", clip(v))
		}
		a.ValueConst = uint16(c)
	}
	o.done()
	return a
}

func (p *parser) methodSel(o *obj, kind Kind, pat *Pattern, def *Field) MethodSel {
	n := o.get("method")
	ms := MethodSel{Line: line(n)}
	if n == nil {
		p.fail(line(o.n), "result.method: the method whose rule decides (one of %v), or {register/group, map}", assay.Methods())
		return ms
	}
	known := func(s string, l int) assay.Method {
		m := assay.Method(s)
		if !slices.Contains(assay.Methods(), m) {
			p.fail(l, "result.method %q is not a method (known: %v)", clip(s), assay.Methods())
			return ""
		}
		return m
	}
	if n.Kind == yaml.ScalarNode {
		ms.Fixed = known(n.Value, n.Line)
		ms.Default = ms.Fixed
		return ms
	}
	mo := p.obj(n, "result.method")
	mn := mo.get("map")
	if mn == nil || mn.Kind != yaml.MappingNode || len(mn.Content) == 0 {
		p.fail(line(n), "result.method.map: code → method, e.g. {0: gold_line, 1: gold_ratio}")
	}
	ms.Map = map[string]assay.Method{}
	if mn != nil && mn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(mn.Content); i += 2 {
			k, v := mn.Content[i], mn.Content[i+1]
			code := k.Value
			if kind.Modbus() {
				c, err := strconv.ParseUint(k.Value, 0, 16)
				if err != nil {
					p.fail(k.Line, "result.method.map: %q: a register's code is a number", clip(k.Value))
				}
				code = strconv.FormatUint(c, 10)
			}
			ms.Map[code] = known(v.Value, v.Line)
		}
	}
	if d, l, ok := mo.scalar("default"); ok {
		ms.Default = known(d, l)
		if _, has := ms.Code(ms.Default); !has && ms.Default != "" {
			p.fail(l, "result.method.default %s is not in the map", d)
		}
	} else if len(ms.Map) > 0 {
		ms.Default = ms.Map[sortedKeys(ms.Map)[0]]
	}
	f := p.sourceField(mo, kind, pat, def, "result.method")
	ms.From = f
	mo.done()
	return ms
}

// sourceField reads the register or group a code comes from, written in
// the selector's own mapping ({register: 0x14, map: …} or {group: mode, …}).
func (p *parser) sourceField(o *obj, kind Kind, pat *Pattern, def *Field, at string) *Field {
	f := &Field{Line: line(o.n), Table: def.Table, Type: U16}
	if kind == Text {
		g, l, ok := o.scalar("group")
		if !ok || g == "" {
			p.fail(max(l, f.Line), "%s: group: the regular expression's group holding the code", at)
		}
		f.Group = g
		p.checkGroup(f, pat, at)
		return f
	}
	r, _ := o.uint("register", 0, 0, 0xFFFF)
	if !o.has("register") {
		p.fail(f.Line, "%s: register: the register holding the code", at)
	}
	f.Register = uint16(r)
	if s, l, ok := o.scalar("table"); ok {
		switch s {
		case "holding":
			f.Table = Holding
		case "input":
			f.Table = Input
		default:
			p.fail(l, "%s.table %q: holding or input", at, clip(s))
		}
	}
	return f
}

func (p *parser) itemSel(o *obj, kind Kind, pat *Pattern, def *Field, items map[string]Item, ms MethodSel) *Selector {
	n := o.get("item")
	if n == nil {
		if len(items) > 0 && n == nil {
			p.fail(line(o.n), "result.item: the profile lists items; say where the item code is (item: {register: …} or {group: …})")
		}
		return nil
	}
	s := &Selector{Line: line(n)}
	io := p.obj(n, "result.item")
	switch {
	case io.has("name"):
		s.Const = io.str("name", 64)
		a := io.str("analyte", 64)
		if s.Const == "" || a == "" {
			p.fail(line(n), "result.item: a fixed item needs name and analyte")
		}
		items[""] = Item{Analyte: a, Name: s.Const}
	case io.has("from"):
		if v, l, _ := io.scalar("from"); v != "method" {
			p.fail(l, "result.item.from %q: method (the items are keyed by method)", clip(v))
		}
		s.FromMethod = true
		for _, m := range ms.Methods() {
			if _, ok := items[string(m)]; !ok && m != "" {
				p.fail(line(n), "result.item: from method, but items has no entry %s", m)
			}
		}
	default:
		s.Field = p.sourceField(io, kind, pat, def, "result.item")
		if len(items) == 0 || (len(items) == 1 && items[""] != Item{}) {
			p.fail(line(n), "result.item: the item code needs an items table (items: {CODE: {analyte, name}})")
		}
	}
	io.done()
	return s
}

var timeParts = []string{"year", "month", "day", "hour", "minute", "second"}

func (p *parser) timeSel(n *yaml.Node, kind Kind, pat *Pattern, def *Field) *TimeSel {
	o := p.obj(n, "result.time")
	t := &TimeSel{Line: line(n), Zone: time.UTC}
	if z, l, ok := o.scalar("zone"); ok {
		loc, err := loadZone(z)
		if err != nil {
			p.fail(l, "result.time.zone %q: %v (e.g. Asia/Shanghai, or +08:00)", clip(z), err)
		} else {
			t.Zone = loc
		}
	}
	switch {
	case kind == Text:
		gn := o.get("groups")
		if gn == nil || gn.Kind != yaml.SequenceNode || len(gn.Content) == 0 {
			p.fail(line(n), "result.time.groups: the groups holding the date and time, e.g. [date, time]")
		} else {
			for _, g := range gn.Content {
				t.Groups = append(t.Groups, g.Value)
				if pat != nil && pat.Re.SubexpIndex(g.Value) < 0 {
					p.fail(g.Line, "result.time.groups: the pattern has no group %s", g.Value)
				}
			}
		}
		t.Layout = o.str("layout", 64)
		if t.Layout == "" {
			p.fail(line(n), "result.time.layout: how the groups read, in Go's layout (e.g. \"2006-01-02 15:04:05\")")
		}
	case o.has("format"):
		f, l, _ := o.scalar("format")
		if f != "unix" {
			p.fail(l, "result.time.format %q: unix (seconds since 1970, 0 = clock not set); or give year, month, day, hour, minute, second registers", clip(f))
		}
		fd := &Field{Type: U32, Table: def.Table}
		r, _ := o.uint("register", 0, 0, 0xFFFF)
		if !o.has("register") {
			p.fail(line(n), "result.time.register: the register of the seconds")
		}
		fd.Register, fd.Line = uint16(r), line(n)
		if s, l, ok := o.scalar("type"); ok {
			fd.Type = Type(s)
			if fd.Type != U32 && fd.Type != S32 {
				p.fail(l, "result.time.type %q: u32 or s32", clip(s))
			}
		}
		if s, l, ok := o.scalar("word_order"); ok {
			if s != "big" && s != "little" {
				p.fail(l, "result.time.word_order %q: big or little", clip(s))
			}
			fd.WordLow = s == "little"
		}
		if s, ok := o.get("table"), true; s != nil && ok {
			if s.Value == "input" {
				fd.Table = Input
			} else if s.Value != "holding" {
				p.fail(s.Line, "result.time.table %q: holding or input", clip(s.Value))
			}
		}
		t.Unix = fd
	default:
		t.Parts = map[string]Field{}
		for _, k := range timeParts {
			fn := o.get(k)
			if fn == nil {
				if k != "second" {
					p.fail(line(n), "result.time: give format: unix with a register, or the %s register (and the others: %s)", k, strings.Join(timeParts, ", "))
				}
				continue
			}
			f := p.field(fn, "result.time."+k, kind, def)
			if f.Type != U16 {
				p.fail(f.Line, "result.time.%s: a u16 register", k)
			}
			t.Parts[k] = *f
		}
	}
	o.done()
	return t
}

// loadZone reads a zone name, or a fixed offset like +08:00.
func loadZone(z string) (*time.Location, error) {
	if len(z) == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':' {
		h, err1 := strconv.Atoi(z[1:3])
		m, err2 := strconv.Atoi(z[4:6])
		if err1 == nil && err2 == nil && h <= 14 && m < 60 {
			off := (h*60 + m) * 60
			if z[0] == '-' {
				off = -off
			}
			return time.FixedZone(z, off), nil
		}
	}
	if z == "Asia/Shanghai" || z == "CST" {
		// China's one zone, also where the zone database is missing.
		if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
			return loc, nil
		}
		return time.FixedZone("CST", 8*3600), nil
	}
	return time.LoadLocation(z)
}

func (p *parser) trigger(n *yaml.Node, at string, kind Kind, pr *Profile) *Trigger {
	o := p.obj(n, at)
	t := &Trigger{Line: line(n)}
	if kind == Text {
		t.Send = o.str("send", 64)
		if t.Send == "" {
			p.fail(line(n), "%s.send: the command that starts a measurement (e.g. \"?MEAS\\r\\n\")", at)
		}
		o.done()
		return t
	}
	w, _ := o.uint("write", 0, 0, 0xFFFF)
	if !o.has("write") {
		p.fail(line(n), "%s.write: the first holding register to write", at)
	}
	t.Register = uint16(w)
	vn := o.get("values")
	if vn == nil || vn.Kind != yaml.SequenceNode || len(vn.Content) == 0 || len(vn.Content) > modbus.MaxWriteQty {
		p.fail(max(line(vn), line(n)), "%s.values: the registers to write, e.g. [item, method, 1]", at)
	} else {
		for _, v := range vn.Content {
			switch v.Value {
			case "item":
				if pr.Result.Item == nil || pr.Result.Item.Field == nil {
					p.fail(v.Line, "%s.values: item, but the result reads no item code", at)
				}
			case "method":
				if pr.Result.Method.From == nil {
					p.fail(v.Line, "%s.values: method, but the result's method is fixed (no method code)", at)
				}
			default:
				if _, err := strconv.ParseUint(v.Value, 0, 16); err != nil {
					p.fail(v.Line, "%s.values: %q: a number, item or method", at, clip(v.Value))
				}
			}
			t.Values = append(t.Values, v.Value)
		}
	}
	if wn := o.get("without_item"); wn != nil {
		t.WithoutItem = p.trigger(wn, at+".without_item", kind, pr)
	}
	if en := o.get("exceptions"); en != nil {
		eo := p.obj(en, at+".exceptions")
		t.Exceptions = map[uint8]string{}
		for _, k := range sortedKeys(eo.vals) {
			c, err := strconv.ParseUint(k, 0, 8)
			msg, _, _ := eo.scalar(k)
			if err != nil || c == 0 {
				p.fail(eo.keys[k].Line, "%s.exceptions: %q: a Modbus exception code 1…255", at, clip(k))
				continue
			}
			t.Exceptions[uint8(c)] = msg
		}
		eo.done()
	}
	o.done()
	return t
}

// span is the registers one field covers.
type span struct {
	table      Table
	start, end uint32 // [start, end)
	what       string
	line       int
	bits       bool
}

// checkRegisters checks that every register field lies inside a block
// that is read, and that no two values share a register.
func (p *parser) checkRegisters(pr *Profile) {
	if !pr.Transport.Kind.Modbus() {
		return
	}
	check := func(reads []Read, spans []span, where string) {
		for _, s := range spans {
			in := false
			for _, r := range reads {
				if r.Table == s.table && uint32(r.Start) <= s.start && s.end <= uint32(r.Start)+uint32(r.Count) {
					in = true
				}
			}
			if !in {
				p.fail(s.line, "%s (%s registers 0x%04X…0x%04X) is outside every block %s reads", s.what, s.table, s.start, s.end-1, where)
			}
		}
		for i, a := range spans {
			for _, b := range spans[:i] {
				if a.table == b.table && a.start < b.end && b.start < a.end && !(a.bits && b.bits) {
					p.fail(a.line, "%s overlaps %s (line %d): both use %s register 0x%04X", a.what, b.what, b.line, a.table, max(a.start, b.start))
				}
			}
		}
	}
	fs := func(f *Field, what string) []span {
		if f == nil {
			return nil
		}
		return []span{{table: f.Table, start: uint32(f.Register), end: uint32(f.Register) + uint32(f.Words()), what: what, line: f.Line}}
	}
	cs := func(c *Cond, what string) []span {
		if c == nil {
			return nil
		}
		return []span{{table: c.Field.Table, start: uint32(c.Field.Register), end: uint32(c.Field.Register) + 1, what: what, line: c.Field.Line, bits: c.Bit >= 0}}
	}
	if id := pr.Identity; id != nil {
		var sp []span
		for i := range id.Expect {
			c := id.Expect[i]
			sp = append(sp, span{table: c.Field.Table, start: uint32(c.Field.Register), end: uint32(c.Field.Register) + 1, what: fmt.Sprintf("identity.expect[%d]", i), line: c.Field.Line, bits: true})
		}
		sp = append(sp, fs(id.Serial, "identity.serial")...)
		sp = append(sp, fs(id.Model, "identity.model")...)
		sp = append(sp, fs(id.Firmware, "identity.firmware")...)
		check(id.Reads, sp, "identity.read")
	}
	r := pr.Result
	var sp []span
	sp = append(sp, cs(r.Ready, "result.ready")...)
	sp = append(sp, cs(r.Busy, "result.busy")...)
	sp = append(sp, cs(r.Fault, "result.fault")...)
	sp = append(sp, fs(r.Sequence, "result.sequence")...)
	sp = append(sp, fs(r.Serial, "result.serial")...)
	sp = append(sp, fs(r.Model, "result.model")...)
	sp = append(sp, fs(r.SampleCode, "result.sample_code")...)
	sp = append(sp, fs(r.SampleName, "result.sample_name")...)
	sp = append(sp, fs(r.Method.From, "result.method")...)
	if r.Item != nil {
		sp = append(sp, fs(r.Item.Field, "result.item")...)
	}
	if r.Time != nil {
		sp = append(sp, fs(r.Time.Unix, "result.time")...)
		for _, k := range timeParts {
			if f, ok := r.Time.Parts[k]; ok {
				sp = append(sp, fs(&f, "result.time."+k)...)
			}
		}
	}
	for _, k := range sortedKeys(r.Values) {
		f := r.Values[k]
		sp = append(sp, fs(&f, "result.values."+k)...)
	}
	check(r.Reads, sp, "result.read")
}
