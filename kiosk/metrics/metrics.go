// Package metrics is the kiosk's monitoring endpoint: Prometheus metrics
// (github.com/prometheus/client_golang) read from the running kiosk at
// every scrape, and the health checks a service manager or a load
// balancer asks.
//
//	GET /metrics   Prometheus text format
//	GET /healthz   200 while the process serves (liveness)
//	GET /readyz    200 when the outbox stores results; 503 and the reason otherwise
//
// The handler is served on the operator screen's address (loopback) and,
// when kiosk.yaml sets metrics.listen, on that address too, for a
// Prometheus on the event network. Each kiosk has its own registry, so a
// process running several (the demo) exposes each on its own port.
//
// # Families
//
//	shian_kiosk_build_info{version,kiosk}                       1
//	shian_kiosk_outbox_pending                                  results saved, not yet acknowledged by the command
//	shian_kiosk_outbox_oldest_pending_age_seconds               age of the oldest of them (0 when none)
//	shian_kiosk_outbox_rejected                                 results the command refused (kept, never resent)
//	shian_kiosk_outbox_last_seq                                 the newest result's sequence number
//	shian_kiosk_outbox_damaged_records                          records skipped at open as unreadable
//	shian_kiosk_outbox_file_bytes                               size of outbox.db
//	shian_kiosk_storage_ok                                      1 while saves succeed, 0 after a storage error
//	shian_kiosk_data_free_bytes                                 free space of the data directory's filesystem
//	shian_kiosk_uplink_up                                       1 while the link to the command is up
//	shian_kiosk_uplink_failed_attempts                          connection attempts failed since the last success
//	shian_kiosk_uplink_last_sync_timestamp_seconds              when the command last acknowledged
//	shian_kiosk_device_state{device,protocol,model,state}       1 for the device's current state
//	shian_kiosk_device_reads_total{device,protocol,model}       valid frames decoded
//	shian_kiosk_device_crc_errors_total{device,protocol,model}  frames refused (checksum, CRC, length)
//	shian_kiosk_device_timeouts_total{device,protocol,model}    requests and probes not answered in time
//	shian_kiosk_device_reopens_total{device,protocol,model}     port reopened after a failure
//	shian_kiosk_device_last_seen_timestamp_seconds{…}           the device's last valid frame
//
// plus the Go runtime and process collectors.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shianfood/shian/internal/version"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	"golang.org/x/sys/unix"
)

// Monitor serves a kiosk's metrics and health checks.
type Monitor struct {
	k   *kiosk.Kiosk
	reg *prometheus.Registry
	mux *http.ServeMux
	now func() time.Time

	srv *http.Server
	ln  net.Listener
}

// New builds the monitor of k. Pass it to kiosk.Options.Monitor:
//
//	kiosk.Options{Monitor: func(k *kiosk.Kiosk) http.Handler { return metrics.New(k) }}
func New(k *kiosk.Kiosk) *Monitor {
	m := &Monitor{k: k, reg: prometheus.NewRegistry(), now: time.Now}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{m: m})
	m.mux = http.NewServeMux()
	m.mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	m.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.mux.HandleFunc("GET /readyz", m.readyz)
	return m
}

// Registry returns the monitor's registry (tests gather from it).
func (m *Monitor) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP implements http.Handler.
func (m *Monitor) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Serve serves the endpoints on addr as well (metrics.listen) until
// Close. An empty addr serves nothing.
func (m *Monitor) Serve(addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("kiosk: metrics.listen %s: %w (choose another port, or leave metrics.listen out)", addr, err)
	}
	m.ln = ln
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go m.srv.Serve(ln)
	return nil
}

