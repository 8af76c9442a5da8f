package main_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/proctest"
)

// TestRollingRestartsStrandNoClaim proves that a SIGTERM never strands a claim: three worker
// processes work 3,000 noop jobs of 50 ms while the oldest of them is SIGTERMed and replaced
// every 0.3 s, so that signals keep landing while claims are in flight. Every job completes
// exactly once — attempts = 1 (a handed-back claim is not counted), one 'completed' log row
// per job, by the claim that held it — and none is rescued by the lease reaper (no 'reaped'
// log row): a claim that was in flight at the signal either finishes and is handed back, or
// never took its jobs. The lease is short (6 s) so that a stranded job would be reaped, and
// show, within the test.
func TestRollingRestartsStrandNoClaim(t *testing.T) {
	t.Parallel()
	const (
		n     = 3000
		every = 300 * time.Millisecond
	)
	e := newE2EDB(t)
	env := []string{
		"WORKER_CONCURRENCY=8",
		"WORKER_POLL_INTERVAL_MS=200",
		"WORKER_SHUTDOWN_GRACE_MS=5000",
		"WORKER_LOCK_TIMEOUT_MINUTES=0.1", // 6 s; heartbeat every 1.5 s
		"WORKER_REAPER_INTERVAL_MS=500",
	}
	batch := make([]jobs.NewJob, n)
	for i := range batch {
		batch[i] = jobs.NewJob{OrgID: e.org, Type: jobs.KindNoop, Payload: []byte(`{"sleepMs": 50}`), IdempotencyKey: uuid.NewString()}
	}
	_, err := e.queue.Enqueue(t.Context(), e.db.Gorm, batch...)
	require.NoError(t, err)

	started := 0
	start := func() *proctest.Proc {
		started++
		w := startWorker(t, fmt.Sprintf("w%d", started), e.url, env...)
		// Signalled only once it runs: a process signalled while it starts up is not a worker
		// stopping, and says nothing about claims.
		w.LogLine(t, "worker starting", 20*time.Second)
		return w
	}
	live := []*proctest.Proc{start(), start(), start()}
	var stopped []*proctest.Proc
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for e.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`) < n {
		require.False(t, time.Now().After(deadline), "every job completes within the deadline")
		<-tick.C
		live[0].Signal(t, syscall.SIGTERM)
		stopped = append(stopped, live[0])
		live = append(live[1:], start())
	}
	t.Logf("%d jobs completed over %d rolling restarts", n, len(stopped))

	for _, w := range live {
		w.Signal(t, syscall.SIGTERM)
	}
	for _, w := range append(stopped, live...) {
		require.Zero(t, w.WaitExit(t, 30*time.Second).ExitStatus(), "worker %s exits cleanly", w.Name)
	}

	require.Zero(t, e.count(t, `SELECT count(*) FROM job_logs WHERE outcome = 'reaped'`), "no job is rescued by the lease reaper")
	require.Zero(t, e.count(t, `SELECT count(*) FROM jobs WHERE status <> 'completed' OR attempts <> 1`),
		"every job completed on its first counted attempt")
	require.Zero(t, e.count(t, `SELECT count(*) FROM dead_letter_jobs`))
	require.Zero(t, e.count(t, `SELECT count(*) FROM job_logs WHERE outcome NOT IN ('completed', 'released')`))
	require.Equal(t, n, e.count(t, `SELECT count(*) FROM job_logs WHERE outcome = 'completed'`), "one completion per job")
	require.Equal(t, n, e.count(t, `
SELECT count(*) FROM jobs j JOIN job_logs l ON l.org_id = j.org_id AND l.job_id = j.id
WHERE l.outcome = 'completed' AND l.attempt = 1 AND l.worker = j.locked_by`), "each job completed by the claim that held it")
}
