package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
	"example.com/crm/services/worker/internal/runtime"
)

// bundle is what every runtime test works with: a fresh database, an org, a queue whose
// retries are an hour away (so a failed attempt stays visible as pending), and the runtime's
// metrics registry.
type bundle struct {
	db    *db.DB
	super *db.DB // sees every row (row-level security binds the owner on events)
	org   uuid.UUID
	queue *jobs.Queue
	reg   *prometheus.Registry
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	return &bundle{
		db:    d,
		super: dbtest.SuperDB(t, url),
		org:   dbtest.NewOrg(t, d, "runtime test"),
		queue: jobs.New(d, jobs.Config{BaseDelay: time.Hour, MaxAttempts: 3}),
		reg:   prometheus.NewRegistry(),
	}
}

// enqueue inserts one job of jobType and returns its id.
func (b *bundle) enqueue(t *testing.T, jobType string) int64 {
	t.Helper()
	ids, err := b.queue.Enqueue(t.Context(), b.db.Gorm, jobs.NewJob{OrgID: b.org, Type: jobType, IdempotencyKey: uuid.NewString()})
	require.NoError(t, err)
	require.Len(t, ids, 1)
	return ids[0]
}

// started is a running runtime; stop cancels its context and waits for Run to return.
type started struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	once   sync.Once
}

// start runs a runtime over handlers, each the kind of its name, alone, until the test ends (or
// stop is called).
func (b *bundle) start(t *testing.T, cfg runtime.Config, handlers map[string]handler) *started {
	t.Helper()
	return b.startShared(t, nil, cfg, handlers)
}

// startShared is start with the kinds named by shared sharing their transactions.
func (b *bundle) startShared(t *testing.T, shared []string, cfg runtime.Config, handlers map[string]handler) *started {
	t.Helper()
	kinds := make([]jobs.Kind, 0, len(handlers))
	for name, h := range handlers {
		kinds = append(kinds, kindOf(name, jobs.Sharing(slices.Contains(shared, name)), h))
	}
	return b.startKinds(t, cfg, kinds...)
}

// startKinds runs a runtime over kinds until the test ends (or stop is called).
func (b *bundle) startKinds(t *testing.T, cfg runtime.Config, kinds ...jobs.Kind) *started {
	t.Helper()
	if cfg.WorkerID == "" {
		cfg.WorkerID = "test-" + uuid.NewString()[:8]
	}
	rt := runtime.New(cfg, b.db, b.queue, kinds, zaptest.NewLogger(t), b.reg)
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = rt.Run(ctx)
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the run context and waits for Run to return.
func (s *started) stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			require.FailNow(t, "runtime did not stop within 30 s")
		}
		require.NoError(t, s.err)
	})
}

// jobRow is the part of a jobs row the tests look at.
type jobRow struct {
	Status    string
	Attempts  int
	LockedBy  *string
	LockedAt  *time.Time
	LastError *string
}

func (b *bundle) job(t *testing.T, id int64) jobRow {
	t.Helper()
	var r jobRow
	err := b.db.Pool.QueryRow(t.Context(),
		`SELECT status, attempts, locked_by, locked_at, last_error FROM jobs WHERE id = $1`, id).
		Scan(&r.Status, &r.Attempts, &r.LockedBy, &r.LockedAt, &r.LastError)
	require.NoError(t, err)
	return r
}

// logRow is one job_logs row.
type logRow struct {
	Attempt int
	Worker  string
	Outcome string
	Error   *string
}

// logs returns the job's attempt log, oldest first.
func (b *bundle) logs(t *testing.T, id int64) []logRow {
	t.Helper()
	rows, err := b.db.Pool.Query(t.Context(),
		`SELECT attempt, worker, outcome, error FROM job_logs WHERE job_id = $1 ORDER BY id`, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []logRow
	for rows.Next() {
		var r logRow
		require.NoError(t, rows.Scan(&r.Attempt, &r.Worker, &r.Outcome, &r.Error))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// waitStatus waits until job id has status.
func (b *bundle) waitStatus(t *testing.T, id int64, status jobs.Status, within time.Duration) jobRow {
	t.Helper()
	var r jobRow
	eventually(t, within, fmt.Sprintf("job %d %s", id, status), func() bool {
		r = b.job(t, id)
		return r.Status == string(status)
	})
	return r
}

// counter sums the samples of the counter family name in the registry.
func (b *bundle) counter(t *testing.T, name string) float64 {
	t.Helper()
	families, err := b.reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// eventually polls cond on the test goroutine (so cond may use require) until it holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out after "+within.String()+" waiting for "+what)
		}
		<-tick.C
	}
}

// receive waits for one value from ch.
func receive[T any](t *testing.T, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		require.FailNow(t, "timed out after "+within.String()+" waiting for "+what)
	}
	var zero T
	return zero
}

