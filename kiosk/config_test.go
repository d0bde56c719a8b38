package kiosk

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/domain/measure"
)

type nullInst struct{ id string }

func (n nullInst) ID() string { return n.id }
func (n nullInst) Run(ctx context.Context, _ func(device.Reading)) error {
	<-ctx.Done()
	return ctx.Err()
}
func (n nullInst) Status() device.Status { return device.Status{ID: n.id} }

func init() {
	device.Register("test-null", func(s device.Spec, _ device.Env) (device.Instrument, error) { return nullInst{s.ID}, nil })
}

const good = `kiosk_id: K-NT-01
name: 会展中心A区快检点
data: /tmp/shian-test
command:
  url: ws://127.0.0.1:8080/ws/kiosk
  token: kt_abc
site:
  stall_id: S-001
  lon: 120.95
  lat: 31.98
devices:
  - id: enzyme-1
    protocol: test-null
    model: DY-3000E
    port: /dev/ttyUSB0
rules:
  enzyme:
    positive_at: 55%
`

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig("kiosk.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KioskID != "K-NT-01" || len(cfg.Devices) != 1 || cfg.Devices[0].Line != 12 {
		t.Fatalf("%+v", cfg)
	}
	if cfg.Rules.Enzyme.PositiveAt != 55*measure.PercentUnit {
		t.Fatalf("override: %v", cfg.Rules.Enzyme.PositiveAt)
	}
	if cfg.Rules.Enzyme.SuspiciousAt != 40*measure.PercentUnit {
		t.Fatalf("a key not named in YAML lost its default: %v", cfg.Rules.Enzyme.SuspiciousAt)
	}
	if cfg.UI.Listen == "" || cfg.HistoryHours != 72 {
		t.Fatal("defaults")
	}
}

func TestConfigErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, edit, with string
		line             int
		says             string
	}{
		{"unknown field", "name: 会展中心A区快检点", "nmae: x", 2, "nmae"},
		{"bad url", "url: ws://127.0.0.1:8080/ws/kiosk", "url: http//nowhere", 4, "ws://"},
		{"unknown protocol", "protocol: test-null", "protocol: telepathy", 12, "telepathy"},
		{"no port or bus", "    port: /dev/ttyUSB0\n", "", 12, "port"},
		{"bad threshold", "positive_at: 55%", "positive_at: lots", 18, "percentage"},
		{"bad yaml", "  stall_id: S-001", " stall_id: [", -1, ""},
		{"suspicious above positive", "positive_at: 55%", "positive_at: 30%", 16, "enzyme"},
	}
	for _, c := range cases {
		src := strings.Replace(good, c.edit, c.with, 1)
		_, err := ParseConfig("kiosk.yaml", []byte(src))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %v is not a ConfigError", c.name, err)
			continue
		}
		if (c.line > 0 && ce.Line != c.line) || ce.Line <= 0 || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v (line %d, want %d and %q)", c.name, err, ce.Line, c.line, c.says)
		}
	}
	if _, err := ParseConfig("kiosk.yaml", []byte("")); err == nil {
		t.Error("empty config accepted")
	}
}

// TestConfigSampleSuggestions: kiosk.yaml may replace a stall category's
// samples (and give a stall its category); a sample filed under an
// unknown sample category is refused with the key and what to use.
func TestConfigSampleSuggestions(t *testing.T) {
	src := good + `stalls:
  - id: S-021
    name: 21号 蜜语奶茶
    category: 奶茶
sample_suggestions:
  奶茶:
    - {name: 杨枝甘露, name_en: Mango pomelo sago, category: 饮品}
`
	cfg, err := ParseConfig("kiosk.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stalls[0].Category != "奶茶" || len(cfg.SampleSuggestions["奶茶"]) != 1 || cfg.SampleSuggestions["奶茶"][0].NameEn != "Mango pomelo sago" {
		t.Fatalf("%+v %+v", cfg.Stalls, cfg.SampleSuggestions)
	}
	_, err = ParseConfig("kiosk.yaml", []byte(strings.Replace(src, "category: 饮品", "category: drinks", 1)))
	if err == nil || !strings.Contains(err.Error(), "sample_suggestions") || !strings.Contains(err.Error(), "饮品") {
		t.Errorf("bad sample category: %v", err)
	}
}
