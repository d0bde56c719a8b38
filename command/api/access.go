package api

// Users, API tokens and login links: who may come in, for how long, and
// how an admin takes it back. The model is docs/decisions/0020.
//
//	GET    /api/v1/users              every user (admin): name, role, events, team, disabled
//	GET    /api/v1/users/names        user id → display name and role, for the pages (viewer):
//	                                  the users the caller's event scope shows, nothing else
//	POST   /api/v1/users              create a user (admin)
//	PATCH  /api/v1/users/{name}       change a user (admin): disabled, role, display_name,
//	                                  events, team_id, password
//	GET    /api/v1/tokens             every API token's record, never the token (admin)
//	POST   /api/v1/tokens             make a token: {"user","name","ttl_days"} (admin)
//	DELETE /api/v1/tokens/{id}        revoke a token (admin)
//	POST   /api/v1/login-links        a one-time login link, at most 24 h (admin)
//
// Ending a credential closes what was opened with it: logging out, a
// revoked token and a disabled user close their /ws/live connections
// with close code 4003 (wire.CloseLoggedOut), so the page shows the login
// screen; a changed role or event scope closes them with 1001 so that the
// page reconnects and gets what the new scope shows.

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shianfood/shian/command/auth"
	"github.com/shianfood/shian/command/live"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
	"github.com/shianfood/shian/protocols/wire"
)

func (s *Server) registerAccess() {
	s.Handle("GET /api/v1/users", assurance.RoleAdmin, s.listUsers)
	s.Handle("GET /api/v1/users/names", assurance.RoleViewer, s.userNames)
	s.Handle("POST /api/v1/users", assurance.RoleAdmin, s.createUser)
	s.Handle("PATCH /api/v1/users/{name}", assurance.RoleAdmin, s.changeUser)
	s.Handle("GET /api/v1/tokens", assurance.RoleAdmin, s.listTokens)
	s.Handle("POST /api/v1/tokens", assurance.RoleAdmin, s.createToken)
	s.Handle("DELETE /api/v1/tokens/{id}", assurance.RoleAdmin, s.revokeToken)
	s.Handle("POST /api/v1/login-links", assurance.RoleAdmin, s.createLoginLink)
}

// adminUserView is a user as an admin sees it (never the password hash).
type adminUserView struct {
	userView
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.Auth.Users()
	out := make([]adminUserView, 0, len(us))
	for _, u := range us {
		out = append(out, adminUserView{userView: viewOf(u), Disabled: u.Disabled, CreatedAt: u.CreatedAt})
	}
	return reply(w, http.StatusOK, out, err)
}

// personView is what every page may know of a user: who they are to
// people. No events, team, password or state.
type personView struct {
	Name      string          `json:"name"` // the display name; the id when there is none
	Role      assurance.Role  `json:"role"`
	RoleLabel assurance.Label `json:"role_label"`
}

