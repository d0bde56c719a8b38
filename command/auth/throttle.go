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

// Failure is one count of the login throttle: how many failed logins
// and when the last one was.
type Failure struct {
	N    int
	Last time.Time
}

// FailureCounts keeps the login throttle's counts. The Authenticator's
// default keeps them in memory (one instance); in cluster mode the
// service gives it one in PostgreSQL (command/cluster.Shared), so that
// guesses spread over several instances count together.
type FailureCounts interface {
	// Failures returns the counts of keys (a key without failures is
	// absent).
	Failures(keys []string) (map[string]Failure, error)
	// Fail counts one failure at now for each key; a count whose last
	// failure is older than forget starts again.
	Fail(keys []string, now time.Time, forget time.Duration) error
	// Clear forgets key's failures.
	Clear(key string) error
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

func pairKey(user, ak string) string { return "p\x00" + user + "\x00" + ak }
func addrOnlyKey(ak string) string   { return "a\x00" + ak }

// throttleWait returns how long a try for user from addr must still wait
// (≤ 0: it may go ahead).
func throttleWait(c FailureCounts, user, addr string, now time.Time) (time.Duration, error) {
	ak := addrKey(addr)
	pk, aak := pairKey(user, ak), addrOnlyKey(ak)
	fs, err := c.Failures([]string{pk, aak})
	if err != nil {
		return 0, err
	}
	get := func(k string) *failures {
		if f, ok := fs[k]; ok {
			return &failures{n: f.N, last: f.Last}
		}
		return nil
	}
	return max(backoff(get(pk), pairFree, pairMaxWait, now), backoff(get(aak), addrFree, addrMaxWait, now)), nil
}

func throttleFail(c FailureCounts, user, addr string, now time.Time) error {
	ak := addrKey(addr)
	return c.Fail([]string{pairKey(user, ak), addrOnlyKey(ak)}, now, forget)
}

func throttleSucceed(c FailureCounts, user, addr string) error {
	return c.Clear(pairKey(user, addrKey(addr)))
}

// throttle is the in-memory FailureCounts. Its zero value is ready.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func (t *throttle) Failures(keys []string) (map[string]Failure, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]Failure{}
	for _, k := range keys {
		if f := t.entries[k]; f != nil {
			out[k] = Failure{N: f.n, Last: f.last}
		}
	}
	return out, nil
}

func (t *throttle) Fail(keys []string, now time.Time, forget time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[string]*failures{}
	}
	if len(t.entries) >= maxThrottled {
		t.prune(now)
	}
	for _, k := range keys {
		f := t.entries[k]
		if f == nil || now.Sub(f.last) > forget {
			f = &failures{}
			t.entries[k] = f
		}
		f.n++
		f.last = now
	}
	return nil
}

func (t *throttle) Clear(key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
	return nil
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
