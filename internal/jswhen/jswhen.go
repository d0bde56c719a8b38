// Package jswhen serves when.js, the browser pages' one formatter of dates
// and times, as an ES module at [Path]. Every date or time a page shows is
// "YYYY-MM-DD HH:mm" on the event's wall clock (Beijing time unless the
// assurance configuration's kpi.utc_offset says otherwise), both ends of a
// range, whatever time zone the browser is in (docs/decisions/0034).
//
// It lives here, and not under either service's static files, because
// both the command centre's pages (command/web) and the kiosk's screen
// (kiosk/ui) use it, and the two may not import each other (the same
// reason as internal/jsdom's dom.js). The pages import it as "./when.js".
package jswhen

import (
	_ "embed"
	"net/http"

	"github.com/shianfood/shian/internal/jsdom"
)

// Path is where the pages import the module from.
const Path = "/js/when.js"

//go:embed when.js
var module []byte

// Module returns when.js's source.
func Module() []byte { return module }

// Handler serves when.js as JavaScript.
func Handler() http.Handler { return jsdom.ServeModule(module) }
