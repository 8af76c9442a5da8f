package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/jobs"
	"example.com/crm/services/worker/internal/runtime"
)

// calls counts handler calls per job.
type calls struct {
	mu sync.Mutex
	n  map[int64]int
}

func (c *calls) add(id int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int64]int{}
	}
	c.n[id]++
	return c.n[id]
}

func (c *calls) get(id int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

// writeEvent is a handler body: one event keyed by the job, written in CompleteInTx.
func writeEvent(ctx context.Context, run *testRun) error {
	return run.CompleteInTx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'job.done', 'job', ?)`,
			run.Job.OrgID, fmt.Sprintf("job:%d", run.Job.ID)).Error
	})
}

// enqueueN inserts n jobs of jobType in one statement, so that one claim can see them all.
func (b *bundle) enqueueN(t *testing.T, jobType string, n int) []int64 {
	t.Helper()
	nj := make([]jobs.NewJob, n)
	for i := range nj {
		nj[i] = jobs.NewJob{OrgID: b.org, Type: jobType, IdempotencyKey: fmt.Sprintf("%s-%d-%d", jobType, i, time.Now().UnixNano())}
	}
	ids, err := b.queue.Enqueue(t.Context(), b.db.Gorm, nj...)
	require.NoError(t, err)
	require.Len(t, ids, n)
	return ids
}

// txOf returns the transaction (xmin) that completed job id, and checks that its event was
// written by that same transaction and that it was logged completed once and otherwise only
// handed back unstarted (a wide claim's spare jobs).
func (b *bundle) txOf(t *testing.T, id int64) string {
	t.Helper()
	ctx := t.Context()
	var jobX, eventX, logX string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT xmin::text FROM jobs WHERE id = $1 AND status = 'completed'`, id).Scan(&jobX))
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT xmin::text FROM events WHERE idempotency_key = $1`, fmt.Sprintf("job:%d", id)).Scan(&eventX))
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT xmin::text FROM job_logs WHERE job_id = $1 AND outcome = 'completed'`, id).Scan(&logX))
	require.Equal(t, jobX, eventX, "job %d: its write commits with its completion", id)
	require.Equal(t, jobX, logX)
	completed := 0
	for _, l := range b.logs(t, id) {
		if l.Outcome == "completed" {
			completed++
			continue
		}
		require.Equal(t, "released", l.Outcome, "job %d: only completed, or handed back unstarted", id)
		require.Contains(t, *l.Error, "not started")
	}
	require.Equal(t, 1, completed, "job %d completed once", id)
	return jobX
}

// TestBatchesShareOneTransaction proves that jobs of a batched type run in shared transactions
// of at most BatchSize jobs, each job's write committing with its own completion, and that jobs
// of other types never share one.
func TestBatchesShareOneTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	batched := b.enqueueN(t, "write", 40)
	solo := b.enqueueN(t, "solo", 6)
	b.startShared(t, []string{"write"}, runtime.Config{Concurrency: 2, BatchSize: 8, PollInterval: 50 * time.Millisecond},
		map[string]handler{"write": writeEvent, "solo": writeEvent})
	for _, id := range append(batched, solo...) {
		b.waitStatus(t, id, jobs.StatusCompleted, 10*time.Second)
	}

	perTx := map[string]int{}
	for _, id := range batched {
		perTx[b.txOf(t, id)]++
	}
	require.Less(t, len(perTx), len(batched), "some jobs shared a transaction")
	for tx, n := range perTx {
		require.LessOrEqual(t, n, 8, "transaction %s ran at most BatchSize jobs", tx)
	}
	soloTx := map[string]bool{}
	for _, id := range solo {
		tx := b.txOf(t, id)
		require.NotContains(t, perTx, tx)
		require.False(t, soloTx[tx], "a job of a type that is not batched has a transaction of its own")
		soloTx[tx] = true
	}
	require.Equal(t, 46.0, b.counter(t, "crm_jobs_completed_total"))
	require.Zero(t, b.counter(t, "crm_jobs_failed_total"))
}

