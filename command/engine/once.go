package engine

import (
	"errors"
	"fmt"

	"github.com/shianfood/shian/command/store"
)

// What makes the engine's effects happen once in the database, whatever
// runs it: a second engine (the old leader of a cluster still running for
// up to a check after it lost the lock, decision 0026), an API handler on
// another instance, or a resend racing a Recover. Each effect is decided
// and recorded inside the one store transaction that carries it
// (docs/decisions/0029-engine-once-in-the-database.md):
//
//   - an incident for a result: the transaction claims
//     incident-by-result:<result_id> (Create: on PostgreSQL an INSERT …
//     ON CONFLICT DO NOTHING, which waits for a concurrent claim of the
//     same key to commit or roll back), takes the day's next number from
//     incident-seq:<YYYYMMDD> (the row locked FOR UPDATE), and creates the
//     incident, its incident_warned alarm with it. The loser of a race
//     finds the claim and returns the winner's incident;
//   - an escalation: the incident is re-read (locked) in the transaction,
//     the escalation re-derived from the stored record, and the mark and
//     the incident_overdue alarm are written together, or neither;
//   - a cluster warning: the cluster record and its alarm are created
//     together; a cluster that is already stored only grows;
//   - a duty-log retention alarm: the gaps to raise are chosen against the
//     stored marks inside the transaction that writes them;
//   - an emergency's number: counted and created in one transaction, run
//     again on a clash.
//
// The in-memory indexes (byResult, open, marks, waits, holds, recent) are
// a view for speed, rebuilt at each leader term (Reload); they never
// decide alone that something is new.

// Store kinds of the engine's idempotency keys.
const (
	// kindResultClaim is result_id → the incident it opened: written in
	// the transaction that creates the incident.
	kindResultClaim = "incident-by-result"
	// kindIncidentSeq is a day (YYYYMMDD, the command's zone) → the last
	// incident number taken that day.
	kindIncidentSeq = "incident-seq"
)

// resultClaim is the record of kindResultClaim.
type resultClaim struct {
	Incident string `json:"incident"`
}

// daySeq is the record of kindIncidentSeq.
type daySeq struct {
	Last int `json:"last"`
}

// errClash is a concurrent creation of the same new key (a day's first
// counter, an incident or emergency number) by another transaction: the
// whole transaction is run again, and then sees the other's row.
var errClash = errors.New("assure: a concurrent transaction took the same number; trying again")

// clashRetries is how often a transaction that lost a clash is run again.
const clashRetries = 5

// retryClash runs fn until it does not return errClash (or a store
// conflict), at most clashRetries times.
func retryClash(fn func() error) error {
	var err error
	for range clashRetries {
		err = fn()
		if !errors.Is(err, errClash) && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return err
}

// claimResult claims resultID for a new incident inside tx. It returns
// the incident that already holds the claim (and writes nothing), or ""
// when tx now holds it: the caller must then create the incident and
// record it with setClaim in the same transaction. A claim whose incident
// is not stored (a record lost on its own) is taken over.
func claimResult(tx *store.Tx, resultID string) (existing string, err error) {
	var c resultClaim
	switch err := tx.Get(kindResultClaim, resultID, &c); {
	case err == nil:
		if c.Incident != "" && incidentStored(tx, c.Incident) {
			return c.Incident, nil
		}
		return "", nil // taken over: setClaim rewrites it
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	switch err := tx.Create(kindResultClaim, resultID, resultClaim{}); {
	case err == nil:
		return "", nil
	case errors.Is(err, store.ErrConflict):
		// Another transaction claimed it and committed while we looked
		// (on PostgreSQL the INSERT waited for it): read its claim.
		if err := tx.Get(kindResultClaim, resultID, &c); err != nil {
			return "", err
		}
		if c.Incident == "" {
			return "", errClash
		}
		return c.Incident, nil
	default:
		return "", err
	}
}

// setClaim records that resultID opened incident id.
func setClaim(tx *store.Tx, resultID, id string) error {
	return tx.Put(kindResultClaim, resultID, resultClaim{Incident: id})
}

// incidentStored reports whether incident id is stored, without locking
// its row.
func incidentStored(tx *store.Tx, id string) bool {
	k, err := tx.FirstKey(kindIncident, id)
	return err == nil && k == id
}

// nextIncidentID takes the next incident number of day inside tx:
// INC-YYYYMMDD-NNNN from the day's counter in the database (its row
// locked until tx ends, so two transactions never take the same number).
// A day without a counter yet (the first incident of the day, or records
// written before the counter existed) starts from hint, the highest
// number this engine saw; whichever way it starts, a number whose
// incident is already stored is skipped. It returns errClash when another
// transaction created the day's counter first.
func nextIncidentID(tx *store.Tx, day string, hint int) (string, error) {
	var c daySeq
	err := tx.Get(kindIncidentSeq, day, &c)
	fresh := errors.Is(err, store.ErrNotFound)
	if err != nil && !fresh {
		return "", err
	}
	n := c.Last
	if fresh {
		n = hint
	}
	var id string
	for {
		n++
		id = fmt.Sprintf("INC-%s-%04d", day, n)
		if !incidentStored(tx, id) {
			break
		}
	}
	c.Last = n
	if !fresh {
		return id, tx.Put(kindIncidentSeq, day, c)
	}
	switch err := tx.Create(kindIncidentSeq, day, c); {
	case errors.Is(err, store.ErrConflict):
		return "", errClash
	default:
		return id, err
	}
}
