package asciirpt

import (
	"bytes"
	"fmt"
	"time"
)

// MaxLines is the most lines a report has (ATP: 12 with the frame).
const MaxLines = 12

// Decoder assembles reports from a byte stream (see the package doc,
// "Reading a stream"). Feed it bytes as they arrive and call Next until
// it returns ErrIncomplete. It is not safe for concurrent use.
//
// It holds at most one report's worth of bytes (MaxReport) plus one
// partial line, however much noise it was fed.
type Decoder struct {
	// Loc is the zone of the instruments' wall clock (nil: UTC).
	Loc *time.Location

	buf      []byte // bytes not yet split into lines
	block    []byte // lines of the report being assembled
	lines    int
	in       bool // inside a report
	skipping bool // dropping the rest of an over-long line
	noise    bool // an error for noise outside a report was reported
	skipped  uint64
}

// Feed appends bytes received from the line.
func (d *Decoder) Feed(p []byte) { d.buf = append(d.buf, p...) }

// Skipped returns how many bytes were dropped as noise.
func (d *Decoder) Skipped() uint64 { return d.skipped }

// Pending reports whether a partial line or report is buffered.
func (d *Decoder) Pending() bool { return len(d.buf) > 0 || d.in }

// Gap tells the decoder the line went quiet: a report in progress will
// not be finished. It returns an ErrTruncated error if one was dropped.
func (d *Decoder) Gap() error {
	n := len(d.block)
	in := d.in
	d.buf, d.block, d.lines, d.in, d.skipping, d.noise = d.buf[:0], d.block[:0], 0, false, false, false
	if in {
		return fmt.Errorf("%w: %d bytes of a report and no end line before the line went quiet", ErrTruncated, n)
	}
	return nil
}

func (d *Decoder) abandon() int {
	n := len(d.block)
	d.skipped += uint64(n)
	d.block, d.lines, d.in = d.block[:0], 0, false
	return n
}

// Next returns the next report, or ErrIncomplete when it needs more
// bytes, or an error for lines that did not make a report (call Next
// again).
func (d *Decoder) Next() (Report, error) {
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			if len(d.buf) >= MaxLine {
				// An over-long line: drop it up to its end.
				d.skipped += uint64(len(d.buf))
				d.buf = d.buf[:0]
				if !d.skipping {
					d.skipping = true
					if d.in {
						n := d.abandon()
						return Report{}, fmt.Errorf("%w: a line longer than %d bytes inside a report (%d bytes dropped)", ErrTruncated, MaxLine, n)
					}
					return Report{}, framingErr("a line longer than %d bytes", MaxLine)
				}
			}
			return Report{}, ErrIncomplete
		}
		line := d.buf[:i+1]
		rest := len(d.buf) - (i + 1)
		if d.skipping {
			d.skipping = false
			d.skipped += uint64(len(line))
			d.drop(i + 1)
			continue
		}
		r, done, err := d.line(line)
		d.drop(len(d.buf) - rest)
		if done {
			return r, err
		}
	}
}

func (d *Decoder) drop(n int) {
	m := copy(d.buf, d.buf[n:])
	d.buf = d.buf[:m]
}

// line handles one line (with its LF); done says whether Next returns.
func (d *Decoder) line(l []byte) (Report, bool, error) {
	text := bytes.TrimRight(l, "\r\n")
	var garbage error
	if j := bytes.Index(text, []byte(Begin)); j > 0 && len(text) == j+len(Begin) {
		// Noise ran into a begin line: keep the begin line.
		d.skipped += uint64(j)
		garbage = framingErr("%d bytes of noise before a report", j)
		text, l = text[j:], l[j:]
	}
	switch {
	case string(text) == Begin:
		err := garbage
		if d.in {
			n := d.abandon()
			err = fmt.Errorf("%w: a new report began after %d bytes of the last", ErrTruncated, n)
		}
		d.in, d.noise = true, false
		d.block = append(d.block[:0], Begin+"\r\n"...)
		d.lines = 1
		return Report{}, err != nil, err
	case !d.in:
		if len(bytes.TrimSpace(text)) == 0 {
			return Report{}, false, nil // printer feed
		}
		d.skipped += uint64(len(l))
		if d.noise {
			return Report{}, false, nil
		}
		d.noise = true
		return Report{}, true, framingErr("%q outside a report", clip(string(text)))
	}
	// Inside a report: keep the line as received (a damaged line end
	// fails the CHECK or the framing in Parse).
	d.block = append(d.block, l...)
	d.lines++
	if string(text) == End {
		block := append([]byte(nil), d.block...)
		d.block, d.lines, d.in = d.block[:0], 0, false
		r, err := Parse(block, d.loc())
		if err != nil {
			d.skipped += uint64(len(block))
		}
		return r, true, err
	}
	if d.lines >= MaxLines {
		n := d.abandon()
		return Report{}, true, fmt.Errorf("%w: %d lines and no end line (%d bytes dropped)", ErrTruncated, MaxLines, n)
	}
	return Report{}, false, nil
}

func (d *Decoder) loc() *time.Location {
	if d.Loc == nil {
		return time.UTC
	}
	return d.Loc
}
