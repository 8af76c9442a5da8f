package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
	"example.com/crm/services/worker/internal/runtime"
)

// leaseTimeout is the lock timeout of the lease tests: renewals every 250 ms, an attempt stopped
// 750 ms after its lease was last proven.
const leaseTimeout = time.Second

// holding starts a runtime on b whose "hold" handlers run until their context ends and report
// their job's id on started, then on cancelled.
func (b *bundle) holding(t *testing.T, concurrency int) (started, cancelled <-chan int64) {
	t.Helper()
	st, cn := make(chan int64, 16), make(chan int64, 16)
	b.start(t, runtime.Config{
		Concurrency:    concurrency,
		PollInterval:   50 * time.Millisecond,
		LockTimeout:    leaseTimeout,
		ReaperInterval: time.Hour,
	}, map[string]handler{
		"hold": func(ctx context.Context, run *testRun) error {
			st <- run.Job.ID
			<-ctx.Done()
			cn <- run.Job.ID
			return ctx.Err()
		},
	})
	return st, cn
}

// lockAge is how long ago the job's lease was last set, on the database clock.
func (b *bundle) lockAge(t *testing.T, id int64) time.Duration {
	t.Helper()
	var ms float64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(),
		`SELECT extract(epoch FROM now() - locked_at) * 1000 FROM jobs WHERE id = $1 AND status = 'running'`, id).Scan(&ms))
	return time.Duration(ms * float64(time.Millisecond))
}

// stillRunning requires that no handler is cancelled for d (two lock timeouts: long enough for
// any renewal that gave up to have stopped it) and that job id's lease is then fresh.
func (b *bundle) stillRunning(t *testing.T, cancelled <-chan int64, id int64, d time.Duration) {
	t.Helper()
	select {
	case got := <-cancelled:
		require.FailNow(t, "a live, renewable lease was given up", "job %d was stopped", got)
	case <-time.After(d):
	}
	require.Less(t, b.lockAge(t, id), leaseTimeout/2, "job %d's lease is kept renewed", id)
}

// TestLockedRowStopsOnlyItsAttempt proves a lease renewal never waits for a row lock: while one
// held job's row stays locked by another transaction (as it is while a completion commits, whose
// multi-row update would otherwise deadlock with the renewal's), the other job's lease is renewed
// as usual and its attempt keeps running, and only the locked job's attempt, whose lease can no
// longer be proven, is stopped, before its lease could expire.
func TestLockedRowStopsOnlyItsAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started, cancelled := b.holding(t, 2)
	locked, free := b.enqueue(t, "hold"), b.enqueue(t, "hold")
	receive(t, started, 10*time.Second, "the first job to start")
	receive(t, started, 10*time.Second, "the second job to start")

	tx, err := b.db.Pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(t.Context(), `SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, locked)
	require.NoError(t, err)

	require.Equal(t, locked, receive(t, cancelled, 5*time.Second, "the locked job's attempt to stop"))
	require.Less(t, b.lockAge(t, locked), leaseTimeout, "stopped before its lease expired")
	b.stillRunning(t, cancelled, free, 2*leaseTimeout)
	require.NoError(t, tx.Rollback(t.Context()))
}

// TestExhaustedPoolKeepsLeases proves lease renewals do not queue for the pool's connections
// behind the work they protect: with every connection of the runtime's pool taken, a running
// attempt's lease is still renewed and the attempt is not stopped.
func TestExhaustedPoolKeepsLeases(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	small, err := db.Open(t.Context(), db.Options{URL: url, MaxConns: 2, AppName: "lease-test"})
	require.NoError(t, err)
	t.Cleanup(small.Close)
	b := &bundle{
		db:    small,
		super: dbtest.SuperDB(t, url),
		org:   dbtest.NewOrg(t, d, "lease test"),
		queue: jobs.New(small, jobs.Config{BaseDelay: time.Hour, MaxAttempts: 3}),
		reg:   prometheus.NewRegistry(),
	}
	started, cancelled := b.holding(t, 1)
	id := b.enqueue(t, "hold")
	receive(t, started, 10*time.Second, "the job to start")

	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		c, err := small.Pool.Acquire(ctx)
		cancel()
		require.NoError(t, err)
		t.Cleanup(c.Release)
	}
	require.EqualValues(t, 2, small.Pool.Stat().AcquiredConns())
	b.stillRunning(t, cancelled, id, 2*leaseTimeout)
}
