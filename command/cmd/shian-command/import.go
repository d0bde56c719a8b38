package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// ImportFlags are the flags of `shian-command import`.
type ImportFlags struct {
	URL         string
	Token       string
	SkipInvalid bool
	ID, Name    string
	Kind        string
	Route       string
}

func (f *ImportFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.URL, "url", "http://127.0.0.1:8080", "import: the command service's address")
	fs.StringVar(&f.Token, "token", "", "import: an admin API token (default $SHIAN_TOKEN)")
	fs.BoolVar(&f.SkipInvalid, "skip-invalid", false, "import: import the valid features and list the others")
	fs.StringVar(&f.ID, "id", "", "import: the property holding each feature's id (e.g. fid for a QGIS export)")
	fs.StringVar(&f.Name, "name", "", "import: the property holding each feature's name (e.g. NAME)")
	fs.StringVar(&f.Kind, "kind", "", "import: the kind of features without a kind property (zone, venue, stall, kitchen, banquet)")
	fs.StringVar(&f.Route, "into", "venue", "import: venue (areas and points), zones or stalls")
}

type importAnswer struct {
	Imported int `json:"imported"`
	Zones    int `json:"zones"`
	Sites    int `json:"sites"`
	Total    int `json:"total"`
	Skipped  int `json:"skipped"`
	Problems []struct {
		Feature int    `json:"feature"`
		ID      string `json:"id"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"problems"`
	Warnings []string `json:"warnings"`
	Error    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// importVenue is `shian-command import FILE`: it sends the file to the
// running service's import route, with a progress bar on stderr while the
// file uploads, and prints the answer: what was imported and every
// problem.
func (m *Main) importVenue(ctx context.Context) error {
	if len(m.Args) != 1 {
		return errors.New("import: name one GeoJSON file: shian-command import [flags] venue.geojson")
	}
	f := m.Import
	if f.Token == "" {
		f.Token = os.Getenv("SHIAN_TOKEN")
	}
	if f.Token == "" {
		return errors.New("import: an admin API token is required (--token, or SHIAN_TOKEN; POST /api/v1/tokens makes one)")
	}
	switch f.Route {
	case "venue", "zones", "stalls":
	default:
		return fmt.Errorf("import: --into %q: use venue, zones or stalls", f.Route)
	}
	file, err := os.Open(m.Args[0])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	q := url.Values{}
	if f.SkipInvalid {
		q.Set("skip_invalid", "1")
	}
	for k, v := range map[string]string{"id": f.ID, "name": f.Name, "kind": f.Kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u := strings.TrimRight(f.URL, "/") + "/api/v1/" + f.Route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	bar := newProgress(m.Stderr, fi.Size(), m.Args[0])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bar.reader(file))
	if err != nil {
		return err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/geo+json")
	req.Header.Set("Authorization", "Bearer "+f.Token)
	resp, err := http.DefaultClient.Do(req)
	bar.done()
	if err != nil {
		return fmt.Errorf("import: %w (is the service running at %s?)", err, f.URL)
	}
	defer resp.Body.Close()
	var ans importAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&ans); err != nil {
		return fmt.Errorf("import: HTTP %d and an answer that is not JSON: %w", resp.StatusCode, err)
	}
	for _, p := range ans.Problems {
		fmt.Fprintf(m.Stdout, "problem: %s\n", p.Message)
	}
	for _, w := range ans.Warnings {
		fmt.Fprintf(m.Stdout, "warning: %s\n", w)
	}
	if resp.StatusCode != http.StatusOK {
		msg := resp.Status
		if ans.Error != nil {
			msg = ans.Error.Message
		}
		return fmt.Errorf("import refused: %s", msg)
	}
	fmt.Fprintf(m.Stdout, "imported %d of %d features (%d zones, %d sites); %d skipped\n", ans.Imported, ans.Total, ans.Zones, ans.Sites, ans.Skipped)
	return nil
}

// progress draws an upload progress bar on a terminal line.
type progress struct {
	w     io.Writer
	total int64
	name  string
	start time.Time

	mu   sync.Mutex
	n    int64
	last time.Time
}

func newProgress(w io.Writer, total int64, name string) *progress {
	return &progress{w: w, total: total, name: name, start: time.Now()}
}

func (p *progress) reader(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(int64(n))
	return n, err
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || p.n == p.total {
		p.last = now
		p.draw()
	}
}

func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.n) / float64(p.total)
	}
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s / %s", p.name, strings.Repeat("#", fill), strings.Repeat("-", width-fill),
		100*frac, sizeText(p.n), sizeText(p.total))
	if p.n == p.total {
		fmt.Fprint(p.w, " — checking every feature…")
	}
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintf(p.w, " (%v)\n", time.Since(p.start).Round(time.Millisecond))
}
