// Package assure runs the city's major-event assurance protocol
// (三结合三强化, protocols/domain/assurance) inside the command service: it keeps
// the protocol's records in the store, opens incidents from kiosk
// results, dispatches the nearest team, raises escalations and cluster
// warnings, and publishes every change to the live map.
//
// protocols/domain/assurance decides (pure state machines and rule tables); this
// package remembers, schedules and tells. Every step an API caller asks
// for is one protocol call on a record loaded from the store, with the
// engine's clock as its time; a refusal is the protocol's error, which the
// API maps to HTTP with assurance.ErrorCode.
//
// # From a result to an incident
//
// The ingest committer hands every stored group of results to
// [Engine.OnCommitted], which queues those that call for an incident
// (assurance.TriggerFor: positive, suspicious, a temperature method's
// fail) and returns; the engine's loop ([Engine.Run]) then, for each:
//
//  1. opens an incident in warned (预警), numbered INC-YYYYMMDD-NNNN by
//     the command's day, located at the stall's (else the kiosk's)
//     position, with the command's receive time as the start of the 4-hour
//     re-test window;
//  2. assigns (交办) the nearest eligible team by great-circle distance
//     (geo.NearestAvailable) with the configured deadline. Eligible means
//     on duty, not busy (assigned, on site or sealing an incident), and a
//     patrol team or the team stationed at that very kitchen;
//  3. tells the kiosk the incident number (ingest Notify), stores an
//     incident_warned alarm (to be acknowledged in the command centre) and
//     publishes incident, team and alert deltas;
//  4. books the result against the business's credit and, for a positive,
//     looks for a cluster of the same analyte (geo.FindClusters).
//
// When no team is eligible the incident waits in warned (with a transient
// no_team_available alert), and the loop assigns it as soon as one is
// free.
//
// # One incident per result
//
// Whether a result already has its incident is decided in the database,
// in the one store transaction that opens it ([Engine.OpenFromResult],
// once.go): the transaction claims incident-by-result:<result_id>
// (store.Tx.Create — on PostgreSQL the insert of a second, concurrent
// claim waits for the first to commit, then finds it), takes the day's
// next number from incident-seq:<YYYYMMDD> (on PostgreSQL the row is
// locked until the commit; a number whose incident is stored is skipped),
// and stores the incident and its incident_warned alarm. A result seen
// twice — a duplicate resend, a replay after a restart, the same result
// handed to two engines at once — opens one incident, and so does a
// repeat of the same sample (a result whose repeat_of names one that
// opened an incident). A claim whose incident is not stored is taken
// over. The engine also keeps result_id → incident in memory, as a fast
// path only; [Engine.Reload] gives every stored incident without a claim
// (records of an earlier version) its claim.
//
// A crash between storing a result (in the result history,
// command/history) and opening its incident (in the store) is repaired
// by [Engine.Recover] at the next start, which reads the history's
// positives, suspicious results and temperature failures of the last
// Config.RecoverWindow (48 h) by its verdict index and opens what has no
// incident (docs/decisions/0011-result-history.md).
//
// # Several instances, one engine at a time
//
// In cluster mode (command/cluster) the loop runs on the instance holding
// the engine's advisory lock; the API runs on every instance. A new
// leader calls [Engine.Reload] at the start of its term — the indexes
// (open incidents, escalation marks, repeat waits, the sites' holds, the
// recent positives of the cluster search, the highest number of each
// day) are rebuilt from the store — and then Run's Recover. The indexes
// are a view: every effect that must happen once is decided again on the
// stored record inside the transaction that records it, so an old leader
// still running for up to a lock check after it lost the lock, or an API
// call on another instance, duplicates nothing
// (docs/decisions/0029-engine-once-in-the-database.md). [Engine.Changed]
// refreshes the indexes from another instance's change notices.
//
// # Deadlines and escalations
//
// [Engine.Tick] (every Config.Tick; tests call it with an injected clock)
// asks assurance.Escalations for incidents past their state's deadline and
// raises each (state, level) once: an incident_overdue alarm with the
// level and the role to notify, an alert delta, and a mark on the
// incident so that a restart does not raise it again. The alarm and the
// mark are written in one transaction, after the escalation is derived
// again from the incident as stored (its row locked on PostgreSQL): of two
// engines ticking at once, one raises it. Cluster warnings (the cluster
// record with its alarm), duty-log retention alarms (the marks with the
// alarms) and emergency numbers (counted and created together, run again
// on a clash) are decided the same way.
//
// # Evidence
//
// Photos and reports are uploaded per incident or banquet
// ([Engine.AddEvidence]): read up to Config.MaxEvidence, the type sniffed
// from the bytes (JPEG, PNG, GIF, WebP, PDF only), written and synced
// under DATA/evidence named by SHA-256, then listed on the record with a
// ref ("ev-…") that steps cite. A cited "ev-" ref must have been uploaded
// for that record; other refs (a seal number, a report number) are kept
// as written.
//
// # Live map
//
// Deltas are published after the engine's lock is released, and
// [Engine.SnapshotExtra] reads only the store ([Engine.OpenAt] a small
// lock of its own), so the live hub can build a snapshot from its own
// goroutine while the engine publishes. An open incident holds its site
// alarming on the map until it is closed ([Engine.OpenAt],
// wire.StallState.OpenIncident), whatever later results say. Kinds:
// incident, team, event, banquet and alert (store.Alarm), each carrying
// the same JSON as the REST route that reads it (command/README.md).
//
// # Scope
//
// Users scoped to events (store.User.Events) see only records of those
// events ([InScope]); banquets belong to no event, so scoped users do not
// see them. Inspectors act only for their own team — the protocol checks
// it for incidents and banquets, the engine for positions, visits and
// evidence.
package engine
