package enzyme

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/device/dyframe/dyframetest"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// The vectors are shared with protocols/device/dyframe (dyframetest.Vectors,
// docs/reliability.md test 4).

type fwVectors struct {
	Photometer []struct {
		Counts     Counts `json:"counts"`
		Absorbance int64  `json:"absorbance_uau"`
		Note       string `json:"note"`
	} `json:"photometer"`
	Firmware []struct {
		Name           string        `json:"name"`
		Start          time.Time     `json:"start"`
		LeadS          int           `json:"lead_s"`
		IntervalS      int           `json:"interval_s"`
		Record         uint32        `json:"record"`
		Channel        int           `json:"channel"`
		ControlChannel int           `json:"control_channel"`
		SampleCode     string        `json:"sample_code"`
		SampleName     string        `json:"sample_name"`
		Item           string        `json:"item"`
		First          scriptReading `json:"first"`
		Last           scriptReading `json:"last"`
		Verdict        assay.Verdict `json:"verdict"`
		Frame          struct {
			Hex    string          `json:"hex"`
			Report *dyframe.Report `json:"report"`
		} `json:"frame"`
	} `json:"firmware"`
}

type scriptReading struct {
	Control Counts `json:"control"`
	Sample  Counts `json:"sample"`
}

func loadVectors(t *testing.T) fwVectors {
	t.Helper()
	b := dyframetest.Vectors()
	var v fwVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAbsorbanceVectors(t *testing.T) {
	for _, v := range loadVectors(t).Photometer {
		if got := Absorbance(v.Counts); int64(got) != v.Absorbance {
			t.Errorf("%s: Absorbance(%+v) = %d µAU, want %d", v.Note, v.Counts, got, v.Absorbance)
		}
	}
}

// script is a photometer that returns fixed counts: the first reading of
// each channel, then the last.
type script struct {
	mu      sync.Mutex
	control int
	first   scriptReading
	last    scriptReading
	n       map[int]int
}

func (s *script) Read(ch int) (Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.first
	if s.n[ch] > 0 {
		r = s.last
	}
	s.n[ch]++
	if ch == s.control {
		return r.Control, nil
	}
	return r.Sample, nil
}

type offsetClock struct{ d time.Duration }

func (c offsetClock) Now() time.Time                         { return time.Now().Add(c.d) }
func (c offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// pipeUART connects a firmware to a test host over two io.Pipes.
type pipeUART struct {
	io.Reader
	io.Writer
}

type host struct {
	t *testing.T
	r *dyframe.Reader
	w io.Writer
}

func connect(t *testing.T, f *Firmware) (*host, func()) {
	devR, hostW := io.Pipe()
	hostR, devW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, pipeUART{devR, devW}) }()
	h := &host{t: t, r: dyframe.NewReader(hostR), w: hostW}
	stop := func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
		devR.Close()
		hostR.Close()
	}
	return h, stop
}

func (h *host) next() (dyframe.Message, []byte) {
	h.t.Helper()
	fr, err := h.r.ReadFrame()
	if err != nil {
		h.t.Fatalf("reading from the firmware: %v", err)
	}
	m, err := dyframe.Decode(fr)
	if err != nil {
		h.t.Fatalf("decoding %v: %v", fr, err)
	}
	b, _ := fr.Bytes()
	return m, b
}

func (h *host) send(m dyframe.Message) {
	h.t.Helper()
	b, err := dyframe.Encode(m)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.w.Write(b); err != nil {
		h.t.Fatal(err)
	}
}

// TestFirmwareVectors: with the vector's counts and clock, the firmware
// sends exactly the vector's report frame (the same bytes the codec tests
// decode), repeats it until acknowledged, then stops.
func TestFirmwareVectors(t *testing.T) {
	for _, v := range loadVectors(t).Firmware {
		t.Run(v.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ph := &script{control: v.ControlChannel, first: v.First, last: v.Last, n: map[int]int{}}
				f := New(Config{
					Lead: time.Duration(v.LeadS) * time.Second, Interval: time.Duration(v.IntervalS) * time.Second,
					FirstRecord: v.Record, ControlChannel: v.ControlChannel, Item: v.Item, Channels: 8,
				}, ph, offsetClock{time.Until(v.Start)})
				h, stop := connect(t, f)
				defer stop()

				rec, err := f.Start(v.Channel, v.SampleCode, v.SampleName)
				if err != nil || rec != v.Record {
					t.Fatalf("Start = %d, %v", rec, err)
				}
				m, _ := h.next()
				st, ok := m.(dyframe.Started)
				if !ok || st.Record != v.Record || st.SampleCode != v.SampleCode || st.Duration != uint16(v.LeadS+v.IntervalS) {
					t.Fatalf("first frame %#v, want Started", m)
				}
				t0 := time.Now()
				_, b := h.next()
				if got := strings.ToUpper(hex.EncodeToString(b)); got != v.Frame.Hex {
					t.Fatalf("report frame\n %s\nwant\n %s", got, v.Frame.Hex)
				}
				if took := time.Since(t0); took != time.Duration(v.LeadS+v.IntervalS)*time.Second {
					t.Errorf("report after %v (virtual), want %ds", took, v.LeadS+v.IntervalS)
				}
				// Not acknowledged: repeated after Resend.
				_, again := h.next()
				if string(again) != string(b) {
					t.Fatal("repeat differs")
				}
				h.send(dyframe.Ack{Record: v.Record})
				synctest.Wait()
				if f.Pending() != 0 {
					t.Fatalf("%d pending after ack", f.Pending())
				}
				// Hello still answered, idle now.
				h.send(dyframe.Hello{})
				m, _ = h.next()
				if id, ok := m.(dyframe.Ident); !ok || id.Measuring || id.Model != "DY-3000E" || id.Channels != 8 {
					t.Fatalf("ident %#v", m)
				}
			})
		})
	}
}

