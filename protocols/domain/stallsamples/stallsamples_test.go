package stallsamples

import (
	"strings"
	"testing"
	"unicode"
)

// TestDefault: every category of the simulator's venue (and 奶茶) has
// samples of its own; a milk-tea stall is offered drinks, not spinach; an
// unknown category gets the "" list; every entry is valid, [UNVERIFIED],
// with an English name and a zh-CN name free of Latin letters.
func TestDefault(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"奶茶", "饮品", "凉菜", "烧烤", "面食", "小吃", "水产", "卤味", "甜品"} {
		if len(d[c]) == 0 {
			t.Errorf("no samples for a %s stall", c)
		}
	}
	for _, sg := range d.For("奶茶") {
		if sg.Category == Vegetable {
			t.Errorf("a milk-tea stall is offered the vegetable %s", sg.Name)
		}
	}
	if got := d.For("不存在的类别"); len(got) == 0 || got[0].Name != d[""][0].Name {
		t.Errorf("unknown category: %v", got)
	}
	for c, l := range d {
		for _, sg := range l {
			if sg.Verified {
				t.Errorf("%s/%s claims a source; none is cited", c, sg.Name)
			}
			if sg.NameEn == "" {
				t.Errorf("%s/%s has no English name", c, sg.Name)
			}
			if strings.IndexFunc(sg.Name, func(r rune) bool { return r < unicode.MaxASCII && unicode.IsLetter(r) }) >= 0 {
				t.Errorf("%s/%s: Latin letters in a zh-CN name", c, sg.Name)
			}
		}
	}
}

// TestMergeValidate: a deployment's list replaces its category's only;
// a bad entry is refused with what to fix.
func TestMergeValidate(t *testing.T) {
	over := Table{" 奶茶 ": {{Name: "杨枝甘露", NameEn: "Mango pomelo sago", Category: Drink}}}
	m := Default().Merge(over)
	if got := m.For("奶茶"); len(got) != 1 || got[0].Name != "杨枝甘露" {
		t.Errorf("merged 奶茶: %v", got)
	}
	if len(m.For("烧烤")) != len(Default()["烧烤"]) {
		t.Error("merge changed another category")
	}
	for _, bad := range []Table{
		{"奶茶": {{Name: "", Category: Drink}}},
		{"奶茶": {{Name: "奶茶", Category: "drinks"}}},
		{"奶茶": {{Name: strings.Repeat("奶", 30), Category: Drink}}},
	} {
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "sample_suggestions") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
