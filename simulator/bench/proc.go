package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process the bench started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

// start runs bin with args, its output appended to logPath. If watch is
// set, every stdout line is passed to it as well.
func start(name, bin string, args []string, logPath string, env []string, watch func(string)) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	var stdout io.ReadCloser
	if watch != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	scanned := make(chan struct{})
	if stdout != nil {
		go func() {
			defer close(scanned)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				watch(sc.Text())
			}
		}()
	} else {
		close(scanned)
	}
	go func() { <-scanned; p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to d, then SIGKILLs.
func (p *proc) stop(d time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last lines of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// waitHealthy polls http://addr/healthz until it answers 200 and returns
// how long that took from since.
func waitHealthy(ctx context.Context, p *proc, addr string, since time.Time, limit time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: time.Second}
	deadline := since.Add(limit)
	for {
		if p.exited() {
			return 0, fmt.Errorf("%s exited at start (%v):\n%s", p.name, p.err, p.tail())
		}
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(since), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not answer /healthz within %v; log:\n%s", p.name, limit, p.tail())
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// rss returns a process's resident set size in bytes (0 if unknown).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime returns the user+system CPU time a process has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux the project runs on.
const clockTicks = 100

// selfCPU returns the CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ports hands out loopback addresses: from Base upwards when Base is set
// (a machine where each user keeps to a port range), else any free port.
type ports struct {
	Base int
	next int
}

func (p *ports) addr() (string, error) {
	if p.Base > 0 {
		for p.next < 100 {
			a := fmt.Sprintf("127.0.0.1:%d", p.Base+p.next)
			p.next++
			if ln, err := net.Listen("tcp", a); err == nil {
				ln.Close()
				return a, nil
			}
		}
		return "", fmt.Errorf("bench: no free port in %d–%d", p.Base, p.Base+99)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// binaries finds or builds the programs the bench runs.
type binaries struct {
	Command, Kiosk string
}

// findBinaries takes shian-command and shian-kiosk from dir (bin/, where
// `make build` puts them beside shian-sim) when both are there, else
// builds them into work with `go build` (run from inside the module).
func findBinaries(ctx context.Context, dir, work string) (binaries, error) {
	b := binaries{Command: filepath.Join(dir, "shian-command"), Kiosk: filepath.Join(dir, "shian-kiosk")}
	if dir != "" && isFile(b.Command) && isFile(b.Kiosk) {
		return b, nil
	}
	b = binaries{Command: filepath.Join(work, "bin", "shian-command"), Kiosk: filepath.Join(work, "bin", "shian-kiosk")}
	for _, x := range []struct{ out, pkg string }{
		{b.Command, "github.com/shianfood/shian/command/cmd/shian-command"},
		{b.Kiosk, "github.com/shianfood/shian/kiosk/cmd/shian-kiosk"},
	} {
		if err := goBuild(ctx, x.out, x.pkg, nil); err != nil {
			return b, err
		}
	}
	return b, nil
}

func goBuild(ctx context.Context, out, pkg string, env []string, flags ...string) error {
	return goBuildIn(ctx, "", out, pkg, env, flags...)
}

// goBuildIn runs go build in dir ("" for the current directory).
func goBuildIn(ctx context.Context, dir, out, pkg string, env []string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
