package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/kiosk/metrics"
	"github.com/shianfood/shian/simulator/instrument"
	"github.com/shianfood/shian/simulator/serialsim"
)

// TestKioskMetrics runs a kiosk reading an emulated strip reader over a
// pseudo-terminal, with no command to talk to, and reads its /metrics and
// /readyz: the device's state and reads, the outbox, the uplink down.
func TestKioskMetrics(t *testing.T) {
	dir := t.TempDir()
	in, err := instrument.New("strip-reader", instrument.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "ttystrip")
	p, err := serialsim.Open(serialsim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Serve(ctx, in.Device)
	cfg, err := kiosk.ParseConfig("kiosk.yaml", []byte(fmt.Sprintf(`kiosk_id: K-MET-01
data: %s
command:
  url: ws://127.0.0.1:1/ws/kiosk
  token: kt_x
ui:
  listen: "off"
devices:
  - id: strip-1
    protocol: strip-reader
    port: %s
`, filepath.Join(dir, "data"), link)))
	if err != nil {
		t.Fatal(err)
	}
	var mon *metrics.Monitor
	k, err := kiosk.Open(cfg, kiosk.Options{Serial: drivers.Serial(), Log: slog.New(slog.DiscardHandler),
		Monitor: func(k *kiosk.Kiosk) http.Handler { mon = metrics.New(k); return mon }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; k.Close() }()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mon.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body = get("/metrics")
		if strings.Contains(body, `shian_kiosk_device_state{device="strip-1",model="SHIAN-SR1",protocol="strip-reader",state="ready"} 1`) {
			break
		}
	}
	for _, want := range []string{
		`shian_kiosk_device_state{device="strip-1",model="SHIAN-SR1",protocol="strip-reader",state="ready"} 1`,
		`shian_kiosk_device_reads_total{device="strip-1"`, `shian_kiosk_device_crc_errors_total{device="strip-1"`,
		`shian_kiosk_device_timeouts_total{device="strip-1"`, `shian_kiosk_device_reopens_total{device="strip-1"`,
		"shian_kiosk_outbox_pending 0", "shian_kiosk_outbox_oldest_pending_age_seconds 0", "shian_kiosk_storage_ok 1",
		"shian_kiosk_uplink_up 0", "shian_kiosk_data_free_bytes ", `shian_kiosk_build_info{kiosk="K-MET-01"`, "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in /metrics:\n%s", want, body)
		}
	}
	if code, b := get("/readyz"); code != 200 || !strings.Contains(b, "ready") {
		t.Errorf("readyz %d %s", code, b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
}
