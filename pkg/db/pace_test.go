package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// chunkLog records what Pace.Observe is told.
type chunkLog struct {
	mu      sync.Mutex
	reports []db.ChunkReport
	then    func(db.ChunkReport)
}

func (l *chunkLog) observe(r db.ChunkReport) {
	l.mu.Lock()
	l.reports = append(l.reports, r)
	then := l.then
	l.mu.Unlock()
	if then != nil {
		then(r)
	}
}

func (l *chunkLog) all() []db.ChunkReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]db.ChunkReport(nil), l.reports...)
}

// TestChunksBudgetShrinksPastALockedRow proves the hard bound of a sweep's chunk against a
// client's row lock: a chunk whose write waits behind a lock another transaction holds is cut at
// its budget and rolled back (its other rows unlocked at once, nothing of it kept), runs again at
// a quarter of its size, and at the smallest size again with twice the budget; once the lock is
// released the sweep completes, and every row of the org was written exactly once.
func TestChunksBudgetShrinksPastALockedRow(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	var ids []uuid.UUID
	require.NoError(t, s.owner.Tx(ctx, s.orgA, func(tx *gorm.DB) error {
		var err error
		ids, err = db.Select[uuid.UUID](ctx, tx, `INSERT INTO leads (org_id, email, fingerprint)
SELECT $1, 'b' || g || '@example.com', 'fpb' || g FROM generate_series(1, 20) g RETURNING id`, s.orgA)
		return err
	}))
	var locked uuid.UUID
	require.NoError(t, s.owner.Tx(ctx, s.orgA, func(tx *gorm.DB) error {
		var err error
		locked, _, err = db.Get[uuid.UUID](ctx, tx, `SELECT id FROM leads WHERE org_id = $1 ORDER BY id OFFSET 14 LIMIT 1`, s.orgA)
		return err
	}))

	// A client's transaction holds the fifteenth lead's row lock until the sweep has run out of
	// its budget on it alone.
	release := dbtest.HoldLocks(t, s.owner, "SELECT 1 FROM leads WHERE id = $1 FOR UPDATE", locked)

	log := &chunkLog{}
	log.then = func(r db.ChunkReport) {
		if r.TimedOut && r.Size == 1 {
			release()
		}
	}
	budget := 50 * time.Millisecond
	d := s.app.WithPace(db.Pace{Budget: budget, Rest: 0.1, Observe: log.observe})
	after := uuid.Nil
	n, err := d.Chunks(ctx, s.orgA, db.Size{First: 8, Min: 1, Max: 8}, func(ctx context.Context, tx *gorm.DB, size int) (bool, error) {
		got, err := db.Select[uuid.UUID](ctx, tx, `UPDATE leads SET score = coalesce(score, 0) + 1
WHERE id IN (SELECT id FROM leads WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3) RETURNING id`, s.orgA, after, size)
		if err != nil {
			return false, err
		}
		for _, id := range got {
			if id.String() > after.String() {
				after = id
			}
		}
		return len(got) < size, nil
	})
	require.NoError(t, err)

	reports := log.all()
	var timedOut []db.ChunkReport
	committed := 0
	for _, r := range reports {
		if r.TimedOut {
			timedOut = append(timedOut, r)
			require.Less(t, r.Took, 10*r.Budget, "a chunk waiting on a lock is cut near its budget, not when the lock goes")
		} else {
			committed++
		}
	}
	require.Equal(t, committed, n)
	require.NotEmpty(t, timedOut)
	require.Greater(t, timedOut[0].Size, 1, "the first chunk over the locked row holds others too")
	require.Equal(t, budget, timedOut[0].Budget)
	last := timedOut[len(timedOut)-1]
	require.Equal(t, 1, last.Size, "it shrinks until the locked row is alone")
	for i := 1; i < len(timedOut); i++ {
		require.LessOrEqual(t, timedOut[i].Size, timedOut[i-1].Size)
	}
	var retried []db.ChunkReport
	for i, r := range reports {
		if i > 0 && reports[i-1].TimedOut && reports[i-1].Size == 1 {
			retried = append(retried, r)
		}
	}
	require.Len(t, retried, 1)
	require.Equal(t, 2*budget, retried[0].Budget, "at the smallest size the next try gets twice the budget")
	require.False(t, retried[0].TimedOut, "and passes once the lock is gone")

	scores := map[uuid.UUID]int{}
	require.NoError(t, s.owner.Tx(ctx, s.orgA, func(tx *gorm.DB) error {
		type row struct {
			ID    uuid.UUID `gorm:"column:id"`
			Score int       `gorm:"column:score"`
		}
		rows, err := db.Select[row](ctx, tx, `SELECT id, score FROM leads WHERE org_id = $1`, s.orgA)
		for _, r := range rows {
			scores[r.ID] = r.Score
		}
		return err
	}))
	require.Len(t, scores, len(ids))
	for id, sc := range scores {
		require.Equal(t, 1, sc, "lead %s written exactly once: the rolled-back chunks kept nothing", id)
	}
}

