package metrics_test

import (
	"encoding/json"
	"github.com/shianfood/shian/command/history"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/command/metrics"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

// TestMetricsExposed: every family of the package doc is served, with the
// values the sources and the commits give.
func TestMetricsExposed(t *testing.T) {
	m := metrics.New(metrics.Sources{
		Kiosks: func() []wire.KioskState {
			return []wire.KioskState{{KioskID: "K-1", Online: true, Pending: 4}, {KioskID: "K-2"}}
		},
		Browsers: func() (int, uint64) { return 2, 1 },
		Incidents: func() map[assurance.IncidentState]int {
			return map[assurance.IncidentState]int{assurance.IncidentAssigned: 3}
		},
		Results: func() int { return 7 },
		Files:   func() []string { return []string{"dashboard_test.go"} },
	})
	m.ObserveCommit(2*time.Millisecond, []history.Committed{{Outcome: history.Stored}, {Outcome: history.Stored}, {Outcome: history.Duplicate}, {Outcome: history.Conflict}}, nil)
	m.ObserveCommit(time.Millisecond, nil, io.ErrUnexpectedEOF)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"shian_command_kiosks_connected 1", "shian_command_kiosks_seen 2", `shian_command_kiosk_pending{kiosk="K-1"} 4`,
		"shian_command_results_ingested_total 2", "shian_command_results_duplicate_total 1", "shian_command_results_conflict_total 1",
		"shian_command_results_acked_total 3", "shian_command_commit_failures_total 1", "shian_command_commit_duration_seconds_count 2",
		"shian_command_commit_batch_results_sum 4", "shian_command_browser_clients 2", `shian_command_incidents{state="assigned"} 3`,
		`shian_command_incidents{state="warned"} 0`, "shian_command_results_stored 7", "shian_command_store_bytes ", "shian_command_build_info{",
		"go_goroutines", "process_",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in /metrics", want)
		}
	}
}

// TestDashboard: the Grafana dashboard is valid JSON, and every metric it
// queries is one the command or the kiosk exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range []string{"metrics.go", "../../kiosk/metrics/metrics.go"} {
		s, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(s)
	}
	name := regexp.MustCompile(`shian_[a-z_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				if !strings.Contains(src.String(), `"`+base+`"`) {
					t.Errorf("panel %q queries %s, which nothing exports", p.Title, m)
				}
				n++
			}
		}
	}
	if n < 20 {
		t.Errorf("the dashboard queries only %d metrics", n)
	}
}
