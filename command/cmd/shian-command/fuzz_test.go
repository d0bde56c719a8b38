package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/shianfood/shian/internal/yamlconf"
)

// FuzzParseConfig: command.yaml's loader never panics, and every refusal
// is a line-numbered error naming the file.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:8080\n"))
	f.Add([]byte("assurance:\n  incident:\n    deadlines:\n      warned: 5m\n      nope: 1h\n"))
	f.Add([]byte("engine:\n  cluster: {min_events: -1, radius_m: x}\nrules:\n  enzyme:\n    positive_at: 500%\n"))
	f.Add([]byte("assurance:\n  menu:\n    rules:\n      - reason: r\n        severity: forbid\n"))
	f.Add([]byte("\t: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig("command.yaml", b)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "command.yaml") {
					t.Fatalf("a problem not naming the file: %q", line)
				}
			}
			var ye *yamlconf.Error
			if !errors.As(err, &ye) {
				t.Fatalf("%T is not a *yamlconf.Error: %v", err, err)
			}
			return
		}
		_ = cfg.Service()
	})
}
