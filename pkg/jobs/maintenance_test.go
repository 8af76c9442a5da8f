package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// TestReap proves the reaper frees only leases older than the horizon: an expired attempt with
// attempts left goes back to pending at once with its lock cleared and the attempt counted (log
// 'reaped' naming the old claim), one with no attempts left is dead-lettered with reason
// 'reaped' (log 'dead'), and a lease younger than the horizon is left alone.
func TestReap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lastTry := b.job("last-try")
	lastTry.MaxAttempts = 1
	ids := b.enqueue(t, b.job("expired"), lastTry, b.job("fresh"), b.job("young"))
	expired, spent, fresh, young := ids[0], ids[1], ids[2], ids[3]
	claimID := jobs.NewClaimID("w")
	b.claim(t, claimID, 10, 4)
	b.expireLease(t, expired, 2*time.Hour)
	b.expireLease(t, spent, 2*time.Hour)
	b.expireLease(t, young, 20*time.Minute)

	res, err := b.q.Reap(ctx, 30*time.Minute)
	require.NoError(t, err)
	require.Equal(t, jobs.ReapResult{Requeued: 1, DeadLettered: 1}, res)

	r := b.row(t, expired)
	require.Equal(t, jobs.StatusPending, r.Status)
	require.Equal(t, 1, r.Attempts, "the expired attempt counts")
	require.Nil(t, r.LockedBy)
	require.False(t, r.LockedAt)
	require.LessOrEqual(t, r.RunInMS, 0.0, "runnable at once")
	require.NotNil(t, r.LastError)
	require.Contains(t, *r.LastError, "reaped")
	logs := b.logs(t, expired)
	require.Len(t, logs, 1)
	require.Equal(t, logRow{Attempt: 1, Worker: claimID, Outcome: "reaped", Error: r.LastError}, logs[0])

	r = b.row(t, spent)
	require.Equal(t, jobs.StatusFailed, r.Status)
	require.True(t, r.FailedAt)
	require.Nil(t, r.LockedBy)
	dls := b.deadLetters(t, spent)
	require.Len(t, dls, 1)
	require.Equal(t, "reaped", dls[0].Reason)
	require.Equal(t, 1, dls[0].Attempts)
	require.Equal(t, r.LastError, dls[0].LastError)
	require.Equal(t, []string{"dead"}, b.outcomes(t, spent))

	for _, id := range []int64{fresh, young} {
		r = b.row(t, id)
		require.Equal(t, jobs.StatusRunning, r.Status)
		require.Equal(t, ptr(claimID), r.LockedBy)
		require.Empty(t, b.logs(t, id))
	}
	require.Empty(t, b.deadLetters(t, expired))

	res, err = b.q.Reap(ctx, 30*time.Minute)
	require.NoError(t, err)
	require.Equal(t, jobs.ReapResult{}, res, "a second pass finds nothing")

	again := b.claimOne(t, jobs.NewClaimID("w2"))
	require.Equal(t, expired, again.ID)
	require.Equal(t, 2, again.Attempt)
}

// TestHeartbeat proves a heartbeat refreshes locked_at (database clock) of the leases still
// held, so the reaper spares them, and reports a lease that was lost as not held without
// touching the job.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	ids := b.enqueueN(t, "j", 2)
	got := b.claim(t, jobs.NewClaimID("w"), 10, 2)
	held, lost := got[0], got[1]
	b.expireLease(t, held.ID, 10*time.Minute)
	b.expireLease(t, lost.ID, 2*time.Hour)
	res, err := b.q.Reap(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued)

	alive := b.heartbeat(t, held, lost)
	require.Equal(t, jobs.Renewal{Renewed: map[int64]bool{held.ID: true}, Lost: map[int64]bool{lost.ID: true}}, alive)
	require.Less(t, b.row(t, held.ID).LockAgeMS, float64(time.Minute.Milliseconds()), "locked_at was renewed")
	require.Equal(t, jobs.StatusPending, b.row(t, lost.ID).Status)
	require.False(t, b.row(t, lost.ID).LockedAt, "a lost lease is not revived")

	// Without the heartbeat this would reap the 10-minute-old lease.
	res, err = b.q.Reap(ctx, 5*time.Minute)
	require.NoError(t, err)
	require.Equal(t, jobs.ReapResult{}, res)
	require.Equal(t, jobs.StatusRunning, b.row(t, held.ID).Status)
	require.ElementsMatch(t, ids, []int64{held.ID, lost.ID})

	empty := b.heartbeat(t)
	require.Empty(t, empty.Renewed)
	require.Empty(t, empty.Lost)
}

