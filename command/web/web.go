// Package web serves the command centre's browser pages, embedded in the
// binary. Third-party browser code (Leaflet) comes from npm at build time
// into static/lib (see `make web`); it is never committed.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// FS returns the embedded static files.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// Handler serves the pages.
func Handler() http.Handler { return http.FileServerFS(FS()) }
