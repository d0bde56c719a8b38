package profile

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// Ref names one register.
type Ref struct {
	Table Table
	Addr  uint16
}

// Registers holds register values, as read from a device or kept by an
// emulation.
type Registers map[Ref]uint16

// Put stores a block of values read from start.
func (r Registers) Put(t Table, start uint16, vals []uint16) {
	for i, v := range vals {
		r[Ref{t, start + uint16(i)}] = v
	}
}

// Block returns count values from start (absent registers read 0).
func (r Registers) Block(t Table, start, count uint16) []uint16 {
	out := make([]uint16, count)
	for i := range out {
		out[i] = r[Ref{t, start + uint16(i)}]
	}
	return out
}

// Decoded is one result (or, with Ready false, the device's state) as a
// profile reads it.
type Decoded struct {
	// Ready: a result is presented (for ReadyOnSequence profiles: a
	// sequence was read; the caller compares it with the last).
	Ready bool
	// Busy and Fault are the status bits the profile names.
	Busy, Fault bool
	// Sequence numbers the result, when the profile reads one.
	Sequence    uint64
	HasSequence bool
	Serial      string
	Model       string
	Method      assay.Method
	// ItemCode is the code as the device sent it; Item and Analyte what
	// the items table says it is.
	ItemCode   string
	Item       string
	Analyte    string
	SampleCode string
	SampleName string
	Raw        assay.Raw
	// Time is the device's clock (zero when it has none or it is unset).
	Time time.Time
}

// Ident is what a device says about itself.
type Ident struct {
	Serial, Model, Firmware string
}

// source yields the raw values of fields: registers, or a text match.
type source interface {
	number(f *Field) (*big.Rat, error) // before scale and offset
	text(f *Field) (string, error)
	code(f *Field) (string, error)
}

// regSource reads fields from registers.
type regSource Registers

func (s regSource) words(f *Field) ([]uint16, error) {
	n := f.Words()
	out := make([]uint16, n)
	for i := range out {
		v, ok := s[Ref{f.Table, f.Register + uint16(i)}]
		if !ok {
			return nil, fmt.Errorf("%s: register 0x%04X was not read", f, f.Register+uint16(i))
		}
		if f.ByteLow {
			v = v<<8 | v>>8
		}
		out[i] = v
	}
	return out, nil
}

func (s regSource) number(f *Field) (*big.Rat, error) {
	w, err := s.words(f)
	if err != nil {
		return nil, err
	}
	var u32 uint32
	if len(w) == 2 {
		hi, lo := w[0], w[1]
		if f.WordLow {
			hi, lo = lo, hi
		}
		u32 = uint32(hi)<<16 | uint32(lo)
	}
	switch f.Type {
	case U16:
		return new(big.Rat).SetInt64(int64(w[0])), nil
	case S16:
		return new(big.Rat).SetInt64(int64(int16(w[0]))), nil
	case U32:
		return new(big.Rat).SetInt64(int64(u32)), nil
	case S32:
		return new(big.Rat).SetInt64(int64(int32(u32))), nil
	case Float32:
		x := math.Float32frombits(u32)
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, valueErr("%s holds %v, not a number", f, x)
		}
		return new(big.Rat).SetFloat64(float64(x)), nil
	}
	return nil, valueErr("%s is not a number", f)
}

func (s regSource) text(f *Field) (string, error) {
	if f.Type != ASCII {
		n, err := s.number(f)
		if err != nil {
			return "", err
		}
		return n.RatString(), nil
	}
	w, err := s.words(f)
	if err != nil {
		return "", err
	}
	b := make([]byte, 0, 2*len(w))
	for _, v := range w {
		b = append(b, byte(v>>8), byte(v))
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return "", valueErr("%s: byte %02X is not printable ASCII", f, c)
		}
	}
	return strings.TrimRight(string(b), " "), nil
}

func (s regSource) code(f *Field) (string, error) {
	w, err := s.words(&Field{Table: f.Table, Register: f.Register, Type: U16, ByteLow: f.ByteLow})
	if err != nil {
		return "", err
	}
	return strconv.Itoa(int(w[0])), nil
}

// apply scales a raw number.
func (f Field) apply(raw *big.Rat) *big.Rat {
	v := new(big.Rat).Set(raw)
	if f.Scale != nil {
		v.Mul(v, f.Scale)
	}
	if f.Offset != nil {
		v.Add(v, f.Offset)
	}
	return v
}

// DecodeResult reads a result from the registers of the profile's result
// blocks. method, when not empty, fixes the method (a device configured
// for one; the profile's method otherwise). A register the profile does
// not allow (an item code not in the table) is an error matching
// ErrValue.
func (p *Profile) DecodeResult(regs Registers, method assay.Method) (Decoded, error) {
	if !p.Transport.Kind.Modbus() {
		return Decoded{}, fmt.Errorf("profile %s: DecodeResult reads registers; use Match for a text profile", p.Name)
	}
	src := regSource(regs)
	r := p.Result
	var d Decoded
	cond := func(c *Cond) (bool, error) {
		if c == nil {
			return false, nil
		}
		v, err := src.code(&c.Field)
		if err != nil {
			return false, err
		}
		n, _ := strconv.Atoi(v)
		if c.Bit >= 0 {
			return n&(1<<c.Bit) != 0, nil
		}
		return uint16(n) == c.Equals, nil
	}
	var err error
	if d.Busy, err = cond(r.Busy); err != nil {
		return d, err
	}
	if d.Fault, err = cond(r.Fault); err != nil {
		return d, err
	}
	if r.Sequence != nil {
		if err := p.sequence(src, &d); err != nil {
			return d, err
		}
	}
	if r.ReadyOnSequence {
		d.Ready = d.HasSequence && d.Sequence != 0
	} else if d.Ready, err = cond(r.Ready); err != nil {
		return d, err
	}
	if !d.Ready {
		return d, nil
	}
	return d, p.decodeBody(src, &d, method)
}

