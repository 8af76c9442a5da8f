package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// Config holds the queue's retry rules.
type Config struct {
	// BaseDelay is JOB_BASE_DELAY_MS: the first retry waits about this long, and each later one
	// twice as long as the one before.
	BaseDelay time.Duration
	// MaxAttempts is JOB_MAX_ATTEMPTS, the default for jobs that do not set their own
	// (DefaultMaxAttempts when unset).
	MaxAttempts int
	// MaxDelay caps the backoff (default 24 h).
	MaxDelay time.Duration
	// Jitter returns a factor in [0,1) used to spread retries; nil uses math/rand.
	Jitter func() float64
}

// DefaultMaxAttempts is JOB_MAX_ATTEMPTS when it is not set: the attempts of a job that does
// not set its own.
const DefaultMaxAttempts = 3

// Attempts is the number of attempts of a job that does not set its own: MaxAttempts, or
// DefaultMaxAttempts when unset. Writers that insert jobs through Insert pass it to their
// statement.
func (c Config) Attempts() int {
	if c.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return min(c.MaxAttempts, 1<<30)
}

// Queue is the jobs table. It is safe for concurrent use.
type Queue struct {
	pool  *pgxpool.Pool
	gorm  *gorm.DB
	cfg   Config
	waker *Waker
}

// New returns the queue on d.
func New(d *db.DB, cfg Config) *Queue {
	if d == nil {
		panic("jobs.New: nil db")
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 5 * time.Second
	}
	cfg.MaxAttempts = cfg.Attempts()
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 24 * time.Hour
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mrand.Float64
	}
	return &Queue{pool: d.Pool, gorm: d.Gorm, cfg: cfg, waker: NewWaker(d.Pool)}
}

// MaxAttempts is the number of attempts a job gets when it does not set its own (Config.MaxAttempts,
// 3 when unset): what Enqueue stores for such jobs, for writers that insert jobs by their own
// statement.
func (q *Queue) MaxAttempts() int { return q.cfg.MaxAttempts }

// Backoff returns the delay before the retry that follows failed attempt number attempt (from 1):
// BaseDelay * 2^(attempt-1), spread by ±20 % jitter so that jobs failing together do not retry
// together, and capped at MaxDelay.
func (q *Queue) Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	exp := math.Pow(2, float64(attempt-1))
	d := float64(q.cfg.BaseDelay) * exp * (0.8 + 0.4*q.cfg.Jitter())
	if d > float64(q.cfg.MaxDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		return q.cfg.MaxDelay
	}
	return time.Duration(d)
}

// enqueueSQL inserts the jobs of Enqueue's parallel arrays and returns the ids of those it
// inserted.
var enqueueSQL = Insert{
	OrgID: "x.org_id", JobType: "x.job_type", Payload: "x.payload", Key: "x.idempotency_key",
	MaxAttempts: "x.max_attempts", EventID: "x.event_id", RunAt: "now() + x.delay_ms * interval '1 millisecond'",
	From: `unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::int[], $6::bigint[], $7::bigint[])
     AS x(org_id, job_type, payload, idempotency_key, max_attempts, delay_ms, event_id)`,
}.SQL() + `
RETURNING id`

// Enqueue inserts jobs in the caller's transaction tx (or autocommit on a plain *gorm.DB).
// A job whose (org, type, idempotency key) exists already is silently skipped. It returns the
// ids of the jobs it inserted. Workers are woken at commit by the jobs insert trigger, or, in a
// transaction that deferred that (Run.CompleteInTx), by a Waker after the commit (InsertedSQL).
func (q *Queue) Enqueue(ctx context.Context, tx *gorm.DB, jobs ...NewJob) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	n := len(jobs)
	// Org ids go as [16]byte (binary uuid); as strings pgx would first fail a binary encoding of
	// the whole array, format that error, and only then fall back to text.
	orgs, types, payloads, keys := make([][16]byte, n), make([]string, n), make([]string, n), make([]string, n)
	maxes, delays, eventIDs := make([]int32, n), make([]int64, n), make([]*int64, n)
	for i, j := range jobs {
		if j.OrgID == uuid.Nil || j.Type == "" || j.IdempotencyKey == "" {
			return nil, fmt.Errorf("enqueue %s: org, type and idempotency key are required", j.Type)
		}
		p, err := marshalPayload(j.Payload)
		if err != nil {
			return nil, fmt.Errorf("enqueue %s: %w", j.Type, err)
		}
		orgs[i], types[i], payloads[i], keys[i] = j.OrgID, j.Type, string(p), j.IdempotencyKey
		maxes[i] = int32(q.cfg.Attempts())
		if j.MaxAttempts > 0 {
			maxes[i] = int32(j.MaxAttempts)
		}
		delays[i] = max(j.Delay, 0).Milliseconds()
		eventIDs[i] = j.EventID
	}
	rows, err := db.Conn(tx).QueryContext(ctx, enqueueSQL, orgs, types, payloads, keys, maxes, delays, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("enqueue jobs: %w", err)
	}
	defer func() { _ = rows.Close() }()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("enqueue jobs: scan id: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("enqueue jobs: %w", err)
	}
	return ids, nil
}

