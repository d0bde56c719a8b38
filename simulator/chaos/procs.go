package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/firmware/enzyme"
	"github.com/shianfood/shian/internal/faultproxy"
	"github.com/shianfood/shian/simulator/serialsim"
)

// binaries finds or builds shian-command and shian-kiosk.
func (r *run) binaries(ctx context.Context) error {
	if r.o.CommandBin == "" && r.o.KioskBin == "" {
		if exe, err := os.Executable(); err == nil {
			c, k := filepath.Join(filepath.Dir(exe), "shian-command"), filepath.Join(filepath.Dir(exe), "shian-kiosk")
			if isFile(c) && isFile(k) {
				r.o.CommandBin, r.o.KioskBin = c, k
			}
		}
	}
	build := func(path *string, pkg, name string) error {
		if *path != "" {
			if _, err := os.Stat(*path); err != nil {
				return fmt.Errorf("chaos: %s binary: %w", name, err)
			}
			abs, _ := filepath.Abs(*path)
			*path = abs
			return nil
		}
		*path = filepath.Join(r.dir, "bin", name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", *path, pkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("chaos: go build %s: %v\n%s", pkg, err, out)
		}
		return nil
	}
	if err := build(&r.o.CommandBin, "github.com/shianfood/shian/command/cmd/shian-command", "shian-command"); err != nil {
		return err
	}
	if err := build(&r.o.KioskBin, "github.com/shianfood/shian/kiosk/cmd/shian-kiosk", "shian-kiosk"); err != nil {
		return err
	}
	fmt.Fprintf(r.o.Out, "chaos: binaries %s and %s\n", r.o.CommandBin, r.o.KioskBin)
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// prepare registers the kiosks in a fresh command store (in cluster mode,
// the database's) and picks the command instances' addresses.
func (r *run) prepare(ctx context.Context) error {
	var st *store.Store
	var err error
	if r.o.Cluster > 0 {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err = store.OpenPostgres(sctx, r.dsn, store.Options{Log: r.o.Log})
		cancel()
	} else {
		st, err = store.Open(filepath.Join(r.dir, "command"), store.Options{Log: r.o.Log})
	}
	if err != nil {
		return err
	}
	defer st.Close()
	for i := 0; i < r.o.Kiosks; i++ {
		id := kioskID(i + 1)
		tok, err := st.RegisterKiosk(store.Kiosk{ID: id, Name: fmt.Sprintf("混沌测试终端 %d", i+1)})
		if err != nil {
			return err
		}
		kdir := filepath.Join(r.dir, "kiosks", id)
		if err := os.MkdirAll(kdir, 0o755); err != nil {
			return err
		}
		sim := enzyme.NewSim(enzyme.SimConfig{Mix: enzyme.DefaultMix, Seed: r.o.Seed + uint64(i)})
		fw := enzyme.New(enzyme.Config{Model: "DY-3000E", Serial: fmt.Sprintf("DY3E-CH%04d", i+1),
			Interval: r.o.Measure, Lead: r.o.Measure / 6, Resend: 300 * time.Millisecond,
			History: r.o.Results + 100}, sim, enzyme.SystemClock{})
		r.kiosks = append(r.kiosks, &kiosk{i: i + 1, id: id, token: tok, dir: kdir, fw: fw, sim: sim,
			link: filepath.Join(kdir, "ttyENZ0"), config: filepath.Join(kdir, "kiosk.yaml"), log: filepath.Join(kdir, "kiosk.log")})
	}
	if r.o.Cluster == 0 {
		r.insts = []*instance{{name: "command", dir: filepath.Join(r.dir, "command"), log: filepath.Join(r.dir, "command.log")}}
	}
	for i := 0; i < r.o.Cluster; i++ {
		name := string(rune('a' + i))
		r.insts = append(r.insts, &instance{name: name, dir: filepath.Join(r.dir, "instances", name),
			log: filepath.Join(r.dir, "instances", name+".log")})
	}
	for _, in := range r.insts {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		in.addr = ln.Addr().String()
		ln.Close()
	}
	return nil
}

// instance is one shian-command: the only one, or one of a cluster's.
type instance struct {
	name, addr string
	dir, log   string // data directory, log file
	proxy      *faultproxy.Proxy
	url        string // what the kiosks dial for it (the proxy's, with faults)

	mu   sync.Mutex
	proc *proc
}

func (in *instance) running() *proc {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.proc
}

// proc is a running child process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *proc) wait() { <-p.done }

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
}

func (p *proc) term(d time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
	}
}

