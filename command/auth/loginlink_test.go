package auth_test

import (
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestLoginLinkUsedOnce: of many uses of one login link at the same time
// exactly one logs in; the others, and every later use, get ErrLinkUsed.
// An expired link is refused and spent.
func TestLoginLinkUsedOnce(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := auth.New(st, func() time.Time { return now })
	if err := a.CreateUser("li", "李", assurance.RoleInspector, "long enough"); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		link, err := a.NewLoginLink("li", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var sessions []string
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				tok, u, err := a.UseLoginLink(link)
				switch {
				case err == nil && tok != "" && u.Name == "li":
					mu.Lock()
					sessions = append(sessions, tok)
					mu.Unlock()
				case !errors.Is(err, auth.ErrLinkUsed):
					t.Errorf("use: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(sessions) != 1 {
			t.Fatalf("round %d: %d of %d concurrent uses of one link logged in, want exactly 1", round, len(sessions), n)
		}
		if _, _, err := a.UseLoginLink(link); !errors.Is(err, auth.ErrLinkUsed) {
			t.Fatalf("a later use: %v", err)
		}
	}

	link, err := a.NewLoginLink("li", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := a.UseLoginLink(link); !errors.Is(err, auth.ErrLinkUsed) {
		t.Fatalf("an expired link: %v", err)
	}
	now = now.Add(-2 * time.Minute)
	if _, _, err := a.UseLoginLink(link); !errors.Is(err, auth.ErrLinkUsed) {
		t.Fatalf("an expired link was not spent by its first use: %v", err)
	}
}
