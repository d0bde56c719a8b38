package assurance

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// t0 is the start of every test timeline: 2026-10-01 09:00 CST.
var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, ChinaStandardTime)

func at(d time.Duration) time.Time { return t0.Add(d) }

var (
	admin  = Actor{UserID: "admin-1", Role: RoleAdmin}
	cmdr   = Actor{UserID: "cmd-1", Role: RoleCommander}
	cmdr2  = Actor{UserID: "cmd-2", Role: RoleCommander}
	insp   = Actor{UserID: "insp-1", Role: RoleInspector, TeamID: "T1"}
	insp2  = Actor{UserID: "insp-2", Role: RoleInspector, TeamID: "T2"}
	oper   = Actor{UserID: "op-1", Role: RoleOperator}
	viewer = Actor{UserID: "view-1", Role: RoleViewer}
)

// actorOf returns a distinct user of role r (an inspector on team T1).
func actorOf(r Role) Actor {
	a := Actor{UserID: "u-" + string(r), Role: r}
	if r == RoleInspector {
		a.TeamID = "T1"
	}
	return a
}

func act(a Actor, t time.Time) Act { return Act{Actor: a, At: t} }

func evidence(kind string) []EvidenceRef { return []EvidenceRef{{Kind: kind, Ref: kind + "-1"}} }

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantIs fails unless errors.Is(err, target).
func wantIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// parseEdges reads "from -> to to …" lines into a set of "from>to".
func parseEdges(spec string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(spec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		from, tos, _ := strings.Cut(line, "->")
		for _, to := range strings.Fields(tos) {
			out[strings.TrimSpace(from)+">"+to] = true
		}
	}
	return out
}
