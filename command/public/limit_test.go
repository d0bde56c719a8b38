package public

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	l := NewLimiter(0.5, 3, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if _, ok := l.Allow("a"); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	wait, ok := l.Allow("a")
	if ok || wait != 2*time.Second {
		t.Fatalf("the 4th: ok=%v wait=%v, want refused for 2 s", ok, wait)
	}
	if _, ok := l.Allow("b"); !ok {
		t.Fatal("another address is limited too")
	}
	now = now.Add(2 * time.Second)
	if _, ok := l.Allow("a"); !ok {
		t.Fatal("a token did not come back after 2 s")
	}
	if _, ok := l.Allow("a"); ok {
		t.Fatal("two tokens came back")
	}
	// A flood of addresses never grows the table past its cap.
	for i := 0; i < maxBuckets+10; i++ {
		l.Allow(string(rune(i)) + "x")
	}
	if len(l.buckets) > maxBuckets {
		t.Fatalf("%d buckets", len(l.buckets))
	}
}
