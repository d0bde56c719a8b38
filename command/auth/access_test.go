package auth_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"golang.org/x/crypto/bcrypt"
)

func newAuth(t *testing.T) (*auth.Authenticator, *time.Time) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	a := auth.New(st, func() time.Time { return now })
	a.Cost = bcrypt.MinCost // the race detector makes bcrypt's default cost take seconds
	for _, u := range []struct {
		name string
		role assurance.Role
	}{{"admin", assurance.RoleAdmin}, {"li", assurance.RoleInspector}} {
		if err := a.CreateUser(u.name, u.name, u.role, "correct horse"); err != nil {
			t.Fatal(err)
		}
	}
	return a, &now
}

// TestThrottlePerUserAndAddress: failures from one address slow that
// address down, with a wait that doubles, but never the same user from
// another address; a try while waiting is refused even with the right
// password; spraying many names from one address is slowed too; an IPv6
// attacker is one attacker across its /64.
func TestThrottlePerUserAndAddress(t *testing.T) {
	a, now := newAuth(t)
	const attacker, office = "203.0.113.9", "198.51.100.20"
	for i := range 5 {
		if _, _, err := a.Login("admin", "wrong", attacker); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	var te *auth.ThrottledError
	if _, _, err := a.Login("admin", "correct horse", attacker); !errors.As(err, &te) || !errors.Is(err, auth.ErrTooManyTries) || te.RetryAfter != time.Second {
		t.Fatalf("after 5 failures, the right password from the same address: %v, want throttled for 1 s", err)
	}
	// The admin, from the office, is not locked out.
	if _, u, err := a.Login("admin", "correct horse", office); err != nil || u.Name != "admin" {
		t.Fatalf("the admin from another address: %v", err)
	}
	// The wait doubles with each further failure.
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		*now = now.Add(time.Hour - time.Minute) // within the hour that keeps the count
		a.Login("admin", "wrong", attacker)
		if _, _, err := a.Login("admin", "wrong", attacker); !errors.As(err, &te) || te.RetryAfter != want {
			t.Fatalf("next wait: %v, want %v", err, want)
		}
	}
	// After a quiet hour the count is forgotten.
	*now = now.Add(61 * time.Minute)
	if _, _, err := a.Login("admin", "correct horse", attacker); err != nil {
		t.Fatalf("after an hour: %v", err)
	}

	// Spraying: one try per name, many names, one address.
	for i := range 30 {
		a.Login("user"+string(rune('a'+i%26))+string(rune('a'+i/26)), "Winter2026!", "192.0.2.50")
	}
	if _, _, err := a.Login("li", "correct horse", "192.0.2.50"); !errors.Is(err, auth.ErrTooManyTries) {
		t.Fatalf("after spraying 30 names from one address: %v, want throttled", err)
	}
	if _, _, err := a.Login("li", "correct horse", "192.0.2.51"); err != nil {
		t.Fatalf("li from the next address: %v", err)
	}

	// IPv6: the /64 is one attacker.
	for i := range 5 {
		a.Login("li", "wrong", "2001:db8:1:2::"+string(rune('1'+i)))
	}
	if _, _, err := a.Login("li", "correct horse", "2001:db8:1:2::ffff"); !errors.Is(err, auth.ErrTooManyTries) {
		t.Fatalf("another address of the same /64: %v, want throttled", err)
	}
	if _, _, err := a.Login("li", "correct horse", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}

// TestTokensExpireAndRevoke: a token works until it expires or is
// revoked; its list shows an id, never the token; validity is bounded.
func TestTokensExpireAndRevoke(t *testing.T) {
	a, now := newAuth(t)
	tok, rec, err := a.IssueToken("li", "report script", "admin", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cred := "token:" + store.HashToken(tok)
	if u, err := a.Valid(cred); err != nil || u.Name != "li" {
		t.Fatalf("new token: %v", err)
	}
	ts, err := a.Tokens()
	if err != nil || len(ts) != 1 || ts[0].ID != rec.ID || len(rec.ID) != 16 || ts[0].CreatedBy != "admin" || !ts[0].ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("tokens: %+v %v", ts, err)
	}
	*now = now.Add(49 * time.Hour)
	if _, err := a.Valid(cred); err == nil {
		t.Fatal("an expired token still works")
	}
	if _, _, err := a.IssueToken("li", "forever", "admin", 10*365*24*time.Hour); !errors.Is(err, auth.ErrTTL) {
		t.Fatalf("a 10-year token: %v, want ErrTTL", err)
	}
	tok2, rec2, _ := a.IssueToken("li", "second", "admin", time.Hour)
	_, rcred, err := a.RevokeToken(rec2.ID)
	if err != nil || rcred != "token:"+store.HashToken(tok2) {
		t.Fatalf("revoke: %q %v", rcred, err)
	}
	if _, err := a.Valid(rcred); err == nil {
		t.Fatal("a revoked token still works")
	}
	if _, _, err := a.RevokeToken(rec2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, _, err := a.RevokeToken("../../x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a garbled id: %v", err)
	}
	if _, err := a.NewLoginLink("li", 10*365*24*time.Hour); !errors.Is(err, auth.ErrTTL) {
		t.Fatalf("a 10-year login link: %v, want ErrTTL", err)
	}
	if _, err := a.NewLoginLink("li", auth.MaxLoginLinkTTL); err != nil {
		t.Fatalf("a 24 h login link: %v", err)
	}
}

// TestDisableEndsSessionsAndKeepsAnAdmin: disabling a user ends their
// sessions for good; the last enabled admin cannot be disabled or
// demoted.
func TestDisableEndsSessionsAndKeepsAnAdmin(t *testing.T) {
	a, _ := newAuth(t)
	s1, _, err := a.Login("li", "correct horse", "198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	if _, err := a.ChangeUser("li", auth.UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Valid(auth.SessionCredential(s1)); err == nil {
		t.Fatal("a disabled user's session still works")
	}
	if _, _, err := a.Login("li", "correct horse", "198.51.100.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a disabled user logs in: %v", err)
	}
	if _, err := a.ChangeUser("li", auth.UserChange{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Valid(auth.SessionCredential(s1)); err == nil {
		t.Fatal("enabling the user again brought the old session back")
	}
	if _, err := a.ChangeUser("admin", auth.UserChange{Disabled: &yes}); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v", err)
	}
	viewer := assurance.RoleViewer
	if _, err := a.ChangeUser("admin", auth.UserChange{Role: &viewer}); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	admin := assurance.RoleAdmin
	if _, err := a.ChangeUser("li", auth.UserChange{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ChangeUser("admin", auth.UserChange{Disabled: &yes}); err != nil {
		t.Fatalf("disabling an admin while another is enabled: %v", err)
	}
}