// ok is a handler that succeeds at once.
func ok(context.Context, *testRun) error { return nil }

// TestPanicIsAFailedAttempt proves a handler panic is recorded as an ordinary failed attempt
// (back to pending for a retry, last_error and a 'failed' job_logs row naming the panic) and
// that the runtime goes on working: a later job completes.
func TestPanicIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t, runtime.Config{Concurrency: 2, PollInterval: 50 * time.Millisecond}, map[string]handler{
		"boom": func(context.Context, *testRun) error { panic("kaboom in handler") },
		"ok":   ok,
	})

	boom := b.enqueue(t, "boom")
	eventually(t, 5*time.Second, "failed attempt logged", func() bool { return len(b.logs(t, boom)) == 1 })
	r := b.job(t, boom)
	require.Equal(t, "pending", r.Status, "a panic is a retryable failure")
	require.Equal(t, 1, r.Attempts)
	require.Nil(t, r.LockedAt)
	require.NotNil(t, r.LastError)
	require.Contains(t, *r.LastError, "panicked")
	require.Contains(t, *r.LastError, "kaboom in handler")
	logs := b.logs(t, boom)
	require.Equal(t, "failed", logs[0].Outcome)
	require.Equal(t, 1, logs[0].Attempt)
	require.NotNil(t, logs[0].Error)
	require.Contains(t, *logs[0].Error, "kaboom in handler")

	later := b.enqueue(t, "ok")
	b.waitStatus(t, later, jobs.StatusCompleted, 5*time.Second)
	require.Equal(t, []logRow{{Attempt: 1, Worker: *b.job(t, later).LockedBy, Outcome: "completed"}}, b.logs(t, later))
	require.Equal(t, 1, b.job(t, boom).Attempts, "the failed job waits for its backoff")
}

// TestJobTimeoutCancelsHandler proves JobTimeout bounds one attempt: the handler's context ends
// with DeadlineExceeded and the attempt is recorded as failed.
func TestJobTimeoutCancelsHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const timeout = 300 * time.Millisecond
	ended := make(chan error, 1)
	var began, deadline time.Time
	var hasDeadline bool
	b.start(t, runtime.Config{Concurrency: 1, PollInterval: 50 * time.Millisecond, JobTimeout: timeout}, map[string]handler{
		"hang": func(ctx context.Context, _ *testRun) error {
			began = time.Now()
			deadline, hasDeadline = ctx.Deadline()
			<-ctx.Done()
			ended <- ctx.Err()
			return fmt.Errorf("hang: %w", ctx.Err())
		},
	})

	id := b.enqueue(t, "hang")
	err := receive(t, ended, 10*time.Second, "the handler's context to end")
	took := time.Since(began)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, hasDeadline)
	require.WithinDuration(t, began.Add(timeout), deadline, 200*time.Millisecond, "the deadline is JobTimeout from the start")
	require.Less(t, took, 5*time.Second)

	eventually(t, 5*time.Second, "failed attempt logged", func() bool { return len(b.logs(t, id)) == 1 })
	r := b.job(t, id)
	require.Equal(t, "pending", r.Status)
	require.Equal(t, 1, r.Attempts)
	require.NotNil(t, r.LastError)
	require.Contains(t, *r.LastError, "deadline exceeded")
	require.Equal(t, "failed", b.logs(t, id)[0].Outcome)
}

