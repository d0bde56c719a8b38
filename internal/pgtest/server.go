package pgtest

import (
	"context"
	"errors"
	"fmt"
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
