// Package web serves the command centre's browser pages, embedded in the
// binary. Third-party browser code (Leaflet) comes from npm at build time
// into static/lib (see `make web`); it is never committed.
//
// # Layout
//
//	static/index.html   the page: login form, then the live map
//	static/labels.html  the printable sheet of QR labels (labels.css)
//	static/admin.html   the admins' page: users, API tokens, the audit log
//	                    (admin.css, js/admin.js)
//	static/public.html  the diners' page a scanned label opens (public.css,
//	                    js/public.js; served by command/public at /s/{id})
//	static/app.css      its styles (screens.css: the issue-14 screens';
//	                    people.css: the teams and chef register screens)
//	static/js/*.js      plain ES modules, no framework and no build step:
//	                    app (wiring), live (the /ws/live client), venue-map
//	                    (Leaflet layers), coords (WGS-84/GCJ-02/BD-09 and
//	                    Baidu's tiling), panels (lists, popup, KPIs),
//	                    incident (one incident and its next steps), filters,
//	                    sound (the alert tone), labels, api (REST),
//	                    triage (the commander's queue, decision 0015),
//	                    teams (teams and their load, decision 0031),
//	                    chefs (the village-chef register),
//	                    credit (the 信用等级 tab: accounts, grade history,
//	                    ledger), exports (the header's 导出数据 dialog;
//	                    both styled by ledger.css, decision 0032),
//	                    i18n (every string, zh-CN first)
//	/js/vocab.js        not a file: the verdicts' labels, generated from
//	                    protocols/domain/assay by internal/jsvocab
//	/js/dom.js          not a file here: el/text/escapeHTML, the one way a
//	                    page puts a server string on screen; its one home
//	                    is internal/jsdom (the kiosk's screen serves it too)
//	/js/when.js         not a file here: the one date and time formatter
//	                    ("YYYY-MM-DD HH:mm", Beijing time); its one home is
//	                    internal/jswhen (the kiosk's screen serves it too)
//	static/lib/         built by `make web` from node_modules (gitignored)
//
// A binary built without `make web` still serves the page; it shows a
// zh-CN/English message saying to run `make web` (see [Built]).
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/shianfood/shian/internal/jsdom"
	"github.com/shianfood/shian/internal/jsvocab"
	"github.com/shianfood/shian/internal/jswhen"
)

//go:embed static
var static embed.FS

// LeafletPath is where the built Leaflet script sits inside [FS].
const LeafletPath = "lib/leaflet/leaflet.js"

// FS returns the embedded static files.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// Built reports whether the npm assets were built into this binary
// (`make web` ran before `go build`). Without them the page loads but shows
// a message instead of the map; callers may log a warning.
func Built() bool {
	_, err := fs.Stat(FS(), LeafletPath)
	return err == nil
}

// Handler serves the pages. Files are revalidated on every load (embedded
// files carry no modification time), so a new binary's page is never
// mixed with an old cached one. A missing file under lib/ answers 404 with
// a message saying to run `make web`.
func Handler() http.Handler {
	files := http.FileServerFS(FS())
	vocab := jsvocab.Handler()
	dom := jsdom.Handler()
	when := jswhen.Handler()
	built := Built()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch r.URL.Path {
		case jsvocab.Path:
			vocab.ServeHTTP(w, r)
			return
		case jsdom.Path:
			dom.ServeHTTP(w, r)
			return
		case jswhen.Path:
			when.ServeHTTP(w, r)
			return
		}
		if !built && strings.HasPrefix(r.URL.Path, "/lib/") {
			http.Error(w, "网页组件未构建：请运行 make web 后重新编译。/ Web assets not built: run `make web`, then rebuild.", http.StatusNotFound)
			return
		}
		files.ServeHTTP(w, r)
	})
}
