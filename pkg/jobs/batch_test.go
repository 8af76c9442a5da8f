package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// TestBatchCommitsTogether proves a batch is one transaction: every run's fn runs in it (same
// backend, same transaction id, scoped to the org with the wake-up deferred, each seeing the
// earlier runs' writes), nothing of it is visible elsewhere and no run is Completed before
// Commit; Commit keeps every write and completes every attempt, each fenced and logged once with
// its own worker and attempt number, a run that never called CompleteInTx included.
func TestBatchCommitsTogether(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 4)
	// Four attempts of three claims, one of them a second attempt: the completion must pass each
	// element's own (locked_by, attempt).
	w1, w2, w3, w4 := jobs.NewClaimID("w1"), jobs.NewClaimID("w2"), jobs.NewClaimID("w3"), jobs.NewClaimID("w4")
	j0 := b.claim(t, w1, 1, 1)[0]
	j1 := b.claim(t, w2, 1, 1)[0]
	j23 := b.claim(t, w3, 2, 2)
	_, err := b.q.Fail(ctx, j23[0], errors.New("flaky"), 0)
	require.NoError(t, err)
	b.makeRunnable(t, j23[0].ID)
	j2 := b.claimOne(t, w4)
	require.Equal(t, j23[0].ID, j2.ID)
	require.Equal(t, 2, j2.Attempt)
	claimed := []*jobs.Job{j0, j1, j2, j23[1]}

	batch := newBatch(t, b.q, claimed)
	runs := batch.Runs()
	require.Len(t, runs, len(claimed))
	for i, r := range runs {
		require.Same(t, claimed[i], r.Job, "Runs keeps the order of NewBatch")
	}
	alerts := alertsOf(t, b)

	var pids, txids []int64
	for i, r := range runs[:3] {
		// Each run has a context of its own, cancelled when it returns, as the runtime's are.
		rctx, cancel := context.WithCancel(ctx)
		require.NoError(t, r.CompleteInTx(rctx, func(tx *gorm.DB) error {
			var org, notify string
			var pid, txid int64
			var seen int
			err := tx.Raw(`SELECT current_setting('app.org_id', true), current_setting('app.jobs_notify', true),
       pg_backend_pid(), txid_current(), (SELECT count(*) FROM integrity_alerts)`).Row().Scan(&org, &notify, &pid, &txid, &seen)
			if err != nil {
				return err
			}
			if org != b.org.String() || notify != "deferred" {
				return fmt.Errorf("transaction not scoped: org %q, jobs_notify %q", org, notify)
			}
			if seen != i {
				return fmt.Errorf("run %d sees %d earlier writes", i, seen)
			}
			pids, txids = append(pids, pid), append(txids, txid)
			return writeAlert(b, fmt.Sprintf("batch-%d", i))(tx)
		}))
		cancel()
		require.False(t, r.Completed(), "a batched run completes at Commit")
	}
	require.Equal(t, []int64{pids[0], pids[0], pids[0]}, pids, "one connection")
	require.Equal(t, []int64{txids[0], txids[0], txids[0]}, txids, "one transaction")

	require.Empty(t, alerts(), "nothing is visible before Commit")
	for _, j := range claimed {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusRunning, r.Status)
		require.Equal(t, ptr(j.LockedBy), r.LockedBy)
		require.Empty(t, completedLogs(t, b, j.ID))
	}
	for _, r := range runs {
		require.False(t, r.Completed())
	}

	require.NoError(t, batch.Commit(ctx))
	require.Equal(t, []string{"batch-0", "batch-1", "batch-2"}, alerts())
	for i, j := range claimed {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusCompleted, r.Status, "job %d", i)
		require.True(t, r.CompletedAt)
		require.False(t, r.LockedAt)
		require.Nil(t, r.LastError)
		require.Equal(t, j.Attempt, r.Attempts)
		logs := completedLogs(t, b, j.ID)
		require.Len(t, logs, 1, "job %d", i)
		require.Equal(t, j.LockedBy, logs[0].Worker)
		require.Equal(t, j.Attempt, logs[0].Attempt)
		require.Nil(t, logs[0].Error)
		require.GreaterOrEqual(t, logs[0].DurationMS, 0)
		require.True(t, runs[i].Completed(), "run %d", i)
	}
	require.Equal(t, []string{"failed", "completed"}, b.outcomes(t, j2.ID))
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM job_logs WHERE outcome = 'completed'`))
}

// TestBatchCommitIsFenced proves that a batch's completions are fenced on their claims and its
// writes commit only with them: when one attempt of the batch has lost
// its job before Commit (reaped, released, or released and claimed again by another worker),
// Commit returns ErrLeaseLost, none of the batch's writes is kept, no run is Completed, the other
// jobs are still running under their claims with no completion, and the lost job is as its new
// owner left it. Run one at a time afterwards, the held jobs complete and the lost one does not.
func TestBatchCommitIsFenced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// lose takes the job away from its attempt and returns the outcomes it logs.
		lose func(t *testing.T, b *bundle, j *jobs.Job) []string
		// status is the lost job's status afterwards.
		status jobs.Status
	}{
		{
			name: "reaped",
			lose: func(t *testing.T, b *bundle, j *jobs.Job) []string {
				t.Helper()
				b.expireLease(t, j.ID, time.Hour)
				res, err := b.q.Reap(t.Context(), 30*time.Minute)
				require.NoError(t, err)
				require.Equal(t, jobs.ReapResult{Requeued: 1}, res)
				return []string{"reaped"}
			},
			status: jobs.StatusPending,
		},
		{
			name: "released",
			lose: func(t *testing.T, b *bundle, j *jobs.Job) []string {
				t.Helper()
				out, err := b.q.Release(t.Context(), []*jobs.Job{j})
				require.NoError(t, err)
				require.Equal(t, map[int64]bool{j.ID: true}, out)
				return []string{"released"}
			},
			status: jobs.StatusPending,
		},
		{
			// Running again with the same attempt number: only locked_by fences the old attempt.
			name: "claimed again",
			lose: func(t *testing.T, b *bundle, j *jobs.Job) []string {
				t.Helper()
				_, err := b.q.Release(t.Context(), []*jobs.Job{j})
				require.NoError(t, err)
				again := b.claimOne(t, jobs.NewClaimID("thief"))
				require.Equal(t, j.ID, again.ID)
				require.Equal(t, j.Attempt, again.Attempt)
				return []string{"released"}
			},
			status: jobs.StatusRunning,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			b.enqueueN(t, "j", 3)
			claimID := jobs.NewClaimID("w")
			claimed := b.claim(t, claimID, 10, 3)
			alerts := alertsOf(t, b)

			batch := newBatch(t, b.q, claimed)
			for i, r := range batch.Runs() {
				require.NoError(t, r.CompleteInTx(ctx, writeAlert(b, fmt.Sprintf("batch-%d", i))))
			}
			lost := claimed[1]
			outcomes := tt.lose(t, b, lost)

			err := batch.Commit(ctx)
			require.ErrorIs(t, err, jobs.ErrLeaseLost)
			require.Empty(t, alerts(), "no write of the batch is kept")
			for _, r := range batch.Runs() {
				require.False(t, r.Completed())
			}
			for _, j := range []*jobs.Job{claimed[0], claimed[2]} {
				r := b.row(t, j.ID)
				require.Equal(t, jobs.StatusRunning, r.Status)
				require.Equal(t, ptr(claimID), r.LockedBy)
				require.Equal(t, 1, r.Attempts)
				require.True(t, r.LockedAt)
				require.False(t, r.CompletedAt)
				require.Empty(t, b.logs(t, j.ID))
			}
			require.Equal(t, tt.status, b.row(t, lost.ID).Status)
			require.Equal(t, outcomes, b.outcomes(t, lost.ID), "the lost job logs nothing of the batch")
			require.Zero(t, b.count(t, `SELECT count(*) FROM job_logs WHERE outcome = 'completed'`))

			// The fallback: one at a time, each attempt's fate is its own.
			for i, j := range claimed {
				run := b.q.NewRun(j)
				err := run.CompleteInTx(ctx, writeAlert(b, fmt.Sprintf("alone-%d", i)))
				if j == lost {
					require.ErrorIs(t, err, jobs.ErrLeaseLost)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, jobs.StatusCompleted, b.row(t, j.ID).Status)
			}
			require.Equal(t, []string{"alone-0", "alone-2"}, alerts())
		})
	}
}

// TestBatchAbortsOnFailedFn proves that a failing fn aborts its batch whatever the failure (an
// error of its own, a statement on a missing table, a constraint violation): CompleteInTx
// returns the failure, every later CompleteInTx of the batch returns ErrBatchAborted without
// running its fn, Commit returns ErrBatchAborted together with the failure (never
// ErrLeaseLost), and nothing is kept: no write, no completion, no log.
func TestBatchAbortsOnFailedFn(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name string
		fail func(b *bundle) func(tx *gorm.DB) error
		// check checks the error CompleteInTx (and Commit) returned.
		check func(t *testing.T, err error)
	}{
		{
			name: "handler error",
			fail: func(b *bundle) func(tx *gorm.DB) error {
				return func(tx *gorm.DB) error {
					if err := writeAlert(b, "half-done")(tx); err != nil {
						return err
					}
					return boom
				}
			},
			check: func(t *testing.T, err error) { t.Helper(); require.ErrorIs(t, err, boom) },
		},
		{
			name: "missing table",
			fail: func(b *bundle) func(tx *gorm.DB) error {
				return func(tx *gorm.DB) error {
					return tx.Exec(`INSERT INTO no_such_table (org_id) VALUES (?)`, b.org).Error
				}
			},
			check: func(t *testing.T, err error) {
				t.Helper()
				var pgErr *pgconn.PgError
				require.ErrorAs(t, err, &pgErr)
				require.Equal(t, "42P01", pgErr.Code)
			},
		},
		{
			name: "constraint violation",
			fail: func(b *bundle) func(tx *gorm.DB) error {
				// The first run wrote this open alert already.
				return writeAlert(b, "batch-0")
			},
			check: func(t *testing.T, err error) { t.Helper(); require.ErrorIs(t, err, gorm.ErrDuplicatedKey) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			b.enqueueN(t, "j", 3)
			claimed := b.claim(t, jobs.NewClaimID("w"), 10, 3)
			alerts := alertsOf(t, b)
			batch := newBatch(t, b.q, claimed)
			runs := batch.Runs()

			require.NoError(t, runs[0].CompleteInTx(ctx, writeAlert(b, "batch-0")))
			err := runs[1].CompleteInTx(ctx, tt.fail(b))
			require.Error(t, err)
			tt.check(t, err)
			require.NotErrorIs(t, err, jobs.ErrBatchAborted)
			called := false
			err = runs[2].CompleteInTx(ctx, func(*gorm.DB) error { called = true; return nil })
			require.ErrorIs(t, err, jobs.ErrBatchAborted)
			require.False(t, called, "an aborted batch runs no more fn")

			err = batch.Commit(ctx)
			require.ErrorIs(t, err, jobs.ErrBatchAborted)
			tt.check(t, err)
			require.NotErrorIs(t, err, jobs.ErrLeaseLost)
			requireNothingKept(t, b, alerts, claimed, runs)
		})
	}
}

// TestBatchSwallowedStatementFailure proves a batch cannot commit over a failed statement whose
// error a handler ignored: the transaction is aborted, so the next run's statement fails, and a
// Commit reached without any fn returning an error still fails (not as ErrLeaseLost) and keeps
// nothing.
func TestBatchSwallowedStatementFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 3)
	claimed := b.claim(t, jobs.NewClaimID("w"), 10, 3)
	alerts := alertsOf(t, b)

	// Without a later fn: Commit finds the transaction aborted.
	batch := newBatch(t, b.q, claimed[:2])
	runs := batch.Runs()
	require.NoError(t, runs[0].CompleteInTx(ctx, func(tx *gorm.DB) error {
		if err := writeAlert(b, "batch-0")(tx); err != nil {
			return err
		}
		_ = tx.Exec(`SELECT 1 / 0`).Error
		return nil
	}))
	err := batch.Commit(ctx)
	require.Error(t, err)
	require.NotErrorIs(t, err, jobs.ErrLeaseLost)
	requireNothingKept(t, b, alerts, claimed[:2], runs)

	// With a later fn: its statement fails, which aborts the batch.
	batch = newBatch(t, b.q, claimed)
	runs = batch.Runs()
	require.NoError(t, runs[0].CompleteInTx(ctx, func(tx *gorm.DB) error {
		_ = tx.Exec(`SELECT 1 / 0`).Error
		return nil
	}))
	err = runs[1].CompleteInTx(ctx, writeAlert(b, "batch-1"))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "25P02", pgErr.Code, "in failed sql transaction")
	require.ErrorIs(t, runs[2].CompleteInTx(ctx, writeAlert(b, "batch-2")), jobs.ErrBatchAborted)
	require.ErrorIs(t, batch.Commit(ctx), jobs.ErrBatchAborted)
	requireNothingKept(t, b, alerts, claimed, runs)
}

// TestBatchRollback proves Rollback keeps nothing of a batch and leaves its jobs running under
// their claims, that an ended batch refuses further CompleteInTx (without running fn) and Commit
// while a second Rollback does nothing, that a batch whose runs never call CompleteInTx commits
// its completions alone, and that Rollback after Commit undoes nothing.
func TestBatchRollback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 3)
	claimID := jobs.NewClaimID("w")
	claimed := b.claim(t, claimID, 10, 3)
	alerts := alertsOf(t, b)

	// Rolled back before any write: no transaction was even opened.
	newBatch(t, b.q, claimed).Rollback(ctx)

	batch := newBatch(t, b.q, claimed)
	runs := batch.Runs()
	require.NoError(t, runs[0].CompleteInTx(ctx, writeAlert(b, "batch-0")))
	require.NoError(t, runs[1].CompleteInTx(ctx, writeAlert(b, "batch-1")))
	batch.Rollback(ctx)
	requireNothingKept(t, b, alerts, claimed, runs)
	for _, j := range claimed {
		r := b.row(t, j.ID)
		require.Equal(t, ptr(claimID), r.LockedBy)
		require.True(t, r.LockedAt)
	}

	require.NotPanics(t, func() { batch.Rollback(ctx) })
	called := false
	err := runs[2].CompleteInTx(ctx, func(*gorm.DB) error { called = true; return nil })
	require.Error(t, err)
	require.False(t, called, "an ended batch runs no fn")
	require.Error(t, batch.Commit(ctx), "an ended batch cannot commit")
	requireNothingKept(t, b, alerts, claimed, runs)

	// Completions only: the same attempts, still held, in a new batch.
	batch = newBatch(t, b.q, claimed)
	require.NoError(t, batch.Commit(ctx))
	batch.Rollback(ctx)
	require.Error(t, batch.Commit(ctx), "a batch commits once")
	for i, j := range claimed {
		require.True(t, batch.Runs()[i].Completed())
		require.Equal(t, jobs.StatusCompleted, b.row(t, j.ID).Status)
		logs := b.logs(t, j.ID)
		require.Len(t, logs, 1)
		require.Equal(t, "completed", logs[0].Outcome)
		require.Equal(t, claimID, logs[0].Worker)
		require.Equal(t, 1, logs[0].Attempt)
	}
	require.Empty(t, alerts())
}

// TestNewBatchRefuses proves a batch is of one org and not empty: NewBatch refuses no jobs,
// jobs of two orgs (in either order) and a job without an org.
func TestNewBatchRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := dbtest.NewOrg(t, b.db, "other")
	b.enqueue(t, b.job("mine"))
	b.enqueue(t, jobs.NewJob{OrgID: other, Type: jobs.KindNoop, IdempotencyKey: "theirs"})
	claimed := b.claim(t, jobs.NewClaimID("w"), 10, 2)
	require.NotEqual(t, claimed[0].OrgID, claimed[1].OrgID)

	for name, list := range map[string][]*jobs.Job{
		"nil":          nil,
		"empty":        {},
		"two orgs":     claimed,
		"two orgs rev": {claimed[1], claimed[0]},
		"no org":       {{ID: claimed[0].ID, LockedBy: claimed[0].LockedBy, Attempt: 1}},
		"no org later": {claimed[0], {ID: claimed[1].ID, LockedBy: claimed[1].LockedBy, Attempt: 1}},
		"twice":        {claimed[0], claimed[0]},
	} {
		batch, err := b.q.NewBatch(list)
		require.Error(t, err, name)
		require.Nil(t, batch, name)
	}
	for _, j := range claimed {
		batch, err := b.q.NewBatch([]*jobs.Job{j})
		require.NoError(t, err)
		require.Len(t, batch.Runs(), 1)
	}
}

// TestBatchReturnsConnectionClean proves a batch gives its connection back to the pool idle and
// carrying no tenant scope, whether it committed, lost a lease at Commit, was rolled back or was
// aborted by a failed fn: on a pool of one connection, batch after batch runs, and after each
// the pool holds that one connection, not acquired, with the same backend (pgxpool destroys a
// connection returned inside a transaction) and without app.org_id or app.jobs_notify set.
func TestBatchReturnsConnectionClean(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	small, err := db.Open(ctx, db.Options{URL: b.url, MaxConns: 1, AppName: "batch-test"})
	require.NoError(t, err)
	t.Cleanup(small.Close)
	q := jobs.New(small, jobs.Config{BaseDelay: testBaseDelay, MaxAttempts: 3, Jitter: zeroJitter})
	alerts := alertsOf(t, b)

	var backend int64
	require.NoError(t, small.Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend))
	requireClean := func(after string) {
		t.Helper()
		require.EqualValues(t, 0, small.Pool.Stat().AcquiredConns(), "after %s: the connection is back", after)
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var pid int64
		var org, notify string
		require.NoError(t, small.Pool.QueryRow(qctx, `SELECT pg_backend_pid(),
       coalesce(current_setting('app.org_id', true), ''), coalesce(current_setting('app.jobs_notify', true), '')`).Scan(&pid, &org, &notify),
			"after %s", after)
		require.Equal(t, backend, pid, "after %s: the same connection, not a replacement", after)
		require.Empty(t, org, "after %s: no tenant scope leaked", after)
		require.Empty(t, notify, "after %s", after)
	}
	write := func(batch *jobs.Batch, prefix string) {
		t.Helper()
		for i, r := range batch.Runs() {
			require.NoError(t, r.CompleteInTx(ctx, writeAlert(b, fmt.Sprintf("%s-%d", prefix, i))))
		}
	}

	const rounds = 5
	for round := range rounds {
		b.enqueueN(t, fmt.Sprintf("r%d", round), 8)
		claimed := b.claim(t, jobs.NewClaimID("w"), 10, 8)

		batch := newBatch(t, q, claimed[0:2])
		write(batch, fmt.Sprintf("r%d-committed", round))
		require.NoError(t, batch.Commit(ctx))
		requireClean("commit")

		batch = newBatch(t, q, claimed[2:4])
		write(batch, fmt.Sprintf("r%d-lost", round))
		// Another claim holds the job now (kept running, so later rounds do not claim it).
		require.EqualValues(t, 1, b.exec(t, `UPDATE jobs SET locked_by = 'thief' WHERE id = $1`, claimed[3].ID))
		require.ErrorIs(t, batch.Commit(ctx), jobs.ErrLeaseLost)
		requireClean("lease lost")

		batch = newBatch(t, q, claimed[4:6])
		write(batch, fmt.Sprintf("r%d-rolled-back", round))
		batch.Rollback(ctx)
		requireClean("rollback")

		batch = newBatch(t, q, claimed[6:8])
		require.Error(t, batch.Runs()[0].CompleteInTx(ctx, func(tx *gorm.DB) error {
			if err := writeAlert(b, fmt.Sprintf("r%d-aborted", round))(tx); err != nil {
				return err
			}
			return tx.Exec(`SELECT 1 / 0`).Error
		}))
		require.ErrorIs(t, batch.Commit(ctx), jobs.ErrBatchAborted)
		requireClean("abort")

		// A transaction of its own on the same connection still works.
		require.NoError(t, q.NewRun(claimed[2]).CompleteInTx(ctx, writeAlert(b, fmt.Sprintf("r%d-alone", round))))
		requireClean("a run of its own")
	}

	var want []string
	for round := range rounds {
		want = append(want, fmt.Sprintf("r%d-alone", round), fmt.Sprintf("r%d-committed-0", round), fmt.Sprintf("r%d-committed-1", round))
	}
	require.ElementsMatch(t, want, alerts())
	require.Equal(t, 3*rounds, b.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`))
}

