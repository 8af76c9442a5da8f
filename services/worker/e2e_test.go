package main_test

// End-to-end tests of the worker binary: TestMain builds it once, and each test starts real
// processes against its own freshly migrated database, signals or kills them, and asserts on the
// tables (STYLE.md 4.6).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// workerBin is the worker binary built by TestMain.
var workerBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "crm-worker-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	workerBin = filepath.Join(dir, "worker")
	build := exec.Command("go", "build", "-o", workerBin, "example.com/crm/services/worker")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build the worker:", err)
		return 1
	}
	return m.Run()
}

// workerEnv is the environment of every worker process: nothing from the test's own
// environment but PATH, so that no stray DATABASE_URL or CONFIG_FILE leaks in; extra entries
// come last and win.
func workerEnv(dbURL string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + dbURL,
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
	}
	return append(env, extra...)
}

// proc is one running worker process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	cancel context.CancelFunc
	exited chan struct{} // closed when the process has been waited for
}

// startWorker starts `worker serve`. At the end of the test it is stopped with SIGTERM (and
// killed if it does not exit), and its output is logged when the test failed.
func startWorker(t *testing.T, name, dbURL string, extra ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, workerBin, "serve")
	cmd.Env = workerEnv(dbURL, extra...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	require.NoError(t, cmd.Start())
	p := &proc{name: name, cmd: cmd, out: out, cancel: cancel, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cancel()
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("worker %s did not exit", p.name)
		}
		if t.Failed() {
			t.Logf("output of worker %s (pid %d):\n%s", p.name, p.cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// claimPrefix is how this process's claims start in locked_by and job_logs.worker:
// "<host>-<pid>/" (runtime.DefaultWorkerID plus the nonce separator).
func (p *proc) claimPrefix(t *testing.T) string {
	t.Helper()
	host, err := os.Hostname()
	require.NoError(t, err)
	return fmt.Sprintf("%s-%d/", host, p.cmd.Process.Pid)
}

// logLine waits for the first JSON log line whose msg is msg and returns it.
func (p *proc) logLine(t *testing.T, msg string, within time.Duration) map[string]any {
	t.Helper()
	var found map[string]any
	eventually(t, within, fmt.Sprintf("worker %s to log %q", p.name, msg), func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
				found = line
				return true
			}
		}
		select {
		case <-p.exited:
			require.FailNow(t, "worker "+p.name+" exited early")
		default:
		}
		return false
	})
	return found
}

// baseURL returns http://<bound address> from the "http server listening" log line.
func (p *proc) baseURL(t *testing.T) string {
	t.Helper()
	addr, ok := p.logLine(t, "http server listening", 10*time.Second)["addr"].(string)
	require.True(t, ok, "the listening line names its addr")
	return "http://" + addr
}

// waitExit waits for the process to end and returns its wait status.
func (p *proc) waitExit(t *testing.T, within time.Duration) syscall.WaitStatus {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		require.FailNow(t, fmt.Sprintf("worker %s did not exit within %s", p.name, within))
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	return ws
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// runWorker runs a one-shot command of the binary (e.g. migrate version) and returns its stdout.
func runWorker(t *testing.T, dbURL string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), workerBin, args...)
	cmd.Env = workerEnv(dbURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "worker %v: %s", args, stderr.String())
	return out
}

