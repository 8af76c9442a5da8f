package main_test

// End-to-end tests of the worker binary: TestMain builds it once, and each test starts real
// processes against its own freshly migrated database, signals or kills them, and asserts on the
// tables (STYLE.md 4.6).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/proctest"
)

// workerBin is the worker binary built by TestMain.
var workerBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := proctest.Build("example.com/crm/services/worker")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	workerBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startWorker starts `worker serve` against dbURL with extra environment entries.
func startWorker(t *testing.T, name, dbURL string, extra ...string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, workerBin, name, proctest.Env(dbURL, extra...), "serve")
}

// claimPrefix is how p's claims start in locked_by and job_logs.worker: "<host>-<pid>/"
// (runtime.DefaultWorkerID plus the nonce separator).
func claimPrefix(t *testing.T, p *proctest.Proc) string {
	t.Helper()
	host, err := os.Hostname()
	require.NoError(t, err)
	return fmt.Sprintf("%s-%d/", host, p.Cmd.Process.Pid)
}

// e2eDB is a test's database with one org, seen from the test process.
type e2eDB struct {
	db    *db.DB
	url   string
	org   uuid.UUID
	queue *jobs.Queue
}

func newE2EDB(t *testing.T) *e2eDB {
	t.Helper()
	d, url := dbtest.NewDB(t)
	return &e2eDB{db: d, url: url, org: dbtest.NewOrg(t, d, "e2e"), queue: jobs.New(d, jobs.Config{})}
}

// enqueueNoop enqueues one noop job per payload and returns their ids in order.
func (e *e2eDB) enqueueNoop(t *testing.T, payloads ...string) []int64 {
	t.Helper()
	batch := make([]jobs.NewJob, len(payloads))
	for i, p := range payloads {
		batch[i] = jobs.NewJob{OrgID: e.org, Type: jobs.KindNoop, Payload: json.RawMessage(p), IdempotencyKey: uuid.NewString()}
	}
	ids, err := e.queue.Enqueue(t.Context(), e.db.Gorm, batch...)
	require.NoError(t, err)
	require.Len(t, ids, len(payloads))
	return ids
}

// jobState is the part of a jobs row the tests look at.
type jobState struct {
	Status   string
	Attempts int
	LockedBy *string
}

func (e *e2eDB) job(t *testing.T, id int64) jobState {
	t.Helper()
	var s jobState
	require.NoError(t, e.db.Pool.QueryRow(t.Context(), `SELECT status, attempts, locked_by FROM jobs WHERE id = $1`, id).
		Scan(&s.Status, &s.Attempts, &s.LockedBy))
	return s
}

// attemptLog is one job_logs row.
type attemptLog struct {
	Attempt int
	Worker  string
	Outcome string
}

func (e *e2eDB) logs(t *testing.T, id int64) []attemptLog {
	t.Helper()
	rows, err := e.db.Pool.Query(t.Context(), `SELECT attempt, worker, outcome FROM job_logs WHERE job_id = $1 ORDER BY id`, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []attemptLog
	for rows.Next() {
		var l attemptLog
		require.NoError(t, rows.Scan(&l.Attempt, &l.Worker, &l.Outcome))
		out = append(out, l)
	}
	require.NoError(t, rows.Err())
	return out
}

func (e *e2eDB) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.Pool.QueryRow(t.Context(), query, args...).Scan(&n))
	return n
}

