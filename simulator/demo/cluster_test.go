package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/shianfood/shian/command/deploy"
	"github.com/shianfood/shian/internal/pgtest"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// haproxyOrSkip finds Debian's haproxy, or skips (fails with
// SHIAN_REQUIRE_HAPROXY=1, as CI sets).
func haproxyOrSkip(t *testing.T) string {
	t.Helper()
	bin, err := findHAProxy("")
	if err != nil {
		if os.Getenv("SHIAN_REQUIRE_HAPROXY") == "1" {
			t.Fatalf("HAProxy is required (SHIAN_REQUIRE_HAPROXY=1): %v", err)
		}
		t.Skip(err)
	}
	return bin
}

// TestHAProxyConfig: command/deploy/haproxy.cfg as the cluster demo runs
// it passes haproxy -c, binds only the demo's address, has a server line
// per instance with the /healthz check, and keeps what the deployment
// needs: the websocket tunnel timeout, X-Forwarded-For and -Proto, no
// stickiness.
func TestHAProxyConfig(t *testing.T) {
	bin := haproxyOrSkip(t)
	cfg := HAProxyConfig("127.0.0.1:18080", []string{"a 127.0.0.1:18081", "b 127.0.0.1:18082"})
	for _, want := range []string{"bind 127.0.0.1:18080\n", "server a 127.0.0.1:18081 check\n", "server b 127.0.0.1:18082 check\n",
		"option httpchk GET /healthz", "timeout tunnel 1h", "option forwardfor", "X-Forwarded-Proto http if !{ ssl_fc }", "balance leastconn"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the demo's config lacks %q:\n%s", want, cfg)
		}
	}
	for _, not := range []string{"bind :443", "10.0.0.11", "chroot", "redirect scheme", "cookie "} {
		if strings.Contains(cfg, not) {
			t.Errorf("the demo's config keeps %q", not)
		}
	}
	p := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(p, []byte(cfg), 0o644)
	if out, err := exec.Command(bin, "-c", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}

// TestHAProxyDeployConfig: the file a city installs passes haproxy -c as
// it is, with a certificate where it names /etc/haproxy/shian.pem.
func TestHAProxyDeployConfig(t *testing.T) {
	bin := haproxyOrSkip(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "command.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"command.example"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	crt := filepath.Join(dir, "shian.pem")
	os.WriteFile(crt, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...), 0o600)
	if !strings.Contains(deploy.HAProxy, "crt /etc/haproxy/shian.pem") {
		t.Fatal("haproxy.cfg no longer names /etc/haproxy/shian.pem; update this test")
	}
	p := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(p, []byte(strings.ReplaceAll(deploy.HAProxy, "/etc/haproxy/shian.pem", crt)), 0o644)
	if out, err := exec.Command(bin, "-c", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c on command/deploy/haproxy.cfg: %v\n%s", err, out)
	}
}

// TestClusterDemoStopsEverything: the cluster demo's orchestration —
// PostgreSQL from initdb, two instances on it, HAProxy in front, the
// kiosks through HAProxy — stores results, and when its context ends
// (Ctrl-C) nothing is left: the balancer's port refuses, PostgreSQL's
// directory is gone.
func TestClusterDemoStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the cluster demo for 15 s")
	}
	haproxyOrSkip(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	var out syncOut
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunCluster(ctx, Options{Addr: addr, DataDir: dir, Kiosks: 2, Every: 500 * time.Millisecond, Measure: 200 * time.Millisecond,
			Log: slog.New(slog.DiscardHandler), Out: &out}, ClusterOptions{Instances: []string{"127.0.0.1:0", "127.0.0.1:0"}})
	}()
	var info Info
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
		if err == nil && json.Unmarshal(raw, &info) == nil && info.DB != "" {
			break
		}
		select {
		case err := <-done:
			if err != nil && strings.Contains(err.Error(), "no PostgreSQL here") && !pgtest.Required() {
				t.Skip(err)
			}
			t.Fatalf("the cluster demo stopped at start: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo.json:\n%s", out.String())
		}
	}
	var rs []json.RawMessage
	for deadline := time.Now().Add(time.Minute); len(rs) < 3; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 results through HAProxy in a minute:\n%s", out.String())
		}
		req, _ := http.NewRequest("GET", info.URL+"api/v1/results?limit=3&source=kiosk", nil)
		req.Header.Set("Authorization", "Bearer "+info.APIToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			json.NewDecoder(resp.Body).Decode(&rs)
			resp.Body.Close()
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the cluster demo did not stop within a minute")
	}
	t.Logf("cluster demo output:\n%s", out.String())
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("HAProxy's port %s still accepts connections after the stop", addr)
	}
	u, _ := url.Parse(info.DB)
	if pgDir := u.Query().Get("host"); pgDir == "" {
		t.Errorf("no socket directory in %s", info.DB)
	} else if _, err := os.Stat(pgDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PostgreSQL's directory %s is still there (%v)", pgDir, err)
	}
	if !strings.Contains(out.String(), "HAProxy and PostgreSQL stopped") {
		t.Errorf("no stop line:\n%s", out.String())
	}
}

// syncOut collects the demo's printed output from its goroutines.
type syncOut struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncOut) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncOut) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
