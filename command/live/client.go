package live

import (
	"cmp"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/protocols/wire"
)

// Connection timing, as in the gorilla chat example.
const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = (pongWait * 9) / 10
)

type client struct {
	hub   *Hub
	conn  *websocket.Conn
	send  chan []byte
	owner Owner
	// Set by the hub before it closes send: the close frame the writer
	// sends then (0: going away).
	closeCode   int
	closeReason string
}

// Upgrader returns the websocket upgrader for browsers: same-origin only
// (gorilla's default CheckOrigin rejects a cross-origin handshake, and we
// keep it), no compression, small buffers.
func Upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096}
}

// ServeWS upgrades an already authenticated request and serves the
// browser until it goes away. Authentication is the caller's job.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	conn, err := Upgrader().Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already wrote the HTTP error (403 for a foreign origin)
	}
	c := &client{hub: h, conn: conn, send: make(chan []byte, h.opts.SendBuffer)}
	if h.opts.Owner != nil {
		c.owner = h.opts.Owner(r)
	}
	reg := registration{c: c, stream: r.URL.Query().Get("stream")}
	if h.opts.ScopeOf != nil {
		reg.scope = h.opts.ScopeOf(r)
	}
	reg.since, _ = strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	select {
	case h.register <- reg:
	case <-h.done:
		conn.Close()
		return
	}
	go c.writePump()
	go c.readPump()
}

// readPump reads subscribe messages until the first error.
func (c *client) readPump() {
	defer func() {
		select {
		case c.hub.unregister <- c:
		case <-c.hub.done:
		}
		c.conn.Close()
	}()
	c.conn.SetReadLimit(wire.MaxBrowserMessage)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		m, err := wire.Decode(b, wire.MaxBrowserMessage)
		if err != nil {
			code := wire.CloseCodeFor(err)
			msg := websocket.FormatCloseMessage(code, trim(err.Error()))
			c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
			return
		}
		if sub, ok := m.(*wire.Subscribe); ok {
			select {
			case c.hub.resync <- resyncReq{c: c, since: sub.Since, stream: sub.Stream}:
			case <-c.hub.done:
				return
			}
		}
	}
}

// trim keeps a close reason within the 123 bytes a close frame allows.
func trim(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// writePump is the only goroutine that writes to the connection.
func (c *client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				// The hub closed the channel: dropped, shutting down, over
				// a cap, or its credential ended (the hub set the code).
				code := cmp.Or(c.closeCode, websocket.CloseGoingAway)
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, c.closeReason))
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
