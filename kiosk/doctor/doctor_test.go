package doctor_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk/doctor"
	"github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

// world is a command service on loopback with one registered kiosk, and
// emulated instruments on pseudo-terminals: an enzyme tester on one port
// and two Modbus card readers on another (one RS-485 bus).
type world struct {
	dir    string
	url    string
	tlsURL string // the same service behind a certificate no system trusts
	// tlsClient trusts it (as a kiosk with the CA installed would)
	tlsClient *http.Client
	token     string
	enzyme    string
	bus       string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir()}
	log := slog.New(slog.DiscardHandler)
	svc, err := command.Open(command.Config{DataDir: filepath.Join(w.dir, "command"), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-DOC-01", Name: "doctor test"})
	if err != nil {
		t.Fatal(err)
	}
	w.token = tok
	srv := httptest.NewServer(svc.Handler())
	w.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/kiosk"
	tsrv := httptest.NewTLSServer(svc.Handler())
	w.tlsURL = "wss" + strings.TrimPrefix(tsrv.URL, "https") + "/ws/kiosk"
	w.tlsClient = tsrv.Client()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		tsrv.Close()
		srv.Close()
		svc.Close()
	})
	serve := func(model string, addrs []byte) string {
		in, err := instrument.New(model, instrument.Options{Seed: 1, Addrs: addrs})
		if err != nil {
			t.Fatal(err)
		}
		p, err := serialsim.Open(serialsim.Options{Link: filepath.Join(w.dir, "tty"+model)})
		if err != nil {
			t.Fatal(err)
		}
		go p.Serve(ctx, in.Device)
		t.Cleanup(func() { p.Close() })
		return filepath.Join(w.dir, "tty"+model)
	}
	w.enzyme = serve("dy3000", nil)
	w.bus = serve("card-reader", []byte{1, 2})
	return w
}

const cfgTemplate = `kiosk_id: K-DOC-01
data: %[1]s/kiosk
command:
  url: %[2]s
  token: %[3]s
ui:
  listen: 127.0.0.1:0
devices:
  - id: enzyme-1
    protocol: dy-enzyme
    model: DY-3000E
    port: %[4]s
    baud: 9600
  - id: gold-1
    protocol: modbus-gold
    port: %[5]s
    baud: 9600
    addr: 1
    options: {mode: ratio, poll_every: 300ms}
  - id: gold-2
    protocol: modbus-gold
    port: %[5]s
    baud: 9600
    addr: 2
`

func (w *world) config(t *testing.T, edit func(string) string) string {
	t.Helper()
	text := fmt.Sprintf(cfgTemplate, w.dir, w.url, w.token, w.enzyme, w.bus)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(w.dir, "kiosk.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func doctorRun(t *testing.T, path string) (doctor.Report, string) {
	t.Helper()
	rep := doctor.Run(context.Background(), doctor.Options{Config: path, Serial: drivers.Serial(), I2C: drivers.I2C(),
		ProbeTimeout: 8 * time.Second, Ports: func() []doctor.Port { return nil }, Buses: func() []string { return nil }})
	var b strings.Builder
	for _, c := range rep.Checks {
		b.WriteString(c.String() + "\n")
	}
	b.WriteString(rep.Summary())
	t.Logf("doctor:\n%s", b.String())
	return rep, b.String()
}

func find(rep doctor.Report, en string) []doctor.Check {
	var out []doctor.Check
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.What.EN, en) {
			out = append(out, c)
		}
	}
	return out
}

