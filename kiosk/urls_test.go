package kiosk

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandURLs: command.urls lists several command instances; url and
// urls together, neither, a bad or repeated URL, and ca_file with a ws://
// entry are errors naming the line; the ws:// warning is given per URL.
func TestCommandURLs(t *testing.T) {
	conf := func(command string) (*Config, error) {
		return ParseConfig("kiosk.yaml", []byte("kiosk_id: K-1\ncommand:\n"+command+"  token: kt_x\nui: {listen: \"off\"}\n"))
	}
	cfg, err := conf("  urls: [wss://a.example/ws/kiosk, ws://10.0.0.2:8080/ws/kiosk, ws://127.0.0.1:8080/ws/kiosk]\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Command.URLs(); len(got) != 3 || got[0] != "wss://a.example/ws/kiosk" {
		t.Fatalf("URLs %v", got)
	}
	if w := cfg.LinkWarnings(); len(w) != 1 || !strings.Contains(w[0], "command.urls ws://10.0.0.2:8080/ws/kiosk") {
		t.Fatalf("warnings %q, want one for 10.0.0.2", w)
	}
	cfg, err = conf("  url: wss://a.example/ws/kiosk\n")
	if err != nil || len(cfg.Command.URLs()) != 1 || len(cfg.LinkWarnings()) != 0 {
		t.Fatalf("one url: %v %v", err, cfg)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600)
	for _, c := range []struct{ command, want string }{
		{"  url: wss://a/ws/kiosk\n  urls: [wss://b/ws/kiosk]\n", "kiosk.yaml:4: command.url and command.urls are both set"},
		{"  urls: []\n", "kiosk.yaml:2: command.url is required"},
		{"", "command.url is required"},
		{"  urls: [wss://a/ws/kiosk, http://b/ws/kiosk]\n", `kiosk.yaml:3: command.urls[1] "http://b/ws/kiosk" must be a ws:// or wss:// URL`},
		{"  urls: [wss://a/ws/kiosk, \"wss://\"]\n", `command.urls[1] "wss://" must be`},
		{"  urls: [wss://a/ws/kiosk, wss://a/ws/kiosk]\n", `command.urls[1] "wss://a/ws/kiosk" is listed twice`},
		{"  urls: [wss://a/ws/kiosk, ws://b/ws/kiosk]\n  ca_file: " + ca + "\n", `command.urls "ws://b/ws/kiosk" is not wss://`},
		{"  urls: wss://a/ws/kiosk\n", "kiosk.yaml:3"},
	} {
		_, err := conf(c.command)
		var ce *ConfigError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.command, err, c.want)
		}
	}
}

// FuzzParseConfig: whatever kiosk.yaml holds, ParseConfig answers a
// *ConfigError with a message or a configuration whose every command URL
// is ws:// or wss:// with a host; it never panics.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"kiosk_id: K-1\ncommand:\n  url: ws://127.0.0.1:8080/ws/kiosk\n  token: kt_x\nui: {listen: \"off\"}\n",
		"kiosk_id: K-1\ncommand:\n  urls: [wss://a/ws/kiosk, wss://b/ws/kiosk]\n  token: kt_x\nui: {listen: \"off\"}\n",
		"kiosk_id: K-1\ncommand:\n  url: wss://a/ws/kiosk\n  urls: [wss://b/ws/kiosk]\n  token: kt_x\n",
		"kiosk_id: K-1\ncommand:\n  urls:\n    - ws://a:1/ws/kiosk\n    - ''\n  token: kt_x\n",
		"kiosk_id: K-1\ncommand: {urls: {a: b}, token: x}\n",
		"kiosk_id: K-1\ncommand:\n  urls: [ws://a/x, ws://a/x]\n  token: t\n",
		"kiosk_id: [\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig("kiosk.yaml", b)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Msg == "" {
				t.Fatalf("%T %v: not a ConfigError with a message", err, err)
			}
			return
		}
		urls := cfg.Command.URLs()
		if len(urls) == 0 {
			t.Fatal("a configuration without a command URL")
		}
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				t.Fatalf("accepted command URL %q", raw)
			}
		}
	})
}
