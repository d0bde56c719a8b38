// Package cluster lets several shian-command instances on one PostgreSQL
// database act as one command centre: a [Bus] carries "this changed"
// notices between them over PostgreSQL LISTEN/NOTIFY, and a [Leader]
// picks the one instance that runs the assurance engine's loop, by a
// PostgreSQL advisory lock. Nothing here is a second database or a queue
// of our own: the rows are the truth, the notices only say which rows to
// read, and the lock lives as long as one database connection.
//
// # Bus: ids, not rows
//
// An instance that committed something publishes the ids on a topic:
//
//	bus.Publish(ctx, "results", []string{"r-1", "r-2"})
//
// Each topic is a NOTIFY channel (shian_<topic>). A payload is JSON
// {"o": origin, "ids": [...]}, and PostgreSQL refuses one of 8000 bytes
// or more, so Publish splits a long list into several notices of at most
// [MaxPayload] bytes each; one id longer than fits is an error. NOTIFY
// inside PostgreSQL is delivered only after the publishing transaction
// commits, and Publish uses a transaction of its own, so call it after
// the rows are committed: a receiver that reads the ids then finds them.
//
// Every instance listens on its own connection (pgx.Connect, LISTEN,
// WaitForNotification), never one of a pool. When that connection breaks
// — PostgreSQL restarted, the backend terminated, the network cut — the
// listener reconnects with a backoff (0.1 s doubling to 5 s) and, once
// listening again, calls every gap handler: notices sent while it was
// away are lost for good (PostgreSQL keeps none for a session that is not
// there), so the consumer must resync from the rows, as a browser does
// from a snapshot. A notice whose origin is the Bus's own is skipped: the
// instance that committed has already acted on it.
//
// # Leader: one engine
//
// [Leader.Run] takes pg_try_advisory_lock on a connection of its own and,
// while it holds it, runs fn(ctx). Every [LeaderOptions.Check] (1 s) it
// asks the connection a trivial query; when that fails the server has
// dropped the session, and with it the lock, so fn's context is cancelled
// and Run goes back to trying every [LeaderOptions.Retry] (2 s). A
// terminated or dead leader is thus replaced within about Check + Retry
// plus a connect. For a moment at a hand-over the old leader's fn may
// still be stopping while the new one starts: what fn writes must be
// idempotent in the database (one incident per result id), not in memory.
package cluster
