package profile

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/shianfood/shian/protocols/domain/assay"
)

// Errors of the text framer.
var (
	// ErrIncomplete: feed more bytes.
	ErrIncomplete = errors.New("profile: incomplete message")
	// ErrFraming: bytes that are not a message (noise, a line too long,
	// a line outside a report).
	ErrFraming = errors.New("profile: not a message")
	// ErrTruncated: a report cut short (a new begin line, too many lines,
	// or silence before its end line).
	ErrTruncated = errors.New("profile: report cut short")
)

// TextDecoder splits a text device's byte stream into messages: one line
// each, or for a profile with transport.block the lines from a begin line
// through an end line. Blank lines are ignored. It holds at most one
// report plus one line, however much noise it is fed. It is not safe for
// concurrent use.
type TextDecoder struct {
	t        Transport
	buf      []byte
	block    []byte
	lines    int
	in       bool
	skipping bool
	noise    bool
}

// NewTextDecoder returns the framer for the profile's transport.
func (p *Profile) NewTextDecoder() *TextDecoder { return &TextDecoder{t: p.Transport} }

// Feed appends bytes received from the line.
func (d *TextDecoder) Feed(b []byte) { d.buf = append(d.buf, b...) }

// Pending reports whether part of a message is buffered.
func (d *TextDecoder) Pending() bool { return len(d.buf) > 0 || d.in }

// Gap tells the decoder the line went quiet: a report in progress will not
// be finished (an ErrTruncated error says so).
func (d *TextDecoder) Gap() error {
	in, n := d.in, len(d.block)
	d.buf, d.block, d.lines, d.in, d.skipping, d.noise = d.buf[:0], d.block[:0], 0, false, false, false
	if in {
		return fmt.Errorf("%w: %d bytes of a report and no end line before the line went quiet", ErrTruncated, n)
	}
	return nil
}

// Next returns the next message (each line with its line end), or
// ErrIncomplete, or an error for bytes that made no message (call it
// again).
func (d *TextDecoder) Next() ([]byte, error) {
	end := []byte(d.t.LineEnd)
	last := end[len(end)-1]
	for {
		i := bytes.IndexByte(d.buf, last)
		if i < 0 {
			if len(d.buf) > d.t.MaxLine {
				d.buf = d.buf[:0]
				if !d.skipping {
					d.skipping = true
					if d.in {
						d.reset()
						return nil, fmt.Errorf("%w: a line longer than %d bytes inside a report", ErrTruncated, d.t.MaxLine)
					}
					return nil, fmt.Errorf("%w: a line longer than %d bytes", ErrFraming, d.t.MaxLine)
				}
			}
			return nil, ErrIncomplete
		}
		l := append([]byte(nil), d.buf[:i+1]...)
		d.buf = d.buf[:copy(d.buf, d.buf[i+1:])]
		if d.skipping {
			d.skipping = false
			continue
		}
		if msg, done, err := d.line(l); done {
			return msg, err
		}
	}
}

func (d *TextDecoder) reset() { d.block, d.lines, d.in = d.block[:0], 0, false }

func (d *TextDecoder) line(l []byte) ([]byte, bool, error) {
	text := bytes.TrimRight(l, "\r\n")
	b := d.t.Block
	if b == nil {
		if len(bytes.TrimSpace(text)) == 0 {
			return nil, false, nil
		}
		return l, true, nil
	}
	switch {
	case b.Begin.Match(text):
		var err error
		if d.in {
			err = fmt.Errorf("%w: a new report began after %d bytes of the last", ErrTruncated, len(d.block))
		}
		d.in, d.noise = true, false
		d.block = append(d.block[:0], l...)
		d.lines = 1
		return nil, err != nil, err
	case !d.in:
		if len(bytes.TrimSpace(text)) == 0 || d.noise {
			return nil, false, nil
		}
		d.noise = true
		return nil, true, fmt.Errorf("%w: %q outside a report", ErrFraming, clip(string(text)))
	}
	d.block = append(d.block, l...)
	d.lines++
	if b.End.Match(text) {
		msg := append([]byte(nil), d.block...)
		d.reset()
		return msg, true, nil
	}
	if d.lines >= b.MaxLines {
		d.reset()
		return nil, true, fmt.Errorf("%w: %d lines and no end line", ErrTruncated, b.MaxLines)
	}
	return nil, false, nil
}

// MessageKind says what a text message is.
type MessageKind int

// Message kinds.
const (
	KindResult MessageKind = iota + 1
	KindIdentity
	KindError
)

// Message is one text message as the profile reads it.
type Message struct {
	Kind   MessageKind
	Result Decoded
	Ident  Ident
	// Code is an error report's code.
	Code string
}

// textSource reads fields from a regular expression's match.
type textSource struct {
	p   *Pattern
	msg []byte
	m   []int
}

func (s textSource) group(name string) (string, error) {
	i := s.p.Re.SubexpIndex(name)
	if i < 0 || s.m[2*i] < 0 {
		return "", valueErr("group %s did not match", name)
	}
	return string(s.msg[s.m[2*i]:s.m[2*i+1]]), nil
}

func (s textSource) number(f *Field) (*big.Rat, error) {
	g, err := s.group(f.Group)
	if err != nil {
		return nil, err
	}
	r, err := parseDecimal(strings.TrimSpace(g), f.Hex)
	if err != nil {
		return nil, valueErr("group %s: %v", f.Group, err)
	}
	return r, nil
}

