package command_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// accessRule is who may use a route: the least role (a user below it gets
// 403, no user 401), or public (no credential needed: every identity gets
// the same answer), or kiosk (a kiosk token: every user credential is
// refused with 401).
type accessRule struct {
	min    assurance.Role
	public bool
	kiosk  bool
	// probes are concrete requests to try instead of the pattern with
	// placeholders, each with its own least role (a route whose handler
	// refuses some of its paths to lower roles).
	probes []routeProbe
}

type routeProbe struct {
	path string
	min  assurance.Role
}

var (
	public  = accessRule{public: true}
	kioskTk = accessRule{kiosk: true}
	viewer  = accessRule{min: assurance.RoleViewer}
	oper    = accessRule{min: assurance.RoleOperator}
	insp    = accessRule{min: assurance.RoleInspector}
	cmdr    = accessRule{min: assurance.RoleCommander}
	admin   = accessRule{min: assurance.RoleAdmin}
)

// accessPolicy is the access policy, one line per route. Every route the
// router has must be here (TestEveryRouteHasARule), and every line must
// name a route the router has; each is tried with every role
// (TestRouteRoleMatrix). A new route therefore fails the tests until
// someone decides, here, who may use it.
var accessPolicy = map[string]accessRule{
	"GET /healthz":  public,
	"GET /readyz":   public,
	"GET /metrics":  public,
	"GET /":         public,
	"GET /s/{id}":   public,
	"GET /complain": public,

	// The diners' side (command/public): rate limited, read-only but the
	// complaint; the commanders read complaints and answer them.
	"GET /api/public/stalls/{id}":       public,
	"POST /api/public/complaints":       public,
	"GET /api/public/complaints/{code}": public,
	"GET /api/v1/complaints":            cmdr,
	"POST /api/v1/incidents/{id}/reply": cmdr,

	// Results from other systems than kiosks (command/api/imports.go).
	"GET /api/v1/imports/template.csv":      viewer,
	"POST /api/v1/sources/{source}/import":  oper,
	"POST /api/v1/sources/{source}/results": oper,
	"POST /api/v1/login":                    public,
	"POST /api/v1/logout":                   public,
	"GET /login":                            public,
	"GET /ws/kiosk":                         kioskTk,
	"GET /ws/live":                          viewer,

	"GET /api/v1/me":                   viewer,
	"GET /api/v1/results":              viewer,
	"GET /api/v1/results/{id}":         viewer,
	"GET /api/v1/stalls":               viewer,
	"POST /api/v1/stalls":              admin,
	"GET /api/v1/stalls/{id}":          viewer,
	"GET /api/v1/zones":                viewer,
	"POST /api/v1/zones":               admin,
	"POST /api/v1/venue":               admin,
	"GET /api/v1/kiosks":               viewer,
	"POST /api/v1/kiosks":              admin,
	"POST /api/v1/kiosks/{id}/disable": admin,
	"POST /api/v1/kiosks/{id}/enable":  admin,
	"DELETE /api/v1/kiosks/{id}":       admin,
	"GET /api/v1/alarms":               viewer,
	"POST /api/v1/alarms/{seq}/ack":    cmdr,
	"POST /api/v1/alarms/ack":          cmdr,
	"GET /api/v1/users":                admin,
	"GET /api/v1/users/names":          viewer,
	"POST /api/v1/users":               admin,
	"PATCH /api/v1/users/{name}":       admin,
	"GET /api/v1/tokens":               admin,
	"POST /api/v1/tokens":              admin,
	"DELETE /api/v1/tokens/{id}":       admin,
	"POST /api/v1/login-links":         admin,
	"GET /api/v1/audit":                admin,

	"GET /api/v1/ui-config":                viewer,
	"PUT /api/v1/ui-config":                admin,
	"DELETE /api/v1/ui-config":             admin,
	"GET /api/v1/labels":                   viewer,
	"GET /api/v1/stalls/{id}/qr.png":       viewer,
	"GET /api/v1/rules":                    viewer,
	"GET /api/v1/rules/versions":           viewer,
	"GET /api/v1/rules/versions/{version}": viewer,
	"PUT /api/v1/rules":                    admin,
	"PUT /api/v1/rules/lots/{id}":          admin,
	"DELETE /api/v1/rules/lots/{id}":       admin,

	"GET /api/v1/events":                                    viewer,
	"POST /api/v1/events":                                   cmdr,
	"GET /api/v1/events/{id}":                               viewer,
	"POST /api/v1/events/{id}/phase":                        cmdr,
	"GET /api/v1/events/{id}/readiness":                     viewer,
	"POST /api/v1/events/{id}/kitchens/{kitchen}/readiness": insp,
	"GET /api/v1/menus":                                     viewer,
	"POST /api/v1/menus":                                    insp,
	"POST /api/v1/menus/screen":                             viewer,
	"GET /api/v1/menus/{id}":                                viewer,
	"PUT /api/v1/menus/{id}/dishes":                         insp,
	"POST /api/v1/menus/{id}/transition":                    insp,
	"POST /api/v1/menus/{id}/decisions":                     insp,
	"GET /api/v1/teams":                                     viewer,
	"POST /api/v1/teams":                                    cmdr,
	"GET /api/v1/teams/nearest":                             viewer,
	"GET /api/v1/teams/load":                                viewer,
	"GET /api/v1/teams/{id}":                                viewer,
	// An inspector acts for their own team only (insp1 is on T-01).
	"POST /api/v1/teams/{id}/position":                      {min: assurance.RoleInspector, probes: []routeProbe{{"/api/v1/teams/T-01/position", assurance.RoleInspector}}},
	"POST /api/v1/teams/{id}/duty":                          {min: assurance.RoleInspector, probes: []routeProbe{{"/api/v1/teams/T-01/duty", assurance.RoleInspector}}},
	"GET /api/v1/patrols/plan":                              viewer,
	"GET /api/v1/patrols/visits":                            viewer,
	"POST /api/v1/patrols/visits":                           insp,
	"GET /api/v1/incidents":                                 viewer,
	"POST /api/v1/incidents":                                oper,
	"GET /api/v1/incidents/{id}":                            viewer,
	"POST /api/v1/incidents/{id}/transition":                insp,
	"POST /api/v1/incidents/{id}/retest":                    oper,
	"POST /api/v1/incidents/{id}/waiver":                    oper,
	"POST /api/v1/incidents/{id}/evidence":                  oper,
	"GET /api/v1/incidents/{id}/evidence/{ref}":             viewer,
	"GET /api/v1/clusters":                                  viewer,
	"GET /api/v1/banquets":                                  viewer,
	"POST /api/v1/banquets":                                 oper,
	"GET /api/v1/banquets/{id}":                             viewer,
	"POST /api/v1/banquets/{id}/transition":                 insp,
	"POST /api/v1/banquets/{id}/findings":                   insp,
	"POST /api/v1/banquets/{id}/rectifications/{rid}/close": insp,
	"POST /api/v1/banquets/{id}/evidence":                   oper,
	"GET /api/v1/banquets/{id}/evidence/{ref}":              viewer,
	"GET /api/v1/chefs":                                     viewer,
	"POST /api/v1/chefs":                                    oper,
	"POST /api/v1/chefs/{id}/training":                      oper,
	"GET /api/v1/vendors":                                   viewer,
	"GET /api/v1/vendors/{id}":                              viewer,
	"POST /api/v1/vendors/{id}/credit":                      insp,
	"GET /api/v1/meals":                                     viewer,
	"POST /api/v1/meals":                                    insp,
	"GET /api/v1/meals/{id}":                                viewer,
	"POST /api/v1/meals/{id}/duty":                          insp,
	"GET /api/v1/emergencies":                               viewer,
	"POST /api/v1/emergencies":                              oper,
	"GET /api/v1/emergencies/{id}":                          viewer,
	"POST /api/v1/emergencies/{id}/actions":                 insp,
	"GET /api/v1/trainings":                                 viewer,
	"POST /api/v1/trainings":                                insp,
	"GET /api/v1/events/{id}/report":                        viewer,
	"GET /api/v1/events/{id}/report.xlsx":                   viewer,
	"GET /api/v1/kpis":                                      viewer,
	"GET /api/v1/kpis/confirmations":                        viewer,
	"GET /api/v1/export/{file}":                             viewer,
}