// TestBatchFailureRunsJobsAlone proves the fallback: when one job of a batch fails, nothing of
// the batch is kept, every job of it runs again alone, the good ones complete once (their
// writes kept once, on attempt 1) and only the bad one is a failed attempt.
func TestBatchFailureRunsJobsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.enqueueN(t, "write", 12)
	bad := ids[5]
	var c calls
	b.startShared(t, []string{"write"}, runtime.Config{Concurrency: 1, BatchSize: 12, PollInterval: 50 * time.Millisecond},
		map[string]handler{"write": func(ctx context.Context, run *testRun) error {
			c.add(run.Job.ID)
			if run.Job.ID == bad {
				return run.CompleteInTx(ctx, func(tx *gorm.DB) error {
					if err := tx.Exec(`INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'job.done', 'job', ?)`,
						run.Job.OrgID, fmt.Sprintf("job:%d", run.Job.ID)).Error; err != nil {
						return err
					}
					return errors.New("failing after the write")
				})
			}
			return writeEvent(ctx, run)
		}})
	eventually(t, 10*time.Second, "the bad job's failed attempt", func() bool { return len(b.logs(t, bad)) == 1 })
	for _, id := range ids {
		if id == bad {
			continue
		}
		b.waitStatus(t, id, jobs.StatusCompleted, 10*time.Second)
		b.txOf(t, id)
		require.Equal(t, 1, b.job(t, id).Attempts)
	}
	require.Equal(t, "failed", b.logs(t, bad)[0].Outcome)
	require.Equal(t, "pending", b.job(t, bad).Status, "retried alone after BaseDelay")
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE idempotency_key = $1`, fmt.Sprintf("job:%d", bad)).Scan(&n))
	require.Zero(t, n, "the failed attempt's write was rolled back")
	ranTwice := 0
	for _, id := range ids {
		if c.get(id) == 2 {
			ranTwice++
		}
	}
	require.Positive(t, ranTwice, "the bad job's batch ran again one job at a time")
	require.Equal(t, 11.0, b.counter(t, "crm_jobs_completed_total"))
	require.Equal(t, 1.0, b.counter(t, "crm_jobs_failed_total"))
}

// TestBatchLeaseLost proves a batch's completion is fenced on every claim: a job of a batch taken
// over by another claim while the batch runs makes the batch's commit fail; the batch's other jobs
// then complete alone, and the taken job is left to its new holder with nothing of the old attempt
// kept or logged.
func TestBatchLeaseLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.enqueueN(t, "write", 6)
	stolen := ids[2]
	var c calls
	b.startShared(t, []string{"write"}, runtime.Config{Concurrency: 1, BatchSize: 6, PollInterval: 50 * time.Millisecond,
		LockTimeout: time.Hour, ReaperInterval: time.Hour},
		map[string]handler{"write": func(ctx context.Context, run *testRun) error {
			if c.add(run.Job.ID) == 1 && run.Job.ID == stolen {
				// Another claim takes the job over while this attempt runs.
				if _, err := b.db.Pool.Exec(ctx, `UPDATE jobs SET locked_by = 'thief' WHERE id = $1`, run.Job.ID); err != nil {
					return err
				}
			}
			return writeEvent(ctx, run)
		}})
	for _, id := range ids {
		if id != stolen {
			b.waitStatus(t, id, jobs.StatusCompleted, 10*time.Second)
			b.txOf(t, id)
		}
	}
	eventually(t, 5*time.Second, "the lost lease counted", func() bool { return b.counter(t, "crm_jobs_lease_lost_total") == 1 })
	r := b.job(t, stolen)
	require.Equal(t, "running", r.Status)
	require.Equal(t, "thief", *r.LockedBy)
	require.Empty(t, b.logs(t, stolen))
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE idempotency_key = $1`, fmt.Sprintf("job:%d", stolen)).Scan(&n))
	require.Zero(t, n, "nothing of the taken job's attempt is kept")
	require.Equal(t, 5.0, b.counter(t, "crm_jobs_completed_total"))
}

// TestSpareJobsAreNotHoarded proves that a wide claim (taken because the queue's head held a
// batched type) hands back at once, uncounted, the jobs of other types it cannot start soon, so
// that other workers can take them; each hand-back is logged as released, naming its claim and
// why, and each job then runs once, on attempt 1.
func TestSpareJobsAreNotHoarded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.enqueueN(t, "write", 1)[0]
	release := make(chan struct{})
	started := make(chan int64, 10)
	b.startShared(t, []string{"write"}, runtime.Config{Concurrency: 1, BatchSize: 8, PollInterval: 50 * time.Millisecond},
		map[string]handler{
			"write": writeEvent,
			"slow": func(ctx context.Context, run *testRun) error {
				started <- run.Job.ID
				<-release
				return nil
			},
		})
	b.waitStatus(t, first, jobs.StatusCompleted, 10*time.Second)
	slow := b.enqueueN(t, "slow", 6)
	running := receive(t, started, 10*time.Second, "a slow job to start")
	// The claim after the batched job was wide (8 jobs): it kept one slow job and handed the
	// others back.
	eventually(t, 5*time.Second, "the spare jobs handed back", func() bool {
		var n int
		require.NoError(t, b.db.Pool.QueryRow(t.Context(),
			`SELECT count(*) FROM jobs WHERE id = ANY($1) AND status = 'pending' AND attempts = 0 AND locked_by IS NULL
			   AND attempted_at IS NOT NULL`, slow).Scan(&n))
		return n == len(slow)-1 // attempted_at: claimed once, then handed back
	})
	require.Equal(t, "running", b.job(t, running).Status)
	close(release)
	for _, id := range slow {
		b.waitStatus(t, id, jobs.StatusCompleted, 10*time.Second)
		require.Equal(t, 1, b.job(t, id).Attempts)
		logs := b.logs(t, id)
		if id == running {
			require.Len(t, logs, 1, "job %d ran from its first claim", id)
		} else {
			require.Len(t, logs, 2, "job %d: the hand-back, then the attempt", id)
			require.Equal(t, "released", logs[0].Outcome)
			require.Equal(t, "not started: claimed beyond the worker's free slots", *logs[0].Error)
			require.NotEqual(t, logs[0].Worker, logs[1].Worker, "job %d: another claim ran it", id)
		}
		require.Equal(t, "completed", logs[len(logs)-1].Outcome)
		require.Equal(t, 1, logs[len(logs)-1].Attempt)
	}
}

