package schedule_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/schedule"
)

// nextSlotOf reads a task's stored next_slot_at (nil when NULL).
func nextSlotOf(t *testing.T, b bundle, id uuid.UUID) *time.Time {
	t.Helper()
	var next *time.Time
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT next_slot_at FROM cron_tasks WHERE id = $1`, id).Scan(&next))
	if next != nil {
		u := next.UTC()
		next = &u
	}
	return next
}

// TestIdleTickReadsNoTaskNotDue proves that a tick reads only the tasks whose next slot has come
// or has not been computed: a first tick reads the new tasks (next_slot_at NULL), fires the due
// ones and stores each one's next slot, computing a NULL once; a second tick, with every next
// slot still ahead, reads no task at all, where a tick reading every task accounted for only up
// to before the current minute would read all the hourly and daily ones again.
func TestIdleTickReadsNoTaskNotDue(t *testing.T) {
	t.Parallel()
	withinOnePeriod(t, func(b bundle) bool {
		org := dbtest.NewOrg(t, b.d, "acme")
		_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		SELECT $1, 'hourly ' || g, 'noop', '0 * * * *', now() - interval '2 hours' FROM generate_series(1, 20) g`, org)
		require.NoError(t, err)
		var daily uuid.UUID
		require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		VALUES ($1, 'daily', 'noop', '0 0 * * *', now()) RETURNING id`, org).Scan(&daily))
		require.Equal(t, 21, count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE next_slot_at IS NULL`))

		hour := func() time.Time {
			var h time.Time
			require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT date_trunc('hour', now())`).Scan(&h))
			return h.UTC()
		}
		h1 := hour()
		res, err := b.sched.Tick(t.Context())
		require.NoError(t, err)
		require.Equal(t, 21, res.CronRead, "every task not computed yet is read once")
		require.Equal(t, 20, res.CronFired, "the hourly ones had a slot due, the daily one none")
		require.Zero(t, count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE next_slot_at IS NULL`), "a NULL is computed")
		require.Equal(t, 20, count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE cron_expr = '0 * * * *'
		AND next_slot_at = last_slot_at + interval '1 hour'`), "a fired task's next slot is the one after the fired slot")
		require.Equal(t, time.Now().UTC().Truncate(24*time.Hour).Add(24*time.Hour), *nextSlotOf(t, b, daily),
			"a task with no slot due gets its first slot after now")

		res, err = b.sched.Tick(t.Context())
		require.NoError(t, err)
		if !hour().Equal(h1) {
			return false // an hour boundary passed between the ticks
		}
		require.Zero(t, res.CronRead, "no task whose next slot is ahead is read")
		require.Zero(t, res.CronFired)
		require.Equal(t, 20, count(t, b.d, `SELECT count(*) FROM jobs`))
		return true
	})
}

// TestTickCatchesUpFromPastNextSlot proves the catch-up rule through next_slot_at: a task whose
// stored next slot passed long ago (the scheduler was down for days) is read and fires once, for
// the latest missed slot, and its next slot moves to the one after that.
func TestTickCatchesUpFromPastNextSlot(t *testing.T) {
	t.Parallel()
	withinOnePeriod(t, func(b bundle) bool {
		org := dbtest.NewOrg(t, b.d, "acme")
		var id uuid.UUID
		require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		VALUES ($1, 'hourly', 'noop', '0 * * * *', date_trunc('hour', now()) - interval '10 days') RETURNING id`, org).Scan(&id))
		_, err := b.d.Pool.Exec(t.Context(), `UPDATE cron_tasks SET next_slot_at = last_slot_at + interval '1 hour' WHERE id = $1`, id)
		require.NoError(t, err)

		var h time.Time
		require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT date_trunc('hour', now())`).Scan(&h))
		res, err := b.sched.Tick(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, res.CronFired, "one job for ten days of missed slots")
		var last time.Time
		require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT last_slot_at FROM cron_tasks WHERE id = $1`, id).Scan(&last))
		if !last.Equal(h) {
			return false // an hour boundary passed before the tick
		}
		require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs WHERE idempotency_key = 'cron:' || $1::text || ':' || $2::text`,
			id, strconv.FormatInt(h.Unix(), 10)), "the latest missed slot fires")
		require.Equal(t, h.UTC().Add(time.Hour), *nextSlotOf(t, b, id))
		return true
	})
}

// TestUpdateCronTaskSetsNextSlot proves that every change through the service keeps next_slot_at
// equal to the nextSlotAt the API shows (the slot the tick fires next): a new expression, a new
// zone, disabling (NULL: a disabled task is not read) and enabling again; and that a change
// written straight to the table clears it, so the next tick computes it instead of trusting it.
func TestUpdateCronTaskSetsNextSlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := newService(b)
	org := dbtest.NewOrg(t, b.d, "org-"+uuid.NewString()[:8])
	var id uuid.UUID
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		VALUES ($1, 'task', 'noop', '0 3 1 * *', now() - interval '3 days') RETURNING id`, org).Scan(&id))
	_, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.NotNil(t, nextSlotOf(t, b, id))

	str := func(s string) *string { return &s }
	off, on := false, true
	for _, p := range []schedule.CronPatch{
		{CronExpr: str("30 6 * * *")},
		{Timezone: str("Asia/Tokyo")},
		{CronExpr: str("0 9 * * MON"), Timezone: str("America/New_York")},
		{Enabled: &off},
		{Enabled: &on},
	} {
		got, err := svc.UpdateCronTask(t.Context(), org, "test", id, p)
		require.NoError(t, err)
		require.Equal(t, got.NextSlotAt, nextSlotOf(t, b, id), "%+v", p)
		if got.Enabled {
			require.NotNil(t, got.NextSlotAt)
			require.True(t, got.NextSlotAt.After(time.Now()), "the next slot is after the change")
		}
	}

	_, err = b.d.Pool.Exec(t.Context(), `UPDATE cron_tasks SET cron_expr = '* * * * *' WHERE id = $1`, id)
	require.NoError(t, err)
	require.Nil(t, nextSlotOf(t, b, id), "a change by hand clears the stored slot")
	res, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.CronRead)
	tasks, err := svc.CronTasks(t.Context(), org)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	if res.CronFired == 0 {
		// No minute boundary since the change: the tick stored the first slot after now.
		require.Equal(t, tasks[0].NextSlotAt, nextSlotOf(t, b, id))
	}
}

// TestTickRechecksBrokenTaskLater proves that a task whose schedule is broken is counted and
// logged once, then left until next_slot_at (an hour on) instead of being read on every tick.
func TestTickRechecksBrokenTaskLater(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org := dbtest.NewOrg(t, b.d, "acme")
	_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, timezone)
		VALUES ($1, 'bad zone', 'noop', '* * * * *', 'Nowhere/Land')`, org)
	require.NoError(t, err)
	res, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.Invalid)
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE next_slot_at > now() + interval '59 minutes'`))
	res, err = b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Zero(t, res.CronRead)
	require.Zero(t, res.Invalid)
}