func (p *Profile) sequence(src source, d *Decoded) error {
	n, err := src.number(p.Result.Sequence)
	if err != nil {
		return err
	}
	v := p.Result.Sequence.apply(n)
	if !v.IsInt() || v.Sign() < 0 || !v.Num().IsUint64() {
		return valueErr("sequence %s is not a whole number ≥ 0", v.FloatString(3))
	}
	d.Sequence, d.HasSequence = v.Num().Uint64(), true
	return nil
}

// decodeBody reads what a ready result carries.
func (p *Profile) decodeBody(src source, d *Decoded, method assay.Method) error {
	r := p.Result
	var err error
	for _, t := range []struct {
		f   *Field
		dst *string
	}{{r.Serial, &d.Serial}, {r.Model, &d.Model}, {r.SampleCode, &d.SampleCode}, {r.SampleName, &d.SampleName}} {
		if t.f != nil {
			if *t.dst, err = src.text(t.f); err != nil {
				return err
			}
		}
	}
	d.Method = r.Method.Fixed
	if r.Method.From != nil {
		c, err := src.code(r.Method.From)
		if err != nil {
			return err
		}
		m, ok := r.Method.Map[c]
		if !ok {
			return valueErr("method code %s is not in the profile's method map", clip(c))
		}
		d.Method = m
	}
	if method != "" {
		d.Method = method
	}
	if s := r.Item; s != nil {
		var code string
		switch {
		case s.Field != nil:
			if code, err = src.code(s.Field); err != nil {
				return err
			}
		case s.FromMethod:
			code = string(d.Method)
		}
		it, ok := p.Items[code]
		if !ok {
			return valueErr("item code %s is not in the profile's items", clip(code))
		}
		d.ItemCode, d.Item, d.Analyte = code, it.Name, it.Analyte
	}
	for _, name := range sortedKeys(r.Values) {
		f := r.Values[name]
		n, err := src.number(&f)
		if err != nil {
			return err
		}
		u, err := toUnits(name, f.apply(n))
		if err != nil {
			return err
		}
		quantities[name].set(&d.Raw, u)
	}
	if r.Time != nil {
		if d.Time, err = p.decodeTime(src); err != nil {
			return err
		}
	}
	return nil
}

func (p *Profile) decodeTime(src source) (time.Time, error) {
	t := p.Result.Time
	switch {
	case t.Unix != nil:
		n, err := src.number(t.Unix)
		if err != nil {
			return time.Time{}, err
		}
		if n.Sign() == 0 {
			return time.Time{}, nil // the clock is not set
		}
		return time.Unix(n.Num().Int64(), 0).In(t.Zone), nil
	case len(t.Groups) > 0:
		parts := make([]string, len(t.Groups))
		for i, g := range t.Groups {
			s, err := src.text(&Field{Group: g})
			if err != nil {
				return time.Time{}, err
			}
			parts[i] = s
		}
		v, err := time.ParseInLocation(t.Layout, strings.Join(parts, " "), t.Zone)
		if err != nil {
			return time.Time{}, valueErr("time %q does not read as %q", clip(strings.Join(parts, " ")), t.Layout)
		}
		return v, nil
	}
	var n [6]int
	for i, k := range timeParts {
		f, ok := t.Parts[k]
		if !ok {
			continue
		}
		v, err := src.number(&f)
		if err != nil {
			return time.Time{}, err
		}
		x := f.apply(v)
		if !x.IsInt() {
			return time.Time{}, valueErr("time %s %s is not whole", k, x.FloatString(2))
		}
		n[i] = int(x.Num().Int64())
	}
	if n[0] == 0 && n[1] == 0 && n[2] == 0 {
		return time.Time{}, nil // the clock is not set
	}
	if n[0] < 100 {
		n[0] += 2000
	}
	v := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, t.Zone)
	if v.Year() != n[0] || int(v.Month()) != n[1] || v.Day() != n[2] || v.Hour() != n[3] || v.Minute() != n[4] || v.Second() != n[5] {
		return time.Time{}, valueErr("time %04d-%02d-%02d %02d:%02d:%02d is not a time", n[0], n[1], n[2], n[3], n[4], n[5])
	}
	return v, nil
}

// DecodeIdentity reads the identity from the registers of its blocks and
// checks what the profile expects. A device that is not the one described
// is an error matching ErrIdentity.
func (p *Profile) DecodeIdentity(regs Registers) (Ident, error) {
	id := p.Identity
	if id == nil {
		return Ident{}, nil
	}
	src := regSource(regs)
	for _, c := range id.Expect {
		v, err := src.code(&c.Field)
		if err != nil {
			return Ident{}, err
		}
		n, _ := strconv.Atoi(v)
		if uint16(n) != c.Equals {
			return Ident{}, fmt.Errorf("%w: %s register 0x%04X is %04X, want %04X (is this a %s at this address?)",
				ErrIdentity, c.Field.Table, c.Field.Register, n, c.Equals, p.Model)
		}
	}
	return identFrom(src, id)
}

func identFrom(src source, id *Identity) (Ident, error) {
	var out Ident
	var err error
	for _, t := range []struct {
		f   *Field
		dst *string
	}{{id.Serial, &out.Serial}, {id.Model, &out.Model}, {id.Firmware, &out.Firmware}} {
		if t.f != nil {
			if *t.dst, err = src.text(t.f); err != nil {
				return Ident{}, err
			}
		}
	}
	return out, nil
}
