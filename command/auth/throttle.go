package auth

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// ThrottledError refuses a login try that came too soon after failures.
// errors.Is(err, ErrTooManyTries) holds.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed logins from this address; try again in %v", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrTooManyTries) hold.
func (e *ThrottledError) Is(target error) bool { return target == ErrTooManyTries }

// Throttling policy. A (user, address) pair may fail pairFree times, an
// address addrFree times (across user names: password spraying), before
// each further try waits 1 s, 2 s, 4 s … up to the cap. Counts are
// forgotten after forget without failures; a successful login clears its
// pair (not its address: one good account must not reset a sprayer).
const (
	pairFree     = 5
	pairMaxWait  = 15 * time.Minute
	addrFree     = 30
	addrMaxWait  = time.Minute // many people may share one address (an event's Wi-Fi)
	forget       = time.Hour
	maxThrottled = 100_000 // entries kept; beyond, the oldest-forgotten go first
)

// throttle counts failed logins. Its zero value is ready.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// addrKey groups addresses as an attacker holds them: an IPv4 address
// alone, an IPv6 address by its /64 (one host usually has the whole /64).
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func backoff(f *failures, free int, max time.Duration, now time.Time) time.Duration {
	if f == nil || f.n < free || now.Sub(f.last) > forget {
		return 0
	}
	wait := max
	if k := f.n - free; k < 20 {
		wait = min(time.Second<<k, max)
	}
	return f.last.Add(wait).Sub(now)
}

// wait returns how long a try for user from addr must still wait (≤ 0:
// it may go ahead).
func (t *throttle) wait(user, addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	ak := addrKey(addr)
	return max(backoff(t.entries["p\x00"+user+"\x00"+ak], pairFree, pairMaxWait, now),
		backoff(t.entries["a\x00"+ak], addrFree, addrMaxWait, now))
}

func (t *throttle) fail(user, addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[string]*failures{}
	}
	if len(t.entries) >= maxThrottled {
		t.prune(now)
	}
	ak := addrKey(addr)
	for _, k := range []string{"p\x00" + user + "\x00" + ak, "a\x00" + ak} {
		f := t.entries[k]
		if f == nil || now.Sub(f.last) > forget {
			f = &failures{}
			t.entries[k] = f
		}
		f.n++
		f.last = now
	}
}

func (t *throttle) succeed(user, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, "p\x00"+user+"\x00"+addrKey(addr))
}

// prune drops forgotten entries, and if that is not enough the older half.
func (t *throttle) prune(now time.Time) {
	for k, f := range t.entries {
		if now.Sub(f.last) > forget {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < maxThrottled {
		return
	}
	cut := now.Add(-forget / 2)
	for k, f := range t.entries {
		if f.last.Before(cut) || len(t.entries) > maxThrottled/2 {
			delete(t.entries, k)
		}
	}
}
