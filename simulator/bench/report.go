package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// Row is one figure of the table.
type Row struct {
	Part     string // ingest, growth, …
	Measure  string // what was measured, e.g. "100 kiosks"
	Value    string // the figure
	Baseline string // what it is set against, measured in the same run
	Ratio    string // value ÷ baseline, when it means something
	Goal     string // issue 9's goal, "" when none
	Status   string // met / missed by … / "" when there is no goal
}

// Report is a run's outcome.
type Report struct {
	Quick   bool
	Command string
	Machine Machine
	Store   string // the result store the command ran on
	Rows    []Row
	Notes   []string
	Elapsed time.Duration

	// The headline: the 100-kiosk ingest rate and its ratio to the
	// baseline (the last two lines printed).
	IngestPerS  float64
	IngestRatio float64
}

// Machine describes where the run ran.
type Machine struct {
	CPU      string
	Cores    int
	Kernel   string
	Go       string
	Date     time.Time
	Revision string // the commit the binaries were built from
	// Load is /proc/loadavg's 1-minute figure at the start and the end:
	// how busy the shared machine was.
	LoadStart, LoadEnd string
}

func newReport(o Options) *Report {
	return &Report{Quick: o.Quick, Command: o.Command, Machine: thisMachine(), Store: sqlite.describe()}
}

func thisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Machine[:])
	}
	m.LoadStart = loadAvg()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.Revision = s.Value + m.Revision
			case "vcs.modified":
				if s.Value == "true" {
					m.Revision += " (with uncommitted changes)"
				}
			}
		}
	}
	if m.Revision == "" {
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			m.Revision = strings.TrimSpace(string(out))
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
				m.Revision += " (with uncommitted changes)"
			}
		}
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func (r *Report) add(row Row) { r.Rows = append(r.Rows, row) }

// status compares a ratio or a figure with a goal: higher reports whether
// more is better.
func status(value, goal float64, higher bool) string {
	switch {
	case goal == 0:
		return ""
	case higher && value >= goal, !higher && value <= goal:
		return "met"
	case higher:
		return fmt.Sprintf("missed (%.2g× of the goal)", value/goal)
	}
	return fmt.Sprintf("missed (%.2g× the limit)", value/goal)
}

