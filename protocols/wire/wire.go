// Package wire defines the messages Shian's programs exchange over
// websockets: between a kiosk and the command service (the result stream),
// and between the command service and browsers (the live map).
//
// # Framing
//
// Every message is one JSON object in one websocket text frame, with a
// protocol version "v" and a "type". Unknown fields are ignored, so a newer
// peer may add fields. An unknown type, or a newer major version, is answered
// with an [Error] message and the connection is closed with the close code
// from [CloseCodeFor]. README.md beside this file documents every message
// with an example, for writing a client in another language.
//
// # The result stream
//
// A result gets its identity where it is measured: a never-reused
// result_id (UUIDv7) and a per-kiosk sequence number seq. The kiosk
// writes it durably before the operator sees "saved", then:
//
//	kiosk                                command
//	hello{kiosk_id, boot_epoch, last_seq} ─▶
//	                                    ◀─ welcome{acked_up_to}
//	results{[seq > acked_up_to …]}      ─▶  store durably, dedupe on result_id
//	                                    ◀─ ack{up_to_seq}
//
// The kiosk deletes or marks a result only after an ack covers it. After a
// reconnect it resends, in seq order, everything unacknowledged and
// everything it still holds above the welcome's acked_up_to, acknowledged
// or not: a command restored from an older backup, or one that lost rows to
// damage, gets back what it lost. The command accepts an identical resend
// and ignores it, and rejects a result whose result_id it holds with other
// content ([Reject]).
//
// # Asking for a range
//
// A kiosk that lists [FeatureResend] in its hello's features may be sent
// [Resend]{from_seq, to_seq}: the command misses (or holds damaged) those
// results and the kiosk sends again whatever it still holds of them. A
// command never sends Resend to a kiosk that did not list the feature,
// because an older kiosk closes the link on a type it does not know (the
// framing rule below); an older command ignores the unknown hello field.
//
// # The live map
//
// A browser receives a [Snapshot] on connect, then [Delta] messages with
// increasing sequence numbers. After a reconnect it sends
// [Subscribe]{since} with the last sequence it applied; the server replays
// the missing deltas, or sends a fresh snapshot when they are no longer
// kept.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol's major version. A peer that receives a message
// with a higher "v" answers with an error and closes.
const Version = 1

// Message types.
const (
	TypeHello     = "hello"
	TypeWelcome   = "welcome"
	TypeRules     = "rules"
	TypeResults   = "results"
	TypeAck       = "ack"
	TypeReject    = "reject"
	TypeStatus    = "status"
	TypeAlarm     = "alarm"
	TypeNotice    = "notice"
	TypeResend    = "resend"
	TypeError     = "error"
	TypeSubscribe = "subscribe"
	TypeSnapshot  = "snapshot"
	TypeDelta     = "delta"
)

// Size limits. A peer sets its websocket read limit to these, so a larger
// frame closes the connection with code 1009 before it is parsed.
const (
	// MaxKioskMessage bounds a message from a kiosk (a batch of results).
	MaxKioskMessage = 256 << 10
	// MaxBrowserMessage bounds a message from a browser.
	MaxBrowserMessage = 4 << 10
	// MaxBatch is the most results one Results message may carry.
	MaxBatch = 64
)

// Message is any wire message.
type Message interface {
	// MessageType returns the "type" value of the message.
	MessageType() string
}

// Header is the part common to every message.
type Header struct {
	V    int    `json:"v"`
	Type string `json:"type"`
}

// Errors returned by Decode. Each is wrapped with details; test with
// errors.Is.
var (
	ErrMalformed   = errors.New("wire: malformed message")
	ErrUnknownType = errors.New("wire: unknown message type")
	ErrVersion     = errors.New("wire: unsupported protocol version")
	ErrTooLarge    = errors.New("wire: message too large")
	ErrInvalid     = errors.New("wire: invalid message")
)

// Websocket close codes used by Shian (RFC 6455 §7.4; 4000–4999 are ours).
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001
	CloseProtocol     = 1002 // malformed or unknown message
	ClosePolicy       = 1008 // authentication or authorisation
	CloseTooBig       = 1009
	CloseServerError  = 1011
	CloseVersion      = 4001 // newer major protocol version
	CloseKioskReplace = 4002 // the same kiosk connected again; this link is replaced
	CloseLoggedOut    = 4003 // the browser's session ended, its token was revoked or its user disabled
	CloseTooMany      = 4004 // too many live connections (for this user, or in all)
)

// CloseCodeFor returns the close code that goes with a decode error.
func CloseCodeFor(err error) int {
	switch {
	case errors.Is(err, ErrVersion):
		return CloseVersion
	case errors.Is(err, ErrTooLarge):
		return CloseTooBig
	case err == nil:
		return CloseNormal
	}
	return CloseProtocol
}

