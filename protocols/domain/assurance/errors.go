package assurance

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Every error this package returns wraps exactly one of
// them, so callers branch with [errors.Is] and read details with
// [errors.As] on the typed errors below. [ErrorCode] turns any of them into
// a stable machine code for an API response.
var (
	// ErrInvalid: the input is malformed or incomplete (a missing name, a
	// date range the wrong way round). Fix the input and retry.
	ErrInvalid = errors.New("assurance: invalid input")
	// ErrIllegalTransition: the state machine does not have this edge.
	// The [*TransitionError] lists what is allowed from the current state.
	ErrIllegalTransition = errors.New("assurance: illegal transition")
	// ErrForbidden: the actor's role may not perform this action (or an
	// inspector is not on the assigned team). See [*RoleError].
	ErrForbidden = errors.New("assurance: forbidden")
	// ErrPrecondition: the edge exists and the role may take it, but a
	// rule of the protocol is not met yet (evidence missing, a re-test is
	// pending, rectification items are open). See [*PreconditionError].
	ErrPrecondition = errors.New("assurance: precondition not met")
	// ErrNotReady: an event cannot become ready or go live while readiness
	// checklist items are open. See [*NotReadyError].
	ErrNotReady = errors.New("assurance: readiness checklist open")
	// ErrRetestRefused: a re-test (复检) request cannot be honoured. See
	// [*RetestError].
	ErrRetestRefused = errors.New("assurance: re-test refused")
)

// Code is the machine-readable class of an error, stable across releases,
// for API responses and logs.
type Code string

// Error codes, one per sentinel.
const (
	CodeInvalid           Code = "invalid"
	CodeIllegalTransition Code = "illegal_transition"
	CodeForbidden         Code = "forbidden"
	CodePrecondition      Code = "precondition_failed"
	CodeNotReady          Code = "not_ready"
	CodeRetestRefused     Code = "retest_refused"
	// CodeInternal is what [ErrorCode] returns for an error that did not
	// come from this package.
	CodeInternal Code = "internal"
)

// ErrorCode returns the [Code] of err, or [CodeInternal] when err is not an
// error of this package (and "" for a nil error). A suggested HTTP mapping:
// invalid 400, forbidden 403, illegal_transition / precondition_failed /
// not_ready / retest_refused 409 (or 422), internal 500.
func ErrorCode(err error) Code {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrInvalid):
		return CodeInvalid
	case errors.Is(err, ErrIllegalTransition):
		return CodeIllegalTransition
	case errors.Is(err, ErrForbidden):
		return CodeForbidden
	case errors.Is(err, ErrPrecondition):
		return CodePrecondition
	case errors.Is(err, ErrNotReady):
		return CodeNotReady
	case errors.Is(err, ErrRetestRefused):
		return CodeRetestRefused
	}
	return CodeInternal
}

// ValidationError says which field of an input is wrong and why. Several are
// joined with [errors.Join] when an input has more than one problem.
type ValidationError struct {
	Field   string // JSON path of the field, e.g. "sittings[0].meal"
	Problem string // what is wrong and what to write instead
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Problem)
}

// Unwrap returns [ErrInvalid].
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// invalid builds a *ValidationError.
func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// TransitionError is returned when a state machine has no edge from its
// current state to the requested one. Its message names both states with
// their zh-CN labels and lists every state allowed from here, so an operator
// reading it knows what to do instead.
type TransitionError struct {
	Machine string   // "incident", "event", "menu", "banquet"
	ID      string   // the record's id
	From    string   // current state identifier
	To      string   // requested state identifier
	Allowed []string // states reachable from From (empty for a final state)
}

func (e *TransitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: cannot go from %s to %s", e.Machine, e.ID, labelled(e.From), labelled(e.To))
	if len(e.Allowed) == 0 {
		fmt.Fprintf(&b, "; %s is final, nothing is allowed from it", e.From)
		return b.String()
	}
	b.WriteString("; allowed from ")
	b.WriteString(e.From)
	b.WriteString(": ")
	for i, s := range e.Allowed {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(labelled(s))
	}
	return b.String()
}

// Unwrap returns [ErrIllegalTransition].
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// RoleError is returned when an actor may not perform an action.
type RoleError struct {
	Action  string // what was attempted, e.g. "incident → assigned"
	Role    Role   // the actor's role
	Allowed []Role // roles that may perform it
	// Reason is set when the role is allowed in general but not here, e.g.
	// "inspector u-7 is on team T2, the incident is assigned to team T1".
	Reason string
}

