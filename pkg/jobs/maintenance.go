package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// ReapResult counts what one reaper pass did.
type ReapResult struct {
	Requeued     int
	DeadLettered int
}

// reapSQL frees leases older than the horizon: their holder died or hung without heartbeats.
// The expired attempt counts as failed; a job with no attempts left is dead-lettered. Clearing
// locked_by fences the old holder out for good.
const reapSQL = `
WITH stuck AS (
    SELECT org_id, id, locked_by
    FROM jobs
    WHERE status = 'running' AND locked_at < now() - $1::bigint * interval '1 millisecond'
    ORDER BY locked_at
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
), r AS (
    UPDATE jobs j
    SET status     = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END,
        failed_at  = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
        run_at     = now(),
        locked_at  = NULL,
        locked_by  = NULL,
        last_error = 'lease expired: worker stopped renewing it (reaped)'
    FROM stuck s
    WHERE j.org_id = s.org_id AND j.id = s.id
    RETURNING j.org_id, j.id, j.job_type, j.payload, j.attempts, j.status, j.last_error, s.locked_by
), dl AS (
    INSERT INTO dead_letter_jobs (org_id, job_id, job_type, payload, attempts, last_error, reason)
    SELECT org_id, id, job_type, payload, attempts, last_error, 'reaped' FROM r WHERE status = 'failed'
), lg AS (
    INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, error)
    SELECT org_id, id, job_type, attempts, locked_by, CASE WHEN status = 'failed' THEN 'dead' ELSE 'reaped' END, last_error
    FROM r
)
SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed') FROM r`

// Reap frees the leases older than horizon (WORKER_LOCK_TIMEOUT_MINUTES), up to 1,000 per call.
// Any number of reapers may run at once: SKIP LOCKED splits the work between them.
func (q *Queue) Reap(ctx context.Context, horizon time.Duration) (ReapResult, error) {
	var r ReapResult
	if err := q.pool.QueryRow(ctx, reapSQL, horizon.Milliseconds()).Scan(&r.Requeued, &r.DeadLettered); err != nil {
		return ReapResult{}, fmt.Errorf("reap jobs: %w", err)
	}
	return r, nil
}

// pruneSQL deletes one slice of completed jobs older than the retention, oldest first.
const pruneSQL = `
WITH old AS (
    SELECT org_id, id FROM jobs
    WHERE status = 'completed' AND completed_at < now() - $1::bigint * interval '1 millisecond'
    ORDER BY completed_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM jobs j USING old WHERE j.org_id = old.org_id AND j.id = old.id`

const pruneLogsSQL = `
DELETE FROM job_logs
WHERE (org_id, id) IN (
    SELECT org_id, id FROM job_logs
    WHERE finished_at < now() - $1::bigint * interval '1 millisecond'
    LIMIT $2
)`

// Prune deletes completed jobs and job logs older than retention, at most batch rows of each,
// and returns how many it deleted. Dead-lettered jobs are kept until an operator acts. Pruning
// keeps the tables small; the claim index only ever holds runnable rows anyway.
func (q *Queue) Prune(ctx context.Context, retention time.Duration, batch int) (int64, error) {
	tag, err := q.pool.Exec(ctx, pruneSQL, retention.Milliseconds(), batch)
	if err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	logs, err := q.pool.Exec(ctx, pruneLogsSQL, retention.Milliseconds(), batch)
	if err != nil {
		return 0, fmt.Errorf("prune job logs: %w", err)
	}
	return tag.RowsAffected() + logs.RowsAffected(), nil
}

// retrySQL reopens a dead-lettered job for a fresh set of attempts and marks the dead letter
// retried, in one statement; a dead letter can be retried once.
const retrySQL = `
WITH dl AS (
    UPDATE dead_letter_jobs
    SET retried_at = now(), retried_by = $3
    WHERE org_id = $1 AND id = $2 AND retried_at IS NULL
    RETURNING org_id, job_id
)
UPDATE jobs j
SET status = 'pending', attempts = 0, run_at = now(), failed_at = NULL, locked_at = NULL, locked_by = NULL
FROM dl
WHERE j.org_id = dl.org_id AND j.id = dl.job_id AND j.status = 'failed'
RETURNING j.id`

// RetryDeadLetter puts the job of dead letter id back in the queue with its attempts reset, in a
// tenant transaction of orgID of its own (see RetryDeadLetterTx). It returns apperr.NotFound for
// an unknown dead letter and apperr.Conflict for one already retried.
func (q *Queue) RetryDeadLetter(ctx context.Context, orgID uuid.UUID, deadLetterID int64, by string) (int64, error) {
	var jobID int64
	err := db.Tx(ctx, q.gorm, orgID, func(tx *gorm.DB) error {
		var err error
		jobID, err = q.RetryDeadLetterTx(ctx, tx, orgID, deadLetterID, by)
		return err
	})
	return jobID, err
}

// RetryDeadLetterTx is RetryDeadLetter in the caller's transaction tx, which must be scoped to
// orgID (db.Tx) when row-level security binds the connection, as it binds the api. It returns
// apperr.NotFound for an unknown dead letter (another org's included) and apperr.Conflict for one
// already retried; after an error the caller must roll tx back.
func (q *Queue) RetryDeadLetterTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, deadLetterID int64, by string) (int64, error) {
	conn := db.Conn(tx)
	var jobID int64
	err := conn.QueryRowContext(ctx, retrySQL, orgID.String(), deadLetterID, by).Scan(&jobID)
	if err == nil {
		return jobID, nil
	}
	if !isNoRows(err) {
		return 0, fmt.Errorf("retry dead letter %d: %w", deadLetterID, err)
	}
	// Nothing retried: tell an unknown dead letter from a retried one. (A dead letter whose job
	// is not failed would have been marked retried by the statement above; the Conflict makes
	// the caller roll that back.)
	var retried bool
	err = conn.QueryRowContext(ctx, `SELECT retried_at IS NOT NULL FROM dead_letter_jobs WHERE org_id = $1 AND id = $2`,
		orgID.String(), deadLetterID).Scan(&retried)
	switch {
	case isNoRows(err):
		return 0, apperr.Errorf(apperr.NotFound, "dead letter %d not found", deadLetterID)
	case err != nil:
		return 0, fmt.Errorf("retry dead letter %d: %w", deadLetterID, err)
	default:
		return 0, apperr.Errorf(apperr.Conflict, "dead letter %d was already retried", deadLetterID)
	}
}

// Depth returns the number of jobs per status, for pending, running and failed (the states an
// operator watches; completed rows are history and counting them would cost a scan).
func (q *Queue) Depth(ctx context.Context) (map[Status]int64, error) {
	var pending, running, failed int64
	err := q.pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM jobs WHERE status = 'pending'),
       (SELECT count(*) FROM jobs WHERE status = 'running'),
       (SELECT count(*) FROM dead_letter_jobs WHERE retried_at IS NULL)`).Scan(&pending, &running, &failed)
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	return map[Status]int64{StatusPending: pending, StatusRunning: running, StatusFailed: failed}, nil
}

// isNoRows reports an empty single-row result, from the pgx pool or from database/sql (gorm).
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) }
