package jobs

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Run is one attempt of a job, alone or in a Batch.
type Run struct {
	// Job is the claimed attempt.
	Job       *Job
	q         *Queue
	start     time.Time
	end       time.Time // set by Finish
	completed atomic.Bool
	batch     *Batch // the shared transaction of a batched attempt (Queue.NewBatch)
}

// NewRun starts an attempt of job on q.
func (q *Queue) NewRun(job *Job) *Run {
	return &Run{Job: job, q: q, start: time.Now()}
}

// CompleteInTx runs fn in a transaction scoped to the job's org and completes the job in that
// same transaction: the handler's writes and the completion commit together or not
// at all. When the attempt has lost its lease it returns ErrLeaseLost and nothing of fn's
// writes is kept. A handler that writes to the database must finish through CompleteInTx; one
// that does not may simply return nil, and the runtime completes it in a batch.
//
// The jobs fn inserts (Queue.Enqueue, an event's mapped jobs) wake the workers after the commit
// rather than inside it (TenantDeferWakeSQL, InsertedSQL, Waker), so that the handlers'
// transactions do not commit one at a time behind PostgreSQL's notify lock.
//
// Alone, the attempt is a Batch of one: the transaction costs two round trips besides fn's
// statements, BEGIN together with the tenant scope, and the completion together with the
// COMMIT. fn's tx behaves as a gorm transaction: a nested Transaction is a savepoint.
//
// In an attempt of a Batch, fn runs in the batch's transaction instead, and the job completes
// when the batch commits (Batch.Commit): Completed stays false until then.
func (r *Run) CompleteInTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if r.Job.OrgID == uuid.Nil {
		return fmt.Errorf("complete job %d: org id is required", r.Job.ID)
	}
	if r.batch != nil {
		return r.batch.exec(ctx, fn)
	}
	// Alone, the attempt is a batch of one.
	b := &Batch{q: r.q, org: r.Job.OrgID, runs: []*Run{r}}
	r.batch = b
	defer func() { r.batch = nil }()
	if err := b.exec(ctx, fn); err != nil {
		b.Rollback(ctx)
		return err
	}
	return b.Commit(ctx)
}

// Completed reports whether CompleteInTx (or the attempt's Batch) committed.
func (r *Run) Completed() bool { return r.completed.Load() }

// Elapsed is the time since the attempt began, or its run time once it has finished (Finish).
func (r *Run) Elapsed() time.Duration {
	if !r.end.IsZero() {
		return r.end.Sub(r.start)
	}
	return time.Since(r.start)
}

// Begin restarts the attempt's clock. The attempts of a Batch are made together, before the
// first of them starts; the runtime calls Begin when each one's handler starts.
func (r *Run) Begin() { r.start, r.end = time.Now(), time.Time{} }

// Finish stops the attempt's clock when its handler returns: Elapsed, and the duration a Batch
// logs for the attempt, end there rather than at the batch's commit.
func (r *Run) Finish() { r.end = time.Now() }
