package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shianfood/shian/internal/pgtest"
)

// TestServerDownAndUp: a Server that is Down refuses connections and
// keeps what was committed; UpAside serves it on a socket its clients do
// not know (they still fail); Up serves it where they look again.
func TestServerDownAndUp(t *testing.T) {
	s := pgtest.NewServer(t)
	ctx := context.Background()
	dsn, err := s.CreateDB(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	connect := func(dsn string) (*pgx.Conn, error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return pgx.Connect(cctx, dsn)
	}
	c, err := connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	s.Down()
	if _, err := c.Exec(ctx, `SELECT 1`); err == nil {
		t.Fatal("a session survived Down")
	}
	c.Close(ctx)
	if c, err := connect(dsn); err == nil {
		c.Close(ctx)
		t.Fatal("connected to a server that is down")
	}
	url, err := s.UpAside()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := connect(dsn); err == nil {
		c.Close(ctx)
		t.Fatal("a client connected on the usual socket while the server was up aside")
	}
	read := func(dsn string) int {
		t.Helper()
		c, err := connect(dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n int
		if err := c.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := read(url("k")); n != 7 {
		t.Fatalf("aside: read %d, want 7", n)
	}
	if err := s.Up(); err == nil {
		t.Fatal("Up of a server that is up aside")
	}
	s.Down()
	if err := s.Up(); err != nil {
		t.Fatal(err)
	}
	if n := read(dsn); n != 7 {
		t.Fatalf("after Up: read %d, want 7", n)
	}
}