// TestKindTimeout proves a kind's own time limit (jobs.Kind.WithTimeout) takes the place of
// JobTimeout for its attempts, alone or shared, longer or shorter: the long kinds outlive
// JobTimeout and complete, the short one is cut at its own limit.
func TestKindTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const jobTimeout, long, short = 300 * time.Millisecond, 5 * time.Second, 150 * time.Millisecond
	type seen struct {
		kind            string
		began, deadline time.Time
	}
	seenCh := make(chan seen, 3)
	outlive := func(kind string) handler {
		return func(ctx context.Context, _ *testRun) error {
			d, _ := ctx.Deadline()
			seenCh <- seen{kind, time.Now(), d}
			select {
			case <-time.After(2 * jobTimeout):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	b.startKinds(t, runtime.Config{Concurrency: 3, PollInterval: 50 * time.Millisecond, JobTimeout: jobTimeout},
		kindOf("slow", jobs.Alone, outlive("slow")).WithTimeout(long),
		kindOf("quick", jobs.Shared, outlive("quick")).WithTimeout(long),
		kindOf("hang", jobs.Alone, outlive("hang")).WithTimeout(short))
	slow, quick, hang := b.enqueue(t, "slow"), b.enqueue(t, "quick"), b.enqueue(t, "hang")
	for range 3 {
		x := receive(t, seenCh, 10*time.Second, "an attempt to begin")
		want := long
		if x.kind == "hang" {
			want = short
		}
		require.WithinDuration(t, x.began.Add(want), x.deadline, 200*time.Millisecond, "%s's deadline is its kind's timeout", x.kind)
	}
	b.waitStatus(t, slow, jobs.StatusCompleted, 10*time.Second)
	b.waitStatus(t, quick, jobs.StatusCompleted, 10*time.Second)
	eventually(t, 5*time.Second, "hang's failed attempt logged", func() bool { return len(b.logs(t, hang)) == 1 })
	r := b.job(t, hang)
	require.NotNil(t, r.LastError)
	require.Contains(t, *r.LastError, "deadline exceeded")
}

// TestGracefulShutdown proves the drain: after the run context is cancelled, jobs that finish
// within ShutdownGrace are completed, the ones still running when it ends are cancelled and
// released (pending, attempt not counted, a 'released' log row), Run returns within the grace
// plus a few seconds, and nothing is left running.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const grace = time.Second
	startedCh := make(chan int64, 8)
	cancelled := make(chan int64, 8)
	proceed := make(chan struct{})
	s := b.start(t, runtime.Config{Concurrency: 4, PollInterval: 50 * time.Millisecond, ShutdownGrace: grace}, map[string]handler{
		// slow outlives the grace.
		"slow": func(ctx context.Context, run *testRun) error {
			startedCh <- run.Job.ID
			<-ctx.Done()
			cancelled <- run.Job.ID
			return ctx.Err()
		},
		// quick finishes as soon as the shutdown has begun, well inside the grace.
		"quick": func(ctx context.Context, run *testRun) error {
			startedCh <- run.Job.ID
			select {
			case <-proceed:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})

	slow := []int64{b.enqueue(t, "slow"), b.enqueue(t, "slow")}
	quick := []int64{b.enqueue(t, "quick"), b.enqueue(t, "quick")}
	for range 4 {
		receive(t, startedCh, 10*time.Second, "all four jobs to start")
	}

	begin := time.Now()
	s.cancel()
	close(proceed)
	s.stop(t)
	took := time.Since(begin)
	require.GreaterOrEqual(t, took, grace, "running jobs get the grace period")
	require.Less(t, took, grace+4*time.Second)
	require.ElementsMatch(t, slow, []int64{
		receive(t, cancelled, time.Second, "slow handler cancelled"),
		receive(t, cancelled, time.Second, "slow handler cancelled"),
	})

	for _, id := range quick {
		r := b.job(t, id)
		require.Equal(t, "completed", r.Status, "job %d finished within the grace", id)
		require.Equal(t, 1, r.Attempts)
		logs := b.logs(t, id)
		require.Len(t, logs, 1)
		require.Equal(t, "completed", logs[0].Outcome)
	}
	for _, id := range slow {
		r := b.job(t, id)
		require.Equal(t, "pending", r.Status, "job %d released", id)
		require.Equal(t, 0, r.Attempts, "an interrupted attempt is not counted")
		require.Nil(t, r.LockedBy)
		require.Nil(t, r.LockedAt)
		logs := b.logs(t, id)
		require.Len(t, logs, 1)
		require.Equal(t, "released", logs[0].Outcome)
		require.Equal(t, 1, logs[0].Attempt)
	}
	var running int
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM jobs WHERE status = 'running'`).Scan(&running))
	require.Zero(t, running)
}

// TestNotifyWakesIdleRuntime proves an idle runtime is woken by NOTIFY jobs_inserted: with a
// one-minute poll, a job enqueued after the listener is up starts within two seconds.
func TestNotifyWakesIdleRuntime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	startedCh := make(chan int64, 4)
	b.start(t, runtime.Config{Concurrency: 2, PollInterval: time.Minute}, map[string]handler{
		"ok": func(_ context.Context, run *testRun) error { startedCh <- run.Job.ID; return nil },
	})
	eventually(t, 10*time.Second, "the runtime to LISTEN", func() bool {
		var n int
		require.NoError(t, b.db.Pool.QueryRow(t.Context(), `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = 'LISTEN jobs_inserted'`).Scan(&n))
		return n == 1
	})
	// A first job settles the start-up claims (the immediate one and the one after LISTEN), so
	// that the runtime is idle, waiting on its minute-long poll, when the measured job arrives.
	first := b.enqueue(t, "ok")
	require.Equal(t, first, receive(t, startedCh, 5*time.Second, "the first job"))
	b.waitStatus(t, first, jobs.StatusCompleted, 5*time.Second)

	second := b.enqueue(t, "ok")
	require.Equal(t, second, receive(t, startedCh, 2*time.Second, "the notified job"))
	b.waitStatus(t, second, jobs.StatusCompleted, 5*time.Second)
}

// TestCompleteInTx proves a handler's database writes and its job's completion commit in one
// transaction: the written row, the job's update and the 'completed' log row share one
// xmin, and the runtime does not complete the job a second time. A handler whose function
// fails after writing keeps nothing and its attempt is failed.
func TestCompleteInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	insertEvent := func(ctx context.Context, run *testRun, fail bool) error {
		return run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			err := tx.Exec(`INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'job.done', 'job', ?)`,
				run.Job.OrgID, fmt.Sprintf("job:%d", run.Job.ID)).Error
			if err != nil || !fail {
				return err
			}
			return errors.New("failing after the write")
		})
	}
	b.start(t, runtime.Config{Concurrency: 2, PollInterval: 50 * time.Millisecond}, map[string]handler{
		"write":      func(ctx context.Context, run *testRun) error { return insertEvent(ctx, run, false) },
		"write_fail": func(ctx context.Context, run *testRun) error { return insertEvent(ctx, run, true) },
	})

	id := b.enqueue(t, "write")
	b.waitStatus(t, id, jobs.StatusCompleted, 5*time.Second)
	var jobX, eventX, logX string
	ctx := t.Context()
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT xmin::text FROM jobs WHERE id = $1`, id).Scan(&jobX))
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT xmin::text FROM events WHERE idempotency_key = $1`, fmt.Sprintf("job:%d", id)).Scan(&eventX))
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT xmin::text FROM job_logs WHERE job_id = $1`, id).Scan(&logX))
	require.Equal(t, jobX, eventX, "the handler's row and the completion are one transaction")
	require.Equal(t, jobX, logX)
	require.Len(t, b.logs(t, id), 1, "completed once")
	require.Equal(t, 1.0, b.counter(t, "crm_jobs_completed_total"))

	bad := b.enqueue(t, "write_fail")
	eventually(t, 5*time.Second, "failed attempt logged", func() bool { return len(b.logs(t, bad)) == 1 })
	require.Equal(t, "failed", b.logs(t, bad)[0].Outcome)
	require.Equal(t, "pending", b.job(t, bad).Status)
	var n int
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE idempotency_key = $1`, fmt.Sprintf("job:%d", bad)).Scan(&n))
	require.Zero(t, n, "the failed attempt's write was rolled back")
}

// TestLostLeaseStopsHandler proves the lease fence: when another claim takes a job over
// (locked_by changed under the runtime), the next heartbeat cancels the handler's context, a
// CompleteInTx after that is refused with ErrLeaseLost and keeps nothing, a handler that
// reports success anyway is not completed (neither when the heartbeat noticed first nor when
// the batch completer meets the changed lease), and the job stays with the new holder.
func TestLostLeaseStopsHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	startedCh := make(chan int64, 4)
	cancelled := make(chan error, 4)
	completeErr := make(chan error, 1)
	stolen := make(chan struct{})
	b.start(t, runtime.Config{
		Concurrency:    4,
		PollInterval:   50 * time.Millisecond,
		LockTimeout:    time.Second, // heartbeat every 250 ms
		ReaperInterval: time.Hour,
	}, map[string]handler{
		// complete waits for its lease to be found lost, then still tries to complete.
		"complete": func(ctx context.Context, run *testRun) error {
			startedCh <- run.Job.ID
			<-ctx.Done()
			cancelled <- ctx.Err()
			err := run.CompleteInTx(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
				return tx.Exec(`INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'job.done', 'job', 'stolen')`, run.Job.OrgID).Error
			})
			completeErr <- err
			return err
		},
		// ignore waits for the cancellation, then claims success.
		"ignore": func(ctx context.Context, run *testRun) error {
			startedCh <- run.Job.ID
			<-ctx.Done()
			cancelled <- ctx.Err()
			return nil
		},
		// quick reports success right after the theft, before any heartbeat can notice.
		"quick": func(_ context.Context, run *testRun) error {
			startedCh <- run.Job.ID
			<-stolen
			return nil
		},
	})

	ids := []int64{b.enqueue(t, "complete"), b.enqueue(t, "ignore"), b.enqueue(t, "quick")}
	for range ids {
		receive(t, startedCh, 10*time.Second, "the jobs to start")
	}
	tag, err := b.db.Pool.Exec(t.Context(), `UPDATE jobs SET locked_by = 'thief/' || id WHERE id = ANY($1) AND status = 'running'`, ids)
	require.NoError(t, err)
	require.EqualValues(t, 3, tag.RowsAffected())
	close(stolen)

	for range 2 {
		require.ErrorIs(t, receive(t, cancelled, 3*time.Second, "the heartbeat to cancel a handler"), context.Canceled)
	}
	require.ErrorIs(t, receive(t, completeErr, 3*time.Second, "CompleteInTx"), jobs.ErrLeaseLost)
	eventually(t, 5*time.Second, "three lost leases counted", func() bool {
		return b.counter(t, "crm_jobs_lease_lost_total") == 3
	})
	require.Zero(t, b.counter(t, "crm_jobs_completed_total"))

	for _, id := range ids {
		r := b.job(t, id)
		require.Equal(t, "running", r.Status, "job %d stays with its new holder", id)
		require.Equal(t, fmt.Sprintf("thief/%d", id), *r.LockedBy)
		require.Empty(t, b.logs(t, id), "the old attempt of job %d wrote no outcome", id)
	}
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE idempotency_key = 'stolen'`).Scan(&n))
	require.Zero(t, n, "a refused CompleteInTx keeps none of its writes")
}