// TestBatchWork proves a Shared kind's Work does the work of a whole batch in its transaction
// (each job's write committing with its completion), and that when it fails or panics the batch
// is rolled back and its jobs run again one at a time, each a batch of one.
func TestBatchWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.enqueueN(t, "write", 30)
	bad := ids[20]
	var perJob, batches calls
	panicked := false
	var mu sync.Mutex
	work := func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[testArgs[kWrite]]) error {
		if len(js) == 1 {
			perJob.add(js[0].ID)
			return writeEvent(ctx, &testRun{Job: js[0].Job, tx: tx})
		}
		batches.add(0)
		mu.Lock()
		first := !panicked
		panicked = true
		mu.Unlock()
		if first {
			panic("the first batch panics")
		}
		for _, j := range js {
			if j.ID == bad {
				return errors.New("a job this batch refuses")
			}
		}
		return tx.Exec(ctx, func(db *gorm.DB) error {
			for _, j := range js {
				if err := db.Exec(`INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'job.done', 'job', ?)`,
					j.OrgID, fmt.Sprintf("job:%d", j.ID)).Error; err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.startKinds(t, runtime.Config{Concurrency: 1, BatchSize: 10, PollInterval: 50 * time.Millisecond},
		jobs.NewKind(jobs.Shared, work))
	perTx := map[string]int{}
	for _, id := range ids {
		b.waitStatus(t, id, jobs.StatusCompleted, 10*time.Second)
		perTx[b.txOf(t, id)]++
	}
	require.GreaterOrEqual(t, batches.get(0), 3, "the batch work ran, a panic did not stop the runtime")
	require.Equal(t, 1, perJob.get(bad), "the refused batch ran job by job")
	byJob := 0
	for _, id := range ids {
		byJob += perJob.get(id)
	}
	require.Less(t, byJob, len(ids), "the other batches ran whole")
	require.GreaterOrEqual(t, byJob, 2, "the panicked batch and the refused one ran job by job")
	require.Less(t, len(perTx), len(ids))
	require.Equal(t, 30.0, b.counter(t, "crm_jobs_completed_total"))
	require.Zero(t, b.counter(t, "crm_jobs_failed_total"))
}

// TestUndecodablePayloadFailsAlone proves that a job whose payload its kind cannot decode is
// dead-lettered at once, alone: the other jobs of its batch complete together.
func TestUndecodablePayloadFailsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nj := make([]jobs.NewJob, 6)
	for i := range nj {
		nj[i] = jobs.NewJob{OrgID: b.org, Type: "write", IdempotencyKey: fmt.Sprintf("decode-%d", i)}
	}
	nj[3].Payload = json.RawMessage(`[1, 2]`)
	ids, err := b.queue.Enqueue(t.Context(), b.db.Gorm, nj...)
	require.NoError(t, err)
	var sizes []int
	var mu sync.Mutex
	b.startKinds(t, runtime.Config{Concurrency: 1, BatchSize: 10, PollInterval: 50 * time.Millisecond},
		jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[testArgs[kWrite]]) error {
			mu.Lock()
			sizes = append(sizes, len(js))
			mu.Unlock()
			for _, j := range js {
				if err := writeEvent(ctx, &testRun{Job: j.Job, tx: tx}); err != nil {
					return err
				}
			}
			return nil
		}))
	for i, id := range ids {
		if i == 3 {
			b.waitStatus(t, id, jobs.StatusFailed, 10*time.Second)
			continue
		}
		b.waitStatus(t, id, jobs.StatusCompleted, 10*time.Second)
	}
	r := b.job(t, ids[3])
	require.Contains(t, *r.LastError, "write payload")
	require.Equal(t, 1, r.Attempts)
	mu.Lock()
	worked := 0
	for _, n := range sizes {
		worked += n
	}
	mu.Unlock()
	require.Equal(t, 5, worked, "the five others were worked, each once")
	require.Equal(t, 5.0, b.counter(t, "crm_jobs_completed_total"))
	require.Equal(t, 1.0, b.counter(t, "crm_jobs_dead_lettered_total"))
}
