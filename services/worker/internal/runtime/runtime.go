package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// Config tunes the runtime. Zero values take the defaults of the seed.
type Config struct {
	// WorkerID names this process in locked_by and job_logs (host-pid by default).
	WorkerID       string
	Concurrency    int
	ClaimBatch     int
	PollInterval   time.Duration
	LockTimeout    time.Duration
	JobTimeout     time.Duration
	ShutdownGrace  time.Duration
	ReaperInterval time.Duration
	// Retention is how long completed jobs are kept before the pruner deletes them.
	Retention time.Duration
}

// Runtime is one worker process's pool.
type Runtime struct {
	cfg      Config
	db       *db.DB
	queue    *jobs.Queue
	handlers map[string]jobs.Handler
	log      *zap.Logger
	m        *metrics

	inflight atomic.Int64  // claimed and not yet handed back
	wake     chan struct{} // a notification or poll: there may be new jobs
	freed    chan struct{} // a slot became free

	mu   sync.Mutex
	held map[int64]*attempt // every job this process holds a lease on
}

// attempt is a held job and the means to stop it.
type attempt struct {
	job    *jobs.Job
	cancel context.CancelFunc // nil until the handler starts
	lost   atomic.Bool        // the lease was found gone
}

// New returns a runtime that runs handlers (by job type) on the queue.
func New(cfg Config, d *db.DB, queue *jobs.Queue, handlers map[string]jobs.Handler, log *zap.Logger, reg prometheus.Registerer) *Runtime {
	if d == nil || queue == nil || log == nil || reg == nil {
		panic("runtime.New: nil dependency")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.PollInterval, time.Second)
	def(&cfg.LockTimeout, 10*time.Minute)
	def(&cfg.JobTimeout, 5*time.Minute)
	def(&cfg.ReaperInterval, time.Minute)
	def(&cfg.Retention, 7*24*time.Hour)
	if cfg.ShutdownGrace < 0 {
		cfg.ShutdownGrace = 0
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.ClaimBatch <= 0 {
		cfg.ClaimBatch = 100
	}
	if cfg.WorkerID == "" {
		cfg.WorkerID = DefaultWorkerID()
	}
	return &Runtime{
		cfg:      cfg,
		db:       d,
		queue:    queue,
		handlers: handlers,
		log:      log.Named("runtime").With(zap.String("worker", cfg.WorkerID)),
		m:        newMetrics(reg),
		wake:     make(chan struct{}, 1),
		freed:    make(chan struct{}, 1),
		held:     map[int64]*attempt{},
	}
}

// Run works jobs until ctx is cancelled, then drains as the package doc describes.
func (r *Runtime) Run(ctx context.Context) error {
	r.log.Info("worker starting",
		zap.Int("concurrency", r.cfg.Concurrency), zap.Int("claim_batch", r.cfg.ClaimBatch),
		zap.Duration("poll_interval", r.cfg.PollInterval), zap.Duration("lock_timeout", r.cfg.LockTimeout))

	// runCtx outlives ctx by the shutdown grace: running handlers use it.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	// bgCtx carries the maintenance loops until everything is handed back.
	bgCtx, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBG()

	comp := newCompleter(r)
	var bg sync.WaitGroup
	bg.Go(comp.run)
	bg.Go(func() { r.listen(ctx) })
	bg.Go(func() { r.heartbeat(bgCtx) })
	bg.Go(func() { r.maintain(ctx) })

	work := make(chan *attempt)
	var execs sync.WaitGroup
	for range r.cfg.Concurrency {
		execs.Go(func() { r.execute(runCtx, work, comp) })
	}

	r.produce(ctx, work)
	close(work)

	// Let running jobs finish within the grace period, then cut them off.
	done := make(chan struct{})
	go func() { execs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.cfg.ShutdownGrace):
		if n := r.inflight.Load(); n > 0 {
			r.log.Warn("shutdown grace over, cancelling running jobs", zap.Int64("running", n))
		}
		cancelRun()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			r.log.Error("handlers ignored cancellation; releasing their jobs anyway")
		}
	}
	comp.close()
	<-comp.stopped
	r.releaseAll()
	cancelBG()
	bg.Wait()
	r.log.Info("worker stopped")
	return nil
}

// produce claims jobs whenever there are free slots and work is likely, until ctx ends.
func (r *Runtime) produce(ctx context.Context, work chan<- *attempt) {
	poll := time.NewTimer(0) // claim at once on start
	defer poll.Stop()
	likely := false
	errDelay := 100 * time.Millisecond
	for {
		free := int64(r.cfg.Concurrency) - r.inflight.Load()
		if likely && free > 0 {
			n := int(min(free, int64(r.cfg.ClaimBatch)))
			claimed, err := r.queue.Claim(ctx, jobs.NewClaimID(r.cfg.WorkerID), n)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.log.Error("claim failed", zap.Error(err))
				select {
				case <-ctx.Done():
					return
				case <-time.After(errDelay):
				}
				errDelay = min(errDelay*2, 5*time.Second)
				continue
			}
			errDelay = 100 * time.Millisecond
			likely = len(claimed) == n
			if !r.dispatch(ctx, claimed, work) {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			likely = true
		case <-poll.C:
			likely = true
			poll.Reset(r.cfg.PollInterval)
		case <-r.freed:
		}
	}
}