// registered returns the patterns of every route the service's router has.
func registered(svc *command.Service) map[string]api.Route {
	out := map[string]api.Route{}
	for _, rt := range svc.API().Registered() {
		out[rt.Pattern] = rt
	}
	return out
}

// TestEveryRouteHasARule fails when a route is registered without a line
// in accessPolicy, or a line names a route that no longer exists, or the
// route's own declared role disagrees with the policy.
func TestEveryRouteHasARule(t *testing.T) {
	e := startAssure(t, command.Config{})
	routes := registered(e.svc)
	if len(routes) < 60 {
		t.Fatalf("only %d routes registered: is the router's list complete?", len(routes))
	}
	for p, rt := range routes {
		rule, ok := accessPolicy[p]
		if !ok {
			t.Errorf("route %q has no rule in accessPolicy (command/access_test.go): decide who may use it", p)
			continue
		}
		switch {
		case rule.public && rt.Access != api.AccessPublic,
			rule.kiosk && rt.Access != api.AccessKiosk,
			!rule.public && !rule.kiosk && (rt.Access != api.AccessRole || rt.Min != rule.min):
			t.Errorf("route %q is registered as %+v, the policy says %+v", p, rt, rule)
		}
	}
	for p := range accessPolicy {
		if _, ok := routes[p]; !ok {
			t.Errorf("accessPolicy names %q, which the router does not have: remove the line", p)
		}
	}
}

