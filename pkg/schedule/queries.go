package schedule

// The statements of the scheduler's tick, in PostgreSQL's placeholders (pkg/db). The tick is
// system work: it reads and writes the schedule tables of every org in one transaction.

const (
	// dueCronTasksSQL takes the enabled cron tasks with the database's clock. SKIP LOCKED splits
	// the tasks between schedulers that tick at once instead of firing them twice.
	dueCronTasksSQL = `SELECT org_id, id, job_type, cron_expr, timezone, payload, last_slot_at, created_at, now() AS now
FROM cron_tasks WHERE enabled ORDER BY org_id, id FOR UPDATE SKIP LOCKED`

	// advanceCronTasksSQL moves each fired task's last_slot_at to the slot it fired, all in one
	// statement: $1 the orgs, $2 the task ids, $3 the slots, as parallel arrays.
	advanceCronTasksSQL = `UPDATE cron_tasks t SET last_slot_at = x.slot
FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS x(org_id, id, slot)
WHERE t.org_id = x.org_id AND t.id = x.id`

	// takeDueScheduledSQL marks up to $1 pending one-off tasks whose time has come as enqueued,
	// oldest run_at first, and returns them.
	takeDueScheduledSQL = `WITH due AS (
    SELECT org_id, id FROM scheduled_tasks
    WHERE status = 'pending' AND run_at <= now()
    ORDER BY run_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE scheduled_tasks t SET status = 'enqueued', enqueued_at = now()
FROM due WHERE t.org_id = due.org_id AND t.id = due.id
RETURNING t.org_id, t.id, t.job_type, t.payload`
)
