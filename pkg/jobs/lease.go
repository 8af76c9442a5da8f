package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// Completion is one finished attempt reported to CompleteMany.
type Completion struct {
	Job      *Job
	Duration time.Duration
}

// CompleteMany completes a batch of attempts in one statement, autocommit, and returns the ids
// of the jobs it completed; an attempt missing from the result had lost its lease (ErrLeaseLost).
func (q *Queue) CompleteMany(ctx context.Context, done []Completion) ([]int64, error) {
	if len(done) == 0 {
		return nil, nil
	}
	// Planned per call with the real arrays (see batchMode), so the plan fits the batch size.
	var completed []int64
	var inserted bool
	var failed *bool
	err := q.pool.QueryRow(ctx, completeSQL, append([]any{batchMode}, completion(done, false)...)...).Scan(&completed, &inserted, &failed)
	if err != nil {
		return nil, fmt.Errorf("complete jobs: %w", err)
	}
	return completed, nil
}

// CompleteTx completes job inside the caller's transaction tx, so that the caller's writes and
// the completion commit together: the same fenced completion as CompleteInTx's. It returns
// ErrLeaseLost when the attempt no longer holds the job; the statement has then failed, and the
// caller must roll tx back.
func (q *Queue) CompleteTx(ctx context.Context, tx *gorm.DB, job *Job, d time.Duration) error {
	_, err := db.Conn(tx).ExecContext(ctx, completeSQL, completion([]Completion{{Job: job, Duration: d}}, true)...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == leaseLostState {
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

// FailResult says what a failure did to the job.
type FailResult struct {
	// Dead is true when the job was dead-lettered (attempts exhausted or permanent error).
	Dead bool
	// RetryIn is the backoff before the next attempt when not dead.
	RetryIn time.Duration
}

// failSQL records a failed attempt: back to pending after a backoff, or dead-lettered when the
// error is permanent or the attempts are spent. The update is fenced on the claim; the dead
// letter and the log row are written by the same statement.
const failSQL = `
WITH f AS (
    UPDATE jobs
    SET status     = CASE WHEN $6::boolean OR attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
        run_at     = CASE WHEN $6::boolean OR attempts >= max_attempts THEN run_at
                          ELSE now() + $7::bigint * interval '1 millisecond' END,
        failed_at  = CASE WHEN $6::boolean OR attempts >= max_attempts THEN now() END,
        locked_at  = NULL,
        last_error = $5::text
    WHERE org_id = $1 AND id = $2 AND status = 'running' AND locked_by = $3 AND attempts = $4
    RETURNING org_id, id, job_type, payload, attempts, status
), dl AS (
    INSERT INTO dead_letter_jobs (org_id, job_id, job_type, payload, attempts, last_error, reason)
    SELECT org_id, id, job_type, payload, attempts, $5, CASE WHEN $6 THEN 'permanent' ELSE 'max_attempts' END
    FROM f WHERE status = 'failed'
), lg AS (
    INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, error, duration_ms)
    SELECT org_id, id, job_type, attempts, $3, CASE WHEN status = 'failed' THEN 'dead' ELSE 'failed' END, $5, $8
    FROM f
)
SELECT status FROM f`

// Fail records that job's attempt failed with cause. A permanent cause (see Permanent) or the
// last allowed attempt dead-letters the job; otherwise it returns to pending after Backoff. It
// returns ErrLeaseLost when the attempt no longer holds the job.
func (q *Queue) Fail(ctx context.Context, job *Job, cause error, d time.Duration) (FailResult, error) {
	msg := errorText(cause)
	permanent := IsPermanent(cause)
	delay := q.Backoff(job.Attempt)
	var status string
	err := q.pool.QueryRow(ctx, failSQL, job.OrgID.String(), job.ID, job.LockedBy, job.Attempt, msg, permanent, delay.Milliseconds(), durationMS(d)).Scan(&status)
	if isNoRows(err) {
		return FailResult{}, ErrLeaseLost
	}
	if err != nil {
		return FailResult{}, fmt.Errorf("fail job %d: %w", job.ID, err)
	}
	if Status(status) == StatusFailed {
		return FailResult{Dead: true}, nil
	}
	return FailResult{RetryIn: delay}, nil
}

// heldBy is the FROM and WHERE of a statement on the jobs j that the given attempts still hold
// ($1..$4: org ids, job ids, attempt numbers, claims), as c: the fence of Queue.fenced.
const heldBy = `
FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::text[]) AS c(org_id, id, attempt, locked_by)
WHERE j.org_id = c.org_id AND j.id = c.id
  AND j.status = 'running' AND j.locked_by = c.locked_by AND j.attempts = c.attempt`

// heartbeatSQL refreshes the leases of the given attempts and returns the ones still held.
const heartbeatSQL = `UPDATE jobs j SET locked_at = now()` + heldBy + `
RETURNING j.id`

// Heartbeat renews the leases of running attempts and returns the ids still held; an
// attempt missing from the result has lost its lease and must stop.
func (q *Queue) Heartbeat(ctx context.Context, held []*Job) (map[int64]bool, error) {
	return q.fenced(ctx, heartbeatSQL, held)
}

// releaseSQL hands held jobs back to the queue at once (graceful shutdown): pending, runnable
// now, and the interrupted attempt not counted, because it did not fail.
const releaseSQL = `
WITH r AS (
    UPDATE jobs j
    SET status = 'pending', run_at = now(), locked_at = NULL, locked_by = NULL, attempts = j.attempts - 1` + heldBy + `
    RETURNING j.org_id, j.id, j.job_type, c.attempt, c.locked_by
), lg AS (
    INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, error)
    SELECT org_id, id, job_type, attempt, locked_by, 'released', 'worker shutting down' FROM r
)
SELECT id FROM r`

// Release returns held jobs to the queue without counting the attempt, so that another worker
// takes them at once instead of waiting for the reaper. It returns the ids it released.
func (q *Queue) Release(ctx context.Context, held []*Job) (map[int64]bool, error) {
	return q.fenced(ctx, releaseSQL, held)
}

// unclaimSQL undoes claims that no attempt followed: the jobs are pending again in their place
// in the queue (run_at kept), with the claim's attempt not counted and nothing logged.
const unclaimSQL = `
UPDATE jobs j
SET status = 'pending', locked_at = NULL, locked_by = NULL, attempts = j.attempts - 1` + heldBy + `
RETURNING j.id`

// Unclaim hands back claimed jobs whose attempts never started (a worker that claimed more than
// it will run soon), as if they had not been claimed. It returns the ids it handed back.
func (q *Queue) Unclaim(ctx context.Context, claimed []*Job) (map[int64]bool, error) {
	return q.fenced(ctx, unclaimSQL, claimed)
}

func (q *Queue) fenced(ctx context.Context, query string, held []*Job) (map[int64]bool, error) {
	out := make(map[int64]bool, len(held))
	if len(held) == 0 {
		return out, nil
	}
	n := len(held)
	orgs, ids, attempts, lockedBy := make([][16]byte, n), make([]int64, n), make([]int32, n), make([]string, n)
	for i, j := range held {
		orgs[i], ids[i], attempts[i], lockedBy[i] = j.OrgID, j.ID, int32(j.Attempt), j.LockedBy
	}
	rows, err := q.pool.Query(ctx, query, orgs, ids, attempts, lockedBy)
	if err != nil {
		return nil, fmt.Errorf("update leases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("update leases: scan: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("update leases: %w", err)
	}
	return out, nil
}

// maxErrorLen bounds the error text stored per attempt.
const maxErrorLen = 4000

func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "?")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func durationMS(d time.Duration) int32 {
	ms := d.Milliseconds()
	if ms < 0 {
		return 0
	}
	if ms > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(ms)
}
