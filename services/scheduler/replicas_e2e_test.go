package main_test

// End-to-end tests of scheduler replicas: three real processes over the per-minute tasks of 100
// orgs, replicas whose clocks are minutes off, a replica killed with SIGKILL inside a tick's
// transaction, and the catch-up after downtime. The scheduler has no lock and no leader election
// to switch off: every replica ticks, rows are split between concurrent ticks with FOR UPDATE
// SKIP LOCKED, and a slot's job is unique by its idempotency key (pkg/schedule's doc).
//
// The tests over per-minute slots wait for real minute boundaries (cron's finest grain; the slot
// comes from the database clock, which a test cannot speed up), about three minutes each. They
// run in `make test`; `go test -short` skips them.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/proctest"
)

// replicaOrgs is the number of orgs, each with one task, of the replica tests.
const replicaOrgs = 100

// tickEnv is the scheduler setting of the replica tests: a tick every 200 ms.
const tickEnv = "SCHEDULER_POLL_INTERVAL_MS=200"

// maxLag bounds how long after its slot (database clock) a job may be created: a tick interval
// and a tick's work, with room for a machine busy with -race and parallel tests.
const maxLag = 5 * time.Second

// longE2E skips a test that waits for minute boundaries under -short.
func longE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("waits for real minute boundaries (about three minutes); run without -short")
	}
}

// seedTasks inserts replicaOrgs orgs, each with one enabled noop task of expr whose slots are
// accounted for up to lastSlot (an SQL expression on the database clock), and returns the
// tasks' ids. The superuser connection bypasses row-level security.
func seedTasks(t *testing.T, super *db.DB, expr, lastSlot string) []uuid.UUID {
	t.Helper()
	_, err := super.Pool.Exec(t.Context(), `INSERT INTO orgs (name) SELECT 'replicas-' || g FROM generate_series(1, $1) g`, replicaOrgs)
	require.NoError(t, err)
	rows, err := super.Pool.Query(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
SELECT id, 'replica-check', 'noop', $1, `+lastSlot+` FROM orgs WHERE name LIKE 'replicas-%' RETURNING id`, expr)
	require.NoError(t, err)
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, replicaOrgs)
	return ids
}

// fire is one cron job as the tables show it.
type fire struct {
	task    uuid.UUID
	slot    time.Time // from the idempotency key cron:<task>:<slot unix seconds>
	payload time.Time // the payload's "slot"
	created time.Time // jobs.created_at: the database clock of the tick that enqueued it
	last    time.Time // the task's last_slot_at
}

// fires reads every cron job of the database.
func fires(t *testing.T, super *db.DB) []fire {
	t.Helper()
	rows, err := super.Pool.Query(t.Context(), `SELECT j.idempotency_key, (j.payload->>'slot')::timestamptz, j.created_at, c.last_slot_at
FROM jobs j JOIN cron_tasks c ON c.id = split_part(j.idempotency_key, ':', 2)::uuid
WHERE j.idempotency_key LIKE 'cron:%' AND j.job_type = 'noop'`)
	require.NoError(t, err)
	defer rows.Close()
	var out []fire
	for rows.Next() {
		var key string
		var f fire
		require.NoError(t, rows.Scan(&key, &f.payload, &f.created, &f.last))
		parts := strings.Split(key, ":")
		require.Len(t, parts, 3, "key %s", key)
		f.task = uuid.MustParse(parts[1])
		sec, err := strconv.ParseInt(parts[2], 10, 64)
		require.NoError(t, err)
		f.slot = time.Unix(sec, 0).UTC()
		out = append(out, f)
	}
	require.NoError(t, rows.Err())
	return out
}

// count runs a count query on the superuser connection.
func count(t *testing.T, super *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, super.Pool.QueryRow(t.Context(), q, args...).Scan(&n))
	return n
}

// dbNow is the database clock.
func dbNow(t *testing.T, super *db.DB) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT now()`).Scan(&now))
	return now
}

// idleTicks lets the replicas tick for about a second (pg_sleep on the database: the wait is
// the server's, not the test's clock), so that a second fire of anything would have happened.
func idleTicks(t *testing.T, super *db.DB) {
	t.Helper()
	_, err := super.Pool.Exec(t.Context(), `SELECT pg_sleep(1.2)`)
	require.NoError(t, err)
}

