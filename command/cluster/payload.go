package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxPayload is the largest NOTIFY payload Publish sends, in bytes:
// PostgreSQL's limit is "shorter than 8000 bytes".
const MaxPayload = 7999

// Limits on what a notice may carry.
const (
	maxOrigin = 200
	maxID     = 512
)

// Notice is one decoded NOTIFY payload: who published it and the ids.
type Notice struct {
	Origin string   `json:"o"`
	IDs    []string `json:"ids"`
}

// ErrPayload is the error of a payload that is not a notice.
var ErrPayload = errors.New("cluster: bad notice payload")

// DecodePayload decodes and checks one NOTIFY payload: JSON with a
// non-empty origin and at least one id, every string valid UTF-8 without
// control characters and of bounded length. A payload that fails is
// reported with ErrPayload and the reason; the receiver drops it (and
// should resync, since a notice it could not read is a notice missed).
func DecodePayload(b []byte) (Notice, error) {
	var n Notice
	if len(b) > MaxPayload {
		return Notice{}, fmt.Errorf("%w: %d bytes, more than %d", ErrPayload, len(b), MaxPayload)
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return Notice{}, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if err := checkString("origin", n.Origin, maxOrigin); err != nil {
		return Notice{}, err
	}
	if len(n.IDs) == 0 {
		return Notice{}, fmt.Errorf("%w: no ids", ErrPayload)
	}
	for _, id := range n.IDs {
		if err := checkString("id", id, maxID); err != nil {
			return Notice{}, err
		}
	}
	return n, nil
}

func checkString(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrPayload, what)
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s of %d bytes, more than %d", ErrPayload, what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrPayload, what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s has a control character", ErrPayload, what)
		}
	}
	return nil
}

// encodePayloads splits ids into payloads of at most max bytes each, in
// order, every one a notice DecodePayload accepts.
func encodePayloads(origin string, ids []string, max int) ([]string, error) {
	if err := checkString("origin", origin, maxOrigin); err != nil {
		return nil, err
	}
	o, _ := json.Marshal(origin)
	head := `{"o":` + string(o) + `,"ids":[`
	const tail = `]}`
	var out []string
	cur := []byte(head)
	n := 0
	for _, id := range ids {
		if err := checkString("id", id, maxID); err != nil {
			return nil, err
		}
		e, _ := json.Marshal(id)
		if len(head)+len(e)+len(tail) > max {
			return nil, fmt.Errorf("cluster: id %.40q… does not fit one notice of %d bytes", id, max)
		}
		extra := len(e)
		if n > 0 {
			extra++ // the comma
		}
		if len(cur)+extra+len(tail) > max {
			out = append(out, string(cur)+tail)
			cur, n = []byte(head), 0
		}
		if n > 0 {
			cur = append(cur, ',')
		}
		cur = append(cur, e...)
		n++
	}
	if n > 0 {
		out = append(out, string(cur)+tail)
	}
	return out, nil
}
