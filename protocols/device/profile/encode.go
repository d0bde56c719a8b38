package profile

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// The encoder is the device side of a Modbus profile: it writes what a
// device would hold into registers, so that an emulation can be built
// from a profile alone (simulator/profilesim), and so that fuzzing can
// check DecodeResult against it.

func (r Registers) putWords(f *Field, w []uint16) {
	for i, v := range w {
		if f.ByteLow {
			v = v<<8 | v>>8
		}
		r[Ref{f.Table, f.Register + uint16(i)}] = v
	}
}

// putNumber writes a raw number (before scale) as the field's type.
func (r Registers) putNumber(f *Field, raw *big.Rat) error {
	var u32 uint32
	switch f.Type {
	case Float32:
		x, _ := raw.Float64()
		u32 = math.Float32bits(float32(x))
	default:
		n := roundRat(raw)
		if !n.IsInt64() {
			return valueErr("%s cannot hold %s", f, raw.FloatString(3))
		}
		v := n.Int64()
		lo, hi := int64(0), int64(math.MaxUint16)
		switch f.Type {
		case S16:
			lo, hi = math.MinInt16, math.MaxInt16
		case U32:
			hi = math.MaxUint32
		case S32:
			lo, hi = math.MinInt32, math.MaxInt32
		}
		if v < lo || v > hi {
			return valueErr("%s cannot hold %d (%d…%d)", f, v, lo, hi)
		}
		if f.Type.Words() == 1 {
			r.putWords(f, []uint16{uint16(v)})
			return nil
		}
		u32 = uint32(v)
	}
	hi, lo := uint16(u32>>16), uint16(u32)
	if f.WordLow {
		hi, lo = lo, hi
	}
	r.putWords(f, []uint16{hi, lo})
	return nil
}

// unapply turns a value into the raw number the field holds.
func (f Field) unapply(v *big.Rat) *big.Rat {
	x := new(big.Rat).Set(v)
	if f.Offset != nil {
		x.Sub(x, f.Offset)
	}
	if f.Scale != nil {
		x.Quo(x, f.Scale)
	}
	return x
}

func (r Registers) putText(f *Field, s string) error {
	if len(s) > 2*f.Count {
		return valueErr("%s holds %d characters, not %q", f, 2*f.Count, clip(s))
	}
	b := make([]byte, 2*f.Count)
	copy(b, s)
	w := make([]uint16, f.Count)
	for i := range w {
		w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	r.putWords(f, w)
	return nil
}

func (r Registers) putCond(c *Cond, on bool) {
	if c == nil {
		return
	}
	ref := Ref{c.Field.Table, c.Field.Register}
	switch {
	case c.Bit >= 0 && on:
		r[ref] |= 1 << c.Bit
	case c.Bit >= 0:
		r[ref] &^= 1 << c.Bit
	case on:
		r[ref] = c.Equals
	default:
		r[ref] = 0
	}
}

// EncodeResult writes d into regs as a device described by the profile
// holds it: the status bits, the sequence and, when d is Ready, the item
// and method codes, the values d carries (the registers of the others
// keep what they hold) and the time. Values the profile's types
// cannot hold are an error matching ErrValue.
func (p *Profile) EncodeResult(d Decoded, regs Registers) error {
	if !p.Transport.Kind.Modbus() {
		return fmt.Errorf("profile %s: only a Modbus profile is encoded to registers", p.Name)
	}
	r := p.Result
	regs.putCond(r.Busy, d.Busy)
	regs.putCond(r.Fault, d.Fault)
	regs.putCond(r.Ready, d.Ready)
	if r.Sequence != nil {
		if err := regs.putNumber(r.Sequence, r.Sequence.unapply(new(big.Rat).SetUint64(d.Sequence))); err != nil {
			return err
		}
	}
	if !d.Ready {
		return nil
	}
	for _, t := range []struct {
		f *Field
		v string
	}{{r.Serial, d.Serial}, {r.Model, d.Model}, {r.SampleCode, d.SampleCode}, {r.SampleName, d.SampleName}} {
		if t.f != nil {
			if err := regs.putText(t.f, t.v); err != nil {
				return err
			}
		}
	}
	if r.Method.From != nil {
		code, ok := r.Method.Code(d.Method)
		if !ok {
			return valueErr("method %s has no code in the profile", d.Method)
		}
		if err := regs.putCode(r.Method.From, code); err != nil {
			return err
		}
	}
	if s := r.Item; s != nil && s.Field != nil {
		code := d.ItemCode
		if code == "" {
			for _, k := range sortedKeys(p.Items) {
				if it := p.Items[k]; it.Analyte == d.Analyte || it.Name == d.Item {
					code = k
					break
				}
			}
		}
		if _, ok := p.Items[code]; !ok {
			return valueErr("item %q (%s) has no code in the profile", d.Item, d.Analyte)
		}
		if err := regs.putCode(s.Field, code); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(r.Values) {
		f := r.Values[name]
		u, ok := quantities[name].get(d.Raw)
		if !ok {
			continue // not carried: the registers keep what they hold
		}
		v := new(big.Rat).SetFrac64(u, quantities[name].per)
		if err := regs.putNumber(&f, f.unapply(v)); err != nil {
			return err
		}
	}
	if t := r.Time; t != nil {
		switch {
		case t.Unix != nil:
			var secs int64
			if !d.Time.IsZero() {
				secs = d.Time.Unix()
			}
			if err := regs.putNumber(t.Unix, new(big.Rat).SetInt64(secs)); err != nil {
				return err
			}
		default:
			var parts [6]int
			if !d.Time.IsZero() {
				lt := d.Time.In(t.Zone)
				parts = [6]int{lt.Year(), int(lt.Month()), lt.Day(), lt.Hour(), lt.Minute(), lt.Second()}
			}
			for i, k := range timeParts {
				if f, ok := t.Parts[k]; ok {
					if err := regs.putNumber(&f, f.unapply(new(big.Rat).SetInt64(int64(parts[i])))); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func (r Registers) putCode(f *Field, code string) error {
	n, err := strconv.ParseUint(code, 10, 16)
	if err != nil {
		return valueErr("code %q is not a register value", clip(code))
	}
	r.putWords(&Field{Table: f.Table, Register: f.Register, Type: U16, ByteLow: f.ByteLow}, []uint16{uint16(n)})
	return nil
}

// EncodeIdentity writes what the profile expects of the identity, and id,
// into regs.
func (p *Profile) EncodeIdentity(id Ident, regs Registers) error {
	pi := p.Identity
	if pi == nil {
		return nil
	}
	for _, c := range pi.Expect {
		regs[Ref{c.Field.Table, c.Field.Register}] = c.Equals
	}
	for _, t := range []struct {
		f *Field
		v string
	}{{pi.Serial, id.Serial}, {pi.Model, id.Model}, {pi.Firmware, id.Firmware}} {
		if t.f == nil {
			continue
		}
		if t.f.Type == ASCII {
			if err := regs.putText(t.f, t.v); err != nil {
				return err
			}
			continue
		}
		v, ok := new(big.Rat).SetString(t.v)
		if !ok {
			v = new(big.Rat)
		}
		if err := regs.putNumber(t.f, v); err != nil {
			return err
		}
	}
	return nil
}
