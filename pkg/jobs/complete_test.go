package jobs_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// TestCompleteManyIsFenced proves batch completion is fenced on the claim: an attempt reported with
// another claim's locked_by or with the wrong attempt number completes nothing and is missing from
// the result, the genuine attempt completes and gets exactly one 'completed' log with its worker
// and duration, and completing it again changes nothing and logs nothing.
func TestCompleteManyIsFenced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 3)
	claimID := jobs.NewClaimID("w")
	got := b.claim(t, claimID, 10, 3)

	wrongClaim := *got[0]
	wrongClaim.LockedBy = jobs.NewClaimID("w")
	wrongAttempt := *got[1]
	wrongAttempt.Attempt = 2
	done, err := b.q.CompleteMany(ctx, []jobs.Completion{
		{Job: &wrongClaim, Duration: time.Second},
		{Job: &wrongAttempt, Duration: time.Second},
		{Job: got[2], Duration: 1500 * time.Millisecond},
	})
	require.NoError(t, err)
	require.Equal(t, []int64{got[2].ID}, done)

	for _, j := range got[:2] {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusRunning, r.Status, "a fenced-out completion leaves the job running")
		require.Equal(t, ptr(claimID), r.LockedBy)
		require.True(t, r.LockedAt)
		require.False(t, r.CompletedAt)
		require.Empty(t, b.logs(t, j.ID))
	}
	r := b.row(t, got[2].ID)
	require.Equal(t, jobs.StatusCompleted, r.Status)
	require.True(t, r.CompletedAt)
	require.False(t, r.LockedAt)
	require.Nil(t, r.LastError)
	require.Equal(t, []logRow{{Attempt: 1, Worker: claimID, Outcome: "completed", DurationMS: 1500}}, b.logs(t, got[2].ID))

	done, err = b.q.CompleteMany(ctx, []jobs.Completion{{Job: got[0]}, {Job: got[1], Duration: 20 * time.Millisecond}, {Job: got[2]}})
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{got[0].ID, got[1].ID}, done, "a completed attempt cannot complete twice")
	require.Len(t, b.logs(t, got[2].ID), 1)
	require.Equal(t, []logRow{{Attempt: 1, Worker: claimID, Outcome: "completed", DurationMS: 20}}, b.logs(t, got[1].ID))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM job_logs WHERE outcome = 'completed'`))

	done, err = b.q.CompleteMany(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, done)
}

// TestStaleAttemptCannotFinish proves the completion fence holds across retries: once a failed
// attempt's job has been claimed again, neither the old attempt, nor the current claim with an old
// attempt number, nor another claim with the current attempt number can complete, fail, heartbeat
// or release it, in a batch or in a transaction, and the genuine current attempt still can.
func TestStaleAttemptCannotFinish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	id := b.enqueue(t, b.job("j"))[0]

	old := b.claimOne(t, jobs.NewClaimID("w1"))
	_, err := b.q.Fail(ctx, old, errors.New("flaky"), 0)
	require.NoError(t, err)
	b.makeRunnable(t, id)
	cur := b.claimOne(t, jobs.NewClaimID("w2"))
	require.Equal(t, 2, cur.Attempt)

	// The current claim with the previous attempt number is stale too, and so is another claim
	// with the current attempt number.
	sameClaimOldAttempt := *cur
	sameClaimOldAttempt.Attempt = 1
	otherClaimSameAttempt := *cur
	otherClaimSameAttempt.LockedBy = jobs.NewClaimID("w3")
	for _, stale := range []*jobs.Job{old, &sameClaimOldAttempt, &otherClaimSameAttempt} {
		done, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: stale}})
		require.NoError(t, err)
		require.Empty(t, done)
		err = b.db.Tx(ctx, b.org, func(tx *gorm.DB) error { return b.q.CompleteTx(ctx, tx, stale, 0) })
		require.ErrorIs(t, err, jobs.ErrLeaseLost)
		_, err = b.q.Fail(ctx, stale, errors.New("late"), 0)
		require.ErrorIs(t, err, jobs.ErrLeaseLost)
		require.Equal(t, jobs.Renewal{Renewed: map[int64]bool{}, Lost: map[int64]bool{stale.ID: true}}, b.heartbeat(t, stale))
		released, err := b.q.Release(ctx, []*jobs.Job{stale})
		require.NoError(t, err)
		require.Empty(t, released)
	}

	r := b.row(t, id)
	require.Equal(t, jobs.StatusRunning, r.Status)
	require.Equal(t, 2, r.Attempts)
	require.Equal(t, ptr(cur.LockedBy), r.LockedBy)
	require.Equal(t, ptr("flaky"), r.LastError, "the late failure wrote nothing")
	require.Equal(t, []string{"failed"}, b.outcomes(t, id))

	done, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: cur}})
	require.NoError(t, err)
	require.Equal(t, []int64{id}, done)
	require.Equal(t, []logRow{
		{Attempt: 1, Worker: old.LockedBy, Outcome: "failed", Error: ptr("flaky")},
		{Attempt: 2, Worker: cur.LockedBy, Outcome: "completed"},
	}, b.logs(t, id))
}

// TestReapedLeaseCannotFinish proves the reaper fences the old holder out for good: after its
// lease is reaped, the old attempt can neither complete nor fail the job, before or after
// another worker claims it again, and only the new attempt completes it.
func TestReapedLeaseCannotFinish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	id := b.enqueue(t, b.job("j"))[0]
	old := b.claimOne(t, jobs.NewClaimID("w1"))
	b.expireLease(t, id, time.Hour)

	res, err := b.q.Reap(ctx, 30*time.Minute)
	require.NoError(t, err)
	require.Equal(t, jobs.ReapResult{Requeued: 1}, res)

	lateFinish := func() {
		t.Helper()
		done, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: old}})
		require.NoError(t, err)
		require.Empty(t, done)
		_, err = b.q.Fail(ctx, old, errors.New("late"), 0)
		require.ErrorIs(t, err, jobs.ErrLeaseLost)
		err = b.q.NewRun(old).CompleteInTx(ctx, func(*gorm.DB) error { return nil })
		require.ErrorIs(t, err, jobs.ErrLeaseLost)
	}

	lateFinish()
	r := b.row(t, id)
	require.Equal(t, jobs.StatusPending, r.Status)
	require.Nil(t, r.LockedBy)
	require.Equal(t, 1, r.Attempts)

	cur := b.claimOne(t, jobs.NewClaimID("w2"))
	require.Equal(t, 2, cur.Attempt)
	lateFinish()
	require.Equal(t, jobs.StatusRunning, b.row(t, id).Status)

	done, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: cur}})
	require.NoError(t, err)
	require.Equal(t, []int64{id}, done)
	require.Equal(t, []string{"reaped", "completed"}, b.outcomes(t, id))
	require.Equal(t, cur.LockedBy, b.logs(t, id)[1].Worker)
}

// TestCompleteInTx proves that the handler's write and the completion commit together in
// a transaction scoped to the job's org; CompleteTx in a caller's transaction logs the duration
// it is given; a handler error rolls its write back and leaves the job running; and when the
// lease was lost the handler's write is rolled back with the completion.
func TestCompleteInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	ids := b.enqueueN(t, "j", 4)
	claimID := jobs.NewClaimID("w")
	byID := claimByID(t, b, claimID, 4)
	orgName := orgNameOf(t, b)
	rename := func(name string) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error {
			var scoped string
			if err := tx.Raw(`SELECT current_setting('app.org_id', true)`).Scan(&scoped).Error; err != nil {
				return err
			}
			if scoped != b.org.String() {
				return errors.New("transaction not scoped to the job's org: " + scoped)
			}
			return tx.Exec(`UPDATE orgs SET name = ? WHERE id = ?`, name, b.org).Error
		}
	}

	// Success: write and completion together.
	run := b.q.NewRun(byID[ids[0]])
	require.NoError(t, run.CompleteInTx(ctx, rename("renamed")))
	require.True(t, run.Completed())
	require.GreaterOrEqual(t, run.Elapsed(), time.Duration(0))
	require.Equal(t, "renamed", orgName())
	require.Equal(t, jobs.StatusCompleted, b.row(t, ids[0]).Status)
	logs := b.logs(t, ids[0])
	require.Len(t, logs, 1)
	require.Equal(t, "completed", logs[0].Outcome)
	require.Equal(t, claimID, logs[0].Worker)
	require.GreaterOrEqual(t, logs[0].DurationMS, 0)

	// CompleteTx in the caller's own transaction records the duration it is given.
	err := b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		return b.q.CompleteTx(ctx, tx, byID[ids[1]], 1234*time.Millisecond)
	})
	require.NoError(t, err)
	require.Equal(t, []logRow{{Attempt: 1, Worker: claimID, Outcome: "completed", DurationMS: 1234}}, b.logs(t, ids[1]))
	require.Equal(t, jobs.StatusCompleted, b.row(t, ids[1]).Status)

	// The handler fails: nothing of it is kept and the job stays leased for Fail to handle.
	boom := errors.New("boom")
	run = b.q.NewRun(byID[ids[3]])
	err = run.CompleteInTx(ctx, func(tx *gorm.DB) error {
		if err := rename("half-done")(tx); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.False(t, run.Completed())
	require.Equal(t, "renamed", orgName())
	require.Equal(t, jobs.StatusRunning, b.row(t, ids[3]).Status)
	require.Empty(t, b.logs(t, ids[3]))

	// The lease was lost: the handler's write is rolled back with the completion.
	b.expireLease(t, ids[2], time.Hour)
	res, err := b.q.Reap(ctx, 30*time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued)
	run = b.q.NewRun(byID[ids[2]])
	err = run.CompleteInTx(ctx, rename("lost"))
	require.ErrorIs(t, err, jobs.ErrLeaseLost)
	require.False(t, run.Completed())
	require.Equal(t, "renamed", orgName(), "the handler's write of a lost lease is rolled back")
	require.Equal(t, jobs.StatusPending, b.row(t, ids[2]).Status)
	require.Equal(t, []string{"reaped"}, b.outcomes(t, ids[2]))
}

// TestCompleteInTxTransactionRules proves that the transaction CompleteInTx opens behaves as a
// gorm transaction: a nested Transaction is a savepoint whose rollback keeps the outer writes,
// and a handler that swallows a failed statement gets an error instead of a commit, with
// nothing kept and the job still leased. The connection is clean for the next run.
func TestCompleteInTxTransactionRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	ids := b.enqueueN(t, "j", 3)
	byID := claimByID(t, b, jobs.NewClaimID("w"), 3)
	orgName := orgNameOf(t, b)
	rename := func(tx *gorm.DB, name string) error {
		return tx.Exec(`UPDATE orgs SET name = ? WHERE id = ?`, name, b.org).Error
	}

	// A savepoint rolled back inside the handler keeps the rest of its writes.
	undo := errors.New("undo")
	run := b.q.NewRun(byID[ids[0]])
	require.NoError(t, run.CompleteInTx(ctx, func(tx *gorm.DB) error {
		err := tx.Transaction(func(sp *gorm.DB) error {
			if err := rename(sp, "inner"); err != nil {
				return err
			}
			return undo
		})
		if !errors.Is(err, undo) {
			return fmt.Errorf("savepoint: %w", err)
		}
		return rename(tx, "outer")
	}))
	require.Equal(t, "outer", orgName())
	require.Equal(t, jobs.StatusCompleted, b.row(t, ids[0]).Status)

	// A failed statement whose error the handler ignores aborts the transaction: no commit.
	run = b.q.NewRun(byID[ids[1]])
	err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
		if err := rename(tx, "aborted"); err != nil {
			return err
		}
		_ = tx.Exec(`SELECT 1 / 0`).Error
		return nil
	})
	require.Error(t, err)
	require.NotErrorIs(t, err, jobs.ErrLeaseLost)
	require.False(t, run.Completed())
	require.Equal(t, "outer", orgName())
	require.Equal(t, jobs.StatusRunning, b.row(t, ids[1]).Status)
	require.Empty(t, b.logs(t, ids[1]))

	// The next run on the pool starts a transaction of its own.
	run = b.q.NewRun(byID[ids[2]])
	require.NoError(t, run.CompleteInTx(ctx, func(tx *gorm.DB) error { return rename(tx, "next") }))
	require.Equal(t, "next", orgName())
	require.Equal(t, jobs.StatusCompleted, b.row(t, ids[2]).Status)
}

// claimByID claims b's n runnable jobs for claimID and returns them by id.
func claimByID(t *testing.T, b *bundle, claimID string, n int) map[int64]*jobs.Job {
	t.Helper()
	byID := map[int64]*jobs.Job{}
	for _, j := range b.claim(t, claimID, 10, n) {
		byID[j.ID] = j
	}
	return byID
}

// orgNameOf returns a reader of the name of b's org, which the tests' handlers rename. orgs is
// under forced row-level security: a handler's committed write is read back through a
// superuser connection, which sees it without a tenant transaction.
func orgNameOf(t *testing.T, b *bundle) func() string {
	t.Helper()
	super := dbtest.SuperDB(t, b.url)
	return func() string {
		t.Helper()
		var name string
		require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT name FROM orgs WHERE id = $1`, b.org).Scan(&name))
		return name
	}
}
