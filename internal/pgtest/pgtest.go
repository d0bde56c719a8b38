// Package pgtest starts a real PostgreSQL server for a test binary, from
// Debian's postgresql package, and hands each test a fresh database on it.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.DSN(t) // postgres://…/t_3: an empty database of its own
//		…
//	}
//
// The server is started the first time a test asks for a database: initdb
// in a temporary directory, then postgres listening only on a unix socket
// in that directory (no port to collide with another test binary), with
// fsync off (the tests prove the history's logic, not PostgreSQL's
// disk). Main stops it and removes the directory when the tests are done.
// PostgreSQL refuses to run as root: when the tests run as root (they do
// here and in CI), initdb and postgres run as the postgres user, which
// Debian's package creates, in a directory it owns.
//
// The binaries are looked for in $SHIAN_PG_BIN, then
// /usr/lib/postgresql/*/bin (the newest version). Without them DSN skips
// the test, unless SHIAN_REQUIRE_POSTGRES=1 (CI sets it), when it fails.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type server struct {
	dir   string // data directory and socket
	bin   string // directory of initdb and postgres
	cred  *syscall.Credential
	owner int // uid the directory belongs to, -1 when not changed
	cmd   *exec.Cmd
	done  chan struct{}
	base  string // postgres://user@localhost (the socket directory goes in host=)
	log   string
}

var (
	once    sync.Once
	srv     *server
	srvErr  error
	skipWhy string
	mu      sync.Mutex
	nextDB  int
)

// Main runs the tests and stops the server if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	return code
}

// Required reports whether SHIAN_REQUIRE_POSTGRES=1 asks that PostgreSQL
// tests never skip.
func Required() bool { return os.Getenv("SHIAN_REQUIRE_POSTGRES") == "1" }

// DSN returns the connection string of a new, empty database on the test
// binary's server, starting the server on first use.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { srv, skipWhy, srvErr = start() })
	if skipWhy != "" {
		if Required() {
			t.Fatalf("PostgreSQL is required (SHIAN_REQUIRE_POSTGRES=1) but %s; apt-get install postgresql", skipWhy)
		}
		t.Skipf("no PostgreSQL here (%s); apt-get install postgresql, or set SHIAN_REQUIRE_POSTGRES=1 to make this a failure", skipWhy)
	}
	if srvErr != nil {
		t.Fatalf("starting PostgreSQL for the tests: %v", srvErr)
	}
	mu.Lock()
	nextDB++
	name := fmt.Sprintf("t_%d", nextDB)
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, srv.url("postgres"))
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return srv.url(name)
}

// url is the connection string of one database on the server.
func (s *server) url(db string) string {
	return s.base + "/" + db + "?sslmode=disable&host=" + s.dir
}

// binDir finds the directory of initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv("SHIAN_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				ok = append(ok, d)
			}
		}
	}
	if len(ok) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin with initdb and postgres")
	}
	sort.Slice(ok, func(i, j int) bool { return version(ok[i]) > version(ok[j]) })
	return ok[0], nil
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// start makes and starts the server; skip says why there can be none.
func start() (s *server, skip string, err error) {
	bin, err := binDir()
	if err != nil {
		return nil, err.Error(), nil
	}
	var cred *syscall.Credential
	owner := -1
	dbUser := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "running as root and there is no postgres user to run the server as", nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred, owner = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid
		dbUser = "postgres"
	} else {
		u, err := user.Current()
		if err != nil {
			return nil, "", err
		}
		dbUser = u.Username
	}
	dir, err := os.MkdirTemp("", "shian-pgtest-")
	if err != nil {
		return nil, "", err
	}
	s = &server{dir: dir, bin: bin, cred: cred, owner: owner, log: filepath.Join(dir, "server.log")}
	if owner >= 0 {
		if err := os.Chown(dir, owner, -1); err != nil {
			return s, "", err
		}
	}
	if out, err := s.command("initdb", "-D", s.data(), "-U", dbUser, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	s.base = "postgres://" + dbUser + "@localhost"
	if err := s.launch(dir); err != nil {
		s.stop()
		return nil, "", err
	}
	return s, "", nil
}

func (s *server) data() string { return filepath.Join(s.dir, "data") }

// command is one of the server's programs (initdb, postgres), run as the
// server's user.
func (s *server) command(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(s.bin, name), args...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	return c
}

// launch starts postgres on the data directory with its unix socket in
// sock and waits until it accepts connections there.
func (s *server) launch(sock string) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if s.owner >= 0 {
		os.Chown(s.log, s.owner, -1)
	}
	s.cmd = s.command("postgres", "-D", s.data(), "-k", sock, "-c", "listen_addresses=", "-c", "fsync=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	s.done = done
	go func(c *exec.Cmd) { c.Wait(); logf.Close(); close(done) }(s.cmd)
	conn := s.base + "/postgres?sslmode=disable&host=" + sock
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, conn)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-done:
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("postgres exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("postgres not accepting connections after 60 s (%v):\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// halt shuts the server down (fast shutdown: every session is ended,
// what was committed is kept; then kill), keeping its directory.
func (s *server) halt() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.cmd = nil
}

// stop shuts the server down and removes its directory.
func (s *server) stop() {
	s.halt()
	os.RemoveAll(s.dir)
}
