package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestPruneLogsCanUseIndex proves the pruner's search for old job logs can be answered by an
// index (migration 000015) rather than only by reading the whole table: with sequential scans
// priced out, its plan goes through job_logs_finished_brin.
func TestPruneLogsCanUseIndex(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	conn, err := super.Pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(t.Context(), "SET enable_seqscan = off")
	require.NoError(t, err)
	var plan string
	require.NoError(t, conn.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+pruneLogsSQL, int64(3600000), 5000).Scan(&plan))
	require.Contains(t, plan, "job_logs_finished_brin")
}
