package outbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newResult() wire.Result {
	return wire.Result{
		DeviceID: "enzyme-1", Model: "DY-3000E", StallID: "S-001",
		Method: assay.EnzymeInhibition, Item: "农药残留", Analyte: "organophosphate_carbamate",
		Value: 10, Unit: "%", Verdict: assay.Negative,
		Raw: assay.Raw{ControlDeltaA: assay.Ptr(300 * measure.MilliAU), SampleDeltaA: assay.Ptr(270 * measure.MilliAU)},
	}
}

func open(t *testing.T, dir string, c *clock) *Outbox {
	t.Helper()
	o, err := Open(dir, Options{KioskID: "K-1", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSaveAckReopen(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	o := open(t, dir, c)
	if o.BootEpoch() != 1 {
		t.Fatalf("boot epoch %d", o.BootEpoch())
	}
	var ids []string
	for i := 0; i < 5; i++ {
		r, err := o.Save(newResult())
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) || r.KioskID != "K-1" || r.BootEpoch != 1 {
			t.Fatalf("saved %+v", r)
		}
		ids = append(ids, r.ResultID)
	}
	if ids[0] == ids[1] {
		t.Fatal("result ids reused")
	}
	if n, err := o.Ack(3); err != nil || n != 3 {
		t.Fatalf("Ack(3) = %d, %v", n, err)
	}
	if n, _ := o.Ack(3); n != 0 {
		t.Fatalf("second Ack(3) marked %d", n)
	}
	p, _ := o.PendingAfter(0, 10)
	if len(p) != 2 || p[0].Seq != 4 || p[1].Seq != 5 {
		t.Fatalf("pending %v", p)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	o = open(t, dir, c)
	defer o.Close()
	if o.BootEpoch() != 2 || o.LastSeq() != 5 {
		t.Fatalf("after reopen: epoch %d last %d", o.BootEpoch(), o.LastSeq())
	}
	st := o.Stats()
	if st.Pending != 2 || st.LastAck == nil {
		t.Fatalf("stats %+v", st)
	}
	r, _ := o.Save(newResult())
	if r.Seq != 6 || r.BootEpoch != 2 {
		t.Fatalf("seq after reopen %d epoch %d", r.Seq, r.BootEpoch)
	}
	p, _ = o.PendingAfter(4, 10)
	if len(p) != 2 || p[0].Seq != 5 || p[1].Seq != 6 {
		t.Fatalf("pending after 4: %v", p)
	}
	rec, ok := o.Get(ids[0])
	if !ok || rec.State != StateAcked {
		t.Fatalf("Get: %+v %v", rec, ok)
	}
}

func TestPruneKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	o := open(t, dir, c)
	for i := 0; i < 4; i++ {
		o.Save(newResult())
	}
	o.Ack(4)
	c.t = c.t.Add(100 * time.Hour)
	n, err := o.Prune()
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	o.Close()
	o = open(t, dir, c)
	defer o.Close()
	if r, _ := o.Save(newResult()); r.Seq != 5 {
		t.Fatalf("sequence went back after prune: %d", r.Seq)
	}
}

func TestReject(t *testing.T) {
	o := open(t, t.TempDir(), &clock{time.Now()})
	defer o.Close()
	r, _ := o.Save(newResult())
	if err := o.Reject(wire.Reject{ResultID: r.ResultID, Seq: r.Seq, Code: wire.RejectConflict}); err != nil {
		t.Fatal(err)
	}
	if p, _ := o.PendingAfter(0, 10); len(p) != 0 {
		t.Fatalf("rejected result still pending: %v", p)
	}
	if st := o.Stats(); st.Rejected != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInvalidResultNotSaved(t *testing.T) {
	o := open(t, t.TempDir(), &clock{time.Now()})
	defer o.Close()
	bad := newResult()
	bad.Verdict = "maybe"
	if _, err := o.Save(bad); err == nil {
		t.Fatal("invalid result saved")
	}
	if o.LastSeq() != 0 {
		t.Fatal("sequence consumed by a failed save")
	}
}

// TestLockedByAnotherProcess runs a second process on the same directory:
// it must fail with a clear "locked" error and leave the file untouched.
func TestLockedByAnotherProcess(t *testing.T) {
	if os.Getenv("OUTBOX_LOCK_CHILD") != "" {
		_, err := Open(os.Getenv("OUTBOX_LOCK_CHILD"), Options{KioskID: "K-1"})
		if errors.Is(err, ErrLocked) {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Exit(0)
	}
	dir := t.TempDir()
	o := open(t, dir, &clock{time.Now()})
	defer o.Close()
	o.Save(newResult())
	before, _ := os.ReadFile(filepath.Join(dir, "outbox.db"))
	cmd := exec.Command(os.Args[0], "-test.run=TestLockedByAnotherProcess")
	cmd.Env = append(os.Environ(), "OUTBOX_LOCK_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("second process: %v, output %s", err, out)
	}
	if want := "locked"; !strings.Contains(string(out), want) {
		t.Fatalf("error does not say %q: %s", want, out)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "outbox.db"))
	if string(before) != string(after) {
		t.Fatal("second process changed the file")
	}
}

// TestHeldAfter: what the outbox can send again for a command that lost
// results — pending ones always, acked ones above the command's mark,
// never a rejected one — across a reopen.
func TestHeldAfter(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	o := open(t, dir, c)
	var rs []wire.Result
	for i := 0; i < 7; i++ {
		r, err := o.Save(newResult())
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if _, err := o.AckSeqs([]uint64{1, 2, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if err := o.Reject(wire.Reject{ResultID: rs[5].ResultID, Seq: 6, Code: wire.RejectConflict}); err != nil {
		t.Fatal(err)
	}
	seqsOf := func(rs []wire.Result, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range rs {
			b.WriteString(" " + strconv.FormatUint(r.Seq, 10))
		}
		return strings.TrimSpace(b.String())
	}
	for round := 0; round < 2; round++ {
		if got := seqsOf(o.HeldAfter(0, 3, 100)); got != "3 4 5 7" {
			t.Fatalf("round %d: held above mark 3: %q, want pending 3, 7 and acked 4, 5", round, got)
		}
		if got := seqsOf(o.HeldAfter(0, 0, 100)); got != "1 2 3 4 5 7" {
			t.Fatalf("round %d: everything held: %q", round, got)
		}
		if got := seqsOf(o.HeldAfter(3, 0, 2)); got != "4 5" {
			t.Fatalf("round %d: after 3, at most 2: %q", round, got)
		}
		if got := seqsOf(o.HeldAfter(0, 7, 100)); got != "3 7" {
			t.Fatalf("round %d: command holds all: %q, want the pending only", round, got)
		}
		o.Close()
		o = open(t, dir, c)
	}
	o.Close()
}
