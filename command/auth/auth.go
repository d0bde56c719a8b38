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
//     as its user until it expires (at most [MaxTokenTTL]) or an admin
//     revokes it ([Authenticator.RevokeToken]).
//
// Every way in is checked again on every request: a disabled user, an
// ended or expired session, a revoked or expired token is refused at once
// (401). What is already open on a credential — a /ws/live websocket — is
// closed by the caller that ends it (command/api, with close code 4003),
// and swept every minute for what ends by itself (expiry).
//
// # Credentials
//
// A request's credential is named by its store key ("session:<sha256>" or
// "token:<sha256>"; [CredentialFrom]), so that what was opened with it can
// be found and closed when it ends, and [Authenticator.Valid] can tell
// whether it still holds. No token is ever stored or logged in clear.
//
// # Throttling
//
// Failed logins are counted per (user name, client address) and per
// client address ([Authenticator.Login]); past a few, each further try
// waits longer (1 s, 2 s, 4 s … up to 15 min), and a try while waiting is
// refused without checking the password. Nothing is counted per user name
// alone, so no one can lock a user out from another address.
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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	ErrTooManyTries   = errors.New("auth: too many failed logins from this address; wait and try again")
	ErrLinkUsed       = errors.New("auth: this login link is unknown, used or expired; ask for a new one")
	ErrLastAdmin      = errors.New("auth: this is the last enabled admin; enable or create another admin first")
	ErrTTL            = errors.New("auth: validity out of range")
)

// Limits on how long credentials live.
const (
	// MaxLoginLinkTTL is the longest a one-time login link may be valid.
	MaxLoginLinkTTL = 24 * time.Hour
	// MaxTokenTTL is the longest an API token may be valid.
	MaxTokenTTL = 366 * 24 * time.Hour
	// DefaultTokenTTL is an API token's validity when none is asked for.
	DefaultTokenTTL = 90 * 24 * time.Hour
)

// Authenticator checks credentials against the store.
type Authenticator struct {
	Store      *store.Store
	Now        func() time.Time
	SessionTTL time.Duration // default 12 h
	// Secure marks every cookie Secure (the service is served over
	// HTTPS); SetCookie also marks it for a request that came over TLS.
	Secure bool

	// Cost is bcrypt's cost for new password hashes (default
	// bcrypt.DefaultCost; tests use bcrypt.MinCost).
	Cost int

	// Failures keeps the login throttle's counts (default: in memory;
	// in cluster mode the service sets one in PostgreSQL). Set it before
	// the first Login.
	Failures FailureCounts

	throttle  throttle
	dummyOnce sync.Once
	dummy     []byte
}

// New returns an Authenticator on s.
func New(s *store.Store, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{Store: s, Now: now, SessionTTL: 12 * time.Hour}
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
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cost())
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
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cost())
	if err != nil {
		return err
	}
	_, err = store.Modify(a.Store, "user", name, func(u *store.User) error {
		u.PasswordHash = string(h)
		return nil
	})
	return err
}

// Login checks a name and password from a client address (its host:
// "203.0.113.7" or "2001:db8::1"; see [Authenticator] on throttling) and
// returns a new session token. While the (name, address) pair or the
// address is waiting after failures it returns a *[ThrottledError]
// (errors.Is ErrTooManyTries) without checking the password.
func (a *Authenticator) Login(name, password, addr string) (string, store.User, error) {
	now := a.Now()
	counts := a.failures()
	wait, err := throttleWait(counts, name, addr, now)
	if err != nil {
		return "", store.User{}, fmt.Errorf("auth: cannot check the login throttle (%w); try again when the database answers", err)
	}
	if wait > 0 {
		return "", store.User{}, &ThrottledError{RetryAfter: wait}
	}
	var u store.User
	if err := a.Store.Get("user", name, &u); err != nil || u.Disabled {
		// Spend the same time as a real check so names cannot be probed.
		bcrypt.CompareHashAndPassword(a.dummyHash(), []byte(password))
		throttleFail(counts, name, addr, now) // an error: the database is down, and so is every login
		return "", store.User{}, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		throttleFail(counts, name, addr, now)
		return "", store.User{}, ErrBadCredentials
	}
	throttleSucceed(counts, name, addr)
	tok, err := a.NewSession(u.Name)
	return tok, u, err
}

