package kiosk

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/wire"
)

// sitesFile keeps, in the data directory, the sites the command last sent
// in welcome (names and categories for the screen's pick list), so that a
// kiosk restarted offline still shows them. It is a plain JSON file beside
// the outbox, written to a temporary file, synced and renamed, so that a
// power cut leaves the old list or the new one.
const sitesFile = "sites.json"

// cleanSites keeps the sites a stall list can use: an id the screen
// accepts (as a stall code), at most wire.MaxWelcomeSites, names and
// categories trimmed and bounded. What it drops is counted, not fatal: a
// bad entry must not cost the link or the list.
func cleanSites(in []wire.SiteInfo) (out []wire.SiteInfo, dropped int) {
	seen := map[string]bool{}
	clip := func(s string, n int) string {
		s = strings.TrimSpace(s)
		if len(s) > n {
			return ""
		}
		return s
	}
	for _, s := range in {
		if !validStallID(s.ID) || seen[s.ID] || len(out) >= wire.MaxWelcomeSites {
			dropped++
			continue
		}
		seen[s.ID] = true
		out = append(out, wire.SiteInfo{ID: s.ID, Name: clip(s.Name, 120), NameEn: clip(s.NameEn, 120), Kind: clip(s.Kind, 32), Category: clip(s.Category, 48)})
	}
	return out, dropped
}

func validStallID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// loadSites reads the kept list; a missing file is an empty list, a damaged
// one is reported (and the config's stalls still show).
func loadSites(dir string) ([]wire.SiteInfo, error) {
	raw, err := os.ReadFile(filepath.Join(dir, sitesFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sites []wire.SiteInfo
	if err := json.Unmarshal(raw, &sites); err != nil {
		return nil, fmt.Errorf("kiosk: %s cannot be read (it is rewritten at the next connection): %w", filepath.Join(dir, sitesFile), err)
	}
	sites, _ = cleanSites(sites)
	return sites, nil
}

func saveSites(dir string, sites []wire.SiteInfo) error {
	raw, err := json.Marshal(sites)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, sitesFile+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, sitesFile)); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// onSites takes the command's site list from welcome: cleaned, kept and
// shown on the pick list.
func (k *Kiosk) onSites(in []wire.SiteInfo) {
	sites, dropped := cleanSites(in)
	if dropped > 0 {
		k.opts.Log.Warn("sites from the command left off the pick list (bad or repeated id, or too many)", "dropped", dropped, "kept", len(sites))
	}
	k.sitesMu.Lock()
	same := slices.Equal(sites, k.sites)
	k.sites = sites
	k.sitesMu.Unlock()
	if same {
		return
	}
	if err := saveSites(k.cfg.Data, sites); err != nil {
		k.opts.Log.Warn("site list not kept on the card; shown until the kiosk restarts", "err", err)
	}
	k.showSites()
}

// showSites puts the command's sites on the screen's pick list.
func (k *Kiosk) showSites() {
	if k.screen != nil {
		k.screen.srv.SetCommandStalls(k.commandStalls())
	}
}

func (k *Kiosk) commandStalls() []ui.Stall {
	k.sitesMu.Lock()
	defer k.sitesMu.Unlock()
	stalls := make([]ui.Stall, 0, len(k.sites))
	for _, s := range k.sites {
		stalls = append(stalls, ui.Stall{ID: s.ID, Name: s.Name, Category: s.Category})
	}
	return stalls
}