// Table writes the rows as a Markdown table.
func (r *Report) Table(w io.Writer) {
	fmt.Fprintln(w, "| part | measure | value | baseline (same run) | ratio | goal | status |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, x := range r.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Part, x.Measure, x.Value, dash(x.Baseline), dash(x.Ratio), dash(x.Goal), dash(x.Status))
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Markdown writes docs/BENCHMARKS.md.
func (r *Report) Markdown(w io.Writer) {
	kind := "full run"
	if r.Quick {
		kind = "quick run (BENCH_QUICK=1: smaller sizes, shorter windows; the sizes are in the table)"
	}
	fmt.Fprintf(w, "# Benchmarks\n\nWritten by `make bench`; do not edit by hand. This is a %s.\n\n", kind)
	fmt.Fprintf(w, "```sh\n%s\n```\n\n", r.Command)
	m := r.Machine
	fmt.Fprintf(w, "- machine: %s, %d cores; %s\n- Go: %s\n- date: %s (took %v)\n- result store: %s\n",
		m.CPU, m.Cores, m.Kernel, m.Go, m.Date.Format("2006-01-02 15:04 UTC"), r.Elapsed.Round(time.Second), r.Store)
	if m.Revision != "" {
		fmt.Fprintf(w, "- built from: %s\n", m.Revision)
	}
	if m.LoadStart != "" {
		fmt.Fprintf(w, "- load average (1 min) on %d cores: %s at the start, %s at the end\n", m.Cores, m.LoadStart, m.LoadEnd)
	}
	fmt.Fprintf(w, "\nThe machine is shared and noisy: compare the ratios between runs, not the raw figures. ")
	fmt.Fprintf(w, "The load generators (load kiosks, shian-kiosk processes, the browser client) run on the same cores as the command.\n\n")
	r.Table(w)
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	fmt.Fprint(w, methods)
}

// methods explains each figure; it is part of every report.
const methods = `
## How each figure is measured

- **ingest**: a fresh shian-command (its own data directory, ` + "`--log-level warn`" + `) and N load kiosks in the
  bench process, each one websocket speaking the kiosk link of protocols/wire: hello, then messages of
  64 negative enzyme results, at most max_in_flight (256) unacknowledged. The figure is results
  acknowledged per second over the measured window, after a warm-up; an ack is sent only after the
  group commit's fsync. The baseline writes the same messages, 64 results each, to a file and fsyncs
  after every message, one writer, on the same disk, just before. "cmd cores" is the command's CPU
  time over the window ÷ the window (2.0 = both cores); results per CPU-second is the rate ÷ that,
  the figure least moved by other users of the machine.
- **growth**: the result history (SQLite, and PostgreSQL where installed, on a server the bench
  starts with fsync on) is filled through its own bulk path — history.Import in 4,096-result
  transactions, not through websockets — with a year of results of 500 kiosks, each received two
  seconds after it was measured (no positives in the last three days: the engine would open an
  incident at start for each, since the fill makes none), and the command restarted: "restart" is exec to the first 200 from /healthz; RSS is VmRSS after
  start and after the ingest window; the ingest rate is measured as above with 100 kiosks; the
  query p99 is over sequential ` + "`GET /api/v1/results?kiosk=…&limit=100`" + ` and ` + "`…?verdict=positive&limit=100`" + `
  requests with an API token, and the KPI p99 over ` + "`GET /api/v1/kpis?event=…`" + `. The baselines: a
  minimal Go HTTP server's start-up time and RSS, and ` + "`GET /healthz`" + `'s p99 on the same command.
- **end to end**: one emulated DY-3000E tester (firmware/enzyme) per kiosk on a pseudo-terminal,
  read by its own shian-kiosk process (outbox fsync, uplink), one test per kiosk about every second;
  a websocket client on /ws/live (the map's protocol, API token) receives the deltas. Latency is from
  the report frame's write on the pty to the result's delta arriving, matched by the sample tag.
  The baseline is the round trip of a websocket echo on the same loopback.
- **kiosk**: shian-kiosk's VmRSS with an idle tester (median over the end-to-end kiosks before the
  tests start), and with the backlog queued (its outbox filled through outbox.Save on tmpfs, the file
  copied into its data directory, the command down); then the command starts and "drain" is from
  its /healthz answering to the kiosk's screen API reporting 0 pending. Baselines: a minimal Go HTTP
  server's RSS, and the backlog appended in 64-result fsynced batches to a file. Binary sizes are
  ` + "`go build`" + ` for linux/arm64 and linux/arm (GOARM=7), against a minimal net/http program.
- **cluster**: 1, 2 and 3 shian-command instances in cluster mode (` + "`--db postgres://…`" + `: records and
  history in one database, decisions 0024 and 0025) on one PostgreSQL server the bench starts (fsync
  on), each with its own data directory; 100 load kiosks as above spread round robin over them. The
  figure is the sum of the results acknowledged per second; the baseline is the one-instance figure of
  the same run. Every instance, PostgreSQL and the load kiosks share the machine.
- **geo**: 10,000 zone polygons (irregular 12-gons across a city), stall points in and out of
  them; lookups per second through geo.ZoneIndex.Locate against testing every polygon with
  geo.GeometryContains; both give the same zones for every point (checked).
`

// Print writes the table and the headline lines.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintln(w)
	r.Table(w)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintf(w, "ingest_per_s=%.0f\n", r.IngestPerS)
	fmt.Fprintf(w, "ingest_ratio=%.3f\n", r.IngestRatio)
}
