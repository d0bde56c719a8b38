package ingest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/wire"
)

// trimReason keeps a close reason within the 123 bytes a close frame
// allows, on a rune boundary.
func trimReason(s string) string {
	if len(s) <= 120 {
		return s
	}
	for i := 120; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return ""
}

// conn is one kiosk connection: serve is its reader, writePump its only
// writer.
type conn struct {
	srv   *Server
	ws    *websocket.Conn
	kiosk string
	out   chan wire.Message
	done  chan struct{}
	once  sync.Once

	closeCode int
	closeMsg  string
	skewed    bool
	resend    bool        // the kiosk's hello listed wire.FeatureResend
	regressed atomic.Bool // a seq regression alarm was raised on this link

	// tokenHash is the token this link authenticated with; reg is the
	// kiosk's registration, kept current by KioskChanged.
	tokenHash string
	reg       atomic.Pointer[store.Kiosk]
	// revoked is set when the kiosk was re-registered, disabled or
	// deleted: from then on nothing of this link is stored or acked.
	revoked atomic.Bool
	gone    atomic.Bool // the registration was deleted
}

// send queues m for the writer. A connection whose queue is full (it
// stopped reading acks) is closed. Nothing is sent on a revoked link.
func (c *conn) send(m wire.Message) {
	if c.revoked.Load() {
		return
	}
	select {
	case <-c.done:
	case c.out <- m:
	default:
		c.closeWith(wire.CloseServerError, "send queue full")
	}
}

func (c *conn) closeWith(code int, msg string) {
	c.once.Do(func() {
		c.closeCode, c.closeMsg = code, msg
		close(c.done)
	})
}

// revoke closes the link at once with 1008 (policy): its kiosk's token
// was replaced, or the kiosk disabled or deleted. What it sent and was not
// acked yet is neither stored nor acked; the queued messages are dropped.
func (c *conn) revoke(msg string) {
	c.revoked.Store(true)
	c.closeWith(wire.ClosePolicy, msg)
}

func (c *conn) writePump() {
	ping := time.NewTicker(c.srv.cfg.PongWait * 9 / 10)
	defer func() {
		ping.Stop()
		c.ws.Close()
	}()
	write := func(m wire.Message) error {
		b, err := wire.Encode(m)
		if err != nil {
			return err
		}
		c.ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteWait))
		return c.ws.WriteMessage(websocket.TextMessage, b)
	}
	for {
		select {
		case <-c.done:
			if c.revoked.Load() {
				// Nothing more for a revoked link: say why, and close.
				if b, err := wire.Encode(&wire.Error{Code: "revoked", Message: c.closeMsg}); err == nil {
					c.ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteWait))
					c.ws.WriteMessage(websocket.TextMessage, b)
				}
				c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(wire.ClosePolicy, trimReason(c.closeMsg)), time.Now().Add(time.Second))
				return
			}
			// Flush what is queued (acks for stored results), then close.
			for {
				select {
				case m := <-c.out:
					if write(m) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			code := c.closeCode
			if code == 0 {
				code = wire.CloseNormal
			}
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, c.closeMsg), time.Now().Add(time.Second))
			return
		case m := <-c.out:
			if err := write(m); err != nil {
				c.closeWith(0, "")
				return
			}
		case <-ping.C:
			c.ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteWait))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.closeWith(0, "")
				return
			}
		}
	}
}

func (c *conn) fail(code int, errCode, msg string) {
	c.send(&wire.Error{Code: errCode, Message: msg})
	c.closeWith(code, msg)
}

