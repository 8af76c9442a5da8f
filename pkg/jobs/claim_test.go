package jobs_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// TestClaimLeasesJobs proves a claim takes at most limit jobs, oldest run_at first, and turns
// each into a lease in the table (running, attempts + 1, locked_by the claim, locked_at and
// attempted_at set) while reporting the job's own fields to the caller.
func TestClaimLeasesJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)

	first := b.job("first")
	first.Payload = map[string]string{"leadId": "l-1"}
	ids := b.enqueue(t, first, b.job("second"), b.job("third"))
	// Distinct run_at values in the past, in an order unlike the ids'.
	for i, ago := range []string{"3 minutes", "1 minute", "10 minutes"} {
		b.exec(t, `UPDATE jobs SET run_at = now() - $2::interval WHERE id = $1`, ids[i], ago)
	}

	claimID := jobs.NewClaimID("worker-1")
	got := b.claim(t, claimID, 2, 2)
	gotIDs := []int64{got[0].ID, got[1].ID}
	require.ElementsMatch(t, []int64{ids[2], ids[0]}, gotIDs, "the two oldest run_at are claimed")

	for _, j := range got {
		r := b.row(t, j.ID)
		require.Equal(t, jobs.StatusRunning, r.Status)
		require.Equal(t, 1, r.Attempts)
		require.Equal(t, ptr(claimID), r.LockedBy)
		require.True(t, r.LockedAt)
		require.True(t, r.AttemptedAt)
		require.Less(t, r.LockAgeMS, float64(time.Minute.Milliseconds()))

		require.Equal(t, b.org, j.OrgID)
		require.Equal(t, jobs.KindNoop, j.Type)
		require.Equal(t, 1, j.Attempt)
		require.Equal(t, 3, j.MaxAttempts)
		require.Equal(t, claimID, j.LockedBy)
		require.False(t, j.CreatedAt.IsZero())
		require.Equal(t, r.IdempotencyKey, j.IdempotencyKey)
		require.JSONEq(t, string(r.Payload), string(j.Payload))
	}
	for _, j := range got {
		if j.ID == ids[0] {
			require.JSONEq(t, `{"leadId":"l-1"}`, string(j.Payload))
		}
	}

	untouched := b.row(t, ids[1])
	require.Equal(t, jobs.StatusPending, untouched.Status)
	require.Zero(t, untouched.Attempts)
	require.Nil(t, untouched.LockedBy)
	require.False(t, untouched.LockedAt)

	require.Equal(t, ids[1], b.claimOne(t, jobs.NewClaimID("worker-2")).ID)
	b.claim(t, jobs.NewClaimID("worker-3"), 10, 0)
}

// TestNewClaimIDIsUniquePerClaim proves claim ids name the worker and differ on every call, so
// that two claims by one worker still fence each other.
func TestNewClaimIDIsUniquePerClaim(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := jobs.NewClaimID("host-1")
		require.Regexp(t, regexp.MustCompile(`^host-1/[0-9a-f]{12}$`), id)
		require.False(t, seen[id], "claim id %s repeated", id)
		seen[id] = true
	}
}

// TestClaimRespectsRunAtAndAttempts proves a job is claimed only once the database's now()
// reaches its run_at, and never once its attempts are spent, even if it is pending.
func TestClaimRespectsRunAtAndAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.enqueueN(t, "j", 3)
	future, spent, lastTry := ids[0], ids[1], ids[2]

	b.exec(t, `UPDATE jobs SET run_at = now() + interval '1 minute' WHERE id = $1`, future)
	b.exec(t, `UPDATE jobs SET attempts = max_attempts WHERE id = $1`, spent)
	b.exec(t, `UPDATE jobs SET attempts = max_attempts - 1 WHERE id = $1`, lastTry)

	j := b.claimOne(t, jobs.NewClaimID("w"))
	require.Equal(t, lastTry, j.ID)
	require.Equal(t, 3, j.Attempt, "the last allowed attempt is still claimed")
	require.Equal(t, 3, b.row(t, lastTry).Attempts)

	b.claim(t, jobs.NewClaimID("w"), 10, 0)
	require.Equal(t, jobs.StatusPending, b.row(t, spent).Status)
	require.Equal(t, 3, b.row(t, spent).Attempts, "a spent job is not claimed past its limit")
	require.Equal(t, jobs.StatusPending, b.row(t, future).Status)

	b.exec(t, `UPDATE jobs SET run_at = now() WHERE id = $1`, future)
	require.Equal(t, future, b.claimOne(t, jobs.NewClaimID("w")).ID)
}

// TestClaimSkipsLockedRows proves a claim does not wait for a row another transaction holds
// locked: it returns the other runnable jobs at once, and the locked one once it is free.
func TestClaimSkipsLockedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.enqueueN(t, "j", 2)

	tx, err := b.db.Pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(t.Context(), `SELECT id FROM jobs WHERE id = $1 FOR UPDATE`, ids[0])
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := b.q.Claim(ctx, jobs.NewClaimID("w"), 10)
	require.NoError(t, err, "the claim must not block on the locked row")
	require.Len(t, got, 1)
	require.Equal(t, ids[1], got[0].ID)

	require.NoError(t, tx.Rollback(t.Context()))
	require.Equal(t, ids[0], b.claimOne(t, jobs.NewClaimID("w")).ID)
}

// TestClaimConcurrentClaimersNeverShare proves FOR UPDATE SKIP LOCKED under contention: eight
// claimers racing over 2,000 jobs of two orgs never receive the same job twice and together
// receive every job, and the table agrees with what each of them was told.
func TestClaimConcurrentClaimersNeverShare(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := dbtest.NewOrg(t, b.db, "other")

	const perOrg, claimers, batch = 1000, 8, 25
	var all []jobs.NewJob
	for i := range perOrg {
		all = append(all, b.job(fmt.Sprintf("a-%d", i)), jobs.NewJob{OrgID: other, Type: jobs.KindNoop, IdempotencyKey: fmt.Sprintf("b-%d", i)})
	}
	b.enqueue(t, all...)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	got := make([][]*jobs.Job, claimers)
	for w := range claimers {
		wg.Go(func() {
			for {
				js, err := b.q.Claim(ctx, jobs.NewClaimID(fmt.Sprintf("w%d", w)), batch)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if len(js) == 0 {
					return
				}
				got[w] = append(got[w], js...)
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)

	owner := map[int64]string{}
	for w := range claimers {
		for _, j := range got[w] {
			prev, dup := owner[j.ID]
			require.False(t, dup, "job %d claimed by %s and %s", j.ID, prev, j.LockedBy)
			owner[j.ID] = j.LockedBy
			require.Equal(t, 1, j.Attempt)
		}
	}
	require.Len(t, owner, 2*perOrg, "every job is claimed")

	rows, err := b.db.Pool.Query(ctx, `SELECT id, status, attempts, locked_by FROM jobs`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id       int64
			status   string
			attempts int
			lockedBy string
		)
		require.NoError(t, rows.Scan(&id, &status, &attempts, &lockedBy))
		require.Equal(t, "running", status)
		require.Equal(t, 1, attempts, "job %d was claimed more than once", id)
		require.Equal(t, owner[id], lockedBy, "job %d is locked by the claim that was told it got it", id)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 2*perOrg, n)
}
