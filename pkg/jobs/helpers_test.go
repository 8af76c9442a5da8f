package jobs_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// testBaseDelay with zeroJitter makes every backoff exact: attempt n waits 0.8 * 10 s * 2^(n-1).
const testBaseDelay = 10 * time.Second

func zeroJitter() float64 { return 0 }

// bundle is what most tests need: a fresh database, a queue on it and one org.
type bundle struct {
	db  *db.DB
	url string
	q   *jobs.Queue
	org uuid.UUID
}

// setup returns a bundle whose queue has three attempts by default and exact backoffs.
func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, jobs.Config{BaseDelay: testBaseDelay, MaxAttempts: 3, Jitter: zeroJitter})
}

func setupWith(t *testing.T, cfg jobs.Config) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	return &bundle{db: d, url: url, q: jobs.New(d, cfg), org: dbtest.NewOrg(t, d, "acme")}
}

// job returns a NewJob of type noop in the bundle's org.
func (b *bundle) job(key string) jobs.NewJob {
	return jobs.NewJob{OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: key}
}

// enqueue enqueues in autocommit and requires that every job was inserted.
func (b *bundle) enqueue(t *testing.T, nj ...jobs.NewJob) []int64 {
	t.Helper()
	ids, err := b.q.Enqueue(t.Context(), b.db.Gorm, nj...)
	require.NoError(t, err)
	require.Len(t, ids, len(nj))
	return ids
}

// enqueueN enqueues n noop jobs with keys prefix-0 … prefix-(n-1).
func (b *bundle) enqueueN(t *testing.T, prefix string, n int) []int64 {
	t.Helper()
	nj := make([]jobs.NewJob, n)
	for i := range nj {
		nj[i] = b.job(fmt.Sprintf("%s-%d", prefix, i))
	}
	return b.enqueue(t, nj...)
}

// claim claims up to limit jobs for claimID and requires exactly want of them.
func (b *bundle) claim(t *testing.T, claimID string, limit, want int) []*jobs.Job {
	t.Helper()
	got, err := b.q.Claim(t.Context(), claimID, limit)
	require.NoError(t, err)
	require.Len(t, got, want)
	return got
}

// claimOne claims the one runnable job.
func (b *bundle) claimOne(t *testing.T, claimID string) *jobs.Job {
	t.Helper()
	return b.claim(t, claimID, 10, 1)[0]
}

func (b *bundle) exec(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	tag, err := b.db.Pool.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
	return tag.RowsAffected()
}

// heartbeat renews the leases of held on a renewer of its own, closed when it returns.
func (b *bundle) heartbeat(t *testing.T, held ...*jobs.Job) jobs.Renewal {
	t.Helper()
	r := b.q.NewRenewer()
	defer r.Close()
	res, err := r.Heartbeat(t.Context(), held)
	require.NoError(t, err)
	return res
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// makeRunnable moves a pending job's run_at to the database's now, as if its backoff had passed.
func (b *bundle) makeRunnable(t *testing.T, id int64) {
	t.Helper()
	require.EqualValues(t, 1, b.exec(t, `UPDATE jobs SET run_at = now() WHERE id = $1 AND status = 'pending'`, id))
}

// expireLease moves a running job's lease start back by age on the database clock.
func (b *bundle) expireLease(t *testing.T, id int64, age time.Duration) {
	t.Helper()
	n := b.exec(t, `UPDATE jobs SET locked_at = now() - $2::bigint * interval '1 millisecond' WHERE id = $1 AND status = 'running'`, id, age.Milliseconds())
	require.EqualValues(t, 1, n)
}

// jobRow is a job as the table holds it. Times are reduced to what tests compare: whether they
// are set, and run_at and locked_at relative to the database's now().
type jobRow struct {
	OrgID          uuid.UUID
	Type           string
	IdempotencyKey string
	Status         jobs.Status
	Attempts       int
	MaxAttempts    int
	LockedBy       *string
	LastError      *string
	EventID        *int64
	Payload        []byte
	LockedAt       bool
	AttemptedAt    bool
	CompletedAt    bool
	FailedAt       bool
	// RunInMS is run_at - now() in milliseconds (negative when runnable).
	RunInMS float64
	// LockAgeMS is now() - locked_at in milliseconds (0 when not locked).
	LockAgeMS float64
}

func (b *bundle) row(t *testing.T, id int64) jobRow {
	t.Helper()
	var r jobRow
	var status string
	err := b.db.Pool.QueryRow(t.Context(), `
SELECT org_id, job_type, idempotency_key, status, attempts, max_attempts, locked_by, last_error, event_id, payload,
       locked_at IS NOT NULL, attempted_at IS NOT NULL, completed_at IS NOT NULL, failed_at IS NOT NULL,
       extract(epoch FROM run_at - now())::float8 * 1000,
       coalesce(extract(epoch FROM now() - locked_at)::float8 * 1000, 0)
FROM jobs WHERE id = $1`, id).Scan(&r.OrgID, &r.Type, &r.IdempotencyKey, &status, &r.Attempts, &r.MaxAttempts,
		&r.LockedBy, &r.LastError, &r.EventID, &r.Payload, &r.LockedAt, &r.AttemptedAt, &r.CompletedAt, &r.FailedAt,
		&r.RunInMS, &r.LockAgeMS)
	require.NoError(t, err, "read job %d", id)
	r.Status = jobs.Status(status)
	return r
}

// logRow is one job_logs row.
type logRow struct {
	Attempt    int
	Worker     string
	Outcome    string
	Error      *string
	DurationMS int
}

// logs returns the job's log rows in insertion order.
func (b *bundle) logs(t *testing.T, jobID int64) []logRow {
	t.Helper()
	rows, err := b.db.Pool.Query(t.Context(), `
SELECT attempt, worker, outcome, error, duration_ms FROM job_logs WHERE job_id = $1 ORDER BY id`, jobID)
	require.NoError(t, err)
	defer rows.Close()
	var out []logRow
	for rows.Next() {
		var l logRow
		require.NoError(t, rows.Scan(&l.Attempt, &l.Worker, &l.Outcome, &l.Error, &l.DurationMS))
		out = append(out, l)
	}
	require.NoError(t, rows.Err())
	return out
}

// outcomes returns the outcomes of the job's log rows in order.
func (b *bundle) outcomes(t *testing.T, jobID int64) []string {
	t.Helper()
	out := []string{}
	for _, l := range b.logs(t, jobID) {
		out = append(out, l.Outcome)
	}
	return out
}

// deadLetter is one dead_letter_jobs row.
type deadLetter struct {
	ID        int64
	OrgID     uuid.UUID
	JobType   string
	Payload   []byte
	Attempts  int
	LastError *string
	Reason    string
	Retried   bool
	RetriedBy *string
}

// deadLetters returns the job's dead letters in insertion order.
func (b *bundle) deadLetters(t *testing.T, jobID int64) []deadLetter {
	t.Helper()
	rows, err := b.db.Pool.Query(t.Context(), `
SELECT id, org_id, job_type, payload, attempts, last_error, reason, retried_at IS NOT NULL, retried_by
FROM dead_letter_jobs WHERE job_id = $1 ORDER BY id`, jobID)
	require.NoError(t, err)
	defer rows.Close()
	var out []deadLetter
	for rows.Next() {
		var d deadLetter
		require.NoError(t, rows.Scan(&d.ID, &d.OrgID, &d.JobType, &d.Payload, &d.Attempts, &d.LastError, &d.Reason, &d.Retried, &d.RetriedBy))
		out = append(out, d)
	}
	require.NoError(t, rows.Err())
	return out
}

func ptr[T any](v T) *T { return &v }
