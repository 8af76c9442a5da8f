package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestClaimOfRareTypeReadsItsOwnJobs proves the claim of one job type (claimTypeSQL) does not
// step over a backlog of other types: with 20,000 runnable noop jobs ahead of three
// enrich_lead jobs, its plan, made with the type as ClaimForBatches makes it, reads
// jobs_claim_type_idx (migration 000017).
func TestClaimOfRareTypeReadsItsOwnJobs(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	org := dbtest.NewOrg(t, super, "acme")
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `
INSERT INTO jobs (org_id, job_type, idempotency_key, run_at)
SELECT $1, CASE WHEN g > 20000 THEN 'enrich_lead' ELSE 'noop' END, 'k' || g, now() - interval '1 hour' + g * interval '1 ms'
FROM generate_series(1, 20003) g`, org)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE jobs`)
	require.NoError(t, err)
	var plan string
	require.NoError(t, super.Pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+claimTypeSQL, batchMode, 100, "w/1", "enrich_lead").Scan(&plan))
	require.Contains(t, plan, "jobs_claim_type_idx")
}