// syncBuffer collects a process's output; the process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually polls cond on the test goroutine (so cond may use require) until it holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out after "+within.String()+" waiting for "+what)
		}
		<-tick.C
	}
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
		batch[i] = jobs.NewJob{OrgID: e.org, Type: jobs.TypeNoop, Payload: json.RawMessage(p), IdempotencyKey: uuid.NewString()}
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
	workers := make([]*proc, 3)
	for i := range workers {
		workers[i] = startWorker(t, fmt.Sprintf("w%d", i+1), e.url, "WORKER_CONCURRENCY=16")
	}
	for _, w := range workers {
		w.logLine(t, "worker starting", 10*time.Second)
	}

	batch := make([]jobs.NewJob, n)
	for i := range batch {
		batch[i] = jobs.NewJob{OrgID: e.org, Type: jobs.TypeNoop, IdempotencyKey: fmt.Sprintf("e2e-%05d", i)}
	}
	begin := time.Now()
	ids, err := e.queue.Enqueue(t.Context(), e.db.Gorm, batch...)
	require.NoError(t, err)
	require.Len(t, ids, n)
	eventually(t, 60*time.Second, "all jobs to complete", func() bool {
		return e.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`) == n
	})
	t.Logf("%d jobs completed by 3 workers in %s", n, time.Since(begin).Round(time.Millisecond))

	for _, w := range workers {
		w.signal(t, syscall.SIGTERM)
	}
	for _, w := range workers {
		require.Zero(t, w.waitExit(t, 30*time.Second).ExitStatus(), "worker %s exits cleanly", w.name)
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
		require.Positive(t, perWorker[w.claimPrefix(t)], "worker %s did some of the work", w.name)
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
	eventually(t, 10*time.Second, "worker A to run the job", func() bool {
		s := e.job(t, id)
		if s.Status != "running" || s.LockedBy == nil {
			return false
		}
		claimA = *s.LockedBy
		return true
	})
	require.True(t, strings.HasPrefix(claimA, a.claimPrefix(t)), "claimed by A: %s", claimA)
	a.signal(t, syscall.SIGKILL)
	require.Equal(t, syscall.SIGKILL, a.waitExit(t, 10*time.Second).Signal())
	require.Equal(t, jobState{Status: "running", Attempts: 1, LockedBy: &claimA}, e.job(t, id), "a dead worker's job keeps its lease")

	b := startWorker(t, "B", e.url, leaseEnv...)
	eventually(t, 30*time.Second, "worker B to complete the job", func() bool { return e.job(t, id).Status == "completed" })
	s := e.job(t, id)
	require.Equal(t, 2, s.Attempts)
	logs := e.logs(t, id)
	require.Len(t, logs, 2)
	require.Equal(t, attemptLog{Attempt: 1, Worker: claimA, Outcome: "reaped"}, logs[0])
	require.Equal(t, 2, logs[1].Attempt)
	require.Equal(t, "completed", logs[1].Outcome)
	require.True(t, strings.HasPrefix(logs[1].Worker, b.claimPrefix(t)), "completed by B: %s", logs[1].Worker)
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
	eventually(t, 10*time.Second, "worker A to run both jobs", func() bool {
		return e.job(t, long).Status == "running" && e.job(t, short).Attempts == 1
	})
	prefixA := a.claimPrefix(t)
	require.True(t, strings.HasPrefix(*e.job(t, long).LockedBy, prefixA))

	begin := time.Now()
	a.signal(t, syscall.SIGTERM)
	require.Zero(t, a.waitExit(t, grace+10*time.Second).ExitStatus(), "a drained worker exits 0")
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
	eventually(t, 15*time.Second, "worker B to complete the released job", func() bool { return e.job(t, long).Status == "completed" })
	s = e.job(t, long)
	require.Equal(t, 1, s.Attempts)
	logs = e.logs(t, long)
	require.Len(t, logs, 2)
	require.Equal(t, attemptLog{Attempt: 1, Worker: *s.LockedBy, Outcome: "completed"}, logs[1])
	require.True(t, strings.HasPrefix(logs[1].Worker, b.claimPrefix(t)))
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
		dec := json.NewDecoder(bytes.NewReader(runWorker(t, url, "migrate", cmd)))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&s))
		return s
	}
	require.Equal(t, status{Version: latest, Latest: latest}, migrate("version"))
	require.Equal(t, status{Latest: latest}, migrate("down"))

	w := startWorker(t, "ops", url, "WORKER_POLL_INTERVAL_MS=200")
	base := w.baseURL(t)
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
	eventually(t, 20*time.Second, "the job to complete", func() bool { return e.job(t, id).Status == "completed" })
	eventually(t, 5*time.Second, "the completion to be counted", func() bool {
		code, body := get("/metrics")
		require.Equal(t, http.StatusOK, code, body)
		return strings.Contains(body, `crm_jobs_completed_total{job_type="noop"} 1`)
	})
	_, body = get("/metrics")
	require.Contains(t, body, `crm_jobs_claimed_total{job_type="noop"} 1`)
	require.Contains(t, body, `crm_jobs_queue_depth{status="pending"}`)

	w.signal(t, syscall.SIGTERM)
	require.Zero(t, w.waitExit(t, 30*time.Second).ExitStatus())
}