// TestBatchWakesAfterCommit proves that the jobs a batch's fns enqueue wake the workers after
// the batch commits, not before (the enqueue is deferred in its transaction, as in a run of its
// own), and that a batch that enqueued nothing, or whose enqueue was rolled back or aborted,
// sends no wake-up.
func TestBatchWakesAfterCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wait, got := b.listenAndClaim(t, 7)
	enqueue := func(key string) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error {
			_, err := b.q.Enqueue(ctx, tx, b.job(key))
			return err
		}
	}

	// Enqueued by the second run of a batch: deferred until Commit, then woken.
	batch := newBatch(t, b.q, got[0:2])
	require.NoError(t, batch.Runs()[0].CompleteInTx(ctx, func(*gorm.DB) error { return nil }))
	require.NoError(t, batch.Runs()[1].CompleteInTx(ctx, enqueue("follow-up")))
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "no wake-up before the commit")
	require.NoError(t, batch.Commit(ctx))
	require.NoError(t, wait(5*time.Second), "the committed enqueue woke the workers")

	// Nothing enqueued: no wake-up.
	batch = newBatch(t, b.q, got[2:3])
	require.NoError(t, batch.Runs()[0].CompleteInTx(ctx, func(*gorm.DB) error { return nil }))
	require.NoError(t, batch.Commit(ctx))

	// Enqueued, then rolled back.
	batch = newBatch(t, b.q, got[3:5])
	require.NoError(t, batch.Runs()[0].CompleteInTx(ctx, enqueue("rolled-back")))
	batch.Rollback(ctx)

	// Enqueued, then aborted by a later run.
	batch = newBatch(t, b.q, got[5:7])
	require.NoError(t, batch.Runs()[0].CompleteInTx(ctx, enqueue("aborted")))
	require.Error(t, batch.Runs()[1].CompleteInTx(ctx, func(*gorm.DB) error { return context.Canceled }))
	require.ErrorIs(t, batch.Commit(ctx), jobs.ErrBatchAborted)

	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "nothing committed, nothing to wake for")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key IN ('follow-up', 'rolled-back', 'aborted')`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`))
}