// TestDoctorPasses: a kiosk whose devices answer, whose data directory is
// fine and whose command takes its token passes every needed check, and
// each device was probed through its own driver.
func TestDoctorPasses(t *testing.T) {
	w := newWorld(t)
	rep, out := doctorRun(t, w.config(t, nil))
	if rep.Failed() {
		t.Fatalf("doctor failed on a good kiosk:\n%s", out)
	}
	for _, want := range []string{"config", "device enzyme-1", "device gold-1", "device gold-2", "data directory", "data directory lock",
		"free space", "outbox", "operator screen", "command reachable", "certificate", "kiosk token", "clock"} {
		if len(find(rep, want)) == 0 {
			t.Errorf("no %q check:\n%s", want, out)
		}
	}
	for _, id := range []string{"enzyme-1", "gold-1", "gold-2"} {
		if c := find(rep, "device "+id); len(c) != 1 || c[0].Status != doctor.Pass || !strings.Contains(c[0].Found, "answered") {
			t.Errorf("device %s: %+v", id, c)
		}
	}
	if c := find(rep, "kiosk token"); c[0].Status != doctor.Pass || !strings.Contains(c[0].Found, "K-DOC-01") {
		t.Errorf("token: %+v", c[0])
	}
	if c := find(rep, "certificate"); c[0].Status != doctor.Warn || !strings.Contains(c[0].Found, "not encrypted") {
		t.Errorf("ws:// is a warning, not a failure: %+v", c[0])
	}
	// Every line is bilingual.
	for _, c := range rep.Checks {
		s := c.String()
		if c.Status == doctor.Fail || c.Status == doctor.Warn {
			if !strings.Contains(s, "处理：") || !strings.Contains(s, "fix: ") {
				t.Errorf("no zh/en fix: %s", s)
			}
		}
	}
}

