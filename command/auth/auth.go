// Package auth authenticates the command centre's users and programs.
//
// # Ways in
//
//   - A browser logs in with POST /api/v1/login (name and password, bcrypt)
//     and gets a session cookie (HttpOnly, SameSite=Lax), stored hashed in
//     the store so sessions survive a restart.
//   - A one-time login link (/login?token=…), made by an admin or by
//     the demo, turns into a session on first use and is then deleted.
//   - A program sends "Authorization: Bearer <api token>"; the token acts
//     as its user.
//
// Kiosks do not use this package: they authenticate with their own
// per-kiosk token at the websocket handshake (see command/ingest).
//
// # Roles
//
// A user's role is the protocol's [assurance.Role] (one vocabulary for the
// API, the users and the state machines): admin > commander > inspector >
// operator > viewer ([assurance.Role.Rank]). A handler states the least
// role it needs; [Authenticator.Require] refuses others with 403
// (and unauthenticated requests with 401).
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"golang.org/x/crypto/bcrypt"
)

// CookieName is the session cookie's name.
const CookieName = "shian_session"

// Errors.
var (
	ErrBadCredentials = errors.New("auth: wrong user name or password")
	ErrTooManyTries   = errors.New("auth: too many failed logins; wait a minute and try again")
	ErrLinkUsed       = errors.New("auth: this login link is unknown, used or expired; ask for a new one")
)

// Authenticator checks credentials against the store.
type Authenticator struct {
	Store      *store.Store
	Now        func() time.Time
	SessionTTL time.Duration // default 12 h
	// Secure marks cookies Secure (set when served over HTTPS).
	Secure bool

	mu    sync.Mutex
	fails map[string][]time.Time // user → recent failures
}

// New returns an Authenticator on s.
func New(s *store.Store, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{Store: s, Now: now, SessionTTL: 12 * time.Hour, fails: map[string][]time.Time{}}
}

// CreateUser adds a user with a bcrypt-hashed password.
func (a *Authenticator) CreateUser(name, display string, role assurance.Role, password string) error {
	if name == "" || strings.ContainsAny(name, " :*?/") || len(name) > 64 {
		return fmt.Errorf("auth: user name %q must be 1–64 characters without spaces or : * ? /", name)
	}
	if !role.Valid() {
		return fmt.Errorf("auth: role %q is not one of admin, commander, inspector, operator, viewer", role)
	}
	if len(password) < 8 {
		return errors.New("auth: password must be at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return a.Store.Create("user", name, store.User{Name: name, DisplayName: display, Role: role,
		PasswordHash: string(h), CreatedAt: a.Now()})
}

// SetPassword replaces a user's password.
func (a *Authenticator) SetPassword(name, password string) error {
	if len(password) < 8 {
		return errors.New("auth: password must be at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	_, err = store.Modify(a.Store, "user", name, func(u *store.User) error {
		u.PasswordHash = string(h)
		return nil
	})
	return err
}

// Login checks a name and password and returns a new session token.
func (a *Authenticator) Login(name, password string) (string, store.User, error) {
	if a.throttled(name) {
		return "", store.User{}, ErrTooManyTries
	}
	var u store.User
	if err := a.Store.Get("user", name, &u); err != nil || u.Disabled {
		// Spend the same time as a real check so names cannot be probed.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		a.fail(name)
		return "", store.User{}, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		a.fail(name)
		return "", store.User{}, ErrBadCredentials
	}
	tok, err := a.NewSession(u.Name)
	return tok, u, err
}

func (a *Authenticator) throttled(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cut := a.Now().Add(-time.Minute)
	recent := a.fails[name][:0]
	for _, t := range a.fails[name] {
		if t.After(cut) {
			recent = append(recent, t)
		}
	}
	a.fails[name] = recent
	return len(recent) >= 10
}

func (a *Authenticator) fail(name string) {
	a.mu.Lock()
	a.fails[name] = append(a.fails[name], a.Now())
	a.mu.Unlock()
}

// NewSession creates a session for user and returns its token.
func (a *Authenticator) NewSession(user string) (string, error) {
	tok, h := store.NewToken("s_")
	return tok, a.Store.Put("session", h, a.session(user, a.Now()))
}

func (a *Authenticator) session(user string, now time.Time) store.Session {
	return store.Session{User: user, CreatedAt: now, ExpiresAt: now.Add(a.SessionTTL)}
}