// TestRuntimeRecoversAfterRenewalOutage proves that when a lease cannot be renewed for three
// quarters of the lock timeout (here: the job's row is locked away from the heartbeat), the
// runtime abandons the running attempt — and afterwards, once the database answers again, it
// still runs new jobs normally instead of handing them an already cancelled context.
func TestRuntimeRecoversAfterRenewalOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	abandoned := make(chan error, 1)
	b.start(t, runtime.Config{
		Concurrency:    2,
		PollInterval:   50 * time.Millisecond,
		LockTimeout:    time.Second, // heartbeat every 250 ms, stop after 750 ms unrenewed
		ReaperInterval: time.Hour,
	}, map[string]handler{
		"hold": func(ctx context.Context, _ *testRun) error {
			<-ctx.Done()
			abandoned <- ctx.Err()
			return ctx.Err()
		},
		"check": func(ctx context.Context, _ *testRun) error { return ctx.Err() },
	})

	held := b.enqueue(t, "hold")
	b.waitStatus(t, held, jobs.StatusRunning, 5*time.Second)
	// Lock the row so that every heartbeat UPDATE blocks until its own timeout.
	tx, err := b.db.Pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(t.Context(), `SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, held)
	require.NoError(t, err)
	require.ErrorIs(t, receive(t, abandoned, 5*time.Second, "the attempt to be abandoned"), context.Canceled)
	require.NoError(t, tx.Rollback(t.Context()))

	next := b.enqueue(t, "check")
	r := b.waitStatus(t, next, jobs.StatusCompleted, 5*time.Second)
	require.Equal(t, 1, r.Attempts)
}
