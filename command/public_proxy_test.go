package command_test

import (
	"net/http"
	"testing"

	"github.com/shianfood/shian/command"
)

// TestPublicLimitBehindTrustedProxy (issue 11, leftover): the public
// pages' rate limit keys on the client the API sees — behind a trusted
// proxy the X-Forwarded-For client, not the proxy — so one diner who
// exhausts the limit does not lock out the others behind the same proxy,
// while the header from an untrusted peer is not believed.
func TestPublicLimitBehindTrustedProxy(t *testing.T) {
	e := startReal(t, command.Config{TrustedProxies: []string{"127.0.0.1"}})
	proxy, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	lookup := func(c *http.Client, xff string) int {
		code, _, _ := call(t, c, "GET", e.base+"/api/public/complaints/ABCD-1234", nil, "X-Forwarded-For", xff)
		return code
	}
	// The follow-up lookup allows 20, then one per 2 s (the clock stands).
	limited := func(c *http.Client, xff string) bool {
		for range 25 {
			if lookup(c, xff) == http.StatusTooManyRequests {
				return true
			}
		}
		return false
	}
	if !limited(proxy, "198.51.100.1") {
		t.Fatal("25 lookups by one diner behind the proxy were never limited")
	}
	if code := lookup(proxy, "198.51.100.2"); code == http.StatusTooManyRequests {
		t.Fatal("another diner behind the same proxy is limited with the first")
	}
	// From an untrusted peer the header is ignored: every forged client
	// is the one peer.
	for i := range 25 {
		if lookup(other, "203.0.113."+itoa(i)) == http.StatusTooManyRequests {
			return
		}
	}
	t.Fatal("an untrusted peer escaped the limit by forging X-Forwarded-For")
}
