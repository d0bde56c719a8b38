package assurance

import "testing"

// TestRoleRank: the roles rank admin > commander > inspector > operator >
// viewer, and an undefined role reaches no level at all.
func TestRoleRank(t *testing.T) {
	roles := Roles()
	for i, r := range roles {
		for j, min := range roles {
			if got, want := r.AtLeast(min), i <= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", r, min, got, want)
			}
		}
		if r.Rank() != len(roles)-i {
			t.Errorf("%s ranks %d", r, r.Rank())
		}
	}
	for _, bad := range []Role{"", "root", "Admin"} {
		if bad.Rank() != 0 || bad.AtLeast(RoleViewer) {
			t.Errorf("undefined role %q ranks %d", bad, bad.Rank())
		}
	}
}
