package ui_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/internal/browsertest"
)

// TestKioskStatusNamesTheCommand: a kiosk with command.urls [a dead port,
// the command] moves to the command, and the status bar says which
// instance it is linked to: the whole URL in the link pill's title, and
// at 1024×600 the host in the pill (在线 · host:port), in Chinese and
// English; at 800×480 there is no room for it (the bar must still fit).
func TestKioskStatusNamesTheCommand(t *testing.T) {
	r := startRig(t, rigOptions{command: true, failover: true, width: 800, height: 480})
	p := r.p
	p.WaitFor("online on the second URL", `shian.state.link.online && shian.state.link.urls === 2 && document.querySelector("#st-link").dataset.state === "ok"`, waitLong)
	link := r.k.Link()
	u, err := url.Parse(link.URL)
	if err != nil || link.URLs != 2 {
		t.Fatalf("link state %+v", link)
	}
	title := browsertest.Eval[string](p, `document.querySelector("#st-link").title`)
	if !strings.Contains(title, link.URL) || !strings.Contains(title, "指挥中心地址") {
		t.Errorf("status pill title %q, want the command URL %s", title, link.URL)
	}
	if shown := browsertest.Eval[bool](p, `(() => { const h = document.querySelector("#st-link-host"); return !!h && h.getBoundingClientRect().width > 0; })()`); shown {
		t.Errorf("at 800×480 the pill shows the host (%q): no room for it", r.text("#st-link"))
	}
	r.checkLayout("status bar 800×480 with several command URLs")
	p.Screenshot("status-command-800x480")
	r.inEnglish("status-command-800x480")

	p.Do(chromedp.EmulateViewport(1024, 600, chromedp.EmulateTouch))
	hostShown := fmt.Sprintf(`(() => { const h = document.querySelector("#st-link-host"); return !!h && h.textContent === %q && h.getBoundingClientRect().width > 0; })()`, "· "+u.Host)
	p.WaitFor("the host in the pill", hostShown+` && document.querySelector("#st-link-text").textContent === "在线"`, waitShort)
	r.checkLayout("status bar with the command's host 1024×600")
	p.Screenshot("status-command-host-1024x600")
	r.tap("#lang")
	p.WaitFor("the English status pill", `shian.lang() === "en" && document.querySelector("#st-link-text").textContent === "Online" && `+hostShown, waitShort)
	r.checkLayout("status bar with the command's host 1024×600, English")
	p.Screenshot("status-command-host-1024x600-en")
}
