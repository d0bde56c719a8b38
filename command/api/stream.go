package api

import (
	"io"
	"net/http"
	"time"
)

// Long transfers and the server's timeouts. The HTTP server has a read
// and a write timeout (command: Config.HTTP), so that a slow body or a
// stalled download cannot hold a connection for ever. A transfer that is
// long but moving — an export of a whole event, a photo from a phone on a
// weak signal — must not be cut by them: the routes that carry one move
// the deadline on as every chunk goes through ([Server.streaming],
// [Server.slowBody]), so only a transfer that stops for StreamIdle is
// cut. The websockets clear the server's deadlines when they take the
// connection over and keep their own (command/live).

// streamIdle is how long a transfer may stop before it is cut.
func (s *Server) streamIdle() time.Duration {
	if s.StreamIdle > 0 {
		return s.StreamIdle
	}
	return time.Minute
}

// streaming returns w with its write deadline moved on before every
// write: a download is cut only when it stops.
func (s *Server) streaming(w http.ResponseWriter) http.ResponseWriter {
	return &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), idle: s.streamIdle()}
}

type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.rc.SetWriteDeadline(time.Now().Add(d.idle)) // a network deadline: the wall clock
	return d.ResponseWriter.Write(b)
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// slowBody moves r's read deadline on before every read of its body: an
// upload is cut only when it stops. Use it only behind authentication.
func (s *Server) slowBody(w http.ResponseWriter, r *http.Request) {
	r.Body = &deadlineReader{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: s.streamIdle()}
}

type deadlineReader struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (d *deadlineReader) Read(b []byte) (int, error) {
	d.rc.SetReadDeadline(time.Now().Add(d.idle))
	return d.ReadCloser.Read(b)
}