func (e *RoleError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s: %s", e.Action, e.Reason)
	}
	names := make([]string, len(e.Allowed))
	for i, r := range e.Allowed {
		names[i] = labelled(string(r))
	}
	return fmt.Sprintf("%s: role %s may not do this; allowed roles: %s", e.Action, labelled(string(e.Role)), strings.Join(names, ", "))
}

// Unwrap returns [ErrForbidden].
func (e *RoleError) Unwrap() error { return ErrForbidden }

// PreconditionError is returned when an edge is legal and the role allowed,
// but a rule of the protocol is not satisfied yet.
type PreconditionError struct {
	Action string // e.g. "incident INC-1 → disposed"
	Rule   string // identifier of the rule, e.g. "evidence_required"
	Detail string // what is missing and what to do
}

func (e *PreconditionError) Error() string {
	return fmt.Sprintf("%s: %s", e.Action, e.Detail)
}

// Unwrap returns [ErrPrecondition].
func (e *PreconditionError) Unwrap() error { return ErrPrecondition }

// NotReadyError is returned when an event cannot become ready or go live
// because readiness checklist items are open.
type NotReadyError struct {
	EventID string
	To      EventPhase
	Open    []OpenItem
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "event %s cannot move to %s: %d readiness item(s) open", e.EventID, labelled(string(e.To)), len(e.Open))
	for i, o := range e.Open {
		if i == 5 {
			fmt.Fprintf(&b, "; … %d more", len(e.Open)-5)
			break
		}
		fmt.Fprintf(&b, "; kitchen %s: %s", o.KitchenID, o.Item.Label().EN)
		if o.Detail.EN != "" {
			fmt.Fprintf(&b, " (%s)", o.Detail.EN)
		}
	}
	return b.String()
}

// Unwrap returns [ErrNotReady].
func (e *NotReadyError) Unwrap() error { return ErrNotReady }

// RetestReason says why a re-test request was refused.
type RetestReason string

// Re-test refusal reasons.
const (
	// RetestWindowClosed: requested later than the window (4 h) after the
	// party received the rapid-test result.
	RetestWindowClosed RetestReason = "retest_window_closed"
	// RetestRapidMethod: the re-test would use a rapid method; the law
	// requires a non-rapid (laboratory) method.
	RetestRapidMethod RetestReason = "retest_rapid_method"
	// RetestNotRapid: the incident was not opened by a rapid-test result,
	// so there is nothing to re-test under the 4-hour rule.
	RetestNotRapid RetestReason = "retest_not_rapid"
	// RetestDuplicate: a re-test was already requested for this incident.
	RetestDuplicate RetestReason = "retest_duplicate"
	// RetestWaived: the party waived the re-test in writing.
	RetestWaived RetestReason = "retest_waived"
	// RetestTooLate: the incident is past the point where a re-test can
	// change anything (lab result in, or product already disposed).
	RetestTooLate RetestReason = "retest_too_late"
)

// Label returns the zh-CN and en label of the reason.
func (r RetestReason) Label() Label { return labelOf(string(r)) }

// RetestError is returned when a re-test (复检) request is refused.
type RetestError struct {
	IncidentID string
	Reason     RetestReason
	// ReceivedAt is when the party received the rapid-test result (the
	// window starts here), RequestedAt when the request was made, Window
	// the configured window (4 h). Set for RetestWindowClosed.
	ReceivedAt  time.Time
	RequestedAt time.Time
	Window      time.Duration
	Detail      string
}

func (e *RetestError) Error() string {
	l := e.Reason.Label()
	msg := fmt.Sprintf("incident %s: re-test (复检) refused: %s (%s)", e.IncidentID, l.EN, l.ZH)
	if e.Reason == RetestWindowClosed {
		msg += fmt.Sprintf(": requested %s after the result was received at %s; requests are honoured up to %s after it (until %s)",
			e.RequestedAt.Sub(e.ReceivedAt), e.ReceivedAt.Format(time.RFC3339), e.Window, e.ReceivedAt.Add(e.Window).Format(time.RFC3339))
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns [ErrRetestRefused].
func (e *RetestError) Unwrap() error { return ErrRetestRefused }

// labelled renders an identifier with its zh-CN label, e.g. `warned (预警)`.
func labelled(id string) string {
	if l, ok := LabelOf(id); ok {
		return fmt.Sprintf("%s (%s)", id, l.ZH)
	}
	if id == "" {
		return `""`
	}
	return id
}
