package command_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// kioskCert makes a self-signed certificate for 127.0.0.1 and returns it
// for a server and as PEM for a kiosk's ca_file.
func kioskCert(t *testing.T, cn string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// syncBuffer is a log sink safe for the kiosk's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestKioskTrustsItsCAFile (issue 11, finding 3): the command serves TLS
// with a certificate made in the test; a kiosk with that certificate as
// command.ca_file delivers a result over wss://; without a ca_file (the
// system's roots) or with another CA the link never comes up and nothing
// is delivered. ca_file with ws://, or a file without a certificate, is a
// configuration error naming the line.
func TestKioskTrustsItsCAFile(t *testing.T) {
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	go svc.Run(t.Context())
	cert, caPEM := kioskCert(t, "shian-command test")
	_, otherPEM := kioskCert(t, "someone else")
	srv := httptest.NewUnstartedServer(svc.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	tok, err := svc.Store().RegisterKiosk(store.Kiosk{ID: "K-TLS"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, other, junk := write("ca.pem", caPEM), write("other.pem", otherPEM), write("junk.pem", []byte("not a certificate\n"))
	wss := "wss" + strings.TrimPrefix(srv.URL, "https") + "/ws/kiosk"
	conf := func(url, caFile string) (*kiosk.Config, error) {
		extra := ""
		if caFile != "" {
			extra = "\n  ca_file: " + caFile
		}
		return kiosk.ParseConfig("kiosk.yaml", fmt.Appendf(nil, "kiosk_id: K-TLS\ndata: %s\ncommand:\n  url: %s\n  token: %s%s\nsite: {stall_id: S-001}\nui: {listen: \"off\"}\n",
			filepath.Join(t.TempDir(), "data"), url, tok, extra))
	}
	deliver := func(caFile string) (delivered bool, lastErr string) {
		t.Helper()
		cfg, err := conf(wss, caFile)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kiosk.Open(cfg, kiosk.Options{Log: quiet, UplinkBackoffMin: 10 * time.Millisecond, UplinkBackoffMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stop := runKiosk(k)
		defer stop()
		k.SetSession(ui.Session{StallID: "S-001", Sample: wire.Sample{Name: "菠菜"}})
		mAU := measure.MilliAU
		s := k.Record(device.Reading{DeviceID: "manual", Model: "DY-3000E", Method: assay.EnzymeInhibition, Item: "有机磷和氨基甲酸酯类农药",
			Raw: assay.Raw{ControlDeltaA: assay.Ptr(300 * mAU), SampleDeltaA: assay.Ptr(290 * mAU)}})
		if s.Err != "" {
			t.Fatal(s.Err)
		}
		// Until it is stored, or a connection attempt has failed.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := svc.History().Result(s.Result.ResultID); err == nil {
				return true, ""
			}
			if why := k.Link().LastError; why != "" {
				_, err := svc.History().Result(s.Result.ResultID)
				return err == nil, why
			}
		}
		return false, k.Link().LastError
	}
	if ok, why := deliver(ca); !ok {
		t.Fatalf("with ca_file the result was not delivered over wss://: %s", why)
	}
	for _, c := range []struct{ name, file string }{{"the system's roots", ""}, {"another CA", other}} {
		ok, why := deliver(c.file)
		if ok {
			t.Errorf("with %s a self-signed command was trusted", c.name)
		}
		if !strings.Contains(why, "certificate") {
			t.Errorf("with %s the link's error does not name the certificate: %q", c.name, why)
		}
	}
	if n := svc.History().Count(); n != 1 {
		t.Errorf("%d results stored, want 1", n)
	}
	// Configuration errors.
	for _, c := range []struct{ url, file, want string }{
		{"ws://127.0.0.1:1/ws/kiosk", ca, "not wss://"},
		{wss, junk, "no PEM certificate"},
		{wss, filepath.Join(dir, "missing.pem"), "ca_file"},
	} {
		_, err := conf(c.url, c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "kiosk.yaml:3") {
			t.Errorf("url %s, ca_file %s: %v (want %q on line 3)", c.url, c.file, err, c.want)
		}
	}
}

// TestKioskWarnsOfAPlainLink (issue 11, finding 3): at start, a kiosk whose
// command.url is ws:// to another machine logs a loud error saying that
// the token and the results cross the network unencrypted; ws:// to
// loopback and wss:// do not.
func TestKioskWarnsOfAPlainLink(t *testing.T) {
	for _, c := range []struct {
		url  string
		warn bool
	}{
		{"ws://10.20.0.5:8080/ws/kiosk", true},
		{"ws://command.example/ws/kiosk", true},
		{"ws://127.0.0.1:8080/ws/kiosk", false},
		{"ws://localhost:8080/ws/kiosk", false},
		{"ws://[::1]:8080/ws/kiosk", false},
		{"wss://command.example/ws/kiosk", false},
	} {
		cfg, err := kiosk.ParseConfig("kiosk.yaml", fmt.Appendf(nil, "kiosk_id: K-W\ndata: %s\ncommand:\n  url: %s\n  token: kt_x\nui: {listen: \"off\"}\n",
			filepath.Join(t.TempDir(), "data"), c.url))
		if err != nil {
			t.Fatal(err)
		}
		var logs syncBuffer
		k, err := kiosk.Open(cfg, kiosk.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		k.Close()
		out := logs.String()
		warned := strings.Contains(out, "level=ERROR") && strings.Contains(out, "INSECURE LINK") && strings.Contains(out, "unencrypted")
		if warned != c.warn {
			t.Errorf("%s: warned %v, want %v; log:\n%s", c.url, warned, c.warn, out)
		}
	}
}
