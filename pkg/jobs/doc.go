// Package jobs is the work queue on the jobs table: transactional enqueue with
// (org_id, job_type, idempotency_key) dedup, batched claims with FOR UPDATE SKIP LOCKED, fenced
// completion and failure, exponential backoff, dead letters and their operator retry, the reaper
// for expired leases, heartbeats, release on shutdown, per-attempt job_logs and the pruner.
//
// # Guarantees
//
//   - A job enqueued in a transaction exists if and only if that transaction commits (R1).
//   - A claim is a lease: status running, locked_at (database clock) and locked_by, a value unique
//     to the claim (worker id + nonce). Every completion, failure, heartbeat and release is fenced
//     on (status = 'running', locked_by, attempts), so an attempt whose lease was reaped or
//     released changes nothing when it reports late (R6).
//   - A handler that writes to the database completes its job inside the same transaction
//     (Run.CompleteInTx), so its writes and its completion commit together or not at all (R7).
//     Handlers without database writes are completed in batches by the runtime.
//   - Delivery is at least once: a job whose worker dies is reaped after the lock timeout and
//     runs again, so every handler must be idempotent.
//
// All lease and schedule times come from the database clock (R9); Go computes only durations.
//
// The package imports only core packages (db, apperr); domain packages import it, never back.
package jobs
