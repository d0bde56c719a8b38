// Package metrics is the command service's Prometheus endpoint
// (github.com/prometheus/client_golang), GET /metrics on the service's
// address. Counters are kept as the service works (every group commit of
// kiosk results is observed); gauges are read from the service at every
// scrape. Each service has its own registry.
//
// # Families
//
//	shian_command_build_info{version}                 1
//	shian_command_kiosks_connected                    kiosks with a link up now
//	shian_command_kiosks_seen                         kiosks that connected since the service started
//	shian_command_kiosk_pending{kiosk}                results a kiosk reported waiting in its outbox
//	shian_command_results_ingested_total              results stored (new)
//	shian_command_results_duplicate_total             resends of a stored result (deduplicated, acknowledged again)
//	shian_command_results_conflict_total              a stored result_id with other content (refused, alarmed)
//	shian_command_results_acked_total                 results acknowledged to kiosks (stored or duplicate)
//	shian_command_commit_failures_total               group commits that failed (nothing acknowledged)
//	shian_command_commit_duration_seconds             histogram of group commit time (one fsync per group)
//	shian_command_commit_batch_results                histogram of results per group commit
//	shian_command_browser_clients                     live-map browsers connected
//	shian_command_browser_dropped_total               browsers dropped for being too slow
//	shian_command_incidents{state}                    open incidents by state (closed ones are not counted)
//	shian_command_results_stored                      results in the store
//	shian_command_store_bytes                         size of the store's file(s)
//
// plus the Go runtime and process collectors.
package metrics

import (
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/internal/version"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// Sources are what the gauges read at every scrape; nil ones are left out.
type Sources struct {
	Kiosks    func() []wire.KioskState
	Browsers  func() (clients int, dropped uint64)
	Incidents func() map[assurance.IncidentState]int
	Results   func() int
	// Files are the store's files, summed into store_bytes.
	Files func() []string
}

// Metrics is the command's registry and its counters.
type Metrics struct {
	src     Sources
	reg     *prometheus.Registry
	handler http.Handler

	ingested, duplicate, conflict, acked, failures prometheus.Counter
	commit, batch                                  prometheus.Histogram
}

// New builds the registry.
func New(src Sources) *Metrics {
	m := &Metrics{src: src, reg: prometheus.NewRegistry()}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m.ingested = counter("shian_command_results_ingested_total", "Kiosk results stored (new).")
	m.duplicate = counter("shian_command_results_duplicate_total", "Resends of a stored result: deduplicated on result_id and acknowledged again.")
	m.conflict = counter("shian_command_results_conflict_total", "Results whose result_id is stored with other content: refused and alarmed.")
	m.acked = counter("shian_command_results_acked_total", "Results acknowledged to kiosks (stored or duplicate).")
	m.failures = counter("shian_command_commit_failures_total", "Group commits that failed: nothing acknowledged, the kiosks resend.")
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shian_command_commit_duration_seconds",
		Help:    "Time of one group commit of kiosk results (one fsync), from the committer's call to the store's return.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shian_command_commit_batch_results",
		Help: "Results in one group commit.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.ingested, m.duplicate, m.conflict, m.acked, m.failures, m.commit, m.batch, &gauges{m: m})
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Registry returns the registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP serves the metrics in the Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// ObserveCommit counts one group commit: its time, and each result's
// outcome when it succeeded.
func (m *Metrics) ObserveCommit(took time.Duration, out []history.Committed, err error) {
	m.commit.Observe(took.Seconds())
	if err != nil {
		m.failures.Inc()
		return
	}
	m.batch.Observe(float64(len(out)))
	for _, c := range out {
		switch c.Outcome {
		case history.Stored:
			m.ingested.Inc()
			m.acked.Inc()
		case history.Duplicate:
			m.duplicate.Inc()
			m.acked.Inc()
		case history.Conflict:
			m.conflict.Inc()
		}
	}
}

var (
	dBuild     = prometheus.NewDesc("shian_command_build_info", "The command's build: 1, labelled with the version.", []string{"version"}, nil)
	dConnected = prometheus.NewDesc("shian_command_kiosks_connected", "Kiosks with a link up now.", nil, nil)
	dSeen      = prometheus.NewDesc("shian_command_kiosks_seen", "Kiosks that connected since the service started.", nil, nil)
	dPending   = prometheus.NewDesc("shian_command_kiosk_pending", "Results a kiosk reported waiting in its outbox (last status).", []string{"kiosk"}, nil)
	dBrowsers  = prometheus.NewDesc("shian_command_browser_clients", "Live-map browsers connected.", nil, nil)
	dDropped   = prometheus.NewDesc("shian_command_browser_dropped_total", "Browsers dropped for being too slow (they resubscribe).", nil, nil)
	dIncidents = prometheus.NewDesc("shian_command_incidents", "Open incidents (not closed) by state.", []string{"state"}, nil)
	dResults   = prometheus.NewDesc("shian_command_results_stored", "Results in the store.", nil, nil)
	dBytes     = prometheus.NewDesc("shian_command_store_bytes", "Size of the store's files.", nil, nil)
)

type gauges struct{ m *Metrics }

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dBuild, dConnected, dSeen, dPending, dBrowsers, dDropped, dIncidents, dResults, dBytes} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	src := g.m.src
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(dBuild, 1, version.String())
	if src.Kiosks != nil {
		ks := src.Kiosks()
		on := 0
		for _, k := range ks {
			if k.Online {
				on++
			}
			gauge(dPending, float64(k.Pending), k.KioskID)
		}
		gauge(dConnected, float64(on))
		gauge(dSeen, float64(len(ks)))
	}
	if src.Browsers != nil {
		n, dropped := src.Browsers()
		gauge(dBrowsers, float64(n))
		ch <- prometheus.MustNewConstMetric(dDropped, prometheus.CounterValue, float64(dropped))
	}
	if src.Incidents != nil {
		by := src.Incidents()
		for _, s := range assurance.IncidentStates() {
			if s == assurance.IncidentClosed {
				continue
			}
			gauge(dIncidents, float64(by[s]), string(s))
		}
	}
	if src.Results != nil {
		gauge(dResults, float64(src.Results()))
	}
	if src.Files != nil {
		var n int64
		for _, f := range src.Files() {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		gauge(dBytes, float64(n))
	}
}
