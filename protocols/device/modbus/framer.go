package modbus

import (
	"bytes"
	"errors"
	"fmt"
)

// Side says which frames a byte stream carries.
type Side int

// Sides of a Modbus line.
const (
	// Responses is what a master reads: slaves' answers.
	Responses Side = iota
	// Requests is what a slave reads: the master's requests.
	Requests
)

// Framer finds RTU frames in a byte stream (see the package doc, "Framing
// a stream"). Feed it bytes as they arrive and call Next until it returns
// ErrIncomplete. The zero value frames responses. A Framer is not safe for
// concurrent use.
//
// It holds less than MaxADU bytes between calls to Next, however much
// noise it was fed.
type Framer struct {
	// Side is the kind of frame the stream carries.
	Side Side

	expect  *Request
	buf     []byte
	hunting bool
	skipped uint64
}

// Expect makes the framer accept only the answer to req (a response from
// req's slave to req's function with the right byte count, or an
// exception from that slave to that function); other valid frames are
// skipped with an ErrMismatch error. Pass nil to accept any response.
// It applies to a Responses framer only.
func (f *Framer) Expect(req *Request) {
	if req == nil {
		f.expect = nil
		return
	}
	r := *req
	f.expect = &r
}

// Feed appends bytes received from the line.
func (f *Framer) Feed(p []byte) { f.buf = append(f.buf, p...) }

// Pending returns how many bytes of a possible frame are buffered.
func (f *Framer) Pending() int { return len(f.buf) }

// Skipped returns how many bytes were discarded while hunting for a frame.
func (f *Framer) Skipped() uint64 { return f.skipped }

// Reset discards the buffered bytes (after the port's input was flushed).
func (f *Framer) Reset() {
	f.buf = f.buf[:0]
	f.hunting = false
}

// Gap tells the framer the line went quiet (3.5 character times, or a
// read timeout): a frame in progress will not be completed. Call Next
// until ErrIncomplete first. Gap drops what is pending and returns an
// ErrTruncated error saying how much, or nil if nothing was pending.
func (f *Framer) Gap() error {
	n := len(f.buf)
	f.Reset()
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d bytes of an unfinished frame dropped when the line went quiet", ErrTruncated, n)
}

// Next returns the next valid frame (a fresh copy, CRC included; decode
// it with ParseResponse or ParseRequest), or ErrIncomplete when it needs
// more bytes, or an error for bytes that are not a valid frame. After
// such an error it hunts for the next valid frame without reporting the
// bytes it skips; call Next again.
func (f *Framer) Next() ([]byte, error) {
	for len(f.buf) > 0 {
		if f.hunting && f.noise(f.buf) {
			f.drop(1)
			f.skipped++
			continue
		}
		n, err := f.candidate(f.buf)
		switch {
		case err == nil:
			adu := bytes.Clone(f.buf[:n])
			f.drop(n)
			f.hunting = false
			return adu, nil
		case errors.Is(err, ErrMismatch), errors.Is(err, ErrUnsupported):
			// A whole valid frame, but not the one we wait for, or a
			// request the slave must refuse (exception 01).
			f.drop(n)
			f.hunting = false
			return nil, err
		case errors.Is(err, ErrIncomplete):
			// The head claims more bytes than we have. If a whole valid
			// frame already sits further on, the head was noise.
			i := f.search()
			if i < 0 {
				return nil, ErrIncomplete
			}
			f.drop(i)
			f.skipped += uint64(i)
			if !f.hunting {
				return nil, frameErr("%d bytes of noise before a frame", i)
			}
			f.hunting = false
			continue
		}
		f.drop(1)
		f.skipped++
		if !f.hunting {
			f.hunting = true
			return nil, err
		}
	}
	return nil, ErrIncomplete
}

// candidate checks for a valid frame at the start of b: its length, or
// ErrIncomplete, or the reason it is not one. An ErrMismatch comes with
// the frame's length.
func (f *Framer) candidate(b []byte) (int, error) {
	var n int
	var err error
	if f.Side == Requests {
		n, err = RequestLen(b)
	} else {
		n, err = ResponseLen(b)
		if err == nil && f.expect != nil && !f.expect.answers(b) {
			// A response, but not the answer we wait for: a whole valid
			// one is a mismatch (skipped whole); a partial one may still
			// become one.
			if len(b) < n {
				return 0, ErrIncomplete
			}
			if _, perr := ParseResponse(b[:n]); perr != nil {
				return 0, perr
			}
			return n, mismatch("%d-byte frame from slave %d, function %02X", n, b[0], b[1])
		}
	}
	if err != nil {
		return 0, err
	}
	if len(b) < n {
		return 0, ErrIncomplete
	}
	if f.Side == Requests {
		_, err = ParseRequest(b[:n])
		if errors.Is(err, ErrUnsupported) {
			return n, err
		}
	} else {
		_, err = ParseResponse(b[:n])
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// search returns the offset (> 0) of the first whole valid frame after
// the head, or -1. It screens each offset without building errors (the
// header and the CRC), and checks the rare survivor fully.
func (f *Framer) search() int {
	for i := 1; i < len(f.buf); i++ {
		b := f.buf[i:]
		var n int
		var st lenStatus
		if f.Side == Requests {
			n, st = requestLen(b)
		} else {
			n, st = responseLen(b)
			if st == lenOK && f.expect != nil && !f.expect.answers(b) {
				continue
			}
		}
		if st != lenOK || len(b) < n || !crcOK(b[:n]) {
			continue
		}
		if _, err := f.candidate(b); err == nil {
			return i
		}
	}
	return -1
}

// noise reports, without building errors, that b cannot start a frame:
// an impossible header, or a whole claimed frame whose CRC fails.
func (f *Framer) noise(b []byte) bool {
	var n int
	var st lenStatus
	if f.Side == Requests {
		n, st = requestLen(b)
	} else {
		n, st = responseLen(b)
	}
	switch st {
	case lenOK:
		return len(b) >= n && !crcOK(b[:n])
	case lenMore:
		return false
	}
	return true
}

func crcOK(adu []byte) bool {
	k := len(adu) - 2
	c := CRC(adu[:k])
	return adu[k] == byte(c) && adu[k+1] == byte(c>>8)
}

func (f *Framer) drop(n int) {
	m := copy(f.buf, f.buf[n:])
	f.buf = f.buf[:m]
}
