package dyframe

import (
	"bytes"
	"errors"
	"io"
)

// Scanner finds frames in a byte stream. Feed it bytes as they arrive and
// call Next until it returns ErrIncomplete. The zero value is ready to use.
// A Scanner is not safe for concurrent use.
//
// Between calls the Scanner holds at most one partial frame (MaxFrame-1
// bytes), however much noise it was fed.
type Scanner struct {
	buf     []byte
	skipped uint64
}

// Feed appends bytes received from the line.
func (s *Scanner) Feed(p []byte) { s.buf = append(s.buf, p...) }

// Skipped returns how many bytes were discarded as noise before a frame
// start (bytes dropped from rejected frames are not counted here; each
// rejected frame is reported by Next).
func (s *Scanner) Skipped() uint64 { return s.skipped }

// Pending returns how many bytes of an incomplete frame are buffered.
func (s *Scanner) Pending() int { return len(s.buf) }

// Reset discards buffered bytes (after flushing the port's input, or when a
// partial frame has waited too long). It returns a *FrameError wrapping
// ErrTruncated if a partial frame was discarded, else nil.
func (s *Scanner) Reset() error {
	if len(s.buf) == 0 {
		return nil
	}
	var cmd byte
	if len(s.buf) > 2 {
		cmd = s.buf[2]
	}
	err := frameErr(ErrTruncated, cmd, "%d bytes of a frame were discarded", len(s.buf))
	s.buf = s.buf[:0]
	return err
}

// Expire gives up on a buffered partial frame because the line went quiet
// before it was complete (a cut cable, or noise that looked like a header
// claiming a long frame). Only its first byte is dropped; Next then searches
// the bytes after it, so a valid frame that arrived inside the abandoned
// candidate is still found. It returns a *FrameError wrapping ErrTruncated,
// or nil if nothing was pending.
func (s *Scanner) Expire() error {
	if len(s.buf) == 0 {
		return nil
	}
	var cmd byte
	if len(s.buf) > 2 {
		cmd = s.buf[2]
	}
	err := frameErr(ErrTruncated, cmd, "gave up on a partial frame after %d bytes", len(s.buf))
	s.drop(1)
	return err
}

// Next returns the next frame, or a *FrameError for a candidate frame that
// was rejected (call Next again: the Scanner has already moved past it), or
// ErrIncomplete when it needs more bytes. The returned frame's Data is a
// fresh copy.
func (s *Scanner) Next() (Frame, error) {
	for {
		// Find a frame start: 03 FF, or a lone 03 at the very end.
		i := bytes.IndexByte(s.buf, Start0)
		if i < 0 {
			s.skipped += uint64(len(s.buf))
			s.buf = s.buf[:0]
			return Frame{}, ErrIncomplete
		}
		if i > 0 {
			s.skipped += uint64(i)
			s.drop(i)
		}
		if len(s.buf) >= 2 && s.buf[1] != Start1 {
			s.skipped++
			s.drop(1)
			continue
		}
		f, n, err := ParseFrame(s.buf)
		switch {
		case err == nil:
			f.Data = bytes.Clone(f.Data)
			if f.Data == nil {
				f.Data = []byte{}
			}
			s.drop(n)
			return f, nil
		case errors.Is(err, ErrIncomplete):
			return Frame{}, ErrIncomplete
		default:
			// Drop only the start byte: a real frame may begin inside
			// the bytes this candidate claimed.
			s.drop(1)
			return Frame{}, err
		}
	}
}

func (s *Scanner) drop(n int) {
	m := copy(s.buf, s.buf[n:])
	s.buf = s.buf[:m]
}

// Reader reads frames from an io.Reader that blocks until data arrives (a
// UART in the firmware, a pipe in tests).
type Reader struct {
	r       io.Reader
	s       Scanner
	err     error // sticky error of r
	partial bool  // a partial frame was abandoned at the end
	buf     [256]byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// ReadFrame returns the next frame. A *FrameError reports a rejected frame;
// the Reader has moved past it and ReadFrame may be called again. Any other
// error is the underlying reader's, returned once every complete frame
// before it has been returned (io.EOF becomes io.ErrUnexpectedEOF if the
// stream ended inside a frame).
func (r *Reader) ReadFrame() (Frame, error) {
	empty := 0
	for {
		f, err := r.s.Next()
		if !errors.Is(err, ErrIncomplete) {
			return f, err
		}
		if r.err != nil {
			if r.s.Pending() > 0 {
				// No more bytes will come: frames may still hide
				// inside the abandoned candidate.
				r.s.Expire()
				r.partial = true
				continue
			}
			if r.err == io.EOF && r.partial {
				return Frame{}, io.ErrUnexpectedEOF
			}
			return Frame{}, r.err
		}
		n, err := r.r.Read(r.buf[:])
		r.s.Feed(r.buf[:n])
		r.err = err
		if n == 0 && err == nil {
			if empty++; empty > 100 {
				return Frame{}, io.ErrNoProgress
			}
		} else {
			empty = 0
		}
	}
}

// Skipped returns the noise bytes skipped so far.
func (r *Reader) Skipped() uint64 { return r.s.Skipped() }
