// Package jobs is the work queue on the jobs table: transactional enqueue with
// (org_id, job_type, idempotency_key) dedup, batched claims with FOR UPDATE SKIP LOCKED, fenced
// completion and failure, exponential backoff, dead letters and their operator retry, the reaper
// for expired leases, heartbeats, release on shutdown, per-attempt job_logs and the pruner.
//
// # Guarantees
//
//   - A job enqueued in a transaction exists if and only if that transaction commits.
//   - A claim is a lease: status running, locked_at (database clock) and locked_by, a value unique
//     to the claim (worker id + nonce). Every completion, failure, heartbeat and release is fenced
//     on (status = 'running', locked_by, attempts), so an attempt whose lease was reaped or
//     released changes nothing when it reports late.
//   - The work of a job kind (Kind, NewKind) writes in its batch's transaction (Batch.Exec), and
//     the jobs' completions commit in that same transaction, so the writes and the completions
//     commit together or not at all. Work without database writes is completed in batches by
//     the runtime (Queue.CompleteMany).
//   - Delivery is at least once: a job whose worker dies is reaped after the lock timeout and
//     runs again, so all work must be idempotent.
//   - This package is the only writer of the jobs table: other packages insert jobs within their
//     own statements through Insert, and the workers are woken for every insert without the
//     writer doing anything (the insert trigger, InsertedSQL, Waker). No transaction that the
//     services open for a request, a job batch or an intake delivery sends the trigger's NOTIFY
//     itself: each defers it and has a Waker send it after the commit (WakeAfterCommit for
//     db.DB.Tx), so that their commits never queue behind PostgreSQL's notify lock.
//
// All lease and schedule times come from the database clock; Go computes only durations.
//
// The package imports only core packages (db, apperr); domain packages import it, never back.
package jobs
