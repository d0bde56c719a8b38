// Package assurance is the city's major-event food-safety assurance
// protocol, "three combinations, three strengthenings" (三结合三强化), as
// plain Go: value types and pure functions that validate and apply
// transitions. Nothing here does I/O or reads the clock; the command service
// loads a record, calls one method with the time and the actor, and stores
// the result.
package assurance