// TestDoctorFails: a missing port, a bad option, an unreachable command and
// a wrong token each fail, naming the file, the line and the fix.
func TestDoctorFails(t *testing.T) {
	w := newWorld(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there now
	cases := []struct {
		name string
		edit func(string) string
		what string // the failing check
		line int
		says []string
	}{
		{"missing port", func(s string) string { return strings.Replace(s, w.enzyme, "/dev/ttyUSB97", 1) },
			"device enzyme-1", 12, []string{"/dev/ttyUSB97 does not exist", "ls -l /dev/serial/by-id/"}},
		{"bad option", func(s string) string { return strings.Replace(s, "mode: ratio", "mode: rati0", 1) },
			"config", 19, []string{`options.mode "rati0"`, "correct line 19"}},
		{"unknown option", func(s string) string { return strings.Replace(s, "poll_every: 300ms", "pol_every: 300ms", 1) },
			"config", 19, []string{`unknown option "pol_every"`}},
		{"modbus address", func(s string) string { return strings.Replace(s, "addr: 2", "addr: 300", 1) },
			"config", 24, []string{"addr 300", "1…247"}},
		{"negative baud", func(s string) string { return strings.Replace(s, "baud: 9600", "baud: -9600", 1) },
			"config", 13, []string{"baud -9600"}},
		{"port twice", func(s string) string {
			return strings.Replace(s, w.bus+"\n    baud: 9600\n    addr: 1", w.enzyme+"\n    baud: 9600\n    addr: 1", 1)
		},
			"config", 12, []string{"also given to device", "own port"}},
		{"unreachable command", func(s string) string { return strings.Replace(s, w.url, "ws://"+deadAddr+"/ws/kiosk", 1) },
			"command reachable", 4, []string{deadAddr, "firewall"}},
		{"wrong token", func(s string) string { return strings.Replace(s, w.token, "kt_wrong", 1) },
			"kiosk token", 5, []string{"refused the token", "POST /api/v1/kiosks"}},
		{"untrusted certificate", func(s string) string { return strings.Replace(s, w.url, w.tlsURL, 1) },
			"certificate", 4, []string{"certificate", "ca_file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := w.config(t, c.edit)
			rep, out := doctorRun(t, path)
			if !rep.Failed() {
				t.Fatalf("doctor passed:\n%s", out)
			}
			var hit *doctor.Check
			for _, ch := range find(rep, c.what) {
				if ch.Status == doctor.Fail {
					hit = &ch
					break
				}
			}
			if hit == nil {
				t.Fatalf("no failing %q check:\n%s", c.what, out)
			}
			line := hit.String()
			if want := fmt.Sprintf("%s:%d:", path, c.line); !strings.Contains(line, want) {
				t.Errorf("the failure does not name %s: %s", want, line)
			}
			for _, s := range c.says {
				if !strings.Contains(line, s) {
					t.Errorf("the failure does not say %q: %s", s, line)
				}
			}
			if !strings.Contains(line, "处理：") || !strings.Contains(line, "fix: ") {
				t.Errorf("no fix in zh and en: %s", line)
			}
		})
	}
}

// TestDoctorTrustedCertificate: over wss:// with a certificate the kiosk
// trusts, the certificate passes with its expiry, and so do the token and
// the clock.
func TestDoctorTrustedCertificate(t *testing.T) {
	w := newWorld(t)
	path := w.config(t, func(s string) string { return strings.Replace(s, w.url, w.tlsURL, 1) })
	rep := doctor.Run(context.Background(), doctor.Options{Config: path, Serial: drivers.Serial(), I2C: drivers.I2C(), Client: w.tlsClient,
		ProbeTimeout: 8 * time.Second, Ports: func() []doctor.Port { return nil }, Buses: func() []string { return nil }})
	for _, c := range rep.Checks {
		t.Log(c)
	}
	if c := find(rep, "certificate"); len(c) != 1 || c[0].Status != doctor.Pass || !strings.Contains(c[0].Found, "valid until") {
		t.Fatalf("certificate: %+v", c)
	}
	if rep.Failed() {
		t.Fatal("doctor failed over wss:// with a trusted certificate")
	}
}

// TestDoctorProbesProfiles: a device named by its profile is built
// through the same registry and probed through the profile driver, on
// the bus it shares with a hand-written driver's unit; a profile that
// does not exist fails the config check with its line.
func TestDoctorProbesProfiles(t *testing.T) {
	w := newWorld(t)
	byProfile := func(s string) string {
		return strings.Replace(s, "  - id: gold-2\n    protocol: modbus-gold\n", "  - id: gold-2\n    profile: SHIAN-GC1\n", 1)
	}
	rep, out := doctorRun(t, w.config(t, byProfile))
	if rep.Failed() {
		t.Fatalf("doctor failed:\n%s", out)
	}
	if c := find(rep, "device gold-2"); len(c) != 1 || c[0].Status != doctor.Pass || !strings.Contains(c[0].Found, "profile SHIAN-GC1") || !strings.Contains(c[0].Found, "answered") {
		t.Errorf("the profile's device: %+v", c)
	}
	rep, out = doctorRun(t, w.config(t, func(s string) string {
		return strings.Replace(byProfile(s), "profile: SHIAN-GC1", "profile: ACME-X9", 1)
	}))
	if !rep.Failed() || !strings.Contains(out, `kiosk.yaml:20: device "gold-2": profile: no such profile "ACME-X9"`) {
		t.Errorf("an unknown profile:\n%s", out)
	}
}

// TestDoctorChecksEveryCommandURL: with command.urls each command
// instance is checked on its own, named by its place in the list: the one
// that does not answer fails with the fix, the one that does passes with
// its token and clock checked.
func TestDoctorChecksEveryCommandURL(t *testing.T) {
	w := newWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + ln.Addr().String() + "/ws/kiosk"
	ln.Close() // nothing listens there now
	rep, out := doctorRun(t, w.config(t, func(s string) string {
		return strings.Replace(s, "  url: "+w.url+"\n", "  urls: ["+dead+", "+w.url+"]\n", 1)
	}))
	reach := find(rep, "command reachable")
	if len(reach) != 2 {
		t.Fatalf("%d reachability checks, want one per URL:\n%s", len(reach), out)
	}
	if reach[0].Status != doctor.Fail || !strings.Contains(reach[0].Found, "command.urls[0] "+dead) || !strings.Contains(reach[0].Fix.EN, "firewall") {
		t.Errorf("the dead instance: %+v", reach[0])
	}
	if reach[1].Status != doctor.Pass || !strings.Contains(reach[1].Found, "command.urls[1] "+w.url) {
		t.Errorf("the live instance: %+v", reach[1])
	}
	if c := find(rep, "kiosk token"); len(c) != 2 || c[0].Status != doctor.Skip || c[1].Status != doctor.Pass {
		t.Errorf("token checks %+v, want skipped for the dead one and passed for the live one", c)
	}
}
