package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/deploy"
	"github.com/shianfood/shian/internal/pgtest"
)

// ClusterOptions configures RunCluster beside Options (whose Addr is the
// balancer's address).
type ClusterOptions struct {
	// Instances are the addresses of the command instances
	// (127.0.0.1:8081 and 127.0.0.1:8082).
	Instances []string
	// HAProxy is the haproxy binary (default: haproxy on PATH, then
	// /usr/sbin/haproxy).
	HAProxy string
}

// RunCluster is the demo on a cluster (issue 17, make cluster-demo): a
// throwaway PostgreSQL (initdb in a temporary directory, internal/pgtest's
// server), the command instances in cluster mode on it (--db postgres://…,
// each with its own data directory for its lock and logs), HAProxy from
// Debian's package in front of them with command/deploy/haproxy.cfg, and
// the demo's kiosks and operators against the balancer. It prints the map
// URL of every instance and of the balancer. When ctx ends everything
// stops: the kiosks, the instances, HAProxy, PostgreSQL (its directory
// removed); HAProxy and PostgreSQL are also killed if this process dies.
//
// It installs nothing: without the postgresql or haproxy package it says
// which one to install.
func RunCluster(ctx context.Context, o Options, c ClusterOptions) error {
	o.defaults()
	if o.DataDir == "" {
		return errors.New("cluster demo: a data directory is required (--data)")
	}
	if len(c.Instances) == 0 {
		c.Instances = []string{"127.0.0.1:8081", "127.0.0.1:8082"}
	}
	haproxy, err := findHAProxy(c.HAProxy)
	if err != nil {
		return err
	}
	dir, v, err := prepare(o)
	if err != nil {
		return err
	}
	// Each run starts from an empty database: the data directories of an
	// earlier run hold nothing the new database knows.
	for _, name := range []string{"instances", "kiosks"} {
		os.RemoveAll(filepath.Join(dir, name))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "starting PostgreSQL (initdb in a temporary directory) …")
	pg, err := pgtest.Start()
	if err != nil {
		return fmt.Errorf("cluster demo: %w", err)
	}
	defer pg.Stop()
	dsn, err := pg.CreateDB(ctx, "shian")
	if err != nil {
		return fmt.Errorf("cluster demo: %w", err)
	}

	// The instances, in this process, each a command.Service of its own
	// on the one database.
	type instance struct {
		name, addr string
		svc        *command.Service
		done       chan error
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	defer stopSrv()
	var insts []*instance
	defer func() {
		stopSrv()
		for _, in := range insts {
			if in.done != nil {
				<-in.done
			}
			in.svc.Close()
		}
	}()
	failed := make(chan error, len(c.Instances)+1)
	for i, addr := range c.Instances {
		name := string(rune('a' + i))
		ccfg := demoAssure()
		ccfg.DataDir, ccfg.DB, ccfg.Log = filepath.Join(dir, "instances", name), dsn, o.Log.With("instance", name)
		ccfg.TrustedProxies = []string{"127.0.0.1", "::1"} // HAProxy on loopback sets X-Forwarded-For/Proto
		svc, err := command.Open(ccfg)
		if err != nil {
			return fmt.Errorf("cluster demo: instance %s: %w", name, err)
		}
		insts = append(insts, &instance{name: name, addr: addr, svc: svc})
	}
	// The venue, users and kiosks go into the database once, through the
	// first instance; the others read them from there.
	info, err := setup(insts[0].svc, v, o)
	if err != nil {
		return err
	}
	users, err := makeUsers(insts[0].svc, v)
	if err != nil {
		return fmt.Errorf("cluster demo: users: %w", err)
	}
	for _, in := range insts {
		ready := make(chan string, 1)
		in.done = make(chan error, 1)
		go func() {
			err := in.svc.ListenAndServe(srvCtx, in.addr, ready)
			if err != nil && srvCtx.Err() == nil {
				failed <- fmt.Errorf("instance %s: %w", in.name, err)
			}
			in.done <- err
		}()
		select {
		case in.addr = <-ready:
		case err := <-failed:
			return fmt.Errorf("cluster demo: %w", err)
		}
	}

	// HAProxy in front, from the configuration a city installs.
	var servers []string
	for _, in := range insts {
		servers = append(servers, in.name+" "+in.addr)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(HAProxyConfig(o.Addr, servers)), 0o644); err != nil {
		return err
	}
	hp, err := startHAProxy(haproxy, cfgPath, filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return fmt.Errorf("cluster demo: %w", err)
	}
	defer hp.stop()
	go func() {
		if err := <-hp.exited; ctx.Err() == nil {
			failed <- fmt.Errorf("haproxy exited (%v); see %s", err, filepath.Join(dir, "haproxy.log"))
		}
	}()
	if err := waitHealthy(ctx, "http://"+o.Addr+"/healthz", hp); err != nil {
		return fmt.Errorf("cluster demo: HAProxy on %s: %w; see %s", o.Addr, err, filepath.Join(dir, "haproxy.log"))
	}

	base := "http://" + o.Addr + "/"
	info.URL, info.LoginURL = base, "http://"+o.Addr+info.LoginURL
	for _, in := range insts {
		info.Instances = append(info.Instances, "http://"+in.addr+"/")
	}
	info.DB = dsn
	header := func() {
		fmt.Fprintf(o.Out, "食安 Shian cluster demo — %s（%s）\n", v.Event, v.Name)
		fmt.Fprintf(o.Out, "  map via HAProxy / 负载均衡:  %s\n", info.URL)
		for i, in := range insts {
			fmt.Fprintf(o.Out, "  map on instance %s / 实例 %s:  %s  (metrics: %smetrics)\n", in.name, in.name, info.Instances[i], info.Instances[i])
		}
		fmt.Fprintf(o.Out, "  open logged in:             %s\n", info.LoginURL)
		fmt.Fprintf(o.Out, "  user / 用户:                %s   password / 密码: %s (the same on every instance)\n", info.User, info.Password)
		fmt.Fprintf(o.Out, "  PostgreSQL:                 %s\n", dsn)
		fmt.Fprintf(o.Out, "  HAProxy config:             %s\n", cfgPath)
	}
	if err := runEvent(ctx, dir, v, &info, users, o.Addr, o, header, failed); err != nil {
		return fmt.Errorf("cluster demo: %w", err)
	}
	n := insts[0].svc.History().Count()
	fmt.Fprintf(o.Out, "stopped: %d results stored in PostgreSQL; HAProxy and PostgreSQL stopped\n", n)
	return nil
}

// HAProxyConfig is command/deploy/haproxy.cfg for loopback: the frontend
// bound to addr over plain HTTP (no certificate, no redirect to https), a
// server line per entry of servers ("name host:port"), and none of the
// daemon's settings (chroot, user, stats socket, syslog, a maxconn above
// an ordinary user's file limit): it runs in the foreground as the demo's
// child and logs notices and above to its stderr.
func HAProxyConfig(addr string, servers []string) string {
	var b strings.Builder
	for _, line := range strings.Split(deploy.HAProxy, "\n") {
		word, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case word == "bind", word == "server", word == "chroot", word == "user", word == "group",
			word == "daemon", word == "stats", word == "maxconn", word == "log" && !strings.HasPrefix(strings.TrimSpace(line), "log global"),
			strings.Contains(line, "redirect scheme https"):
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
		switch strings.TrimSpace(line) {
		case "global":
			b.WriteString("    log stderr format short local0 notice\n    maxconn 2000\n")
		case "frontend shian":
			fmt.Fprintf(&b, "    bind %s\n", addr)
		case "backend shian_command":
			for _, s := range servers {
				fmt.Fprintf(&b, "    server %s check\n", s)
			}
		}
	}
	return b.String()
}

func findHAProxy(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	return "", errors.New("cluster demo: no haproxy here: install Debian's haproxy package (apt-get install haproxy), or give --haproxy BIN")
}

type haproxyProc struct {
	cmd    *exec.Cmd
	exited chan error
	done   chan struct{}
	log    *os.File
}

// startHAProxy checks the configuration (haproxy -c) and runs HAProxy in
// the foreground (-db), killed if this process dies.
func startHAProxy(bin, cfg, logPath string) (*haproxyProc, error) {
	if out, err := exec.Command(bin, "-c", "-q", "-f", cfg).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c -f %s: %v\n%s", cfg, err, out)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	p := &haproxyProc{cmd: cmd, exited: make(chan error, 1), done: make(chan struct{}), log: logf}
	go func() { err := cmd.Wait(); logf.Close(); p.exited <- err; close(p.done) }()
	return p, nil
}

// stop ends HAProxy (SIGTERM, then SIGKILL) and waits for it.
func (p *haproxyProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHealthy polls url until it answers 200.
func waitHealthy(ctx context.Context, url string, p *haproxyProc) error {
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			return errors.New("haproxy exited at start")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
	}
	var ne net.Error
	if errors.As(last, &ne) {
		return fmt.Errorf("not answering: %w", last)
	}
	return fmt.Errorf("no healthy answer in 20 s: %v", last)
}
