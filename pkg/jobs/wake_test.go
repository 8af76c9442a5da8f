package jobs_test

import (
	"context"
	"errors"
	"fmt"
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

// TestInsertWakesAfterCommitByItself proves that no writer has to report the jobs it inserts:
// jobs inserted by a statement of the caller's own (not Enqueue) in a transaction that deferred
// the trigger's NOTIFY wake the workers after its commit, because the trigger records them
// (migration 000019); a statement that inserted no row (a repeated key), or whose savepoint was
// rolled back, owes no wake-up.
func TestInsertWakesAfterCommitByItself(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wait, got := b.listenAndClaim(t, 4)

	insert := func(tx *gorm.DB, key string) error {
		return tx.Exec(`INSERT INTO jobs (org_id, job_type, idempotency_key) VALUES (?, 'noop', ?)
ON CONFLICT (org_id, job_type, idempotency_key) DO NOTHING`, b.org.String(), key).Error
	}
	require.NoError(t, b.q.NewRun(got[0]).CompleteInTx(ctx, func(tx *gorm.DB) error { return insert(tx, "own") }))
	require.NoError(t, wait(5*time.Second), "the committed insert woke the workers")

	// The same key again inserts nothing: nothing to wake for.
	require.NoError(t, b.q.NewRun(got[1]).CompleteInTx(ctx, func(tx *gorm.DB) error { return insert(tx, "own") }))
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "an insert of no row owes no wake-up")

	// An insert in a savepoint that is rolled back takes its record with it.
	require.NoError(t, b.q.NewRun(got[2]).CompleteInTx(ctx, func(tx *gorm.DB) error {
		err := tx.Transaction(func(sp *gorm.DB) error {
			if err := insert(sp, "rolled-back-savepoint"); err != nil {
				return err
			}
			return context.Canceled
		})
		if !errors.Is(err, context.Canceled) {
			return fmt.Errorf("savepoint: %w", err)
		}
		return nil
	}))
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "a rolled-back insert owes no wake-up")

	// In a batch, the insert of any attempt wakes the workers after the batch's commit.
	batch, err := b.q.NewBatch(got[3:4])
	require.NoError(t, err)
	require.NoError(t, batch.Runs()[0].CompleteInTx(ctx, func(tx *gorm.DB) error { return insert(tx, "batched") }))
	require.NoError(t, batch.Commit(ctx))
	require.NoError(t, wait(5*time.Second), "the batch's insert woke the workers")

	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key IN ('own', 'batched', 'rolled-back-savepoint')`))
}

// TestRequestTxWakesAfterCommit proves that a request's transaction (db.DB.Tx on a handle wired
// by WakeAfterCommit, as pkg/cli.OpenDB wires the api's) inserts its jobs without the trigger's
// NOTIFY and wakes an idle worker right after its commit, and that one which inserted no job, or
// rolled back, wakes none. Without the wiring the deferred jobs would wake nobody.
func TestRequestTxWakesAfterCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	jobs.WakeAfterCommit(b.db)
	wait := dbtest.Listen(t, b.db.Pool, "jobs_inserted")

	insert := func(tx *gorm.DB, key string) error {
		return tx.Exec(`INSERT INTO jobs (org_id, job_type, idempotency_key) VALUES (?, 'noop', ?)`, b.org.String(), key).Error
	}
	var setting string
	require.NoError(t, b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT current_setting('app.jobs_notify', true)`).Scan(&setting).Error; err != nil {
			return err
		}
		return insert(tx, "request")
	}))
	committed := time.Now()
	require.Equal(t, "deferred", setting, "the request's transaction defers the NOTIFY")
	require.NoError(t, wait(5*time.Second), "the committed request woke the workers")
	// The workers' poll is a second or more: the wake-up must come well before it.
	require.Less(t, time.Since(committed), time.Second, "the wake-up follows the commit at once")

	require.NoError(t, b.db.Tx(ctx, b.org, func(tx *gorm.DB) error { return tx.Exec(`SELECT 1`).Error }))
	err := b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		if err := insert(tx, "rolled-back"); err != nil {
			return err
		}
		return context.Canceled
	})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "nothing inserted, nothing to wake for")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key IN ('request', 'rolled-back')`))
}
