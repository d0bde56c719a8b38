package geo

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an [Error] so that callers can branch on it (an HTTP
// handler maps every Code to 400 Bad Request; see [Error]).
type Code string

// Error codes. Each names one thing that is wrong with the input.
const (
	// CodeTooLarge: the input exceeds a [Limits] cap (bytes, features,
	// positions).
	CodeTooLarge Code = "too_large"
	// CodeSyntax: the input is not JSON, or a member has the wrong JSON shape.
	CodeSyntax Code = "syntax"
	// CodeWrongType: a GeoJSON "type" (or a geometry type) is not the one
	// expected here.
	CodeWrongType Code = "wrong_type"
	// CodeNotFinite: a coordinate is NaN or ±Inf (or overflows float64).
	CodeNotFinite Code = "not_finite"
	// CodeOutOfRange: longitude outside [-180, 180] or latitude outside
	// [-90, 90].
	CodeOutOfRange Code = "out_of_range"
	// CodeBadPosition: a position has fewer than 2 or more than 3 numbers.
	CodeBadPosition Code = "bad_position"
	// CodeRingUnclosed: a linear ring's first and last positions differ.
	CodeRingUnclosed Code = "ring_unclosed"
	// CodeRingTooShort: a linear ring has fewer than 4 positions, or fewer
	// than 3 distinct vertices.
	CodeRingTooShort Code = "ring_too_short"
	// CodeRingDegenerate: a ring encloses no area (all vertices collinear).
	CodeRingDegenerate Code = "ring_degenerate"
	// CodeSelfIntersection: two edges of a ring cross or touch.
	CodeSelfIntersection Code = "self_intersection"
	// CodeHoleOutside: a hole (interior ring) is not inside its shell.
	CodeHoleOutside Code = "hole_outside_shell"
	// CodeEmpty: a geometry with no rings or polygons.
	CodeEmpty Code = "empty"
	// CodeProperty: a required property is missing or has the wrong type.
	CodeProperty Code = "property"
	// CodeDuplicateID: two features (or index items) share an id.
	CodeDuplicateID Code = "duplicate_id"
	// CodeInvalidArgument: a parameter of a call (not the data) is invalid,
	// e.g. a negative radius.
	CodeInvalidArgument Code = "invalid_argument"
)

// Error is the error type of this package. Every rejection of input returns
// an *Error, possibly wrapped, so callers can use [errors.As] or [ErrorCode]:
//
//	var ge *geo.Error
//	if errors.As(err, &ge) {
//		http.Error(w, ge.Error(), http.StatusBadRequest)
//	}
//
// The message names the feature by index and id and says what is wrong and
// how to fix it.
type Error struct {
	Code Code
	// Feature is the 0-based index of the offending feature (or index item,
	// or event) in the input, or -1 when the error is about the input as a
	// whole.
	Feature int
	// ID is the offending feature's id, when it was known.
	ID string
	// Path locates the problem inside the feature, e.g.
	// "geometry.coordinates[0][3]". Empty when not applicable.
	Path string
	// Msg says what is wrong and what to do.
	Msg string
	// Err is an underlying cause, if any (e.g. a *json.SyntaxError).
	Err error
}

// Error formats the error as
// `geo: feature 3 (id "Z-02") at geometry.coordinates[0]: ring_unclosed: …`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("geo: ")
	if e.Feature >= 0 {
		fmt.Fprintf(&b, "feature %d", e.Feature)
		if e.ID != "" {
			fmt.Fprintf(&b, " (id %q)", e.ID)
		}
		if e.Path != "" {
			b.WriteString(" at ")
			b.WriteString(e.Path)
		}
		b.WriteString(": ")
	} else if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the Code of the first *Error in err's chain, or "" if
// there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func errorf(code Code, feature int, id, path, format string, args ...any) *Error {
	return &Error{Code: code, Feature: feature, ID: id, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// at returns a copy of e placed at feature i with id, and path prefixed.
func (e *Error) at(i int, id, prefix string) *Error {
	c := *e
	c.Feature = i
	if c.ID == "" {
		c.ID = id
	}
	if prefix != "" {
		if c.Path != "" {
			c.Path = prefix + c.Path
		} else {
			c.Path = strings.TrimSuffix(prefix, ".")
		}
	}
	return &c
}
