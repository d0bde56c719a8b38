package assurance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDate(t *testing.T) {
	d, err := ParseDate("2026-10-01")
	must(t, err)
	if d != MakeDate(2026, 10, 1) || d.String() != "2026-10-01" || d.Weekday() != time.Thursday {
		t.Fatalf("parse: %+v", d)
	}
	if MakeDate(2026, 2, 30) != MakeDate(2026, 3, 2) || MakeDate(2026, 12, 31).AddDays(1) != MakeDate(2027, 1, 1) {
		t.Error("normalisation")
	}
	if MakeDate(2026, 3, 1).DaysUntil(MakeDate(2026, 2, 1)) != -28 || MakeDate(2024, 2, 1).DaysUntil(MakeDate(2024, 3, 1)) != 29 {
		t.Error("DaysUntil")
	}
	// Day arithmetic is immune to the zone: DateOf decides the day in the
	// instant's own location.
	late := time.Date(2026, 10, 1, 23, 30, 0, 0, ChinaStandardTime)
	if DateOf(late) != MakeDate(2026, 10, 1) || DateOf(late.UTC()) != MakeDate(2026, 10, 1) || DateOf(late.Add(time.Hour)) != MakeDate(2026, 10, 2) {
		t.Error("DateOf")
	}
	if s := MakeDate(2026, 10, 2).Start(ChinaStandardTime); !s.Equal(time.Date(2026, 10, 1, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("Start %s", s)
	}
	for _, bad := range []string{"2026-02-30", "2026-13-01", "2026-1-01", "26-10-01", "2026/10/01", "0000-01-01", "2026-10-0１", "2026-10-01T00:00"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var z Date
	if z.String() != "" || !z.IsZero() {
		t.Error("zero date")
	}
	b, err := json.Marshal(struct {
		D Date `json:"d"`
		Z Date `json:"z"`
	}{D: d})
	must(t, err)
	if string(b) != `{"d":"2026-10-01","z":""}` {
		t.Errorf("json %s", b)
	}
	var back struct{ D, Z Date }
	must(t, json.Unmarshal(b, &back))
	if back.D != d || !back.Z.IsZero() {
		t.Errorf("json back %+v", back)
	}
	if err := json.Unmarshal([]byte(`{"D":"2026-02-30"}`), &back); err == nil {
		t.Error("bad date decoded")
	}
}

// FuzzParseDate: whatever the text, parsing never panics, and an accepted
// date prints back as the same text and survives a JSON round trip.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-10-01", "", "2024-02-29", "2026-02-29", "9999-12-31", "0001-01-01", "2026-1-1", "２０２６-10-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("%q parsed to %s", s, d)
		}
		b, _ := d.MarshalText()
		var back Date
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Fatalf("%q: text round trip %v %v", s, back, err)
		}
		if !d.IsZero() && (d.AddDays(1).DaysUntil(d) != -1 || d.AddDays(-1).AddDays(1) != d) {
			t.Fatalf("%s: day arithmetic", d)
		}
	})
}

// FuzzNormalizePhone: never panics; an accepted number is canonical
// (normalising it again gives itself) and is digits with at most one dash.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"13812345678", "+86 138-1234-5678", "0513-85001234", "(010) 12345678", "110", "", "+", "0086", "（0513）8500123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizePhone(s)
		if err != nil {
			return
		}
		again, err := NormalizePhone(n)
		if err != nil || again != n {
			t.Fatalf("%q → %q → %q %v", s, n, again, err)
		}
		if strings.Count(n, "-") > 1 || strings.Trim(n, "0123456789-") != "" || (len(n) != 11 && !strings.HasPrefix(n, "0")) {
			t.Fatalf("%q → %q is not canonical", s, n)
		}
	})
}

// FuzzScreen: screening arbitrary dish text never panics, is
// deterministic, and every keyword match names text really in the dish.
func FuzzScreen(f *testing.F) {
	for _, s := range [][3]string{{"凉拌黄瓜", "", "黄瓜"}, {"红烧河豚", "hot_dish", ""}, {"黄花菜木耳汤", "", "干黄花菜"}, {"", "cold_dish", ""}, {"\xff\xfe", "x", "四季豆"}} {
		f.Add(s[0], s[1], s[2])
	}
	rules := DefaultHighRiskRules()
	f.Fuzz(func(t *testing.T, name, category, ingredient string) {
		d := Dish{Name: name, Category: DishCategory(category), Ingredients: []string{ingredient}}
		flags := Screen(d, rules)
		if again := Screen(d, rules); len(again) != len(flags) {
			t.Fatal("not deterministic")
		}
		seen := map[RiskReason]bool{}
		for _, fl := range flags {
			if seen[fl.Reason] {
				t.Fatalf("two flags for %s", fl.Reason)
			}
			seen[fl.Reason] = true
			where, kw, _ := strings.Cut(fl.Matched, ":")
			switch where {
			case "category":
				if kw != category {
					t.Fatalf("category match %q for %q", kw, category)
				}
			case "name":
				if !strings.Contains(strings.ToLower(name), strings.ToLower(kw)) {
					t.Fatalf("name match %q not in %q", kw, name)
				}
			case "ingredient":
				if !strings.Contains(strings.ToLower(ingredient), strings.ToLower(kw)) {
					t.Fatalf("ingredient match %q not in %q", kw, ingredient)
				}
			default:
				t.Fatalf("match %q", fl.Matched)
			}
		}
	})
}

// FuzzParseIdentifiers: the identifier parsers and the rapid-method test
// never panic, and whatever they accept is a valid value whose identifier
// is the trimmed input (or a documented alias).
func FuzzParseIdentifiers(f *testing.F) {
	for _, s := range []string{"admin", " warned ", "live", "preparing", "approved_with_controls", "on_site_checked", "d", "GB/T 5009.199", "胶体金", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		trim := strings.TrimSpace(s)
		if r, err := ParseRole(s); err == nil && (!r.Valid() || string(r) != trim) {
			t.Fatalf("role %q → %q", s, r)
		}
		if st, err := ParseIncidentState(s); err == nil && (!st.Valid() || string(st) != trim) {
			t.Fatalf("incident state %q → %q", s, st)
		}
		if p, err := ParseEventPhase(s); err == nil && (!p.Valid() || (string(p) != trim && trim != "live" && trim != "preparing")) {
			t.Fatalf("event phase %q → %q", s, p)
		}
		if st, err := ParseMenuState(s); err == nil && (!st.Valid() || string(st) != trim) {
			t.Fatalf("menu state %q → %q", s, st)
		}
		if st, err := ParseBanquetState(s); err == nil && (!st.Valid() || string(st) != trim) {
			t.Fatalf("banquet state %q → %q", s, st)
		}
		if g, err := ParseGrade(s); err == nil && (!g.Valid() || !strings.EqualFold(string(g), trim)) {
			t.Fatalf("grade %q → %q", s, g)
		}
		if utf8.ValidString(s) && IsRapidMethodName(s) != IsRapidMethodName(strings.ToLower(s)) {
			t.Fatalf("rapid method test depends on case: %q", s)
		}
	})
}
