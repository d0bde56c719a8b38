package pinyin

import "testing"

func TestKeysOf(t *testing.T) {
	for _, c := range []struct{ name, full, ini string }{
		{"麻辣烫", "malatang", "mlt"},
		{"21号 蜜语奶茶", "21haomiyunaicha", "21hmync"},
		{"王记凉菜（A-01）", "wangjiliangcaia01", "wjlca01"},
		{"Starbucks", "", ""}, // no Han: the name is its own key
		{"", "", ""},
	} {
		k := KeysOf(c.name)
		if k.Full != c.full || k.Initials != c.ini {
			t.Errorf("KeysOf(%q) = %+v, want %q %q", c.name, k, c.full, c.ini)
		}
	}
}

func TestMatch(t *testing.T) {
	k := KeysOf("麻辣烫")
	for q, want := range map[string]bool{"mlt": true, "MLT": true, "malatang": true, "ma la": true, "lat": true, "tang": true, "mlc": false, "": false, "xyz": false} {
		if got := Match(k, q); got != want {
			t.Errorf("Match(麻辣烫, %q) = %v, want %v", q, got, want)
		}
	}
	if Match(KeysOf("Starbucks"), "star") {
		t.Error("a name without Han characters has no pinyin keys")
	}
}