// Encode returns the JSON of m with its header filled in.
func Encode(m Message) ([]byte, error) {
	setHeader(m)
	return json.Marshal(m)
}

func setHeader(m Message) {
	if h, ok := m.(interface{ header() *Header }); ok {
		hd := h.header()
		hd.V = Version
		hd.Type = m.MessageType()
	}
}

// quickHeader reads "v" and "type" from the start of b when the message
// begins with them as every encoder of this package writes it,
// {"v":1,"type":"results",…, and reports whether it could. It saves a
// whole pass of encoding/json over a 40 KB batch only to learn its type;
// anything else takes the general path.
func quickHeader(b []byte) (Header, bool) {
	const pv, pt = `{"v":`, `,"type":"`
	if !bytes.HasPrefix(b, []byte(pv)) {
		return Header{}, false
	}
	i, v := len(pv), 0
	for j := 0; i < len(b) && b[i] >= '0' && b[i] <= '9'; i, j = i+1, j+1 {
		if j == 6 || (j == 1 && v == 0) {
			return Header{}, false // long, or a leading zero: let encoding/json judge
		}
		v = v*10 + int(b[i]-'0')
	}
	if i == len(pv) || !bytes.HasPrefix(b[i:], []byte(pt)) {
		return Header{}, false
	}
	i += len(pt)
	start := i
	for i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] == '_') {
		i++
	}
	if i == start || i+1 >= len(b) || b[i] != '"' || (b[i+1] != ',' && b[i+1] != '}') {
		return Header{}, false
	}
	return Header{V: v, Type: string(b[start:i])}, true
}

// Decode parses one message of at most limit bytes. It returns a typed
// error (ErrMalformed, ErrUnknownType, ErrVersion, ErrTooLarge, ErrInvalid)
// for anything it cannot accept; it never panics.
func Decode(b []byte, limit int) (Message, error) { return decode(b, limit, true) }

// decode is Decode, with or without the quick header path (its tests
// compare the two).
func decode(b []byte, limit int, quick bool) (Message, error) {
	if limit > 0 && len(b) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), limit)
	}
	// The quick path takes only what it can decide alone (a current
	// version, a known type); for anything else encoding/json reads the
	// whole message first, so that a broken one is malformed whatever its
	// header says.
	if h, ok := quickHeader(b); quick && ok && h.V >= 1 && h.V <= Version && known(h.Type) {
		m, err := decodeAs(b, h)
		if err != errHeaderAgain {
			return m, err
		}
		// "v" or "type" again later in the object: JSON takes the last
		// one; read the header as encoding/json does.
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m, err := decodeAs(b, h)
	if err == errHeaderAgain {
		return nil, fmt.Errorf("%w: the header reads differently for the message's type", ErrMalformed)
	}
	return m, err
}

func known(t string) bool { _, ok := newMessage(t); return ok }

// newMessage returns a new message of type t.
func newMessage(t string) (Message, bool) {
	switch t {
	case TypeHello:
		return new(Hello), true
	case TypeWelcome:
		return new(Welcome), true
	case TypeRules:
		return new(RuleBook), true
	case TypeResults:
		return new(Results), true
	case TypeAck:
		return new(Ack), true
	case TypeReject:
		return new(Reject), true
	case TypeStatus:
		return new(Status), true
	case TypeAlarm:
		return new(Alarm), true
	case TypeNotice:
		return new(Notice), true
	case TypeResend:
		return new(Resend), true
	case TypeError:
		return new(Error), true
	case TypeSubscribe:
		return new(Subscribe), true
	case TypeSnapshot:
		return new(Snapshot), true
	case TypeDelta:
		return new(Delta), true
	}
	return nil, false
}

// errHeaderAgain: the decoded message's header is not the one quickHeader
// read.
var errHeaderAgain = errors.New("wire: header given twice")

// decodeAs decodes b as the message type h names.
func decodeAs(b []byte, h Header) (Message, error) {
	if h.V < 1 {
		return nil, fmt.Errorf("%w: missing or bad \"v\" (this peer speaks v%d)", ErrMalformed, Version)
	}
	if h.V > Version {
		return nil, fmt.Errorf("%w: peer speaks v%d, this peer v%d; upgrade this side", ErrVersion, h.V, Version)
	}
	m, ok := newMessage(h.Type)
	switch {
	case ok:
	case h.Type == "":
		return nil, fmt.Errorf("%w: missing \"type\"", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, h.Type)
	}
	// One pass: Unmarshal checks the whole input (trailing bytes too) and
	// fills m, its header included.
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, h.Type, err)
	}
	if got := *m.(interface{ header() *Header }).header(); got != h {
		return nil, errHeaderAgain
	}
	if v, ok := m.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, h.Type, err)
		}
	}
	return m, nil
}
