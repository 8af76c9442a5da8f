package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Pace is the chunk discipline of the handle's sweeps (Chunks, KeyRanges): how long a chunk's
// transaction may take, what its size aims at, and how long the sweep rests between chunks. One
// Pace serves every sweep of a process; the worker sets it from its settings (SetPace), and a
// zero field is its default.
type Pace struct {
	// Budget is the most a chunk's statements may take (default DefaultChunkBudget): the bound
	// on how long a sweep holds the row locks of one chunk's writes, and so on how long an api
	// write on one of its rows can wait for it.
	Budget time.Duration
	// Aim is the time the adaptive size steers a chunk towards (default half the Budget), so that
	// an ordinary chunk stays well inside the budget and only an outlier reaches it.
	Aim time.Duration
	// Rest is the pause after a chunk, in units of the chunk's time (default DefaultChunkRest;
	// negative: no rest). A rest of r runs a sweep 1/(1+r) of the time.
	Rest float64
	// Long is how long a sweep rests Rest after its chunks (default DefaultLongSweep; negative:
	// for ever); a sweep that has run longer rests LongRest after each chunk from then on.
	Long time.Duration
	// LongRest is the rest per unit of a chunk's time of a sweep that has run for Long (default
	// DefaultLongRest; negative: no rest).
	LongRest float64
	// Observe, when set, is told of every chunk: the tests' and the bench's view of the pacing.
	Observe func(ChunkReport)
}

// DefaultChunkBudget is the bound on a chunk's statements: the ~100 ms that the api's writes may
// wait behind a sweep's chunk.
const DefaultChunkBudget = 100 * time.Millisecond

// DefaultChunkRest is the rest after a chunk per unit of its time: a sweep runs four fifths of
// the time and leaves the fifth of a core to the api. Chosen by the wall-time target at 1,000,000
// leads on 2 cores (BENCHMARKS.md, "Scheduled sweeps"): the longest sweep that must stay inside
// 30 s, ghost risk, took 13-20 s flat out on a quiet machine, so a rest of r makes it 16-25 s at
// 0.25 and up to 30 s at 0.5, with nothing left for a busy hour; the PATCH p99 during a sweep
// moved with the machine's other load far more than with the rest (BENCHMARKS.md).
const DefaultChunkRest = 0.25

// DefaultLongSweep is how long a sweep runs at Rest before it rests LongRest: the wall-time
// target of a recurring sweep over an org of 1,000,000 leads, which each of the seven meets at
// DefaultChunkRest on 2 cores (BENCHMARKS.md, "Scheduled sweeps"). A sweep still running then
// has far more than a slot's changes to write (the first auto-priority sweep after the rules
// change, which rewrites most of an org's leads) and cannot meet that target however it is
// paced, so from then on it gives the api more of the machine and takes longer.
const DefaultLongSweep = 30 * time.Second

// DefaultLongRest is the rest per unit of a chunk's time after DefaultLongSweep: a sweep runs
// half of the time. Measured with the auto-priority backfill at 1,000,000 leads (789,000
// changes) beside a closed loop of PATCH /leads/{id} on 2 cores, alternating runs on copies of
// one seed: its PATCH p99 was 1.73 and 1.89 times the idle one (1.53 in a full run of the
// sweeps), against 2.00-2.30 in four runs at DefaultChunkRest throughout, and it took
// 4m12s-4m18s instead of 2m33s-2m43s (BENCHMARKS.md, "Scheduled sweeps").
const DefaultLongRest = 1.0

// ChunkReport is one chunk of a sweep as Pace.Observe sees it.
type ChunkReport struct {
	// Size is the rows the chunk was asked to take; Took how long its transaction took, BEGIN
	// to COMMIT or rollback; Budget the bound its statements ran under.
	Size   int
	Took   time.Duration
	Budget time.Duration
	// TimedOut is a chunk cut short by its budget and rolled back (it runs again, smaller).
	TimedOut bool
	// Rest is the pause the sweep takes after the chunk (zero after its last).
	Rest time.Duration
	// Elapsed is how long the sweep had run when the chunk ended: past Pace.Long, Rest is
	// Pace.LongRest's.
	Elapsed time.Duration
}

// SetPace sets the pace of the handle's sweeps. The worker's wiring calls it once, right after
// Open and before the handle is shared, as it does Defer.
func (d *DB) SetPace(p Pace) { d.pace = p }

// WithPace returns a handle on the same pool whose sweeps keep p: for a test or a bench that
// paces its sweeps apart from the handle it shares. Closing either closes both.
func (d *DB) WithPace(p Pace) *DB {
	c := *d
	c.pace = p
	return &c
}

// Resolved is p with its zero fields filled in.
func (p Pace) Resolved() Pace {
	if p.Budget <= 0 {
		p.Budget = DefaultChunkBudget
	}
	if p.Aim <= 0 || p.Aim > p.Budget {
		p.Aim = p.Budget / 2
	}
	switch {
	case p.Rest == 0:
		p.Rest = DefaultChunkRest
	case p.Rest < 0:
		p.Rest = 0
	}
	if p.Long == 0 {
		p.Long = DefaultLongSweep
	}
	switch {
	case p.LongRest == 0:
		p.LongRest = DefaultLongRest
	case p.LongRest < 0:
		p.LongRest = 0
	}
	return p
}

