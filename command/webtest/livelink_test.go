package webtest

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/internal/browsertest"
)

// TestLiveLinkProtocol checks the page's websocket client against the
// rules of protocols/wire/README.md with a scripted server
// (testdata/livelink.js): skip deltas already applied, subscribe{since}
// once on a gap, apply the replay, reconnect after a drop naming the last
// seq and stream in the URL, accept a snapshot of a new stream with a lower
// seq after a server restart, and stop for good when the session ends
// (close 4003).
func TestLiveLinkProtocol(t *testing.T) {
	b := browsertest.Start(t)
	script, err := os.ReadFile("testdata/livelink.js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
	p := b.NewPage(t)
	p.Do(chromedp.Navigate(cmd.url() + "healthz")) // any same-origin document without the app

	var got struct {
		Applied     []int
		Snaps       []int
		States      []string
		Sent1       []map[string]any
		Sent2       []map[string]any
		URL2        string
		Sockets     int
		LastSeq     int
		ReconnectMs int
	}
	raw := browsertest.EvalAsync[json.RawMessage](p, string(script))
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	t.Logf("%s", raw)

	sub := func(since int) map[string]any {
		return map[string]any{"v": float64(1), "type": "subscribe", "since": float64(since), "stream": "s1"}
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("applied deltas", got.Applied, []int{6, 7, 8, 9, 3})
	check("snapshots", got.Snaps, []int{5, 2})
	check("sent on the first link (one subscribe for the gap)", got.Sent1, []map[string]any{sub(6)})
	check("sent after the reconnect (the resume is in the URL)", len(got.Sent2), 0)
	check("reconnect URL", got.URL2, "ws://example.invalid/ws/live?since=9&stream=s1")
	check("sockets opened (none after the session ended)", got.Sockets, 2)
	check("states", got.States, []string{"connecting", "online", "offline", "connecting", "online", "offline", "auth-lost:4003"})
	if got.ReconnectMs > int((2 * time.Second).Milliseconds()) {
		t.Errorf("first reconnect after %d ms; the backoff starts at 0.5 s ±50 %%", got.ReconnectMs)
	}
}
