package runtime

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"example.com/crm/pkg/jobs"
)

// DefaultWorkerID is "<hostname>-<pid>", unique among live processes.
func DefaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// completer commits successful attempts in batches: it takes whatever has queued up while the
// previous batch was being written, so a busy worker writes large batches and an idle one
// completes each job at once.
type completer struct {
	r       *Runtime
	in      chan jobs.Completion
	stopped chan struct{}

	mu     sync.Mutex // guards closed and sends on in
	closed bool
}

// maxCompleteBatch bounds one completion statement.
const maxCompleteBatch = 2000

func newCompleter(r *Runtime) *completer {
	return &completer{r: r, in: make(chan jobs.Completion, max(1024, 2*r.cfg.Concurrency)), stopped: make(chan struct{})}
}

// add queues a successful attempt for completion. It reports false once the completer is
// closed: a handler that ignored cancellation past the end of shutdown finished too late, and
// its job (already released) runs again elsewhere.
func (c *completer) add(x jobs.Completion) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.in <- x
	return true
}

// close ends the completer after it has written everything added before.
func (c *completer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	close(c.in)
}

func (c *completer) run() {
	defer close(c.stopped)
	batch := make([]jobs.Completion, 0, maxCompleteBatch)
	for first := range c.in {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxCompleteBatch {
			select {
			case x, ok := <-c.in:
				if !ok {
					break drain
				}
				batch = append(batch, x)
			default:
				break drain
			}
		}
		c.flush(batch)
	}
}

func (c *completer) flush(batch []jobs.Completion) {
	var done []int64
	var err error
	for try := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		done, err = c.r.queue.CompleteMany(ctx, batch)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	ids := make([]int64, len(batch))
	for i, x := range batch {
		ids[i] = x.Job.ID
	}
	defer c.r.forget(ids...)
	if err != nil {
		// The jobs stay running in the database; the reaper frees them and they run again.
		c.r.log.Error("completing jobs failed; the reaper will retry them", zap.Error(err), zap.Int("jobs", len(batch)))
		return
	}
	ok := make(map[int64]bool, len(done))
	for _, id := range done {
		ok[id] = true
	}
	for _, x := range batch {
		if ok[x.Job.ID] {
			c.r.m.completed.WithLabelValues(x.Job.Type).Inc()
			continue
		}
		c.r.m.leaseLost.WithLabelValues(x.Job.Type).Inc()
		c.r.log.Warn("job completion refused: lease lost", zap.String("job_type", x.Job.Type), zap.Int64("job_id", x.Job.ID), zap.Int("attempt", x.Job.Attempt))
	}
}

// listenBackOff is the wait between attempts to listen again after the connection was lost or
// refused: from 500 ms, doubling up to 30 s, each delay ±50 % at random, so that a fleet of
// workers that lost the database together does not come back at it in lockstep.
func listenBackOff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     500 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         30 * time.Second,
	}
}

// listen wakes the producer on every NOTIFY jobs_inserted, reconnecting after failures. The
// notification is only a wake-up: the producer also polls.
func (r *Runtime) listen(ctx context.Context) {
	keepListening(ctx, r.db.Pool.Config().ConnConfig, listenBackOff(), r.notify, r.log)
}

// keepListening holds a connection listening on jobs_inserted until ctx ends, calling notify on
// every notification and whenever a connection starts listening (anything committed while no
// one listened is found by the claim that follows). A failed or lost connection is retried
// after bo's next delay; the delays start again from the first once a connection has listened.
func keepListening(ctx context.Context, connCfg *pgx.ConnConfig, bo *backoff.ExponentialBackOff, notify func(), log *zap.Logger) {
	listening := func() {
		bo.Reset()
		notify()
	}
	_, _ = backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, listenOnce(ctx, connCfg, listening, notify)
	},
		backoff.WithBackOff(bo),
		backoff.WithMaxElapsedTime(0), // retry for as long as the worker runs
		backoff.WithNotify(func(err error, wait time.Duration) {
			log.Warn("job notifications lost; reconnecting", zap.Error(err), zap.Duration("retry_in", wait))
		}),
	)
}

// listenOnce connects, listens, calls listening, and then notify per notification until the
// connection fails or ctx ends. It always returns an error.
func listenOnce(ctx context.Context, connCfg *pgx.ConnConfig, listening, notify func()) error {
	conn, err := pgx.ConnectConfig(ctx, connCfg.Copy())
	if err != nil {
		return fmt.Errorf("connect listener: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN jobs_inserted"); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		notify()
	}
}

// heartbeat keeps the leases this process holds and stops the attempts whose leases it can no
// longer prove, as the package doc's Leases section describes. Stopping cancels the attempts one
// by one and never the pool's shared run context: that context is also every later attempt's
// parent, so cancelling it would hand each job claimed after an outage an already cancelled
// context, and the runtime would keep claiming jobs only to hold them, running, until the
// process stops.
func (r *Runtime) heartbeat(ctx context.Context) {
	renewer := r.queue.NewRenewer()
	defer renewer.Close()
	t := time.NewTimer(r.cfg.LockTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(r.renew(ctx, renewer))
	}
}