// startInstance starts a command instance on its data directory (and, in
// cluster mode, the run's database) and waits until it serves.
//
// A restarted instance's port may have been taken in the meantime as the
// local port of some connection on this machine (the run picked it from
// the ephemeral range): an instance that exits at start because its
// address is in use is started again, up to 10 times, half a second apart.
func (r *run) startInstance(ctx context.Context, in *instance) error {
	for try := 1; ; try++ {
		before := fileSize(in.log)
		err := r.startOnce(ctx, in)
		if err == nil || try == 10 || !errors.Is(err, errExited) {
			return err
		}
		b, _ := os.ReadFile(in.log)
		said := string(b[min(before, int64(len(b))):])
		if !strings.Contains(said, "address already in use") {
			return fmt.Errorf("%w; it said:\n%s", err, lastLines(said, 10))
		}
		r.o.Log.Warn("an instance's port was in use at its restart; trying again", "instance", in.name, "addr", in.addr, "try", try)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

var errExited = errors.New("exited at start")

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (r *run) startOnce(ctx context.Context, in *instance) error {
	if err := os.MkdirAll(filepath.Dir(in.log), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{"--data", in.dir, "--listen", in.addr, "--log-level", "warn"}
	if r.o.Cluster > 0 {
		args = append(args, "--db", r.dsn)
	}
	cmd := exec.Command(r.o.CommandBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", r.o.CommandBin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	in.mu.Lock()
	in.proc = p
	in.mu.Unlock()
	// Ready when /healthz answers.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("chaos: shian-command %s %w (%v); see %s", in.name, errExited, p.err, in.log)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + in.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("chaos: shian-command %s did not become ready in 30 s; see %s", in.name, in.log)
}

func (r *run) startInstrument(ctx context.Context, k *kiosk) error {
	p, err := serialsim.Open(serialsim.Options{Link: k.link})
	if err != nil {
		return fmt.Errorf("chaos: pseudo-terminal for %s: %w", k.id, err)
	}
	served := make(chan struct{})
	go func() { p.Serve(ctx, k.fw); close(served) }()
	k.mu.Lock()
	k.port, k.served = p, served
	k.mu.Unlock()
	return nil
}

// replug gives the tester a new pseudo-terminal at the same path: a kiosk
// killed with SIGKILL leaves TIOCEXCL set on the old one (see
// simulator/serialsim). The firmware keeps its unacknowledged reports.
func (r *run) replug(ctx context.Context, k *kiosk) error {
	k.mu.Lock()
	p, served := k.port, k.served
	k.mu.Unlock()
	p.Close()
	<-served
	return r.startInstrument(ctx, k)
}

func (r *run) writeConfig(k *kiosk) error {
	pong := "60s"
	if r.o.Faults {
		pong = "4s" // notice a black hole in seconds, not a minute
	}
	urls := "  url: " + r.insts[0].url
	if r.o.Cluster > 0 {
		urls = "  urls:"
		for _, in := range r.insts {
			urls += "\n    - " + in.url
		}
	}
	cfg := fmt.Sprintf(`# Written by shian-sim chaos.
kiosk_id: %s
name: 混沌测试终端 %d
data: %s
command:
%s
  token: %s
  backoff_min: 100ms
  backoff_max: 2s
  pong_wait: %s
operator: op-chaos-%02d
ui:
  listen: 127.0.0.1:0
devices:
  - id: enzyme-1
    protocol: dy-enzyme
    model: DY-3000E
    port: %s
    baud: 9600
    options:
      read_timeout: 20ms
      probe_every: 1s
      backoff_min: 50ms
      backoff_max: 500ms
`, k.id, k.i, filepath.Join(k.dir, "data"), urls, k.token, pong, k.i, k.link)
	return os.WriteFile(k.config, []byte(cfg), 0o600)
}

func (r *run) startKiosk(k *kiosk) error {
	logf, err := os.OpenFile(k.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.o.KioskBin, "--config", k.config, "--log-level", "info", "--log-format", "json")
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", r.o.KioskBin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			r.events.line(k.id, []byte(line))
		}
	}()
	go func() { <-scanned; p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	k.mu.Lock()
	k.proc = p
	k.mu.Unlock()
	return nil
}

// sampleRSS keeps the largest kiosk RSS in the ledger.
func (r *run) sampleRSS(ctx context.Context) {
	for {
		for _, k := range r.kiosks {
			k.mu.Lock()
			p := k.proc
			k.mu.Unlock()
			if p == nil || p.cmd.Process == nil {
				continue
			}
			if rss := rssOf(p.cmd.Process.Pid); rss > r.maxRSS.Load() {
				r.maxRSS.Store(rss)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// rssOf reads VmRSS from /proc (bytes; 0 if unknown).
func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// stopAll stops the kiosks and the command (SIGTERM, then SIGKILL) and
// unplugs the testers.
func (r *run) stopAll() {
	var wg sync.WaitGroup
	for _, k := range r.kiosks {
		k.mu.Lock()
		p, port := k.proc, k.port
		k.mu.Unlock()
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.term(5 * time.Second) }()
		}
		if port != nil {
			defer port.Close()
		}
	}
	wg.Wait()
	for _, in := range r.insts {
		if p := in.running(); p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.term(10 * time.Second) }()
		}
	}
	wg.Wait()
}
