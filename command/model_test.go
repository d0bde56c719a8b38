package command_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
	"pgregory.net/rapid"
)

// deliverySystem is the whole delivery path without sockets: a real
// outbox, the uplink's real send/ack bookkeeping (uplink.Sender), a real
// command result history (SQLite), and a link modelled as two queues, so that rapid can
// interleave every step: measure, send, deliver, ack, lose an ack,
// duplicate a message, disconnect, restart either side, crash mid-write.
type deliverySystem struct {
	t          *rapid.T
	dir        string
	ob         *outbox.Outbox
	st         history.History
	snd        *uplink.Sender // nil while disconnected
	window     int
	up         [][]wire.Result // kiosk → command, in flight
	down       []uint64        // acks, command → kiosk, in flight
	sentBefore [][]wire.Result // every message ever sent, for duplicates

	measured  map[string]wire.Result // saved on the kiosk ("saved" on screen)
	published map[string]int         // result_id → times handed to the map
	steps     int
	// restartOdds makes restarts 1 in restartOdds of the times they are
	// drawn: every restart rereads both files, so long runs restart less.
	restartOdds int
}

// restartNow decides whether a drawn restart happens.
func (s *deliverySystem) restartNow(t *rapid.T) {
	if s.restartOdds > 1 && rapid.IntRange(1, s.restartOdds).Draw(t, "restart now") != 1 {
		t.Skip("not this time")
	}
}

// scratch returns a directory for throwaway databases: tmpfs when there is
// one (the outbox fsyncs every save; proving fsync is not this test's
// job), else the system's temporary directory.
func scratch() (string, error) {
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	return os.MkdirTemp(base, "shian-model-")
}

func (s *deliverySystem) openKiosk() {
	ob, err := outbox.Open(filepath.Join(s.dir, "kiosk"), outbox.Options{KioskID: modelKiosk, Log: quiet})
	if err != nil {
		s.t.Fatalf("outbox: %v", err)
	}
	s.ob = ob
}

func (s *deliverySystem) openCommand() {
	st, err := history.Open("sqlite:"+filepath.Join(s.dir, "command", "history.db"), history.Options{Log: quiet, NoSync: true})
	if err != nil {
		s.t.Fatalf("history: %v", err)
	}
	s.st = st
}

// disconnect loses everything in flight.
func (s *deliverySystem) disconnect() {
	s.snd, s.up, s.down = nil, nil, nil
}

