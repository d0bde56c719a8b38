package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/internal/pgtest"
	"github.com/shianfood/shian/simulator/demo"
)

// TestClusterResultCrossesInstances (issue 17, "Done when"): in the
// cluster demo's set-up (a throwaway PostgreSQL, two command instances on
// it, HAProxy in front, the demo's kiosks against HAProxy) a kiosk
// registered through instance A and connected to A alone saves a
// positive; a browser logged in on instance B — with the demo's one-time
// login link, which B knows from the database — shows it live, without a
// reload: committed on A, announced over LISTEN/NOTIFY, read and pushed by
// B's live hub.
func TestClusterResultCrossesInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole cluster demo: skipped with -short")
	}
	requireAssets(t)
	requireClusterTools(t)
	slow := time.Duration(1)
	if raceDetector {
		slow = 8
	}
	b := browsertest.Start(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demo.RunCluster(ctx, demo.Options{Addr: freeAddr(t), Kiosks: 2, DataDir: dir, Every: time.Second,
			Measure: 200 * time.Millisecond, Out: out, Log: testLog(t)},
			demo.ClusterOptions{Instances: []string{"127.0.0.1:0", "127.0.0.1:0"}})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cluster demo: %v", err)
			}
		case <-time.After(slow * time.Minute):
			t.Errorf("the cluster demo did not stop within a minute")
		}
	})
	var info demo.Info
	for deadline := time.Now().Add(slow * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		raw, err := os.ReadFile(filepath.Join(dir, "demo.json"))
		if err == nil && json.Unmarshal(raw, &info) == nil && len(info.Instances) == 2 {
			break
		}
		select {
		case err := <-done:
			done <- nil // reported here, not again by the cleanup
			if err != nil && strings.Contains(err.Error(), "another shian-command is writing to postgres") {
				// Until the history takes several writers (issue 17 part
				// 2, lane historyha), the second instance cannot open.
				t.Skipf("cluster mode is not in the result history yet: %v", err)
			}
			t.Fatalf("the cluster demo stopped before writing demo.json: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo.json with two instances:\n%s", out.String())
		}
	}
	t.Logf("cluster demo: %s", strings.TrimSpace(out.String()))
	instA, instB := strings.TrimSuffix(info.Instances[0], "/"), strings.TrimSuffix(info.Instances[1], "/")

	// A kiosk of the demo's event, registered through A and linked to A.
	event := info.Kiosks[0].Event
	api := func(method, base, path string, body, v any) int {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			bb, _ := json.Marshal(body)
			rd = bytes.NewReader(bb)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+info.APIToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s%s: %v", method, base, path, err)
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var reg map[string]string
	if code := api("POST", instA, "/api/v1/kiosks", map[string]any{"id": "K-X-01", "name": "跨实例测试终端", "event_id": event}, &reg); code != http.StatusCreated {
		t.Fatalf("register a kiosk through instance A: HTTP %d %v", code, reg)
	}
	var stalls struct {
		Features []struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	api("GET", instA, "/api/v1/stalls", nil, &stalls)
	stall := ""
	for _, f := range stalls.Features {
		if f.Properties["event_id"] == event && f.Properties["kind"] == "stall" {
			stall = f.ID
			break
		}
	}
	if stall == "" {
		t.Fatalf("no stall of event %s among %d sites", event, len(stalls.Features))
	}
	u, _ := url.Parse(instA)
	k := startKiosk(t, u.Host, "K-X-01", reg["token"])

	// A browser on B, logged in with the demo's link taken to B.
	login, _ := url.Parse(info.LoginURL)
	ub, _ := url.Parse(instB)
	login.Host = ub.Host
	p := b.NewPage(t)
	p.Do(chromedp.Navigate(login.String()))
	p.WaitFor("the map on instance B", `document.body.dataset.state === 'app' && shian.linkState() === 'online' && shian.stallCount() > 0`, slow*20*time.Second)
	browsertest.Eval[string](p, `window.noReload = 'same page'`)

	r := k.measure(t, stall, "跨实例菠菜", dAPositive)
	took := p.WaitFor("the result from the kiosk on A on B's map", fmt.Sprintf(`!!document.querySelector('#results li[data-result-id=%q]')`, r.ResultID), slow*20*time.Second)
	t.Logf("result %s saved by a kiosk on %s shown on %s after %s", r.ResultID, instA, instB, took.Round(time.Millisecond))
	if got := browsertest.Eval[string](p, `window.noReload || ''`); got != "same page" {
		t.Errorf("the page reloaded")
	}
	p.Screenshot("cluster-result-on-b")
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions:\n%s", strings.Join(ex, "\n"))
	}
}

// requireClusterTools skips without Debian's postgresql or haproxy (fails
// with SHIAN_REQUIRE_POSTGRES=1 / SHIAN_REQUIRE_HAPROXY=1, as CI sets).
func requireClusterTools(t *testing.T) {
	t.Helper()
	pg, err := pgtest.Start()
	if err != nil {
		if pgtest.Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	pg.Stop()
	if _, err := exec.LookPath("haproxy"); err != nil {
		if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
			if os.Getenv("SHIAN_REQUIRE_HAPROXY") == "1" {
				t.Fatal("HAProxy is required (SHIAN_REQUIRE_HAPROXY=1): apt-get install haproxy")
			}
			t.Skip("no haproxy: apt-get install haproxy")
		}
	}
}

// freeAddr is a loopback address with a port free a moment ago (HAProxy
// is given a port, it cannot report the one it took).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
