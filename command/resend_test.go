package command_test

// A command that lost results gets them back from the kiosks that still
// hold them (issue 9, item 6b): the kiosk sends again what it holds above
// the welcome's acked_up_to, acked or not, and the command asks for a
// damaged result by its seq (wire.Resend) — only a kiosk that said it
// understands that message. Real parts: the command service on its data
// directory, a real outbox and uplink, real websockets, a real backup and
// restore, a real SQLite file damaged on disk.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/backup"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// station is one run of the command service on a data directory.
type station struct {
	svc    *command.Service
	srv    *httptest.Server
	cancel context.CancelFunc
	ran    chan struct{}
}

func openStation(t *testing.T, data string) *station {
	t.Helper()
	svc, err := command.Open(command.Config{DataDir: data, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { svc.Run(ctx); close(ran) }()
	return &station{svc: svc, srv: httptest.NewServer(svc.Handler()), cancel: cancel, ran: ran}
}

func (s *station) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws/kiosk" }

func (s *station) close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.cancel()
	<-s.ran
	s.svc.Close()
}

// link runs a real uplink from ob to the station until the returned stop.
func link(t *testing.T, s *station, ob *outbox.Outbox, id, token string) (stop func()) {
	t.Helper()
	u, err := uplink.New(uplink.Config{URL: s.url(), KioskID: id, Token: token, Source: ob, Log: quiet,
		PongWait: 2 * time.Second, WriteWait: time.Second, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// waitFor polls cond until it holds (a failure after 30 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func saveN(t *testing.T, ob *outbox.Outbox, n int, into *[]wire.Result) {
	t.Helper()
	for i := 0; i < n; i++ {
		r, err := ob.Save(enzymeResult("S-001", 300*measure.MilliAU, measure.Absorbance(100+i)*measure.MilliAU))
		if err != nil {
			t.Fatal(err)
		}
		*into = append(*into, r)
	}
}

// exactlyOnce checks that the history holds every saved result once, with
// its content, none flagged as a seq regression, and nothing else.
func exactlyOnce(t *testing.T, h history.History, kioskID string, saved []wire.Result) {
	t.Helper()
	for _, s := range saved {
		got, err := h.Result(s.ResultID)
		if err != nil {
			t.Fatalf("seq %d (%s) not served: %v", s.Seq, s.ResultID, err)
		}
		if got.Fingerprint() != s.Fingerprint() {
			t.Fatalf("seq %d stored with other content", s.Seq)
		}
		for _, f := range got.Flags {
			if f == wire.FlagSeqRegression {
				t.Fatalf("seq %d flagged %s: the resend was taken for a new result", s.Seq, f)
			}
		}
	}
	seen := map[string]int{}
	if err := h.Each(history.Filter{KioskID: kioskID}, false, func(r *wire.Result) bool { seen[r.ResultID]++; return true }); err != nil {
		t.Fatal(err)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("result %s stored %d times", id, n)
		}
	}
	if len(seen) != len(saved) || h.Count() != len(saved) {
		t.Fatalf("history holds %d results (%d of this kiosk), the kiosk saved %d", h.Count(), len(seen), len(saved))
	}
}

// TestRestoredCommandGetsResultsBack: the command is backed up after 38
// results, takes 22 more (all acked on the kiosk), and is then restored
// from that backup. The kiosk, told acked_up_to 38, sends seqs 39–60
// again although they are marked acked, and the command ends with all 60,
// each once — as the log (command_holds_up_to=38 last_seq=60)
// should have ended.
func TestRestoredCommandGetsResultsBack(t *testing.T) {
	dataA, dataB, kdir := t.TempDir(), filepath.Join(t.TempDir(), "restored"), t.TempDir()
	a := openStation(t, dataA)
	token, err := a.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-38"})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(kdir, outbox.Options{KioskID: "K-38", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	stop := link(t, a, ob, "K-38", token)
	var saved []wire.Result
	saveN(t, ob, 38, &saved)
	waitFor(t, "38 stored and acked", func() bool { return a.svc.History().Count() == 38 && ob.Stats().Pending == 0 })
	bk := filepath.Join(t.TempDir(), "at-38.tar.gz")
	f, err := os.Create(bk)
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Write(f, a.svc.Store(), a.svc.History(), dataA, true); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	saveN(t, ob, 22, &saved)
	waitFor(t, "60 stored and acked", func() bool { return a.svc.History().Count() == 60 && ob.Stats().Pending == 0 })
	stop()
	a.close()

	// The command's disk is lost; it is restored from the backup at 38.
	if _, _, err := backup.Restore(bk, dataB, false, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	b := openStation(t, dataB)
	defer b.close()
	if n := b.svc.History().Count(); n != 38 {
		t.Fatalf("restored history holds %d, want the backup's 38", n)
	}
	if hw, _ := b.svc.History().HighWater("K-38"); hw != 38 {
		t.Fatalf("restored mark %d", hw)
	}
	stop = link(t, b, ob, "K-38", token)
	defer stop()
	waitFor(t, "the restored command holds all 60 again", func() bool { return b.svc.History().Count() >= 60 })
	waitFor(t, "mark back at 60", func() bool { hw, _ := b.svc.History().HighWater("K-38"); return hw == 60 })
	exactlyOnce(t, b.svc.History(), "K-38", saved)
	alarms, _ := b.svc.Store().Alarms(50, false)
	for _, al := range alarms {
		if al.Code == "seq_regression" || al.Code == "result_conflict" {
			t.Fatalf("alarm %s: %s", al.Code, al.Message)
		}
	}
}

// TestDamagedResultAskedAgain: one stored row of a kiosk's result is
// damaged on disk (a byte flipped in its JSON). Reading it finds the
// damage; the command asks the kiosk for that seq — not while an older
// kiosk without the resend feature is on the link (it would drop the link
// on an unknown type), but as soon as a kiosk that lists it connects — and
// the kiosk's resend of its acked copy puts the row back whole, once.
func TestDamagedResultAskedAgain(t *testing.T) {
	data, kdir := t.TempDir(), t.TempDir()
	a := openStation(t, data)
	token, err := a.svc.Store().RegisterKiosk(store.Kiosk{ID: "K-04"})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(kdir, outbox.Options{KioskID: "K-04", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	stop := link(t, a, ob, "K-04", token)
	var saved []wire.Result
	saveN(t, ob, 10, &saved)
	waitFor(t, "10 stored and acked", func() bool { return a.svc.History().Count() == 10 && ob.Stats().Pending == 0 })
	stop()
	a.close()

	// Flip a byte inside seq 4's stored JSON.
	db, err := sql.Open("sqlite", filepath.Join(data, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	if err := db.QueryRow(`SELECT body FROM results WHERE kiosk_id = 'K-04' AND seq = 4`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(body, []byte(`"kiosk_id"`))
	if i < 0 {
		t.Fatalf("no kiosk_id in %s", body)
	}
	body[i+1] = 'f' // "kiosk_id" → "fiosk_id", as the byte-flip harness saw
	if _, err := db.Exec(`UPDATE results SET body = ? WHERE kiosk_id = 'K-04' AND seq = 4`, body); err != nil {
		t.Fatal(err)
	}
	db.Close()

	b := openStation(t, data)
	defer b.close()
	h := b.svc.History()
	damagedID := saved[3].ResultID

	// An older kiosk (no features in its hello) connects; the damage is
	// found while it is on the link; it must not be sent a resend.
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	old, _, err := websocket.DefaultDialer.Dial(b.url(), hdr)
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := wire.Encode(&wire.Hello{KioskID: "K-04", BootEpoch: 9, LastSeq: 10, SentAt: time.Now()})
	old.WriteMessage(websocket.TextMessage, hello)
	old.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := func() wire.Message {
		t.Helper()
		_, msg, err := old.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		m, err := wire.Decode(msg, 0)
		if err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		return m
	}
	if w, ok := read().(*wire.Welcome); !ok || w.AckedUpTo != 10 {
		t.Fatalf("welcome %+v", w)
	}
	if _, err := h.Result(damagedID); !errors.Is(err, history.ErrDamaged) {
		t.Fatalf("damaged row read as %v", err)
	}
	// Whatever the command queued for this link leaves before the ack of
	// a message sent now.
	again, _ := wire.Encode(&wire.Results{Results: []wire.Result{saved[9]}})
	old.WriteMessage(websocket.TextMessage, again)
	for {
		m := read()
		if m.MessageType() == wire.TypeResend {
			t.Fatalf("an older kiosk was sent %+v", m)
		}
		if ack, ok := m.(*wire.Ack); ok {
			if ack.UpToSeq != 10 || ack.Duplicates != 1 {
				t.Fatalf("ack %+v", ack)
			}
			break
		}
	}
	old.Close()
	if _, err := h.Result(damagedID); !errors.Is(err, history.ErrDamaged) {
		t.Fatalf("damaged row read as %v", err)
	}

	// The kiosk itself, which lists the feature, is asked and answers.
	stop = link(t, b, ob, "K-04", token)
	defer stop()
	waitFor(t, "the damaged row repaired from the kiosk's resend", func() bool { _, err := h.Result(damagedID); return err == nil })
	exactlyOnce(t, h, "K-04", saved)
	rep, err := h.Verify()
	if err != nil || !rep.OK() {
		t.Fatalf("verify after the repair: %+v %v", rep, err)
	}
	alarms, _ := b.svc.Store().Alarms(50, false)
	found := false
	for _, al := range alarms {
		found = found || al.Code == "storage_damaged_result" && al.ResultID == damagedID
	}
	if !found {
		t.Fatalf("no storage_damaged_result alarm for %s: %+v", damagedID, alarms)
	}
}
