package command_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/measure"
	"github.com/shianfood/shian/protocols/wire"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shian-command test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "shian_session" {
			return c
		}
	}
	return nil
}

// TestTLSListener: with --tls-cert/--tls-key the service speaks HTTPS on
// a real TLS listener: the session cookie is Secure, responses carry
// HSTS, the live map works over wss://, and plain HTTP is refused.
func TestTLSListener(t *testing.T) {
	cert, key, pool := selfSigned(t, t.TempDir())
	e := startReal(t, command.Config{TLSCert: cert, TLSKey: key})
	if !strings.HasPrefix(e.base, "https://") {
		t.Fatalf("base %s", e.base)
	}
	tc := &tls.Config{RootCAs: pool}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	code, b, resp := call(t, c, "POST", e.base+"/api/v1/login", map[string]string{"user": "li", "password": "correct horse"})
	ck := sessionCookie(resp)
	if code != 200 || ck == nil || !ck.Secure || !ck.HttpOnly || resp.TLS == nil {
		t.Fatalf("login over TLS: %d %s cookie %+v", code, b, ck)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); h != "max-age=31536000" {
		t.Fatalf("HSTS: %q", h)
	}
	d := websocket.Dialer{TLSClientConfig: tc}
	ws, _, err := d.Dial("wss"+strings.TrimPrefix(e.base, "https")+"/ws/live", http.Header{"Cookie": {ck.Name + "=" + ck.Value}})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer ws.Close()
	snapshotOf(t, ws)
	// Plain HTTP to the TLS port is answered 400, never served.
	code, _, _ = call(t, http.DefaultClient, "GET", "http"+strings.TrimPrefix(e.base, "https")+"/api/v1/me", nil, bearer(e.tok["li"])...)
	if code != 400 {
		t.Fatalf("plain HTTP to the TLS port: %d, want 400", code)
	}
	// A certificate that does not load stops Open with what to do.
	if _, err := command.Open(command.Config{DataDir: t.TempDir(), Log: silent, TLSCert: cert, TLSKey: cert}); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("a bad key: %v", err)
	}
}

// TestBehindTrustedProxy: a request from a trusted proxy with
// X-Forwarded-Proto: https gets a Secure cookie and HSTS, and is throttled
// and audited under the X-Forwarded-For client; the same headers from
// anyone else are ignored.
func TestBehindTrustedProxy(t *testing.T) {
	e := startReal(t, command.Config{TrustedProxies: []string{"127.0.0.1"}})
	proxy, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	login := func(c *http.Client, user, pw, xff string) (int, *http.Response) {
		code, _, resp := call(t, c, "POST", e.base+"/api/v1/login", map[string]string{"user": user, "password": pw},
			"X-Forwarded-Proto", "https", "X-Forwarded-For", xff)
		return code, resp
	}
	code, resp := login(proxy, "li", "correct horse", "203.0.113.1, 198.51.100.7")
	if ck := sessionCookie(resp); code != 200 || ck == nil || !ck.Secure || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("through the proxy: %d cookie %+v hsts %q", code, ck, resp.Header.Get("Strict-Transport-Security"))
	}
	code, resp = login(other, "li", "correct horse", "198.51.100.8")
	if ck := sessionCookie(resp); code != 200 || ck == nil || ck.Secure || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("forged headers from an untrusted peer: %d cookie %+v hsts %q", code, ck, resp.Header.Get("Strict-Transport-Security"))
	}
	// Two clients behind the one proxy are throttled apart.
	for range 5 {
		login(proxy, "root", "guess", "198.51.100.66")
	}
	if code, _ := login(proxy, "root", "correct horse", "198.51.100.66"); code != 429 {
		t.Fatalf("the guesser behind the proxy: %d, want 429", code)
	}
	if code, _ := login(proxy, "root", "correct horse", "198.51.100.7"); code != 200 {
		t.Fatalf("the admin behind the same proxy: %d, want 200", code)
	}
	var es []store.AuditEntry
	_, b, _ := call(t, proxy, "GET", e.base+"/api/v1/audit?kind=login", nil, bearer(e.tok["root"])...)
	json.Unmarshal(b, &es)
	var addrs []string
	for _, x := range es {
		addrs = append(addrs, x.Actor+"@"+x.Addr)
	}
	if got := strings.Join(addrs, " "); got != "root@198.51.100.7 li@127.0.0.2 li@198.51.100.7" {
		t.Fatalf("logins audited as %q", got)
	}
}

// smallBuffers is a listener whose connections have a small send buffer,
// so that a large response is still being written long after it started.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestServerTimeouts: a request whose header or body stalls and an idle
// keep-alive connection are closed by the server; a live map outlives
// every timeout; an export read slowly for longer than the write timeout
// arrives whole.
func TestServerTimeouts(t *testing.T) {
	cfg := command.Config{DataDir: t.TempDir(), Log: silent, HTTP: command.HTTPConfig{
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond, StreamIdle: 10 * time.Second}}
	svc, err := command.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, smallBuffers{ln}, nil) }()
	defer func() { cancel(); <-done; svc.Close() }()
	base := "http://" + ln.Addr().String()
	svc.Auth().CreateUser("root", "", "admin", "correct horse")
	tok, _ := svc.Auth().NewAPIToken("root", "test")

	// closedByServer sends the start of a request and reports whether the
	// server ended the connection within 15 s (the client's own limit).
	closedByServer := func(what, send string) {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, send)
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err = io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the server held the connection open", what)
		}
	}
	closedByServer("a header that stalls", "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	closedByServer("a body that stalls", "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user\":")
	closedByServer("an idle keep-alive connection", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

	// The live map outlives every timeout.
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/live", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	snapshotOf(t, ws)
	time.Sleep(1500 * time.Millisecond) // three times the longest timeout
	svc.Hub().Publish(wire.KindAlert, store.Alarm{Code: "probe", Message: "after the timeouts"})
	if _, ok := readMsg(t, ws).(*wire.Delta); !ok {
		t.Fatal("no delta after the timeouts")
	}

	// An export that takes longer than the write timeout to read.
	rs := make([]wire.Result, 0, 600)
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	for i := range cap(rs) {
		r := enzymeResult(fmt.Sprintf("S-%03d", i%100), measure.Absorbance(300_000), measure.Absorbance(250_000))
		r.ResultID, r.KioskID, r.Seq, r.EventID, r.MeasuredAt = uuid.Must(uuid.NewV7()).String(), "K-01", uint64(i+1), "EV-1", t0.Add(time.Duration(i)*time.Second)
		r.Sample = wire.Sample{Name: "菠菜 spinach from the long supplier list", Batch: "B-20261128-0001", Supplier: "南通农副产品物流中心"}
		rs = append(rs, r)
	}
	if _, err := svc.History().Commit(rs); err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Control: nil}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4 << 10)
		}
		return c, err
	}}
	req, _ := http.NewRequest("GET", base+"/api/v1/export/results.csv", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	var n int64
	buf := make([]byte, 4<<10)
	for {
		k, err := br.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the export was cut after %d of %d bytes (%v): %v", n, resp.ContentLength, time.Since(start), err)
		}
	}
	if resp.StatusCode != 200 || n != resp.ContentLength || n < 100<<10 {
		t.Fatalf("export: %d, %d of %d bytes", resp.StatusCode, n, resp.ContentLength)
	}
	t.Logf("read %d bytes in %v (write timeout 500ms)", n, time.Since(start).Round(time.Millisecond))
}
