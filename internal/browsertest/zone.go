package browsertest

import (
	"context"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// InZone makes the page's clock run in zone (an IANA name such as
// "America/New_York"), as a browser on a laptop set to another time zone
// would: a page that formats with the browser's zone shows it, one that
// shows the event's clock does not (internal/jswhen).
func InZone(zone string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return chromedp.Void{}, err
	}
}
