package drivers_test

import (
	"os"
	"strings"
	"testing"

	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	_ "github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/kiosk/i2cbus/i2cbustest"
	"github.com/shianfood/shian/kiosk/serialport"
)

// TestREADMEConfig: the complete kiosk.yaml of kiosk/README.md parses,
// and every device in it is accepted by its driver (options, addresses,
// items), without opening anything.
func TestREADMEConfig(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "```yaml\n")
	end := strings.Index(text[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no yaml block in kiosk/README.md")
	}
	yml := text[start+8 : start+8+end]
	yml = strings.Replace(yml, "token_file: /etc/shian/kiosk.token", "token: kt_readme", 1)
	cfg, err := kiosk.ParseConfig("README.md", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	protocols := map[string]bool{}
	env := device.Env{Serial: &serialport.Hub{}, I2C: &i2cbustest.Opener{}}
	for _, spec := range cfg.Devices {
		if _, err := device.Open(spec, env); err != nil {
			t.Errorf("README.md:%d: %v", spec.Line, err)
		}
		if spec.Profile != "" {
			protocols[device.ProfileProtocol] = true // a device named by its profile
		}
		protocols[spec.Protocol] = true
	}
	for _, p := range device.Protocols() {
		if !protocols[p] {
			t.Errorf("the README example has no device of protocol %q", p)
		}
	}
}
