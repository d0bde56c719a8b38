package ingest

import "github.com/shianfood/shian/protocols/wire"

// CloseAll closes every kiosk connection with 1001 (going away), as a
// process exit would. The HTTP server's Shutdown does not track hijacked
// websocket connections, so the service calls this when it stops; the
// kiosks reconnect with backoff and resend what was not acknowledged.
func (s *Server) CloseAll() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(wire.CloseGoingAway, "command service stopping")
	}
}
