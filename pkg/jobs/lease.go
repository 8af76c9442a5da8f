package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
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

// heartbeatSQL refreshes the leases of the given attempts ($1..$4 as in heldBy) that it can lock
// at once, and says for each attempt whether it renewed the lease and whether the job was still
// held by the attempt in the statement's snapshot. It never waits for a row lock: a row locked by
// another statement (the attempt's own completion or failure committing, a release, a reaper) is
// skipped, which also keeps the renewal out of every deadlock with those statements, whose
// multi-row updates lock the same rows in other orders.
const heartbeatSQL = `
WITH c AS (
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::text[]) AS c(org_id, id, attempt, locked_by)
), free AS (
    SELECT j.org_id, j.id
    FROM jobs j JOIN c ON j.org_id = c.org_id AND j.id = c.id
    WHERE j.status = 'running' AND j.locked_by = c.locked_by AND j.attempts = c.attempt
    FOR UPDATE OF j SKIP LOCKED
), renewed AS (
    UPDATE jobs j SET locked_at = now()
    FROM free f
    WHERE j.org_id = f.org_id AND j.id = f.id
    RETURNING j.id
)
SELECT c.id, r.id IS NOT NULL,
       coalesce(j.status = 'running' AND j.locked_by = c.locked_by AND j.attempts = c.attempt, false)
FROM c
LEFT JOIN renewed r ON r.id = c.id
LEFT JOIN jobs j ON j.org_id = c.org_id AND j.id = c.id`

// Renewal is what one heartbeat found for the attempts it was given. An attempt in neither
// Renewed nor Lost was busy: its row was locked by a statement changing it, so its lease was
// neither renewed nor found lost, and stands as it was until a later heartbeat decides.
type Renewal struct {
	// Renewed holds the ids of the jobs whose leases were renewed (locked_at = now()).
	Renewed map[int64]bool
	// Lost holds the ids of the jobs the attempt no longer holds (reaped, released, finished by
	// another claim): their attempts must stop.
	Lost map[int64]bool
}

// heartbeat runs heartbeatSQL for held on c.
func heartbeat(ctx context.Context, c *pgx.Conn, held []*Job) (Renewal, error) {
	out := Renewal{Renewed: map[int64]bool{}, Lost: map[int64]bool{}}
	if len(held) == 0 {
		return out, nil
	}
	rows, err := c.Query(ctx, heartbeatSQL, fence(held)...)
	if err != nil {
		return Renewal{}, fmt.Errorf("renew leases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var renewed, stillHeld bool
		if err := rows.Scan(&id, &renewed, &stillHeld); err != nil {
			return Renewal{}, fmt.Errorf("renew leases: scan: %w", err)
		}
		switch {
		case renewed:
			out.Renewed[id] = true
		case !stillHeld:
			out.Lost[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return Renewal{}, fmt.Errorf("renew leases: %w", err)
	}
	return out, nil
}

// Renewer renews leases on a database connection of its own, opened on first use and again
// after any failure, so that a renewal never waits for a connection behind the work whose
// leases it keeps (a pool exhausted by handlers) and a broken connection costs one renewal.
// It is for one goroutine at a time.
type Renewer struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
}

// NewRenewer returns a Renewer that connects as the queue's pool does, under the pool's
// application_name with " leases" appended, so that pg_stat_activity tells its connection apart.
func (q *Queue) NewRenewer() *Renewer {
	cfg := q.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = strings.TrimSpace(cfg.RuntimeParams["application_name"] + " leases")
	return &Renewer{cfg: cfg}
}

// Heartbeat renews the leases of the running attempts held that it can lock at once
// (heartbeatSQL) and reports each as renewed, lost or neither (busy). After an error the
// connection is closed, and the next call opens a new one.
func (r *Renewer) Heartbeat(ctx context.Context, held []*Job) (Renewal, error) {
	if len(held) == 0 {
		return Renewal{Renewed: map[int64]bool{}, Lost: map[int64]bool{}}, nil
	}
	if r.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, r.cfg.Copy())
		if err != nil {
			return Renewal{}, fmt.Errorf("renew leases: connect: %w", err)
		}
		r.conn = conn
	}
	out, err := heartbeat(ctx, r.conn, held)
	if err != nil {
		r.Close()
	}
	return out, err
}

// Close closes the renewer's connection, if open.
func (r *Renewer) Close() {
	if r.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.conn.Close(ctx)
	r.conn = nil
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
// in the queue (run_at kept), with the claim's attempt not counted, and a 'released' log row
// ($5: why) says which claim held them and handed them back.
const unclaimSQL = `
WITH r AS (
    UPDATE jobs j
    SET status = 'pending', locked_at = NULL, locked_by = NULL, attempts = j.attempts - 1` + heldBy + `
    RETURNING j.org_id, j.id, j.job_type, c.attempt, c.locked_by
), lg AS (
    INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, error)
    SELECT org_id, id, job_type, attempt, locked_by, 'released', $5::text FROM r
)
SELECT id FROM r`

// Unclaim hands back claimed jobs whose attempts never started (a worker that claimed more than
// it will run soon, or whose claim returned as it began shutting down), as if they had not been
// claimed, except for the log row that records the hand-back with why (job_logs is the trail of
// every claim). It returns the ids it handed back.
func (q *Queue) Unclaim(ctx context.Context, claimed []*Job, why string) (map[int64]bool, error) {
	return q.fenced(ctx, unclaimSQL, claimed, why)
}

// fenced runs query, a statement on the jobs that the attempts held still hold (heldBy) that
// returns their ids, with extra arguments from $5 on.
func (q *Queue) fenced(ctx context.Context, query string, held []*Job, extra ...any) (map[int64]bool, error) {
	out := make(map[int64]bool, len(held))
	if len(held) == 0 {
		return out, nil
	}
	rows, err := q.pool.Query(ctx, query, append(fence(held), extra...)...)
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

// fence is the arguments $1..$4 of heldBy for the attempts held.
func fence(held []*Job) []any {
	n := len(held)
	orgs, ids, attempts, lockedBy := make([][16]byte, n), make([]int64, n), make([]int32, n), make([]string, n)
	for i, j := range held {
		orgs[i], ids[i], attempts[i], lockedBy[i] = j.OrgID, j.ID, int32(j.Attempt), j.LockedBy
	}
	return []any{orgs, ids, attempts, lockedBy}
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