func (a *Authenticator) failures() FailureCounts {
	if a.Failures != nil {
		return a.Failures
	}
	return &a.throttle
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

// NewAPIToken creates a bearer token acting as user, valid for
// [DefaultTokenTTL].
func (a *Authenticator) NewAPIToken(user, name string) (string, error) {
	tok, _, err := a.IssueToken(user, name, "", DefaultTokenTTL)
	return tok, err
}

// IssueToken creates a bearer token acting as user, made by by (an
// admin's name, or "" for the service itself), valid for ttl (at most
// [MaxTokenTTL]). It returns the token — shown once, stored only as its
// hash — and its record.
func (a *Authenticator) IssueToken(user, name, by string, ttl time.Duration) (string, store.APIToken, error) {
	if ttl <= 0 || ttl > MaxTokenTTL {
		return "", store.APIToken{}, fmt.Errorf("%w: an API token is valid for 1 s to %d days, not %v", ErrTTL, MaxTokenTTL/(24*time.Hour), ttl)
	}
	if len(name) > 100 {
		return "", store.APIToken{}, errors.New("auth: a token's name is at most 100 characters")
	}
	var u store.User
	if err := a.Store.Get("user", user, &u); err != nil {
		return "", store.APIToken{}, err
	}
	tok, h := store.NewToken("at_")
	now := a.Now()
	t := store.APIToken{ID: TokenID(h), User: user, Name: name, CreatedBy: by, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	return tok, t, a.Store.Put("token", h, t)
}

// TokenID is the public name of a token with stored hash h: its first 16
// hex digits. It names the token in lists and in DELETE /api/v1/tokens/{id}
// and reveals nothing of the token.
func TokenID(h string) string { return h[:16] }

// Tokens returns every API token's record (never the token), oldest
// first. A record of an earlier version without an id gets it from its
// key.
func (a *Authenticator) Tokens() ([]store.APIToken, error) {
	var out []store.APIToken
	err := store.List(a.Store, "token", func(h string, t store.APIToken) bool {
		t.ID = TokenID(h)
		out = append(out, t)
		return true
	})
	slices.SortStableFunc(out, func(x, y store.APIToken) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out, err
}

// RevokeToken deletes the API token with the given id and returns its
// record and its credential (see [CredentialFrom]), so that what is open
// on it can be closed. An unknown id is store.ErrNotFound.
func (a *Authenticator) RevokeToken(id string) (store.APIToken, string, error) {
	var t store.APIToken
	var key string
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return t, "", fmt.Errorf("API token %q: %w", id, store.ErrNotFound)
	}
	err := a.Store.Update(func(tx *store.Tx) error {
		h, err := tx.FirstKey("token", id)
		if err != nil {
			return err
		}
		if err := tx.Get("token", h, &t); err != nil {
			return err
		}
		key = "token:" + h
		return tx.Delete("token", h)
	})
	t.ID = id
	return t, key, err
}

// NewLoginLink creates a one-time login token for user, valid for ttl
// (at most [MaxLoginLinkTTL]).
func (a *Authenticator) NewLoginLink(user string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxLoginLinkTTL {
		return "", fmt.Errorf("%w: a login link is valid for 1 s to %v, not %v", ErrTTL, MaxLoginLinkTTL, ttl)
	}
	var u store.User
	if err := a.Store.Get("user", user, &u); err != nil {
		return "", err
	}
	if u.Disabled {
		return "", fmt.Errorf("auth: user %q is disabled; enable it first", user)
	}
	tok, h := store.NewToken("ll_")
	return tok, a.Store.Put("loginlink", h, store.LoginLink{User: user, ExpiresAt: a.Now().Add(ttl)})
}

// Users returns every user, by name (the password hashes included: the
// caller shows only what it should).
func (a *Authenticator) Users() ([]store.User, error) { return store.All[store.User](a.Store, "user") }

// UserChange is a change to a user; nil fields stay as they are.
type UserChange struct {
	DisplayName *string
	Role        *assurance.Role
	Events      *[]string
	TeamID      *string
	Disabled    *bool
	Password    *string
}

// ChangeUser applies c to user name in one Update and returns the user.
// Disabling a user also ends every session of theirs (a later enable does
// not bring them back); disabling or demoting the last enabled admin is
// refused with ErrLastAdmin.
func (a *Authenticator) ChangeUser(name string, c UserChange) (store.User, error) {
	var hash string
	if c.Password != nil {
		if len(*c.Password) < 8 {
			return store.User{}, errors.New("auth: password must be at least 8 characters")
		}
		h, err := bcrypt.GenerateFromPassword([]byte(*c.Password), a.cost())
		if err != nil {
			return store.User{}, err
		}
		hash = string(h)
	}
	if c.Role != nil && !c.Role.Valid() {
		return store.User{}, fmt.Errorf("auth: role %q is not one of admin, commander, inspector, operator, viewer", *c.Role)
	}
	var u store.User
	err := a.Store.Update(func(tx *store.Tx) error {
		if err := tx.Get("user", name, &u); err != nil {
			return err
		}
		wasAdmin := u.Role == assurance.RoleAdmin && !u.Disabled
		if c.DisplayName != nil {
			u.DisplayName = *c.DisplayName
		}
		if c.Role != nil {
			u.Role = *c.Role
		}
		if c.Events != nil {
			u.Events = *c.Events
		}
		if c.TeamID != nil {
			u.TeamID = *c.TeamID
		}
		if c.Disabled != nil {
			u.Disabled = *c.Disabled
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		if wasAdmin && (u.Role != assurance.RoleAdmin || u.Disabled) {
			others := 0
			if err := tx.Each("user", func(id string, raw []byte) error {
				var o store.User
				if id != name && json.Unmarshal(raw, &o) == nil && o.Role == assurance.RoleAdmin && !o.Disabled {
					others++
				}
				return nil
			}); err != nil {
				return err
			}
			if others == 0 {
				return ErrLastAdmin
			}
		}
		if u.Disabled || hash != "" {
			// A disabled user's sessions end; so do all sessions when the
			// password changes (whoever knew the old one is logged out).
			var ended []string
			if err := tx.Each("session", func(id string, raw []byte) error {
				var ss store.Session
				if json.Unmarshal(raw, &ss) == nil && ss.User == name {
					ended = append(ended, id)
				}
				return nil
			}); err != nil {
				return err
			}
			for _, id := range ended {
				if err := tx.Delete("session", id); err != nil {
					return err
				}
			}
		}
		return tx.Put("user", name, u)
	})
	return u, err
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

// dummyHash is a hash of the passwords' cost that matches no password: a
// login for a name that does not exist spends as long as a real one.
func (a *Authenticator) dummyHash() []byte {
	a.dummyOnce.Do(func() { a.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password"), a.cost()) })
	return a.dummy
}

func (a *Authenticator) cost() int {
	if a.Cost == 0 {
		return bcrypt.DefaultCost
	}
	return a.Cost
}

type ctxKey struct{}
type credKey struct{}

// UserFrom returns the authenticated user of a request.
func UserFrom(ctx context.Context) (store.User, bool) {
	u, ok := ctx.Value(ctxKey{}).(store.User)
	return u, ok
}

// WithUser returns ctx carrying u.
func WithUser(ctx context.Context, u store.User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// CredentialFrom returns the credential a request authenticated with (set
// by Require): "session:<sha256>" or "token:<sha256>", the store key of
// the session or API token.
func CredentialFrom(ctx context.Context) string {
	c, _ := ctx.Value(credKey{}).(string)
	return c
}

// SessionCredential is the credential of a session token.
func SessionCredential(token string) string { return "session:" + store.HashToken(token) }

// Identify returns the user a request authenticates as: a Bearer API
// token, else the session cookie.
func (a *Authenticator) Identify(r *http.Request) (store.User, error) {
	u, _, err := a.identify(r)
	return u, err
}

func (a *Authenticator) identify(r *http.Request) (store.User, string, error) {
	var cred string
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return store.User{}, "", errors.New("auth: Authorization must be \"Bearer <token>\"")
		}
		cred = "token:" + store.HashToken(strings.TrimSpace(tok))
	} else if c, err := r.Cookie(CookieName); err == nil {
		cred = SessionCredential(c.Value)
	} else {
		return store.User{}, "", errors.New("auth: log in, or send Authorization: Bearer <api token>")
	}
	u, err := a.Valid(cred)
	return u, cred, err
}

// Valid returns the user of a credential (see [CredentialFrom]) while it
// holds: the session or token exists and has not expired, and its user
// exists and is not disabled. Its error says which of these failed.
func (a *Authenticator) Valid(cred string) (store.User, error) {
	kind, h, _ := strings.Cut(cred, ":")
	var name string
	var expires time.Time
	switch kind {
	case "token":
		var t store.APIToken
		if err := a.Store.Get("token", h, &t); err != nil {
			return store.User{}, errors.New("auth: unknown or revoked API token")
		}
		name, expires = t.User, t.ExpiresAt // zero: a token of an earlier version, without expiry
	case "session":
		var s store.Session
		if err := a.Store.Get("session", h, &s); err != nil {
			return store.User{}, errors.New("auth: session unknown or ended; log in again")
		}
		name, expires = s.User, s.ExpiresAt
	default:
		return store.User{}, errors.New("auth: no credential")
	}
	if !expires.IsZero() && a.Now().After(expires) {
		if kind == "token" {
			return store.User{}, errors.New("auth: API token expired; ask an admin for a new one")
		}
		return store.User{}, errors.New("auth: session expired; log in again")
	}
	var u store.User
	if err := a.Store.Get("user", name, &u); err != nil || u.Disabled {
		return store.User{}, errors.New("auth: user disabled or removed")
	}
	return u, nil
}

// Require wraps h so that it runs only for users with at least role min.
// onErr writes the refusal (401 or 403 with a message); for a 403 the
// request carries the user (UserFrom) who was refused.
func (a *Authenticator) Require(min assurance.Role, onErr func(w http.ResponseWriter, r *http.Request, status int, msg string), h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, cred, err := a.identify(r)
		if err != nil {
			onErr(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		ctx := context.WithValue(WithUser(r.Context(), u), credKey{}, cred)
		r = r.WithContext(ctx)
		if !u.Role.AtLeast(min) {
			onErr(w, r, http.StatusForbidden, fmt.Sprintf("auth: this needs the %s role or above; you are %s", min, u.Role))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// SetCookie writes the session cookie; it is Secure when a.Secure is set
// or secure is (the request came over HTTPS, directly or through a
// trusted proxy).
func (a *Authenticator) SetCookie(w http.ResponseWriter, token string, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.Secure || secure, MaxAge: int(a.SessionTTL / time.Second)})
}

// ClearCookie removes the session cookie.
func (a *Authenticator) ClearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.Secure || secure, MaxAge: -1})
}
