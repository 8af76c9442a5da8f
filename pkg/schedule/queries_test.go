package schedule

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestDueCronTasksUsesNextSlotIndex proves that the tick's statement finds its tasks through the
// partial index on next_slot_at once the table's statistics know the stored next slots: with
// thousands of tasks whose next slot is ahead, the plan is an index scan, not a read of every
// task.
func TestDueCronTasksUsesNextSlotIndex(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	org := dbtest.NewOrg(t, d, "acme")
	_, err := d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, next_slot_at)
		SELECT $1, 'daily ' || g, 'noop', '0 0 * * *', now() + interval '1 minute' * g FROM generate_series(1, 5000) g`, org)
	require.NoError(t, err)
	_, err = d.Pool.Exec(t.Context(), `ANALYZE cron_tasks`)
	require.NoError(t, err)
	var plan string
	require.NoError(t, d.Pool.QueryRow(t.Context(), `EXPLAIN (FORMAT JSON) `+dueCronTasksSQL).Scan(&plan))
	require.Contains(t, plan, "cron_tasks_next_slot_at_idx")
	require.NotContains(t, plan, "Seq Scan")
}
