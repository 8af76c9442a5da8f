package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
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
	// BatchSize is the most jobs of one Shared kind and org worked in one call and one
	// transaction (jobs.Batch); 1 runs every job alone.
	BatchSize int
}

// Runtime is one worker process's pool.
type Runtime struct {
	cfg     Config
	db      *db.DB
	queue   *jobs.Queue
	kinds   map[string]jobs.Kind
	batched []string // the kinds whose jobs may share a batch (jobs.Shared, BatchSize > 1)
	log     *zap.Logger
	m       *metrics

	inflight atomic.Int64  // units (a job or a batch) claimed and not yet handed back
	wake     chan struct{} // a notification or poll: there may be new jobs
	freed    chan struct{} // a slot became free

	mu   sync.Mutex
	held map[int64]*attempt // every job this process holds a lease on
}

// attempt is a held job and the means to stop it.
type attempt struct {
	job    *jobs.Job
	cancel context.CancelFunc // nil until the handler starts
	batch  *jobs.Batch        // the transaction it runs in, once it runs
	lost   atomic.Bool        // the lease was found gone
	// proof is when the statement that last set the job's locked_at for this attempt was sent
	// (its claim, or a renewal that renewed it): the lease holds at least until proof plus the
	// lock timeout, since locked_at is the database's clock at a later moment. Guarded by
	// Runtime.mu.
	proof time.Time
}

