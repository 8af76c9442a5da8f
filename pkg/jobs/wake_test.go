package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/jobs"
)

// TestCompleteInTxWakesAfterCommit proves that the jobs a handler's transaction enqueues wake the
// workers after its commit, not inside it (migration 000010, jobs.Waker): the transaction runs
// with app.jobs_notify = 'deferred', a NOTIFY jobs_inserted arrives once it has committed, and a
// handler that enqueued nothing (or whose transaction rolled back) sends none.
func TestCompleteInTxWakesAfterCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	listener, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(listener.Release)
	_, err = listener.Exec(ctx, "LISTEN jobs_inserted")
	require.NoError(t, err)
	wait := func(within time.Duration) error {
		wctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		_, err := listener.Conn().WaitForNotification(wctx)
		return err
	}
	b.enqueueN(t, "j", 3)
	require.NoError(t, wait(5*time.Second), "an autocommit enqueue notifies through the trigger")
	got := b.claim(t, jobs.NewClaimID("w"), 10, 3)

	// A handler that enqueues: deferred in its transaction, woken after the commit.
	var setting string
	require.NoError(t, b.q.NewRun(got[0]).CompleteInTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT current_setting('app.jobs_notify', true)`).Scan(&setting).Error; err != nil {
			return err
		}
		_, err := b.q.Enqueue(ctx, tx, b.job("follow-up"))
		return err
	}))
	require.Equal(t, "deferred", setting)
	require.NoError(t, wait(5*time.Second), "the committed enqueue woke the workers")

	// A handler that enqueues nothing, and one whose enqueue rolls back: no wake-up.
	require.NoError(t, b.q.NewRun(got[1]).CompleteInTx(ctx, func(*gorm.DB) error { return nil }))
	err = b.q.NewRun(got[2]).CompleteInTx(ctx, func(tx *gorm.DB) error {
		if _, err := b.q.Enqueue(ctx, tx, b.job("rolled-back")); err != nil {
			return err
		}
		return context.Canceled
	})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "nothing committed, nothing to wake for")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key IN ('follow-up', 'rolled-back')`))
}
