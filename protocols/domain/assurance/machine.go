package assurance

import (
	"fmt"
	"slices"
	"strings"
)

// machine is the table of one state machine: its states, its edges and the
// roles that may take an edge (keyed by the target state, since each target
// is one action: "assign", "seal", "sign off" …). The tables are data so
// that tests can check every from × to pair and every role against them.
type machine[S ~string] struct {
	name   string
	states []S
	edges  map[S][]S
	roles  map[S][]Role
}

func (m *machine[S]) valid(s S) bool { return slices.Contains(m.states, s) }

func (m *machine[S]) next(from S) []S { return slices.Clone(m.edges[from]) }

func (m *machine[S]) can(from, to S) bool { return slices.Contains(m.edges[from], to) }

func (m *machine[S]) rolesFor(to S) []Role { return slices.Clone(m.roles[to]) }

// check refuses an edge the table lacks (TransitionError) or a role the
// table does not list for the target (RoleError).
func (m *machine[S]) check(id string, from, to S, actor Actor) error {
	if !m.valid(to) {
		names := make([]string, len(m.states))
		for i, s := range m.states {
			names[i] = string(s)
		}
		return invalid("to", "%q is not a %s state; states are %s", to, m.name, strings.Join(names, ", "))
	}
	if !m.can(from, to) {
		next := m.edges[from]
		allowed := make([]string, len(next))
		for i, s := range next {
			allowed[i] = string(s)
		}
		return &TransitionError{Machine: m.name, ID: id, From: string(from), To: string(to), Allowed: allowed}
	}
	if !slices.Contains(m.roles[to], actor.Role) {
		return &RoleError{Action: fmt.Sprintf("%s %s → %s", m.name, id, to), Role: actor.Role, Allowed: m.rolesFor(to)}
	}
	return nil
}

// parseEnum parses an identifier against the list of valid values.
func parseEnum[T ~string](kind, s string, all []T) (T, error) {
	t := T(strings.TrimSpace(s))
	if slices.Contains(all, t) {
		return t, nil
	}
	names := make([]string, len(all))
	for i, v := range all {
		names[i] = string(v)
	}
	return "", invalid(kind, "%q is not a %s; use one of %s", s, kind, strings.Join(names, ", "))
}

// staff is the set of roles that may act in the field or the command
// centre (everyone but operators and viewers).
var (
	rolesCommand = []Role{RoleAdmin, RoleCommander}
	rolesField   = []Role{RoleAdmin, RoleCommander, RoleInspector}
	rolesAnyone  = []Role{RoleAdmin, RoleCommander, RoleInspector, RoleOperator}
)

// requireRole checks that actor has one of roles for an action that is not
// a transition.
func requireRole(action string, actor Actor, roles []Role) error {
	if slices.Contains(roles, actor.Role) {
		return nil
	}
	return &RoleError{Action: action, Role: actor.Role, Allowed: slices.Clone(roles)}
}

// requireTeam checks that an inspector acts only for the team a record is
// assigned to. Commanders and admins act for any team.
func requireTeam(action string, actor Actor, teamID string) error {
	if actor.Role != RoleInspector || teamID == "" || actor.TeamID == teamID {
		return nil
	}
	return &RoleError{Action: action, Role: actor.Role, Reason: fmt.Sprintf(
		"inspector %s is on team %q, but this is assigned to team %q; ask a commander to reassign it", actor.UserID, actor.TeamID, teamID)}
}
