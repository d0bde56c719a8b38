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
// The kiosk deletes or marks a result only after an ack covers it, and
// resends everything unacknowledged after a reconnect, in seq order. The
// command accepts an identical resend and ignores it, and rejects a result
// whose result_id it holds with other content ([Reject]).
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
	CloseLoggedOut    = 4003 // the browser session ended
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

// Decode parses one message of at most limit bytes. It returns a typed
// error (ErrMalformed, ErrUnknownType, ErrVersion, ErrTooLarge, ErrInvalid)
// for anything it cannot accept; it never panics.
func Decode(b []byte, limit int) (Message, error) {
	if limit > 0 && len(b) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), limit)
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if h.V < 1 {
		return nil, fmt.Errorf("%w: missing or bad \"v\" (this peer speaks v%d)", ErrMalformed, Version)
	}
	if h.V > Version {
		return nil, fmt.Errorf("%w: peer speaks v%d, this peer v%d; upgrade this side", ErrVersion, h.V, Version)
	}
	var m Message
	switch h.Type {
	case TypeHello:
		m = new(Hello)
	case TypeWelcome:
		m = new(Welcome)
	case TypeRules:
		m = new(RuleBook)
	case TypeResults:
		m = new(Results)
	case TypeAck:
		m = new(Ack)
	case TypeReject:
		m = new(Reject)
	case TypeStatus:
		m = new(Status)
	case TypeAlarm:
		m = new(Alarm)
	case TypeNotice:
		m = new(Notice)
	case TypeError:
		m = new(Error)
	case TypeSubscribe:
		m = new(Subscribe)
	case TypeSnapshot:
		m = new(Snapshot)
	case TypeDelta:
		m = new(Delta)
	case "":
		return nil, fmt.Errorf("%w: missing \"type\"", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, h.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, h.Type, err)
	}
	if v, ok := m.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, h.Type, err)
		}
	}
	return m, nil
}
