package jobs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/jobs"
)

// TestClaimForBatches proves the claim of a worker that batches: while the oldest runnable job
// is of a batched type it takes only jobs of that type, oldest first, even when others are
// older than some of them; once the oldest is of another type it takes the oldest jobs of any
// type, as Claim does; and an empty queue gives nothing.
func TestClaimForBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	batched := []string{"enrich_lead", "qualify_lead"}
	typed := func(typ, key string) jobs.NewJob {
		j := b.job(key)
		j.Type = typ
		return j
	}
	ids := b.enqueue(t,
		typed("enrich_lead", "a1"), b.job("b1"), typed("enrich_lead", "a2"),
		typed("qualify_lead", "c1"), typed("enrich_lead", "a3"), b.job("b2"))
	for i, id := range ids {
		b.exec(t, `UPDATE jobs SET run_at = now() - make_interval(mins => 10 - $2) WHERE id = $1`, id, i)
	}
	claimIDs := func(got []*jobs.Job) []int64 {
		out := make([]int64, len(got))
		for i, j := range got {
			out[i] = j.ID
		}
		return out
	}

	got, err := b.q.ClaimForBatches(t.Context(), jobs.NewClaimID("w"), 2, batched)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{ids[0], ids[2]}, claimIDs(got), "the two oldest enrich_lead jobs, not the noop between them")

	got, err = b.q.ClaimForBatches(t.Context(), jobs.NewClaimID("w"), 3, batched)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{ids[1], ids[3], ids[4]}, claimIDs(got), "the oldest is a noop: the three oldest of any type")
	for _, j := range got {
		require.Equal(t, jobs.StatusRunning, b.row(t, j.ID).Status)
	}

	got, err = b.q.ClaimForBatches(t.Context(), jobs.NewClaimID("w"), 3, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{ids[5]}, claimIDs(got), "no batched types: as Claim")

	got, err = b.q.ClaimForBatches(t.Context(), jobs.NewClaimID("w"), 3, batched)
	require.NoError(t, err)
	require.Empty(t, got)
}
