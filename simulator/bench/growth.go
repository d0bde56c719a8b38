package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// growthPart measures the command at each Growth size on SQLite, and on
// PostgreSQL where it is installed (full runs only: initdb alone takes
// seconds): the history filled through its bulk path, the command
// restarted on it.
func (b *Bench) growthPart(ctx context.Context) error {
	if err := b.growthOn(ctx, sqlite); err != nil {
		return err
	}
	switch {
	case pgBin() == "":
		b.rep.Notes = append(b.rep.Notes, "growth on PostgreSQL not measured: "+errNoPostgres.Error())
	case b.o.Quick:
		b.rep.Notes = append(b.rep.Notes, "growth on PostgreSQL is measured in full runs only (quick runs: SQLite)")
	default:
		pg, err := startPostgres(ctx, filepath.Join(b.o.Work, "postgres"))
		if err != nil {
			return fmt.Errorf("PostgreSQL: %w", err)
		}
		defer pg.stop()
		bk := backend{name: "PostgreSQL", pg: pg}
		b.rep.Store += "; growth also on " + bk.describe()
		if err := b.growthOn(ctx, bk); err != nil {
			return err
		}
	}
	return nil
}

// growthOn measures the Growth sizes on one backend.
func (b *Bench) growthOn(ctx context.Context, bk backend) error {
	hello, err := b.measureHello(ctx)
	if err != nil {
		return fmt.Errorf("baseline server: %w", err)
	}
	run, err := b.dir("growth-" + strings.ToLower(bk.name))
	if err != nil {
		return err
	}
	enc, err := NewEncoder(benchEvent)
	if err != nil {
		return err
	}
	start := time.Now()
	var rate0 float64
	for _, n := range b.sz.Growth {
		ids := kioskIDs(fmt.Sprintf("G%d", n), 100)
		prep, err := prepare(bk, run, ids, n, enc, start)
		if err != nil {
			return fmt.Errorf("%s: fill to %d: %w", bk.name, n, err)
		}
		if prep.added > 0 {
			b.say("growth on %s: filled %d results in %v (%.0f/s)", bk.name, prep.added, prep.took.Round(time.Millisecond), float64(prep.added)/prep.took.Seconds())
		}
		c := &command{b: b, bk: bk, run: run, tokens: prep.tokens, api: prep.api}
		if err := b.startCommand(ctx, c); err != nil {
			return err
		}
		err = b.growthAt(ctx, c, n, prep.total, hello, &rate0)
		c.stop()
		if err != nil {
			return fmt.Errorf("%s at %d stored: %w", bk.name, n, err)
		}
	}
	return nil
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%d M", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%d k", n/1000)
	}
	return fmt.Sprint(n)
}

// goalAt10M is where issue 9's growth goals apply.
const goalAt10M = 10_000_000

// growthAt measures a command started on a store filled for target
// (holding stored: the earlier sizes' ingest windows add to it).
func (b *Bench) growthAt(ctx context.Context, c *command, target, stored int, hello helloFigures, rate0 *float64) error {
	n := target
	part := "growth, " + c.bk.name
	at := "at " + num(float64(stored)) + " stored"
	final := n == goalAt10M
	goal := func(g string, v, lim float64, higher bool) (string, string) {
		st := ""
		if final {
			st = status(v, lim, higher)
		}
		return g + " at 10 M", st
	}
	g, st := goal("≤ 5 s", c.ready.Seconds(), 5, false)
	b.rep.add(Row{Part: part, Measure: "restart to /healthz " + at, Value: fmt.Sprintf("%.2f s", c.ready.Seconds()),
		Baseline: fmt.Sprintf("%s minimal Go HTTP server", ms(hello.Start)), Ratio: fmt.Sprintf("%.0f×", c.ready.Seconds()/hello.Start.Seconds()), Goal: g, Status: st})
	time.Sleep(b.sz.Settle)
	idle := rss(c.p.pid())

	// Queries, before the ingest adds to the store.
	oldest := time.Now().Add(-fillSpan).Add(24 * time.Hour).UTC().Format(time.RFC3339)
	queries := []struct{ name, path string }{
		{"results, kiosk=, newest 100", "/api/v1/results?kiosk=F-0042&limit=100"},
		{"results, kiosk= and until= (its oldest day), 100", "/api/v1/results?kiosk=F-0042&until=" + url.QueryEscape(oldest) + "&limit=100"},
		{"results, verdict=positive, newest 100", "/api/v1/results?verdict=positive&limit=100"},
	}
	health, _, err := b.queryP99(ctx, c, "/healthz")
	if err != nil {
		return err
	}
	for _, q := range queries {
		p99, k, err := b.queryP99(ctx, c, q.path)
		if err != nil {
			return err
		}
		g, st := goal("p99 ≤ 50 ms", float64(p99.Milliseconds()), 50, false)
		b.rep.add(Row{Part: part, Measure: fmt.Sprintf("query p99 %s: %s (%d requests)", at, q.name, k), Value: ms(p99),
			Baseline: "/healthz p99 " + ms(health), Goal: g, Status: st})
	}
	p99, k, err := b.queryP99(ctx, c, "/api/v1/kpis?event="+benchEvent)
	if err != nil {
		return err
	}
	g, st = goal("≤ 200 ms", float64(p99.Milliseconds()), 200, false)
	b.rep.add(Row{Part: part, Measure: fmt.Sprintf("event KPIs p99 %s (%d requests)", at, k), Value: ms(p99),
		Baseline: "/healthz p99 " + ms(health), Goal: g, Status: st})

	f, err := b.measureIngest(ctx, c, kioskIDs(fmt.Sprintf("G%d", n), 100), b.sz.GrowthWindow, "")
	if err != nil {
		return err
	}
	if n == 0 {
		*rate0 = f.PerS
	}
	row := Row{Part: part, Measure: "ingest, 100 kiosks, " + at, Value: fmt.Sprintf("%s results/s (cmd %.2f cores)", num(f.PerS), f.CmdCores)}
	if *rate0 > 0 && n > 0 {
		row.Baseline = fmt.Sprintf("%s results/s at 0", num(*rate0))
		row.Ratio = fmt.Sprintf("%.2f×", f.PerS / *rate0)
		row.Goal, row.Status = goal("≥ 0.8× of at 0", f.PerS / *rate0, 0.8, true)
	}
	b.rep.add(row)
	g, st = goal("≤ 300 MB", float64(max(idle, f.RSS))/(1<<20), 300, false)
	b.rep.add(Row{Part: part, Measure: "command RSS " + at + ": idle / after the ingest window", Value: mb(idle) + " / " + mb(f.RSS),
		Baseline: mb(hello.RSS) + " minimal Go HTTP server", Goal: g, Status: st})
	b.say("growth on %s at %d: restart %v, RSS %s, ingest %.0f/s", c.bk.name, n, c.ready.Round(time.Millisecond), mb(idle), f.PerS)
	return nil
}

// queryP99 sends sequential GETs of path with the API token, Queries of
// them or as many as fit in QueryTime (at least 3), and returns their p99.
func (b *Bench) queryP99(ctx context.Context, c *command, path string) (time.Duration, int, error) {
	hc := &http.Client{Timeout: 2 * time.Minute}
	var ds []time.Duration
	t0 := time.Now()
	for len(ds) < b.sz.Queries && (len(ds) < 3 || time.Since(t0) < b.sz.QueryTime) {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+c.addr+path, nil)
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+c.api)
		s := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		ds = append(ds, time.Since(s))
	}
	return percentile(ds, 99), len(ds), nil
}