// tornTail appends the first n bytes of a write that never finished (a
// crash inside write()): a buntdb record for the outbox, a WAL frame's
// start for the history.
func tornTail(t *rapid.T, path string, n int) {
	rec := aofsalvage.AppendSet(nil, "result:00000000000000009999", `{"state":"pending"}`)
	if strings.HasSuffix(path, "-wal") {
		rec = append([]byte{0x37, 0x7f, 0x06, 0x82, 0, 0x2d, 0xe2, 0x18, 0, 0, 0x10, 0}, rec...)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(rec[:n%len(rec)])
	f.Close()
}

func (s *deliverySystem) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"measure": func(t *rapid.T) {
			r := enzymeResult(fmt.Sprintf("S-%03d", rapid.IntRange(1, 5).Draw(t, "stall")), 300*measure.MilliAU,
				measure.Absorbance(rapid.IntRange(0, 300).Draw(t, "sample"))*measure.MilliAU)
			saved, err := s.ob.Save(r)
			if err != nil {
				t.Fatalf("save: %v", err)
			}
			s.measured[saved.ResultID] = saved
		},
		"connect": func(t *rapid.T) {
			if s.snd == nil {
				s.snd = uplink.NewSender(s.ob, s.ob.LastSeq(), s.ackedUpTo(), s.window)
			}
		},
		"send": func(t *rapid.T) {
			if s.snd == nil {
				t.Skip("not connected")
			}
			batch, err := s.snd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if batch != nil {
				s.up = append(s.up, batch)
				s.sentBefore = append(s.sentBefore, batch)
			}
		},
		"deliver": func(t *rapid.T) {
			if len(s.up) == 0 {
				t.Skip("nothing in flight")
			}
			m := s.up[0]
			s.up = s.up[1:]
			out, err := s.st.Commit(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range out {
				switch c.Outcome {
				case history.Stored:
					s.publish(t, c.Result.ResultID)
				case history.Conflict:
					t.Fatalf("conflict on %s", c.Result.ResultID)
				}
			}
			// As ingest does: one ack per message, after the commit.
			if s.snd != nil {
				s.down = append(s.down, m[len(m)-1].Seq)
			}
		},
		"ack": func(t *rapid.T) {
			if len(s.down) == 0 || s.snd == nil {
				t.Skip("no ack in flight")
			}
			up := s.down[0]
			s.down = s.down[1:]
			if seqs := s.snd.Acked(up); len(seqs) > 0 {
				if _, err := s.ob.AckSeqs(seqs); err != nil {
					t.Fatal(err)
				}
			}
		},
		"lose ack": func(t *rapid.T) {
			if len(s.down) == 0 {
				t.Skip("no ack in flight")
			}
			s.down = s.down[1:]
		},
		"duplicate send": func(t *rapid.T) {
			if len(s.sentBefore) == 0 {
				t.Skip("nothing sent yet")
			}
			m := rapid.SampledFrom(s.sentBefore).Draw(t, "message")
			// A stray copy of an old message (retransmitted by a
			// middlebox): stored at most once, never acked on its own.
			out, err := s.st.Commit(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range out {
				if c.Outcome == history.Stored {
					s.publish(t, c.Result.ResultID)
				}
			}
		},
		"disconnect": func(t *rapid.T) { s.disconnect() },
		"restart kiosk": func(t *rapid.T) {
			s.restartNow(t)
			s.disconnect()
			s.ob.Close()
			if rapid.Bool().Draw(t, "crash mid-write") {
				tornTail(t, filepath.Join(s.dir, "kiosk", "outbox.db"), rapid.IntRange(1, 60).Draw(t, "torn bytes"))
			}
			s.openKiosk()
		},
		"restart command": func(t *rapid.T) {
			s.restartNow(t)
			s.disconnect()
			s.st.Close()
			if rapid.Bool().Draw(t, "crash mid-write") {
				tornTail(t, filepath.Join(s.dir, "command", "history.db-wal"), rapid.IntRange(1, 60).Draw(t, "torn bytes"))
			}
			s.openCommand()
		},
		"": func(t *rapid.T) { s.check(t) },
	}
}

// check holds after every step (the scan of the outbox every 25 steps
// and at the end, to keep long runs linear).
func (s *deliverySystem) check(t *rapid.T) {
	s.steps++
	if s.steps%25 != 0 {
		return
	}
	s.fullCheck(t)
}

// publish is what the ingest does for a newly stored result: hand it to
// the map. The map gets each result once, and only results a kiosk saved.
func (s *deliverySystem) publish(t *rapid.T, id string) {
	s.published[id]++
	if n := s.published[id]; n > 1 {
		t.Fatalf("result %s handed to the map %d times", id, n)
	}
	if _, ok := s.measured[id]; !ok {
		t.Fatalf("the command holds %s, which the kiosk never saved", id)
	}
}

// fullCheck: nothing the kiosk saved is gone from it, and whatever it
// counts as delivered is stored.
func (s *deliverySystem) fullCheck(t *rapid.T) {
	recs, err := s.ob.Recent(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(s.measured) {
		t.Fatalf("outbox holds %d records, %d were saved", len(recs), len(s.measured))
	}
	for _, rec := range recs {
		if rec.State == outbox.StateAcked {
			if _, err := s.st.Result(rec.Result.ResultID); err != nil {
				t.Fatalf("seq %d is acked on the kiosk but not stored", rec.Result.Seq)
			}
		}
	}
}

// quiesce connects, and sends, delivers and acks until the outbox is
// empty.
func (s *deliverySystem) quiesce(t *rapid.T) {
	s.disconnect()
	s.snd = uplink.NewSender(s.ob, s.ob.LastSeq(), s.ackedUpTo(), s.window)
	for i := 0; s.ob.Stats().Pending > 0; i++ {
		if i > 100000 {
			t.Fatalf("no quiescence: %+v", s.ob.Stats())
		}
		batch, err := s.snd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if batch == nil {
			t.Fatalf("pending results but nothing to send: %+v, in flight %d", s.ob.Stats(), s.snd.InFlight())
		}
		out, err := s.st.Commit(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range out {
			if c.Outcome == history.Stored {
				s.publish(t, c.Result.ResultID)
			}
		}
		s.ob.AckSeqs(s.snd.Acked(batch[len(batch)-1].Seq))
	}
}

// TestDeliveryModel is docs/reliability.md test 6: random interleavings of
// measure, send, deliver, ack, lost ack, duplicate send, disconnect and
// restarts (with and without a write torn by a crash) on either side.
// After quiescence the command holds exactly what the kiosk saved, each
// once; the map got each once; the outbox is empty.
//
// CI size: 25 runs of about 200 steps. SHIAN_RELIABILITY=full: 200 runs
// of about 10,000 steps, restarts drawn 25 times less often (or set
// -rapid.checks / -rapid.steps).
func TestDeliveryModel(t *testing.T) {
	checks, steps, odds := "25", "200", 1
	if full() {
		checks, steps, odds = "200", "10000", 25
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rapid.checks"] {
		flag.Set("rapid.checks", checks)
	}
	if !set["rapid.steps"] {
		flag.Set("rapid.steps", steps)
	}
	rapid.Check(t, func(t *rapid.T) {
		dir, err := scratch()
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		s := &deliverySystem{t: t, dir: dir, window: rapid.IntRange(1, 130).Draw(t, "window"),
			measured: map[string]wire.Result{}, published: map[string]int{}, restartOdds: odds}
		s.openKiosk()
		s.openCommand()
		defer func() { s.ob.Close(); s.st.Close() }()
		t.Repeat(s.actions())
		s.fullCheck(t)
		s.quiesce(t)
		s.fullCheck(t)
		if n := s.st.Count(); n != len(s.measured) {
			t.Fatalf("the command holds %d results, the kiosk saved %d", n, len(s.measured))
		}
		for id, r := range s.measured {
			got, err := s.st.Result(id)
			if err != nil || got.Fingerprint() != r.Fingerprint() {
				t.Fatalf("result %s: %v", id, err)
			}
			if s.published[id] != 1 {
				t.Fatalf("result %s handed to the map %d times", id, s.published[id])
			}
		}
		if st := s.ob.Stats(); st.Pending != 0 {
			t.Fatalf("outbox not empty: %+v", st)
		}
	})
}

// ackedUpTo is what the command's welcome would say: its contiguous mark
// for the kiosk, capped at the kiosk's last seq.
func (s *deliverySystem) ackedUpTo() uint64 {
	hw, _ := s.st.HighWater(modelKiosk)
	return min(hw, s.ob.LastSeq())
}

const modelKiosk = "K-1"
