package backup_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shianfood/shian/command/backup"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/wire"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func result(seq uint64) wire.Result {
	id, _ := uuid.NewV7()
	return wire.Result{ResultID: id.String(), KioskID: "K-01", Seq: seq, StallID: "S-01", Method: assay.EnzymeInhibition,
		Item: "有机磷和氨基甲酸酯类农药", Verdict: assay.Negative, MeasuredAt: time.Now().UTC()}
}

type record struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// TestBackupWhileRunning takes a backup through the control socket while
// results are committed, restores it into a fresh directory, and finds
// there exactly the records the backup counted: each one as stored, an
// incident-like record and an evidence file included.
func TestBackupWhileRunning(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(data, store.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hist, err := history.Open("sqlite:"+filepath.Join(data, "history.db"), history.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	ctl, err := backup.ServeControl(data, st, hist, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if err := st.Put("incident", "INC-1", record{ID: "INC-1", State: "assigned"}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(data, "evidence", "INC-1"), 0o755)
	os.WriteFile(filepath.Join(data, "evidence", "INC-1", "ev-1.png"), []byte("\x89PNG photo"), 0o600)
	for seq := uint64(1); seq <= 50; seq++ {
		if _, err := hist.Commit([]wire.Result{result(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	// Commits go on while the backup is taken.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := uint64(51); ctx.Err() == nil && seq < 5000; seq++ {
			hist.Commit([]wire.Result{result(seq)})
		}
	}()
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	man, how, err := backup.ToFile(context.Background(), data, path, quiet())
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(how, "running service") || !man.Live || man.Results < 50 || man.Evidence != 1 {
		t.Fatalf("backup: %s %+v", how, man)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	var out bytes.Buffer
	_, n, err := backup.Restore(path, restored, false, &out)
	if err != nil {
		t.Fatal(err)
	}
	if n != man.Results {
		t.Fatalf("restored %d results, the backup counted %d", n, man.Results)
	}
	rs, err := store.Open(restored, store.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	rh, err := history.Open("sqlite:"+filepath.Join(restored, "history.db"), history.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer rh.Close()
	got, err := rh.Results(history.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]bool{}
	for _, r := range got {
		orig, err := hist.Result(r.ResultID)
		if err != nil || orig.Fingerprint() != r.Fingerprint() {
			t.Fatalf("restored result %s differs from the stored one: %v", r.ResultID, err)
		}
		seqs[r.Seq] = true
	}
	// A consistent copy is a prefix of the commits: seq 1…n, no gaps.
	for seq := uint64(1); seq <= uint64(n); seq++ {
		if !seqs[seq] {
			t.Fatalf("seq %d missing from a copy of %d results", seq, n)
		}
	}
	var inc record
	if err := rs.Get("incident", "INC-1", &inc); err != nil || inc.State != "assigned" {
		t.Fatalf("incident: %+v %v", inc, err)
	}
	if b, err := os.ReadFile(filepath.Join(restored, "evidence", "INC-1", "ev-1.png")); err != nil || string(b) != "\x89PNG photo" {
		t.Fatalf("evidence: %q %v", b, err)
	}
	// A second restore into the same directory is refused without --force.
	rs.Close()
	if _, _, err := backup.Restore(path, restored, false, &out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over a store: %v", err)
	}
	if _, _, err := backup.Restore(path, restored, true, &out); err != nil || !strings.Contains(out.String(), "moved the existing store aside") {
		t.Fatalf("restore --force: %v %s", err, out.String())
	}
}

// TestBackupStopped: with no service running, backup opens the data
// directory itself.
func TestBackupStopped(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(data, store.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	hist, err := history.Open("sqlite:"+filepath.Join(data, "history.db"), history.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	hist.Commit([]wire.Result{result(1), result(2)})
	hist.Close()
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	man, how, err := backup.ToFile(context.Background(), data, path, quiet())
	if err != nil || man.Results != 2 || man.Live || !strings.Contains(how, "no service") {
		t.Fatalf("%+v %s %v", man, how, err)
	}
	if _, err := backup.Check(filepath.Join(data, "command.db")); err == nil {
		t.Fatal("a store file is not a backup")
	}
}
