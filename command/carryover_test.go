package command_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/shianfood/shian/protocols/wire"
)

// untar unpacks testdata/legacy-datadir-v0.tar.gz into dir: the data
// directory of a chaos run (4 kiosks, 600 results, SIGKILLs of both sides)
// made by shian-command before the result history existed, whose results
// are result:<id> keys in command/command.db.
func untar(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "legacy-datadir-v0.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// legacyResults reads the results of an earlier command.db straight from
// its bytes (the last set of each result key, unless deleted after).
func legacyResults(t *testing.T, path string) map[string]wire.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]wire.Result{}
	aofsalvage.Scan(data, func(c aofsalvage.Command) {
		id, ok := strings.CutPrefix(c.Key, "result:")
		if !ok {
			return
		}
		if c.Op == aofsalvage.OpDel {
			delete(out, id)
			return
		}
		var r wire.Result
		if err := json.Unmarshal([]byte(c.Value), &r); err != nil {
			t.Fatalf("the fixture's result %s does not decode: %v", id, err)
		}
		out[id] = r
	})
	return out
}

// TestCarryOverChild is the child process of TestCarryOverSurvivesKills:
// it carries the data directory's results over in chunks of 100 and
// SIGKILLs itself at the step it is told.
func TestCarryOverChild(t *testing.T) {
	dir, at := os.Getenv("SHIAN_CARRYOVER_DIR"), os.Getenv("SHIAN_CARRYOVER_KILL")
	if dir == "" {
		t.Skip("run by TestCarryOverSurvivesKills")
	}
	st, err := store.Open(dir, store.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.Open("sqlite:"+filepath.Join(dir, "history.db"), history.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	history.CarryOver(st, h, history.CarryOptions{Chunk: 100, Log: quiet, Step: func(phase string, done int) error {
		if phase+":"+itoa(done) == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		return nil
	}})
	t.Fatalf("the carry-over never reached %s", at)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestCarryOverSurvivesKills is issue 9 item 5: a data directory written
// by the version before the result history (a real one, from a chaos run)
// opens in this version with every result carried into the history once,
// without loss, even when the process is killed (SIGKILL) in the middle
// of the carry-over — once after a chunk was imported and before it was
// removed from command.db, once after a removal (the second run counts from 0) — and the service then
// goes on storing new results after them.
func TestCarryOverSurvivesKills(t *testing.T) {
	if os.Getenv("SHIAN_CARRYOVER_DIR") != "" {
		t.Skip("in the child")
	}
	root := t.TempDir()
	untar(t, root)
	dir := filepath.Join(root, "command")
	want := legacyResults(t, filepath.Join(dir, "command.db"))
	if len(want) != 600 {
		t.Fatalf("the fixture holds %d results, want 600", len(want))
	}
	for _, kill := range []string{"imported:300", "dropped:200"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCarryOverChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SHIAN_CARRYOVER_DIR="+dir, "SHIAN_CARRYOVER_KILL="+kill)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child killed at %s: %v\n%s", kill, err, out)
		}
	}
	left := legacyResults(t, filepath.Join(dir, "command.db"))
	if len(left) == 0 || len(left) == len(want) {
		t.Fatalf("after the kills command.db still holds %d of %d results: the kills were not midway", len(left), len(want))
	}

	svc, err := command.Open(command.Config{DataDir: dir, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	h := svc.History()
	if n := h.Count(); n != len(want) {
		t.Fatalf("the history holds %d results, the old file held %d", n, len(want))
	}
	if n := svc.Store().LegacyCount(); n != 0 {
		t.Fatalf("%d results left in command.db", n)
	}
	maxRx := uint64(0)
	seqs := map[string]map[uint64]bool{}
	for id, r := range want {
		got, err := h.Result(id)
		if err != nil {
			t.Fatalf("result %s lost: %v", id, err)
		}
		if got.Fingerprint() != r.Fingerprint() || got.RxSeq != r.RxSeq || !got.ReceivedAt.Equal(*r.ReceivedAt) ||
			strings.Join(got.Flags, ",") != strings.Join(r.Flags, ",") {
			t.Fatalf("result %s carried over changed:\n%+v\n%+v", id, got, r)
		}
		maxRx = max(maxRx, r.RxSeq)
		if seqs[r.KioskID] == nil {
			seqs[r.KioskID] = map[uint64]bool{}
		}
		seqs[r.KioskID][r.Seq] = true
	}
	n := 0
	h.Each(history.Filter{}, false, func(*wire.Result) bool { n++; return true })
	if n != len(want) {
		t.Fatalf("the history lists %d results", n)
	}
	for k, s := range seqs {
		hw := uint64(0)
		for s[hw+1] {
			hw++
		}
		if got, _ := h.HighWater(k); got != hw {
			t.Fatalf("kiosk %s high water %d, want %d", k, got, hw)
		}
	}
	if rep, err := h.Verify(); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// New results come after the carried ones.
	var any wire.Result
	for _, r := range want {
		any = r
		break
	}
	fresh := any.Content()
	fresh.ResultID, fresh.Seq = "0193a1b2-7c4d-7e5f-8a6b-0000000f0001", 100000
	out, err := h.Commit([]wire.Result{fresh, any.Content()})
	if err != nil || out[0].Outcome != history.Stored || out[0].Result.RxSeq != maxRx+1 || out[1].Outcome != history.Duplicate {
		t.Fatalf("after the carry-over: %+v %v", out, err)
	}
}
