// Package jsdom serves dom.js, the browser pages' one helper for putting
// text on the screen, as an ES module at [Path]. It lives here, and not
// under either service's static files, because both the command centre's
// pages (command/web) and the kiosk's screen (kiosk/ui) use it, and the two
// may not import each other (docs/engineering.md).
//
// # Why a helper
//
// Every string a page shows that came from outside — zone, stall, team,
// kiosk, sample and event names, alarm messages, the tile provider's
// attribution — must reach the DOM as text, never as markup: a zone named
// `<img src=x onerror=…>` must show as those characters. dom.js gives the
// pages three tools, so that no page writes its own:
//
//	import { el, text, escapeHTML } from "./dom.js";
//	el("li", {class: "row", onclick: open}, stall.name)  // an element; children become text nodes
//	marker.bindTooltip(el("span", {}, zone.name))         // Leaflet takes a node: pass one
//	escapeHTML(cfg.attribution)                           // only where a library insists on an HTML string
//
// el refuses string event handlers and inline styles and turns a
// javascript: (or any non-http) URL in href/src into "#". The pages' CSP
// (script-src 'self', see command/web and kiosk/ui) is the second line:
// anything that slipped through still could not run.
package jsdom

import (
	_ "embed"
	"net/http"
)

// Path is where the pages import the module from (relative to their js/
// directory: "./dom.js").
const Path = "/js/dom.js"

//go:embed dom.js
var module []byte

// Module returns dom.js's source.
func Module() []byte { return module }

// Handler serves dom.js as JavaScript.
func Handler() http.Handler { return ServeModule(module) }

// ServeModule serves src as an ES module the way every shared module is
// served (dom.js, internal/jswhen's when.js, internal/jsvocab's vocab.js):
// JavaScript, revalidated on every load (a kiosk must not keep an old copy
// after an upgrade), never sniffed as anything else.
func ServeModule(src []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(src)
	})
}
