package faultproxy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
)

// wsFilter follows a websocket stream from a server (RFC 6455): the HTTP
// upgrade response, then frames. It lets drop decide about every complete,
// unfragmented text message whose JSON "type" is "ack".
type wsFilter struct {
	upgraded bool
	tail     []byte // last bytes of the HTTP response, to find its end
	pending  []byte // an incomplete frame
	broken   bool   // unparseable stream: pass everything through
}

// filter returns the bytes of in to forward now. Incomplete frames are
// held until they are complete.
func (w *wsFilter) filter(in []byte, drop func() bool) []byte {
	if w.broken {
		return in
	}
	var out []byte
	if !w.upgraded {
		buf := append(w.tail, in...)
		i := bytes.Index(buf, []byte("\r\n\r\n"))
		if i < 0 {
			if len(buf) > 3 {
				w.tail = append([]byte(nil), buf[len(buf)-3:]...)
			} else {
				w.tail = append([]byte(nil), buf...)
			}
			return in
		}
		// Bytes of in up to the end of the headers pass as they are.
		end := i + 4 - len(w.tail)
		out = append(out, in[:end]...)
		in = in[end:]
		w.upgraded, w.tail = true, nil
	}
	w.pending = append(w.pending, in...)
	for {
		n, ok := frameLen(w.pending)
		if n < 0 {
			// Not a websocket frame: stop interpreting.
			w.broken = true
			out = append(out, w.pending...)
			w.pending = nil
			return out
		}
		if !ok || len(w.pending) < n {
			return out
		}
		frame := w.pending[:n]
		if !(isAck(frame) && drop()) {
			out = append(out, frame...)
		}
		w.pending = append([]byte(nil), w.pending[n:]...)
	}
}

// frameLen returns the length of the frame at the start of b; ok is false
// while the header itself is incomplete; -1 for an impossible header.
func frameLen(b []byte) (n int, ok bool) {
	if len(b) < 2 {
		return 0, false
	}
	hl := 2
	l := int(b[1] & 0x7f)
	switch l {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	if b[1]&0x80 != 0 {
		hl += 4 // masked (a client frame; not expected from a server)
	}
	if len(b) < hl {
		return 0, false
	}
	switch l {
	case 126:
		l = int(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		v := binary.BigEndian.Uint64(b[2:10])
		if v > 1<<30 {
			return -1, false
		}
		l = int(v)
	}
	return hl + l, true
}

// isAck reports whether frame is a final, unmasked text frame holding a
// JSON object with "type":"ack".
func isAck(frame []byte) bool {
	if frame[0] != 0x81 || frame[1]&0x80 != 0 {
		return false
	}
	hl := 2
	switch frame[1] & 0x7f {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	var m struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(frame[hl:], &m) == nil && m.Type == "ack"
}
