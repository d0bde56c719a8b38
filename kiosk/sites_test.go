package kiosk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shianfood/shian/protocols/wire"
)

// TestSitesKept: the command's list is cleaned (bad, repeated and
// over-long entries left off), kept in the data directory and read back;
// a damaged file is an error that names it, a missing one an empty list.
func TestSitesKept(t *testing.T) {
	dir := t.TempDir()
	in := []wire.SiteInfo{{ID: "S-030", Name: " 30号 茶语奶茶 ", Category: "奶茶"}, {ID: "S-030", Name: "again"}, {ID: ""}, {ID: "S 1"},
		{ID: "S-031", Name: strings.Repeat("名", 100), Category: "烧烤"}}
	got, dropped := cleanSites(in)
	if dropped != 3 || len(got) != 2 || got[0].Name != "30号 茶语奶茶" || got[1].Name != "" || got[1].Category != "烧烤" {
		t.Fatalf("cleaned %+v, dropped %d", got, dropped)
	}
	if l, err := loadSites(dir); err != nil || l != nil {
		t.Fatalf("no file: %v %v", l, err)
	}
	if err := saveSites(dir, got); err != nil {
		t.Fatal(err)
	}
	back, err := loadSites(dir)
	if err != nil || len(back) != 2 || back[0] != got[0] {
		t.Fatalf("read back %+v %v", back, err)
	}
	if err := os.WriteFile(filepath.Join(dir, sitesFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSites(dir); err == nil || !strings.Contains(err.Error(), sitesFile) {
		t.Errorf("damaged file: %v", err)
	}
}

// FuzzSitesFile: whatever sites.json holds, loading it never panics and
// yields only entries a pick list can use.
func FuzzSitesFile(f *testing.F) {
	b, _ := json.Marshal([]wire.SiteInfo{{ID: "S-030", Name: "30号 茶语奶茶", Category: "奶茶"}})
	f.Add(b)
	f.Add([]byte(`[{"id":""},{"id":"S-1"},{"id":"S-1"}]`))
	f.Add([]byte(`{"id":"S-1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, sitesFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := loadSites(dir)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range l {
			if !validStallID(s.ID) || seen[s.ID] || len(s.Name) > 120 || len(s.Category) > 48 {
				t.Fatalf("unusable entry kept: %+v", s)
			}
			seen[s.ID] = true
		}
		if len(l) > wire.MaxWelcomeSites {
			t.Fatalf("%d sites kept", len(l))
		}
	})
}