// TestUnclaim proves Unclaim undoes a claim no attempt followed: the jobs handed back are
// pending in their old place in the queue (run_at unchanged), with the attempt not counted and no
// lease, and one 'released' log row names the claim and why, while the rest of the claim stays
// running; it is fenced on
// (locked_by, attempt), so a wrong claim or attempt, a second Unclaim and the old claim after a
// new one hand back nothing; and the next claim takes the jobs, oldest first, as attempt 1.
func TestUnclaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	ids := b.enqueueN(t, "j", 3)
	// Distinct run_at values in the past, so that the queue has an order to keep.
	for i, ago := range []string{"3 minutes", "2 minutes", "1 minute"} {
		b.exec(t, `UPDATE jobs SET run_at = now() - $2::interval WHERE id = $1`, ids[i], ago)
	}
	runAt := func(id int64) time.Time {
		t.Helper()
		var at time.Time
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT run_at FROM jobs WHERE id = $1`, id).Scan(&at))
		return at
	}
	before := map[int64]time.Time{}
	for _, id := range ids {
		before[id] = runAt(id)
	}

	claimID := jobs.NewClaimID("w")
	got := b.claim(t, claimID, 10, 3)
	require.Equal(t, ids, []int64{got[0].ID, got[1].ID, got[2].ID})

	wrongClaim := *got[0]
	wrongClaim.LockedBy = jobs.NewClaimID("w")
	wrongAttempt := *got[1]
	wrongAttempt.Attempt = 2
	const why = "not started: test"
	back, err := b.q.Unclaim(ctx, []*jobs.Job{&wrongClaim, &wrongAttempt}, why)
	require.NoError(t, err)
	require.Empty(t, back, "a wrong claim or attempt hands back nothing")
	for _, j := range got {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusRunning, r.Status)
		require.Equal(t, 1, r.Attempts)
		require.Equal(t, ptr(claimID), r.LockedBy)
	}

	back, err = b.q.Unclaim(ctx, got[:2], why)
	require.NoError(t, err)
	require.Equal(t, map[int64]bool{got[0].ID: true, got[1].ID: true}, back)
	for _, j := range got[:2] {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusPending, r.Status)
		require.Zero(t, r.Attempts, "the attempt that never ran does not count")
		require.Nil(t, r.LockedBy)
		require.False(t, r.LockedAt)
		require.Nil(t, r.LastError)
		require.False(t, r.CompletedAt)
		require.False(t, r.FailedAt)
		require.True(t, before[j.ID].Equal(runAt(j.ID)), "run_at kept: %v, was %v", runAt(j.ID), before[j.ID])
		require.Equal(t, []logRow{{Attempt: 1, Worker: claimID, Outcome: "released", Error: ptr(why)}}, b.logs(t, j.ID))
	}
	r := b.row(t, got[2].ID)
	require.Equal(t, jobs.StatusRunning, r.Status)
	require.Equal(t, 1, r.Attempts)
	require.Equal(t, ptr(claimID), r.LockedBy)
	require.True(t, r.LockedAt)

	back, err = b.q.Unclaim(ctx, got[:2], why)
	require.NoError(t, err)
	require.Empty(t, back, "a second unclaim hands back nothing")
	require.Len(t, b.logs(t, got[0].ID), 1, "and logs nothing")
	back, err = b.q.Unclaim(ctx, nil, why)
	require.NoError(t, err)
	require.Empty(t, back)

	first := b.claim(t, jobs.NewClaimID("w2"), 1, 1)[0]
	require.Equal(t, got[0].ID, first.ID, "the oldest run_at is first again")
	second := b.claimOne(t, jobs.NewClaimID("w3"))
	require.Equal(t, got[1].ID, second.ID)
	for _, j := range []*jobs.Job{first, second} {
		require.Equal(t, 1, j.Attempt)
		require.Equal(t, 1, b.row(t, j.ID).Attempts)
	}

	// The old claim is fenced out of the new ones.
	back, err = b.q.Unclaim(ctx, got[:2], why)
	require.NoError(t, err)
	require.Empty(t, back)
	require.Equal(t, ptr(first.LockedBy), b.row(t, first.ID).LockedBy)

	done, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: first}, {Job: second}, {Job: got[2]}})
	require.NoError(t, err)
	require.Len(t, done, 3)
	require.Equal(t, []logRow{
		{Attempt: 1, Worker: claimID, Outcome: "released", Error: ptr(why)},
		{Attempt: 1, Worker: first.LockedBy, Outcome: "completed"},
	}, b.logs(t, first.ID))
}

// newBatch starts a batch of claimed on q, rolled back when the test ends unless it ended.
func newBatch(t *testing.T, q *jobs.Queue, claimed []*jobs.Job) *jobs.Batch {
	t.Helper()
	batch, err := q.NewBatch(claimed)
	require.NoError(t, err)
	t.Cleanup(func() { batch.Rollback(context.Background()) })
	return batch
}

// writeAlert is an fn that writes one row: an open integrity alert of b's org named name.
// integrity_alerts allows one open alert per check name, so writing a name twice fails.
func writeAlert(b *bundle, name string) func(tx *gorm.DB) error {
	return func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO integrity_alerts (org_id, check_name) VALUES (?, ?)`, b.org, name).Error
	}
}

