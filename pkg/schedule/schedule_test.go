package schedule_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/schedule"
)

// TestLatestSlot checks the slot arithmetic: the latest slot in (after, now], none when the next
// slot is still ahead, time zones, and broken expressions.
func TestLatestSlot(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name, expr, tz, after, now string
		want                       string // "" = no slot
		wantErr                    bool
	}{
		{name: "hourly, two missed, latest wins", expr: "0 * * * *", tz: "UTC", after: "2026-01-01T10:00:00Z", now: "2026-01-01T12:30:00Z", want: "2026-01-01T12:00:00Z"},
		{name: "slot exactly now counts", expr: "0 * * * *", tz: "UTC", after: "2026-01-01T11:00:00Z", now: "2026-01-01T12:00:00Z", want: "2026-01-01T12:00:00Z"},
		{name: "slot equal to after does not count again", expr: "0 * * * *", tz: "UTC", after: "2026-01-01T12:00:00Z", now: "2026-01-01T12:59:59Z"},
		{name: "daily in a time zone", expr: "0 6 * * *", tz: "Europe/Berlin", after: "2026-01-01T00:00:00Z", now: "2026-01-01T06:00:00Z", want: "2026-01-01T05:00:00Z"},
		{name: "lookback is bounded", expr: "0 0 1 1 *", tz: "UTC", after: "2020-01-01T00:00:00Z", now: "2026-06-01T00:00:00Z"},
		{name: "bad expression", expr: "61 * * * *", tz: "UTC", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "bad time zone", expr: "0 * * * *", tz: "Mars/Olympus", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slot, ok, err := schedule.LatestSlot(tc.expr, tc.tz, at(tc.after), at(tc.now))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tc.want == "" {
				require.False(t, ok, "unexpected slot %s", slot)
				return
			}
			require.True(t, ok)
			require.Equal(t, at(tc.want), slot)
		})
	}
}

type bundle struct {
	d     *db.DB
	sched *schedule.Scheduler
}

func setup(t *testing.T) bundle {
	t.Helper()
	d, _ := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	return bundle{d: d, sched: schedule.New(d, q, zaptest.NewLogger(t))}
}

// withinOnePeriod runs attempt on a fresh database until one attempt ran within one period of
// the database clock (a minute or an hour, as the attempt checks): attempt returns false when a
// period boundary passed between its ticks, which makes a slot due that its assertions assume is
// not. Three attempts in a row cannot all straddle a boundary unless the clock is broken.
func withinOnePeriod(t *testing.T, attempt func(b bundle) bool) {
	t.Helper()
	for range 3 {
		if attempt(setup(t)) {
			return
		}
	}
	t.Fatal("a clock period boundary passed during each of three attempts")
}

func count(t *testing.T, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, d.Pool.QueryRow(t.Context(), query, args...).Scan(&n))
	return n
}