// dispatch hands claimed jobs to the executors; on shutdown it releases the ones not yet started
// and reports false.
func (r *Runtime) dispatch(ctx context.Context, claimed []*jobs.Job, work chan<- *attempt) bool {
	r.inflight.Add(int64(len(claimed)))
	r.m.running.Set(float64(r.inflight.Load()))
	atts := make([]*attempt, len(claimed))
	r.mu.Lock()
	for i, j := range claimed {
		atts[i] = &attempt{job: j}
		r.held[j.ID] = atts[i]
		r.m.claimed.WithLabelValues(j.Type).Inc()
	}
	r.mu.Unlock()
	for i, a := range atts {
		select {
		case work <- a:
		case <-ctx.Done():
			r.release(atts[i:])
			r.m.running.Set(float64(r.inflight.Add(-int64(len(atts) - i))))
			return false
		}
	}
	return true
}

// execute runs attempts until work is closed.
func (r *Runtime) execute(runCtx context.Context, work <-chan *attempt, comp *completer) {
	for a := range work {
		r.runOne(runCtx, a, comp)
	}
}

func (r *Runtime) runOne(runCtx context.Context, a *attempt, comp *completer) {
	job := a.job
	// The attempt's logger is built only when it logs, which a successful attempt never does
	// (building it eagerly cost about a tenth of the runtime's CPU per noop job).
	log := func() *zap.Logger { return r.jobLog(job) }
	jctx, cancel := context.WithTimeout(runCtx, r.cfg.JobTimeout)
	r.mu.Lock()
	a.cancel = cancel
	r.mu.Unlock()
	if a.lost.Load() {
		// Stopped between claim and start (stop saw no cancel func yet): do not run it live.
		cancel()
	}

	run := r.queue.NewRun(job)
	err := r.call(jctx, run, log)
	cancel()
	elapsed := run.Elapsed()
	r.m.duration.WithLabelValues(job.Type).Observe(elapsed.Seconds())

	switch {
	case err == nil && run.Completed():
		// Committed with the handler's writes: authoritative, whatever the heartbeat saw since.
		r.m.completed.WithLabelValues(job.Type).Inc()
		r.forget(job.ID)
	case a.lost.Load() || errors.Is(err, jobs.ErrLeaseLost):
		r.m.leaseLost.WithLabelValues(job.Type).Inc()
		log().Warn("job lease lost; attempt dropped", zap.NamedError("handler_error", err))
		r.forget(job.ID)
	case err == nil:
		// Held until the completer has committed it.
		if !comp.add(jobs.Completion{Job: job, Duration: elapsed}) {
			log().Warn("job finished after shutdown released it; it will run again")
		}
	case runCtx.Err() != nil:
		// Shutdown cut the attempt off: it is released, not failed.
		log().Info("job interrupted by shutdown", zap.Error(err))
	default:
		r.fail(a, err, elapsed, log())
	}
	r.slotFreed()
}

// jobLog is the logger of one attempt.
func (r *Runtime) jobLog(job *jobs.Job) *zap.Logger {
	return r.log.With(zap.String("job_type", job.Type), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
}

// call runs the handler, turning a panic into an error (logged with its stack).
func (r *Runtime) call(ctx context.Context, run *jobs.Run, log func() *zap.Logger) (err error) {
	h, ok := r.handlers[run.Job.Type]
	if !ok {
		return jobs.Permanentf("no handler registered for job type %q", run.Job.Type)
	}
	defer func() {
		if p := recover(); p != nil {
			log().Error("job handler panicked", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, run)
}

func (r *Runtime) fail(a *attempt, cause error, elapsed time.Duration, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.queue.Fail(ctx, a.job, cause, elapsed)
	switch {
	case errors.Is(err, jobs.ErrLeaseLost):
		r.m.leaseLost.WithLabelValues(a.job.Type).Inc()
		log.Warn("job failed after its lease was lost", zap.NamedError("cause", cause))
	case err != nil:
		// The lease stays; the reaper retries the job after the lock timeout.
		log.Error("recording job failure failed", zap.Error(err), zap.NamedError("cause", cause))
	case res.Dead:
		r.m.dead.WithLabelValues(a.job.Type).Inc()
		log.Error("job dead-lettered", zap.Error(cause), zap.Bool("permanent", jobs.IsPermanent(cause)))
	default:
		r.m.failed.WithLabelValues(a.job.Type).Inc()
		log.Warn("job failed; will retry", zap.Error(cause), zap.Duration("retry_in", res.RetryIn))
	}
	r.forget(a.job.ID)
}

// forget drops a job from the held set once nothing more will be done with it here.
func (r *Runtime) forget(ids ...int64) {
	r.mu.Lock()
	for _, id := range ids {
		delete(r.held, id)
	}
	r.mu.Unlock()
}

func (r *Runtime) slotFreed() {
	r.m.running.Set(float64(r.inflight.Add(-1)))
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

// notify wakes the producer (coalescing: one pending wake-up is enough).
func (r *Runtime) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// release hands attempts back to the queue at once.
func (r *Runtime) release(atts []*attempt) {
	if len(atts) == 0 {
		return
	}
	held := make([]*jobs.Job, len(atts))
	ids := make([]int64, len(atts))
	for i, a := range atts {
		held[i], ids[i] = a.job, a.job.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	released, err := r.queue.Release(ctx, held)
	if err != nil {
		r.log.Error("releasing jobs failed; the reaper will free them", zap.Error(err), zap.Int("jobs", len(held)))
	} else {
		r.log.Info("jobs released", zap.Int("released", len(released)), zap.Int("held", len(held)))
	}
	r.forget(ids...)
}

// releaseAll releases every job still held (the last step of shutdown).
func (r *Runtime) releaseAll() {
	r.mu.Lock()
	atts := make([]*attempt, 0, len(r.held))
	for _, a := range r.held {
		atts = append(atts, a)
	}
	r.mu.Unlock()
	r.release(atts)
}

// snapshot returns the attempts held now.
func (r *Runtime) snapshot() []*attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*attempt, 0, len(r.held))
	for _, a := range r.held {
		out = append(out, a)
	}
	return out
}
