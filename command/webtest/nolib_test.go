package webtest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/web"
	"github.com/shianfood/shian/internal/browsertest"
)

// TestPageWithoutBuiltAssets serves the page as a binary built without
// `make web` would (lib/ answers 404): the page must still load and tell
// the user, in zh-CN and English, to run make web.
func TestPageWithoutBuiltAssets(t *testing.T) {
	b := browsertest.Start(t)
	pages := web.Handler()
	noLib := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/lib/") {
			http.NotFound(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{Web: noLib})

	p := b.NewPage(t)
	p.Do(chromedp.Navigate(cmd.url()))
	p.WaitFor("the make-web message", `!document.querySelector('#boot-error').hidden && document.body.dataset.state === 'error'`, 10*time.Second)
	msg := browsertest.Eval[string](p, `document.querySelector('#boot-error').textContent`)
	for _, want := range []string{"make web", "地图组件未构建", "The map library is not built"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if !browsertest.Eval[bool](p, `document.querySelector('#login').hidden && document.querySelector('#app').hidden`) {
		t.Error("the login form or the map is shown although the page cannot work")
	}
	p.Screenshot("no-lib")
}
