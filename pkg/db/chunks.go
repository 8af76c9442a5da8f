package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"
)

// Chunks runs step in successive tenant transactions of orgID, one transaction per call, until
// step reports done or fails: the form of every sweep over an org's rows (the scheduler's
// checks). A sweep in one transaction would hold the locks of every row it wrote until its end,
// and the api's writes on those rows would wait for all of it; in chunks they wait at most one
// chunk, and the handle's Pace bounds a chunk:
//
//   - Size. step is handed the number of rows to take (size): the first is size's First, and
//     each committed chunk moves the next towards what takes Pace.Aim, at most doubling it, within
//     size's Min and Max. The cost of a row varies by orders of magnitude (a probe of an
//     unchanged row, or a new row version with an event; a cached page or a read from disk), so
//     no fixed size keeps every chunk short.
//   - A hard bound. step's statements run with a context whose deadline is Pace.Budget after the
//     chunk began: a statement still running at the deadline is cancelled by a cancel request
//     (the connection stays usable), one not yet sent fails before it is sent, and the chunk
//     rolls back, releasing its locks, and runs again at a quarter of its size. A chunk already
//     at its smallest size runs again with twice the budget (and again doubled until it commits),
//     so a row that takes longer than the budget on its own, or waits behind a client's lock,
//     delays the sweep but never stops it; the chunks after it keep that budget until one fits
//     in the configured budget again, since cutting chunks that cannot get smaller at a budget
//     they cannot meet only throws their work away (a statement whose cost does not shrink with
//     its chunk, or a machine too busy for the budget). Each statement also runs under a
//     statement_timeout of the budget: the server's own bound, which costs no cancel request
//     (PostgreSQL answers one in a process of its own, slow to start on a loaded machine) and
//     ends a chunk of one statement about as soon. Only step's statements are bounded: BEGIN and
//     COMMIT run on ctx (a COMMIT waits for its WAL flush and is not cut short), and neither
//     bound interrupts a wait on an LWLock (a buffer's content lock, the WAL writer's), which
//     PostgreSQL does not cut short: a chunk can outlive its budget by such a wait.
//   - No JIT. A chunk's statements run without JIT compilation: their plans are costed for a
//     LIMIT they only learn when run, and compiling one took longer than the chunk's work (390 ms
//     against 30 ms for a ghost-risk chunk at 1,000,000 leads).
//   - No wait for the WAL flush. A chunk commits with synchronous_commit off: its COMMIT
//     returns, and releases its row locks, without waiting for its WAL to reach the disk, a wait
//     that made up most of what the longest chunks took past their budget on a busy machine.
//     Nothing is lost by it: WAL is flushed in order, so the first synchronous commit after the
//     chunk (at the latest the sweep's job completing, or a worker claiming a job the chunk's
//     events enqueued) makes the chunk durable with it, and the WAL writer flushes it within a
//     few hundred milliseconds in any case. A crash before then loses the last chunks whole,
//     their events with them, and leaves the sweep's job unfinished: it runs again after its
//     lease, and the sweep, being idempotent, redoes exactly what was lost.
//   - Pacing. After each chunk the sweep rests Pace.Rest times the chunk's time before the next,
//     so that on a small machine a sweep takes a share of a core and leaves the rest to the api;
//     once the sweep has run for Pace.Long, Pace.LongRest times it (a backfill, which cannot
//     finish as soon as a recurring sweep does, leaves the api more).
//
// step keeps its own keyset position (the last key it read) between calls, advancing it only
// when it returns no error; a chunk that fails or runs out of its budget leaves the position as
// it was, so its rows are taken again. step must use the ctx it is given for its statements.
// Each chunk commits on its own, so a sweep that stops halfway keeps the chunks before; its rerun
// must therefore be idempotent (every write guarded by a unique key or a state check), which is
// what makes the sweep safe to retry. A cancelled ctx stops it between chunks. It returns the
// number of chunks committed.
func (d *DB) Chunks(ctx context.Context, orgID uuid.UUID, size Size,
	step func(ctx context.Context, tx *gorm.DB, size int) (done bool, err error)) (int, error) {
	p := d.pace.Resolved()
	z := size.within()
	budget := p.Budget
	began := time.Now()
	for n := 0; ; {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sweep stopped after %d chunks: %w", n, err)
		}
		start := time.Now()
		done, err := d.chunk(ctx, orgID, budget, func(cctx context.Context, tx *gorm.DB) (bool, error) {
			return step(cctx, tx, z.size)
		})
		took := time.Since(start)
		rep := ChunkReport{Size: z.size, Took: took, Budget: budget, Elapsed: time.Since(began)}
		switch {
		case errors.Is(err, errChunkOverBudget):
			rep.TimedOut = true
			next, nextBudget := z.shrink(), budget
			if next == z.size {
				nextBudget = 2 * budget
			}
			d.log.Info("sweep chunk ran out of its budget and rolled back",
				zap.Stringer("org_id", orgID), zap.Int("size", z.size), zap.Duration("budget", budget),
				zap.Duration("took", took), zap.Int("next_size", next), zap.Duration("next_budget", nextBudget), zap.Error(err))
			z.size, budget = next, nextBudget
		case err != nil:
			return n, fmt.Errorf("sweep chunk %d: %w", n+1, err)
		default:
			n++
			if done {
				p.observe(rep)
				return n, nil
			}
			z.took(took, p.Aim)
			if took <= p.Budget {
				budget = p.Budget
			}
		}
		rep.Rest = p.restAfter(took, rep.Elapsed)
		p.observe(rep)
		if err := rest(ctx, rep.Rest); err != nil {
			return n, fmt.Errorf("sweep stopped after %d chunks: %w", n, err)
		}
	}
}

// errChunkOverBudget is a chunk rolled back for running out of its budget.
var errChunkOverBudget = errors.New("chunk over its budget")

// chunk runs fn in one tenant transaction of orgID, without JIT or a wait for its WAL flush, whose statements are bounded by
// budget (the context fn gets, and statement_timeout), and commits it. A chunk cut short by the
// budget is rolled back and answered with errChunkOverBudget (wrapping the statement's error);
// any other failure rolls back with its own error.
func (d *DB) chunk(ctx context.Context, orgID uuid.UUID, budget time.Duration,
	fn func(ctx context.Context, tx *gorm.DB) (bool, error)) (bool, error) {
	var done bool
	settings := []Setting{
		{Name: "statement_timeout", Value: fmt.Sprintf("%dms", max(1, budget.Milliseconds()))},
		{Name: "jit", Value: "off"},
		{Name: "synchronous_commit", Value: "off"},
	}
	err := d.tx(ctx, orgID, settings, func(tx *gorm.DB) error {
		cctx, cancel := context.WithTimeout(cancelsQueries(ctx), budget)
		defer cancel()
		var err error
		done, err = fn(cctx, tx.WithContext(cctx))
		if err != nil && ctx.Err() == nil && (cctx.Err() != nil || IsTimeout(err)) {
			return fmt.Errorf("%w: %w", errChunkOverBudget, err)
		}
		return err
	})
	return done, err
}

// rest waits d, or until ctx ends.
func rest(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