// batchMode executes the batched queue statements (claim, complete) as unnamed statements with
// a cached description: one round trip as with a prepared statement, but PostgreSQL plans every
// call with the actual LIMIT and array sizes. A cached generic plan sees neither (it assumes a
// LIMIT of 10 % of the table and 10 rows per unnest) and then joins the batch by scanning whole
// tables or by nested loops over the batch; planning a call costs well under a millisecond.
const batchMode = pgx.QueryExecModeCacheDescribe

// NewClaimID returns a value unique to one claim by worker: "<worker>/<nonce>".
func NewClaimID(worker string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return worker + "/" + hex.EncodeToString(b[:])
}

// claimSQL takes up to $1 runnable jobs, oldest run_at first. The CTE is an optimisation fence
// over the partial claim index; SKIP LOCKED lets many claimers run at once without waiting on
// each other; attempts < max_attempts is re-checked under the lock.
const claimSQL = `
WITH next AS (
    SELECT org_id, id
    FROM jobs
    WHERE status = 'pending' AND run_at <= now() AND attempts < max_attempts
    ORDER BY run_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)` + claimNextSQL

// claimNextSQL leases the rows of the CTE next to the claim $2 and returns them as Claim does:
// the tail of claimSQL and claimTypeSQL.
const claimNextSQL = `
UPDATE jobs j
SET status = 'running', attempts = j.attempts + 1, locked_at = now(), locked_by = $2, attempted_at = now()
FROM next
WHERE j.org_id = next.org_id AND j.id = next.id
RETURNING j.org_id, j.id, j.job_type, j.payload, j.idempotency_key, j.attempts, j.max_attempts, j.created_at`

// headTypeSQL is the type of the oldest runnable job, if any.
const headTypeSQL = `
SELECT job_type FROM jobs
WHERE status = 'pending' AND run_at <= now() AND attempts < max_attempts
ORDER BY run_at, id
LIMIT 1`

// claimTypeSQL is claimSQL for the jobs of one type ($3) only, oldest first. It is planned per
// call with the type (batchMode), so the planner reads the type's own runnable jobs through
// jobs_claim_type_idx (migration 000017) when the statistics say the type is rare, and steps
// through jobs_claim_idx when it is common.
const claimTypeSQL = `
WITH next AS (
    SELECT org_id, id
    FROM jobs
    WHERE status = 'pending' AND run_at <= now() AND attempts < max_attempts AND job_type = $3
    ORDER BY run_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)` + claimNextSQL

// Claim leases up to limit runnable jobs to the claim claimID (see NewClaimID) in one statement.
func (q *Queue) Claim(ctx context.Context, claimID string, limit int) ([]*Job, error) {
	return q.claim(ctx, claimID, limit, "")
}

// ClaimForBatches is Claim for a worker that runs the job types batched in batches: when the
// oldest runnable job is of one of them, it leases only jobs of that type (claimTypeSQL);
// otherwise it leases what Claim does. So it may return fewer than limit jobs while more are
// runnable, and the oldest runnable job still goes first: no type waits behind another's
// backlog for longer than one claim. It costs a round trip more than Claim, to read the oldest
// job's type.
//
// Under a stream of leads the pipeline's four job types are in the queue at once, so in queue order
// they interleave and a claim of 100 splits into batches of about 25; claimed by type, the batches
// fill, and the per-batch cost (statement start-up, round trips, the commit) is spread over more
// jobs.
func (q *Queue) ClaimForBatches(ctx context.Context, claimID string, limit int, batched []string) ([]*Job, error) {
	if len(batched) == 0 {
		return q.claim(ctx, claimID, limit, "")
	}
	var head string
	err := q.pool.QueryRow(ctx, headTypeSQL).Scan(&head)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim jobs: oldest job's type: %w", err)
	}
	if !slices.Contains(batched, head) {
		head = ""
	}
	return q.claim(ctx, claimID, limit, head)
}

// claim runs claimSQL, or claimTypeSQL for jobType when it is not empty.
func (q *Queue) claim(ctx context.Context, claimID string, limit int, jobType string) ([]*Job, error) {
	query, args := claimSQL, []any{batchMode, limit, claimID}
	if jobType != "" {
		query, args = claimTypeSQL, append(args, jobType)
	}
	rows, err := q.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Job, error) {
		j := &Job{LockedBy: claimID}
		var payload []byte
		err := r.Scan(&j.OrgID, &j.ID, &j.Type, &payload, &j.IdempotencyKey, &j.Attempt, &j.MaxAttempts, &j.CreatedAt)
		j.Payload = payload
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return out, nil
}
