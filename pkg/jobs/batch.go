package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"example.com/crm/pkg/db"
	"github.com/google/uuid"
	"gorm.io/gorm"
)

// ErrBatchAborted is what CompleteInTx returns to an attempt of a Batch after an earlier
// attempt's fn failed: the batch's transaction is lost and the batch must be rolled back.
var ErrBatchAborted = errors.New("the batch's transaction was aborted by an earlier job")

// Batch is one transaction shared by attempts of jobs of one org. Each attempt's
// Run.CompleteInTx runs its fn in that transaction instead of one of its own, and Commit
// completes every attempt and commits, so a batch of n jobs costs one BEGIN, one completion
// statement and one COMMIT instead of n of each, and one durable commit instead of n.
//
// A batch is all or nothing. When any fn fails, or any attempt has lost its lease by Commit,
// nothing of the batch is kept and the caller rolls it back and runs the jobs one at a time,
// where each failure is the one job's own. The transaction is open from the first fn to Commit,
// so only kinds whose work makes no slow calls (network, models) share one (Sharing).
type Batch struct {
	q    *Queue
	org  uuid.UUID
	runs []*Run
	conn *sql.Conn   // the transaction's connection, from the first fn on
	err  error       // the first fn's failure; the transaction is lost
	done bool        // committed or rolled back
	lost atomic.Bool // an attempt's lease was found lost (LeaseLost)
}

// LeaseLost records that an attempt of the batch has lost its lease: every later Exec is
// refused with ErrLeaseLost, so work that goes on after it writes nothing more. Safe to call
// from another goroutine.
func (b *Batch) LeaseLost() { b.lost.Store(true) }

// NewBatch starts attempts of claimed jobs, which must all belong to one org, as one batch;
// Runs returns their runs in the same order.
func (q *Queue) NewBatch(claimed []*Job) (*Batch, error) {
	if len(claimed) == 0 {
		return nil, errors.New("new batch: no jobs")
	}
	b := &Batch{q: q, org: claimed[0].OrgID, runs: make([]*Run, len(claimed))}
	if b.org == uuid.Nil {
		return nil, fmt.Errorf("new batch: job %d: org id is required", claimed[0].ID)
	}
	seen := make(map[int64]bool, len(claimed))
	for i, j := range claimed {
		if j.OrgID != b.org {
			return nil, fmt.Errorf("new batch: job %d belongs to org %s, not %s", j.ID, j.OrgID, b.org)
		}
		if seen[j.ID] {
			return nil, fmt.Errorf("new batch: job %d is named twice", j.ID)
		}
		seen[j.ID] = true
		b.runs[i] = q.NewRun(j)
		b.runs[i].batch = b
	}
	return b, nil
}

// Runs are the batch's attempts, in the order of NewBatch.
func (b *Batch) Runs() []*Run { return b.runs }

// Org is the org of the batch's jobs.
func (b *Batch) Org() uuid.UUID { return b.org }

// Exec runs fn in the batch's transaction, opening it on the first call, as each run's
// CompleteInTx does: for a kind's WorkFunc, which does the work of all the batch's jobs at once.
// A failed fn aborts the batch.
func (b *Batch) Exec(ctx context.Context, fn func(tx *gorm.DB) error) error { return b.exec(ctx, fn) }

// Opened reports whether the batch's transaction was opened, by an Exec: a batch whose work
// wrote nothing may be completed without one (Queue.CompleteMany).
func (b *Batch) Opened() bool { return b.conn != nil || b.err != nil }

// exec runs fn in the batch's transaction, opening it on the first call.
func (b *Batch) exec(ctx context.Context, fn func(tx *gorm.DB) error) error {
	switch {
	case b.done:
		return errors.New("batch already ended")
	case b.err != nil:
		return ErrBatchAborted
	case b.lost.Load():
		b.err = ErrLeaseLost
		return ErrLeaseLost
	}
	if b.conn == nil {
		if err := b.begin(ctx); err != nil {
			b.err = err
			return err
		}
	}
	if err := fn(b.q.txSession(ctx, b.conn)); err != nil {
		b.err = err
		return err
	}
	return nil
}

// begin opens the batch's transaction (beginTenantTx).
func (b *Batch) begin(ctx context.Context) error {
	conn, err := b.q.beginTenantTx(ctx, b.org)
	if err != nil {
		return fmt.Errorf("begin batch: %w", err)
	}
	b.conn = conn
	return nil
}

// Commit completes every attempt of the batch (fenced on its claim, each with its own run time:
// Run.Elapsed, framed by Run.Begin and Run.Finish)
// and commits, in one round trip, then marks the runs completed and wakes the workers for the
// jobs the batch enqueued. It returns ErrLeaseLost when any attempt had lost its lease and the
// error of the first failed fn when one failed; the batch is then rolled back and nothing of it
// is kept.
func (b *Batch) Commit(ctx context.Context) error {
	if b.done {
		return errors.New("batch already ended")
	}
	if b.err != nil {
		return errors.Join(ErrBatchAborted, b.end(ctx, b.err))
	}
	if b.conn == nil {
		// No attempt wrote anything: the completions are the whole transaction.
		if err := b.begin(ctx); err != nil {
			return b.end(ctx, err)
		}
	}
	done := make([]Completion, len(b.runs))
	for i, r := range b.runs {
		done[i] = Completion{Job: r.Job, Duration: r.Elapsed()}
	}
	inserted, err := completeAndCommit(ctx, b.conn, done)
	if err != nil {
		if !errors.Is(err, ErrLeaseLost) {
			err = fmt.Errorf("commit batch: %w", err)
		}
		return b.end(ctx, err)
	}
	b.done = true
	_ = b.conn.Close()
	for _, r := range b.runs {
		r.completed.Store(true)
	}
	if inserted {
		b.q.waker.Wake()
	}
	return nil
}

// Rollback ends the batch without keeping anything of it; after Commit it does nothing.
func (b *Batch) Rollback(ctx context.Context) {
	if !b.done {
		_ = b.end(ctx, nil)
	}
}

// end rolls back what is open and returns the connection, then returns cause.
func (b *Batch) end(ctx context.Context, cause error) error {
	b.done = true
	if b.conn == nil {
		return cause
	}
	conn := b.conn
	b.conn = nil
	defer func() { _ = conn.Close() }()
	return db.RollbackConn(context.WithoutCancel(ctx), conn, cause)
}