// serve is the reader: hello, then batches, until the first error.
func (c *conn) serve() {
	s := c.srv
	defer func() {
		c.closeWith(0, "")
		s.mu.Lock()
		delete(s.links, c)
		if s.conns[c.kiosk] == c {
			delete(s.conns, c.kiosk)
			s.mu.Unlock()
			if !c.gone.Load() {
				now := s.cfg.Now()
				s.updateState(c.kiosk, func(st *wire.KioskState) { st.Online = false; st.LastSeen = &now })
			}
		} else {
			s.mu.Unlock()
		}
	}()
	c.ws.SetReadLimit(wire.MaxKioskMessage)
	c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return
	}
	m, err := wire.Decode(b, wire.MaxKioskMessage)
	if err != nil {
		c.fail(wire.CloseCodeFor(err), "protocol", err.Error())
		return
	}
	hello, ok := m.(*wire.Hello)
	if !ok {
		c.fail(wire.CloseProtocol, "protocol", "the first message must be hello")
		return
	}
	if hello.KioskID != c.kiosk {
		c.fail(wire.ClosePolicy, "forbidden", fmt.Sprintf("this token belongs to kiosk %s, not %s", c.kiosk, hello.KioskID))
		return
	}
	now := s.cfg.Now()
	if off := hello.SentAt.Sub(now); off > MaxSkew || off < -MaxSkew {
		c.skewed = true
		s.alarm(alarmClock(c.kiosk, off))
	}
	c.resend = hello.Has(wire.FeatureResend)
	// Replace an older link of the same kiosk.
	s.mu.Lock()
	old := s.conns[c.kiosk]
	s.conns[c.kiosk] = c
	queued := s.queue[c.kiosk]
	delete(s.queue, c.kiosk)
	var asks []wire.Resend
	if c.resend {
		asks = s.asks[c.kiosk]
		delete(s.asks, c.kiosk)
	}
	s.mu.Unlock()
	if old != nil {
		old.closeWith(wire.CloseKioskReplace, "replaced by a newer connection of the same kiosk")
	}
	hw, highest := s.cfg.Sink.HighWater(c.kiosk)
	if highest > hello.LastSeq {
		// One alarm per regression, not per reconnect of a restored kiosk.
		c.regressed.Store(true)
		s.mu.Lock()
		first := s.regressed[c.kiosk] != highest
		s.regressed[c.kiosk] = highest
		s.mu.Unlock()
		if first {
			s.alarm(alarmRegression(c.kiosk, hello.LastSeq, highest))
		}
	}
	welcome := &wire.Welcome{KioskID: c.kiosk, AckedUpTo: min(hw, hello.LastSeq), ServerTime: now, MaxInFlight: s.cfg.MaxInFlight}
	if b := s.cfg.Books.Current(); b.Version > 0 {
		welcome.Rules = &b
	}
	if reg := c.reg.Load(); reg != nil {
		welcome.Sites = s.sitesFor(reg)
	}
	c.send(welcome)
	for i := range queued {
		c.send(&queued[i])
	}
	for i := range asks {
		c.send(&asks[i])
	}
	s.updateState(c.kiosk, func(st *wire.KioskState) { st.Online = true; st.LastSeen = &now; st.Pending = hello.Pending })

	c.ws.SetReadDeadline(time.Now().Add(s.cfg.PongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(s.cfg.PongWait)) })
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(s.cfg.PongWait))
		m, err := wire.Decode(b, wire.MaxKioskMessage)
		if err != nil {
			c.fail(wire.CloseCodeFor(err), "protocol", err.Error())
			return
		}
		if c.revoked.Load() {
			return
		}
		switch m := m.(type) {
		case *wire.Results:
			if m.Results[0].KioskID != c.kiosk {
				c.fail(wire.ClosePolicy, "forbidden", "a kiosk may only send its own results")
				return
			}
			upTo := m.Results[len(m.Results)-1].Seq
			reg := c.reg.Load()
			keep, refused, err := s.checkScope(reg, m.Results)
			if err != nil {
				s.cfg.Log.Error("cannot check results against the kiosk's registration; closing the link so that it resends", "kiosk", c.kiosk, "err", err)
				c.fail(wire.CloseServerError, "server", "cannot read the kiosk's registration; resend later")
				return
			}
			// The rejects go out before this message's ack (which the
			// committer sends once the rest is stored): the kiosk sets a
			// refused result aside before the ack could mark it sent.
			for _, rj := range refused {
				c.send(rj)
				if s.refusedOnce(rj.ResultID) {
					s.alarm(alarmOutOfScope(reg, rj))
				}
			}
			prepared := make([]history.Incoming, len(keep))
			for i := range keep {
				c.derive(&keep[i])
				prepared[i] = history.Prepare(keep[i])
			}
			select {
			case s.subs <- &submission{c: c, results: keep, upTo: upTo, prepared: prepared}:
			case <-c.done:
				return
			}
		case *wire.Status:
			now := s.cfg.Now()
			s.updateState(c.kiosk, func(st *wire.KioskState) {
				st.Online, st.LastSeen, st.Pending, st.Storage, st.Instruments = true, &now, m.Pending, m.Storage, m.Instruments
				st.RulesVersion = m.RulesVersion
				if m.Lon != 0 || m.Lat != 0 {
					st.Lon, st.Lat = m.Lon, m.Lat
				}
				if m.SiteID != "" {
					st.SiteID = m.SiteID
				}
			})
		case *wire.Alarm:
			s.alarm(alarmFromKiosk(c.kiosk, m))
		case *wire.Error:
			return
		default:
			c.fail(wire.CloseProtocol, "protocol", "a kiosk may not send "+m.MessageType())
			return
		}
		select {
		case <-c.done:
			return
		default:
		}
	}
}

// derive re-derives the verdict from the raw values with the rule book
// the result names, for its instrument model and kit lot (command/rulebook,
// Keeper.Judge), and sets the command's flags.
func (c *conn) derive(r *wire.Result) {
	j := c.srv.cfg.Books.Judge(r)
	r.Derived = j.Derived
	r.Flags = append(r.Flags, j.Flags...)
	if c.skewed {
		r.Flags = append(r.Flags, wire.FlagClockSkew)
	}
}