// TestTickFiresEachSlotOnce proves that a due cron slot becomes exactly one job, with the slot in
// its key and payload, that last_slot_at advances, and that ticking again (even from several
// schedulers at once) fires nothing more for the same slot.
func TestTickFiresEachSlotOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org := dbtest.NewOrg(t, b.d, "acme")
	_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		VALUES ($1, 'every minute', 'noop', '* * * * *', now() - interval '5 minutes'),
		       ($1, 'disabled', 'noop', '* * * * *', now() - interval '5 minutes')`, org)
	require.NoError(t, err)
	_, err = b.d.Pool.Exec(t.Context(), `UPDATE cron_tasks SET enabled = false WHERE name = 'disabled'`)
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := b.sched.Tick(t.Context())
			require.NoError(t, err)
		})
	}
	wg.Wait()

	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs WHERE job_type = 'noop'`))
	var key, slot string
	require.NoError(t, b.d.Pool.QueryRow(t.Context(),
		`SELECT j.idempotency_key, j.payload->>'slot' FROM jobs j`).Scan(&key, &slot))
	var last time.Time
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT last_slot_at FROM cron_tasks WHERE name = 'every minute'`).Scan(&last))
	require.Equal(t, last.UTC().Format(time.RFC3339), slot)
	var taskID string
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT id::text FROM cron_tasks WHERE name = 'every minute'`).Scan(&taskID))
	require.Equal(t, fmt.Sprintf("cron:%s:%d", taskID, last.Unix()), key)
	require.Zero(t, last.Second(), "a slot is a whole minute")

	// The same slot again, from a clean slate of last_slot_at, is deduplicated by the jobs key.
	_, err = b.d.Pool.Exec(t.Context(), `UPDATE cron_tasks SET last_slot_at = $1::timestamptz - interval '1 minute' WHERE name = 'every minute'`, last)
	require.NoError(t, err)
	_, err = b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.LessOrEqual(t, count(t, b.d, `SELECT count(*) FROM jobs`), 2, "at most the slot that may have ticked over since")
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs WHERE idempotency_key = $1`, key))
}

// TestTickSkipsInvalidTasks proves a broken cron expression is skipped and counted, and does not
// stop the other tasks.
func TestTickSkipsInvalidTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org := dbtest.NewOrg(t, b.d, "acme")
	_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, timezone, last_slot_at)
		VALUES ($1, 'broken', 'noop', '99 * * * *', 'UTC', now() - interval '2 hours'),
		       ($1, 'bad zone', 'noop', '* * * * *', 'Nowhere/Land', now() - interval '2 hours'),
		       ($1, 'good', 'noop', '* * * * *', 'UTC', now() - interval '2 hours')`, org)
	require.NoError(t, err)
	res, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.CronFired)
	require.Equal(t, 2, res.Invalid)
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs`))
}

// TestTickFiresTasksOfManyOrgs proves that one tick fires the due slot of every task, across
// orgs, and advances each task to its own slot.
func TestTickFiresTasksOfManyOrgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, name := range []string{"acme", "other"} {
		org := dbtest.NewOrg(t, b.d, name)
		_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
			VALUES ($1, 'every minute', 'noop', '* * * * *', now() - interval '5 minutes'),
			       ($1, 'hourly', 'noop', '0 * * * *', now() - interval '2 hours')`, org)
		require.NoError(t, err)
	}
	res, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 4, res.CronFired)
	require.Equal(t, 4, count(t, b.d, `SELECT count(*) FROM jobs WHERE job_type = 'noop'`))
	require.Equal(t, 4, count(t, b.d, `SELECT count(*) FROM cron_tasks t JOIN jobs j ON j.org_id = t.org_id
		AND j.idempotency_key = 'cron:' || t.id || ':' || extract(epoch FROM t.last_slot_at)::bigint
		AND j.payload->>'slot' = to_char(t.last_slot_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`))
	require.Zero(t, count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE last_slot_at < now() - interval '1 hour'`))
}

// TestIdleTickLocksNoTask proves that a tick with no slot due reads the tasks without locking
// them: after a tick has fired a per-minute and a daily task, a second tick leaves both rows
// untouched (their xmax unchanged: no row lock was written), where locking every task on each
// tick would mark each one with its transaction id.
func TestIdleTickLocksNoTask(t *testing.T) {
	t.Parallel()
	withinOnePeriod(t, func(b bundle) bool {
		org := dbtest.NewOrg(t, b.d, "acme")
		_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		VALUES ($1, 'every minute', 'noop', '* * * * *', now() - interval '5 minutes'),
		       ($1, 'daily', 'noop', '0 0 * * *', now() - interval '2 days')`, org)
		require.NoError(t, err)
		res, err := b.sched.Tick(t.Context())
		require.NoError(t, err)
		require.Equal(t, 2, res.CronFired)
		// A row lock writes the locker's transaction id into the row's xmax.
		xmaxes := func() (minute time.Time, xmax string) {
			require.NoError(t, b.d.Pool.QueryRow(t.Context(), `SELECT date_trunc('minute', now()),
			(SELECT string_agg(xmax::text, ',' ORDER BY name) FROM cron_tasks)`).Scan(&minute, &xmax))
			return minute, xmax
		}
		m1, before := xmaxes()
		res, err = b.sched.Tick(t.Context())
		require.NoError(t, err)
		m2, after := xmaxes()
		if !m1.Equal(m2) {
			return false // a minute boundary between the ticks made the per-minute task due again
		}
		require.Zero(t, res.CronFired)
		require.Equal(t, before, after, "no task was locked by the idle tick")
		return true
	})
}

// TestTickMovesDueScheduledTasks proves that due one-off tasks become one job each and are
// marked enqueued, that future and cancelled ones stay, and that a second tick adds nothing.
func TestTickMovesDueScheduledTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org := dbtest.NewOrg(t, b.d, "acme")
	_, err := b.d.Pool.Exec(t.Context(), `INSERT INTO scheduled_tasks (org_id, job_type, payload, run_at, status)
		VALUES ($1, 'noop', '{"sleepMs": 1}', now() - interval '1 minute', 'pending'),
		       ($1, 'noop', '{}', now() + interval '1 hour', 'pending'),
		       ($1, 'noop', '{}', now() - interval '1 hour', 'cancelled')`, org)
	require.NoError(t, err)
	res, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.ScheduledQueued)
	_, err = b.sched.Tick(t.Context())
	require.NoError(t, err)

	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs WHERE payload = '{"sleepMs": 1}'::jsonb`))
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM scheduled_tasks WHERE status = 'enqueued' AND enqueued_at IS NOT NULL`))
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM scheduled_tasks WHERE status = 'pending'`))
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs`))
}