func (s textSource) text(f *Field) (string, error) { return s.group(f.Group) }
func (s textSource) code(f *Field) (string, error) { return s.group(f.Group) }

// Match reads one text message: the result pattern first, then the
// identity and the error patterns. method, when not empty, fixes the
// method. A message no pattern matches is ErrNoMatch; a result whose
// checksum fails is ErrChecksum.
func (p *Profile) Match(msg []byte, method assay.Method) (Message, error) {
	if p.Transport.Kind != Text {
		return Message{}, fmt.Errorf("profile %s: Match reads text; use DecodeResult for a Modbus profile", p.Name)
	}
	if r := p.Result.Match; r != nil {
		if m := r.Re.FindSubmatchIndex(msg); m != nil {
			src := textSource{p: r, msg: msg, m: m}
			if err := p.checksum(src); err != nil {
				return Message{}, err
			}
			d := Decoded{Ready: true}
			if p.Result.Sequence != nil {
				if err := p.sequence(src, &d); err != nil {
					return Message{}, err
				}
			}
			if err := p.decodeBody(src, &d, method); err != nil {
				return Message{}, err
			}
			return Message{Kind: KindResult, Result: d}, nil
		}
	}
	if id := p.Identity; id != nil && id.Match != nil {
		if m := id.Match.Re.FindSubmatchIndex(msg); m != nil {
			src := textSource{p: id.Match, msg: msg, m: m}
			for _, k := range sortedKeys(id.ExpectIn) {
				v, err := src.group(k)
				if err != nil || v != id.ExpectIn[k] {
					return Message{}, fmt.Errorf("%w: %s is %q, want %q", ErrIdentity, k, clip(v), id.ExpectIn[k])
				}
			}
			ident, err := identFrom(src, id)
			if err != nil {
				return Message{}, err
			}
			return Message{Kind: KindIdentity, Ident: ident}, nil
		}
	}
	if e := p.Error; e != nil {
		if m := e.Match.Re.FindSubmatchIndex(msg); m != nil {
			out := Message{Kind: KindError}
			if e.Code != nil {
				out.Code, _ = textSource{p: e.Match, msg: msg, m: m}.group(e.Code.Group)
			}
			return out, nil
		}
	}
	return Message{}, fmt.Errorf("%w: %q", ErrNoMatch, clip(strings.TrimRight(string(msg), "\r\n")))
}

func (p *Profile) checksum(src textSource) error {
	c := p.Result.Checksum
	if c == nil {
		return nil
	}
	i := src.p.Re.SubexpIndex(c.Value)
	vs, ve := src.m[2*i], src.m[2*i+1]
	if vs < 0 {
		return fmt.Errorf("%w: no check value", ErrChecksum)
	}
	got, err := strconv.ParseUint(string(src.msg[vs:ve]), 16, 32)
	if err != nil {
		return fmt.Errorf("%w: check value %q is not hexadecimal", ErrChecksum, clip(string(src.msg[vs:ve])))
	}
	var over []byte
	if c.Over != "" {
		j := src.p.Re.SubexpIndex(c.Over)
		if src.m[2*j] < 0 {
			return fmt.Errorf("%w: group %s did not match", ErrChecksum, c.Over)
		}
		over = src.msg[src.m[2*j]:src.m[2*j+1]]
	} else {
		// Every byte before the line that holds the check value.
		end := bytes.LastIndex(src.msg[:vs], []byte(p.Transport.LineEnd))
		if end >= 0 {
			over = src.msg[:end+len(p.Transport.LineEnd)]
		}
	}
	want := Check(c.Algorithm, over)
	if uint64(want) != got {
		return fmt.Errorf("%w: the message says %X, its bytes give %X", ErrChecksum, got, want)
	}
	return nil
}

// ChecksumAlgorithms lists the check values a text profile may name.
func ChecksumAlgorithms() []string {
	return []string{"crc16-ccitt-false", "crc16-modbus", "xor8", "sum8"}
}

// Check computes a check value: crc16-ccitt-false (poly 0x1021, init
// 0xFFFF), crc16-modbus (reflected 0xA001, init 0xFFFF), xor8 (the XOR of
// the bytes, as NMEA sentences) or sum8 (their sum modulo 256).
func Check(algorithm string, b []byte) uint32 {
	switch algorithm {
	case "crc16-ccitt-false":
		crc := uint16(0xFFFF)
		for _, x := range b {
			crc ^= uint16(x) << 8
			for range 8 {
				if crc&0x8000 != 0 {
					crc = crc<<1 ^ 0x1021
				} else {
					crc <<= 1
				}
			}
		}
		return uint32(crc)
	case "crc16-modbus":
		crc := uint16(0xFFFF)
		for _, x := range b {
			crc ^= uint16(x)
			for range 8 {
				if crc&1 != 0 {
					crc = crc>>1 ^ 0xA001
				} else {
					crc >>= 1
				}
			}
		}
		return uint32(crc)
	case "xor8":
		var x byte
		for _, c := range b {
			x ^= c
		}
		return uint32(x)
	case "sum8":
		var s byte
		for _, c := range b {
			s += c
		}
		return uint32(s)
	}
	return 0
}
