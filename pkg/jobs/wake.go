package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/crm/pkg/db"
)

// wakeSQL wakes idle workers as the insert trigger would. Alone in its transaction, which writes
// nothing, it holds the notify lock only for an instant.
const wakeSQL = "SELECT pg_notify('jobs_inserted', '')"

// wakeTimeout bounds one wake-up.
const wakeTimeout = 5 * time.Second

// wakeGap is the least time between two wake-ups of one Waker. Under load every commit asks for
// one, and a NOTIFY sent back to back with the next costs each listening worker a wake-up and
// PostgreSQL a transaction, for jobs a worker would have found anyway; wake-ups asked for during
// the gap are sent together at its end. It adds at most this much to a job's pickup when the
// Waker is busy, and nothing when it is idle.
const wakeGap = 5 * time.Millisecond

// Waker sends NOTIFY jobs_inserted after commits that deferred it (app.jobs_notify) and inserted
// jobs (InsertedSQL), off the caller's path: Wake returns at once, and wake-ups asked for while
// one is on its way, or within wakeGap after it, share the next one. A lost wake-up (server
// away, process ending) costs at most the workers' poll interval, since the workers poll
// regardless. Safe for concurrent use.
type Waker struct {
	pool *pgxpool.Pool

	mu sync.Mutex
	// waking is true while the wake-up goroutine runs; again asks it for one more round.
	waking, again bool
}

// NewWaker returns a Waker that notifies through pool (nil: a Waker that does nothing).
func NewWaker(pool *pgxpool.Pool) *Waker {
	return &Waker{pool: pool}
}

// Wake makes sure a NOTIFY jobs_inserted is sent after now.
func (w *Waker) Wake() {
	if w.pool == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waking {
		w.again = true
		return
	}
	w.waking = true
	go w.loop()
}

func (w *Waker) loop() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), wakeTimeout)
		// An error (the pool closing, the server away) only delays the workers until their poll.
		_, _ = w.pool.Exec(ctx, wakeSQL)
		cancel()
		time.Sleep(wakeGap)
		w.mu.Lock()
		if !w.again {
			w.waking = false
			w.mu.Unlock()
			return
		}
		w.again = false
		w.mu.Unlock()
	}
}

// InsertedSQL reads whether the transaction it runs in inserted jobs while it deferred the
// workers' wake-up: the jobs insert trigger records that in app.jobs_inserted (migration 000019).
// Whoever commits such a transaction sends it in the same round trip as its last statement and
// calls Waker.Wake after the commit when it answers true, so no writer of jobs has to report
// what it inserted.
const InsertedSQL = "SELECT " + insertedExpr

// insertedExpr is InsertedSQL's expression.
const insertedExpr = "coalesce(current_setting('app.jobs_inserted', true), '') = 'on'"

// WakeAfterCommit makes every transaction that d.Tx opens (the api's requests, the use cases'
// own transactions, a sweep's chunks) defer the trigger's NOTIFY (DeferWake, sent with its tenant
// scope) and, after a commit that inserted jobs (InsertedSQL, read with the COMMIT), wake the
// workers through a Waker on d's pool: no round trip more, and no request commits behind
// PostgreSQL's notify lock. The binaries call it once on the handle they open (pkg/cli.OpenDB,
// the worker); it returns the Waker.
func WakeAfterCommit(d *db.DB) *Waker {
	w := NewWaker(d.Pool)
	d.Defer(db.Deferral{Setting: DeferWake, Owed: insertedExpr, Then: w.Wake})
	return w
}