// TestHeartbeatNeverWaitsForRowLocks proves a renewal skips a held job whose row another
// transaction has locked (as the attempt's own completion does while it commits) instead of
// waiting for it: it returns at once, renews the other leases, reports the locked one neither
// renewed nor lost and a stolen one lost, and renews the locked one once the lock is gone. A
// renewal that waited would queue behind the worker's completions and, as their multi-row updates
// lock the same rows in other orders, deadlock with them. Through a Renewer too, whose connection
// comes back after it was terminated.
func TestHeartbeatNeverWaitsForRowLocks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 3)
	got := b.claim(t, jobs.NewClaimID("w"), 10, 3)
	free, busy, stolen := got[0], got[1], got[2]
	for _, j := range []*jobs.Job{free, busy} {
		b.expireLease(t, j.ID, 10*time.Minute)
	}
	b.exec(t, `UPDATE jobs SET locked_by = 'thief' WHERE id = $1`, stolen.ID)

	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	_, err = tx.Exec(ctx, `UPDATE jobs SET last_error = 'completing' WHERE id = $1`, busy.ID)
	require.NoError(t, err)

	renewer := b.q.NewRenewer()
	defer renewer.Close()
	want := jobs.Renewal{Renewed: map[int64]bool{free.ID: true}, Lost: map[int64]bool{stolen.ID: true}}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	began := time.Now()
	res, err := renewer.Heartbeat(hctx, []*jobs.Job{free, busy, stolen})
	cancel()
	require.NoError(t, err)
	require.Less(t, time.Since(began), 2*time.Second, "the renewal did not wait for the locked row")
	require.Equal(t, want, res)
	require.Less(t, b.row(t, free.ID).LockAgeMS, float64(time.Minute.Milliseconds()), "renewed")
	b.expireLease(t, free.ID, 10*time.Minute)
	require.NoError(t, tx.Rollback(ctx))
	require.Greater(t, b.row(t, busy.ID).LockAgeMS, float64(time.Minute.Milliseconds()), "the locked lease was not renewed")

	// The renewer's connection is terminated; the next renewal fails, the one after reconnects.
	require.EqualValues(t, 1, b.count(t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE '%leases'`))
	_, err = renewer.Heartbeat(ctx, []*jobs.Job{busy})
	require.Error(t, err, "the terminated connection")
	res, err = renewer.Heartbeat(ctx, []*jobs.Job{free, busy})
	require.NoError(t, err)
	require.Equal(t, jobs.Renewal{Renewed: map[int64]bool{free.ID: true, busy.ID: true}, Lost: map[int64]bool{}}, res)
	require.Less(t, b.row(t, busy.ID).LockAgeMS, float64(time.Minute.Milliseconds()))
}

// TestRelease proves a release hands a held job back as pending and runnable at once without
// counting the interrupted attempt (log 'released'), is fenced like a completion so repeating it
// cannot uncount twice, and leaves other held jobs alone.
func TestRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.enqueueN(t, "j", 2)
	claimID := jobs.NewClaimID("w")
	got := b.claim(t, claimID, 10, 2)
	released, kept := got[0], got[1]
	b.exec(t, `UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = $1`, released.ID)

	out, err := b.q.Release(ctx, []*jobs.Job{released})
	require.NoError(t, err)
	require.Equal(t, map[int64]bool{released.ID: true}, out)

	r := b.row(t, released.ID)
	require.Equal(t, jobs.StatusPending, r.Status)
	require.Zero(t, r.Attempts, "the interrupted attempt does not count")
	require.Nil(t, r.LockedBy)
	require.False(t, r.LockedAt)
	require.LessOrEqual(t, r.RunInMS, 0.0)
	require.Equal(t, []logRow{{Attempt: 1, Worker: claimID, Outcome: "released", Error: ptr("worker shutting down")}}, b.logs(t, released.ID))

	out, err = b.q.Release(ctx, []*jobs.Job{released})
	require.NoError(t, err)
	require.Empty(t, out)
	require.Zero(t, b.row(t, released.ID).Attempts)
	require.Len(t, b.logs(t, released.ID), 1)

	require.Equal(t, jobs.StatusRunning, b.row(t, kept.ID).Status)
	again := b.claimOne(t, jobs.NewClaimID("w2"))
	require.Equal(t, released.ID, again.ID)
	require.Equal(t, 1, again.Attempt)
	// The new claim has the same attempt number as the released one: only locked_by tells them
	// apart, and it fences the released claim out of everything.
	require.Equal(t, released.Attempt, again.Attempt)
	done, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: released}})
	require.NoError(t, err)
	require.Empty(t, done, "the released claim cannot complete the job")
	err = b.db.Tx(ctx, b.org, func(tx *gorm.DB) error { return b.q.CompleteTx(ctx, tx, released, 0) })
	require.ErrorIs(t, err, jobs.ErrLeaseLost)
	_, err = b.q.Fail(ctx, released, errors.New("late"), 0)
	require.ErrorIs(t, err, jobs.ErrLeaseLost)
	require.Equal(t, jobs.Renewal{Renewed: map[int64]bool{}, Lost: map[int64]bool{released.ID: true}}, b.heartbeat(t, released))
	out, err = b.q.Release(ctx, []*jobs.Job{released})
	require.NoError(t, err)
	require.Empty(t, out)
	r = b.row(t, released.ID)
	require.Equal(t, jobs.StatusRunning, r.Status)
	require.Equal(t, ptr(again.LockedBy), r.LockedBy)
	require.Equal(t, 1, r.Attempts)
	require.Nil(t, r.LastError)
	require.Equal(t, []string{"released"}, b.outcomes(t, released.ID))
}

// TestRetryDeadLetter proves an operator retry reopens the dead-lettered job for a fresh set of
// attempts and marks the dead letter retried by whom, once only (Conflict after), that a dead
// letter of another org or an unknown id is NotFound and changes nothing, and that a job that
// dies again gets a new dead letter that can be retried in turn.
func TestRetryDeadLetter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := dbtest.NewOrg(t, b.db, "other")
	nj := b.job("j")
	nj.MaxAttempts = 1
	id := b.enqueue(t, nj)[0]
	kill := func() int64 {
		t.Helper()
		res, err := b.q.Fail(ctx, b.claimOne(t, jobs.NewClaimID("w")), errors.New("boom"), 0)
		require.NoError(t, err)
		require.True(t, res.Dead)
		dls := b.deadLetters(t, id)
		return dls[len(dls)-1].ID
	}
	dlID := kill()

	for name, try := range map[string]func() (int64, error){
		"other org": func() (int64, error) { return b.q.RetryDeadLetter(ctx, other, dlID, "ops") },
		"unknown":   func() (int64, error) { return b.q.RetryDeadLetter(ctx, b.org, dlID+1000, "ops") },
	} {
		_, err := try()
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), name)
		var ae *apperr.Error
		require.ErrorAs(t, err, &ae, name)
	}
	require.Equal(t, jobs.StatusFailed, b.row(t, id).Status)
	require.False(t, b.deadLetters(t, id)[0].Retried)

	jobID, err := b.q.RetryDeadLetter(ctx, b.org, dlID, "ops@example.com")
	require.NoError(t, err)
	require.Equal(t, id, jobID)
	r := b.row(t, id)
	require.Equal(t, jobs.StatusPending, r.Status)
	require.Zero(t, r.Attempts)
	require.False(t, r.FailedAt)
	require.False(t, r.LockedAt)
	require.Nil(t, r.LockedBy)
	require.LessOrEqual(t, r.RunInMS, 0.0)
	dl := b.deadLetters(t, id)[0]
	require.True(t, dl.Retried)
	require.Equal(t, ptr("ops@example.com"), dl.RetriedBy)

	_, err = b.q.RetryDeadLetter(ctx, b.org, dlID, "someone-else")
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err))
	require.Equal(t, ptr("ops@example.com"), b.deadLetters(t, id)[0].RetriedBy, "a refused retry does not rewrite the record")

	again := b.claimOne(t, jobs.NewClaimID("w"))
	require.Equal(t, 1, again.Attempt, "the retry grants a fresh set of attempts")
	_, err = b.q.RetryDeadLetter(ctx, b.org, dlID, "ops")
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err))
	require.Equal(t, jobs.StatusRunning, b.row(t, id).Status, "a refused retry does not touch the running job")
	_, err = b.q.Release(ctx, []*jobs.Job{again})
	require.NoError(t, err)

	second := kill()
	require.NotEqual(t, dlID, second)
	require.Len(t, b.deadLetters(t, id), 2)
	_, err = b.q.RetryDeadLetter(ctx, b.org, second, "ops")
	require.NoError(t, err)
	require.Equal(t, jobs.StatusPending, b.row(t, id).Status)
}

// TestPrune proves the pruner deletes only completed jobs (and job logs) older than the
// retention, at most batch of each per call, and keeps recent completed, pending, running and
// dead-lettered jobs whatever their age.
func TestPrune(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	dying := b.job("dying")
	dying.MaxAttempts = 1
	ids := b.enqueue(t, b.job("old-1"), b.job("old-2"), b.job("old-3"), b.job("recent"), b.job("running"), dying)
	old, recent, running, dead := ids[:3], ids[3], ids[4], ids[5]

	got := b.claim(t, jobs.NewClaimID("w"), 10, 6)
	var done []jobs.Completion
	for _, j := range got {
		switch j.ID {
		case running:
		case dead:
			_, err := b.q.Fail(ctx, j, jobs.Permanentf("no"), 0)
			require.NoError(t, err)
		default:
			done = append(done, jobs.Completion{Job: j})
		}
	}
	completed, err := b.q.CompleteMany(ctx, done)
	require.NoError(t, err)
	require.Len(t, completed, 4)
	pending := b.enqueue(t, b.job("pending"))[0]

	b.exec(t, `UPDATE jobs SET completed_at = now() - interval '48 hours' WHERE id = ANY($1)`, old)
	b.exec(t, `UPDATE jobs SET created_at = now() - interval '48 hours', run_at = now() + interval '1 hour' WHERE id = $1`, pending)
	b.exec(t, `UPDATE jobs SET locked_at = now() - interval '48 hours' WHERE id = $1`, running)
	b.exec(t, `UPDATE jobs SET failed_at = now() - interval '48 hours' WHERE id = $1`, dead)
	b.exec(t, `UPDATE job_logs SET finished_at = now() - interval '48 hours' WHERE job_id = ANY($1) OR job_id = $2`, old, dead)

	n, err := b.q.Prune(ctx, 24*time.Hour, 2)
	require.NoError(t, err)
	require.EqualValues(t, 4, n, "two jobs and two logs")
	n, err = b.q.Prune(ctx, 24*time.Hour, 2)
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "the last old job and the last two old logs")
	n, err = b.q.Prune(ctx, 24*time.Hour, 2)
	require.NoError(t, err)
	require.Zero(t, n)

	require.Zero(t, b.count(t, `SELECT count(*) FROM jobs WHERE id = ANY($1)`, old))
	var left []int64
	rows, err := b.db.Pool.Query(ctx, `SELECT id FROM jobs ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		left = append(left, id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int64{recent, running, dead, pending}, left)
	require.Len(t, b.deadLetters(t, dead), 1, "the dead letter survives")
	require.Equal(t, []string{"completed"}, b.outcomes(t, recent))
	require.Zero(t, b.count(t, `SELECT count(*) FROM job_logs WHERE job_id = ANY($1) OR job_id = $2`, old, dead))
}

// TestDepth proves Depth and its Prometheus collector count pending and running jobs and open
// (not yet retried) dead letters.
func TestDepth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	dying := b.job("dying")
	dying.MaxAttempts = 1
	b.enqueue(t, dying)
	_, err := b.q.Fail(ctx, b.claimOne(t, jobs.NewClaimID("w")), errors.New("boom"), 0)
	require.NoError(t, err)
	b.enqueueN(t, "j", 4)
	b.claim(t, jobs.NewClaimID("w"), 1, 1)

	want := map[jobs.Status]int64{jobs.StatusPending: 3, jobs.StatusRunning: 1, jobs.StatusFailed: 1}
	depth, err := b.q.Depth(ctx)
	require.NoError(t, err)
	require.Equal(t, want, depth)

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(jobs.NewDepthCollector(b.q)))
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1)
	require.Equal(t, "crm_jobs_queue_depth", families[0].GetName())
	got := map[jobs.Status]int64{}
	for _, m := range families[0].GetMetric() {
		require.Len(t, m.GetLabel(), 1)
		got[jobs.Status(m.GetLabel()[0].GetValue())] = int64(m.GetGauge().GetValue())
	}
	require.Equal(t, want, got)
}