// restAfter is the rest after a chunk that took took and ended elapsed after its sweep began.
func (p Pace) restAfter(took, elapsed time.Duration) time.Duration {
	r := p.Rest
	if p.Long >= 0 && elapsed >= p.Long {
		r = p.LongRest
	}
	return time.Duration(r * float64(took))
}

func (p Pace) observe(r ChunkReport) {
	if p.Observe != nil {
		p.Observe(r)
	}
}

// Size is the range of a sweep's chunk size, in rows: the first chunk's, and the smallest and
// largest the adaptive size may reach. A zero field is the default of DefaultSize; Fixed is a
// size that does not adapt (a test's small chunks).
type Size struct {
	First, Min, Max int
}

// DefaultSize is the chunk size range of a sweep that names none. Measured at 1,000,000 leads of
// one org: a ghost-risk chunk of 5,000 leads of which two thirds were due took 580 ms with a cold
// cache, so sweeps start small and grow while their chunks stay short; a chunk of 10 rows is
// milliseconds whatever the rows are, unless it waits on a lock.
var DefaultSize = Size{First: 250, Min: 10, Max: 10000}

// Fixed is the size of n rows every chunk.
func Fixed(n int) Size { return Size{First: n, Min: n, Max: n} }

// FixedOr is Fixed(n) when n is positive (a setting or a test that fixes a sweep's chunks), else
// the adaptive size that starts at first rows (DefaultSize when first is not positive).
func FixedOr(n, first int) Size {
	switch {
	case n > 0:
		return Fixed(n)
	case first > 0:
		return Size{First: first}
	default:
		return DefaultSize
	}
}

// sizer is the chunk size of one sweep as it adapts.
type sizer struct {
	size, min, max int
}

// within is the sizer of s, its zero fields DefaultSize's, its first size within its bounds.
func (s Size) within() *sizer {
	if s.Min <= 0 {
		s.Min = min(DefaultSize.Min, max(1, s.First))
	}
	if s.Max <= 0 {
		s.Max = max(DefaultSize.Max, s.Min)
	}
	if s.First <= 0 {
		s.First = DefaultSize.First
	}
	return &sizer{size: max(s.Min, min(s.Max, s.First)), min: s.Min, max: s.Max}
}

// took adapts the size to a committed chunk of the current size that took d: scaled towards aim,
// at most doubled at once, within min and max.
func (z *sizer) took(d, aim time.Duration) {
	want := 2 * z.size
	if d > 0 {
		want = min(want, int(float64(z.size)*float64(aim)/float64(d)))
	}
	z.size = max(z.min, min(z.max, want))
}

// shrink is the size after a chunk that ran out of its budget: a quarter of it, not below min.
// The chunk took more than twice the aim, by how much it cannot say, so a quarter rather than
// the half that the proportional rule would at least give.
func (z *sizer) shrink() int { return max(z.min, z.size/4) }

// cancelsQueriesKey marks a context whose end cancels the statement it bounds by a cancel request
// (cancelsQueries).
type cancelsQueriesKey struct{}

// cancelsQueries marks ctx so that, when it ends during a statement, the connection sends
// PostgreSQL a cancel request for the statement and stays usable: the chunk's budget. Without the
// mark, pgx's default applies (the connection's socket gets a deadline and the connection is
// closed), since a cancel request is answered asynchronously and could, in principle, reach the
// next statement of the connection instead (Chunks rolls back at once after the cancel, which a
// stray cancel cannot harm).
func cancelsQueries(ctx context.Context) context.Context {
	return context.WithValue(ctx, cancelsQueriesKey{}, true)
}

// watchHandler is the pool's handler of a context that ends during a statement: a cancel request
// for contexts marked by cancelsQueries, pgx's default deadline otherwise.
type watchHandler struct {
	conn     *pgconn.PgConn
	deadline *pgconn.DeadlineContextWatcherHandler
	// cancelled is closed when the cancel request of the context that ended has been answered;
	// nil when the context used the deadline.
	cancelled chan struct{}
}

// cancelGrace is how long a cancel request may take before the connection falls back to the
// deadline (and is closed): the server answers one in about a millisecond.
const cancelGrace = 2 * time.Second

func newWatchHandler(c *pgconn.PgConn) ctxwatch.Handler {
	return &watchHandler{conn: c, deadline: &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}}
}

// HandleCancel cancels the running statement of a marked context by a cancel request, with a
// socket deadline cancelGrace later as a fallback; any other context gets the deadline at once.
func (h *watchHandler) HandleCancel(ctx context.Context) {
	if ctx.Value(cancelsQueriesKey{}) == nil {
		h.cancelled = nil
		h.deadline.HandleCancel(ctx)
		return
	}
	done := make(chan struct{})
	h.cancelled = done
	_ = h.conn.Conn().SetDeadline(time.Now().Add(cancelGrace))
	go func() {
		defer close(done)
		cctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
		defer cancel()
		_ = h.conn.CancelRequest(cctx)
	}()
}

// HandleUnwatchAfterCancel waits for the cancel request to be answered (the server has signalled
// the backend) and clears the deadline.
func (h *watchHandler) HandleUnwatchAfterCancel() {
	if h.cancelled == nil {
		h.deadline.HandleUnwatchAfterCancel()
		return
	}
	<-h.cancelled
	h.cancelled = nil
	_ = h.conn.Conn().SetDeadline(time.Time{})
}