var placeholder = regexp.MustCompile(`\{([a-z]+)\}`)

// concrete turns a pattern into a method and a path to request.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = placeholder.ReplaceAllStringFunc(path, func(m string) string {
		switch m {
		case "{seq}", "{version}":
			return "999999"
		case "{file}":
			return "results.csv"
		}
		return "no-such-" + strings.Trim(m, "{}")
	})
	return method, path
}

// TestRouteRoleMatrix tries every route with every role, no credential, a
// disabled user and an unknown token, and checks the status against the
// policy: 401 without a valid credential, 403 below the least role, and
// neither at or above it (a 400 or 404 for the placeholder ids is fine:
// the gate let the request through).
func TestRouteRoleMatrix(t *testing.T) {
	e := startAssure(t, command.Config{})
	if err := e.svc.Auth().CreateUser("root", "root", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Auth().CreateUser("gone", "gone", assurance.RoleAdmin, "correct horse"); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.tok["root"], err = e.svc.Auth().NewAPIToken("root", "test"); err != nil {
		t.Fatal(err)
	}
	if e.tok["gone"], err = e.svc.Auth().NewAPIToken("gone", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Modify(e.svc.Store(), "user", "gone", func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	e.tok["forged"] = "at_notatokenthisservicehasevermade"

	type who struct {
		user string // "" sends no credential
		role assurance.Role
		ok   bool // a valid credential
	}
	ids := []who{{"", "", false}, {"forged", "", false}, {"gone", assurance.RoleAdmin, false},
		{"viewer", assurance.RoleViewer, true}, {"op", assurance.RoleOperator, true},
		{"insp1", assurance.RoleInspector, true}, {"cmd1", assurance.RoleCommander, true}, {"root", assurance.RoleAdmin, true}}

	send := func(method, path, user string) (int, string) {
		var body io.Reader
		if method != "GET" {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequest(method, e.srv.URL+path, body)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+e.tok[user])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return resp.StatusCode, string(b)
	}

	patterns := slices.Sorted(func(yield func(string) bool) {
		for p := range registered(e.svc) {
			if !yield(p) {
				return
			}
		}
	})
	tried := 0
	for _, p := range patterns {
		rule, ok := accessPolicy[p]
		if !ok {
			continue // TestEveryRouteHasARule reports it
		}
		method, path := concrete(p)
		probes := rule.probes
		if len(probes) == 0 {
			probes = []routeProbe{{path, rule.min}}
		}
		for _, pr := range probes {
			var first int
			for i, id := range ids {
				code, body := send(method, pr.path, id.user)
				tried++
				what := fmt.Sprintf("%s %s as %q (%s)", method, pr.path, id.user, id.role)
				switch {
				case rule.public:
					if code == http.StatusTooManyRequests {
						// The login throttle answers whoever tries too
						// often from one address.
						code = http.StatusUnauthorized
					}
					if i == 0 {
						first = code
					} else if code != first {
						t.Errorf("%s: %d, but %d without a credential: a public route must not depend on who asks: %s", what, code, first, body)
					}
				case rule.kiosk:
					if code != http.StatusUnauthorized {
						t.Errorf("%s: %d, want 401 (only a kiosk token opens it): %s", what, code, body)
					}
				case !id.ok:
					if code != http.StatusUnauthorized {
						t.Errorf("%s: %d, want 401: %s", what, code, body)
					}
				case !id.role.AtLeast(pr.min):
					if code != http.StatusForbidden {
						t.Errorf("%s: %d, want 403 (needs %s): %s", what, code, pr.min, body)
					}
				default:
					if code == http.StatusUnauthorized || code == http.StatusForbidden || code >= 500 {
						t.Errorf("%s: %d, want the gate to let it through (needs %s): %s", what, code, pr.min, body)
					}
				}
			}
		}
	}
	t.Logf("%d routes, %d requests", len(patterns), tried)
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