// stopAll disables every task (so that no later slot fires while the counters are read), checks
// that the replicas' enqueue counters add up to the cron jobs, then stops them with SIGTERM and
// checks that each exits 0 without a failed tick.
func stopAll(t *testing.T, super *db.DB, procs []*proctest.Proc, bases []string) {
	t.Helper()
	_, err := super.Pool.Exec(t.Context(), `UPDATE cron_tasks SET enabled = false`)
	require.NoError(t, err)
	// A tick that committed just before counts its jobs right after: let it.
	idleTicks(t, super)
	total := 0
	for _, b := range bases {
		total += enqueuedCount(t, b)
	}
	require.Equal(t, count(t, super, `SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'cron:%'`), total,
		"the replicas' enqueue counters add up to the jobs: no slot was fired by two of them")
	for _, p := range procs {
		p.Signal(t, syscall.SIGTERM)
		require.Zero(t, p.WaitExit(t, 15*time.Second).ExitStatus(), "%s exits cleanly", p.Name)
		require.NotContains(t, p.Output(), "schedule tick failed")
	}
}

// everySlotOnce runs the replicas (one environment each) over per-minute tasks of replicaOrgs
// orgs for the next two minute boundaries and checks that each (task, slot) became exactly one
// job: none missed, none early (created before its slot on the database clock), none later
// than lagLimit after its slot, none of a slot before the start. It returns the replicas and the
// local times just before they were started and once all were listening.
func everySlotOnce(t *testing.T, envs [][]string, lagLimit time.Duration) (procs []*proctest.Proc, started, listening time.Time) {
	t.Helper()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	// The current minute's slot is accounted for: the first slot to fire is the next boundary.
	ids := seedTasks(t, super, "* * * * *", "date_trunc('minute', now())")
	var start time.Time
	require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT min(last_slot_at) FROM cron_tasks`).Scan(&start))
	start = start.UTC()
	s1, s2 := start.Add(time.Minute), start.Add(2*time.Minute)

	procs = make([]*proctest.Proc, len(envs))
	bases := make([]string, len(envs))
	started = time.Now()
	for i, env := range envs {
		procs[i] = proctest.Start(t, schedulerBin, fmt.Sprintf("scheduler-%c", 'a'+i), proctest.Env(url, env...), "serve")
	}
	for i, p := range procs {
		bases[i] = p.BaseURL(t)
	}
	listening = time.Now()
	proctest.Eventually(t, s2.Sub(dbNow(t, super))+time.Minute,
		"two minute slots of every task to be enqueued", func() bool {
			return count(t, super, `SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'cron:%'`) >= 2*replicaOrgs
		})
	idleTicks(t, super)
	stopAll(t, super, procs, bases)

	got := map[uuid.UUID][]time.Time{}
	for _, f := range fires(t, super) {
		require.True(t, f.slot.Equal(f.payload), "payload slot %s is the key's %s", f.payload, f.slot)
		require.True(t, f.slot.After(start), "slot %s is after the start %s", f.slot, start)
		require.False(t, f.created.Before(f.slot), "slot %s enqueued early, at %s", f.slot, f.created)
		require.LessOrEqual(t, f.created.Sub(f.slot), lagLimit, "slot %s enqueued late, at %s", f.slot, f.created)
		require.True(t, f.slot.Equal(f.created.Truncate(time.Minute)), "slot %s is the minute of its tick %s", f.slot, f.created)
		got[f.task] = append(got[f.task], f.slot)
	}
	require.Len(t, got, len(ids), "every task fired")
	for _, id := range ids {
		slots := got[id]
		// Each minute from s1 on exactly once: s1, s2 and any later one the replicas reached.
		slices.SortFunc(slots, time.Time.Compare)
		require.GreaterOrEqual(t, len(slots), 2, "task %s fired both slots", id)
		for i, slot := range slots {
			require.True(t, slot.Equal(s1.Add(time.Duration(i)*time.Minute)), "task %s: slot %d is %s, want %s", id, i, slot, s1.Add(time.Duration(i)*time.Minute))
		}
		require.True(t, slots[1].Equal(s2))
	}
	return procs, started, listening
}

// TestThreeSchedulersEverySlotOnce proves that three scheduler processes ticking every 200 ms
// over one database turn each of two per-minute slots of 100 orgs' tasks into exactly one job
// each, no slot missed, none fired by two replicas (their enqueue counters add up to the jobs),
// each within maxLag of its slot on the database clock.
func TestThreeSchedulersEverySlotOnce(t *testing.T) {
	longE2E(t)
	t.Parallel()
	everySlotOnce(t, [][]string{{tickEnv}, {tickEnv}, {tickEnv}}, maxLag)
}

// TestSkewedSchedulersFireOnDatabaseTime proves that replicas whose own clocks are five minutes
// ahead and five minutes behind (SCHEDULER_CLOCK_SKEW_MS; their log timestamps show it) fire
// every per-minute slot of 100 orgs' tasks exactly once, none before its slot and none later
// than a tick interval and a tick's work after it, all on the database clock: the skew moves
// nothing but the replica's own timestamps.
func TestSkewedSchedulersFireOnDatabaseTime(t *testing.T) {
	longE2E(t)
	t.Parallel()
	const skew = 5 * time.Minute
	procs, started, listening := everySlotOnce(t, [][]string{
		{tickEnv, "SCHEDULER_CLOCK_SKEW_MS=" + strconv.FormatInt(skew.Milliseconds(), 10)},
		{tickEnv, "SCHEDULER_CLOCK_SKEW_MS=" + strconv.FormatInt(-skew.Milliseconds(), 10)},
	}, maxLag)
	for i, want := range []time.Duration{skew, -skew} {
		line := procs[i].LogLine(t, "http server listening", time.Second)
		ts, ok := line["time"].(string)
		require.True(t, ok, "a log line has its time")
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", ts)
		require.NoError(t, err)
		// The line was written between the start and the listening, on a clock off by want.
		wall := at.Add(-want)
		require.False(t, wall.Before(started.Add(-time.Second)) || wall.After(listening.Add(time.Second)),
			"%s logs on its skewed clock: %s minus %s is not within [%s, %s]", procs[i].Name, at, want, started, listening)
	}
}

// holdTickKey is the advisory lock the kill test holds to stop a tick inside its transaction.
const holdTickKey = 1616

// holdTickSQL makes the tick's advance of the fired tasks (UPDATE cron_tasks) wait, after the
// statement ran, for the advisory lock holdTickKey: the tick's transaction then holds the
// tasks' row locks and its uncommitted jobs.
var holdTickSQL = fmt.Sprintf(`
CREATE FUNCTION e2e_hold_tick() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(%d);
	RETURN NULL;
END $$;
CREATE TRIGGER e2e_hold_tick AFTER UPDATE ON cron_tasks FOR EACH STATEMENT EXECUTE FUNCTION e2e_hold_tick();`, holdTickKey)

// TestKilledSchedulerMidTick proves that kill -9 of a replica inside a tick's transaction loses
// no slot and doubles none. 100 orgs have an hourly task whose current hour is due; replica A,
// alone, takes every task (FOR UPDATE SKIP LOCKED), enqueues their jobs and advances them, and
// then waits inside that transaction on the advisory lock the test holds (holdTickSQL). The test
// kills A with SIGKILL and releases the lock: A's backend finds its client gone and rolls the
// transaction back (its jobs were never visible). Replicas B and C, started then, fire the slot:
// exactly one job per task, for the current hour, and B's and C's counters add up to them.
func TestKilledSchedulerMidTick(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	ids := seedTasks(t, super, "0 * * * *", "date_trunc('hour', now()) - interval '1 hour'")
	_, err := super.Pool.Exec(t.Context(), holdTickSQL)
	require.NoError(t, err)
	hold, err := super.Pool.Acquire(t.Context())
	require.NoError(t, err)
	defer hold.Release()
	_, err = hold.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, holdTickKey)
	require.NoError(t, err)

	a := proctest.Start(t, schedulerBin, "scheduler-a", proctest.Env(url, tickEnv), "serve")
	var backend int
	proctest.Eventually(t, 30*time.Second, "A's tick to wait on the advisory lock", func() bool {
		return super.Pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'crm-scheduler' AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).
			Scan(&backend) == nil
	})
	require.Equal(t, 1, count(t, super, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = $1 AND l.granted AND c.relname = 'jobs' AND l.mode = 'RowExclusiveLock'`, backend),
		"the waiting tick has inserted its jobs")
	require.Zero(t, count(t, super, `SELECT count(*) FROM jobs`), "nothing of it is committed")

	a.Signal(t, syscall.SIGKILL)
	ws := a.WaitExit(t, 10*time.Second)
	require.Equal(t, syscall.SIGKILL, ws.Signal())
	_, err = hold.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, holdTickKey)
	require.NoError(t, err)
	proctest.Eventually(t, 30*time.Second, "A's backend to roll back and exit", func() bool {
		return count(t, super, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, backend) == 0
	})
	require.Zero(t, count(t, super, `SELECT count(*) FROM jobs`), "A's tick was rolled back")
	_, err = super.Pool.Exec(t.Context(), `DROP TRIGGER e2e_hold_tick ON cron_tasks`)
	require.NoError(t, err)

	b := proctest.Start(t, schedulerBin, "scheduler-b", proctest.Env(url, tickEnv), "serve")
	c := proctest.Start(t, schedulerBin, "scheduler-c", proctest.Env(url, tickEnv), "serve")
	bases := []string{b.BaseURL(t), c.BaseURL(t)}
	proctest.Eventually(t, 30*time.Second, "B and C to fire every task's slot", func() bool {
		return count(t, super, `SELECT count(*) FROM jobs`) >= replicaOrgs
	})
	idleTicks(t, super)
	stopAll(t, super, []*proctest.Proc{b, c}, bases)

	fs := fires(t, super)
	require.Len(t, fs, len(ids), "one job per task")
	tasks := map[uuid.UUID]bool{}
	for _, f := range fs {
		tasks[f.task] = true
		require.True(t, f.slot.Equal(f.created.Truncate(time.Hour)), "slot %s is the hour of its tick %s", f.slot, f.created)
		require.True(t, f.slot.Equal(f.last), "the task is advanced to the slot it fired")
	}
	require.Len(t, tasks, len(ids), "every task fired")
}