// New returns a runtime that works the jobs of kinds on the queue; a job of any other kind fails
// permanently. It panics when two kinds share a name.
func New(cfg Config, d *db.DB, queue *jobs.Queue, kinds []jobs.Kind, log *zap.Logger, reg prometheus.Registerer) *Runtime {
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
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1
	}
	byName := make(map[string]jobs.Kind, len(kinds))
	var batched []string
	for _, k := range kinds {
		if _, dup := byName[k.Name()]; dup {
			panic("runtime.New: job kind " + k.Name() + " registered twice")
		}
		byName[k.Name()] = k
		if k.Shared() && cfg.BatchSize > 1 {
			batched = append(batched, k.Name())
		}
	}
	return &Runtime{
		cfg:     cfg,
		db:      d,
		queue:   queue,
		kinds:   byName,
		batched: batched,
		log:     log.Named("runtime").With(zap.String("worker", cfg.WorkerID)),
		m:       newMetrics(reg),
		wake:    make(chan struct{}, 1),
		freed:   make(chan struct{}, 1),
		held:    map[int64]*attempt{},
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

	work := make(chan []*attempt)
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
//
// A slot runs one unit: a job, or a batch of up to BatchSize jobs of one batched type and org.
// While the head of the queue holds batched types (the last claim had one), a claim asks for
// BatchSize jobs per free slot, of the oldest job's type when that type is batched
// (jobs.Queue.ClaimForBatches), so that batches fill; otherwise for one per slot, so that slow
// jobs are not hoarded by one process while others are idle.
func (r *Runtime) produce(ctx context.Context, work chan<- []*attempt) {
	poll := time.NewTimer(0) // claim at once on start
	defer poll.Stop()
	likely := false
	wide := false // the first claim that meets a batched type widens the next
	errDelay := 100 * time.Millisecond
	for {
		free := int64(r.cfg.Concurrency) - r.inflight.Load()
		if likely && free > 0 {
			n := free
			if wide {
				n *= int64(r.cfg.BatchSize)
			}
			n = min(n, int64(r.cfg.ClaimBatch))
			claimed, sent, err := r.claim(ctx, int(n), wide)
			if err == nil && ctx.Err() != nil {
				// Shutdown began while the claim ran: nothing of it starts here.
				r.handBack(claimed)
				return
			}
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
			// A claim of one type comes back short while other types wait: only an empty one says
			// the queue is.
			likely = len(claimed) == int(n) || (wide && len(claimed) > 0)
			units, spare, anyBatched := r.group(claimed, int(free))
			if len(claimed) > 0 {
				wide = anyBatched
			}
			if len(spare) > 0 {
				r.unclaim(spare, "not started: claimed beyond the worker's free slots")
				likely = true
			}
			if !r.dispatch(ctx, units, work, sent) {
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

// claimTimeout bounds one claim, which runs on past the start of shutdown (Runtime.claim).
const claimTimeout = 10 * time.Second

// claim leases up to n jobs (by type for batches when wide, see produce). The statement runs on
// a context that shutdown does not cancel, bounded by claimTimeout: a claim cancelled in flight
// may still commit on the server while its rows never reach the runtime, and those jobs would
// then stay running until the reaper frees them. Run to its end, a claim either returns its
// jobs, which the caller then runs or hands back, or takes none; only a claim whose answer is
// lost with its connection (or that outlasts claimTimeout) leaves its jobs to the reaper. sent
// is when the claim was sent, the proof of the leases it took (attempt.proof).
func (r *Runtime) claim(ctx context.Context, n int, wide bool) (claimed []*jobs.Job, sent time.Time, err error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	claimID := jobs.NewClaimID(r.cfg.WorkerID)
	sent = time.Now()
	if wide {
		// Batches fill when a claim takes one type.
		claimed, err = r.queue.ClaimForBatches(cctx, claimID, n, r.batched)
	} else {
		claimed, err = r.queue.Claim(cctx, claimID, n)
	}
	return claimed, sent, err
}

// handBack returns the jobs of a claim that finished after shutdown began to the queue at once,
// unclaimed (jobs.Queue.Unclaim: pending in their place, the attempt not counted), so that
// another worker takes them without waiting for the reaper.
func (r *Runtime) handBack(claimed []*jobs.Job) {
	if len(claimed) == 0 {
		return
	}
	r.unclaim(claimed, "not started: claimed as the worker began shutting down")
	r.log.Info("jobs claimed during shutdown handed back", zap.Int("jobs", len(claimed)))
}

// group splits claimed jobs, in claim order, into units: jobs of a Shared kind are gathered by
// kind and org into batches of up to BatchSize, any other job is a unit of its own. Units of
// batched kinds are all kept (a slot runs each soon); the other units are kept while there are
// fewer units than free slots, and the rest is returned as spare, to be released at once rather
// than hoarded. anyBatched reports whether any claimed job is of a batched type.
func (r *Runtime) group(claimed []*jobs.Job, free int) (units [][]*jobs.Job, spare []*jobs.Job, anyBatched bool) {
	type key struct {
		typ string
		org [16]byte
	}
	open := map[key]int{} // the unit still filling for a type and org
	for _, j := range claimed {
		if !slices.Contains(r.batched, j.Type) {
			if len(units) < free {
				units = append(units, []*jobs.Job{j})
			} else {
				spare = append(spare, j)
			}
			continue
		}
		anyBatched = true
		k := key{j.Type, j.OrgID}
		if i, ok := open[k]; ok && len(units[i]) < r.cfg.BatchSize {
			units[i] = append(units[i], j)
			continue
		}
		open[k] = len(units)
		units = append(units, []*jobs.Job{j})
	}
	return units, spare, anyBatched
}

// dispatch hands claimed units, whose claim was sent at sent, to the executors; on shutdown it
// releases the ones not yet started and reports false.
func (r *Runtime) dispatch(ctx context.Context, units [][]*jobs.Job, work chan<- []*attempt, sent time.Time) bool {
	r.inflight.Add(int64(len(units)))
	batches := make([][]*attempt, len(units))
	r.mu.Lock()
	for i, u := range units {
		batches[i] = make([]*attempt, len(u))
		for k, j := range u {
			a := &attempt{job: j, proof: sent}
			batches[i][k] = a
			r.held[j.ID] = a
			r.m.claimed.WithLabelValues(j.Type).Inc()
			r.m.running.Inc()
		}
	}
	r.mu.Unlock()
	for i, u := range batches {
		select {
		case work <- u:
		case <-ctx.Done():
			var rest []*attempt
			for _, u := range batches[i:] {
				rest = append(rest, u...)
			}
			r.release(rest)
			r.m.running.Sub(float64(len(rest)))
			r.inflight.Add(-int64(len(batches) - i))
			return false
		}
	}
	return true
}

// execute runs units until work is closed.
func (r *Runtime) execute(runCtx context.Context, work <-chan []*attempt, comp *completer) {
	for u := range work {
		r.runUnit(runCtx, u, comp)
		r.slotFreed()
	}
}

// runUnit works the attempts of one unit (one kind and org): it decodes their payloads, fails
// each job whose payload does not decode permanently and alone, and works the rest in one call
// of the kind's Work and one transaction. When that fails, or any attempt lost its lease, the
// batch is rolled back and each of its jobs runs again alone (runOne), where a failure is that
// job's own: the others' writes were not kept, and work is idempotent.
func (r *Runtime) runUnit(runCtx context.Context, atts []*attempt, comp *completer) {
	kind, ok := r.kinds[atts[0].job.Type]
	if !ok {
		for _, a := range atts {
			r.fail(a, jobs.Permanentf("no handler registered for job type %q", a.job.Type), 0, r.jobLog(a.job))
			r.m.running.Dec()
		}
		return
	}
	good := make([]*attempt, 0, len(atts))
	args := make([]any, 0, len(atts))
	for _, a := range atts {
		v, err := kind.Decode(a.job)
		if err != nil {
			r.fail(a, err, 0, r.jobLog(a.job))
			r.m.running.Dec()
			continue
		}
		good = append(good, a)
		args = append(args, v)
	}
	switch len(good) {
	case 0:
		return
	case 1:
		r.runOne(runCtx, kind, good[0], args[0], comp)
		return
	}
	if err := r.runBatch(runCtx, kind, good, args, comp); err != nil {
		r.log.Info("job batch rolled back; running its jobs one at a time",
			zap.String("job_type", kind.Name()), zap.Int("jobs", len(good)), zap.Error(err))
		for i, a := range good {
			r.runOne(runCtx, kind, a, args[i], comp)
		}
	}
}

// runBatch works the attempts of one batch in one call of the kind's Work, under one context
// that a lost lease of any of them cancels, and commits them together (or, when the work wrote
// nothing, hands them to the completer). On any failure it rolls the batch back and returns why.
func (r *Runtime) runBatch(runCtx context.Context, kind jobs.Kind, atts []*attempt, args []any, comp *completer) error {
	claimed := make([]*jobs.Job, len(atts))
	for i, a := range atts {
		claimed[i] = a.job
	}
	b, err := r.queue.NewBatch(claimed)
	if err != nil {
		return fmt.Errorf("new batch: %w", err)
	}
	ctx, cancel := context.WithTimeout(runCtx, r.timeout(kind))
	defer cancel()
	defer b.Rollback(context.WithoutCancel(ctx))
	r.mu.Lock()
	for _, a := range atts {
		a.cancel, a.batch = cancel, b
	}
	r.mu.Unlock()
	for _, a := range atts {
		if a.lost.Load() {
			b.LeaseLost()
			cancel()
		}
	}
	for _, run := range b.Runs() {
		run.Begin()
	}
	err = r.work(ctx, kind, b, claimed, args)
	for _, run := range b.Runs() {
		run.Finish()
	}
	if err != nil {
		return fmt.Errorf("batch of %d %s jobs: %w", len(atts), kind.Name(), err)
	}
	for _, a := range atts {
		if a.lost.Load() {
			return fmt.Errorf("job %d: %w", a.job.ID, jobs.ErrLeaseLost)
		}
	}
	if !b.Opened() {
		// Nothing written: the completer completes them with others.
		for i, run := range b.Runs() {
			if !comp.add(jobs.Completion{Job: run.Job, Duration: run.Elapsed()}) {
				r.jobLog(atts[i].job).Warn("job finished after shutdown released it; it will run again")
			}
			r.m.duration.WithLabelValues(run.Job.Type).Observe(run.Elapsed().Seconds())
		}
		r.m.running.Sub(float64(len(atts)))
		return nil
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	for i, run := range b.Runs() {
		r.m.duration.WithLabelValues(run.Job.Type).Observe(run.Elapsed().Seconds())
		r.m.completed.WithLabelValues(run.Job.Type).Inc()
		r.forget(atts[i].job.ID)
	}
	r.m.running.Sub(float64(len(atts)))
	return nil
}

// runOne works one attempt alone: a batch of one, in its own transaction, whose failure is the
// job's own (retried, or dead-lettered).
func (r *Runtime) runOne(runCtx context.Context, kind jobs.Kind, a *attempt, arg any, comp *completer) {
	job := a.job
	// The attempt's logger is built only when it logs, which a successful attempt never does
	// (building it eagerly costs a noticeable share of the runtime's CPU per noop job).
	log := func() *zap.Logger { return r.jobLog(job) }
	jctx, cancel := r.begin(runCtx, kind, a)
	b, err := r.queue.NewBatch([]*jobs.Job{job})
	var run *jobs.Run
	if err == nil {
		r.mu.Lock()
		a.batch = b
		r.mu.Unlock()
		if a.lost.Load() {
			b.LeaseLost()
		}
		run = b.Runs()[0]
		run.Begin()
		err = r.work(jctx, kind, b, []*jobs.Job{job}, []any{arg})
		run.Finish()
	}
	committed := false
	if err == nil && b.Opened() && !a.lost.Load() {
		err = b.Commit(jctx)
		committed = err == nil
	}
	if b != nil {
		b.Rollback(context.WithoutCancel(jctx))
	}
	cancel()
	var elapsed time.Duration
	if run != nil {
		elapsed = run.Elapsed()
	}
	r.m.duration.WithLabelValues(job.Type).Observe(elapsed.Seconds())

	switch {
	case committed:
		// Committed with the work's writes: authoritative, whatever the heartbeat saw since.
		r.m.completed.WithLabelValues(job.Type).Inc()
		r.forget(job.ID)
	case a.lost.Load() || errors.Is(err, jobs.ErrLeaseLost):
		r.m.leaseLost.WithLabelValues(job.Type).Inc()
		log().Warn("job lease lost; attempt dropped", zap.NamedError("handler_error", err))
		r.forget(job.ID)
	case err == nil:
		// Nothing written: held until the completer has committed it.
		if !comp.add(jobs.Completion{Job: job, Duration: elapsed}) {
			log().Warn("job finished after shutdown released it; it will run again")
		}
	case runCtx.Err() != nil:
		// Shutdown cut the attempt off: it is released, not failed.
		log().Info("job interrupted by shutdown", zap.Error(err))
	default:
		r.fail(a, err, elapsed, log())
	}
	r.m.running.Dec()
}

// work calls the kind's Work, turning a panic into an error (logged with its stack).
func (r *Runtime) work(ctx context.Context, kind jobs.Kind, b *jobs.Batch, claimed []*jobs.Job, args []any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("job handler panicked", zap.String("job_type", kind.Name()), zap.Int("jobs", len(claimed)),
				zap.Int64("job_id", claimed[0].ID), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return kind.Work(ctx, b, claimed, args)
}

// timeout is the time limit of an attempt of kind: the kind's own (jobs.Kind.WithTimeout), else
// JOB_TIMEOUT_MS.
func (r *Runtime) timeout(kind jobs.Kind) time.Duration {
	if t := kind.Timeout(); t > 0 {
		return t
	}
	return r.cfg.JobTimeout
}

// begin makes the context of attempt a's handler (parent, limited to the kind's timeout) and
// gives its cancel to a, so that a lost lease stops the handler (stop). An attempt stopped
// between its claim and now (stop saw no cancel func yet) gets an already cancelled context: it
// does not run live.
func (r *Runtime) begin(parent context.Context, kind jobs.Kind, a *attempt) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, r.timeout(kind))
	r.mu.Lock()
	a.cancel = cancel
	r.mu.Unlock()
	if a.lost.Load() {
		cancel()
	}
	return ctx, cancel
}

// jobLog is the logger of one attempt.
func (r *Runtime) jobLog(job *jobs.Job) *zap.Logger {
	return r.log.With(zap.String("job_type", job.Type), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
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

// slotFreed marks a unit done and wakes the producer.
func (r *Runtime) slotFreed() {
	r.inflight.Add(-1)
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

// unclaim hands back claimed jobs that were never dispatched, logged as released for why.
func (r *Runtime) unclaim(spare []*jobs.Job, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.queue.Unclaim(ctx, spare, why); err != nil {
		r.log.Error("handing back spare jobs failed; the reaper will free them", zap.Error(err), zap.Int("jobs", len(spare)))
	}
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
