package durable

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/tidwall/buntdb"
)

var quietLog = slog.New(slog.DiscardHandler)

func put(t *testing.T, f *File, key, value string) {
	t.Helper()
	if err := f.DB.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(key, value, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedFileOpens: garbage in the middle of the file is salvaged at
// Open, reported once through Repaired, and every undamaged record is
// there.
func TestDamagedFileOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	f, err := Open(path, Options{Name: "x", Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		put(t, f, fmt.Sprintf("k:%02d", i), "v")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var cmds []aofsalvage.Command
	aofsalvage.Scan(data, func(c aofsalvage.Command) { cmds = append(cmds, c) })
	data[cmds[5].Offset+3] = '#'
	os.WriteFile(path, data, 0o644)

	var codes []string
	f, err = Open(path, Options{Name: "x", Log: quietLog, Repaired: func(code, msg string) {
		if !strings.Contains(msg, "x.db") {
			t.Errorf("message %q does not name the file", msg)
		}
		codes = append(codes, code)
	}})
	if err != nil {
		t.Fatalf("a damaged file must open: %v", err)
	}
	defer f.Close()
	if len(codes) != 1 || codes[0] != "storage_salvaged" {
		t.Fatalf("repairs %v", codes)
	}
	n := 0
	f.DB.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool { n++; return true })
	})
	if n != 9 {
		t.Fatalf("%d records, want the 9 undamaged ones", n)
	}
	var cfg buntdb.Config
	f.DB.ReadConfig(&cfg)
	if cfg.SyncPolicy != buntdb.Always || !cfg.AutoShrinkDisabled {
		t.Fatalf("config %+v: want SyncPolicy Always and auto-shrink off", cfg)
	}
}
