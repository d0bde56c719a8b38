package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/yamlconf"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// exampleConfig returns the commented command.yaml of command/README.md.
func exampleConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- command.yaml -->\\s*```yaml\\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("command/README.md has no ```yaml block after <!-- command.yaml -->")
	}
	return string(m[1])
}

// TestReadmeExample: the complete example in command/README.md loads, and
// what it sets arrives in the service's configuration.
func TestReadmeExample(t *testing.T) {
	cfg, err := ParseConfig("command.yaml", []byte(exampleConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Service()
	p := sc.Assure.Protocol
	if cfg.Listen != "127.0.0.1:8080" || cfg.Data != "/var/lib/shian-command" || cfg.Log.Format != "json" {
		t.Errorf("top level: %+v", cfg)
	}
	if p.Incident.Deadlines[assurance.IncidentWarned] != 3*time.Minute || p.Incident.Deadlines[assurance.IncidentAssigned] != 20*time.Minute {
		t.Errorf("deadlines: %v", p.Incident.Deadlines)
	}
	if p.Incident.Deadlines[assurance.IncidentLabSent] != 72*time.Hour {
		t.Errorf("a deadline the file does not name keeps its default: %v", p.Incident.Deadlines[assurance.IncidentLabSent])
	}
	if p.Banquet.GuidanceMinHeadcount != 100 || p.Incident.RetestWindow != 4*time.Hour {
		t.Errorf("banquet/retest: %+v", p.Banquet)
	}
	found := false
	for _, r := range p.Menu.Rules {
		if r.Reason == "raw_oysters" && r.Severity == assurance.SeverityForbid && r.Label.ZH != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("the high-risk dish rule the example adds: %+v", p.Menu.Rules)
	}
	if sc.Assure.Cluster.MinEvents != 3 || sc.Assure.Cluster.Radius != 300 {
		t.Errorf("cluster: %+v", sc.Assure.Cluster)
	}
	if len(sc.TrustedProxies) != 1 || sc.TrustedProxies[0] != "127.0.0.1" || sc.HTTP.ReadTimeout != time.Minute || sc.HTTP.IdleTimeout != 2*time.Minute || sc.LiveMaxPerUser != 20 || sc.TLSCert != "" {
		t.Errorf("proxy, http, live: %+v %+v %d", sc.TrustedProxies, sc.HTTP, sc.LiveMaxPerUser)
	}
	if cfg.getenv("SHIAN_TILE_DATUM") != "gcj02" || cfg.getenv("SHIAN_LABEL_BASE_URL") != "https://shian.example.cn" {
		t.Errorf("tiles: %q", cfg.getenv("SHIAN_TILE_DATUM"))
	}
}

// TestConfigErrorsNameTheLine: each mistake is refused with the file and
// the line it is on, and every mistake of a file is reported at once.
func TestConfigErrorsNameTheLine(t *testing.T) {
	base := "listen: 127.0.0.1:8080\ndata: /var/lib/shian-command\nassurance:\n  incident:\n    deadlines:\n      warned: 5m\n    retest_window: 4h\n  banquet:\n    guidance_min_headcount: 50\n"
	cases := []struct {
		edit, with string
		line       int
		says       string
	}{
		{"listen: 127.0.0.1:8080", "listen: 8080", 1, "host:port"},
		{"listen: 127.0.0.1:8080", "lisen: 127.0.0.1:8080", 1, "lisen"},
		{"warned: 5m", "warned: soon", 6, "soon"},
		{"warned: 5m", "warnd: 5m", 6, "not an incident state"},
		{"retest_window: 4h", "retest_window: 0s", 7, "retest_window"},
		{"guidance_min_headcount: 50", "guidance_min_headcount: lots", 9, "lots"},
		{"data: /var/lib/shian-command", "data: /var/lib/shian-command\nproxy:\n  trusted: [10.0.0.300]", 4, "10.0.0.300"},
		{"data: /var/lib/shian-command", "data: /var/lib/shian-command\ntls:\n  cert: /etc/shian/tls/missing.pem\n  key: /etc/shian/tls/missing.key", 4, "missing.pem"},
		{"data: /var/lib/shian-command", "data: /var/lib/shian-command\ntls:\n  cert: /etc/shian/tls/missing.pem", 3, "both cert and key"},
	}
	for _, c := range cases {
		_, err := ParseConfig("/etc/shian/command.yaml", []byte(strings.Replace(base, c.edit, c.with, 1)))
		var ye *yamlconf.Error
		if !errors.As(err, &ye) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v (want %q)", c.with, err, c.says)
			continue
		}
		if want := "/etc/shian/command.yaml:" + itoa(c.line) + ":"; !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v (want %s)", c.with, err, want)
		}
	}
	two := strings.Replace(strings.Replace(base, "listen: 127.0.0.1:8080", "listen: nowhere", 1), "retest_window: 4h", "retest_window: -1h", 1)
	_, err := ParseConfig("command.yaml", []byte(two))
	if err == nil || !strings.Contains(err.Error(), "command.yaml:1:") || !strings.Contains(err.Error(), "command.yaml:7:") {
		t.Errorf("both problems at once: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestCheckCommand: `shian-command check --config` says ok for a good file
// and fails with the line for a bad one; a flag given overrides the file.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "command.yaml")
	os.WriteFile(path, []byte(exampleConfig(t)), 0o600)
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &out}
	if err := m.ParseFlags([]string{"check", "--config", path, "--listen", "127.0.0.1:18599"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(t.Context()); err != nil || !strings.Contains(out.String(), "ok (listen 127.0.0.1:18599, data /var/lib/shian-command") {
		t.Fatalf("%v %s", err, out.String())
	}
	os.WriteFile(path, []byte("listen: 127.0.0.1:8080\nlog:\n  format: xml\n"), 0o600)
	m = &Main{Stdout: &out, Stderr: &out}
	m.ParseFlags([]string{"check", "--config", path})
	if err := m.Run(t.Context()); err == nil || !strings.Contains(err.Error(), path+":3:") {
		t.Fatalf("bad format: %v", err)
	}
}
