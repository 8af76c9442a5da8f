package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// listenAndClaim listens on jobs_inserted, enqueues n jobs (checking that the autocommit enqueue
// notifies through the trigger) and claims them; wait waits for the next notification.
func (b *bundle) listenAndClaim(t *testing.T, n int) (wait func(time.Duration) error, got []*jobs.Job) {
	t.Helper()
	wait = dbtest.Listen(t, b.db.Pool, "jobs_inserted")
	b.enqueueN(t, "j", n)
	require.NoError(t, wait(5*time.Second), "an autocommit enqueue notifies through the trigger")
	return wait, b.claim(t, jobs.NewClaimID("w"), 10, n)
}

// TestCompleteInTxWakesAfterCommit proves that the jobs a handler's transaction enqueues wake the
// workers after its commit, not inside it (migration 000010, jobs.Waker): the transaction runs
// with app.jobs_notify = 'deferred', a NOTIFY jobs_inserted arrives once it has committed, and a
// handler that enqueued nothing (or whose transaction rolled back) sends none.
func TestCompleteInTxWakesAfterCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wait, got := b.listenAndClaim(t, 3)

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
	err := b.q.NewRun(got[2]).CompleteInTx(ctx, func(tx *gorm.DB) error {
		if _, err := b.q.Enqueue(ctx, tx, b.job("rolled-back")); err != nil {
			return err
		}
		return context.Canceled
	})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "nothing committed, nothing to wake for")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key IN ('follow-up', 'rolled-back')`))
}

// TestMarkInsertedWakesAfterCommit proves what MarkInserted is for: jobs inserted by a statement
// of the caller's own (not Enqueue) in a transaction that deferred the trigger's NOTIFY wake the
// workers after its commit when, and only when, the caller marks them, through the
// transaction's context or through the ctx a handler was given; outside such a transaction
// the mark does nothing.
func TestMarkInsertedWakesAfterCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wait, got := b.listenAndClaim(t, 3)

	insert := func(tx *gorm.DB, key string) error {
		return tx.Exec(`INSERT INTO jobs (org_id, job_type, idempotency_key) VALUES (?, 'noop', ?)`, b.org.String(), key).Error
	}
	// Inserted without the mark: the deferred NOTIFY is never sent.
	require.NoError(t, b.q.NewRun(got[0]).CompleteInTx(ctx, func(tx *gorm.DB) error { return insert(tx, "unmarked") }))
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "an unmarked insert owes no wake-up")

	// Marked through the transaction's context (ctx here is the test's own, without a mark).
	require.NoError(t, b.q.NewRun(got[1]).CompleteInTx(ctx, func(tx *gorm.DB) error {
		if err := insert(tx, "marked-tx"); err != nil {
			return err
		}
		jobs.MarkInserted(ctx, tx)
		return nil
	}))
	require.NoError(t, wait(5*time.Second), "the marked insert woke the workers")

	// Marked through the handler's ctx, with a transaction whose context carries no mark.
	require.NoError(t, b.q.NewRun(got[2]).CompleteInTx(ctx, func(tx *gorm.DB) error {
		if err := insert(tx, "marked-ctx"); err != nil {
			return err
		}
		jobs.MarkInserted(tx.Statement.Context, tx.WithContext(context.Background()))
		return nil
	}))
	require.NoError(t, wait(5*time.Second), "the marked insert woke the workers")

	require.NotPanics(t, func() {
		jobs.MarkInserted(ctx, nil)
		jobs.MarkInserted(ctx, b.db.Gorm)
	})
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key LIKE '%marked%'`))
}
