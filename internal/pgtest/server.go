package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a throwaway PostgreSQL server for a program rather than a
// test binary (shian-sim cluster-demo): the same initdb in a temporary
// directory, unix socket only, fsync off, run as the postgres user when
// the program runs as root. Stop it to remove the directory; the server
// also dies with the program (SIGKILL on its parent's exit).
type Server struct{ s *server }

// Start starts a server. Without Debian's postgresql package the error
// says to install it.
func Start() (*Server, error) {
	s, skip, err := start()
	if skip != "" {
		return nil, fmt.Errorf("no PostgreSQL here (%s): install Debian's postgresql package (apt-get install postgresql), or set SHIAN_PG_BIN to the directory of initdb and postgres", skip)
	}
	if err != nil {
		if s != nil {
			s.stop()
		}
		return nil, err
	}
	return &Server{s: s}, nil
}

// CreateDB creates an empty database and returns its connection string.
func (s *Server) CreateDB(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", errors.New("pgtest: a database name is required")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.s.url("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to the server: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.s.url(name), nil
}

// Dir is the server's directory (its socket, data and server.log).
func (s *Server) Dir() string { return s.s.dir }

// Stop shuts the server down and removes its directory.
func (s *Server) Stop() { s.s.stop() }

// NewServer is Start for a test: without PostgreSQL it skips the test (or
// fails it under SHIAN_REQUIRE_POSTGRES=1), like DSN; the server is
// stopped when the test ends. It is a server of the test's own, apart
// from the one DSN shares, for a test that stops and starts it (Down, Up).
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, skip, err := start()
	if skip != "" {
		if Required() {
			t.Fatalf("PostgreSQL is required (SHIAN_REQUIRE_POSTGRES=1) but %s; apt-get install postgresql", skip)
		}
		t.Skipf("no PostgreSQL here (%s); apt-get install postgresql, or set SHIAN_REQUIRE_POSTGRES=1 to make this a failure", skip)
	}
	if err != nil {
		if s != nil {
			s.stop()
		}
		t.Fatalf("starting PostgreSQL for the test: %v", err)
	}
	srv := &Server{s: s}
	t.Cleanup(srv.Stop)
	return srv
}

// Down shuts the server down as an operator restarting it would (fast
// shutdown: every session is ended, every committed transaction kept),
// keeping its data directory; its clients' connections fail until Up.
func (s *Server) Down() { s.s.halt() }

// Up starts a server that is Down again on the same data directory and
// socket, and returns when it accepts connections.
func (s *Server) Up() error {
	if s.s.cmd != nil {
		return errors.New("pgtest: the server is up")
	}
	return s.s.launch(s.s.dir)
}

// UpAside starts a server that is Down on its data directory with its
// socket in a directory of its own, which no client of the server knows:
// to its clients the server is still down, while the caller reads what
// it holds through the connection string url returns for a database.
// Down it again before Up.
func (s *Server) UpAside() (url func(db string) string, err error) {
	if s.s.cmd != nil {
		return nil, errors.New("pgtest: the server is up")
	}
	aside := filepath.Join(s.s.dir, "aside")
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return nil, err
	}
	if s.s.owner >= 0 {
		if err := os.Chown(aside, s.s.owner, -1); err != nil {
			return nil, err
		}
	}
	if err := s.s.launch(aside); err != nil {
		return nil, err
	}
	return func(db string) string { return s.s.base + "/" + db + "?sslmode=disable&host=" + aside }, nil
}