// alertsOf returns a reader of the names of b's org's integrity alerts, sorted. Like orgs (see
// orgNameOf), integrity_alerts is under forced row-level security: committed writes are read
// back through a superuser connection, independently of the code under test.
func alertsOf(t *testing.T, b *bundle) func() []string {
	t.Helper()
	super := dbtest.SuperDB(t, b.url)
	return func() []string {
		t.Helper()
		rows, err := super.Pool.Query(t.Context(), `SELECT check_name FROM integrity_alerts WHERE org_id = $1 ORDER BY check_name`, b.org)
		require.NoError(t, err)
		defer rows.Close()
		out := []string{}
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			out = append(out, name)
		}
		require.NoError(t, rows.Err())
		return out
	}
}

// completedLogs returns the job's 'completed' log rows.
func completedLogs(t *testing.T, b *bundle, jobID int64) []logRow {
	t.Helper()
	var out []logRow
	for _, l := range b.logs(t, jobID) {
		if l.Outcome == "completed" {
			out = append(out, l)
		}
	}
	return out
}

// requireNothingKept requires that no alert was written and that no job of claimed completed:
// each still running, with no completion logged, and no run Completed.
func requireNothingKept(t *testing.T, b *bundle, alerts func() []string, claimed []*jobs.Job, runs []*jobs.Run) {
	t.Helper()
	require.Empty(t, alerts(), "nothing written is kept")
	for _, j := range claimed {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusRunning, r.Status)
		require.False(t, r.CompletedAt)
		require.Empty(t, completedLogs(t, b, j.ID))
	}
	for _, r := range runs {
		require.False(t, r.Completed())
	}
}

// TestBatchLogsEachRunsOwnDuration proves each attempt of a batch logs its own run time, framed
// by Run.Begin and Run.Finish, not the time from the batch's start to its commit.
func TestBatchLogsEachRunsOwnDuration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 3)
	got := b.claim(t, jobs.NewClaimID("w"), 10, 3)
	batch := newBatch(t, b.q, got)
	for i, r := range batch.Runs() {
		r.Begin()
		require.NoError(t, r.CompleteInTx(ctx, func(*gorm.DB) error {
			time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
			return nil
		}))
		r.Finish()
	}
	time.Sleep(200 * time.Millisecond) // after the last Finish: not counted
	require.NoError(t, batch.Commit(ctx))
	for i, j := range got {
		d := b.logs(t, j.ID)[0].DurationMS
		want := (i + 1) * 100
		require.GreaterOrEqual(t, d, want, "job %d", i)
		require.Less(t, d, want+90, "job %d logs its own run, not the batch's", i)
	}
}
