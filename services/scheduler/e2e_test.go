package main_test

// End-to-end tests of the scheduler binary: two real processes tick over one database, and
// every cron slot and one-off task becomes exactly one job, fired by exactly one of them.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/proctest"
)

var schedulerBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := proctest.Build("example.com/crm/services/scheduler")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	schedulerBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

var enqueuedRe = regexp.MustCompile(`(?m)^crm_scheduler_enqueued_total\{source="(cron|scheduled)"\} (\d+)$`)

// enqueuedCount sums the scheduler's crm_scheduler_enqueued_total series at base.
func enqueuedCount(t *testing.T, base string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	total := 0
	for _, m := range enqueuedRe.FindAllStringSubmatch(string(body), -1) {
		n, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		total += n
	}
	return total
}

// TestTwoSchedulersFireOnce proves that two scheduler processes ticking every 100 ms over one
// database turn a due cron slot and 50 due one-off tasks into one job each, that no slot or
// task is fired by both (their enqueue counters add up to the number of jobs), that neither
// logs a failed tick, and that both exit 0 on SIGTERM.
func TestTwoSchedulersFireOnce(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	org := dbtest.NewOrg(t, d, "acme")
	_, err := d.Pool.Exec(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
		VALUES ($1, 'hourly', 'noop', '0 * * * *', now() - interval '3 hours')`, org)
	require.NoError(t, err)
	_, err = d.Pool.Exec(t.Context(), `INSERT INTO scheduled_tasks (org_id, job_type, run_at)
		SELECT $1, 'noop', now() - g * interval '1 second' FROM generate_series(1, 50) g`, org)
	require.NoError(t, err)

	env := proctest.Env(url, "SCHEDULER_POLL_INTERVAL_MS=100")
	a := proctest.Start(t, schedulerBin, "scheduler-a", env, "serve")
	b := proctest.Start(t, schedulerBin, "scheduler-b", env, "serve")
	baseA, baseB := a.BaseURL(t), b.BaseURL(t)

	count := func(q string) int {
		var n int
		require.NoError(t, d.Pool.QueryRow(t.Context(), q).Scan(&n))
		return n
	}
	proctest.Eventually(t, 20*time.Second, "every due slot and task to be enqueued", func() bool {
		return count(`SELECT count(*) FROM jobs`) == 51
	})
	// Let both keep ticking over the same rows for a while: nothing more may appear.
	for range 10 {
		_, err := d.Pool.Exec(t.Context(), `SELECT pg_sleep(0.1)`)
		require.NoError(t, err)
	}
	require.Equal(t, 51, count(`SELECT count(*) FROM jobs`))
	require.Equal(t, 1, count(`SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'cron:%'`))
	require.Equal(t, 50, count(`SELECT count(*) FROM scheduled_tasks WHERE status = 'enqueued'`))
	require.Equal(t, 51, enqueuedCount(t, baseA)+enqueuedCount(t, baseB), "no slot or task fired twice")

	for _, p := range []*proctest.Proc{a, b} {
		p.Signal(t, syscall.SIGTERM)
		require.Zero(t, p.WaitExit(t, 15*time.Second).ExitStatus(), "%s exits cleanly", p.Name)
		require.NotContains(t, p.Output(), "schedule tick failed")
	}
}
