package measure

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestYAML(t *testing.T) {
	var cfg struct {
		P Percent     `yaml:"p"`
		Q Percent     `yaml:"q"`
		T Temperature `yaml:"t"`
		A Absorbance  `yaml:"a"`
		R RLU         `yaml:"r"`
	}
	src := "p: 50%\nq: 40\nt: -18°C\na: 0.3\nr: 30\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.P != 50*PercentUnit || cfg.Q != 40*PercentUnit || cfg.T != -18*Celsius || cfg.A != 300*MilliAU || cfg.R != 30 {
		t.Fatalf("%+v", cfg)
	}
	err := yaml.Unmarshal([]byte("p: lots\n"), &cfg)
	if err == nil {
		t.Fatal("bad percentage accepted")
	}
}
