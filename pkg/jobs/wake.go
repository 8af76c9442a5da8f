package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"
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

// Waker sends NOTIFY jobs_inserted after commits that deferred it (app.jobs_notify), off the
// caller's path: Wake returns at once, and wake-ups asked for while one is on its way, or within
// wakeGap after it, share the next one. A lost wake-up (server away, process ending) costs at most the workers' poll interval
// (R11). Safe for concurrent use.
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

// insertedKey is the context key of an *atomic.Bool that MarkInserted sets when a job was inserted:
// how a transaction that deferred its wake-up learns whether it owes one.
type insertedKey struct{}

// withInsertedMark returns ctx carrying a fresh mark, and the mark.
func withInsertedMark(ctx context.Context) (context.Context, *atomic.Bool) {
	m := new(atomic.Bool)
	return context.WithValue(ctx, insertedKey{}, m), m
}

// MarkInserted records that the transaction tx has inserted jobs. Code that inserts into jobs by
// its own statement rather than through Queue.Enqueue (events.Emitter writes an event and its
// jobs in one) must call it whenever that statement inserted at least one row, exactly as Enqueue
// does: a transaction that deferred the insert trigger's NOTIFY (Run.CompleteInTx) learns from
// this mark that it owes the workers a Waker.Wake after its commit; without it the jobs wait for
// the workers' next poll. The mark is recorded on the transaction's context and on ctx (a
// handler may pass either); where neither carries one, it does nothing.
func MarkInserted(ctx context.Context, tx *gorm.DB) {
	for _, c := range []context.Context{ctx, txContext(tx)} {
		if c == nil {
			continue
		}
		if m, ok := c.Value(insertedKey{}).(*atomic.Bool); ok {
			m.Store(true)
		}
	}
}

func txContext(tx *gorm.DB) context.Context {
	if tx == nil || tx.Statement == nil {
		return nil
	}
	return tx.Statement.Context
}