// userNames answers GET /api/v1/users/names: {"users": {id: personView}},
// so that the pages show 王检测, not op-01, wherever a record names who
// acted (docs/decisions/0034). A caller scoped to events sees the users
// who share one of their events and the unscoped ones (admins and
// commanders of every event, whose names are on every event's records);
// an unscoped caller sees everyone. Disabled users are listed: the records
// they signed still name them.
func (s *Server) userNames(w http.ResponseWriter, r *http.Request) error {
	us, err := s.Auth.Users()
	if err != nil {
		return err
	}
	scope := userOf(r).Events
	out := make(map[string]personView, len(us))
	for _, u := range us {
		if len(scope) > 0 && len(u.Events) > 0 && !slices.ContainsFunc(u.Events, func(ev string) bool { return slices.Contains(scope, ev) }) {
			continue
		}
		name := u.DisplayName
		if name == "" {
			name = u.Name
		}
		l, _ := assurance.LabelOf(string(u.Role))
		out[u.Name] = personView{Name: name, Role: u.Role, RoleLabel: l}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

type userReq struct {
	Name        string         `json:"name"`
	DisplayName string         `json:"display_name"`
	Role        assurance.Role `json:"role"`
	Password    string         `json:"password"`
	Events      []string       `json:"events,omitempty"`
	TeamID      string         `json:"team_id,omitempty"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	if err := s.Auth.CreateUser(req.Name, req.DisplayName, req.Role, req.Password); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrStorageFailed) {
			return err
		}
		return Invalid("%v", err)
	}
	if len(req.Events) > 0 || req.TeamID != "" {
		if _, err := s.Auth.ChangeUser(req.Name, auth.UserChange{Events: &req.Events, TeamID: &req.TeamID}); err != nil {
			return err
		}
	}
	rl, _ := assurance.LabelOf(string(req.Role))
	noteAudit(r, fmt.Sprintf("新建用户 %s（%s）/ user %s created, role %s", req.Name, cmp.Or(rl.ZH, string(req.Role)), req.Name, req.Role))
	WriteJSON(w, http.StatusCreated, map[string]string{"name": req.Name, "role": string(req.Role)})
	return nil
}

// userPatch is the body of PATCH /api/v1/users/{name}: the fields to
// change; the others stay.
type userPatch struct {
	DisplayName *string         `json:"display_name"`
	Role        *assurance.Role `json:"role"`
	Events      *[]string       `json:"events"`
	TeamID      *string         `json:"team_id"`
	Disabled    *bool           `json:"disabled"`
	Password    *string         `json:"password"`
}

func (s *Server) changeUser(w http.ResponseWriter, r *http.Request) error {
	var req userPatch
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	u, err := s.Auth.ChangeUser(name, auth.UserChange{DisplayName: req.DisplayName, Role: req.Role,
		Events: req.Events, TeamID: req.TeamID, Disabled: req.Disabled, Password: req.Password})
	switch {
	case errors.Is(err, auth.ErrLastAdmin):
		return Errorf(http.StatusConflict, CodeConflict, "这是最后一个启用的管理员，请先启用或创建另一个管理员 / %v", err)
	case err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrStorageFailed):
		return Invalid("%v", err)
	case err != nil:
		return err
	}
	var zh, en []string
	switch {
	case u.Disabled:
		zh, en = append(zh, "停用"), append(en, "disabled")
		s.Hub.Disconnect(func(o live.Owner) bool { return o.User == name }, wire.CloseLoggedOut, "user disabled")
	case req.Password != nil:
		zh, en = append(zh, "修改密码"), append(en, "password changed")
		// Every session of the user ended; their tokens hold.
		s.Hub.Disconnect(func(o live.Owner) bool { return o.User == name && isSession(o.Cred) }, wire.CloseLoggedOut, "password changed")
	case req.Role != nil || req.Events != nil || req.TeamID != nil:
		s.Hub.Disconnect(func(o live.Owner) bool { return o.User == name }, wire.CloseGoingAway, "role or scope changed; reconnect")
	}
	if req.Disabled != nil && !*req.Disabled {
		zh, en = append(zh, "启用"), append(en, "enabled")
	}
	if req.Role != nil {
		zh, en = append(zh, "角色改为 "+string(*req.Role)), append(en, "role "+string(*req.Role))
	}
	if req.Events != nil || req.TeamID != nil {
		zh, en = append(zh, "活动范围或保障组变更"), append(en, "events or team changed")
	}
	if req.DisplayName != nil {
		zh, en = append(zh, "姓名变更"), append(en, "name changed")
	}
	noteAudit(r, fmt.Sprintf("用户 %s：%s / user %s: %s", name, strings.Join(zh, "，"), name, strings.Join(en, ", ")))
	WriteJSON(w, http.StatusOK, adminUserView{userView: viewOf(u), Disabled: u.Disabled, CreatedAt: u.CreatedAt})
	return nil
}

func isSession(cred string) bool { return len(cred) > 8 && cred[:8] == "session:" }

// tokenView is an API token's record as it is listed.
type tokenView struct {
	store.APIToken
	Expired bool `json:"expired"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.Auth.Tokens()
	now := s.Now()
	out := make([]tokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenView{APIToken: t, Expired: !t.ExpiresAt.IsZero() && now.After(t.ExpiresAt)})
	}
	return reply(w, http.StatusOK, out, err)
}

type tokenReq struct {
	User string `json:"user"`
	Name string `json:"name"`
	// TTLDays is how long the token works (default 90, at most 366).
	TTLDays int `json:"ttl_days,omitempty"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	ttl := auth.DefaultTokenTTL
	if req.TTLDays != 0 {
		ttl = time.Duration(req.TTLDays) * 24 * time.Hour
	}
	if req.TTLDays < 0 || ttl > auth.MaxTokenTTL {
		return Invalid("ttl_days=%d: 令牌有效期为 1 至 366 天 / an API token is valid for 1 to 366 days", req.TTLDays)
	}
	tok, t, err := s.Auth.IssueToken(req.User, req.Name, userOf(r).Name, ttl)
	if err != nil {
		return err
	}
	noteAudit(r, fmt.Sprintf("为 %s 生成令牌 %s / token %s for %s", req.User, t.ID, t.ID, req.User))
	WriteJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "user": req.User, "name": t.Name, "token": tok, "expires_at": t.ExpiresAt})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, cred, err := s.Auth.RevokeToken(r.PathValue("id"))
	if err != nil {
		return err
	}
	s.Hub.Disconnect(func(o live.Owner) bool { return o.Cred == cred }, wire.CloseLoggedOut, "API token revoked")
	noteAudit(r, fmt.Sprintf("吊销 %s 的令牌 %s / token %s of %s revoked", t.User, t.ID, t.ID, t.User))
	WriteJSON(w, http.StatusOK, tokenView{APIToken: t})
	return nil
}

type linkReq struct {
	User       string `json:"user"`
	TTLSeconds int    `json:"ttl_seconds,omitempty"`
}

func (s *Server) createLoginLink(w http.ResponseWriter, r *http.Request) error {
	var req linkReq
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	ttl := 15 * time.Minute
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	if req.TTLSeconds < 0 || ttl > auth.MaxLoginLinkTTL {
		return Invalid("ttl_seconds=%d: 登录链接有效期最长 24 小时 / a login link is valid for at most 24 h (86400 s)", req.TTLSeconds)
	}
	tok, err := s.Auth.NewLoginLink(req.User, ttl)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return Invalid("%v", err)
	}
	noteAudit(r, fmt.Sprintf("为 %s 生成登录链接 / login link for %s", req.User, req.User))
	WriteJSON(w, http.StatusCreated, map[string]any{"user": req.User, "path": "/login?token=" + tok, "expires_at": s.Now().Add(ttl)})
	return nil
}