// TestChunksBudgetBoundsTheTransaction proves the budget bounds a chunk's statements together,
// not each one: three statements of 30 ms each run past a 50 ms budget (each alone is inside it),
// so the chunk is cut; a chunk that cannot shrink (a fixed size) runs again with twice the budget
// and commits. A statement that outlives the budget is cut near it (one started 40 ms into a
// 50 ms budget, before its own statement_timeout would end it, by the cancel request), and the
// connection it ran on stays in the pool, usable. The chunk runs without JIT.
func TestChunksBudgetBoundsTheTransaction(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	log := &chunkLog{}
	d := s.app.WithPace(db.Pace{Budget: 50 * time.Millisecond, Rest: -1, Observe: log.observe})
	calls := 0
	n, err := d.Chunks(ctx, s.orgA, db.Fixed(1), func(ctx context.Context, tx *gorm.DB, _ int) (bool, error) {
		calls++
		for range 3 {
			if _, err := db.Exec(ctx, tx, `SELECT pg_sleep(0.03)`); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// Each run past its budget doubles the next one's (once on an idle machine; a loaded one can
	// push 90 ms of sleeps past 100 ms too) until the chunk commits.
	reports := log.all()
	require.GreaterOrEqual(t, len(reports), 2)
	require.True(t, reports[0].TimedOut)
	require.Equal(t, 50*time.Millisecond, reports[0].Budget)
	for i, r := range reports[1:] {
		require.Equal(t, 2*reports[i].Budget, r.Budget, "run %d", i+2)
		require.Equal(t, i+2 < len(reports), r.TimedOut, "run %d", i+2)
	}
	require.Equal(t, len(reports), calls)

	// One statement far past the budget: cut by a cancel request near the budget.
	log = &chunkLog{}
	d = s.app.WithPace(db.Pace{Budget: 50 * time.Millisecond, Rest: -1, Observe: log.observe})
	calls = 0
	var cut int32
	_, err = d.Chunks(ctx, s.orgA, db.Fixed(1), func(ctx context.Context, tx *gorm.DB, _ int) (bool, error) {
		calls++
		if calls == 1 {
			var err error
			if cut, _, err = db.Get[int32](ctx, tx, `SELECT pg_backend_pid()`); err != nil {
				return false, err
			}
			jit, _, err := db.Get[string](ctx, tx, `SELECT current_setting('jit')`)
			require.Equal(t, "off", jit)
			if err != nil {
				return false, err
			}
			if _, err := db.Exec(ctx, tx, `SELECT pg_sleep(0.04)`); err != nil {
				return false, err
			}
			_, err = db.Exec(ctx, tx, `SELECT pg_sleep(30)`)
			return true, err
		}
		return true, nil
	})
	require.NoError(t, err)
	reports = log.all()
	require.Len(t, reports, 2)
	require.True(t, reports[0].TimedOut)
	require.Less(t, reports[0].Took, 5*time.Second, "the 30 s statement was cut near its budget")
	require.NoError(t, s.owner.Tx(ctx, s.orgA, func(tx *gorm.DB) error {
		alive, _, err := db.Get[int](ctx, tx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, cut)
		require.Equal(t, 1, alive, "the connection whose statement was cancelled was not closed")
		return err
	}))
}

// sleepChunks runs a sweep of n chunks under pace p on the app's handle of s, each chunk a
// statement that sleeps sleep, and returns the chunks it committed and what p.Observe saw.
func sleepChunks(t *testing.T, s readSetup, p db.Pace, n int, sleep time.Duration) (int, []db.ChunkReport) {
	t.Helper()
	log := &chunkLog{}
	p.Observe = log.observe
	calls := 0
	done, err := s.app.WithPace(p).Chunks(t.Context(), s.orgA, db.Size{}, func(ctx context.Context, tx *gorm.DB, _ int) (bool, error) {
		calls++
		_, err := db.Exec(ctx, tx, `SELECT pg_sleep($1)`, sleep.Seconds())
		return calls == n, err
	})
	require.NoError(t, err)
	return done, log.all()
}

// TestChunksRest proves the pacing: after every chunk but the last the sweep rests the chunk's
// time times Pace.Rest, and a sweep cancelled while it rests stops there.
func TestChunksRest(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	n, reports := sleepChunks(t, s, db.Pace{Rest: 2}, 4, 5*time.Millisecond)
	require.Equal(t, 4, n)
	require.Len(t, reports, 4)
	for _, r := range reports[:3] {
		require.Equal(t, time.Duration(2*float64(r.Took)), r.Rest, "each chunk but the last is followed by twice its time of rest")
		require.Positive(t, r.Rest)
	}
	require.Zero(t, reports[3].Rest, "no rest after the last chunk")

	cctx, cancel := context.WithCancel(ctx)
	log := &chunkLog{then: func(db.ChunkReport) { cancel() }}
	d := s.app.WithPace(db.Pace{Rest: 1000, Observe: log.observe})
	n, err := d.Chunks(cctx, s.orgA, db.Size{}, func(context.Context, *gorm.DB, int) (bool, error) { return false, nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, n)
	require.Len(t, log.all(), 1, "the sweep stopped in its rest, before a second chunk")
}

// TestChunksLongRest proves that a sweep rests Pace.Rest after its chunks until it has run for
// Pace.Long and Pace.LongRest after every chunk that ends later, so that a long sweep (a backfill)
// yields more of the machine than a short one.
func TestChunksLongRest(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	const long = 200 * time.Millisecond
	_, reports := sleepChunks(t, s, db.Pace{Rest: 0.5, Long: long, LongRest: 3}, 40, 5*time.Millisecond)
	require.Len(t, reports, 40)
	var before, after int
	for i, r := range reports[:39] {
		if i > 0 {
			require.Greater(t, r.Elapsed, reports[i-1].Elapsed+reports[i-1].Rest, "a chunk ends after the rest before it")
		}
		if r.Elapsed < long {
			before++
			require.Equal(t, time.Duration(0.5*float64(r.Took)), r.Rest, "chunk %d ended %s into the sweep", i+1, r.Elapsed)
			continue
		}
		after++
		require.Equal(t, time.Duration(3*float64(r.Took)), r.Rest, "chunk %d ended %s into the sweep", i+1, r.Elapsed)
	}
	require.Positive(t, before, "the first chunks end before Long")
	require.Positive(t, after, "the last chunks end after Long")
	require.Zero(t, reports[39].Rest, "no rest after the last chunk")

	// A negative Long keeps Rest however long the sweep runs.
	_, reports = sleepChunks(t, s, db.Pace{Rest: 0.5, Long: -1, LongRest: 3}, 3, 20*time.Millisecond)
	for _, r := range reports[:2] {
		require.Equal(t, time.Duration(0.5*float64(r.Took)), r.Rest)
	}
}

// TestPaceResolved proves the defaults of a zero Pace and what negative fields mean.
func TestPaceResolved(t *testing.T) {
	t.Parallel()
	p := db.Pace{}.Resolved()
	require.Equal(t, db.Pace{Budget: db.DefaultChunkBudget, Aim: db.DefaultChunkBudget / 2, Rest: db.DefaultChunkRest,
		Long: db.DefaultLongSweep, LongRest: db.DefaultLongRest}, p)
	p = db.Pace{Rest: -1, Long: -1, LongRest: -1}.Resolved()
	require.Zero(t, p.Rest)
	require.Negative(t, p.Long, "a negative Long stays: for ever")
	require.Zero(t, p.LongRest)
}

// TestFixedOr proves a sweep's size is fixed when its setting is, adapts from its own first size
// otherwise, and is DefaultSize (not a size whose smallest chunk is one row) when it names none.
func TestFixedOr(t *testing.T) {
	t.Parallel()
	require.Equal(t, db.Fixed(7), db.FixedOr(7, 300))
	require.Equal(t, db.Size{First: 300}, db.FixedOr(0, 300))
	require.Equal(t, db.DefaultSize, db.FixedOr(0, 0))
	require.Equal(t, db.DefaultSize, db.FixedOr(-1, -1))
}