func TestStartErrors(t *testing.T) {
	f := New(Config{Channels: 4}, NewSim(SimConfig{}), nil)
	for _, ch := range []int{0, -1, 5} {
		if _, err := f.Start(ch, "x", "y"); !errors.Is(err, ErrChannel) {
			t.Errorf("Start(%d) = %v, want ErrChannel", ch, err)
		}
	}
	if _, err := f.Start(1, "x", "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Start(2, "x", "y"); !errors.Is(err, ErrBusy) {
		t.Errorf("second Start = %v, want ErrBusy", err)
	}
	if !f.Measuring() {
		t.Error("not measuring")
	}
}

// TestSimSteering: each planned verdict comes out of the firmware's report
// as that verdict under the default rule, including the invalid control.
func TestSimSteering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim(SimConfig{Seed: 7})
		f := New(Config{Interval: 3 * time.Minute}, sim, nil)
		h, stop := connect(t, f)
		defer stop()
		rule := assay.DefaultEnzymeRule()
		want := []assay.Verdict{}
		for range 10 {
			for _, v := range []assay.Verdict{assay.Negative, assay.Suspicious, assay.Positive, assay.Invalid} {
				sim.NextVerdict(v)
				want = append(want, v)
			}
		}
		for i, v := range want {
			rec, err := f.Start(1+i%8, "S", "菜")
			if err != nil {
				t.Fatal(err)
			}
			var r dyframe.Report
			for {
				m, _ := h.next()
				if rr, ok := m.(dyframe.Report); ok {
					r = rr
					break
				}
			}
			h.send(dyframe.Ack{Record: rec})
			c, ok1 := r.ControlDeltaA()
			s, ok2 := r.SampleDeltaA()
			if !ok1 || !ok2 {
				t.Fatalf("test %d: reserved absorbance in %+v", i, r)
			}
			if got := rule.Decide(c, s).Verdict; got != v {
				t.Errorf("test %d: planned %s, got %s (ΔA0 %v, ΔAt %v)", i, v, got, c, s)
			}
			synctest.Wait()
		}
		if sim.Queued() != 0 {
			t.Errorf("%d plans left", sim.Queued())
		}
	})
}

// TestOverflowAndDeadLED: reserved values reach the report, and the tester's
// own rate is invalid.
func TestOverflowAndDeadLED(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim(SimConfig{})
		f := New(Config{Interval: time.Minute}, sim, nil)
		h, stop := connect(t, f)
		defer stop()
		p := PlanInhibition(300000, 0)
		p.Overflow = true
		sim.Next(p)
		next := func() dyframe.Report {
			for {
				if m, _ := h.next(); m.Command() == dyframe.CmdReport {
					r := m.(dyframe.Report)
					h.send(dyframe.Ack{Record: r.Record})
					return r
				}
			}
		}
		f.Start(1, "a", "b")
		r := next()
		if r.Sample.First != dyframe.AbsOverflow || r.Inhibition != dyframe.InhibitionInvalid {
			t.Fatalf("overflow report %+v", r)
		}
		sim.FailChannel(0, true)
		f.Start(1, "a", "b")
		r = next()
		if r.Control.First != dyframe.AbsInvalid || r.Control.Last != dyframe.AbsInvalid || r.Inhibition != dyframe.InhibitionInvalid {
			t.Fatalf("dead LED report %+v", r)
		}
	})
}

// TestReportsSurviveReconnect: a report finished while no host listens is
// sent when one connects, in order, each once acknowledged.
func TestReportsSurviveReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{Interval: time.Minute}, NewSim(SimConfig{}), nil)
		h, stop := connect(t, f)
		r1, _ := f.Start(1, "1", "")
		h.next() // started
		stop()   // cable pulled mid-test
		time.Sleep(2 * time.Minute)
		// The readings fall due while nobody serves; they are taken when
		// the next Serve runs.
		h, stop = connect(t, f)
		defer stop()
		var got []uint32
		for len(got) < 1 {
			m, _ := h.next()
			if r, ok := m.(dyframe.Report); ok {
				got = append(got, r.Record)
				h.send(dyframe.Ack{Record: r.Record})
			}
		}
		synctest.Wait()
		if got[0] != r1 || f.Pending() != 0 {
			t.Fatalf("got %v, pending %d", got, f.Pending())
		}
	})
}
