package api

import (
	"net/http"
	"slices"

	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/command/store"
)

// sitesScope is, for a user scoped to events, which sites and businesses
// are in their scope: a site by its event, a business (a credit account:
// a site's business, or the site itself) by the events of its sites.
type sitesScope struct {
	scope []string
	site  map[string]string   // site id → event
	biz   map[string][]string // business id → events of its sites
}

// scopeOf reads the sites for the request's user; nil for an unscoped
// user (everything is in scope).
func (s *Server) scopeOf(r *http.Request) (*sitesScope, error) {
	scope := userOf(r).Events
	if len(scope) == 0 {
		return nil, nil
	}
	sc := &sitesScope{scope: scope, site: map[string]string{}, biz: map[string][]string{}}
	err := store.List(s.Store, "site", func(id string, st store.Site) bool {
		sc.site[id] = st.EventID
		for _, b := range []string{id, st.Business} {
			if b != "" && !slices.Contains(sc.biz[b], st.EventID) {
				sc.biz[b] = append(sc.biz[b], st.EventID)
			}
		}
		return true
	})
	return sc, err
}

// Site reports whether a site (or an id that is no site) is in scope.
func (sc *sitesScope) Site(id string) bool {
	return sc == nil || engine.InScope(sc.scope, sc.site[id])
}

// Business reports whether a credit account is in scope: one of its sites
// is.
func (sc *sitesScope) Business(id string) bool {
	return sc == nil || slices.ContainsFunc(sc.biz[id], func(ev string) bool { return engine.InScope(sc.scope, ev) })
}

// Any reports whether one of the sites is in scope.
func (sc *sitesScope) Any(ids []string) bool {
	return sc == nil || slices.ContainsFunc(ids, sc.Site)
}