// Addr is the address Serve listens on, or "".
func (m *Monitor) Addr() string {
	if m == nil || m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Close stops what Serve started.
func (m *Monitor) Close() error {
	if m == nil || m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return m.srv.Shutdown(ctx)
}

// Ready reports whether the kiosk can take results: its outbox stores
// them. The link to the command is not part of it: a kiosk works offline.
func (m *Monitor) Ready() error {
	st := m.k.Outbox().Stats()
	if st.StorageErr != "" {
		return errors.New("outbox: " + st.StorageErr)
	}
	return nil
}

func (m *Monitor) readyz(w http.ResponseWriter, r *http.Request) {
	if err := m.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

var (
	devLabels = []string{"device", "protocol", "model"}

	dBuild      = prometheus.NewDesc("shian_kiosk_build_info", "The kiosk's build: 1, labelled with the version and the kiosk id.", []string{"version", "kiosk"}, nil)
	dPending    = prometheus.NewDesc("shian_kiosk_outbox_pending", "Results saved and not yet acknowledged by the command.", nil, nil)
	dOldest     = prometheus.NewDesc("shian_kiosk_outbox_oldest_pending_age_seconds", "Age of the oldest result not yet acknowledged (0 when none).", nil, nil)
	dRejected   = prometheus.NewDesc("shian_kiosk_outbox_rejected", "Results the command refused (kept for the operator, never resent).", nil, nil)
	dLastSeq    = prometheus.NewDesc("shian_kiosk_outbox_last_seq", "Sequence number of the newest saved result.", nil, nil)
	dDamaged    = prometheus.NewDesc("shian_kiosk_outbox_damaged_records", "Outbox records skipped at open as unreadable.", nil, nil)
	dFileBytes  = prometheus.NewDesc("shian_kiosk_outbox_file_bytes", "Size of the outbox file.", nil, nil)
	dStorageOK  = prometheus.NewDesc("shian_kiosk_storage_ok", "1 while results are saved, 0 after a storage error (the screen refuses tests).", nil, nil)
	dFree       = prometheus.NewDesc("shian_kiosk_data_free_bytes", "Free space on the data directory's filesystem.", nil, nil)
	dUp         = prometheus.NewDesc("shian_kiosk_uplink_up", "1 while the link to the command is up.", nil, nil)
	dAttempts   = prometheus.NewDesc("shian_kiosk_uplink_failed_attempts", "Connection attempts that failed since the last success.", nil, nil)
	dLastSync   = prometheus.NewDesc("shian_kiosk_uplink_last_sync_timestamp_seconds", "When the command last acknowledged results (Unix time).", nil, nil)
	dDevState   = prometheus.NewDesc("shian_kiosk_device_state", "1 for the device's current state (unknown, ready, measuring, down).", append(devLabels, "state"), nil)
	dReads      = prometheus.NewDesc("shian_kiosk_device_reads_total", "Valid frames decoded from the device.", devLabels, nil)
	dCRC        = prometheus.NewDesc("shian_kiosk_device_crc_errors_total", "Frames refused: checksum, CRC, length or field checks.", devLabels, nil)
	dTimeouts   = prometheus.NewDesc("shian_kiosk_device_timeouts_total", "Requests and probes the device did not answer in time.", devLabels, nil)
	dReopens    = prometheus.NewDesc("shian_kiosk_device_reopens_total", "Times the device's port was reopened after a failure.", devLabels, nil)
	dLastSeen   = prometheus.NewDesc("shian_kiosk_device_last_seen_timestamp_seconds", "When the device last sent a valid frame (Unix time).", devLabels, nil)
	deviceState = []device.State{device.StateUnknown, device.StateReady, device.StateMeasuring, device.StateDown}
)

// collector reads the kiosk at every scrape.
type collector struct{ m *Monitor }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dBuild, dPending, dOldest, dRejected, dLastSeq, dDamaged, dFileBytes, dStorageOK, dFree,
		dUp, dAttempts, dLastSync, dDevState, dReads, dCRC, dTimeouts, dReopens, dLastSeen} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	k := c.m.k
	cfg := k.Config()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ctr := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g(dBuild, 1, version.String(), cfg.KioskID)
	st := k.Outbox().Stats()
	g(dPending, float64(st.Pending))
	age := 0.0
	if st.OldestPending != nil {
		age = max(0, c.m.now().Sub(*st.OldestPending).Seconds())
	}
	g(dOldest, age)
	g(dRejected, float64(st.Rejected))
	g(dLastSeq, float64(st.LastSeq))
	g(dDamaged, float64(st.Damaged))
	if fi, err := os.Stat(k.Outbox().Path()); err == nil {
		g(dFileBytes, float64(fi.Size()))
	}
	g(dStorageOK, b2f(st.StorageErr == ""))
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Clean(cfg.Data), &fs); err == nil {
		g(dFree, float64(fs.Bavail)*float64(fs.Bsize))
	}
	link := k.Link()
	g(dUp, b2f(link.Online))
	g(dAttempts, float64(link.Attempts))
	if link.LastSync != nil {
		g(dLastSync, float64(link.LastSync.UnixMilli())/1000)
	}
	protocols := map[string]string{}
	for _, d := range cfg.Devices {
		protocols[d.ID] = d.Protocol
	}
	for _, is := range k.Instruments() {
		labels := []string{is.ID, protocols[is.ID], is.Model}
		for _, s := range deviceState {
			g(dDevState, b2f(is.State == s), append(labels, s.String())...)
		}
		ctr(dReads, is.Frames, labels...)
		ctr(dCRC, is.BadFrames, labels...)
		ctr(dTimeouts, is.Timeouts, labels...)
		ctr(dReopens, is.Reopens, labels...)
		if !is.LastSeen.IsZero() {
			g(dLastSeen, float64(is.LastSeen.UnixMilli())/1000, labels...)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
