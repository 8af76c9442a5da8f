package schedule

// The statements of the scheduler's tick, in PostgreSQL's placeholders (pkg/db). The tick is
// system work: it reads and writes the schedule tables of every org in one transaction.

const (
	// dueCronTasksSQL takes the enabled cron tasks whose next slot has come (next_slot_at at or
	// before the database's now) or has not been computed yet (NULL), as they are now, with the
	// database's clock. The partial index on next_slot_at finds them: a tick between slots reads
	// no task at all, so ticking every second costs nothing per task. SKIP LOCKED splits the tasks
	// between schedulers that tick at once instead of firing them twice.
	dueCronTasksSQL = `SELECT org_id, id, job_type, cron_expr, timezone, payload, last_slot_at, created_at, now() AS now
FROM cron_tasks WHERE enabled AND (next_slot_at IS NULL OR next_slot_at <= now())
ORDER BY org_id, id FOR UPDATE SKIP LOCKED`

	// advanceCronTasksSQL writes what a tick decided for each task it took, all in one
	// statement: $1 the orgs, $2 the task ids, $3 whether it fired, $4 the slot it fired, $5 its
	// next slot, as parallel arrays. A task that fired has its last_slot_at moved to the slot.
	advanceCronTasksSQL = `UPDATE cron_tasks t
SET last_slot_at = CASE WHEN x.fired THEN x.slot ELSE t.last_slot_at END, next_slot_at = x.next
FROM unnest($1::uuid[], $2::uuid[], $3::boolean[], $4::timestamptz[], $5::timestamptz[]) AS x(org_id, id, fired, slot, next)
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

// The statements of the use cases (service.go), each in one org's tenant transaction and naming
// org_id itself; row-level security is the second guard.

// cronTaskColumns are the columns of a taskRow, with the database's clock (the scheduler's).
const cronTaskColumns = `id, name, job_type, cron_expr, timezone, enabled, payload, last_slot_at, created_at, now() AS now`

const (
	// listCronTasksSQL reads the org's cron tasks by name.
	listCronTasksSQL = `SELECT ` + cronTaskColumns + ` FROM cron_tasks WHERE org_id = $1 ORDER BY name, id`
	// getCronTaskSQL reads the org's cron task $2.
	getCronTaskSQL = `SELECT ` + cronTaskColumns + ` FROM cron_tasks WHERE org_id = $1 AND id = $2`
	// lockCronTaskSQL is getCronTaskSQL with the row locked until the transaction ends: a tick
	// then skips the task (SKIP LOCKED) instead of firing it from the schedule being replaced.
	lockCronTaskSQL = getCronTaskSQL + ` FOR UPDATE`
	// updateCronTaskSQL writes a cron task's schedule, where its slots are accounted for and the
	// slot a tick looks at next.
	updateCronTaskSQL = `UPDATE cron_tasks SET cron_expr = $3, timezone = $4, enabled = $5, last_slot_at = $6, next_slot_at = $7
WHERE org_id = $1 AND id = $2`

	// jobByKeySQL finds the job of the org with a type and an idempotency key (the unique key of
	// jobs), for an enqueue that found it there already.
	jobByKeySQL = `SELECT id FROM jobs WHERE org_id = $1 AND job_type = $2 AND idempotency_key = $3`

	// listScheduledSQL reads the org's pending one-off tasks; the caller adds the keyset's tail.
	listScheduledSQL = `SELECT s.id, s.job_type, s.payload, s.run_at, s.entity_type, s.entity_id, s.created_at
FROM scheduled_tasks s WHERE s.org_id = $1 AND s.status = 'pending'`
	// cancelScheduledSQL cancels the org's task $2 if it is still pending. A tick that is moving
	// it into a job holds its row: the UPDATE waits, then finds it enqueued and changes nothing.
	cancelScheduledSQL = `UPDATE scheduled_tasks SET status = 'cancelled'
WHERE org_id = $1 AND id = $2 AND status = 'pending'
RETURNING job_type, run_at`
	// scheduledStatusSQL reads the status of the org's task $2.
	scheduledStatusSQL = `SELECT status FROM scheduled_tasks WHERE org_id = $1 AND id = $2`
)