// TestCatchUpAfterDowntime proves the catch-up rule with the real binary: with every scheduler
// stopped, 100 orgs' hourly tasks are moved back so that their last fired slot is six hours
// old (six slots missed, the current hour's included); one scheduler started then enqueues
// exactly one job per task, for the latest missed slot (the current hour), and moves each task
// to it, and later ticks add nothing.
func TestCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	// Before the downtime: a scheduler fires the current hour, and is stopped.
	ids := seedTasks(t, super, "0 * * * *", "date_trunc('hour', now()) - interval '1 hour'")
	a := proctest.Start(t, schedulerBin, "scheduler-a", proctest.Env(url, tickEnv), "serve")
	proctest.Eventually(t, 30*time.Second, "the current hour to fire", func() bool {
		return count(t, super, `SELECT count(*) FROM jobs`) >= replicaOrgs
	})
	a.Signal(t, syscall.SIGTERM)
	require.Zero(t, a.WaitExit(t, 15*time.Second).ExitStatus())
	require.Len(t, fires(t, super), replicaOrgs)

	// The downtime: the tasks last fired six hours ago, and their jobs were worked and pruned.
	_, err := super.Pool.Exec(t.Context(), `UPDATE cron_tasks SET last_slot_at = last_slot_at - interval '6 hours'`)
	require.NoError(t, err)
	_, err = super.Pool.Exec(t.Context(), `DELETE FROM jobs`)
	require.NoError(t, err)

	b := proctest.Start(t, schedulerBin, "scheduler-b", proctest.Env(url, tickEnv), "serve")
	base := b.BaseURL(t)
	proctest.Eventually(t, 30*time.Second, "the restarted scheduler to catch up", func() bool {
		return count(t, super, `SELECT count(*) FROM jobs`) >= replicaOrgs
	})
	idleTicks(t, super)
	stopAll(t, super, []*proctest.Proc{b}, []string{base})

	fs := fires(t, super)
	require.Len(t, fs, len(ids), "one job per task, not one per missed slot")
	for _, f := range fs {
		require.True(t, f.slot.Equal(f.created.Truncate(time.Hour)), "slot %s is the latest missed one (the hour of %s)", f.slot, f.created)
		require.True(t, f.slot.Equal(f.last), "the task is advanced to the slot it fired")
	}
}
