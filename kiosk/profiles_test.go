package kiosk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shianfood/shian/protocols/device/profile"
)

// TestConfigProfiles: a device names a profile instead of a protocol; a
// profile that does not exist, a device with both, and a broken profile
// file are refused with the line (of kiosk.yaml, and of the profile).
func TestConfigProfiles(t *testing.T) {
	dir := t.TempDir()
	ly, _, err := profile.Example("lanyu-gr20.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "lanyu-gr20.yaml"), ly, 0o644)
	base := `kiosk_id: K-NT-01
command: {url: "ws://127.0.0.1:1/ws/kiosk", token: kt_x}
profiles: ` + dir + `
devices:
  - id: gold-1
    profile: SHIAN-GC1
    port: /dev/ttyUSB1
  - id: gold-ly
    profile: LANYU-GR20
    port: /dev/ttyUSB1
    addr: 2
`
	cfg, err := ParseConfig("kiosk.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Library().Lookup("LANYU-GR20"); err != nil {
		t.Errorf("the directory's profile: %v", err)
	}
	cases := []struct{ old, new, want string }{
		{"profile: LANYU-GR20", "profile: LANYU-GR21", `kiosk.yaml:8: device "gold-ly": profile: no such profile "LANYU-GR21"`},
		{"    profile: SHIAN-GC1\n", "    profile: SHIAN-GC1\n    protocol: dy-enzyme\n", `kiosk.yaml:5: device "gold-1": give protocol (dy-enzyme) or profile (SHIAN-GC1), not both`},
		{"    profile: SHIAN-GC1\n", "", `kiosk.yaml:5: device "gold-1": protocol or profile is required`},
		{"profiles: " + dir, "profiles: " + dir + "/none", "kiosk.yaml:3: profiles:"},
	}
	for _, c := range cases {
		_, err := ParseConfig("kiosk.yaml", []byte(strings.Replace(base, c.old, c.new, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: %v, want %q", c.old, c.new, err, c.want)
		}
	}
	// A broken profile in the directory: its own file and line.
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("profile: X-1\ntransport: {kind: modbus-rtu}\nresult: {read: {start: 0, count: 1}, ready: sequence_changes, method: atp, ack: none}\n"), 0o644)
	_, err = ParseConfig("kiosk.yaml", []byte(base))
	if err == nil || !strings.Contains(err.Error(), "kiosk.yaml:3: instrument profiles in") || !strings.Contains(err.Error(), "broken.yaml:3:") {
		t.Errorf("broken profile: %v", err)
	}
}
