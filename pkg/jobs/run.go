package jobs

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Run is one attempt of a job as a handler sees it.
type Run struct {
	// Job is the claimed attempt.
	Job       *Job
	q         *Queue
	start     time.Time
	completed atomic.Bool
}

// NewRun starts an attempt of job on q; the worker runtime calls it when a handler begins.
func (q *Queue) NewRun(job *Job) *Run {
	return &Run{Job: job, q: q, start: time.Now()}
}

// CompleteInTx runs fn in a transaction scoped to the job's org and completes the job in that
// same transaction (R7, R21): the handler's writes and the completion commit together or not
// at all. When the attempt has lost its lease it returns ErrLeaseLost and nothing of fn's
// writes is kept. A handler that writes to the database must finish through CompleteInTx; one
// that does not may simply return nil, and the runtime completes it in a batch.
//
// The jobs fn enqueues (Queue.Enqueue, e.g. through the events' job map) wake the workers after
// the commit rather than inside it (TenantDeferWakeSQL, Waker), so that the handlers'
// transactions do not commit one at a time behind PostgreSQL's notify lock.
//
// The transaction costs two round trips besides fn's statements: BEGIN goes to the server
// together with the tenant scope, and the completion together with the COMMIT (see
// pipelinedTx). fn's tx behaves as a gorm transaction: a nested Transaction is a savepoint.
func (r *Run) CompleteInTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if r.Job.OrgID == uuid.Nil {
		return fmt.Errorf("complete job %d: org id is required", r.Job.ID)
	}
	ctx, inserted := withInsertedMark(ctx)
	err := r.q.pipelinedTx(ctx, r.Job, fn, func() time.Duration { return time.Since(r.start) })
	if err == nil {
		r.completed.Store(true)
		if inserted.Load() {
			r.q.waker.Wake()
		}
	}
	return err
}

// Completed reports whether CompleteInTx committed.
func (r *Run) Completed() bool { return r.completed.Load() }

// Elapsed is the time since the attempt began.
func (r *Run) Elapsed() time.Duration { return time.Since(r.start) }

// Handler runs one attempt of a job. It returns nil when the work is done, an error to retry
// with backoff, or a Permanent error to dead-letter the job at once. It must stop when ctx is
// cancelled (timeout, lost lease or shutdown) and be idempotent: delivery is at least once.
type Handler func(ctx context.Context, run *Run) error
