package measure

import (
	"encoding/json"
	"testing"
)

func TestSetAndString(t *testing.T) {
	cases := []struct {
		name string
		v    interface {
			Set(string) error
			String() string
		}
		in, want string
	}{
		{"absorbance", new(Absorbance), "0.303", "0.303 A"},
		{"absorbance unit", new(Absorbance), "0.131 A", "0.131 A"},
		{"percent", new(Percent), "50%", "50.0%"},
		{"percent decimals", new(Percent), "56.77 %", "56.77%"},
		{"ratio", new(Ratio), "0.85", "0.85"},
		{"temperature", new(Temperature), "-18°C", "-18.0°C"},
		{"temperature C", new(Temperature), "70C", "70.0°C"},
		{"temperature ℃", new(Temperature), "60.5℃", "60.5°C"},
		{"rlu", new(RLU), "30 RLU", "30 RLU"},
		{"acid value", new(AcidValue), "5 mg KOH/g", "5.0 mg KOH/g"},
		{"mass", new(Mass), "125 g", "125.0 g"},
		{"intensity", new(Intensity), "12.5", "12.5"},
	}
	for _, c := range cases {
		if err := c.v.Set(c.in); err != nil {
			t.Errorf("%s: Set(%q): %v", c.name, c.in, err)
			continue
		}
		if got := c.v.String(); got != c.want {
			t.Errorf("%s: Set(%q).String() = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestSetRejects(t *testing.T) {
	bad := []string{"", "abc", "NaN", "Inf", "1e300"}
	for _, s := range bad {
		var p Percent
		if err := p.Set(s); err == nil {
			t.Errorf("Percent.Set(%q) accepted %d", s, p)
		}
	}
	var m Mass
	if err := m.Set("-1g"); err == nil {
		t.Error("negative mass accepted")
	}
	var r RLU
	if err := r.Set("-3"); err == nil {
		t.Error("negative RLU accepted")
	}
}

func TestExactValues(t *testing.T) {
	var p Percent
	if err := p.Set("50"); err != nil || p != 50*PercentUnit {
		t.Fatalf("50%% = %d, %v", p, err)
	}
	var a Absorbance
	if err := a.Set("0.303"); err != nil || a != 303*MilliAU {
		t.Fatalf("0.303 A = %d, %v", a, err)
	}
	if r, ok := RatioOf(17, 20); !ok || r != 850000 {
		t.Fatalf("RatioOf(17,20) = %d %v", r, ok)
	}
	if _, ok := RatioOf(1, 0); ok {
		t.Fatal("RatioOf(1,0) ok")
	}
}

func TestJSONIsPlainInteger(t *testing.T) {
	b, err := json.Marshal(struct {
		A Absorbance  `json:"a"`
		T Temperature `json:"t"`
	}{303 * MilliAU, -18 * Celsius})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"a":303000,"t":-18000}` {
		t.Fatalf("json = %s", b)
	}
}
