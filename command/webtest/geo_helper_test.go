package webtest

import (
	"context"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// atPosition grants the page's origin the geolocation permission and
// makes the browser report (lon, lat) as the device's position, as a
// phone standing at a stall would (Chrome's own emulation, through the
// DevTools protocol).
func atPosition(origin string, lon, lat float64) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "geolocation"}, Setting: browser.PermissionSettingGranted, Origin: origin}); err != nil {
			return chromedp.Void{}, err
		}
		acc := 5.0
		_, err := cdp.Call(ctx, t, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{Latitude: &lat, Longitude: &lon, Accuracy: &acc})
		return chromedp.Void{}, err
	}
}
