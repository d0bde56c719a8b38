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

	"github.com/shianfood/shian/command/deploy"

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