// EndSession deletes a session.
func (a *Authenticator) EndSession(token string) error {
	return a.Store.Delete("session", store.HashToken(token))
}

// NewAPIToken creates a bearer token acting as user.
func (a *Authenticator) NewAPIToken(user, name string) (string, error) {
	var u store.User
	if err := a.Store.Get("user", user, &u); err != nil {
		return "", err
	}
	tok, h := store.NewToken("at_")
	return tok, a.Store.Put("token", h, store.APIToken{User: user, Name: name, CreatedAt: a.Now()})
}

// NewLoginLink creates a one-time login token for user, valid for ttl.
func (a *Authenticator) NewLoginLink(user string, ttl time.Duration) (string, error) {
	var u store.User
	if err := a.Store.Get("user", user, &u); err != nil {
		return "", err
	}
	tok, h := store.NewToken("ll_")
	return tok, a.Store.Put("loginlink", h, store.LoginLink{User: user, ExpiresAt: a.Now().Add(ttl)})
}

// UseLoginLink consumes a one-time token and returns a new session token.
// Reading the link, deleting it and storing the session are one store
// Update, so of two uses of the same link at once exactly one logs in.
func (a *Authenticator) UseLoginLink(token string) (string, store.User, error) {
	h := store.HashToken(token)
	tok, sh := store.NewToken("s_")
	now := a.Now()
	var u store.User
	ok := false
	err := a.Store.Update(func(tx *store.Tx) error {
		var l store.LoginLink
		if err := tx.Get("loginlink", h, &l); err != nil {
			return ErrLinkUsed
		}
		if err := tx.Delete("loginlink", h); err != nil {
			return err
		}
		if now.After(l.ExpiresAt) {
			return nil // spent: the deletion is kept
		}
		if err := tx.Get("user", l.User, &u); err != nil || u.Disabled {
			return nil
		}
		ok = true
		return tx.Put("session", sh, a.session(u.Name, now))
	})
	if err != nil {
		return "", store.User{}, err
	}
	if !ok {
		return "", store.User{}, ErrLinkUsed
	}
	return tok, u, nil
}

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})

type ctxKey struct{}

// UserFrom returns the authenticated user of a request.
func UserFrom(ctx context.Context) (store.User, bool) {
	u, ok := ctx.Value(ctxKey{}).(store.User)
	return u, ok
}

// WithUser returns ctx carrying u.
func WithUser(ctx context.Context, u store.User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// Identify returns the user a request authenticates as: a Bearer API
// token, else the session cookie.
func (a *Authenticator) Identify(r *http.Request) (store.User, error) {
	var name string
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return store.User{}, errors.New("auth: Authorization must be \"Bearer <token>\"")
		}
		var t store.APIToken
		if err := a.Store.Get("token", store.HashToken(strings.TrimSpace(tok)), &t); err != nil {
			return store.User{}, errors.New("auth: unknown API token")
		}
		name = t.User
	} else if c, err := r.Cookie(CookieName); err == nil {
		var s store.Session
		if err := a.Store.Get("session", store.HashToken(c.Value), &s); err != nil {
			return store.User{}, errors.New("auth: session unknown or ended; log in again")
		}
		if a.Now().After(s.ExpiresAt) {
			return store.User{}, errors.New("auth: session expired; log in again")
		}
		name = s.User
	} else {
		return store.User{}, errors.New("auth: log in, or send Authorization: Bearer <api token>")
	}
	var u store.User
	if err := a.Store.Get("user", name, &u); err != nil || u.Disabled {
		return store.User{}, errors.New("auth: user disabled or removed")
	}
	return u, nil
}

// Require wraps h so that it runs only for users with at least role min.
// onErr writes the refusal (401 or 403 with a message).
func (a *Authenticator) Require(min assurance.Role, onErr func(w http.ResponseWriter, status int, msg string), h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.Identify(r)
		if err != nil {
			onErr(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !u.Role.AtLeast(min) {
			onErr(w, http.StatusForbidden, fmt.Sprintf("auth: this needs the %s role or above; you are %s", min, u.Role))
			return
		}
		h.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
	})
}

// SetCookie writes the session cookie.
func (a *Authenticator) SetCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.Secure, MaxAge: int(a.SessionTTL / time.Second)})
}

// ClearCookie removes the session cookie.
func (a *Authenticator) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
}