// renew renews the leases held once and returns the wait before the next renewal: the renewal
// interval (a quarter of the lock timeout) after a renewal, an eighth of it after a failed one,
// and in either case no longer than until the next attempt must stop. It first stops the
// attempts whose leases it can no longer prove, and bounds the renewal by the moment the next
// one must stop.
func (r *Runtime) renew(ctx context.Context, renewer *jobs.Renewer) time.Duration {
	every := r.cfg.LockTimeout / 4
	atts, due := r.unproven()
	if len(atts) == 0 {
		return every
	}
	held := make([]*jobs.Job, len(atts))
	for i, a := range atts {
		held[i] = a.job
	}
	deadline := time.Now().Add(every)
	if due.Before(deadline) {
		deadline = due
	}
	hctx, cancel := context.WithDeadline(ctx, deadline)
	sent := time.Now()
	res, err := renewer.Heartbeat(hctx, held)
	cancel()
	next := every
	if err != nil {
		if ctx.Err() != nil {
			return every
		}
		r.log.Warn("lease renewal failed; retrying", zap.Error(err), zap.Int("jobs", len(held)))
		next = every / 8
	} else {
		r.mu.Lock()
		for _, a := range atts {
			if res.Renewed[a.job.ID] {
				a.proof = sent
			}
		}
		r.mu.Unlock()
		for _, a := range atts {
			if res.Lost[a.job.ID] {
				r.stop(a)
			}
		}
	}
	if atts, due = r.unproven(); len(atts) > 0 {
		next = min(next, time.Until(due))
	}
	return max(next, time.Millisecond)
}

// unproven stops the attempts held whose leases are no longer proven for long enough: three
// quarters of the lock timeout after their proof (attempt.proof), which leaves their handlers
// the last quarter to return before the reaper may free the job. It returns the attempts still
// running, and the moment the first of them must stop.
func (r *Runtime) unproven() (running []*attempt, due time.Time) {
	proven := r.cfg.LockTimeout * 3 / 4
	now := time.Now()
	var expired []*attempt
	r.mu.Lock()
	for _, a := range r.held {
		if a.lost.Load() {
			continue
		}
		stopAt := a.proof.Add(proven)
		if !stopAt.After(now) {
			expired = append(expired, a)
			continue
		}
		running = append(running, a)
		if due.IsZero() || stopAt.Before(due) {
			due = stopAt
		}
	}
	r.mu.Unlock()
	if len(expired) > 0 {
		r.log.Error("leases not renewed in time; stopping their attempts", zap.Int("jobs", len(expired)),
			zap.Duration("unproven_for", proven))
	}
	for _, a := range expired {
		r.stop(a)
	}
	return running, due
}

// stop marks an attempt's lease lost, cancels its work and makes its batch refuse any further
// write.
func (r *Runtime) stop(a *attempt) {
	a.lost.Store(true)
	r.mu.Lock()
	cancel, batch := a.cancel, a.batch
	r.mu.Unlock()
	if batch != nil {
		batch.LeaseLost()
	}
	if cancel != nil {
		cancel()
	}
}

// maintain runs the reaper every WORKER_REAPER_INTERVAL_MS (and once at start, so a restarted
// fleet rescues its predecessors' jobs at once) and the pruner at most once a minute.
func (r *Runtime) maintain(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	var lastPrune time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.reap(ctx)
		if time.Since(lastPrune) >= time.Minute {
			r.prune(ctx)
			lastPrune = time.Now()
		}
		t.Reset(r.cfg.ReaperInterval)
	}
}

func (r *Runtime) reap(ctx context.Context) {
	for ctx.Err() == nil {
		res, err := r.queue.Reap(ctx, r.cfg.LockTimeout)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("reaper failed", zap.Error(err))
			}
			return
		}
		n := res.Requeued + res.DeadLettered
		if n == 0 {
			return
		}
		r.m.reaped.Add(float64(n))
		r.log.Warn("expired job leases reaped", zap.Int("requeued", res.Requeued), zap.Int("dead_lettered", res.DeadLettered))
		r.notify()
		if n < 1000 {
			return
		}
	}
}

func (r *Runtime) prune(ctx context.Context) {
	const batch = 5000
	var total int64
	for ctx.Err() == nil {
		n, err := r.queue.Prune(ctx, r.cfg.Retention, batch)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("pruning finished jobs failed", zap.Error(err))
			}
			return
		}
		total += n
		if n < batch {
			break
		}
	}
	if total > 0 {
		r.log.Info("finished jobs pruned", zap.Int64("rows", total))
	}
}
