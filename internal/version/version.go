// Package version is the release a binary was built from. `make dist` and
// `make build` stamp it from `git describe --tags --always --dirty`:
//
//	go build -ldflags "-X github.com/shianfood/shian/internal/version.Version=v1.2.0-3-gabc1234" ./kiosk/cmd/shian-kiosk
//
// A binary built without the flag (go run, go test) reports "dev", with
// the VCS revision Go recorded in the binary when there is one.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time; see the package doc.
var Version = "dev"

// String returns the version, with the VCS revision of an unstamped build
// ("dev (rev 7b212f6, modified)").
func String() string {
	if Version != "dev" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev == "" {
		return Version
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	return fmt.Sprintf("dev (rev %s%s)", rev, dirty)
}

// Line is what --version prints: the program, its version, the Go
// toolchain and the platform it was built for.
func Line(program string) string {
	return fmt.Sprintf("%s %s (%s, %s/%s)", program, String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
