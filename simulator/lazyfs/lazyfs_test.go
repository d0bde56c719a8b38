package lazyfs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCutDropsOnlyUnsynced: on a real LazyFS mount, a cut keeps what was
// fsynced and drops what was not — the premise of every power-loss test.
// It runs where SHIAN_LAZYFS names the binary (make powerloss sets it).
func TestCutDropsOnlyUnsynced(t *testing.T) {
	bin := os.Getenv("SHIAN_LAZYFS")
	if bin == "" {
		t.Skip("SHIAN_LAZYFS is not set (make powerloss builds LazyFS and sets it)")
	}
	dir := t.TempDir()
	fs, err := Mount(bin, filepath.Join(dir, "mnt"), filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Unmount()
	synced, unsynced := filepath.Join(fs.Mountpoint, "synced"), filepath.Join(fs.Mountpoint, "unsynced")
	f, err := os.Create(synced)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("kept")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.WriteString(" and lost") // after the sync: gone with the cut
	f.Close()
	if err := os.WriteFile(unsynced, []byte("never synced"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fs.Cut(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(synced); string(b) != "kept" {
		t.Fatalf("synced file after the cut: %q, want %q", b, "kept")
	}
	if b, _ := os.ReadFile(unsynced); len(b) != 0 {
		t.Fatalf("unsynced file after the cut: %q, want empty", b)
	}
	if fs.Cuts() != 1 {
		t.Fatalf("cuts %d", fs.Cuts())
	}
}