// TestThreeWorkersTenThousandJobs proves exactly-once completion across processes: three
// worker processes racing over 10,000 noop jobs complete every job once — one claim per job
// (attempts = 1), one 'completed' log row per job written by the claim that held it, nothing
// pending, running, failed or dead-lettered — and each process takes a share of the work.
func TestThreeWorkersTenThousandJobs(t *testing.T) {
	const n = 10_000
	e := newE2EDB(t)
	workers := make([]*proctest.Proc, 3)
	for i := range workers {
		workers[i] = startWorker(t, fmt.Sprintf("w%d", i+1), e.url, "WORKER_CONCURRENCY=16")
	}
	for _, w := range workers {
		w.LogLine(t, "worker starting", 10*time.Second)
	}

	batch := make([]jobs.NewJob, n)
	for i := range batch {
		batch[i] = jobs.NewJob{OrgID: e.org, Type: jobs.KindNoop, IdempotencyKey: fmt.Sprintf("e2e-%05d", i)}
	}
	begin := time.Now()
	ids, err := e.queue.Enqueue(t.Context(), e.db.Gorm, batch...)
	require.NoError(t, err)
	require.Len(t, ids, n)
	proctest.Eventually(t, 60*time.Second, "all jobs to complete", func() bool {
		return e.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`) == n
	})
	t.Logf("%d jobs completed by 3 workers in %s", n, time.Since(begin).Round(time.Millisecond))

	for _, w := range workers {
		w.Signal(t, syscall.SIGTERM)
	}
	for _, w := range workers {
		require.Zero(t, w.WaitExit(t, 30*time.Second).ExitStatus(), "worker %s exits cleanly", w.Name)
	}

	require.Equal(t, n, e.count(t, `SELECT count(*) FROM jobs`))
	require.Zero(t, e.count(t, `SELECT count(*) FROM jobs WHERE status <> 'completed'`))
	require.Zero(t, e.count(t, `SELECT count(*) FROM jobs WHERE attempts <> 1`), "no job was claimed twice")
	require.Zero(t, e.count(t, `SELECT count(*) FROM dead_letter_jobs`))
	require.Equal(t, n, e.count(t, `SELECT count(*) FROM job_logs`), "one log row per job, and no other outcome")
	require.Equal(t, n, e.count(t, `SELECT count(DISTINCT job_id) FROM job_logs WHERE outcome = 'completed'`))
	require.Equal(t, n, e.count(t, `
SELECT count(*) FROM jobs j JOIN job_logs l ON l.org_id = j.org_id AND l.job_id = j.id
WHERE l.outcome = 'completed' AND l.attempt = 1 AND l.worker = j.locked_by`), "each job completed by the claim that held it")

	rows, err := e.db.Pool.Query(t.Context(), `SELECT split_part(worker, '/', 1) || '/', count(*) FROM job_logs GROUP BY 1`)
	require.NoError(t, err)
	perWorker := map[string]int{}
	for rows.Next() {
		var prefix string
		var c int
		require.NoError(t, rows.Scan(&prefix, &c))
		perWorker[prefix] = c
	}
	require.NoError(t, rows.Err())
	t.Logf("jobs per worker: %v", perWorker)
	require.Len(t, perWorker, 3)
	for _, w := range workers {
		require.Positive(t, perWorker[claimPrefix(t, w)], "worker %s did some of the work", w.Name)
	}
}

// leaseEnv is a short lease and a busy reaper, so a dead worker's job is rescued in seconds.
var leaseEnv = []string{
	"WORKER_LOCK_TIMEOUT_MINUTES=0.05", // 3 s; heartbeat every 750 ms
	"WORKER_REAPER_INTERVAL_MS=500",
	"WORKER_POLL_INTERVAL_MS=200",
}

// TestKilledWorkerJobIsReaped proves a job survives its worker's kill -9 mid-run: its lease
// expires, another worker's reaper frees it (a 'reaped' log row for the dead claim's attempt)
// and that worker completes it on attempt 2.
func TestKilledWorkerJobIsReaped(t *testing.T) {
	t.Parallel()
	e := newE2EDB(t)
	a := startWorker(t, "A", e.url, leaseEnv...)
	id := e.enqueueNoop(t, `{"sleepMs": 6000}`)[0]

	var claimA string
	proctest.Eventually(t, 10*time.Second, "worker A to run the job", func() bool {
		s := e.job(t, id)
		if s.Status != "running" || s.LockedBy == nil {
			return false
		}
		claimA = *s.LockedBy
		return true
	})
	require.True(t, strings.HasPrefix(claimA, claimPrefix(t, a)), "claimed by A: %s", claimA)
	a.Signal(t, syscall.SIGKILL)
	require.Equal(t, syscall.SIGKILL, a.WaitExit(t, 10*time.Second).Signal())
	require.Equal(t, jobState{Status: "running", Attempts: 1, LockedBy: &claimA}, e.job(t, id), "a dead worker's job keeps its lease")

	b := startWorker(t, "B", e.url, leaseEnv...)
	proctest.Eventually(t, 30*time.Second, "worker B to complete the job", func() bool { return e.job(t, id).Status == "completed" })
	s := e.job(t, id)
	require.Equal(t, 2, s.Attempts)
	logs := e.logs(t, id)
	require.Len(t, logs, 2)
	require.Equal(t, attemptLog{Attempt: 1, Worker: claimA, Outcome: "reaped"}, logs[0])
	require.Equal(t, 2, logs[1].Attempt)
	require.Equal(t, "completed", logs[1].Outcome)
	require.True(t, strings.HasPrefix(logs[1].Worker, claimPrefix(t, b)), "completed by B: %s", logs[1].Worker)
	require.Equal(t, *s.LockedBy, logs[1].Worker)
}

// TestSigtermReleasesUnfinishedJob proves graceful shutdown of a real process: on SIGTERM it
// exits 0 within the grace period (plus a margin), a job that ends inside the grace is
// completed, the one that cannot is released (pending, attempt not counted, 'released' log
// row) rather than left for the reaper, and another worker then completes it.
func TestSigtermReleasesUnfinishedJob(t *testing.T) {
	t.Parallel()
	const grace = 1500 * time.Millisecond
	e := newE2EDB(t)
	env := []string{"WORKER_CONCURRENCY=4", "WORKER_POLL_INTERVAL_MS=200", fmt.Sprintf("WORKER_SHUTDOWN_GRACE_MS=%d", grace.Milliseconds())}
	a := startWorker(t, "A", e.url, env...)
	ids := e.enqueueNoop(t, `{"sleepMs": 500}`, `{"sleepMs": 3000}`)
	short, long := ids[0], ids[1]
	proctest.Eventually(t, 10*time.Second, "worker A to run both jobs", func() bool {
		return e.job(t, long).Status == "running" && e.job(t, short).Attempts == 1
	})
	prefixA := claimPrefix(t, a)
	require.True(t, strings.HasPrefix(*e.job(t, long).LockedBy, prefixA))

	begin := time.Now()
	a.Signal(t, syscall.SIGTERM)
	require.Zero(t, a.WaitExit(t, grace+10*time.Second).ExitStatus(), "a drained worker exits 0")
	took := time.Since(begin)
	require.Less(t, took, grace+3*time.Second, "exit within the grace period")

	s := e.job(t, short)
	require.Equal(t, "completed", s.Status, "the short job finished inside the grace")
	require.Equal(t, 1, s.Attempts)
	require.Equal(t, []attemptLog{{Attempt: 1, Worker: *s.LockedBy, Outcome: "completed"}}, e.logs(t, short))
	require.True(t, strings.HasPrefix(*s.LockedBy, prefixA))

	require.Equal(t, jobState{Status: "pending", Attempts: 0}, e.job(t, long), "released, attempt not counted")
	logs := e.logs(t, long)
	require.Len(t, logs, 1)
	require.Equal(t, "released", logs[0].Outcome)
	require.Equal(t, 1, logs[0].Attempt)
	require.True(t, strings.HasPrefix(logs[0].Worker, prefixA))

	b := startWorker(t, "B", e.url, env...)
	proctest.Eventually(t, 15*time.Second, "worker B to complete the released job", func() bool { return e.job(t, long).Status == "completed" })
	s = e.job(t, long)
	require.Equal(t, 1, s.Attempts)
	logs = e.logs(t, long)
	require.Len(t, logs, 2)
	require.Equal(t, attemptLog{Attempt: 1, Worker: *s.LockedBy, Outcome: "completed"}, logs[1])
	require.True(t, strings.HasPrefix(logs[1].Worker, claimPrefix(t, b)))
}

// TestMigrateAndOpsEndpoints proves the binary's operator surface: `worker migrate version`,
// `down` and `up` print the schema position as JSON; /healthz answers while /readyz reports 503
// until the schema is current and 200 after `migrate up`; and /metrics exposes the runtime's
// counters once a job has run.
func TestMigrateAndOpsEndpoints(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	latest, err := db.LatestVersion()
	require.NoError(t, err)

	type status struct {
		Version uint `json:"version"`
		Dirty   bool `json:"dirty"`
		Latest  uint `json:"latest"`
	}
	migrate := func(cmd string) status {
		t.Helper()
		var s status
		dec := json.NewDecoder(bytes.NewReader(proctest.Run(t, workerBin, proctest.Env(url), "migrate", cmd)))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&s))
		return s
	}
	require.Equal(t, status{Version: latest, Latest: latest}, migrate("version"))
	require.Equal(t, status{Latest: latest}, migrate("down"))

	w := startWorker(t, "ops", url, "WORKER_POLL_INTERVAL_MS=200")
	base := w.BaseURL(t)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status":"ok"}`, body)
	code, _ = get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready before the schema is migrated")

	require.Equal(t, status{Version: latest, Latest: latest}, migrate("up"))
	code, body = get("/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"ready"}`, body)

	d, err := db.Open(t.Context(), db.Options{URL: url, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	e := &e2eDB{db: d, url: url, org: dbtest.NewOrg(t, d, "ops"), queue: jobs.New(d, jobs.Config{})}
	id := e.enqueueNoop(t, `{}`)[0]
	// The runtime backs off (up to 5 s) after the claims that failed on the missing schema.
	proctest.Eventually(t, 20*time.Second, "the job to complete", func() bool { return e.job(t, id).Status == "completed" })
	proctest.Eventually(t, 5*time.Second, "the completion to be counted", func() bool {
		code, body := get("/metrics")
		require.Equal(t, http.StatusOK, code, body)
		return strings.Contains(body, `crm_jobs_completed_total{job_type="noop"} 1`)
	})
	_, body = get("/metrics")
	require.Contains(t, body, `crm_jobs_claimed_total{job_type="noop"} 1`)
	require.Contains(t, body, `crm_jobs_queue_depth{status="pending"}`)

	w.Signal(t, syscall.SIGTERM)
	require.Zero(t, w.WaitExit(t, 30*time.Second).ExitStatus())
}
