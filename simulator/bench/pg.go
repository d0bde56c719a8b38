package bench

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
	"strings"
	"syscall"
	"time"
)

// postgres is a PostgreSQL server the bench started for itself: Debian's
// binaries, initdb in the scratch directory, listening on a unix socket
// there only, with the durability settings of a real deployment (fsync
// and synchronous_commit on: the history's COMMIT waits for the WAL).
type postgres struct {
	dir     string
	bin     string
	version string // the server's major version
	cmd     *exec.Cmd
	done    chan struct{}
	as      *syscall.Credential // the postgres user when the bench runs as root
}

// pgBin finds Debian's PostgreSQL binaries ($SHIAN_PG_BIN, else the newest
// /usr/lib/postgresql/*/bin); "" when PostgreSQL is not installed.
func pgBin() string {
	if d := os.Getenv("SHIAN_PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

// errNoPostgres says PostgreSQL is not installed here.
var errNoPostgres = errors.New("PostgreSQL is not installed (apt-get install postgresql)")

// startPostgres initialises a cluster in dir and starts it.
func startPostgres(ctx context.Context, dir string) (*postgres, error) {
	bin := pgBin()
	if bin == "" {
		return nil, errNoPostgres
	}
	p := &postgres{dir: dir, bin: bin, done: make(chan struct{}), version: filepath.Base(filepath.Dir(bin))}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root; Debian's package has a user.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.as = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if p.as != nil {
		if err := os.Chown(dir, int(p.as.Uid), int(p.as.Gid)); err != nil {
			return nil, err
		}
		// The postgres user must be able to reach the directory.
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o001)
			}
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := p.command(ctx, "initdb", "-D", data, "-U", "shian", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	if p.as != nil {
		os.Chown(logf.Name(), int(p.as.Uid), int(p.as.Gid))
	}
	p.cmd = p.command(context.Background(), "postgres", "-D", data, "-k", dir, "-c", "listen_addresses=",
		"-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=200", "-c", "shared_buffers=256MB")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { p.cmd.Wait(); logf.Close(); close(p.done) }()
	// Ready when createdb can connect.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := p.command(ctx, "createdb", "-h", dir, "-U", "shian", "bench").CombinedOutput()
		if err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return nil, fmt.Errorf("postgres exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("postgres did not accept connections within 60 s: %s", strings.TrimSpace(string(out)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	if p.as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.as}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	return cmd
}

// dsn is the connection string of the bench database.
func (p *postgres) dsn() string { return p.dsnFor("bench") }

// dsnFor is the connection string of database name.
func (p *postgres) dsnFor(name string) string {
	return "postgres://shian@/" + name + "?host=" + p.dir + "&sslmode=disable"
}

// createDB creates database name unless it exists.
func (p *postgres) createDB(name string) error {
	out, err := p.command(context.Background(), "createdb", "-h", p.dir, "-U", "shian", name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "already exists") {
		return fmt.Errorf("createdb %s: %v: %s", name, err, out)
	}
	return nil
}

// stop shuts the server down (fast shutdown) and waits.
func (p *postgres) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
